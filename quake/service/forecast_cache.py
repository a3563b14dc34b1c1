"""Forecasts for the map: made on demand once per (model, data, period), then read from disk.

A model's probabilities over a whole period (the test period is ~3,200 days of 50,000
cells) are written once, compressed (log-probabilities in uint16 codes, within 0.18 %, the
slider's thresholds exact: `quake.service.cache_files`), under `quake.settings.cache_dir`
(git-ignored, never part of the repository), so moving the map to another day reads a few
kB instead of running the model.

One day first. `forecast_day` forecasts a single day without the period: a non-recurrent
model computes that day only; a recurrent net runs through the days before it from day 0
(or for `MAP_WARMUP_DAYS` days, when set: docs/FORECAST_SPEED.md measures what a shorter
warm-up changes). This is what the map shows before the period is cached, and what
``python -m quake forecast`` prints.

The key is the model folder (its path and the bytes of its ``model.json``, so a
retrained model in the same folder gets new forecasts), the data fingerprint and the
period. The file, its sidecar and how they are written and checked:
`quake.service.cache_files`.

A write that fails (disk full, read-only or forbidden folder) is logged and gives an
*uncached* `CachedForecast` with a ``warning``: small periods are kept in memory, larger
ones are computed a few days at a time when a day is asked for. An empty, truncated or
mismatched file is removed and computed again.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from quake import settings
from quake.data.forecast_data import ForecastData
from quake.errors import ModelError
from quake.models.base import Forecaster, forecast_blocks
from quake.models.states import CACHE_EVERY
from quake.models.store import MODEL_FILE
from quake.progress import OnProgress, Progress, emit
from quake.service.cache_files import (
    ENCODING,
    FORMAT,
    CachedForecast,
    CacheWriter,
    cache_key,
    cache_paths,
    check_files,
    data_files,
    decode,
    drop_superseded,
    encode,
    remove_quietly,
    sidecars,
    touch,
    trim_cache,
)
from quake.service.state_cache import StateCache, drop_states

log = logging.getLogger(__name__)

MEMORY_FALLBACK_BYTES = 64 * 2**20
"""An uncached period up to this size (uint16 codes) is kept in memory; a larger one is
computed `ON_DEMAND_DAYS` days at a time when a day is asked for."""
MAP_WARMUP_DAYS: int | None = None
"""Days a recurrent net runs through before a single day's forecast (`forecast_day`); None:
every day from day 0, as the period's forecasts do. Measured (docs/FORECAST_SPEED.md): 512
days change convlstm-resid-quick-m5's probabilities by up to 0.012, so no shortcut yet."""
ON_DEMAND_DAYS = 16
ON_DEMAND_BLOCKS = 8


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
                block = np.concatenate([encode(p) for _, p in parts])
                if len(block) != b - a:
                    raise ModelError(f"the model forecast {len(block)} of the {b - a} days asked")
                self._blocks[a] = block
                while len(self._blocks) > ON_DEMAND_BLOCKS:
                    self._blocks.popitem(last=False)
            self._blocks.move_to_end(a)
            return decode(block[t - a])


def lookup(
    model_folder: str | Path, data: ForecastData, period: str = "test", root: Path | None = None
) -> CachedForecast | None:
    """The cached forecasts if a valid file exists for the period's days, else None."""
    root = Path(root) if root else settings.cache_dir()
    key = cache_key(model_folder, data.fingerprint, period)
    path, meta = cache_paths(root, Path(model_folder), key)
    start, stop = data.days(period)
    hit = check_files(path, meta, key, start, stop, data.grid.shape)[0]
    if hit is not None:
        touch(meta)
    return hit


def forecast_days(data: ForecastData) -> tuple[int, int]:
    """``[first, stop)``: the forecast days of the data's protocol (day 0 to the end of its
    last period, the test period)."""
    return 0, data.days(data.protocol.periods[-1].name)[1]


@dataclass(frozen=True)
class DayForecast:
    """One forecast day: ``probs`` float32 ``(ny, nx)``, where it came from (``"cache"``: the
    cached period, values as `quantise` gives them; ``"model"``: computed for this day;
    ``"static"``: a model constant in time), the warm-up days run and the seconds taken."""

    day: int
    probs: np.ndarray
    source: str
    warmup_days: int
    seconds: float


