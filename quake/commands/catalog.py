"""``python -m quake catalog PATH [--json]``: load a catalog and print its report.

The report names the grid the catalog would be forecast on (``grid``: ``name``, ``nx``,
``ny``, ``cell_km``, ``n_cells``) and how many events fall in it (``n_in_grid``).

Exit codes: 0 when the catalog loads and has a grid; 2 with a one-line ``error: ...`` on
stderr when it cannot be read. A catalog that loads but whose region is too large for
the cell budget (`quake.settings.MAX_GRID_CELLS`) is still reported on stdout (the JSON
form with ``"grid": null``, ``"n_in_grid": null`` and ``"grid_error"``: the reason), then
the same reason is the ``error: ...`` line on stderr and the exit code is 2: it cannot
be forecast as it is.
"""

from __future__ import annotations

import argparse

from quake.commands._paths import json_text
from quake.data.catalog import catalog_summary, load_catalog
from quake.data.protocol import JAPAN, grid_for_catalog
from quake.errors import CatalogError

NAME = "catalog"
HELP = "load a catalog CSV and print its report (layout, drops by reason, span, bounds, counts)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="catalog CSV (USGS ComCat, reference, paper or generic layout)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def format_summary(s: dict, grid_name: str | None = None) -> str:
    dropped = ", ".join(f"{v} {k}" for k, v in s["dropped"].items()) or "none"
    ge = "  ".join(f"M>={k}: {v}" for k, v in s["n_mag_ge"].items())
    g = s.get("grid")
    if g is None:
        in_grid = f"no grid: {s.get('grid_error', 'refused')}"
    else:
        shape = f"{g['nx']} x {g['ny']} cells of {g['cell_km']:g} km"
        in_grid = f"{s['n_in_grid']} ({grid_name or g['name']}: {shape})"
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
        f"in grid     {in_grid}",
    ]
    lines += [f"note        {n}" for n in s["notes"]]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    catalog = load_catalog(args.path)
    # Only the grid is needed here: a catalog too short for the protocol's splits still loads.
    try:
        g = grid_for_catalog(catalog.events)
    except CatalogError as err:
        summary = catalog_summary(catalog, None)
        summary["grid_error"] = str(err)
        print(json_text(summary) if args.json else format_summary(summary), flush=True)
        raise CatalogError(f"{args.path}: {err}") from None
    name = JAPAN.name if g == JAPAN.grid else "grid from the catalog's bounds"
    summary = catalog_summary(catalog, g, name)
    print(json_text(summary) if args.json else format_summary(summary))
    return 0
