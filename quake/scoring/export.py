"""A model's forecasts on the non-overlapping windows as pycsep gridded-forecast ASCII files.

pycsep's CSEP1 ASCII format (``GriddedForecast.load_ascii``), one row per cell and magnitude
bin, no header::

    lon_0 lon_1 lat_0 lat_1 depth_0 depth_1 mag_0 mag_1 rate flag

Here one magnitude bin [Mc, 10), all depths (`DEPTH_KM`), rate ``-ln(1 - p)`` (the Poisson
rate whose chance of at least one event is p; p clipped as in `quake.metrics.csep`),
flag 1. Latitude bounds are the cell's; the grid's projection scales longitude by the
cosine of each point's own latitude, so a cell is not exactly a lon/lat box: its longitude
bounds are taken at the cell's central latitude (the box's area is the cell's to ~0.1 %),
and neighbours in a row share their edges. One file per window (forecast day T, target
events in [T + lead, T + horizon)), named ``<model>_<first target day>.dat``, and
``windows.json`` listing them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from quake.atomic import atomic_open
from quake.data.forecast_data import ForecastData
from quake.errors import ModelError
from quake.metrics import csep
from quake.models.base import Forecaster, forecast_blocks
from quake.progress import OnProgress

DEPTH_KM = (-10.0, 1000.0)
MAX_MAGNITUDE = 10.0
INDEX_FILE = "windows.json"


def window_days(data: ForecastData, period: str = "test") -> np.ndarray:
    """Forecast days of the non-overlapping windows: start, start + (horizon - lead), ..."""
    start, stop = data.days(period)
    step = data.protocol.horizon_days - data.protocol.lead_days
    return np.arange(start, stop, step)


def cell_bounds(data: ForecastData) -> np.ndarray:
    """``(n_cells, 4)`` lon_0, lon_1, lat_0, lat_1 of every cell (cell = iy * nx + ix)."""
    g = data.grid
    ny, nx = g.shape
    xs = g.x0_km + np.arange(nx + 1) * g.cell_km
    yc = g.y0_km + (np.arange(ny) + 0.5) * g.cell_km
    ye = g.y0_km + np.arange(ny + 1) * g.cell_km
    lat_edges, _ = g.unproject(np.zeros(ny + 1), ye)
    x2, y2 = np.meshgrid(xs, yc)  # (ny, nx + 1) edges at each row's central latitude
    _, lon_edges = g.unproject(x2, y2)
    out = np.empty((ny, nx, 4))
    out[..., 0], out[..., 1] = lon_edges[:, :-1], lon_edges[:, 1:]
    out[..., 2] = lat_edges[:-1, None]
    out[..., 3] = lat_edges[1:, None]
    return out.reshape(-1, 4)


def ascii_rows(bounds: np.ndarray, p: np.ndarray, mc: float) -> str:
    """The file's text for one window's probabilities ``p`` ``(n_cells,)``."""
    rate = csep.rates(np.asarray(p).ravel())
    n = len(rate)
    cols = np.column_stack(
        [
            bounds,
            np.full(n, DEPTH_KM[0]),
            np.full(n, DEPTH_KM[1]),
            np.full(n, mc),
            np.full(n, MAX_MAGNITUDE),
            rate,
            np.ones(n),
        ]
    )
    fmt = ["%.6f"] * 4 + ["%.1f"] * 4 + ["%.10e", "%d"]
    lines = [" ".join(f % v for f, v in zip(fmt, row, strict=True)) for row in cols]
    return "\n".join(lines) + "\n"


def export_windows(
    model: Forecaster,
    data: ForecastData,
    out: Path,
    name: str,
    windows: Sequence[int] | None = None,
    period: str = "test",
    on_progress: OnProgress | None = None,
) -> list[dict]:
    """Forecast ``period`` with ``model`` and write the chosen windows (indices into
    `window_days`; all by default) into the folder ``out``; returns the index rows."""
    days = window_days(data, period)
    chosen = list(range(len(days))) if windows is None else sorted(set(windows))
    bad = [w for w in chosen if not 0 <= w < len(days)]
    if bad:
        raise ModelError(
            f"window {bad[0]} does not exist; the {period} period has 0..{len(days) - 1}"
        )
    wanted = {int(days[w]): w for w in chosen}
    out.mkdir(exist_ok=True)  # only now: a bad window leaves no empty folder behind
    start, stop = data.days(period)
    last = max(wanted) + 1 if wanted else start
    bounds = cell_bounds(data)
    proto = data.protocol
    rows = []
    for a, block in forecast_blocks(model, data, start, last, 64, on_progress, "export"):
        for day in range(a, a + len(block)):
            if day not in wanted:
                continue
            first = proto.day_to_date(day + proto.lead_days)
            end = proto.day_to_date(day + proto.horizon_days - 1)
            fname = f"{name}_{first}.dat"
            with atomic_open(out / fname, "w", encoding="ascii") as fh:
                fh.write(ascii_rows(bounds, block[day - a], data.mc))
            rows.append(
                {
                    "window": wanted[day],
                    "file": fname,
                    "forecast_day": str(proto.day_to_date(day)),
                    "target_first_day": str(first),
                    "target_last_day": str(end),
                    "mc": data.mc,
                }
            )
    index = {"model": name, "format": "pycsep CSEP1 ASCII gridded forecast", "windows": rows}
    with atomic_open(out / INDEX_FILE, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(index, indent=1))
    return rows