def states_for(
    model: Forecaster, model_folder: str | Path, data: ForecastData, root: Path | None = None
) -> StateCache | None:
    """The cached snapshots of a recurrent ``model`` attached to it (once per model object,
    folder and data; None for other models)."""
    if not getattr(model, "recurrent", False):
        return None
    states = StateCache(model, model_folder, data, root)
    if getattr(model, "_attached_states", None) != states.path:
        states.attach()
        model._attached_states = states.path  # type: ignore[attr-defined]
    return states


def members_of(model: Forecaster, model_folder: str | Path | None) -> list[tuple] | None:
    """An ensemble's loaded members with their folders, ``[(model, folder)]`` (members live
    beside the ensemble: `quake.models.ensemble`); None for any other model or no folder."""
    members = getattr(model, "members", None)
    names = getattr(getattr(model, "config", None), "members", None)
    if model_folder is None or not members or not names or len(names) != len(members):
        return None
    root = Path(model_folder).parent
    return [(m, root / name) for m, name in zip(members, names, strict=True)]


def warmup_for_day(
    model: Forecaster,
    model_folder: str | Path,
    data: ForecastData,
    t: int,
    root: Path | None = None,
) -> int:
    """Days a forecast of day ``t`` alone runs through first (0 for a model that is not
    recurrent; from the nearest saved or cached state for one that is; the sum over an
    ensemble's members whose test period is not cached)."""
    parts = members_of(model, model_folder)
    if parts is not None:
        return sum(_member_warmup(m, f, data, t, root) for m, f in parts)
    if not getattr(model, "recurrent", False):
        return 0
    if MAP_WARMUP_DAYS is not None:
        return int(model.warmup_days(t, MAP_WARMUP_DAYS))
    states_for(model, model_folder, data, root)
    return int(model.warmup_days(t, data=data))


def forecast_day(
    model: Forecaster,
    data: ForecastData,
    t: int,
    model_folder: str | Path | None = None,
    root: Path | None = None,
    on_progress: OnProgress | None = None,
) -> DayForecast:
    """The model's forecast of day ``t`` alone, without forecasting the period around it.

    With ``model_folder`` a cached test period holding ``t`` is read instead. A recurrent
    net runs from its latest saved state before ``t`` (the model folder's and, with
    ``model_folder``, those cached by earlier forecasts: `quake.service.state_cache`; it
    records new ones on its way) or from day 0, or from ``t - MAP_WARMUP_DAYS`` (a zero
    state) when that is set; ``on_progress`` gets ``"warm-up"`` events of the days run.
    """
    t = int(t)
    first, last = forecast_days(data)
    if not first <= t < last:
        raise ModelError(f"day {t} is outside the protocol's forecast days [{first}, {last})")
    t0 = time.perf_counter()
    if model_folder is not None:
        start, stop = data.days("test")
        hit = lookup(model_folder, data, "test", root) if start <= t < stop else None
        if hit is not None:
            return DayForecast(t, hit.day(t), "cache", 0, time.perf_counter() - t0)
    static = getattr(model, "static_forecast", None)
    if static is not None:
        probs = np.asarray(static(data), dtype=np.float32)
        return DayForecast(t, probs, "static", 0, time.perf_counter() - t0)
    parts = members_of(model, model_folder)
    if parts is not None:
        return _ensemble_day(parts, data, t, root, on_progress, t0)
    kwargs: dict = {}
    warm = 0
    states = None
    if getattr(model, "recurrent", False):
        kwargs["warmup"] = MAP_WARMUP_DAYS
        if MAP_WARMUP_DAYS is None and model_folder is not None:
            states = states_for(model, model_folder, data, root)
            kwargs.update(record_every=CACHE_EVERY, record_from=data.days("test")[0])
        warm = int(model.warmup_days(t, MAP_WARMUP_DAYS, data=data))
        if on_progress is not None and warm:
            kwargs["on_warmup"] = lambda done, total: emit(on_progress, "warm-up", done, total)
    try:
        blocks = list(model.predict_days(data, t, t + 1, 1, **kwargs))
    finally:
        if states is not None:
            states.persist()
    if len(blocks) != 1 or blocks[0][0] != t or blocks[0][1].shape != (1, *data.grid.shape):
        raise ModelError(f"{model.kind}.predict_days did not give the one day {t} asked for")
    probs = np.asarray(blocks[0][1][0], dtype=np.float32)
    return DayForecast(t, probs, "model", warm, time.perf_counter() - t0)


