"""Forecasts for the map: made on demand once per (model, data, period), then read from disk.

A model's probabilities over a whole period (the test period is ~3,200 days of 50,000
cells) are written once as a float16 ``(n_days, ny, nx)`` ``.npy`` under ``data/cache/``
(git-ignored, never part of the repository) and memory-mapped afterwards, so moving the
map to another day reads 100 kB instead of running the model. float16 keeps about three
significant digits down to 6e-5 and coarser below (to 6e-8): plenty for a colour scale.

The key is the model folder (its path and the bytes of its ``model.json``, so a
retrained model in the same folder gets new forecasts), the data fingerprint and the
period. A sidecar ``.json`` records what a file is; loading never unpickles.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from quake.data import ForecastData
from quake.errors import ModelError
from quake.models.base import MODEL_FILE, Forecaster, forecast_blocks

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CACHE_ENV = "QUAKE_CACHE_DIR"
F16_MAX = float(np.finfo(np.float16).max)

Progress = Callable[[int, int], None]
"""``on_progress(days_done, days_total)``."""


def cache_dir() -> Path:
    """``$QUAKE_CACHE_DIR`` or ``data/cache/`` in the project (git-ignored)."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else PROJECT_ROOT / "data" / "cache"


def cache_key(model_folder: str | Path, fingerprint: str, period: str) -> str:
    """A short hash of (model folder path, its model.json bytes, data fingerprint, period)."""
    folder = Path(model_folder).resolve()
    h = hashlib.sha256()
    h.update(str(folder).encode())
    try:
        h.update((folder / MODEL_FILE).read_bytes())
    except OSError:
        raise ModelError(f"{folder}: no {MODEL_FILE}; not a saved model folder") from None
    h.update(f"|{fingerprint}|{period}".encode())
    return h.hexdigest()[:20]


@dataclass(frozen=True)
class CachedForecast:
    """A period's forecasts on disk: ``days [start, stop)`` of a model's probabilities."""

    path: Path
    start: int
    stop: int
    shape: tuple[int, int]

    def day(self, t: int) -> np.ndarray:
        """Probabilities of forecast day ``t``: float32 ``(ny, nx)``."""
        if not self.start <= t < self.stop:
            raise ValueError(f"day {t} is outside the cached days [{self.start}, {self.stop})")
        mm = np.load(self.path, mmap_mode="r", allow_pickle=False)
        return np.asarray(mm[t - self.start], dtype=np.float32)


def _paths(root: Path, model_folder: Path, key: str) -> tuple[Path, Path]:
    stem = f"{Path(model_folder).name}-{key}"
    return root / f"{stem}.npy", root / f"{stem}.json"


def lookup(
    model_folder: str | Path, data: ForecastData, period: str = "test", root: Path | None = None
) -> CachedForecast | None:
    """The cached forecasts if they exist and match the period's days, else None."""
    root = root or cache_dir()
    key = cache_key(model_folder, data.fingerprint, period)
    npy, meta = _paths(root, Path(model_folder), key)
    start, stop = data.days(period)
    if not (npy.is_file() and meta.is_file()):
        return None
    try:
        info = json.loads(meta.read_text())
        mm = np.load(npy, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError):
        return None
    if (info.get("start"), info.get("stop")) != (start, stop) or mm.shape != (
        stop - start,
        *data.grid.shape,
    ):
        return None
    return CachedForecast(npy, start, stop, data.grid.shape)


def cached_forecast(
    model: Forecaster,
    model_folder: str | Path,
    data: ForecastData,
    period: str = "test",
    root: Path | None = None,
    on_progress: Progress | None = None,
    chunk: int = 64,
) -> CachedForecast:
    """The model's forecasts over ``period``, computed (with progress) the first time only.

    The file is written under a temporary name and renamed when complete, so an
    interrupted run leaves nothing half-written behind.
    """
    root = root or cache_dir()
    hit = lookup(model_folder, data, period, root)
    if hit is not None:
        if on_progress:
            on_progress(hit.stop - hit.start, hit.stop - hit.start)
        return hit
    key = cache_key(model_folder, data.fingerprint, period)
    npy, meta = _paths(root, Path(model_folder), key)
    start, stop = data.days(period)
    n = stop - start
    root.mkdir(parents=True, exist_ok=True)
    _drop_stale_tmp(root, npy.stem)
    tmp = root / f".{npy.stem}.{uuid.uuid4().hex[:8]}.tmp.npy"
    try:
        out = np.lib.format.open_memmap(
            tmp, mode="w+", dtype=np.float16, shape=(n, *data.grid.shape)
        )
        done = 0
        for first, block in forecast_blocks(model, data, start, stop, chunk, on_progress):
            k = len(block)
            out[first - start : first - start + k] = np.clip(block, 0.0, F16_MAX)
            done += k
        if done != n:
            raise ModelError(f"the model forecast {done} of {n} days of the {period} period")
        out.flush()
        del out
        os.replace(tmp, npy)
    finally:
        if tmp.exists():
            tmp.unlink()
    info = {
        "model_folder": str(Path(model_folder).resolve()),
        "model_json_sha": _model_sha(model_folder),
        "fingerprint": data.fingerprint,
        "period": period,
        "start": start,
        "stop": stop,
        "shape": [n, *data.grid.shape],
        "dtype": "float16",
    }
    meta.write_text(json.dumps(info, indent=1))
    _drop_superseded(root, info)
    return CachedForecast(npy, start, stop, data.grid.shape)


