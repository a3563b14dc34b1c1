"""The on-disk format of the map forecast cache: one compressed ``.qfc`` file and its sidecar.

Values. A probability ``p`` is stored as a uint16 code of ``log10 p`` on a fixed grid of
`CODES_PER_DECADE` bins per decade from ``10 ** LOG10_LO`` to 1 (code 0: ``p`` below
``10 ** LOG10_LO`` or not a number, read back as 0). A code reads back as the geometric
middle of its bin, so every stored probability is within ``10 ** (0.5 / 640) - 1 = 0.18 %``
of the model's (the float16 maps of format 2 were within 0.05 % down to 6e-5 and coarser
below; 1,280 bins per decade in formats 3-4 left a map whose every cell moves a little
each day, a network on ETAS, at 57 MB for the test period). Bin edges fall exactly on every
``10 ** (k / 10)``, the threshold slider's values: ``p >= threshold`` reads the same on the
stored maps as on the model's for each of them (but for ``p`` within 4e-6 relative below
one), so the counts of alarmed cells and of hits on the pages are exact there.

Layout (little-endian): a fixed header (`_HEAD`: magic, days, ny, nx, codes per decade,
``LOG10_LO``, keyframe interval), one zlib blob per day, then the index (``n + 1`` uint64 blob
offsets, ``n`` CRC-32 of the blobs). A day is its codes' difference from the day before
(mod 2 ** 16, zigzag-coded: small steps either way are small numbers; every `KEY_DAYS`-th
day is stored whole), low and high bytes in two planes:
maps change little from one day to the next, so most of the difference is zeros. A
test period (3,200 days x 50,000 cells) takes a few to a few tens of MB instead of 320 MB.

The sidecar ``.json`` records what the file is (key, days, shape, encoding, file size,
SHA-256 of the header and index and of a sample of the data). Writing (`CacheWriter`)
appends with ordinary writes into a temporary file in the cache folder, fsyncs it and
renames it into place (never a memory map: a full disk must not kill the server with
SIGBUS); a write that fails keeps its error and removes its temporary files. Reading
(`check_files`) checks the file against its sidecar first; `CachedForecast` then reads one
day with plain reads, each blob checked by its CRC. Nothing here unpickles.
What to compute and when: `quake.service.forecast_cache`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from quake.errors import ModelError
from quake.models.ensemble import model_files
from quake.models.store import MODEL_FILE

FORMAT = 5
"""Version of the sidecar; files of another version (2: float16 ``.npy``; 3: differences
without zigzag; 4: 1,280 codes per decade) are computed again."""
ENCODING = "log10-uint16-zigzag-delta-zlib"
SUFFIX = ".qfc"
MAGIC = b"QUAKEFC5"
CODES_PER_DECADE = 640
"""A multiple of 10, so that the slider's thresholds ``10 ** (k / 10)`` are bin edges."""
LOG10_LO = -12
KEY_DAYS = 32
"""Every this many days a map is stored whole (reading one day decodes at most this many)."""
SAMPLE_BYTES = 1 << 16
"""The first and the last this many data bytes are hashed into the sidecar."""
ZLIB_LEVEL = 6
_HEAD = struct.Struct("<8sIIIIiI")
_TOP = (-LOG10_LO) * CODES_PER_DECADE + 1  # the code of p = 1
_EDGE_SLACK = 1e-3
"""A value within ``1e-3`` of a bin (3.6e-6 relative) below an edge counts as on it: the
slider's thresholds are ``10 ** (k / 10)`` rounded to 12 decimals (up to 5e-7 relative)."""


# -- the values -----------------------------------------------------------------------------
def encode(p: np.ndarray) -> np.ndarray:
    """Probabilities (any shape) -> uint16 codes (see the module docstring)."""
    x = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.floor((np.log10(x) - LOG10_LO) * CODES_PER_DECADE + _EDGE_SLACK)
    k = np.nan_to_num(k, nan=-1.0, posinf=_TOP - 1, neginf=-1.0)
    return np.clip(k + 1.0, 0, _TOP).astype(np.uint16)


