"""Forecasts for the map: made on demand once per (model, data, period), then read from disk.

A model's probabilities over a whole period (the test period is ~3,200 days of 50,000
cells) are written once as a float16 ``(n_days, ny, nx)`` ``.npy`` under
`quake.settings.cache_dir` (git-ignored, never part of the repository), so moving the
map to another day reads 100 kB instead of running the model. float16 keeps about three
significant digits down to 6e-5 and coarser below (to 6e-8): plenty for a colour scale.

The key is the model folder (its path and the bytes of its ``model.json``, so a
retrained model in the same folder gets new forecasts), the data fingerprint and the
period. A sidecar ``.json`` records what a file is (key, days, shape, dtype, file size,
SHA-256 of the ``.npy`` header and of a sample of the data); loading never unpickles.

Writing streams one block of days at a time with ordinary writes into a temporary file
in the cache folder, fsyncs it and renames it into place (never through a memory map: a
full disk must not kill the server with SIGBUS). A write that fails (disk full,
read-only or forbidden folder) is logged and gives an *uncached* `CachedForecast` with a
``warning``: small periods are kept in memory, larger ones are computed a few days at a
time when a day is asked for. Reading checks the file against its sidecar first; an
empty, truncated or mismatched file is removed and computed again.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from quake import settings
from quake.data.forecast_data import ForecastData
from quake.errors import ModelError
from quake.models.base import MODEL_FILE, Forecaster, forecast_blocks

log = logging.getLogger(__name__)

PROJECT_ROOT = settings.PROJECT_ROOT
CACHE_ENV = settings.CACHE_ENV
F16_MAX = float(np.finfo(np.float16).max)
DTYPE = np.dtype("<f2")
FORMAT = 2
"""Version of the sidecar; files of another version are computed again."""
SAMPLE_BYTES = 1 << 16
"""The first and the last this many data bytes are hashed into the sidecar."""
MEMORY_FALLBACK_BYTES = 64 * 2**20
"""An uncached period up to this size (float16) is kept in memory; a larger one is
computed `ON_DEMAND_DAYS` days at a time when a day is asked for."""
ON_DEMAND_DAYS = 16
ON_DEMAND_BLOCKS = 8

Progress = Callable[[int, int], None]
"""``on_progress(days_done, days_total)``."""


def cache_dir() -> Path:
    """Where map forecasts are cached: `quake.settings.cache_dir` (kept as an alias)."""
    return settings.cache_dir()


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


# -- the file format ------------------------------------------------------------------------
def _header_bytes(shape: tuple[int, ...]) -> bytes:
    buf = io.BytesIO()
    d = {"descr": np.lib.format.dtype_to_descr(DTYPE), "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buf, d)
    return buf.getvalue()


def _read_header(f: BinaryIO) -> tuple[tuple[int, ...], int]:
    """``(shape, data offset)`` of a C-ordered little-endian float16 ``.npy``; ValueError else."""
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"unknown .npy version {version}")
    except (SyntaxError, TypeError, KeyError, OverflowError) as err:
        raise ValueError(f"bad .npy header ({err})") from None
    if fortran or np.dtype(dtype) != DTYPE:
        raise ValueError(
            f"holds {np.dtype(dtype)}{' (Fortran order)' if fortran else ''}, not float16"
        )
    return tuple(int(s) for s in shape), f.tell()


def _sample_sha(f: BinaryIO, offset: int, size: int) -> str:
    """SHA-256 of the first and last `SAMPLE_BYTES` of the data (cheap on every lookup)."""
    h = hashlib.sha256()
    f.seek(offset)
    h.update(f.read(SAMPLE_BYTES))
    f.seek(max(offset, size - SAMPLE_BYTES))
    h.update(f.read(SAMPLE_BYTES))
    return h.hexdigest()


def _read_day(path: Path, i: int, shape: tuple[int, ...]) -> np.ndarray:
    """Day ``i`` of the file: plain reads (no memory map), checked against ``shape``."""
    day_bytes = int(np.prod(shape[1:])) * DTYPE.itemsize
    try:
        with open(path, "rb") as f:
            got, offset = _read_header(f)
            if got != shape:
                raise ValueError(f"shape {got}, expected {shape}")
            f.seek(offset + i * day_bytes)
            raw = f.read(day_bytes)
    except (OSError, ValueError) as err:
        raise ModelError(
            f"the cached forecast {path.name} cannot be read ({err}); "
            "reload the page to compute it again"
        ) from None
    if len(raw) != day_bytes:
        raise ModelError(
            f"the cached forecast {path.name} is truncated; reload the page to compute it again"
        )
    return np.frombuffer(raw, dtype=DTYPE).reshape(shape[1:]).astype(np.float32)


# -- a period's forecasts -------------------------------------------------------------------
class _OnDemand:
    """Days of an uncached period computed when asked for: `ON_DEMAND_DAYS` at a time
    (a recurrent model warms up for each block), the last `ON_DEMAND_BLOCKS` kept."""

    def __init__(self, model: Forecaster, data: ForecastData, start: int, stop: int) -> None:
        self.model, self.data, self.start, self.stop = model, data, start, stop
        self._blocks: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, t: int) -> np.ndarray:
        a = self.start + (t - self.start) // ON_DEMAND_DAYS * ON_DEMAND_DAYS
        with self._lock:  # sessions share the object; the model runs one block at a time
            block = self._blocks.get(a)
            if block is None:
                b = min(a + ON_DEMAND_DAYS, self.stop)
                parts = self.model.predict_days(self.data, a, b, ON_DEMAND_DAYS)
                block = np.concatenate([_to_f16(p) for _, p in parts])
                if len(block) != b - a:
                    raise ModelError(f"the model forecast {len(block)} of the {b - a} days asked")
                self._blocks[a] = block
                while len(self._blocks) > ON_DEMAND_BLOCKS:
                    self._blocks.popitem(last=False)
            self._blocks.move_to_end(a)
            return block[t - a].astype(np.float32)


@dataclass(frozen=True)
class CachedForecast:
    """A period's forecasts: ``days [start, stop)`` of a model's probabilities.

    Normally a validated file on disk (``path``). When the cache could not be written,
    ``path`` is None, ``warning`` says why, and the days come from memory or are computed
    when asked for (``cached`` is False).
    """

    path: Path | None
    start: int
    stop: int
    shape: tuple[int, int]
    warning: str | None = None
    _memory: np.ndarray | None = field(default=None, repr=False, compare=False)
    _compute: Callable[[int], np.ndarray] | None = field(default=None, repr=False, compare=False)

    @property
    def cached(self) -> bool:
        return self.path is not None

    def day(self, t: int) -> np.ndarray:
        """Probabilities of forecast day ``t``: float32 ``(ny, nx)``."""
        if not self.start <= t < self.stop:
            raise ValueError(f"day {t} is outside the cached days [{self.start}, {self.stop})")
        if self.path is not None:
            return _read_day(self.path, t - self.start, (self.stop - self.start, *self.shape))
        if self._memory is not None:
            return self._memory[t - self.start].astype(np.float32)
        if self._compute is not None:
            return self._compute(t)
        raise ModelError("this forecast has neither a file nor a model to compute it")


def _to_f16(block: np.ndarray) -> np.ndarray:
    return np.clip(block, 0.0, F16_MAX).astype(DTYPE)


def _paths(root: Path, model_folder: Path, key: str) -> tuple[Path, Path]:
    stem = f"{Path(model_folder).name}-{key}"
    return root / f"{stem}.npy", root / f"{stem}.json"


def _check(
    npy: Path, meta: Path, key: str, start: int, stop: int, grid_shape: tuple[int, int]
) -> tuple[CachedForecast | None, str | None]:
    """``(hit, None)`` for a valid cache file, ``(None, None)`` when there is none (or only
    half of one: a writer may be between its two renames), ``(None, why)`` when it is bad."""
    if not (npy.is_file() and meta.is_file()):
        return None, None
    shape = (stop - start, *grid_shape)
    try:
        info = json.loads(meta.read_text())
    except (OSError, ValueError) as err:  # UnicodeDecodeError is a ValueError
        return None, f"its sidecar {meta.name} is unreadable ({type(err).__name__})"
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        return None, f"its sidecar {meta.name} is of an unknown format"
    want = {"key": key, "start": start, "stop": stop, "shape": list(shape), "dtype": "float16"}
    wrong = [k for k, v in want.items() if info.get(k) != v]
    if wrong:
        return None, f"its sidecar does not match ({', '.join(wrong)})"
    try:
        size = npy.stat().st_size
        if size != info.get("file_size"):
            return None, f"it is {size} bytes, the sidecar says {info.get('file_size')}"
        with open(npy, "rb") as f:
            got, offset = _read_header(f)
            if got != shape:
                return None, f"it holds shape {got}, expected {shape}"
            if offset + int(np.prod(shape)) * DTYPE.itemsize != size:
                return None, f"its size {size} does not match its header"
            f.seek(0)
            if hashlib.sha256(f.read(offset)).hexdigest() != info.get("header_sha"):
                return None, "its header differs from the one recorded"
            if _sample_sha(f, offset, size) != info.get("sample_sha"):
                return None, "its data differ from the data recorded"
    except ValueError as err:
        return None, f"it is not a float16 .npy ({err})"
    except OSError as err:
        return None, f"it cannot be read ({err.strerror or err})"
    return CachedForecast(npy, start, stop, grid_shape), None


def lookup(
    model_folder: str | Path, data: ForecastData, period: str = "test", root: Path | None = None
) -> CachedForecast | None:
    """The cached forecasts if a valid file exists for the period's days, else None."""
    root = Path(root) if root else cache_dir()
    key = cache_key(model_folder, data.fingerprint, period)
    npy, meta = _paths(root, Path(model_folder), key)
    start, stop = data.days(period)
    return _check(npy, meta, key, start, stop, data.grid.shape)[0]


