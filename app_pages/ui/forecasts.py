"""Forecasts for the maps: made once per model and data in the background, then cached.

The UI side of `quake.service.forecast_cache`: a run shared by every session (it goes on when a
person leaves the page), its progress, one day's map, the encoded cells and the quakes
of the target window, each cached so that moving the day or the threshold is cheap. A
period run starts only when a person asks (`show_pending`); until then a model that is not
recurrent forecasts the day shown alone.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from app_pages.ui.loaders import data_key, mtime
from app_pages.ui.state import MY_RUNS
from quake.data.catalog import Catalog
from quake.data.forecast_data import ForecastData
from quake.errors import QuakeError
from quake.models import Forecaster
from quake.models.store import ModelCard
from quake.service import costs
from quake.service.background import JobBoard, cost_text, progress_text
from quake.service.cache_files import CachedForecast
from quake.service.forecast_cache import (
    cache_key,
    cached_forecast,
    forecast_day,
    lookup,
    target_events,
)
from quake.service.jobs import Runner
from quake.settings import readonly
from quake.viz.text import plain


@st.cache_data(show_spinner=False, max_entries=256)
def _day(path: str, start: int, stop: int, ny: int, nx: int, t: int) -> np.ndarray:
    return CachedForecast(Path(path), start, stop, (ny, nx)).day(t)


@st.cache_data(show_spinner=False, max_entries=16)
def _static(
    _m: Forecaster, _data: ForecastData, folder: str, mtime: float, key: str
) -> np.ndarray | None:
    fn = getattr(_m, "static_forecast", None)
    return None if fn is None else np.asarray(fn(_data), dtype=np.float32)


@st.cache_resource(show_spinner=False)
def job_board() -> JobBoard:
    """Background runs of this server (every session sees them): one per model and data, at
    most two at a time; each started by a person's click, never by opening a page."""
    return JobBoard()


@st.cache_resource(show_spinner=False)
def _requests() -> dict[str, tuple[str, Runner, int, float]]:
    """What a pending map needs to start its run: ``key -> (name, runner, days, seconds)``."""
    return {}


MAX_UNCACHED = 4
"""Periods kept in memory when their cache file cannot be written (up to 64 MB each):
beyond this many, the oldest is dropped and computed again when asked for."""


@st.cache_resource(show_spinner=False)
def _uncached() -> OrderedDict[str, CachedForecast]:
    """Forecasts whose cache file could not be written (disk full, read-only folder),
    kept until the server restarts (the latest `MAX_UNCACHED`); each carries the warning
    to show."""
    return OrderedDict()


class ForecastPending(QuakeError):
    """The model's forecasts are being made in the background (progress is shown)."""


def forecast_source(card: ModelCard, m: Forecaster, data: ForecastData) -> CachedForecast | None:
    """The model's cached test-period forecasts (None for a model constant in time).

    Without a cache it raises `ForecastPending`: `show_pending` offers the background run
    (started only by the person's click; it goes on if they leave the page) or its progress.
    """
    if getattr(m, "static_forecast", None) is not None:
        return None  # constant in time: no need to store a copy per day
    hit = lookup(card.folder, data, "test")
    if hit is not None:
        return hit
    key = cache_key(card.folder, data.fingerprint, "test")
    uncached = _uncached()
    if key in uncached:
        st.warning(plain(uncached[key].warning, 400))
        return uncached[key]
    board = job_board()
    job = board.get(key)
    if job is not None and job.status == "done":
        hit = lookup(card.folder, data, "test")
        if hit is not None:
            return hit
    if job is not None and job.status == "failed":
        board.forget(key)  # the next click tries again
        raise QuakeError(f"forecasting failed: {job.error}")

    def run(on_progress, should_stop) -> CachedForecast:
        src = cached_forecast(m, card.folder, data, "test", on_progress=on_progress)
        if not src.cached:
            uncached[key] = src
            while len(uncached) > MAX_UNCACHED:
                uncached.popitem(last=False)
        return src

    start, stop = data.days("test")
    cost = costs.period_seconds(m, card.folder, data)
    _requests()[key] = (f"forecast {card.name}", run, stop - start, cost)
    raise ForecastPending(key)


