"""Benchmark of reading catalog files: the reference catalog and hostile uploads.

Each case runs in a fresh subprocess (so peak memory is its own): the time of
`quake.data.catalog.read_catalog_bytes` and the process's peak resident memory (``ru_maxrss``)
after it. Cases:

  reference   the reference catalog (37,581 events)
  blank       an event, then MB of blank lines, then an event
  one-field   lines of "1" (malformed rows)
  quote       lines of a lone '"' (malformed rows, once parsed one by one in Python)
  empty-rows  lines of separators only (rows of empty fields: parsed, or refused by the
              row cap of the dashboard)

``--code DIR`` reads with the ``quake`` package of another checkout (e.g. a ``git worktree``
of an older commit), so one run gives before and after on the same machine.

Usage: ``.venv/bin/python bench/bench_catalog_read.py [--mb 16] [--code DIR] [--json OUT]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "data" / "japan_usgs_1990_2019.csv"
HEAD = b"time,latitude,longitude,mag\n"
EVENT = b"2011-03-11T05:46:24Z,38.3,142.4,9.1\n"
JUNK = {"blank": b"\n", "one-field": b"1\n", "quote": b'"\n', "empty-rows": b",,,\n"}

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from quake.data.catalog import read_catalog_bytes
from quake.errors import CatalogError
raw = open(sys.argv[2], "rb").read()
t = time.perf_counter()
try:
    cat = read_catalog_bytes(raw, "bench")
    out = {"events": cat.report.n_events, "dropped": cat.report.dropped}
except CatalogError as err:
    out = {"refused": str(err)[:160]}
out["seconds"] = time.perf_counter() - t
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def make_files(folder: Path, mb: int) -> dict[str, Path]:
    files = {}
    if REFERENCE.is_file():
        files["reference"] = REFERENCE
    for name, line in JUNK.items():
        path = folder / f"{name}.csv"
        with path.open("wb") as fh:
            fh.write(HEAD + EVENT)
            fh.write(line * ((mb << 20) // len(line)))
            fh.write(EVENT)
        files[name] = path
    return files


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=16, help="size of each hostile file (MB)")
    ap.add_argument("--code", type=Path, default=ROOT, help="checkout whose quake is timed")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per case")
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args()
    folder = Path("/tmp") / f"bench_catalog_read_{args.mb}"
    folder.mkdir(exist_ok=True)
    results = {}
    for name, path in make_files(folder, args.mb).items():
        cmd = [sys.executable, "-c", CHILD, str(args.code.resolve()), str(path)]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
            res = json.loads(done.stdout) if done.returncode == 0 else {"error": done.stderr[-300:]}
        except subprocess.TimeoutExpired:
            res = {"error": f"over {args.timeout:.0f} s"}
        results[name] = res
        print(f"{name:11s} {json.dumps(res)}", flush=True)
    if args.json:
        doc = {"mb": args.mb, "code": str(args.code), **results}
        args.json.write_text(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