# -- writing --------------------------------------------------------------------------------
class _Writer:
    """Streams a float16 ``.npy`` into a temporary file beside ``npy``; `commit` fsyncs it,
    writes the sidecar the same way and renames both into place.

    An `OSError` (disk full, read-only or forbidden folder) is kept in ``error``, removes
    the temporary files at once (a full disk gets its space back) and turns every later
    call into a no-op. `cleanup` removes whatever temporary file is left.
    """

    def __init__(self, root: Path, npy: Path, meta: Path) -> None:
        tag = uuid.uuid4().hex[:8]
        self.root, self.npy, self.meta = root, npy, meta
        self.tmp_npy = root / f".{npy.stem}.{tag}.tmp.npy"
        self.tmp_meta = root / f".{npy.stem}.{tag}.tmp.json"
        self.error: OSError | None = None
        self._f: BinaryIO | None = None
        self._header = b""

    @property
    def ok(self) -> bool:
        return self.error is None

    def open(self, shape: tuple[int, ...]) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            _drop_stale_tmp(self.root, self.npy.stem)
            self._f = open(self.tmp_npy, "wb")  # noqa: SIM115 (closed in commit or cleanup)
            self._header = _header_bytes(shape)
            self._f.write(self._header)
        except OSError as err:
            self._fail(err)

    def write(self, block: np.ndarray) -> bool:
        """Append a float16 block; False once writing has failed."""
        if self._f is None:
            return False
        try:
            self._f.write(np.ascontiguousarray(block, dtype=DTYPE).tobytes())
        except OSError as err:
            self._fail(err)
            return False
        return True

    def commit(self, info: dict) -> None:
        if self._f is None:
            return
        moved = False
        try:
            f, self._f = self._f, None
            f.flush()
            os.fsync(f.fileno())
            size = f.tell()
            f.close()
            with open(self.tmp_npy, "rb") as r:
                sample = _sample_sha(r, len(self._header), size)
            info = {
                **info,
                "file_size": size,
                "header_sha": hashlib.sha256(self._header).hexdigest(),
                "sample_sha": sample,
            }
            _write_synced(self.tmp_meta, json.dumps(info, indent=1).encode())
            os.replace(self.tmp_npy, self.npy)
            moved = True
            os.replace(self.tmp_meta, self.meta)
        except OSError as err:
            self._fail(err)
            if moved:  # a .npy without its sidecar is never read: give its space back
                _unlink(self.npy)
            return
        with contextlib.suppress(OSError):  # make the renames durable (best effort)
            fd = os.open(self.root, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def _fail(self, err: OSError) -> None:
        self.error = err
        self.cleanup()

    def cleanup(self) -> None:
        if self._f is not None:
            f, self._f = self._f, None
            with contextlib.suppress(OSError):
                f.close()
        _unlink(self.tmp_npy, self.tmp_meta)


def _write_synced(path: Path, raw: bytes) -> None:
    with open(path, "wb") as f:
        f.write(raw)
        f.flush()
        os.fsync(f.fileno())


def _unlink(*paths: Path) -> None:
    for p in paths:
        with contextlib.suppress(OSError):
            p.unlink(missing_ok=True)


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

    A valid cache file is used as it is; a damaged one is removed and computed again. The
    file is streamed block by block into a temporary file and renamed when complete, so an
    interrupted run leaves nothing half-written behind. When it cannot be written the
    result is uncached (``cached`` False, ``warning`` set; see the module docstring):
    never an exception for a full or read-only disk.
    """
    root = Path(root) if root else cache_dir()
    key = cache_key(model_folder, data.fingerprint, period)
    npy, meta = _paths(root, Path(model_folder), key)
    start, stop = data.days(period)
    n = stop - start
    shape = (n, *data.grid.shape)
    hit, problem = _check(npy, meta, key, start, stop, data.grid.shape)
    if hit is not None:
        if on_progress:
            on_progress(n, n)
        return hit
    if problem:
        log.warning("cached forecast %s: %s; computing it again", npy.name, problem)
        _unlink(npy, meta)
    info = {
        "format": FORMAT,
        "key": key,
        "model_folder": str(Path(model_folder).resolve()),
        "model_json_sha": _model_sha(model_folder),
        "fingerprint": data.fingerprint,
        "period": period,
        "start": start,
        "stop": stop,
        "shape": list(shape),
        "dtype": "float16",
    }
    small = int(np.prod(shape)) * DTYPE.itemsize <= MEMORY_FALLBACK_BYTES
    keep = np.empty(shape, DTYPE) if small else None  # kept in case the write fails
    writer = _Writer(root, npy, meta)
    writer.open(shape)
    if writer.ok or keep is not None:
        _stream(
            forecast_blocks(model, data, start, stop, chunk, on_progress),
            writer,
            keep,
            start,
            n,
            period,
        )
    writer.commit(info)
    if writer.error is None:
        _drop_superseded(root, info)
        return CachedForecast(npy, start, stop, data.grid.shape)
    reason = writer.error.strerror or str(writer.error)
    how = (
        "they are kept in memory until the server restarts"
        if keep is not None
        else "each day shown is computed when asked for (slower)"
    )
    log.warning("cannot cache the forecasts of %s in %s (%s): %s", model_folder, root, reason, how)
    warning = (
        f"The forecasts of {Path(model_folder).name} could not be saved in the cache folder "
        f"({reason}): {how}. Free disk space or point QUAKE_CACHE_DIR to a writable folder."
    )
    if keep is not None:
        return CachedForecast(None, start, stop, data.grid.shape, warning, _memory=keep)
    compute = _OnDemand(model, data, start, stop)
    return CachedForecast(None, start, stop, data.grid.shape, warning, _compute=compute)


def _stream(
    blocks: Iterator[tuple[int, np.ndarray]],
    writer: _Writer,
    keep: np.ndarray | None,
    start: int,
    n: int,
    period: str,
) -> None:
    """Run the model's blocks into the file (and ``keep``); stop early when the file
    failed and nothing is kept. Temporary files are removed on any exception."""
    done = 0
    try:
        for first, block in blocks:
            k = len(block)
            if first != start + done or done + k > n:
                raise ModelError(f"the model forecast days out of order (block at day {first})")
            b16 = _to_f16(block)
            if keep is not None:
                keep[done : done + k] = b16
            done += k
            if not writer.write(b16) and keep is None:
                return  # nothing more to write or keep: stop running the model
        if done != n:
            raise ModelError(f"the model forecast {done} of {n} days of the {period} period")
    except BaseException:
        writer.cleanup()
        raise
    finally:
        close = getattr(blocks, "close", None)
        if close is not None:
            close()


def _model_sha(model_folder: str | Path) -> str:
    return hashlib.sha256((Path(model_folder) / MODEL_FILE).read_bytes()).hexdigest()[:16]


def _sidecars(root: Path) -> Iterator[tuple[Path, dict]]:
    """``(path, info)`` of every readable sidecar in ``root``."""
    try:
        metas = sorted(root.glob("*.json"))
    except OSError:
        return
    for meta in metas:
        try:
            info = json.loads(meta.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(info, dict):
            yield meta, info


def _drop_superseded(root: Path, info: dict) -> None:
    """Remove forecasts of an earlier version of the same model folder (it was retrained):
    nothing can ask for them again, and each period takes ~300 MB."""
    for meta, other in _sidecars(root):
        if other.get("model_folder") == info["model_folder"] and other.get(
            "model_json_sha"
        ) not in (None, info["model_json_sha"]):
            _unlink(meta.with_suffix(".npy"), meta)


STALE_TMP_SECONDS = 3600.0


def _drop_stale_tmp(root: Path, stem: str) -> None:
    """Remove half-written files of a killed run (untouched for an hour)."""
    now = time.time()
    with contextlib.suppress(OSError):
        for f in root.glob(f".{stem}.*.tmp.*"):
            with contextlib.suppress(OSError):
                if now - f.stat().st_mtime > STALE_TMP_SECONDS:
                    f.unlink()


def drop_cached(model_folder: str | Path, root: Path | None = None) -> int:
    """Delete every cached forecast of a model folder; returns the number of files removed."""
    root = Path(root) if root else cache_dir()
    if not root.is_dir():
        return 0
    target = str(Path(model_folder).resolve())
    removed = 0
    for meta, info in _sidecars(root):
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
