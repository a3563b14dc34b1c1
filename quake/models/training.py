"""Training of the neural forecasters: a function, not a script.

`fit_network` trains a `quake.models.neural.NeuralForecaster` on the train period:

- Truncated back-propagation through time (BPTT) over ``bptt`` consecutive days (20-30;
  detaching the state every day, as the paper's code did, throws the temporal signal away;
  docs NOTES.md). The period (from day 0 for recurrent nets, whose state is warmed by the
  history years) is cut into ``streams`` contiguous stretches run side by side as one batch;
  each stream carries its state from chunk to chunk, and at the next epoch stream s starts
  from the state stream s - 1 ended with (it ended where s begins). Chunk boundaries move
  by a random (seeded) offset each epoch.
- Adam, linear warm-up then cosine learning-rate decay, gradient clipping at 1.0.
- After each epoch the validation period is scored (PR AUC, `quake.metrics.scores.OperatingCurve`,
  masks all and active); the recurrent state is warmed by running on from the end of the
  train period, so no validation label is seen. The best epoch's weights are kept (early
  stopping after ``patience`` epochs without a better PR AUC).
- Seeded (`torch.manual_seed`, deterministic algorithms): the same seed, data and thread
  count give the same weights. Checkpoints (`quake.models.checkpoint`) after every epoch make it
  resumable; ``should_stop()`` (or an exception from ``on_progress``) cancels it.
- CPU or CUDA (bf16 autocast and channels_last on CUDA; the CUDA path is untested here).
- Several processes (``torchrun``; `quake.models.distributed`): with a process group
  initialised, the streams are split across the ranks and the net runs under
  DistributedDataParallel; the loss is scaled so the averaged gradient is the one-process
  gradient of the whole global batch. Rank 0 validates and checkpoints; its decisions are
  broadcast, so every rank stops at the same epoch with the same best weights.

`quake.models.neural.build` makes a model from a preset; `quake.scoring.train.train` (the
entry point of the CLI and the dashboard) fits, scores and saves it.
"""

from __future__ import annotations

import contextlib
import math
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from quake.data.forecast_data import ForecastData
from quake.errors import ModelError
from quake.metrics.bins import DEFAULT_DESIGN
from quake.metrics.curves import OperatingCurve
from quake.metrics.groups import CellGroups
from quake.models import distributed
from quake.models.checkpoint import (
    arrays_state,
    load_checkpoint,
    load_optimizer,
    optimizer_arrays,
    save_checkpoint,
    state_arrays,
)
from quake.models.device_curves import DeviceCurve
from quake.models.nets import State
from quake.models.presets import PRESETS
from quake.models.transfer import to_device
from quake.progress import OnProgress, emit

__all__ = ["PRESETS", "TrainConfig", "TrainResult", "autocast", "fit_network", "validate"]


@dataclass
class TrainConfig:
    """How a neural forecaster is trained (saved in model.json as ``train_args``)."""

    epochs: int = 40
    bptt: int = 30
    streams: int = 4
    lr: float = 1e-3
    lr_final: float = 0.1  # cosine decay to lr * lr_final
    warmup_steps: int = 10
    clip: float = 1.0
    patience: int = 8
    seed: int = 0
    device: str = "cpu"
    threads: int | None = 2
    select_mask: str = "all"
    # Time budget of the whole fit in seconds (None: none). After the first epoch the run
    # plans as many epochs as fit (at most ``epochs``; the learning-rate schedule is fitted
    # to them), and it never starts an epoch it cannot finish within the budget.
    max_seconds: float | None = None
    # False: cuDNN picks its fastest convolution algorithms (benchmark mode), which are not
    # all deterministic; the same seed then gives slightly different weights on a GPU.
    # A CPU's training is deterministic either way.
    deterministic: bool = True

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """A config from JSON-like values, each checked for type and range (`_CHECKS`): a
        `ModelError` naming the option and what it expects, before any training."""
        known = {f.name for f in fields(cls)}
        if set(d) - known:
            raise ModelError(f"unknown training options {sorted(set(d) - known)}")
        for name, value in d.items():
            _check_option(name, value)
        return cls(**d)


