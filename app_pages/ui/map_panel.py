"""The forecast maps: the Forecast map page's day player (one or two models over a window
of days, stepped and played in the browser: `quake.viz.day_player`) and the Threshold
page's map input; both mark the quakes of T+10 … T+49 hit or missed at the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app_pages.ui.forecasts import (
    ForecastPending,
    day_is_quick,
    forecast_for_day,
    forecast_source,
    period_key,
    show_pending,
    window_events,
)
from app_pages.ui.loaders import curves, data_key, forecast_data, model, mtime, prior
from app_pages.ui.state import THRESHOLDS, presentation
from quake.data.catalog import Catalog
from quake.data.coastline import coastline_in_box
from quake.data.forecast_data import ForecastData
from quake.data.grid import Grid
from quake.models.store import ModelCard
from quake.viz import legend_html
from quake.viz.day_player import PanelDay, PlayerFrame, day_player, narrow_height, quake_points
from quake.viz.maps import GAIN_RANGE, PROB_RANGE, grid_bounds
from quake.viz.raster import forecast_rgba, grid_image
from quake.viz.style import MAP_SWATCHES, RDBU, YLORRD
from quake.viz.text import chart_text
from quake.viz.threshold_explorer import MapInput, threshold_explorer


@dataclass(frozen=True)
class Panel:
    """One model of the player: its card, model, forecast data and the days it can show
    (the window when its test period is cached or it is constant in time, else one day)."""

    card: ModelCard
    model: object
    data: ForecastData
    days: range


def open_panel(card: ModelCard, catalog: Catalog, fingerprint: str, t0: int, n: int) -> Panel:
    """``card``'s model and data for forecast days ``[t0, t0 + n)`` (kept in the test
    period): all of them when its test period is cached (or it is constant in time), else
    only ``t0``, forecast alone. Raises `ForecastPending` (a recurrent net far from a saved
    state: its period run is offered) or `QuakeError`."""
    m = model(card)
    data = forecast_data(catalog, fingerprint, float(card.mc or 5.0), m.protocol)
    start, stop = data.days("test")
    t0 = min(max(int(t0), start), stop - 1)
    try:
        forecast_source(card, m, data)
        days = range(t0, min(t0 + n, stop))
    except ForecastPending:
        if not day_is_quick(card, m, data, t0):
            raise
        days = range(t0, t0 + 1)
    return Panel(card, m, data, days)


def player_figure(
    panels: list[Panel],
    catalog: Catalog,
    threshold: float,
    gain: bool,
    height: int,
    narrow: bool = False,
) -> go.Figure:
    """The day player of ``panels`` (one or two) over the days they all have (cached: a
    rerun that changes none of its inputs, e.g. coming back to the page, reuses it);
    ``narrow``: its one-column layout (`app_pages.ui.viewport`; its height is then
    `narrow_height`, whatever ``height`` says).

    A shared Figure, never to be mutated, built without plotly's validation: given a dict,
    `st.plotly_chart` would validate every frame again on every run (~0.2 s of each visit
    of the page with 28 days); the player's output is validated by the tests
    (tests/test_live.py)."""
    key = tuple(
        (str(p.card.folder), mtime(p.card.folder), data_key(p.data), p.days.start, p.days.stop)
        for p in panels
    )
    pres = presentation()
    if narrow:
        several = len(common_days(panels)) > 1
        height = narrow_height(len(panels), pres, title_lines(len(panels), narrow), several)
    args = (float(threshold), bool(gain), int(height), pres, bool(narrow))
    return _player(key, *args, panels, catalog)


def common_days(panels: list[Panel]) -> range:
    """The days every panel has (at least the first one's start)."""
    lo = max(p.days.start for p in panels)
    return range(lo, max(lo + 1, min(p.days.stop for p in panels)))


def title_lines(panels: int, narrow: bool) -> int:
    """Lines of a player frame's title: the day and its window, then the counts (one line
    per model in the one-column layout)."""
    return 2 + panels if narrow else 2


@st.cache_resource(show_spinner=False, max_entries=6)
def _player(
    key: tuple,
    threshold: float,
    gain: bool,
    height: int,
    pres: bool,
    narrow: bool,
    _panels: list[Panel],
    _catalog: Catalog,
) -> go.Figure:
    panels, catalog = _panels, _catalog
    days = common_days(panels)
    mode = "gain" if gain else "probability"
    proto = panels[0].data.protocol
    lead, last = proto.lead_days, proto.horizon_days - 1
    frames = []
    for t in days:
        parts = []
        for p in panels:
            probs = forecast_for_day(p.card, p.model, p.data, t)
            parts.append(
                _panel_day(
                    str(p.card.folder),
                    mtime(p.card.folder),
                    data_key(p.data),
                    t,
                    mode,
                    threshold,
                    p.data.grid,
                    probs,
                    prior(p.data, final=True),
                    window_events(catalog, p.data, t),
                )
            )
        day = proto.day_to_date(t)
        alarmed = "alarmed" if narrow else "cells alarmed"  # narrow: a model's name fits
        counts = [
            f"{'' if len(panels) == 1 else chart_text(p.card.name) + ': '}{d.n_hit} hit, "
            f"{d.n_missed} missed, {d.n_alarmed:,} {alarmed}"
            for p, d in zip(panels, parts, strict=True)
        ]
        small = "<span style='font-size:0.8em'>{}</span>"
        window = f"{day + timedelta(days=lead)} … {day + timedelta(days=last)}"
        if narrow:  # a phone: the window and each model's counts on lines of their own
            rows = "<br>".join(small.format(c) for c in counts)
            title = f"Forecast made on <b>{day}</b><br>for {window}<br>{rows}"
        else:
            rows = small.format(" · ".join(counts))
            title = f"Forecast made on <b>{day}</b> for {window}<br>{rows}"
        frames.append(PlayerFrame(str(day), title, tuple(parts)))
    grid = panels[0].data.grid
    coast = coastline_in_box(*grid_bounds(grid))
    names = [f"{chart_text(p.card.name)} · Mc {p.data.mc:.1f}" for p in panels]
    fig = day_player(grid, names, frames, coast, 0, pres, height, narrow=narrow)
    return go.Figure(fig, _validate=False)


@st.cache_data(show_spinner=False, max_entries=1024)
def _panel_day(
    folder: str,
    mtime: float,
    data_key: str,
    t: int,
    mode: str,
    threshold: float,
    _grid: Grid,
    _probs: np.ndarray,
    _prior: np.ndarray,
    _window: pd.DataFrame,
) -> PanelDay:
    """One model's image and quakes of one day at one colouring and threshold (cached:
    moving the window back and forth reuses them)."""
    rgba = forecast_rgba(_probs, _prior, mode, threshold, PROB_RANGE, GAIN_RANGE, PROB_RANGE[0])
    hit, missed = quake_points(_grid, _window, _probs, threshold)
    return PanelDay(grid_image(_grid, rgba), hit, missed, int((_probs >= threshold).sum()))


def show_offers(panels: list[Panel]) -> None:
    """For a model whose test period is not cached: the offer of its period run (the
    window's other days and Play need it)."""
    for p in panels:
        key = period_key(p.card, p.model, p.data)
        if key is not None:
            show_pending(key, p.card.name, needed=False)


def explorer_map(
    card: ModelCard, catalog: Catalog, fingerprint: str, day: date
) -> tuple[MapInput, date]:
    """The Threshold page's map input: ``card``'s forecast of ``day`` (kept inside the test
    period) with its window's quakes; raises `ForecastPending` or `QuakeError`."""
    m = model(card)
    data = forecast_data(catalog, fingerprint, float(card.mc or 5.0), m.protocol)
    test = data.protocol.period("test")
    day = min(max(day, test.start), test.end)
    t = data.protocol.date_to_day(day)
    probs = forecast_for_day(card, m, data, t)
    window = window_events(catalog, data, t)
    p = data.protocol
    title = (
        f"forecast of {day}: P(M≥{data.mc:.1f} in days T+{p.lead_days} … T+{p.horizon_days - 1})"
    )
    coast = coastline_in_box(*grid_bounds(data.grid))
    return MapInput(data.grid, probs, window, coast, title), day


def explorer_figure(
    card: ModelCard,
    mask: str,
    day: date | None,
    active: int,
    color: str,
    pres: bool,
    mapped: MapInput | None,
    narrow: bool = False,
) -> go.Figure:
    """The Threshold page's explorer figure (cached: a rerun that changes none of these
    reuses it); ``narrow``: its one-column layout (`app_pages.ui.viewport`)."""
    key = (str(card.folder), mtime(card.folder), mask, str(day), active, color, pres, narrow)
    return _explorer(*key, card, mapped)


@st.cache_resource(show_spinner=False, max_entries=16)  # shared, not copied per rerun
def _explorer(
    folder: str,
    mtime: float,
    mask: str,
    day: str,
    active: int,
    color: str,
    pres: bool,
    narrow: bool,
    _card: ModelCard,
    _mapped: MapInput | None,
) -> go.Figure:
    curve = curves(_card)["test"][mask]
    return threshold_explorer(
        curve, THRESHOLDS, active, _card.name, color, _mapped, pres, narrow=narrow
    )


def legend(gain: bool = False, title: str | None = None) -> None:
    """The colour scale of the map panels (and the marks of hit and missed quakes)."""
    if gain:
        title = title or "gain over the naive prior (P / prior, log scale)"
        vmin, vmax, ramp = *GAIN_RANGE, RDBU
    else:
        title = title or "probability of a target quake in the cell (log scale)"
        vmin, vmax, ramp = *PROB_RANGE, YLORRD
    st.html(
        legend_html(title, vmin, vmax, ramp=ramp, presentation=presentation(), extra=MAP_SWATCHES)
    )