def decode(codes: np.ndarray) -> np.ndarray:
    """uint16 codes -> float32 probabilities (0 for code 0, bin middles, at most 1)."""
    c = np.asarray(codes, dtype=np.float64)
    p = np.minimum(np.power(10.0, LOG10_LO + (c - 0.5) / CODES_PER_DECADE), 1.0)
    return np.where(c > 0, p, 0.0).astype(np.float32)


def quantise(p: np.ndarray) -> np.ndarray:
    """What the cache gives back for ``p``: float32, same shape."""
    return decode(encode(p))


def _zigzag(d: np.ndarray) -> np.ndarray:
    """A day's difference (uint16, mod 2 ** 16) as 0, -1, 1, -2, ... -> 0, 1, 2, 3, ...: a
    small step down no longer fills the high byte with 0xFF (25 % smaller files)."""
    s = d.view(np.int16).astype(np.int32)
    return ((s << 1) ^ (s >> 31)).astype(np.uint16)


def _unzigzag(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.int32)
    return ((z >> 1) ^ -(z & 1)).astype(np.int16).view(np.uint16)


def _pack(codes: np.ndarray, prev: np.ndarray | None) -> bytes:
    d = codes if prev is None else _zigzag(codes - prev)  # uint16 arithmetic wraps
    planes = np.ascontiguousarray(d, dtype="<u2").view(np.uint8).reshape(-1, 2).T
    return zlib.compress(planes.tobytes(), ZLIB_LEVEL)


def _unpack(blob: bytes, n_cells: int) -> np.ndarray:
    raw = zlib.decompressobj().decompress(blob, 2 * n_cells + 1)  # bounded: no zip bomb
    if len(raw) != 2 * n_cells:
        raise ValueError(f"a day holds {len(raw)} bytes, expected {2 * n_cells}")
    planes = np.frombuffer(raw, np.uint8).reshape(2, n_cells)
    return np.ascontiguousarray(planes.T).view("<u2").ravel()


# -- the file format ------------------------------------------------------------------------
def _header_bytes(shape: tuple[int, int, int]) -> bytes:
    n, ny, nx = shape
    return _HEAD.pack(MAGIC, n, ny, nx, CODES_PER_DECADE, LOG10_LO, KEY_DAYS)


def _index_bytes(n: int) -> int:
    return 8 * (n + 1) + 4 * n


@dataclass(frozen=True)
class _Layout:
    shape: tuple[int, int, int]
    offsets: np.ndarray  # uint64 (n + 1,), from the end of the header
    crcs: np.ndarray  # uint32 (n,)
    index_raw: bytes


def _read_layout(f: BinaryIO, size: int) -> _Layout:
    """The header and index of an open file; ValueError when they do not make sense."""
    f.seek(0)
    head = f.read(_HEAD.size)
    if len(head) != _HEAD.size:
        raise ValueError("shorter than its header")
    magic, n, ny, nx, cpd, lo, key = _HEAD.unpack(head)
    if magic != MAGIC:
        raise ValueError("not a forecast cache file of this version")
    if (cpd, lo, key) != (CODES_PER_DECADE, LOG10_LO, KEY_DAYS):
        raise ValueError(f"encoded with {cpd} codes per decade from 1e{lo}, keys every {key}")
    n_index = _index_bytes(n)
    data_bytes = size - _HEAD.size - n_index
    if data_bytes < 0:
        raise ValueError("shorter than its index")
    f.seek(size - n_index)
    index_raw = f.read(n_index)
    offsets = np.frombuffer(index_raw[: 8 * (n + 1)], "<u8")
    crcs = np.frombuffer(index_raw[8 * (n + 1) :], "<u4")
    steps = np.diff(offsets.astype(np.int64))
    if offsets[0] != 0 or offsets[-1] != data_bytes or np.any(steps < 0):
        raise ValueError("its index does not match its size")
    return _Layout((int(n), int(ny), int(nx)), offsets, crcs, index_raw)


