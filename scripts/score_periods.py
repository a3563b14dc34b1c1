"""Where a test-period score comes from: saved models scored on parts of the test period.

    python scripts/score_periods.py etas-m5 convlstm-paper-m5 ensemble-paper-etas-m5 \
        [--out F.json]

The parts are cut around the largest event of the test targets (the 2011-03-11 Tohoku M9.1
on the Japan catalog; `--event-day` picks another day):

- ``before``: the forecasts made before that day whose target window holds it (T + lead <=
  day < T + horizon and T < day: 40 forecast days on the protocol). No forecast made
  then has seen the mainshock, yet its aftershocks are these days' targets.
- ``rest``: every other test day.
- ``all``: the whole test period, as `python -m quake evaluate` scores it.

Each part gets ROC AUC and PR AUC (all cells) with 95 % block-bootstrap intervals (blocks of
50 consecutive forecast days of the part, drawn in runs of 3, 1,000 seeded resamples,
`quake.metrics.bootstrap` on the fine bins), and the paired difference of every model from
the first one. Each model's test forecasts are computed once and kept as float32 memory
maps in a temporary folder (~0.65 GB a model on the Japan grid).

This reads the test targets to cut the period; it explains a score, it does not choose a
model. The protocol's score stays the ``all`` row.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # pool_ceiling, when imported

from pool_ceiling import forecasts, load_models, model_arguments  # noqa: E402

from quake.data.forecast_data import ForecastData  # noqa: E402
from quake.metrics.bootstrap import intervals, paired_intervals, pr_auc_rows, roc_auc_rows  # noqa: E402
from quake.metrics.curves import OperatingCurve  # noqa: E402

BLOCK_DAYS = 50
CHUNK = 128
NAN = float("nan")


def largest_event_day(data: ForecastData) -> tuple[int, float]:
    """Day and magnitude of the largest event that any test forecast's window can hold."""
    start, stop = data.days("test")
    ev = data.events
    lo, hi = start + data.protocol.lead_days, stop - 1 + data.protocol.horizon_days
    span = ev.span(lo, hi)
    if span.stop <= span.start:
        raise SystemExit("no event falls in the test targets' windows")
    i = span.start + int(np.argmax(ev.mag[span]))
    return int(ev.day[i]), float(ev.mag[i])


def parts(data: ForecastData, event_day: int) -> dict[str, np.ndarray]:
    """Test forecast days (offsets from the period's start) of each part."""
    start, stop = data.days("test")
    t = np.arange(start, stop)
    p = data.protocol
    before = (t < event_day) & (t + p.lead_days <= event_day) & (event_day < t + p.horizon_days)
    return {"all": t - start, "before": t[before] - start, "rest": t[~before] - start}


def block_hists(y: np.ndarray, p: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Fine-bin histograms ``(n_blocks, 2, n_bins)`` of consecutive ``BLOCK_DAYS``-day blocks
    of ``days`` (a short remainder joins the last block, as in the saved models' blocks)."""
    n_blocks = max(1, len(days) // BLOCK_DAYS)
    out = []
    for b in range(n_blocks):
        sel = days[b * BLOCK_DAYS : None if b == n_blocks - 1 else (b + 1) * BLOCK_DAYS]
        curve = OperatingCurve.empty()
        for a in range(0, len(sel), CHUNK):
            d = sel[a : a + CHUNK]
            curve.update(y[d], p[d])
        out.append(curve.hist)
    return np.stack(out)


def fmt(x: float, ci: list[float], digits: int) -> str:
    if not np.isfinite(ci).all():
        return f"{x:.{digits}f}"
    return f"{x:.{digits}f} [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def score_row(
    name: str, part: str, h: np.ndarray, ref: str, ref_h: np.ndarray | None
) -> dict[str, Any]:
    """ROC / PR AUC of one model on one part, with intervals and the paired difference from
    ``ref`` where the part has two blocks or more (one block: point values only)."""
    total = h.sum(axis=0)
    row: dict[str, Any] = {"model": name, "part": part, "n_blocks": len(h)}
    if len(h) < 2:
        row |= {
            "roc_auc": float(roc_auc_rows(total)),
            "pr_auc": float(pr_auc_rows(total)),
            "roc_auc_ci": [NAN, NAN],
            "pr_auc_ci": [NAN, NAN],
        }
    else:
        iv = intervals(h)
        row |= {k: iv[k] for k in ("roc_auc", "roc_auc_ci", "pr_auc", "pr_auc_ci")}
    diff = ["", ""]
    if ref_h is not None and len(h) >= 2:
        pd = paired_intervals(h, ref_h)
        keys = ("roc_auc_diff", "roc_auc_diff_ci", "roc_auc_p")
        keys += ("pr_auc_diff", "pr_auc_diff_ci", "pr_auc_p")
        row |= {f"{k}_vs_{ref}": pd[k] for k in keys}
        diff = [
            fmt(pd["roc_auc_diff"], pd["roc_auc_diff_ci"], 4),
            fmt(pd["pr_auc_diff"], pd["pr_auc_diff_ci"], 5),
        ]
    roc = fmt(row["roc_auc"], row["roc_auc_ci"], 4)
    pr = fmt(row["pr_auc"], row["pr_auc_ci"], 5)
    print(f"| {name} | {part} | {roc} | {pr} | {diff[0]} | {diff[1]} |", flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    ap = model_arguments(__doc__, "model folder names; differences are from the first")
    ap.add_argument("--event-day", default=None, help="YYYY-MM-DD (default: the largest event)")
    args = ap.parse_args(argv)
    models, data = load_models(ap, args)
    epoch = data.events.epoch
    if args.event_day:
        try:
            day, mag = (date.fromisoformat(args.event_day) - epoch).days, None
        except ValueError:
            ap.error(f"--event-day {args.event_day!r} is not a date YYYY-MM-DD")
    else:
        day, mag = largest_event_day(data)
    cut = parts(data, day)
    start, stop = data.days("test")
    y = data.targets.dense(start, stop).astype(bool)
    n_pos = {k: int(y[v].sum()) for k, v in cut.items()}
    event = {"date": str(epoch + timedelta(days=day)), "magnitude": mag}
    print(
        f"event {event}; forecast days { ({k: len(v) for k, v in cut.items()}) }; "
        f"positives {n_pos}",
        flush=True,
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="periods-") as tmp:
        hists: dict[str, dict[str, np.ndarray]] = {}
        for name, model in models.items():
            t0 = time.perf_counter()
            p = forecasts(name, model, data, Path(tmp))
            hists[name] = {k: block_hists(y, p, v) for k, v in cut.items()}
            del p
            took = time.perf_counter() - t0
            print(f"{name}: forecasts and histograms in {took:.0f} s", flush=True)
        ref = args.models[0]
        print("| model | part | ROC AUC [95 %] | PR AUC [95 %] | ROC − ref | PR − ref |")
        for name in args.models:
            for part in cut:
                other = hists[ref][part] if name != ref else None
                rows.append(score_row(name, part, hists[name][part], ref, other))
    if args.out:
        doc = {
            "models": args.models,
            "event": event,
            "forecast_days": {k: len(v) for k, v in cut.items()},
            "positives": n_pos,
            "rows": rows,
        }
        text = json.dumps(doc, indent=1).replace("NaN", "null")
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
