"""The numbers a person wants to see about a loaded catalog."""

from __future__ import annotations

from quake.data.catalog.load import Catalog
from quake.data.grid import Grid

MAG_LEVELS = (3.5, 4.5, 5.0, 6.0)


def catalog_summary(catalog: Catalog, grid: Grid | None, grid_name: str | None = None) -> dict:
    """Layout, counts, drops, span, bounds, magnitude range, counts at M >= levels, events in grid.

    Keys: ``layout, n_events, dropped, time_start, time_end, lat_min, lat_max, lon_min,
    lon_max, mag_min, mag_max, n_mag_ge, n_in_grid, grid`` (plus ``source``, ``n_rows``,
    ``notes``). ``grid`` is ``{"name", "nx", "ny", "cell_km", "n_cells"}``; with
    ``grid=None`` (no grid fits the catalog) both ``grid`` and ``n_in_grid`` are None.
    """
    ev = catalog.events
    mag = ev["magnitude"].to_numpy()
    n_in_grid = None
    grid_info = None
    if grid is not None:
        cells = grid.cell_index(ev["latitude"].to_numpy(), ev["longitude"].to_numpy())
        n_in_grid = int((cells >= 0).sum())
        grid_info = {
            "name": grid_name or "grid",
            "nx": int(grid.nx),
            "ny": int(grid.ny),
            "cell_km": float(grid.cell_km),
            "n_cells": int(grid.n_cells),
        }
    r = catalog.report
    return {
        "source": r.source,
        "layout": r.layout,
        "n_rows": r.n_rows,
        "n_events": int(len(ev)),
        "dropped": dict(r.dropped),
        "notes": list(r.notes),
        "time_start": ev["time"].iloc[0].isoformat(),
        "time_end": ev["time"].iloc[-1].isoformat(),
        "lat_min": float(ev["latitude"].min()),
        "lat_max": float(ev["latitude"].max()),
        "lon_min": float(ev["longitude"].min()),
        "lon_max": float(ev["longitude"].max()),
        "mag_min": float(mag.min()),
        "mag_max": float(mag.max()),
        "n_mag_ge": {f"{m:g}": int((mag >= m).sum()) for m in MAG_LEVELS},
        "n_in_grid": n_in_grid,
        "grid": grid_info,
    }