def _sample_sha(f: BinaryIO, size: int) -> str:
    """SHA-256 of the first and last `SAMPLE_BYTES` of the data (cheap on every lookup)."""
    h = hashlib.sha256()
    f.seek(_HEAD.size)
    h.update(f.read(min(SAMPLE_BYTES, max(0, size - _HEAD.size))))
    f.seek(max(_HEAD.size, size - SAMPLE_BYTES))
    h.update(f.read(SAMPLE_BYTES))
    return h.hexdigest()


def _read_day(path: Path, i: int, shape: tuple[int, int, int]) -> np.ndarray:
    """Day ``i`` of the file: plain reads (no memory map), every blob checked by its CRC."""
    n_cells = shape[1] * shape[2]
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < _HEAD.size + _index_bytes(shape[0]):
                raise EOFError
            lay = _read_layout(f, size)
            if lay.shape != shape:
                raise ValueError(f"shape {lay.shape}, expected {shape}")
            k = i - i % KEY_DAYS
            a, b = int(lay.offsets[k]), int(lay.offsets[i + 1])
            f.seek(_HEAD.size + a)
            raw = f.read(b - a)
        if len(raw) != b - a:
            raise EOFError
        codes: np.ndarray | None = None
        for j in range(k, i + 1):
            blob = raw[int(lay.offsets[j]) - a : int(lay.offsets[j + 1]) - a]
            if zlib.crc32(blob) != int(lay.crcs[j]):
                raise ValueError(f"day {j} of the file is damaged")
            d = _unpack(blob, n_cells)
            codes = d if codes is None else codes + _unzigzag(d)
    except EOFError:
        raise ModelError(
            f"the cached forecast {path.name} is truncated; reload the page to compute it again"
        ) from None
    except (OSError, ValueError, zlib.error) as err:
        raise ModelError(
            f"the cached forecast {path.name} cannot be read ({err}); "
            "reload the page to compute it again"
        ) from None
    assert codes is not None
    return decode(codes).reshape(shape[1:])


