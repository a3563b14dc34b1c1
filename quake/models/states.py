"""Snapshots of a recurrent net's state, so that a forecast need not start at day 0.

A recurrent forecaster (`quake.models.neural`, ``recurrent``) carries its ConvLSTM state
through every day from the protocol's day 0 (PROTOCOL.md): the forecast of one day late in
the test period runs through ~10,000 days first (about 18 minutes for the paper preset on
a 2-core CPU). The state after days ``[0, d)`` depends only on the weights and on the
events of those days, so it can be kept and reused:

- **with the model** (``states.safetensors`` in its folder): the state at the test
  period's start and at a few days after it, written when the test period is forecast
  (`quake.scoring.rescore`, ``scripts/snapshot_states.py``);
- **made on first use** (the map's cache folder, `quake.service.forecast_cache`): states
  recorded every `CACHE_EVERY` days while a forecast runs, so the next day asked for
  starts from the nearest one.

A snapshot is used only for the catalog it was made from: it records a digest of the
gridded events of days ``[0, d)`` (`events_digest`), compared before use. The state is
stored as float16 (the run from it moves probabilities by less than the bound that
``tests/test_states.py`` checks; docs/FORECAST_SPEED.md has the measured effect on the
scores), its bytes shuffled (all high bytes, then all low bytes: sign and exponent
compress well apart from the noisy low mantissa bits; 18 % smaller than format 1's plain
float16) and compressed with zlib inside a safetensors file (uint8 arrays; the shapes come
from the model, and decompression stops at the expected size: a hostile file cannot ask
for more memory than a state takes). Files of format 1 (unshuffled) are still read.
Nothing in the file is ever executed.
"""

from __future__ import annotations

import hashlib
import json
import threading
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.numpy import load_file, save

from quake.atomic import atomic_open
from quake.data.events import GriddedEvents
from quake.errors import ModelError

STATES_FILE = "states.safetensors"
FORMAT = "quake-states-2"
OLD_FORMATS = ("quake-states-1",)  # read, converted to FORMAT in memory
MAX_STATES_BYTES = 64 * 2**20
MAX_SNAPSHOTS = 64
STATE_DTYPE = np.float16
CACHE_EVERY = 256
"""Days between the snapshots recorded on first use (a forecast runs at most this many
days from one; docs/FORECAST_SPEED.md)."""


def events_digest(events: GriddedEvents, day: int) -> str:
    """sha256 (hex, 24 chars) of the gridded events of days ``[0, day)``: grid, epoch,
    day, cell and magnitude of every cell-day."""
    n = int(np.searchsorted(events.day, int(day), side="left"))
    h = hashlib.sha256()
    g = events.grid
    h.update(f"{g.ny}x{g.nx}|{g.cell_km}|{g.x0_km}|{g.y0_km}|{events.epoch}|{n}|".encode())
    for a in (events.day[:n], events.cell[:n], events.mag[:n]):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:24]


