"""Benchmark of neural training and inference per preset (CPU here; see docs/NEURAL.md).

For each preset (``quick``, ``paper``) a fresh subprocess (``--child PRESET``) builds the
Japan protocol's data at Mc 5 and a ``convlstm-resid`` model, then measures:

- training: the real loop (`quake.models.training.fit_network`), stopped through ``should_stop``
  after ``--steps`` steps (the first step, which pays one-off allocations, is not timed);
  a step is ``streams x bptt`` stream-days of forward + backward + Adam. Training days/s =
  stream-days per second. An epoch = its steps (the whole train period, history included)
  + one validation pass; "epoch s" is extrapolated from the timed steps and a timed
  validation of ``--val-days`` days. For ``paper`` on a CPU only a few steps are run and
  everything per epoch is an EXTRAPOLATION, labelled so.
- inference: ``predict_days`` from day 0 (no warm-up), ``--infer-days`` days, probabilities
  on the 10 km grid included (days/s).
- a whole validation pass with its scoring (``validation_pass_s``; "epoch s" leaves the
  scoring out): on a GPU twice, the scores binned on the host and on the device
  (`quake.models.device_curves`); on a CPU for the quick preset only.
- peak memory: the child's ``ru_maxrss`` (imports included).

Timings on a shared CPU are noisy (other processes compete for the cores): the load
average is printed with the results.

``--scoring MODEL_FOLDER``: the scoring of a saved recurrent model (``train``'s last stage),
validation and test scored by two runs from day 0 (as before) against one shared run
(`quake.scoring.train.OnePass`), in one process, ``--repeats`` times each, alternating
which way goes first; the
ratio is what to read on a shared CPU. The scores of both ways are printed side by side.

``--fused auto|on|off`` sets ``QUAKE_FUSED_CELL`` for the runs (the ConvLSTM cell update
compiled into one kernel, issue #14; ``auto``: on CUDA only); ``--train-args`` overrides the
preset's training options, e.g. ``{"deterministic": false}`` (cuDNN's benchmark mode on a
GPU) or ``{"streams": 8}``. The compilations are paid by the
first training step (``first_step_s``) and an untimed warm-up (``warm_up_s``).

Usage: ``.venv/bin/python bench/bench_train.py [--presets quick paper] [--steps N] [--json]``
or ``.venv/bin/python bench/bench_train.py --scoring models/convlstm-resid-quick-m5``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEPS = {"quick": 12, "paper": 3}
INFER_DAYS = {"quick": 512, "paper": 16}
VAL_DAYS = {"quick": 256, "paper": 8}


def child(
    preset: str, steps: int, infer_days: int, val_days: int, device: str, extra: dict
) -> dict:
    sys.path.insert(0, str(ROOT))
    import math

    import torch

    from quake import settings
    from quake.data.forecast_data import ForecastData, load_reference
    from quake.models import nets
    from quake.models.neural import build
    from quake.models.training import autocast, fit_network, validate

    data = ForecastData.build(load_reference(), 5.0)
    targs = {"epochs": 1, "device": device, **extra}
    model = build("convlstm-resid", preset, train_args=targs)
    cfg = model.train_config
    stamps: list[float] = []

    def on_progress(_event) -> None:
        stamps.append(time.perf_counter())

    t_fit = time.perf_counter()
    res = fit_network(model, data, cfg, on_progress, should_stop=lambda: len(stamps) >= steps)
    assert res.cancelled and len(stamps) >= 2
    step_s = (stamps[-1] - stamps[0]) / (len(stamps) - 1)
    days_per_step = cfg.streams * cfg.bptt
    t0, t1 = data.protocol.fit_days(False)
    epoch_days = t1  # recurrent: every day from day 0 to the end of the train period
    steps_per_epoch = math.ceil(epoch_days / cfg.streams / cfg.bptt)

    v0 = data.days("validation")[0]
    events = model.coarse_events(data)
    dev = torch.device(device)
    # untimed: a compiled cell update (QUAKE_FUSED_CELL) compiles once per batch size,
    # dtype and grad mode; these two calls pay inference's and validation's compilations
    a = time.perf_counter()
    for _ in model.predict_days(data, 0, 2, chunk=2):
        pass
    with torch.no_grad(), autocast(dev):
        model.run(torch.from_numpy(model.inputs(events, 0, 2))[None].to(dev))
    warm_s = time.perf_counter() - a
    a = time.perf_counter()
    with torch.no_grad():  # the net alone (no 10 km probabilities) on val_days days
        x = torch.from_numpy(model.inputs(events, v0 - val_days, v0))[None].to(dev)
        model.run(x)
    val_run_s = time.perf_counter() - a
    n_val = data.days("validation")[1] - t1  # days a validation pass runs through
    a = time.perf_counter()
    n = 0
    for _, p in model.predict_days(data, 0, infer_days, chunk=64):
        n += len(p)
    infer_s = time.perf_counter() - a
    # a validation pass runs the net and the 10 km probabilities over n_val days, like
    # inference (its scoring, ~25 M pairs/s, is not included)
    val_s = n_val / (n / infer_s)
    # a whole validation pass, scoring included (`quake.models.training.validate`): on a
    # GPU binned on the host and on the device (the default there); on this CPU the quick
    # preset's only (the paper preset's would take ~50 min)
    ways = (False, True) if dev.type != "cpu" else (False,) if preset == "quick" else ()
    measured = {}
    for on_device in ways:
        a = time.perf_counter()
        validate(model, data, events, None, dev, on_device=on_device)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        measured["device" if on_device else "host"] = round(time.perf_counter() - a, 2)
    return {
        "preset": preset,
        "device": device,
        "threads": torch.get_num_threads(),
        "fused_cell": settings.fused_cell(),
        # whether the compiled update was still in use at the end (auto falls back on failure)
        "fused_active": nets._FUSED.get("cell") is not None,
        "deterministic": cfg.deterministic,
        "streams": cfg.streams,
        "first_step_s": round(stamps[0] - t_fit, 2),  # data, model, first step (compiling)
        "warm_up_s": round(warm_s, 2),  # inference's and validation's first calls
        "params": sum(p.numel() for p in model.net.parameters()),
        "coarse_grid": list(events.grid.shape),
        "timed_steps": len(stamps) - 1,
        "step_s": round(step_s, 3),
        "train_days_per_s": round(days_per_step / step_s, 1),
        "steps_per_epoch": steps_per_epoch,
        "epoch_train_s": round(steps_per_epoch * step_s, 1),
        "net_only_days_per_s": round(val_days / val_run_s, 1),
        "infer_days_per_s": round(n / infer_s, 1),
        "epoch_validation_s": round(val_s, 1),
        "epoch_s": round(steps_per_epoch * step_s + val_s, 1),
        "validation_pass_s": measured,  # binned on the host / on the device
        "extrapolated": preset == "paper" or steps < steps_per_epoch,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        "peak_gpu_mb": (
            round(torch.cuda.max_memory_allocated() / 2**20, 1) if dev.type == "cuda" else None
        ),
        "gpu": torch.cuda.get_device_name(0) if dev.type == "cuda" else None,
    }


def scoring(folder: str, repeats: int) -> dict:
    """Seconds of two-run and one-run scoring of a saved model (validation + test)."""
    sys.path.insert(0, str(ROOT))
    import torch

    from quake.data.forecast_data import ForecastData, load_reference
    from quake.models import Forecaster
    from quake.scoring.evaluate import evaluate
    from quake.scoring.train import OnePass

    torch.set_num_threads(1)
    model = Forecaster.load(folder)
    data = ForecastData.build(load_reference(), float(model.mc))
    periods = ("validation", "test")
    times: dict[str, list[float]] = {"two_runs": [], "one_run": []}
    cpu: dict[str, list[float]] = {"two_runs": [], "one_run": []}
    scores: dict[str, dict] = {}
    for r in range(repeats):
        for way in list(times)[:: 1 if r % 2 == 0 else -1]:  # alternate which goes first
            scorer = OnePass(model, data) if way == "one_run" else model
            a, c = time.perf_counter(), time.process_time()
            curves = {p: evaluate(scorer, data, p) for p in periods}
            times[way].append(time.perf_counter() - a)
            cpu[way].append(time.process_time() - c)
            scores[way] = {
                f"{p}_{m}": [round(c.roc_auc(), 6), round(c.pr_auc(), 7)]
                for p, per in curves.items()
                for m, c in per.items()
            }
    v0, t0 = data.days("validation")[0], data.days("test")[0]
    n_val, n_test = (data.days(p)[1] - data.days(p)[0] for p in periods)
    return {
        "model": Path(folder).name,
        "net_days_two_runs": v0 + n_val + t0 + n_test,
        "net_days_one_run": data.days("test")[1],
        "seconds_two_runs": [round(x, 1) for x in times["two_runs"]],
        "seconds_one_run": [round(x, 1) for x in times["one_run"]],
        "ratio_min": round(min(times["one_run"]) / min(times["two_runs"]), 3),
        # CPU seconds of this process: on a loaded machine the wall time mostly measures
        # the others; one thread, so CPU time is what an idle machine's wall time would be
        "cpu_seconds_two_runs": [round(x, 1) for x in cpu["two_runs"]],
        "cpu_seconds_one_run": [round(x, 1) for x in cpu["one_run"]],
        "cpu_ratio_min": round(min(cpu["one_run"]) / min(cpu["two_runs"]), 3),
        "scores": scores,
        "load_average": os.getloadavg(),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", default=["quick", "paper"])
    ap.add_argument("--steps", type=int, default=None, help="timed training steps per preset")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--scoring", default=None, help="a saved model folder: time its scoring")
    ap.add_argument("--repeats", type=int, default=2, help="with --scoring: runs of each way")
    ap.add_argument(
        "--fused",
        choices=["auto", "on", "off"],
        default=None,
        help="QUAKE_FUSED_CELL for the runs: the compiled ConvLSTM cell update (auto: CUDA)",
    )
    ap.add_argument(
        "--train-args",
        default="{}",
        help='JSON training overrides, e.g. {"deterministic": false, "streams": 8}',
    )
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--infer-days", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--val-days", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.scoring:
        print(json.dumps(scoring(args.scoring, args.repeats), indent=1))
        return 0
    if args.child:
        out = child(
            args.child,
            args.steps,
            args.infer_days,
            args.val_days,
            args.device,
            json.loads(args.train_args),
        )
        print(json.dumps(out))
        return 0
    rows = []
    for preset in args.presets:
        cmd = [
            sys.executable, __file__, "--child", preset, "--device", args.device,
            "--steps", str(args.steps or STEPS[preset]),
            "--infer-days", str(INFER_DAYS[preset] if args.device == "cpu" else 1024),
            "--val-days", str(VAL_DAYS[preset]),
        ]  # fmt: skip
        cmd += ["--train-args", args.train_args]
        env = dict(os.environ)
        if args.fused:
            env["QUAKE_FUSED_CELL"] = args.fused
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return 1
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    load = os.getloadavg()
    if args.json:
        print(json.dumps({"load_average": load, "rows": rows}, indent=1))
        return 0
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    keys = [
        "preset", "fused_cell", "deterministic", "streams", "threads", "params", "coarse_grid",
        "train_days_per_s", "epoch_train_s",
        "epoch_validation_s", "epoch_s", "infer_days_per_s", "peak_rss_mb", "peak_gpu_mb",
        "extrapolated",
    ]  # fmt: skip
    print(" | ".join(keys))
    for r in rows:
        print(" | ".join(str(r[k]) for k in keys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