def _model_sha(model_folder: str | Path) -> str:
    return hashlib.sha256((Path(model_folder) / MODEL_FILE).read_bytes()).hexdigest()[:16]


def _drop_superseded(root: Path, info: dict) -> None:
    """Remove forecasts of an earlier version of the same model folder (it was retrained):
    nothing can ask for them again, and each period takes ~300 MB."""
    for meta in root.glob("*.json"):
        try:
            other = json.loads(meta.read_text())
        except (OSError, ValueError):
            continue
        if (
            other.get("model_folder") == info["model_folder"]
            and other.get("model_json_sha") not in (None, info["model_json_sha"])
        ):
            for f in (meta.with_suffix(".npy"), meta):
                with contextlib.suppress(OSError):
                    f.unlink()


STALE_TMP_SECONDS = 3600.0


def _drop_stale_tmp(root: Path, stem: str) -> None:
    """Remove half-written files of a killed run (untouched for an hour)."""
    now = time.time()
    for f in root.glob(f".{stem}.*.tmp.npy"):
        with contextlib.suppress(OSError):
            if now - f.stat().st_mtime > STALE_TMP_SECONDS:
                f.unlink()


def drop_cached(model_folder: str | Path, root: Path | None = None) -> int:
    """Delete every cached forecast of a model folder; returns the number of files removed."""
    root = root or cache_dir()
    if not root.is_dir():
        return 0
    target = str(Path(model_folder).resolve())
    removed = 0
    for meta in root.glob("*.json"):
        try:
            info = json.loads(meta.read_text())
        except (OSError, ValueError):
            continue
        if info.get("model_folder") == target:
            for f in (meta.with_suffix(".npy"), meta):
                if f.exists():
                    f.unlink()
                    removed += 1
    return removed


# -- what happened after a forecast day ---------------------------------------------------
def target_events(events: pd.DataFrame, data: ForecastData, t: int) -> pd.DataFrame:
    """Events with M >= Mc in the target window ``[T + lead, T + horizon)`` of forecast day t.

    Returns columns ``time, latitude, longitude, magnitude, cell`` (cell -1 outside the grid),
    sorted by time.
    """
    p = data.protocol
    epoch = pd.Timestamp(p.epoch, tz="UTC")
    lo = epoch + pd.Timedelta(days=t + p.lead_days)
    hi = epoch + pd.Timedelta(days=t + p.horizon_days)
    times = events["time"]
    a, b = times.searchsorted(lo, side="left"), times.searchsorted(hi, side="left")
    win = events.iloc[a:b]
    win = win[win["magnitude"].to_numpy() >= np.float32(data.mc)]
    cell = data.grid.cell_index(win["latitude"].to_numpy(), win["longitude"].to_numpy())
    out = win[["time", "latitude", "longitude", "magnitude"]].copy()
    out["cell"] = cell
    return out.reset_index(drop=True)


def mark_hits(window: pd.DataFrame, probs: np.ndarray, threshold: float) -> pd.DataFrame:
    """Add ``p`` (forecast probability at the event's cell) and ``hit`` (p >= threshold)."""
    out = window.copy()
    flat = np.asarray(probs).ravel()
    cell = out["cell"].to_numpy()
    inside = cell >= 0
    p = np.full(len(out), np.nan)
    p[inside] = flat[cell[inside]]
    out["p"] = p
    out["hit"] = inside & (np.nan_to_num(p, nan=-1.0) >= threshold)
    return out
