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
``windows.json`` listing them. The magnitude bounds are written exactly (shortest text that
reads back as the same float: Mc 4.75 is ``4.75``, never a rounded ``4.8``).
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, suppress
from pathlib import Path
from typing import IO

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
BINNING_NOTE = (
    "Each row holds one quake cell's exact latitude bounds and its longitude bounds at the "
    "cell's central latitude. quake's cells are 10 km wide, so their width in longitude "
    "changes from row to row; pycsep's load_ascii rebuilds a regular lon/lat grid of one "
    "cell size from these rows and then bins catalog events into other cells than quake "
    "scored (in an audit, 31 % of a southern-California catalog's events fell outside "
    "pycsep's region or into another cell; more across the date line, where these bounds "
    "run past 180). Use `python -m quake compare` for the "
    "CSEP tests on quake's own cells, or bin events with these bounds."
)
MAX_INDEX_BYTES = 1 << 20  # ~80 test windows: ~20 kB

Opener = Callable[[Path], AbstractContextManager[IO[str]]]


def export_file(name: str, first: object) -> str:
    """The file name of model ``name``'s window whose first target day is ``first``."""
    return f"{name}_{first}.dat"


def is_export_file(name: str, fname: object) -> bool:
    """Whether ``fname`` is a name `export_file` gives for model ``name`` (a plain name in
    the folder: no separator, no other model's file, no other kind of file)."""
    return isinstance(fname, str) and (
        re.fullmatch(re.escape(name) + r"_\d{4}-\d{2}-\d{2}\.dat", fname) is not None
    )


def read_index(out: Path) -> dict | None:
    """The ``windows.json`` an export wrote in ``out``: a dict with a ``model`` name and a
    ``windows`` list; None when the file is missing, too large, or not such an index."""
    path = out / INDEX_FILE
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
        with path.open("rb") as fh:
            raw = fh.read(MAX_INDEX_BYTES + 1)
        doc = json.loads(raw) if len(raw) <= MAX_INDEX_BYTES else None
    except (OSError, ValueError, RecursionError):
        return None
    ok = isinstance(doc, dict) and isinstance(doc.get("model"), str)
    return doc if ok and isinstance(doc.get("windows"), list) else None


def _atomic_text(path: Path) -> AbstractContextManager[IO[str]]:
    return atomic_open(path, "w", encoding="utf-8")


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
    # repr: the shortest text that reads back as the same float (Mc 4.75 stays 4.75)
    middle = f"{DEPTH_KM[0]:.1f} {DEPTH_KM[1]:.1f} {float(mc)!r} {float(MAX_MAGNITUDE)!r}"
    lines = [
        f"{b[0]:.6f} {b[1]:.6f} {b[2]:.6f} {b[3]:.6f} {middle} {r:.10e} 1"
        for b, r in zip(np.asarray(bounds, dtype=float), rate, strict=True)
    ]
    return "\n".join(lines) + "\n"


def export_windows(
    model: Forecaster,
    data: ForecastData,
    out: Path,
    name: str,
    windows: Sequence[int] | None = None,
    period: str = "test",
    on_progress: OnProgress | None = None,
    replacing: Sequence[str] = (),
    opener: Opener = _atomic_text,
) -> list[dict]:
    """Forecast ``period`` with ``model`` and write the chosen windows (indices into
    `window_days`; all by default) into the folder ``out``; returns the index rows.

    ``replacing``: the files of an earlier export of ``name`` in ``out`` (as its index
    listed them), removed once the new index is written, so the folder holds exactly what
    its index lists; only regular files named as `export_file` names them are removed. A
    failed export removes the files it wrote that the earlier index does not list.
    ``opener(path)`` opens each file for an atomic text write (the CLI passes one whose
    errors name the file and ``--out``, never the temporary file)."""
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
    rows: list[dict] = []
    written: list[str] = []
    try:
        for a, block in forecast_blocks(model, data, start, last, 64, on_progress, "export"):
            for day in range(a, a + len(block)):
                if day not in wanted:
                    continue
                first = proto.day_to_date(day + proto.lead_days)
                end = proto.day_to_date(day + proto.horizon_days - 1)
                fname = export_file(name, first)
                with opener(out / fname) as fh:
                    fh.write(ascii_rows(bounds, block[day - a], data.mc))
                written.append(fname)
                rows.append(
                    {
                        "window": wanted[day],
                        "file": fname,
                        "forecast_day": str(proto.day_to_date(day)),
                        "target_first_day": str(first),
                        "target_last_day": str(end),
                        "mc": float(data.mc),
                    }
                )
        index = {
            "model": name,
            "format": "pycsep CSEP1 ASCII gridded forecast",
            "binning": BINNING_NOTE,
            "windows": rows,
        }
        with opener(out / INDEX_FILE) as fh:
            fh.write(json.dumps(index, indent=1))
    except BaseException:
        with suppress(OSError):  # the first error is the one to report
            _remove(out, name, set(written) - set(replacing))  # only what this run made
        raise
    _remove(out, name, set(replacing) - set(written))
    return rows


def _remove(out: Path, name: str, files: set[str]) -> None:
    """Unlink ``files`` from ``out``: only regular files with an export's own name."""
    for fname in sorted(files):
        if not is_export_file(name, fname):
            continue
        path = out / fname
        try:
            if stat.S_ISREG(os.lstat(path).st_mode):
                path.unlink()
        except FileNotFoundError:
            pass