# -- a period's forecasts, checked ----------------------------------------------------------
@dataclass(frozen=True)
class CachedForecast:
    """A period's forecasts: ``days [start, stop)`` of a model's probabilities.

    Normally a validated file on disk (``path``). When the cache could not be written,
    ``path`` is None, ``warning`` says why, and the days come from memory (uint16 codes) or
    are computed when asked for (``cached`` is False). Values as `quantise` gives them.
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
            return decode(self._memory[t - self.start])
        if self._compute is not None:
            return self._compute(t)
        raise ModelError("this forecast has neither a file nor a model to compute it")


def cache_key(model_folder: str | Path, fingerprint: str, period: str) -> str:
    """A short hash of (model folder path, its model.json bytes — and, for an ensemble, its
    members' —, data fingerprint, period): a member refitted is another forecast."""
    folder = Path(model_folder).resolve()
    h = hashlib.sha256()
    h.update(str(folder).encode())
    try:
        h.update((folder / MODEL_FILE).read_bytes())
    except OSError:
        raise ModelError(f"{folder.name}: no {MODEL_FILE}; not a saved model folder") from None
    for f in model_files(folder)[1:]:
        with contextlib.suppress(OSError):
            h.update(f.parent.name.encode() + b"\0" + f.read_bytes())
    h.update(f"|{fingerprint}|{period}".encode())
    return h.hexdigest()[:20]


def cache_paths(root: Path, model_folder: Path, key: str) -> tuple[Path, Path]:
    stem = f"{Path(model_folder).name}-{key}"
    return root / f"{stem}{SUFFIX}", root / f"{stem}.json"


def check_files(
    path: Path, meta: Path, key: str, start: int, stop: int, grid_shape: tuple[int, int]
) -> tuple[CachedForecast | None, str | None]:
    """``(hit, None)`` for a valid cache file, ``(None, None)`` when there is none (or only
    half of one: a writer may be between its two renames), ``(None, why)`` when it is bad."""
    if not (path.is_file() and meta.is_file()):
        return None, None
    shape = (stop - start, *grid_shape)
    try:
        info = json.loads(meta.read_text())
    except (OSError, ValueError) as err:  # UnicodeDecodeError is a ValueError
        return None, f"its sidecar {meta.name} is unreadable ({type(err).__name__})"
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        return None, f"its sidecar {meta.name} is of an unknown format"
    want = {"key": key, "start": start, "stop": stop, "shape": list(shape), "encoding": ENCODING}
    wrong = [k for k, v in want.items() if info.get(k) != v]
    if wrong:
        return None, f"its sidecar does not match ({', '.join(wrong)})"
    try:
        size = path.stat().st_size
        if size != info.get("file_size"):
            return None, f"it is {size} bytes, the sidecar says {info.get('file_size')}"
        with open(path, "rb") as f:
            lay = _read_layout(f, size)
            if lay.shape != shape:
                return None, f"it holds shape {lay.shape}, expected {shape}"
            f.seek(0)
            head = hashlib.sha256(f.read(_HEAD.size) + lay.index_raw).hexdigest()
            if head != info.get("header_sha"):
                return None, "its header or index differs from the one recorded"
            if _sample_sha(f, size) != info.get("sample_sha"):
                return None, "its data differ from the data recorded"
    except ValueError as err:
        return None, f"it is not a forecast cache file ({err})"
    except OSError as err:
        return None, f"it cannot be read ({err.strerror or err})"
    return CachedForecast(path, start, stop, grid_shape), None


# -- writing --------------------------------------------------------------------------------
class CacheWriter:
    """Streams days into a temporary file beside ``path``; `commit` appends the index,
    fsyncs, writes the sidecar the same way and renames both into place.

    An `OSError` (disk full, read-only or forbidden folder) is kept in ``error``, removes
    the temporary files at once (a full disk gets its space back) and turns every later
    call into a no-op. `cleanup` removes whatever temporary file is left.
    """

    def __init__(self, root: Path, path: Path, meta: Path) -> None:
        tag = uuid.uuid4().hex[:8]
        self.root, self.path, self.meta = root, path, meta
        stem = path.name.removesuffix(SUFFIX)
        self.tmp_path = root / f".{stem}.{tag}.tmp{SUFFIX}"
        self.tmp_meta = root / f".{stem}.{tag}.tmp.json"
        self.error: OSError | None = None
        self._f: BinaryIO | None = None
        self._header = b""
        self._offsets: list[int] = [0]
        self._crcs: list[int] = []
        self._prev: np.ndarray | None = None
        self._n = 0

    @property
    def ok(self) -> bool:
        return self.error is None

    def open(self, shape: tuple[int, int, int]) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            _drop_stale_tmp(self.root, self.path.name.removesuffix(SUFFIX))
            self._f = open(self.tmp_path, "wb")  # noqa: SIM115 (closed in commit or cleanup)
            self._header = _header_bytes(shape)
            self._n = shape[0]
            self._f.write(self._header)
        except OSError as err:
            self._fail(err)

    def write_codes(self, codes: np.ndarray) -> bool:
        """Append days of uint16 codes ``(n, ny, nx)``; False once writing has failed."""
        if self._f is None:
            return False
        try:
            for day in codes:
                flat = np.ascontiguousarray(day, dtype=np.uint16).ravel()
                i = len(self._crcs)
                blob = _pack(flat, None if i % KEY_DAYS == 0 else self._prev)
                self._f.write(blob)
                self._offsets.append(self._offsets[-1] + len(blob))
                self._crcs.append(zlib.crc32(blob))
                self._prev = flat
        except OSError as err:
            self._fail(err)
            return False
        return True

    def write(self, block: np.ndarray) -> bool:
        """Append days of probabilities ``(n, ny, nx)``; False once writing has failed."""
        return self.write_codes(encode(block))

    def commit(self, info: dict) -> None:
        if self._f is None:
            return
        moved = False
        try:
            if len(self._crcs) != self._n:
                raise ModelError(f"{len(self._crcs)} of {self._n} days were written")
            index = (
                np.asarray(self._offsets, "<u8").tobytes() + np.asarray(self._crcs, "<u4").tobytes()
            )
            f, self._f = self._f, None
            f.write(index)
            f.flush()
            os.fsync(f.fileno())
            size = f.tell()
            f.close()
            with open(self.tmp_path, "rb") as r:
                sample = _sample_sha(r, size)
            info = {
                **info,
                "encoding": ENCODING,
                "codes_per_decade": CODES_PER_DECADE,
                "log10_lo": LOG10_LO,
                "file_size": size,
                "header_sha": hashlib.sha256(self._header + index).hexdigest(),
                "sample_sha": sample,
            }
            _write_synced(self.tmp_meta, json.dumps(info, indent=1).encode())
            os.replace(self.tmp_path, self.path)
            moved = True
            os.replace(self.tmp_meta, self.meta)
        except OSError as err:
            self._fail(err)
            if moved:  # a data file without its sidecar is never read: give its space back
                remove_quietly(self.path)
            return
        except BaseException:
            self.cleanup()
            raise
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
        remove_quietly(self.tmp_path, self.tmp_meta)


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


def data_files(meta: Path) -> tuple[Path, ...]:
    """The data files a sidecar may describe (this format's and the float16 ``.npy`` of
    format 2, removed with their sidecar)."""
    return meta.with_suffix(SUFFIX), meta.with_suffix(".npy")


def drop_superseded(root: Path, info: dict) -> None:
    """Remove forecasts of an earlier version of the same model folder (it was retrained)
    and files of an older format: nothing can ask for them again."""
    for meta, other in sidecars(root):
        same = other.get("model_folder") == info["model_folder"]
        old_model = other.get("model_json_sha") not in (None, info["model_json_sha"])
        if same and (old_model or other.get("format") != FORMAT):
            remove_quietly(*data_files(meta), meta)


def touch(meta: Path) -> None:
    """Mark a cache entry as just used (its sidecar's mtime): `trim_cache` removes the least
    recently used first."""
    with contextlib.suppress(OSError):
        os.utime(meta)


def trim_cache(root: Path, budget: int, keep: tuple[Path, ...] = ()) -> int:
    """Remove the least recently used entries of the cache folder ``root`` (a forecast file
    with its sidecar, or a file of cached states) until it holds at most ``budget`` bytes;
    ``keep``: files never removed (what was just written). Returns the bytes removed.
    Half-written temporary files are not counted (`_drop_stale_tmp` removes them)."""
    entries: list[tuple[float, int, tuple[Path, ...]]] = []
    for meta, _ in sidecars(root):
        files = tuple(f for f in (*data_files(meta), meta) if f.is_file())
        entries.append(_entry(files))
    with contextlib.suppress(OSError):
        for f in (root / "states").glob("*.safetensors"):
            entries.append(_entry((f,)))
    total = sum(size for _, size, _ in entries)
    removed = 0
    kept = {p.resolve() for p in keep}
    for _, size, files in sorted(entries, key=lambda e: e[0]):
        if total <= budget:
            break
        if any(f.resolve() in kept for f in files):
            continue
        remove_quietly(*files)
        total -= size
        removed += size
    return removed


def _entry(files: tuple[Path, ...]) -> tuple[float, int, tuple[Path, ...]]:
    """``(last used, bytes, files)`` of one cache entry."""
    used, size = 0.0, 0
    for f in files:
        with contextlib.suppress(OSError):
            st = f.stat()
            used, size = max(used, st.st_mtime), size + st.st_size
    return used, size, files


STALE_TMP_SECONDS = 3600.0


def _drop_stale_tmp(root: Path, stem: str) -> None:
    """Remove half-written files of a killed run (untouched for an hour)."""
    now = time.time()
    with contextlib.suppress(OSError):
        for f in root.glob(f".{stem}.*.tmp.*"):
            with contextlib.suppress(OSError):
                if now - f.stat().st_mtime > STALE_TMP_SECONDS:
                    f.unlink()