def period_key(card: ModelCard, m: Forecaster, data: ForecastData) -> str | None:
    """The key of the model's period run when its test period is not cached (else None)."""
    try:
        forecast_source(card, m, data)
    except ForecastPending as pending:
        return str(pending)
    except QuakeError:
        return None
    return None


def can_cancel(key: str) -> bool:
    """Whether this session may cancel the background run ``key``: in read-only mode (a
    room of visitors) only the session that started it; in a lab, anyone."""
    return not readonly() or key in MY_RUNS.get()


def show_pending(err: ForecastPending | str, name: str, needed: bool = True) -> None:
    """A map whose forecasts are not made yet: the button that starts the run (with its
    cost), or its progress in days with a cancel button; reruns the page when it is done."""
    key = str(err)
    board = job_board()
    job = board.get(key)
    label, run, n_days, cost = _requests().get(key, (f"forecast {name}", None, 0, 0.0))
    if job is None or not job.running:
        if job is not None and job.status == "cancelled":
            st.info(f"The forecast run of {plain(name)} was cancelled.")
        why = (
            f"{plain(name)}'s map needs its forecasts of every test day"
            if needed
            else f"Stepping and Play are faster with {plain(name)}'s forecasts of every test day"
        )
        st.info(
            f"{why} ({n_days:,} days), made once and then cached: {cost_text(cost)} on this "
            "machine, in the background (you can leave the page; every page shows the "
            "progress)."
        )
        if run is not None and st.button(
            f"Compute the forecasts ({cost_text(cost)})", key=f"start_{key}", type="primary"
        ):
            try:
                board.start(key, label, run, unit="days", size=n_days)
            except QuakeError as busy:
                st.warning(plain(busy, 400))
                return
            MY_RUNS.set((*MY_RUNS.get(), key))
            st.rerun()
        return

    def panel() -> None:
        job = board.get(key)
        if job is None or not job.running:
            st.rerun()
        a, b = st.columns([5, 1], vertical_alignment="bottom")
        a.progress(job.fraction, text=plain(progress_text(job, n_days), 300))
        if can_cancel(key) and b.button("Cancel", key=f"cancel_{key}"):
            board.cancel(key)
            st.rerun()

    st.fragment(panel, run_every=1.0)()


@st.cache_data(show_spinner="Forecasting this day…", max_entries=64)
def _one_day(
    folder: str, mtime: float, data_key: str, t: int, _m: Forecaster, _data: ForecastData
) -> np.ndarray:
    return forecast_day(_m, _data, t, folder).probs


def day_is_quick(card: ModelCard, m: Forecaster, data: ForecastData, t: int) -> bool:
    """Whether day ``t`` can be forecast alone (`quake.service.costs.day_is_quick`)."""
    return costs.day_is_quick(m, card.folder, data, int(t))


def forecast_for_day(card: ModelCard, m: Forecaster, data: ForecastData, t: int) -> np.ndarray:
    """Probabilities ``(ny, nx)`` float32 of the model for forecast day t.

    From the cached period when there is one; otherwise a model that is not recurrent
    forecasts the day alone (`forecast_day`, seconds), and so does a recurrent one that
    starts from a saved state close enough (`day_is_quick`); a recurrent one far from any
    raises `ForecastPending` (its period run is offered).
    """
    try:
        src = forecast_source(card, m, data)
    except ForecastPending:
        if not day_is_quick(card, m, data, t):
            raise
        folder = str(card.folder)
        return _one_day(folder, mtime(card.folder), data_key(data), int(t), m, data)
    if src is None:
        static = _static(m, data, str(card.folder), mtime(card.folder), data_key(data))
        if static is not None:
            return static
        raise QuakeError(f"{card.name}: no forecasts available")
    if not src.cached:
        return src.day(int(t))
    return _day(str(src.path), src.start, src.stop, src.shape[0], src.shape[1], int(t))


@st.cache_data(show_spinner=False, max_entries=64)
def _window(_catalog: Catalog, _data: ForecastData, key: str, t: int) -> pd.DataFrame:
    return target_events(_catalog.events, _data, t)


def window_events(catalog: Catalog, data: ForecastData, t: int) -> pd.DataFrame:
    """The quakes M >= Mc in the target window of forecast day t (see `target_events`)."""
    return _window(catalog, data, data_key(data), int(t))
