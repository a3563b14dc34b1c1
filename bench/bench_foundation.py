"""Benchmark of the foundation: load + grid + targets (Mc 5 and 4.5) + naive prior.

Cases:
  japan  the reference catalog ``../shared/data/japan_usgs_1990_2019.csv`` (37,581 events)
  1M     a seeded synthetic catalog of 1,000,000 events over Japan (lat 27-45, lon 128-146,
         30 years from 1990-01-01), written to a temporary CSV in the reference layout

Each case runs in a fresh subprocess (``python bench/bench_foundation.py --child PATH``):
first a timed run whose peak resident memory is the process's ``ru_maxrss`` (imports
included; the RSS right after the imports is shown too), then the same work again under
``tracemalloc`` for the peak of Python-visible allocations. Writing the synthetic CSV is
setup and not timed.

Goals: Japan < 1 s, 1M events < 10 s, peak memory < 1 GB.

Usage: ``.venv/bin/python bench/bench_foundation.py [--n-events N] [--json]``
(exit code 1 when a goal is missed).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_S = {"japan": 1.0, "1M": 10.0}
GOAL_MEM_MB = 1024.0


def _rss_mb() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def workload(path: str) -> dict[str, float]:
    """Load, grid, targets at Mc 5 and 4.5, naive priors; seconds per stage."""
    from quake.data.catalog import load_catalog
    from quake.data.events import GriddedEvents
    from quake.data.protocol import protocol_for_catalog
    from quake.data.targets import Targets, naive_prior

    out: dict[str, float] = {}
    t0 = time.perf_counter()
    catalog = load_catalog(path)
    t1 = time.perf_counter()
    protocol = protocol_for_catalog(catalog.events)
    events = GriddedEvents.from_catalog(catalog.events, protocol.grid, protocol.epoch)
    t2 = time.perf_counter()
    targets = [
        Targets.from_events(events, mc, protocol.lead_days, protocol.horizon_days)
        for mc in (5.0, 4.5)
    ]
    t3 = time.perf_counter()
    for tg in targets:
        for final in (False, True):
            naive_prior(tg, *protocol.fit_days(final))
    t4 = time.perf_counter()
    out.update(load=t1 - t0, grid=t2 - t1, targets=t3 - t2, prior=t4 - t3, total=t4 - t0)
    out["n_events"] = len(catalog)
    out["n_pos_mc5"] = int(targets[0].keys.size)
    out["n_pos_mc45"] = int(targets[1].keys.size)
    out["protocol"] = protocol.name
    return out


def child(path: str) -> None:
    import quake.data.catalog  # noqa: F401  (imports: in the baseline RSS, not in the work)
    import quake.data.events  # noqa: F401
    import quake.data.protocol  # noqa: F401
    import quake.data.targets  # noqa: F401

    if path == "japan":
        from quake.data.catalog import find_reference_catalog

        found = find_reference_catalog()
        if found is None:
            raise SystemExit("the reference catalog japan_usgs_1990_2019.csv was not found")
        path = str(found)
    rss_imports = _rss_mb()
    res = workload(path)
    res["rss_imports_mb"] = rss_imports
    res["rss_peak_mb"] = _rss_mb()
    tracemalloc.start()
    workload(path)
    res["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    print(json.dumps(res))


def write_synthetic(path: Path, n_events: int) -> None:
    from quake.data.synthetic import synthetic_catalog, to_reference_csv

    df = synthetic_catalog(
        n_background=n_events,
        start=date(1990, 1, 1),
        n_days=(date(2020, 1, 1) - date(1990, 1, 1)).days,
        lat=(27.0, 45.0),
        lon=(128.0, 146.0),
        seed=1,
    )
    path.write_text(to_reference_csv(df), encoding="utf-8")


def run_child(*args: str) -> str:
    proc = subprocess.run(
        [sys.executable, __file__, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child {args} failed:\n{proc.stderr}")
    return proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--write", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--n-events", type=int, default=1_000_000)
    ap.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = ap.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    if args.write:
        write_synthetic(Path(args.write[0]), int(args.write[1]))
        return 0

    # The parent stays small (no pandas): a child inherits the parent's peak RSS on Linux.
    results: dict[str, dict] = {}
    results["japan"] = json.loads(run_child("--child", "japan"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "synthetic.csv"
        t = time.perf_counter()
        run_child("--write", str(path), str(args.n_events))
        mb = path.stat().st_size / 2**20
        print(
            f"(setup: {args.n_events:,} synthetic events, {mb:.0f} MB CSV in "
            f"{time.perf_counter() - t:.1f} s)"
        )
        results["1M"] = json.loads(run_child("--child", str(path)))
    head = (
        f"{'case':6} {'events':>9} {'load s':>7} {'grid s':>7} {'targ s':>7} {'prior s':>7} "
        f"{'total s':>7} {'goal s':>6} {'RSS MB':>7} {'RSS0 MB':>7} {'traced MB':>9}  ok"
    )
    print(head)
    print("-" * len(head))
    ok_all = True
    for name, r in results.items():
        ok = r["total"] < GOAL_S[name] and max(r["rss_peak_mb"], r["traced_peak_mb"]) < GOAL_MEM_MB
        ok_all &= ok
        print(
            f"{name:6} {r['n_events']:>9,} {r['load']:>7.3f} {r['grid']:>7.3f} "
            f"{r['targets']:>7.3f} {r['prior']:>7.3f} {r['total']:>7.3f} {GOAL_S[name]:>6.1f} "
            f"{r['rss_peak_mb']:>7.0f} {r['rss_imports_mb']:>7.0f} {r['traced_peak_mb']:>9.0f}  "
            f"{'yes' if ok else 'NO'}"
        )
    print("RSS = peak resident set of the fresh process (imports included; RSS0 = after imports);")
    print(f"traced = tracemalloc peak of the work. Memory goal < {GOAL_MEM_MB:.0f} MB.")
    if args.json:
        print(json.dumps(results, indent=1))
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
