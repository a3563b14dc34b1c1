"""The paper's neural forecasters as `Forecaster`s: CNN, CNN+LSTM, and their residual forms.

Kinds (Kail, Zaytsev & Burnaev, Table II): ``cnn``, ``convlstm`` (the paper's CNN+LSTM),
``cnn-resid`` and ``convlstm-resid`` (III-E). The torch modules are in `quake.models.nets`;
training is `quake.models.training`.

Logits. The nets give ``delta`` = class-1 minus class-0 logit of a 2-class head (a 2-class
softmax is the sigmoid of that difference). The training logit of a pair (T, cell) is::

    z = logit(base) + c + up(delta)

- ``base``: the naive prior ``p`` of the fitting period on the protocol's 10 km grid
  (``*-resid``, paper III-E ``o = log p + c``: its class-1 minus class-0 form is
  ``log p - log(1 - p) + c``), or for plain ``cnn``/``convlstm`` the prior's mean rate,
  one number for every cell. It is saved with the model.
- ``c`` (``prior_shift``, default ``log w`` for class weight ``w``): the optimum of a
  constant shift under weighted cross-entropy, so the untrained model ranks cells exactly
  like its base (docs NOTES.md; the same as "class-1 output bias starts at log w", with
  the net's own biases starting at 0).
- ``up``: the net runs on cells ``pool`` times coarser (input maps max-pooled, i.e. the
  largest magnitude per coarse cell-day); its output is repeated (nearest) back to the
  10 km grid, so every model is trained and scored on the protocol's grid.

Loss: cross-entropy with weight ``w`` on the minority class (paper IV-C: 1000), i.e.
``w y softplus(-z) + (1 - y) softplus(z)``.

Probabilities. Weighting inflates them: the weighted-loss optimum has odds ``w`` times the
true odds. With ``calibrate`` (default) ``predict`` undoes it, ``p = sigmoid(z - log w)``
(= ``q / (q + w (1 - q))`` for ``q = sigmoid(z)``), so probabilities are on the prior's
scale and a zero net output reproduces the prior exactly. Ranking scores (ROC, PR AUC) are
the same either way; only thresholds move. ``calibrate=False`` gives the paper's inflated
probabilities (its Table III thresholds 0.1 ... 0.99 were meant for those).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from quake.data.events import GriddedEvents
from quake.data.forecast_data import ForecastData
from quake.data.targets import naive_prior
from quake.errors import ModelError
from quake.models import store as v
from quake.models.allocator import keep_large_buffers
from quake.models.base import Forecaster, load_arrays, save_arrays
from quake.models.nets import CNNNet, ConvLSTMNet, State
from quake.models.neural_config import TRANSFORMS, NeuralConfig
from quake.models.presets import PRESETS
from quake.models.registry import PAPER_METHOD
from quake.models.states import (
    STATES_FILE,
    Snapshot,
    Snapshots,
    events_digest,
    load_snapshots,
    save_snapshots,
    weights_digest,
)
from quake.models.training import TrainConfig, fit_network
from quake.models.transfer import to_device
from quake.progress import OnProgress

WEIGHTS_FILE = "weights.safetensors"
__all__ = [
    "TRANSFORMS",
    "WEIGHTS_FILE",
    "CNNModel",
    "CNNResidModel",
    "ConvLSTMModel",
    "ConvLSTMResidModel",
    "NeuralConfig",
    "NeuralForecaster",
    "logit",
    "transform",
]


def transform(mag: np.ndarray, kind: str) -> np.ndarray:
    """Heat maps of magnitudes (0 = no event) -> network input, same shape, float32."""
    if kind == "raw":
        return mag.astype(np.float32, copy=False)
    e = np.log10(1.0 + 10.0 ** (1.5 * (mag.astype(np.float64) - 4.0))) / 1.5
    return np.where(mag > 0, e, 0.0).astype(np.float32)


def logit(p: np.ndarray) -> np.ndarray:
    """float64 log(p / (1 - p))."""
    p = np.asarray(p, dtype=np.float64)
    return np.log(p) - np.log1p(-p)


class NeuralForecaster(Forecaster):
    """Common wrapper: coarse inputs, the residual base, prediction, safetensors weights.

    ``train_config`` (a `quake.models.training.TrainConfig`) drives `fit`; set it before fitting.
    """

    config_cls = NeuralConfig
    resid: ClassVar[bool] = False
    recurrent: ClassVar[bool] = False

    def __init__(self, config: NeuralConfig | None = None) -> None:
        super().__init__(config)
        self.net = self.build_net()
        self.base: np.ndarray | None = None  # float32 (ny, nx)
        self.train_config: Any = None
        self._coarse: tuple[tuple, GriddedEvents] | None = None
        self.snapshots = Snapshots()  # states of a recurrent net (`quake.models.states`)
        self.folder_snapshot_days: set[int] = set()  # those read from the model's folder
        self.record_every: int | None = None  # `predict_days`'s default (see there)
        self.record_from = 0

    # -- construction ---------------------------------------------------------------------
    def build_net(self) -> nn.Module:
        c = self.config
        if self.recurrent:
            return ConvLSTMNet(c.embed, c.hidden, c.head, c.memory_days, c.out_scale)
        return CNNNet(c.days, c.channels, c.layers, c.head, c.out_scale)

    @property
    def lag(self) -> int:
        return int(self.net.lag)

    def set_base(self, data: ForecastData, final: bool) -> None:
        """The prior of the fitting period (``*-resid``) or its mean rate (plain kinds)."""
        prior = naive_prior(data.targets, *data.protocol.fit_days(final), self.config.alpha)
        if not self.resid:
            prior = np.full_like(prior, prior.mean())
        self.base = prior.astype(np.float32)
        self.meta["base_final"] = bool(final)

    def base_logit(self) -> np.ndarray:
        """float64 (ny, nx) ``logit(base)``."""
        if self.base is None:
            raise ModelError("fit or load the model first (it has no prior)")
        return logit(self.base)

    def day_logits(self, data: ForecastData, days: np.ndarray) -> np.ndarray | None:
        """A base that moves: float32 ``(len(days), ny, nx)`` added to `base_logit` for
        forecast ``days`` (the ``*-etas`` kinds, `quake.models.neural_etas`); None here."""
        return None

    # -- inputs ---------------------------------------------------------------------------
    def coarse_events(self, data: ForecastData) -> GriddedEvents:
        """``data.events`` on cells ``pool`` times larger (cached per catalog: the key is
        its fingerprint and grid, never ``id()``, which a freed object's successor reuses —
        one visitor's catalog was once forecast with another's events)."""
        if self.config.pool == 1:
            return data.events
        key = (data.fingerprint, data.grid)
        cached = self._coarse  # one read: another session's thread may replace it meanwhile
        if cached is not None and cached[0] == key:
            return cached[1]
        coarse = data.events.coarsen(self.config.pool)
        self._coarse = (key, coarse)
        return coarse

    def inputs(self, events: GriddedEvents, start: int, stop: int) -> np.ndarray:
        """Transformed coarse maps of days ``[start, stop)``: float32 (n, h, w); days < 0 are 0."""
        return transform(events.dense(start, stop), self.config.input_transform)

    def upsample(self, delta: Tensor, shape: tuple[int, int]) -> Tensor:
        """(..., h, w) coarse -> (..., ny, nx) by nearest repetition, cropped to the grid."""
        k = self.config.pool
        if k > 1:
            delta = delta.repeat_interleave(k, dim=-2).repeat_interleave(k, dim=-1)
        return delta[..., : shape[0], : shape[1]]

    # -- forward --------------------------------------------------------------------------
    def run(self, x: Tensor, state: State = None) -> tuple[Tensor, State]:
        """Net on transformed coarse maps x (B, T + lag, h, w) -> delta (B, T, h, w), state."""
        return self.net(x, state)

    def block_days(self, shape: tuple[int, int]) -> int:
        """Days per forward pass that keep the widest activation under ~256 MB (float32)."""
        c = self.config
        width = 4 * c.hidden if self.recurrent else max(c.days, c.channels)
        return max(1, min(256, (1 << 26) // (width * shape[0] * shape[1])))

    def run_days(
        self,
        events: GriddedEvents,
        start: int,
        stop: int,
        state: State,
        dev: torch.device,
        head: bool = True,
    ) -> tuple[Tensor | None, State]:
        """The net over days ``[start, stop)`` of one stream in blocks: delta (n, h, w), state.
        ``head=False`` (a recurrent net's warm-up): the state only, delta None."""
        step = self.block_days(events.grid.shape)
        out = []
        for a in range(start, stop, step):
            b = min(a + step, stop)
            x = to_device(self.inputs(events, a - self.lag, b)[None], dev)
            if head or not self.recurrent:
                delta, state = self.run(x, state)
                out.append(delta[0])
            else:
                state = self.net.advance(x, state)
        if not head and self.recurrent:
            return None, state
        return torch.cat(out) if out else torch.zeros(0, *events.grid.shape), state

    def warmup_days(
        self, start: int, warmup: int | None = None, data: ForecastData | None = None
    ) -> int:
        """Days run through before ``start``: every day from day 0 for a recurrent net (from
        its latest snapshot for ``data``'s events at or before ``start``, when ``data`` is
        given), or the last ``warmup`` of them when given (see `predict_days`)."""
        if not self.recurrent:
            return 0
        if warmup is not None:
            return min(start, max(0, int(warmup)))
        snap = self.resume_point(data, start) if data is not None else None
        return start - (snap.day if snap is not None else 0)

    def resume_point(self, data: ForecastData, start: int) -> Snapshot | None:
        """The saved state a forecast from ``start`` begins with (None: day 0)."""
        if not self.recurrent or not len(self.snapshots):
            return None
        return self.snapshots.best(data.events, start)

    def state_shape(self) -> tuple[int, int, int]:
        """``(hidden, h, w)`` of the recurrent state on the model's (coarse) grid."""
        ny, nx = self.grid_shape()
        k = self.config.pool
        return (self.config.hidden, -(-ny // k), -(-nx // k))

    @torch.no_grad()
    def predict_days(
        self,
        data: ForecastData,
        start: int,
        stop: int,
        chunk: int = 64,
        on_warmup: Callable[[int, int], None] | None = None,
        warmup: int | None = None,
        record_every: int | None = None,
        record_from: int = 0,
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Probabilities of days ``[start, stop)`` in blocks, float32 (n, ny, nx).

        A recurrent model first runs through every day from the protocol's day 0 to
        ``start`` so that its state is warm (PROTOCOL.md), then through the period;
        ``on_warmup(days_done, days_total)`` reports that run. It starts instead from the
        latest of its `snapshots` made from the same events at or before ``start``
        (`quake.models.states`). ``warmup`` (days) starts that run at ``start - warmup``
        from a zero state (docs/FORECAST_SPEED.md measures what it changes).
        ``record_every``: add a snapshot to `snapshots` on ``record_from`` and on every
        multiple of that many days after it that the run passes (the model's own
        `record_every` and `record_from` when not given). Predictions are float32 on
        every device (no autocast).
        """
        dev = next(self.net.parameters()).device
        # float64 logits on the net's device: probabilities leave it once, as float32
        # (on a GPU the host's sigmoid of 64 days' 10 km logits capped a run at ~1,800 days/s)
        z0 = torch.from_numpy(self.base_logit() + self.config.out_offset).to(dev)
        if self.recurrent and dev.type == "cpu":
            keep_large_buffers()  # 1.3x a paper-preset day (`quake.models.allocator`)
        events = self.coarse_events(data)
        was_training = self.net.training
        self.net.eval()
        state: State = None
        snap = self.resume_point(data, start) if warmup is None else None
        if snap is not None:
            state = snap.state(dev)
        record_every = self.record_every if record_every is None else record_every
        record_from = max(record_from, self.record_from)
        every = int(record_every) if record_every and self.recurrent else 0

        def record(day: int, st: State) -> None:
            due = every and (day == record_from or day % every == 0) and day >= record_from
            if due and st is not None and day not in self.snapshots.days:
                self.snapshots.add(Snapshot.of(day, events_digest(data.events, day), st))

        try:
            first = snap.day if snap is not None else start - self.warmup_days(start, warmup)
            a = first
            while a < start:
                b = min(_next_stop(a, 256, every), start)
                state = self.run_days(events, a, b, state, dev, head=False)[1]
                record(b, state)
                if on_warmup is not None:
                    on_warmup(b - first, start - first)
                a = b
            a = start
            while a < stop:
                b = min(a + chunk, _next_stop(a, chunk, every), stop)
                delta, state = self.run_days(events, a, b, state, dev)
                record(b, state)
                z = z0 + self.upsample(delta.float(), data.grid.shape).double()
                moving = self.day_logits(data, np.arange(a, b))
                if moving is not None:
                    z = z + to_device(moving, dev)
                yield a, torch.sigmoid(z).float().cpu().numpy()
                a = b
        finally:
            self.net.train(was_training)

    # -- fitting --------------------------------------------------------------------------
    def fit(
        self,
        data: ForecastData,
        final: bool = False,
        on_progress: OnProgress | None = None,
        **train_kwargs: Any,
    ) -> NeuralForecaster:
        """Train with `quake.models.training.fit_network` (``train_config`` or its defaults).

        The weights are always trained on the train period with early stopping on
        validation. ``final`` (the test-period model) then swaps the base for the
        train + validation prior, as the naive baseline's final fit does: the net's
        residual is a log-odds correction on whatever prior it is given. ``train_kwargs``:
        ``should_stop``, ``checkpoint_dir``, ``resume`` (see `fit_network`).
        """
        fit_network(self, data, self.train_config, on_progress=on_progress, **train_kwargs)
        self.set_base(data, final)
        self.bind(data, fit_seconds=self.meta.get("train_seconds"))
        self.meta["final"] = bool(final)
        return self

    # -- persistence ----------------------------------------------------------------------
    def state_arrays(self) -> dict[str, np.ndarray]:
        """The net's weights as float32 arrays named ``net.<parameter>``."""
        sd = self.net.state_dict()
        return {f"net.{k}": t.detach().cpu().float().numpy() for k, t in sd.items()}

    def load_state_arrays(self, arrays: dict[str, np.ndarray], where: str) -> None:
        """Load the ``net.*`` arrays: exactly the net's parameters, float32 (as saved),
        finite, of the net's shapes; a `ModelError` naming the array otherwise."""
        own = self.net.state_dict()
        got = {k[4:]: a for k, a in arrays.items() if k.startswith("net.")}
        bad = sorted(set(own) ^ set(got))
        if bad:
            raise ModelError(f"{where}: weights do not fit this {self.kind} config: {bad[:5]}")
        for k, t in own.items():
            v.check_array(arrays, f"net.{k}", file=where, shape=tuple(t.shape), dtype=np.float32)
        self.net.load_state_dict({k: torch.from_numpy(np.array(a)) for k, a in got.items()})

    def _save_arrays(self, folder: Path) -> None:
        if self.base is None:
            raise ModelError("nothing to save: the model has not been fitted")
        save_arrays(folder / WEIGHTS_FILE, {"base": self.base, **self.state_arrays()})
        if self.recurrent:
            self.save_snapshots(folder)

    def _load_arrays(self, folder: Path) -> None:
        path = folder / WEIGHTS_FILE
        arrays = load_arrays(path)  # safetensors only: refuses pickles without running them
        base = v.check_array(
            arrays, "base", file=path, shape=self.grid_shape(), dtype=np.float32, prob=True
        )
        own = {f"net.{k}" for k in self.net.state_dict()}
        v.check_names(arrays, {"base", *own}, path)
        self.load_state_arrays(arrays, str(path))
        self.base = base
        self.load_snapshots(folder)

    def load_snapshots(self, folder: Path) -> None:
        """Read a recurrent net's saved states from its folder (checked; none is fine)."""
        states = folder / STATES_FILE
        if self.recurrent and states.exists():
            digest = weights_digest(self.state_arrays())
            self.snapshots = load_snapshots(states, self.state_shape(), digest)
        self.folder_snapshot_days = set(self.snapshots.days)

    def save_snapshots(self, folder: str | Path) -> Path | None:
        """Write `snapshots` into a saved model's folder (None when it has none; a file
        left there by other weights is removed)."""
        path = Path(folder) / STATES_FILE
        if not len(self.snapshots):
            path.unlink(missing_ok=True)
            return None
        return save_snapshots(path, self.snapshots, weights_digest(self.state_arrays()))


def _next_stop(a: int, step: int, every: int) -> int:
    """The end of a block from day ``a``: ``a + step``, cut at the next multiple of
    ``every`` (a snapshot day) when recording."""
    b = a + step
    return min(b, (a // every + 1) * every) if every else b


class CNNModel(NeuralForecaster):
    kind = "cnn"
    label = PAPER_METHOD["cnn"]


class ConvLSTMModel(NeuralForecaster):
    kind = "convlstm"
    label = PAPER_METHOD["convlstm"]
    recurrent = True


class CNNResidModel(NeuralForecaster):
    kind = "cnn-resid"
    label = PAPER_METHOD["cnn-resid"]
    resid = True


class ConvLSTMResidModel(NeuralForecaster):
    kind = "convlstm-resid"
    label = PAPER_METHOD["convlstm-resid"]
    resid = True
    recurrent = True


def build(
    kind: str = "convlstm-resid",
    preset: str = "quick",
    model_args: dict[str, Any] | None = None,
    train_args: dict[str, Any] | None = None,
):
    """A new neural model of ``kind`` with a preset's sizes, overridden by the dicts."""
    from quake.models import create

    if preset not in PRESETS:
        raise ModelError(f"unknown preset {preset!r}; expected one of {', '.join(PRESETS)}")
    margs = {**PRESETS[preset]["model"], **(model_args or {})}
    if not kind.startswith("cnn"):
        margs = {k: v for k, v in margs.items() if k not in ("days", "channels")}
    model = create(kind, **margs)
    if not isinstance(model, NeuralForecaster):
        raise ModelError(f"{kind} is not a neural model kind")
    model.train_config = TrainConfig.from_dict({**PRESETS[preset]["train"], **(train_args or {})})
    model.meta["preset"] = preset
    return model
