"""``python -m quake download``: fetch a catalog window from the USGS event service."""

from __future__ import annotations

import argparse
import math
from datetime import date
from pathlib import Path

from quake import settings
from quake.atomic import atomic_open
from quake.commands._paths import check_out_file, out_file
from quake.data.catalog.usgs import DEADLINE_S, Window, download_usgs
from quake.errors import DownloadError

FLAGS = {
    "min_lat": "--min-lat",
    "max_lat": "--max-lat",
    "min_lon": "--min-lon",
    "max_lon": "--max-lon",
    "start": "--start",
    "end": "--end",
    "min_mag": "--min-mag",
}

NAME = "download"
HELP = "download a region/time/magnitude window from the USGS event service (needs internet)"


def iso_date(text: str) -> date:
    """An argparse ``type``: a calendar date, YYYY-MM-DD."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text[:40]!r}") from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    w = Window()
    p.add_argument("--min-lat", type=float, default=w.min_lat)
    p.add_argument("--max-lat", type=float, default=w.max_lat)
    p.add_argument("--min-lon", type=float, default=w.min_lon)
    p.add_argument("--max-lon", type=float, default=w.max_lon)
    p.add_argument("--start", type=iso_date, default=w.start, help="YYYY-MM-DD")
    p.add_argument("--end", type=iso_date, default=w.end, help="YYYY-MM-DD")
    p.add_argument("--min-mag", type=float, default=w.min_mag)
    p.add_argument(
        "--out",
        type=out_file,
        default=None,
        help="CSV to write (default: DOWNLOADS/usgs_catalog.csv)",
    )
    p.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="folder of cached chunks (default: $QUAKE_DOWNLOAD_DIR or data/downloads/)",
    )
    p.add_argument(
        "--deadline",
        type=float,
        default=DEADLINE_S,
        metavar="SECONDS",
        help=f"give up after this long; a rerun resumes from the cache "
        f"(default {DEADLINE_S:g}; 0 = no limit)",
    )


def run(args: argparse.Namespace) -> int:
    window = Window(
        args.min_lat, args.max_lat, args.min_lon, args.max_lon, args.start, args.end, args.min_mag
    )
    window.check(FLAGS)  # before any request: the service is never asked an impossible window
    if not (math.isfinite(args.deadline) and args.deadline >= 0):
        raise DownloadError(f"--deadline must be a number of seconds >= 0, got {args.deadline}")
    cache = args.cache or settings.download_dir()
    out = args.out or settings.download_dir() / "usgs_catalog.csv"
    check_out_file(out, "--out")  # before the download, not after it
    cat = download_usgs(
        window,
        cache_dir=cache,
        on_progress=lambda p: print(f"chunk {p.step}/{p.total}", flush=True),
        deadline_s=args.deadline if args.deadline > 0 else None,
    )
    ev = cat.events.copy()
    ev["time"] = ev["time"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    text = ev.rename(columns={"depth_km": "depth", "magnitude": "mag"}).to_csv(index=False)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(out, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as err:
        raise DownloadError(
            f"downloaded {len(ev)} events but cannot write {out} ({err.strerror or err}); "
            "the chunks are cached, so a rerun with another --out does not download again"
        ) from None
    print(f"{len(ev)} events written to {out}")
    return 0
