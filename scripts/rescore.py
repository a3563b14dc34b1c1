"""Recompute and store the scoring summaries of saved model folders (test period, each
model's own Mc): per-block histograms, CSEP window sums, mainshock-target curves.

    python scripts/rescore.py models/naive-m5 models/etas-m5 ...

Prints the seconds per model. A folder that fails is reported and the others go on;
the exit status is 2 if any failed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from quake.data.forecast_data import load_reference  # noqa: E402
from quake.errors import QuakeError  # noqa: E402
from quake.scoring.rescore import DataCache, rescore  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", type=Path, help="saved model folders")
    ap.add_argument("--catalog", default=None, help="catalog CSV (default: the reference)")
    ap.add_argument("--no-mainshocks", action="store_true", help="skip mainshock-target curves")
    args = ap.parse_args(argv)
    try:
        t0 = time.perf_counter()
        cache = DataCache(load_reference(args.catalog))
        print(f"catalog loaded in {time.perf_counter() - t0:.1f} s", flush=True)
    except (QuakeError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    failed = 0
    for folder in args.folders:
        try:
            summary, seconds = rescore(folder, cache, mainshocks=not args.no_mainshocks)
        except (QuakeError, OSError) as err:
            print(f"{folder}: error: {err}", file=sys.stderr, flush=True)
            failed += 1
            continue
        print(
            f"{folder.name}: {seconds:.1f} s ({summary.n_windows} windows, "
            f"{len(summary.target_p)} targets, {summary.n_blocks} blocks)",
            flush=True,
        )
    return 2 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
