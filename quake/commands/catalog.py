"""``python -m quake catalog PATH [--json]``: load a catalog and print its report."""

from __future__ import annotations

import argparse
import json

from quake.catalog import catalog_summary, load_catalog
from quake.protocol import JAPAN, grid_for_catalog

NAME = "catalog"
HELP = "load a catalog CSV and print its report (layout, drops by reason, span, bounds, counts)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="catalog CSV (USGS ComCat, reference, paper or generic layout)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def format_summary(s: dict, grid_name: str) -> str:
    dropped = ", ".join(f"{v} {k}" for k, v in s["dropped"].items()) or "none"
    ge = "  ".join(f"M>={k}: {v}" for k, v in s["n_mag_ge"].items())
    lines = [
        f"source      {s['source']}",
        f"layout      {s['layout']}",
        f"events      {s['n_events']} loaded of {s['n_rows']} rows",
        f"dropped     {dropped}",
        f"time        {s['time_start']} .. {s['time_end']}",
        f"latitude    {s['lat_min']:.3f} .. {s['lat_max']:.3f}",
        f"longitude   {s['lon_min']:.3f} .. {s['lon_max']:.3f}",
        f"magnitude   {s['mag_min']:.1f} .. {s['mag_max']:.1f}",
        f"counts      {ge}",
        f"in grid     {s['n_in_grid']} ({grid_name})",
    ]
    lines += [f"note        {n}" for n in s["notes"]]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    catalog = load_catalog(args.path)
    # Only the grid is needed here: a catalog too short for the protocol's splits still loads.
    g = grid_for_catalog(catalog.events)
    summary = catalog_summary(catalog, g)
    if args.json:
        print(json.dumps(summary))
    else:
        name = JAPAN.name if g == JAPAN.grid else "grid from the catalog's bounds"
        print(format_summary(summary, f"{name}: {g.nx} x {g.ny} cells of {g.cell_km:g} km"))
    return 0
