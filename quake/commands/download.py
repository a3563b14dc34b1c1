"""``python -m quake download``: fetch a catalog window from the USGS event service."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from quake.catalog.usgs import DEFAULT_CACHE, Window, download_usgs

NAME = "download"
HELP = "download a region/time/magnitude window from the USGS event service (needs internet)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    w = Window()
    p.add_argument("--min-lat", type=float, default=w.min_lat)
    p.add_argument("--max-lat", type=float, default=w.max_lat)
    p.add_argument("--min-lon", type=float, default=w.min_lon)
    p.add_argument("--max-lon", type=float, default=w.max_lon)
    p.add_argument("--start", type=date.fromisoformat, default=w.start, help="YYYY-MM-DD")
    p.add_argument("--end", type=date.fromisoformat, default=w.end, help="YYYY-MM-DD")
    p.add_argument("--min-mag", type=float, default=w.min_mag)
    p.add_argument("--out", type=Path, default=DEFAULT_CACHE / "usgs_catalog.csv")
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="folder of cached chunks")


def run(args: argparse.Namespace) -> int:
    window = Window(
        args.min_lat, args.max_lat, args.min_lon, args.max_lon, args.start, args.end, args.min_mag
    )
    cat = download_usgs(
        window,
        cache_dir=args.cache,
        on_progress=lambda i, n: print(f"chunk {i}/{n}", flush=True),
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    ev = cat.events.copy()
    ev["time"] = ev["time"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    ev.rename(columns={"depth_km": "depth", "magnitude": "mag"}).to_csv(args.out, index=False)
    print(f"{len(ev)} events written to {args.out}")
    return 0