@dataclass(frozen=True)
class Snapshot:
    """The state after days ``[0, day)`` of the catalog whose events digest is ``digest``:
    ``h`` and ``c`` as `_pack` bytes (float16, byte-shuffled, zlib) of shape ``shape``."""

    day: int
    digest: str
    shape: tuple[int, int, int]
    h: bytes
    c: bytes

    @classmethod
    def of(cls, day: int, digest: str, state: tuple[torch.Tensor, torch.Tensor]) -> Snapshot:
        """From a net's state ``(h, c)``, each ``(1, hidden, h, w)``."""
        h, c = (t.detach()[0].float().cpu().numpy() for t in state)
        return cls(int(day), digest, tuple(h.shape), _pack(h), _pack(c))

    def state(self, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
        """``(h, c)`` float32 tensors ``(1, hidden, h, w)`` on ``device``."""
        return tuple(  # type: ignore[return-value]
            torch.from_numpy(_unpack(b, self.shape))[None].to(device) for b in (self.h, self.c)
        )

    @property
    def nbytes(self) -> int:
        return len(self.h) + len(self.c)


def _pack(a: np.ndarray) -> bytes:
    """float16, its bytes shuffled (every value's high byte, then every low byte), zlib."""
    b = np.ascontiguousarray(a, dtype=STATE_DTYPE).view(np.uint8).reshape(-1, 2)
    hi = 1 if np.little_endian else 0
    return zlib.compress(b[:, hi].tobytes() + b[:, 1 - hi].tobytes(), 6)


def _unpack(blob: bytes, shape: tuple[int, ...], shuffled: bool = True) -> np.ndarray:
    """float32 array of ``shape`` from `_pack` bytes (``shuffled=False``: format 1's plain
    float16); a `ModelError` when the bytes do not decompress to exactly that size (never
    more than that is decompressed)."""
    n = int(np.prod(shape))
    want = n * np.dtype(STATE_DTYPE).itemsize
    d = zlib.decompressobj()
    try:
        raw = d.decompress(blob, want + 1)
    except zlib.error as err:
        raise ModelError(f"state snapshot: not zlib data ({err})") from None
    if len(raw) != want or not d.eof or d.unconsumed_tail or d.unused_data:
        raise ModelError(f"state snapshot: does not hold a {shape} state")
    if shuffled:
        hi = 1 if np.little_endian else 0
        b = np.empty((n, 2), np.uint8)
        planes = np.frombuffer(raw, np.uint8).reshape(2, n)
        b[:, hi], b[:, 1 - hi] = planes[0], planes[1]
        raw = b.tobytes()
    a = np.frombuffer(raw, dtype=STATE_DTYPE).reshape(shape).astype(np.float32)
    if not np.isfinite(a).all():
        raise ModelError("state snapshot: NaN or infinite values")
    return a


class Snapshots:
    """A set of snapshots of one model (by day), the best one for a forecast, new ones.

    Safe to share between threads (the dashboard's sessions share a model object): every
    read works on a copy taken under a lock, every write takes the lock."""

    def __init__(self, items: Iterable[Snapshot] = ()) -> None:
        self._by_day: dict[int, Snapshot] = {}
        self._lock = threading.Lock()
        for s in items:
            self.add(s)

    def _items(self) -> list[Snapshot]:
        with self._lock:
            return sorted(self._by_day.values(), key=lambda s: s.day)

    def __len__(self) -> int:
        return len(self._by_day)

    def __iter__(self):
        return iter(self._items())

    @property
    def days(self) -> list[int]:
        return [s.day for s in self._items()]

    def add(self, snap: Snapshot) -> None:
        with self._lock:
            self._by_day[snap.day] = snap

    def best(self, events: GriddedEvents, start: int) -> Snapshot | None:
        """The latest snapshot at or before ``start`` made from these events (None if none)."""
        for snap in reversed(self._items()):
            if snap.day <= start and snap.digest == events_digest(events, snap.day):
                return snap
        return None


def weights_digest(arrays: dict[str, np.ndarray]) -> str:
    """sha256 (hex, 24 chars) of a net's weights (names, shapes, float32 bytes): a state
    belongs to the weights that made it."""
    h = hashlib.sha256()
    for k in sorted(arrays):
        a = np.ascontiguousarray(arrays[k], dtype=np.float32)
        h.update(f"{k}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:24]


def save_snapshots(path: str | Path, snaps: Snapshots, weights: str = "") -> Path:
    """Write ``snaps`` to a safetensors file (atomically: a temporary file renamed);
    ``weights``: the `weights_digest` of the net that made them."""
    path = Path(path)
    items = list(snaps)
    if len(items) > MAX_SNAPSHOTS:
        raise ModelError(f"{path.name}: at most {MAX_SNAPSHOTS} snapshots")
    arrays: dict[str, np.ndarray] = {}
    for k, s in enumerate(items):
        arrays[f"h.{k}"] = np.frombuffer(s.h, dtype=np.uint8)
        arrays[f"c.{k}"] = np.frombuffer(s.c, dtype=np.uint8)
    meta = {
        "format": FORMAT,
        "dtype": np.dtype(STATE_DTYPE).name,
        "snapshots": json.dumps([{"day": s.day, "digest": s.digest} for s in items]),
        "shape": json.dumps(list(items[0].shape) if items else []),
        "weights": weights,
    }
    with atomic_open(path, "wb") as fh:
        fh.write(save(arrays, metadata=meta))
    return path


def load_snapshots(
    path: str | Path, shape: tuple[int, int, int], weights: str | None = None
) -> Snapshots:
    """Snapshots of a state of ``shape`` ``(hidden, h, w)`` from `save_snapshots`'s file.

    Every field is checked: the file's size, format, dtype, shape, the weights digest
    (when ``weights`` is given), the list of days and digests, exactly the arrays it
    names; each state decompresses to exactly its size and is finite. A `ModelError`
    saying what is wrong otherwise.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: missing")
    if path.stat().st_size > MAX_STATES_BYTES:
        raise ModelError(f"{path}: larger than {MAX_STATES_BYTES:,} bytes")
    try:
        with safe_open(str(path), framework="numpy") as fh:
            meta = fh.metadata() or {}
        arrays = load_file(str(path))
    except Exception as err:  # safetensors raises its own error types
        raise ModelError(f"{path}: not a valid safetensors file ({err})") from None
    fmt = meta.get("format")
    if fmt not in (FORMAT, *OLD_FORMATS) or meta.get("dtype") != np.dtype(STATE_DTYPE).name:
        raise ModelError(f"{path}: not a {FORMAT} file of {np.dtype(STATE_DTYPE).name} states")
    shuffled = fmt == FORMAT
    if weights is not None and meta.get("weights") != weights:
        raise ModelError(f"{path}: states of other weights than this model's (a stale file)")
    try:
        entries = json.loads(meta.get("snapshots", ""))
        got_shape = json.loads(meta.get("shape", ""))
    except (ValueError, RecursionError):
        raise ModelError(f"{path}: unreadable snapshot list") from None
    if not isinstance(entries, list) or len(entries) > MAX_SNAPSHOTS:
        raise ModelError(f"{path}: the snapshot list must be a list of <= {MAX_SNAPSHOTS}")
    if entries and got_shape != list(shape):
        raise ModelError(f"{path}: states of shape {got_shape}, this model needs {list(shape)}")
    names = {f"{x}.{k}" for k in range(len(entries)) for x in "hc"}
    if set(arrays) != names:
        raise ModelError(f"{path}: arrays {sorted(arrays)[:4]} do not match the snapshot list")
    out = Snapshots()
    for k, e in enumerate(entries):
        if not (
            isinstance(e, dict)
            and set(e) == {"day", "digest"}
            and isinstance(e["day"], int)
            and not isinstance(e["day"], bool)
            and 0 <= e["day"] < 10**6
            and isinstance(e["digest"], str)
            and len(e["digest"]) == 24
            and all(ch in "0123456789abcdef" for ch in e["digest"])
        ):
            raise ModelError(f"{path}: snapshot {k}: expected {{day: int >= 0, digest: hex}}")
        blobs = []
        for x in "hc":
            a = arrays[f"{x}.{k}"]
            if a.dtype != np.uint8 or a.ndim != 1:
                raise ModelError(f"{path}: {x}.{k} must be a 1-D uint8 array")
            blobs.append(a.tobytes())
        try:
            h, c = (_unpack(b, shape, shuffled) for b in blobs)
        except ModelError as err:
            raise ModelError(f"{path}: snapshot {k} (day {e['day']}): {err}") from None
        if not shuffled:  # format 1: re-packed as FORMAT
            blobs = [_pack(h), _pack(c)]
        out.add(Snapshot(e["day"], e["digest"], tuple(shape), blobs[0], blobs[1]))
    return out