_INT_RANGES: dict[str, tuple[int, int]] = {
    "epochs": (1, 100_000),
    "bptt": (1, 100_000),
    "streams": (1, 4096),
    "warmup_steps": (0, 10**9),
    "patience": (1, 100_000),
    "seed": (0, 2**63 - 1),
    "threads": (1, 1024),
}
# (low, high, low included): learning rates and the clip norm must be > 0.
_FLOAT_RANGES: dict[str, tuple[float, float, bool]] = {
    "lr": (0.0, 10.0, False),
    "lr_final": (0.0, 1.0, True),
    "clip": (0.0, 1e6, False),
    "max_seconds": (0.0, 1e9, False),
}
_OPTIONAL = ("threads", "max_seconds")  # None: torch's own thread count, no time budget
_MASKS = ("all", "active")
DEVICE_PATTERN = re.compile(r"cpu|mps|cuda(:\d{1,3})?")
"""Devices a neural model trains on: ``cpu``, ``cuda`` or ``cuda:N``, ``mps``."""


def _check_option(name: str, value: Any) -> None:
    """Refuse a training option of the wrong type or out of its range."""
    if value is None and name in _OPTIONAL:
        return
    kind = type(value).__name__
    got = f"got {repr(value)[:40]} ({'an' if kind[0] in 'aeiou' else 'a'} {kind})"
    none = " or null" if name in _OPTIONAL else ""
    if name in _INT_RANGES:
        lo, hi = _INT_RANGES[name]
        if not (isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi):
            raise ModelError(
                f"training option {name!r} must be an integer in [{lo}, {hi}]{none}, {got}"
            )
    elif name in _FLOAT_RANGES:
        lo, hi, closed = _FLOAT_RANGES[name]
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        ok = ok and math.isfinite(value) and (lo <= value if closed else lo < value) and value <= hi
        if not ok:
            where = f"[{lo:g}, {hi:g}]" if closed else f"({lo:g}, {hi:g}]"
            raise ModelError(f"training option {name!r} must be a number in {where}{none}, {got}")
    elif name == "device":
        if not (isinstance(value, str) and DEVICE_PATTERN.fullmatch(value)):
            raise ModelError(f"training option 'device' must be cpu, cuda, cuda:N or mps, {got}")
    elif name == "deterministic":
        if not isinstance(value, bool):
            raise ModelError(f"training option 'deterministic' must be true or false, {got}")
    elif name == "select_mask" and value not in _MASKS:
        raise ModelError(f"training option 'select_mask' must be 'all' or 'active', {got}")


@dataclass
class TrainResult:
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    best_score: float = -math.inf
    epochs_run: int = 0
    cancelled: bool = False
    seconds: float = 0.0


def _lr(cfg: TrainConfig, step: int, total: int) -> float:
    warm = min(1.0, (step + 1) / max(1, cfg.warmup_steps))
    cos = 0.5 * (1.0 + math.cos(math.pi * min(1.0, step / max(1, total))))
    return cfg.lr * warm * (cfg.lr_final + (1.0 - cfg.lr_final) * cos)


