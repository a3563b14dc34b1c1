"""Store the states of recurrent nets in their folders (``states.safetensors``), so that a map
day or the test period starts from the nearest state instead of day 0.

    python scripts/snapshot_states.py models/convlstm-resid-quick-m5 --every 256
    python scripts/snapshot_states.py models/convlstm-paper-m5 --keep 2 --every 64

Each folder's model runs from its nearest stored state (day 0 when it has none) through
the test period of the reference catalog at the model's Mc, recording its state at the
test period's start and on every multiple of ``--every`` days after it
(`quake.models.states`); the states kept are written into the folder (float16,
compressed). ``--keep N`` keeps the test period's start and the N - 1 recorded states
nearest to N - 1 evenly spaced days of the period (a paper-preset state is ~3.5 MB;
``--start-only`` is ``--keep 1``): a map of any day then runs through at most ~1/N of the
period first. Prints the seconds and the file's size. A folder that fails is reported
and the others go on (exit status 2).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from quake.data.forecast_data import ForecastData, load_reference  # noqa: E402
from quake.errors import QuakeError  # noqa: E402
from quake.models import load_model  # noqa: E402
from quake.models.states import STATES_FILE, Snapshots  # noqa: E402
from quake.scoring.evaluate import check_compatible  # noqa: E402


def kept_days(start: int, stop: int, every: int, keep: int | None) -> list[int]:
    """The days whose states are kept: ``start`` and the multiples of ``every`` in
    ``(start, stop)``, or with ``keep`` the start and the multiples nearest to
    ``keep - 1`` evenly spaced days of the period."""
    recorded = [start, *range((start // every + 1) * every, stop, every)]
    if keep is None:
        return recorded
    targets = [start + round(i * (stop - start) / keep) for i in range(1, keep)]
    return sorted({start, *(min(recorded, key=lambda d, t=t: abs(d - t)) for t in targets)})


def snapshot(folder: Path, data_for, every: int, keep: int | None) -> tuple[int, float]:
    """Record and store the states of one folder; returns (snapshots, seconds)."""
    model = load_model(folder)
    if not getattr(model, "recurrent", False):
        raise QuakeError(f"{folder.name}: not a recurrent net (nothing to store)")
    data = data_for(float(model.mc))
    check_compatible(model, data)
    start, stop = data.days("test")
    days = kept_days(start, stop, every, keep)
    t0 = time.perf_counter()
    model.record_every, model.record_from = every, start
    for _ in model.predict_days(data, start, max(days) + 1, 64):
        pass
    model.snapshots = Snapshots(s for s in model.snapshots if s.day in days)
    model.save_snapshots(folder)
    return len(model.snapshots), time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", type=Path, help="saved recurrent model folders")
    ap.add_argument("--every", type=int, default=256, help="days between states (256)")
    ap.add_argument("--keep", type=int, default=None, help="states kept (default: all)")
    ap.add_argument("--start-only", action="store_true", help="the test period's start only")
    ap.add_argument("--catalog", default=None, help="catalog CSV (default: the reference)")
    args = ap.parse_args(argv)
    if args.every < 1 or (args.keep is not None and args.keep < 1):
        print("error: --every and --keep must be >= 1", file=sys.stderr)
        return 2
    keep = 1 if args.start_only else args.keep
    try:
        catalog = load_reference(args.catalog)
    except (QuakeError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    built: dict[float, ForecastData] = {}

    def data_for(mc: float) -> ForecastData:
        if mc not in built:
            built[mc] = ForecastData.build(catalog, mc)
        return built[mc]

    failed = 0
    for folder in args.folders:
        try:
            n, seconds = snapshot(folder, data_for, args.every, keep)
        except (QuakeError, OSError) as err:
            print(f"{folder}: error: {err}", file=sys.stderr, flush=True)
            failed += 1
            continue
        size = (folder / STATES_FILE).stat().st_size / 1e6
        print(f"{folder.name}: {n} states in {seconds:.0f} s, {size:.2f} MB", flush=True)
    return 2 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
