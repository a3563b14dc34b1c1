"""The on-disk format of the map forecast cache: one float16 ``.npy`` and its sidecar.

A period's forecasts are a float16 ``(n_days, ny, nx)`` ``.npy``; a sidecar ``.json``
records what the file is (key, days, shape, dtype, file size, SHA-256 of the ``.npy``
header and of a sample of the data); loading never unpickles.

Writing (`CacheWriter`) streams one block of days at a time with ordinary writes into a
temporary file in the cache folder, fsyncs it and renames it into place (never through a
memory map: a full disk must not kill the server with SIGBUS); a write that fails keeps
its error and removes its temporary files. Reading (`check_files`) checks the file
against its sidecar first; `CachedForecast` then reads one day with plain reads.
What to compute and when: `quake.service.forecast_cache`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from quake.errors import ModelError

F16_MAX = float(np.finfo(np.float16).max)
DTYPE = np.dtype("<f2")
FORMAT = 2
"""Version of the sidecar; files of another version are computed again."""
SAMPLE_BYTES = 1 << 16
"""The first and the last this many data bytes are hashed into the sidecar."""


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


# -- a period's forecasts, checked ----------------------------------------------------------
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


def to_f16(block: np.ndarray) -> np.ndarray:
    return np.clip(block, 0.0, F16_MAX).astype(DTYPE)


def cache_paths(root: Path, model_folder: Path, key: str) -> tuple[Path, Path]:
    stem = f"{Path(model_folder).name}-{key}"
    return root / f"{stem}.npy", root / f"{stem}.json"


def check_files(
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


# -- writing --------------------------------------------------------------------------------
class CacheWriter:
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
                remove_quietly(self.npy)
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
        remove_quietly(self.tmp_npy, self.tmp_meta)


def _write_synced(path: Path, raw: bytes) -> None:
    with open(path, "wb") as f:
        f.write(raw)
        f.flush()
        os.fsync(f.fileno())


def remove_quietly(*paths: Path) -> None:
    for p in paths:
        with contextlib.suppress(OSError):
            p.unlink(missing_ok=True)


# -- the cache folder -----------------------------------------------------------------------
def sidecars(root: Path) -> Iterator[tuple[Path, dict]]:
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


def drop_superseded(root: Path, info: dict) -> None:
    """Remove forecasts of an earlier version of the same model folder (it was retrained):
    nothing can ask for them again, and each period takes ~300 MB."""
    for meta, other in sidecars(root):
        if other.get("model_folder") == info["model_folder"] and other.get(
            "model_json_sha"
        ) not in (None, info["model_json_sha"]):
            remove_quietly(meta.with_suffix(".npy"), meta)


STALE_TMP_SECONDS = 3600.0


def _drop_stale_tmp(root: Path, stem: str) -> None:
    """Remove half-written files of a killed run (untouched for an hour)."""
    now = time.time()
    with contextlib.suppress(OSError):
        for f in root.glob(f".{stem}.*.tmp.*"):
            with contextlib.suppress(OSError):
                if now - f.stat().st_mtime > STALE_TMP_SECONDS:
                    f.unlink()