def _chunks(length: int, bptt: int, offset: int) -> list[tuple[int, int]]:
    """Relative ``[a, b)`` chunks of a stream of ``length`` days; the first is ``offset`` long."""
    edges = [0, *range(offset, length, bptt), length]
    return [(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]


def _plan(
    cfg: TrainConfig, epoch: int, epoch0: int, planned: int, t_start: float, t_loop: float
) -> int:
    """Epochs that fit ``cfg.max_seconds`` after ``epoch`` ended.

    The plan is made once, after the first epoch of this run, from its duration; later the
    plan only shrinks, when the mean epoch so far would not fit the time left.
    """
    now = time.perf_counter()
    done = epoch + 1 - epoch0
    left = cfg.max_seconds - (now - t_start)
    fit = epoch + 1 + max(0, int(left // ((now - t_loop) / done)))
    return max(epoch + 1, min(cfg.epochs if done == 1 else planned, fit))


@contextlib.contextmanager
def _deterministic(device: torch.device, enabled: bool = True):
    """Deterministic algorithms while training (a CPU always; ``enabled=False`` lets cuDNN
    benchmark and pick the fastest convolutions on a GPU)."""
    before = torch.are_deterministic_algorithms_enabled()
    bench = torch.backends.cudnn.benchmark
    strict = enabled or device.type == "cpu"
    torch.use_deterministic_algorithms(strict, warn_only=device.type != "cpu")
    torch.backends.cudnn.benchmark = not strict
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)
        torch.backends.cudnn.benchmark = bench


def autocast(device: torch.device):
    """The mixed precision of training and validation on ``device``: bf16 autocast on CUDA
    (the cell update stays float32, `quake.models.nets.cell_update`), none elsewhere."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _batch(model, data: ForecastData, events, starts: list[int], a: int, b: int, dev):
    """Inputs (S, b - a + lag, h, w) and labels (S, b - a, ny, nx) of each stream's window."""
    lag = model.lag
    x = np.stack([model.inputs(events, s + a - lag, s + b) for s in starts])
    y = np.stack([data.targets.dense(s + a, s + b) for s in starts])
    return to_device(x, dev), to_device(y, dev)


LAGGED_LOSS_DEVICES = ("cuda",)
"""Devices whose step losses are read one step late (`fit_network`): the host then queues
step k + 1 before it waits for step k's loss, and the device never idles between steps."""

VAL_KEYS = tuple(f"val_{s}_{m}" for m in ("all", "active") for s in ("roc_auc", "pr_auc"))


@torch.no_grad()
def validate(
    model,
    data: ForecastData,
    events,
    state: State,
    dev,
    chunk: int = 64,
    on_device: bool | None = None,
) -> dict:
    """Validation ROC/PR AUC per mask; a recurrent net runs on from the train period's end.

    ``on_device``: bin the scores where they are (`quake.models.device_curves`; the default
    off a CPU) instead of copying them to the host (the default on a CPU, where numpy's
    binning is ~3x faster than torch's). Both give the same counts, bin for bin."""
    if on_device is None:
        on_device = torch.device(dev).type != "cpu"
    z0 = torch.from_numpy(model.base_logit() + model.config.out_offset).to(dev)
    _, t1 = data.protocol.fit_days(False)
    v0, v1 = data.days("validation")
    first = t1 if model.recurrent else v0
    host_masks = {m: data.selection_mask(m) for m in ("all", "active")}
    masks = {m: torch.from_numpy(k).to(dev) for m, k in host_masks.items()}
    curves = {m: DeviceCurve(dev) if on_device else OperatingCurve.empty() for m in masks}
    groups = CellGroups(host_masks)  # on the host: each block binned once for both masks
    model.net.eval()
    for a in range(first, v1, chunk):
        b = min(a + chunk, v1)
        with autocast(dev):
            delta, state = model.run_days(events, a, b, state, dev)
        if b <= v0:
            continue
        k = max(a, v0) - a
        d = model.upsample(delta[k:].double(), data.grid.shape)
        z = z0 + d
        moving = model.day_logits(data, np.arange(a + k, b))
        if moving is not None:
            z = z + to_device(moving, dev)
        p = torch.sigmoid(z).float()
        y_host = data.targets.dense(a + k, b)
        if on_device:
            y = to_device(y_host, dev).bool()
            for m, keep in masks.items():
                curves[m].update(y[:, keep], p[:, keep])
        else:
            n = b - a - k
            bins = DEFAULT_DESIGN.bin_index(p.cpu().numpy()).reshape(n, -1)
            groups.add_to(curves, bins, y_host.reshape(n, -1).view(bool))
    model.net.train()
    out = {}
    for m, c in curves.items():
        c = c.curve() if isinstance(c, DeviceCurve) else c
        out[f"val_roc_auc_{m}"], out[f"val_pr_auc_{m}"] = c.roc_auc(), c.pr_auc()
    return out


def fit_network(
    model,
    data: ForecastData,
    cfg: TrainConfig | None = None,
    on_progress: OnProgress | None = None,
    should_stop: Callable[[], bool] | None = None,
    checkpoint_dir: str | Path | None = None,
    resume: str | Path | None = None,
    ranks: distributed.Ranks | None = None,
) -> TrainResult:
    """Train ``model.net`` in place; the best-on-validation weights are loaded at the end.

    ``on_progress`` gets a ``train`` event after every step (metrics: epoch, loss, lr) and a
    ``validation`` event after every epoch (val_roc_auc_<mask>, val_pr_auc_<mask>).
    ``should_stop()`` is polled every step; True stops at once (weights: best so far), or
    with several processes every rank after the same later step (`distributed.StepTotals`).
    ``checkpoint_dir`` gets a checkpoint after every epoch; ``resume`` continues one
    (the same kind and model_args; ``epochs`` may be raised). ``ranks``: the process
    group's by default (`quake.models.distributed`); ``Ranks()`` trains alone.
    """
    cfg = cfg or TrainConfig()
    t_start = time.perf_counter()
    ranks = ranks or distributed.current()  # Ranks(): this process alone
    dev = torch.device(distributed.device_for(cfg.device, ranks))
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ModelError("--device cuda asked for, but torch sees no CUDA device")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    model.net = model.build_net()  # a fresh, seeded initialisation
    model.set_base(data, final=False)
    net = model.net.to(dev)
    if dev.type == "cuda":
        net = net.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    events = model.coarse_events(data)
    z0 = torch.from_numpy((model.base_logit() + model.config.shift).astype(np.float32)).to(dev)
    pos_weight = torch.tensor(model.config.class_weight, device=dev)

    t0, t1 = data.protocol.fit_days(False)
    first = 0 if model.recurrent else t0  # recurrent nets: the history years warm the state
    n_streams = max(1, min(cfg.streams, (t1 - first) // max(cfg.bptt, 1)))
    seg = (t1 - first) // n_streams
    all_starts = [t1 - (n_streams - s) * seg for s in range(n_streams)]
    mine = distributed.shard(n_streams, ranks)  # every stream when there is one process
    starts = [all_starts[s] for s in mine]
    run = model.run
    if ranks.world > 1:
        ids = [dev.index] if dev.type == "cuda" else None
        run = torch.nn.parallel.DistributedDataParallel(net, device_ids=ids)
    per_epoch = math.ceil(seg / cfg.bptt) + 1
    planned = cfg.epochs
    total = planned * per_epoch

    res = TrainResult()
    end_state: State = None
    best: dict[str, torch.Tensor] | None = None
    since_best, step, epoch0 = 0, 0, 0
    if resume is not None:
        arrays, doc = load_checkpoint(resume)
        if doc.get("kind") != model.kind or doc.get("model_args") != model.config.to_dict():
            raise ModelError(f"{resume}: checkpoint of another model ({doc.get('kind')})")
        model.load_state_arrays(arrays, str(resume))
        net.to(dev)
        load_optimizer(opt, arrays)
        end_state = arrays_state(arrays, dev)
        best_np = {k[5:]: v for k, v in arrays.items() if k.startswith("best.")}
        best = {k: torch.from_numpy(np.array(v)) for k, v in best_np.items()} or None
        epoch0, step, since_best = doc["epoch"], doc["step"], doc["since_best"]
        planned = min(cfg.epochs, doc.get("planned_epochs") or cfg.epochs)
        total = planned * per_epoch
        res.history, res.best_epoch = doc["history"], doc["best_epoch"]
        res.best_score = doc["best_score"] if doc["best_score"] is not None else -math.inf

    def report(metrics: dict[str, Any], at: int | None = None) -> None:
        metrics = dict(metrics)
        done = min(step if at is None else at, total)
        emit(on_progress, metrics.pop("stage", "train"), done, total, **metrics)

    # A step's loss (and, with several processes, every rank's cancel flag: one
    # all-reduce, `StepTotals`) is read after the next step is queued on a GPU, so the host
    # never idles the device between steps; on a CPU at once, as before.
    lag_loss = dev.type in LAGGED_LOSS_DEVICES
    queued: list[tuple[distributed.StepTotals, int, int, float]] = []  # (sums, step, epoch, lr)

    def read_losses(keep: int) -> None:
        while len(queued) > keep:
            sums, at, ep, lr = queued.pop(0)
            loss_value, any_stop = sums.result()
            losses.append(loss_value)
            report({"stage": "train", "epoch": ep, "loss": loss_value, "lr": lr}, at=at)
            res.cancelled = res.cancelled or any_stop

    stopped_by = "epochs"
    t_loop = time.perf_counter()
    with _deterministic(dev, cfg.deterministic):
        for epoch in range(epoch0, cfg.epochs):
            if epoch >= planned:
                stopped_by = "time budget"
                break
            rng = np.random.default_rng([cfg.seed, epoch])
            offset = int(rng.integers(0, cfg.bptt))
            state: State = None
            if end_state is not None:  # stream s starts where stream s - 1 ended
                state = tuple(
                    torch.cat([torch.zeros_like(s[:1]), s[:-1]])[mine.start : mine.stop]
                    for s in end_state
                )
            net.train()
            losses = []
            for a, b in _chunks(seg, cfg.bptt, offset):
                stop = should_stop is not None and should_stop()
                if ranks.world == 1 and stop:
                    res.cancelled = True
                # several processes: every rank learns of a stop from a step's `StepTotals`
                # (the same step on every rank), so every rank breaks at the same step
                if res.cancelled:
                    break
                x, y = _batch(model, data, events, starts, a, b, dev)
                days = np.array([[s + d for d in range(a, b)] for s in all_starts])
                # labelled stream-days of the global batch (known here: no wait for the GPU)
                every_host = (days >= t0).astype(np.float32)
                every = to_device(every_host, dev)
                labelled = every[mine.start : mine.stop]
                for g in opt.param_groups:
                    g["lr"] = _lr(cfg, step, total)
                with autocast(dev):
                    delta, state = run(x, state)
                d = model.upsample(delta.float(), data.grid.shape)
                z = z0 + d
                # *-etas: ETAS's forecast of each of this rank's stream-days
                moving = model.day_logits(data, days[mine.start : mine.stop])
                if moving is not None:
                    z = z + to_device(moving, dev).view_as(z)
                el = F.binary_cross_entropy_with_logits(
                    z, y.float(), pos_weight=pos_weight, reduction="none"
                ).mean((2, 3))
                # DDP averages gradients over the ranks: x world gives the global batch's
                loss = (el * labelled).sum() / every.sum().clamp(min=1.0) * ranks.world
                opt.zero_grad(set_to_none=True)
                if every_host.any():
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.clip)
                    opt.step()
                if state is not None:
                    state = tuple(s.detach() for s in state)
                step += 1
                sums = distributed.StepTotals(loss, stop, ranks)
                queued.append((sums, step, epoch + 1, opt.param_groups[0]["lr"]))
                read_losses(keep=1 if lag_loss else 0)
            read_losses(keep=0)
            if res.cancelled:
                stopped_by = "cancelled"
                break
            end_state = distributed.gather_streams(state, ranks)
            last = None if end_state is None else tuple(s[-1:] for s in end_state)
            scores = validate(model, data, events, last, dev) if ranks.main else {}
            if ranks.world > 1:  # rank 0's numbers on every rank: the same decisions
                got = distributed.broadcast([scores.get(k, 0.0) for k in VAL_KEYS], ranks, dev)
                scores = dict(zip(VAL_KEYS, got, strict=True))
            score = scores[f"val_pr_auc_{cfg.select_mask}"]
            row = {
                "epoch": epoch + 1,
                "loss": float(np.mean(losses)) if losses else math.nan,
                **scores,
                "seconds": round(time.perf_counter() - t_start, 1),
            }
            res.history.append(row)
            since_best += 1
            if score > res.best_score:  # NaN never wins
                res.best_score, res.best_epoch, since_best = score, epoch + 1, 0
                best = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
            report({"stage": "validation", **row})
            if cfg.max_seconds:
                planned = _plan(cfg, epoch, epoch0, planned, t_start, t_loop)
                planned = int(distributed.broadcast([planned], ranks, dev)[0])
                total = planned * per_epoch
            if checkpoint_dir is not None and ranks.main:
                arrays = {
                    **model.state_arrays(),
                    **optimizer_arrays(opt),
                    **state_arrays(end_state),
                }
                if best is not None:
                    arrays.update({f"best.{k}": v.float().numpy() for k, v in best.items()})
                doc = {
                    "kind": model.kind,
                    "model_args": model.config.to_dict(),
                    "train_config": asdict(cfg),
                    "epoch": epoch + 1,
                    "step": step,
                    "history": res.history,
                    "best_epoch": res.best_epoch,
                    "best_score": res.best_score if math.isfinite(res.best_score) else None,
                    "since_best": since_best,
                    "planned_epochs": planned,
                }
                save_checkpoint(Path(checkpoint_dir), arrays, doc)
            if since_best >= cfg.patience:
                stopped_by = "patience"
                break
    if best is not None:
        net.load_state_dict(best)
    res.epochs_run = len(res.history)
    res.seconds = round(time.perf_counter() - t_start, 2)
    model.meta.update(
        train_args=asdict(cfg),
        train_history=res.history,
        best_epoch=res.best_epoch,
        train_seconds=res.seconds,
        cancelled=res.cancelled,
        planned_epochs=planned,
        stopped_by=stopped_by,
    )
    return res
