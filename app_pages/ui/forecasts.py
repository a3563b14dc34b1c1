"""Forecasts for the maps: made once per model and data in the background, then cached.

The UI side of `quake.service.forecast_cache`: a run shared by every session (it goes on when a
person leaves the page), its progress, one day's map, the encoded cells and the quakes
of the target window, each cached so that moving the day or the threshold is cheap.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from app_pages.ui.loaders import data_key, mtime
from quake.data.catalog import Catalog
from quake.data.forecast_data import ForecastData
from quake.data.grid import Grid
from quake.errors import QuakeError
from quake.models import Forecaster
from quake.models.store import ModelCard
from quake.service.cache_files import CachedForecast
from quake.service.forecast_cache import cache_key, cached_forecast, lookup, target_events
from quake.service.jobs import TrainingJob, eta_text
from quake.viz.maps import PreparedCells, prepare_cells
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
def _forecast_jobs() -> dict[str, TrainingJob]:
    """Forecast runs in progress, shared by every session (one run per model and data)."""
    return {}


@st.cache_resource(show_spinner=False)
def _uncached() -> dict[str, CachedForecast]:
    """Forecasts whose cache file could not be written (disk full, read-only folder),
    kept until the server restarts; each carries the warning to show."""
    return {}


class ForecastPending(QuakeError):
    """The model's forecasts are being made in the background (progress is shown)."""


def forecast_source(card: ModelCard, m: Forecaster, data: ForecastData) -> CachedForecast | None:
    """The model's cached test-period forecasts (None for a model constant in time).

    The first request starts a background run (it goes on if the person leaves the page)
    and raises `ForecastPending`; `show_pending` draws its progress.
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
    jobs = _forecast_jobs()
    job = jobs.get(key)
    if job is not None and job.status == "done":
        hit = lookup(card.folder, data, "test")
        if hit is not None:
            return hit
    if job is None or job.status in ("done", "cancelled"):

        def run(on_progress, should_stop) -> CachedForecast:
            src = cached_forecast(m, card.folder, data, "test", on_progress=on_progress)
            if not src.cached:
                uncached[key] = src
            return src

        job = jobs[key] = TrainingJob(f"forecast {card.name}", None, run).start()
    if job.status == "failed":
        jobs.pop(key, None)  # the next visit tries again
        raise QuakeError(f"forecasting failed: {job.error}")
    raise ForecastPending(key)


def show_pending(err: ForecastPending, name: str) -> None:
    """Progress of a background forecast run; reruns the page when it is done."""
    key = str(err)

    def panel() -> None:
        job = _forecast_jobs().get(key)
        if job is None or not job.running:
            st.rerun()
        st.progress(
            job.fraction,
            text=f"Forecasting every test day with {name} (first time only, then cached): "
            f"{job.step:,} of {job.total or 0:,} days{eta_text(job.elapsed, job.fraction)}",
        )

    st.fragment(panel, run_every=1.0)()


def forecast_for_day(card: ModelCard, m: Forecaster, data: ForecastData, t: int) -> np.ndarray:
    """Probabilities ``(ny, nx)`` float32 of the model for forecast day t."""
    src = forecast_source(card, m, data)
    if src is None:
        static = _static(m, data, str(card.folder), mtime(card.folder), data_key(data))
        if static is not None:
            return static
        raise QuakeError(f"{card.name}: no forecasts available")
    if not src.cached:
        return src.day(int(t))
    return _day(str(src.path), src.start, src.stop, src.shape[0], src.shape[1], int(t))


@st.cache_data(show_spinner=False, max_entries=64)
def _prepared(
    folder: str,
    mtime: float,
    data_key: str,
    t: int,
    mode: str,
    _grid: Grid,
    _probs: np.ndarray,
    _prior: np.ndarray,
) -> PreparedCells:
    return prepare_cells(_grid, _probs, _prior, mode)


def map_cells(
    card: ModelCard, data: ForecastData, t: int, mode: str, probs: np.ndarray, pri: np.ndarray
) -> PreparedCells:
    """The encoded cells of a model's map for day t (cached: moving the threshold or the
    presentation setting re-encodes nothing)."""
    return _prepared(
        str(card.folder), mtime(card.folder), data_key(data), int(t), mode, data.grid, probs, pri
    )


@st.cache_data(show_spinner=False, max_entries=64)
def _window(_catalog: Catalog, _data: ForecastData, key: str, t: int) -> pd.DataFrame:
    return target_events(_catalog.events, _data, t)


def window_events(catalog: Catalog, data: ForecastData, t: int) -> pd.DataFrame:
    """The quakes M >= Mc in the target window of forecast day t (see `target_events`)."""
    return _window(catalog, data, data_key(data), int(t))