def cached_day(
    model_folder: str | Path, data: ForecastData, t: int, root: Path | None = None
) -> bool:
    """Whether day ``t`` is in the model folder's cached test period."""
    start, stop = data.days("test")
    return start <= t < stop and lookup(model_folder, data, "test", root) is not None


def _member_warmup(model: Forecaster, folder: Path, data: ForecastData, t: int, root) -> int:
    return 0 if cached_day(folder, data, t, root) else warmup_for_day(model, folder, data, t, root)


def _ensemble_day(
    parts: list[tuple],
    data: ForecastData,
    t: int,
    root: Path | None,
    on_progress: OnProgress | None,
    t0: float,
) -> DayForecast:
    """An ensemble's day as the mean of its members' days, each as `forecast_day` gives it
    (from the member's cached period, saved or cached states: what the member alone would
    do); their warm-ups are reported as one run."""
    warm = [_member_warmup(m, f, data, t, root) for m, f in parts]
    total, done = sum(warm), 0
    acc = np.zeros(data.grid.shape, np.float64)
    for (m, f), w in zip(parts, warm, strict=True):
        report = None
        if on_progress is not None and w:
            report = _shifted(on_progress, done, total)
        acc += forecast_day(m, data, t, f, root, report).probs
        done += w
    probs = (acc / len(parts)).astype(np.float32)
    return DayForecast(t, probs, "model", total, time.perf_counter() - t0)


def _shifted(on_progress: OnProgress, before: int, total: int) -> OnProgress:
    """A member's warm-up events as part of the ensemble's (``before`` days already done)."""

    def report(p: Progress) -> None:
        if p.stage == "warm-up":
            on_progress(replace(p, step=before + p.step, total=total))

    return report


def cached_forecast(
    model: Forecaster,
    model_folder: str | Path,
    data: ForecastData,
    period: str = "test",
    root: Path | None = None,
    on_progress: OnProgress | None = None,
    chunk: int = 64,
) -> CachedForecast:
    """The model's forecasts over ``period``, computed (with progress) the first time only.

    A valid cache file is used as it is; a damaged one is removed and computed again. The
    file is streamed block by block into a temporary file and renamed when complete, so an
    interrupted run leaves nothing half-written behind. When it cannot be written the
    result is uncached (``cached`` False, ``warning`` set; see the module docstring):
    never an exception for a full or read-only disk.
    """
    root = Path(root) if root else settings.cache_dir()
    key = cache_key(model_folder, data.fingerprint, period)
    path, meta = cache_paths(root, Path(model_folder), key)
    start, stop = data.days(period)
    n = stop - start
    shape = (n, *data.grid.shape)
    hit, problem = check_files(path, meta, key, start, stop, data.grid.shape)
    if hit is not None:
        touch(meta)
        emit(on_progress, "forecast", n, n)
        return hit
    if problem:
        log.warning("cached forecast %s: %s; computing it again", path.name, problem)
        remove_quietly(path, meta)
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
        "encoding": ENCODING,
    }
    small = int(np.prod(shape)) * 2 <= MEMORY_FALLBACK_BYTES
    keep = np.empty(shape, np.uint16) if small else None  # kept in case the write fails
    writer = CacheWriter(root, path, meta)
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
        drop_superseded(root, info)
        trim_cache(root, settings.cache_budget_bytes(), keep=(path, meta))
        return CachedForecast(path, start, stop, data.grid.shape)
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
    writer: CacheWriter,
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
            codes = encode(block)
            if keep is not None:
                keep[done : done + k] = codes
            done += k
            if not writer.write_codes(codes) and keep is None:
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


def drop_cached(model_folder: str | Path, root: Path | None = None) -> int:
    """Delete every cached forecast of a model folder; returns the number of files removed."""
    root = Path(root) if root else settings.cache_dir()
    if not root.is_dir():
        return 0
    target = str(Path(model_folder).resolve())
    removed = drop_states(model_folder, root)
    for meta, info in sidecars(root):
        if info.get("model_folder") == target:
            for f in (*data_files(meta), meta):
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
