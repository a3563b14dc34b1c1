"""The forecast map panel: one model's probabilities on one forecast day T, with the quakes of
T+10 … T+49 marked hit or missed at the threshold. The Forecast map page draws one or two
side by side (with metric tiles), the Threshold page one under its curves (with a caption).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app_pages.ui.forecasts import (
    ForecastPending,
    forecast_for_day,
    period_key,
    show_pending,
    window_events,
)
from app_pages.ui.loaders import curves, data_key, forecast_data, model, mtime, prior
from app_pages.ui.state import THRESHOLDS, presentation
from app_pages.ui.widgets import fmt_threshold
from quake.data.catalog import Catalog
from quake.data.coastline import coastline_in_box
from quake.data.grid import Grid
from quake.errors import QuakeError
from quake.models.store import ModelCard
from quake.service.forecast_cache import mark_hits
from quake.viz import legend_html
from quake.viz.maps import GAIN_RANGE, PROB_RANGE, grid_bounds
from quake.viz.raster import cell_image, forecast_image_deck, forecast_rgba
from quake.viz.style import MAP_SWATCHES, RDBU, YLORRD
from quake.viz.text import plain
from quake.viz.threshold_explorer import MapInput, threshold_explorer


def map_panel(
    card: ModelCard,
    catalog: Catalog,
    fingerprint: str,
    day: date,
    threshold: float,
    *,
    key: str,
    height: int,
    zoom: float = 3.75,
    gain: bool = False,
    metrics: bool = True,
) -> None:
    """Draw ``card``'s forecast of ``day`` (kept inside the model's test period).

    ``gain`` colours cells by probability over the naive prior. ``metrics``: a header, tiles
    of quakes hit and missed and alarmed cells, and notes (the Forecast map); otherwise one
    caption above the map and the legend below (the Threshold page). A failure is shown on
    the page, never raised: one model's failure must not take the page down.
    """
    name = plain(card.name)
    try:
        m = model(card)
        data = forecast_data(catalog, fingerprint, float(card.mc or 5.0), m.protocol)
        test = data.protocol.period("test")
        day = min(max(day, test.start), test.end)
        t = data.protocol.date_to_day(day)
        probs = forecast_for_day(card, m, data, t)
        pri = prior(data, final=True)
    except ForecastPending as pending:
        if metrics:
            st.markdown(f"**{name}** · Mc {card.mc or 0:.1f}")
        show_pending(pending, card.name)
        return
    except QuakeError as err:
        why = plain(err, 400)
        st.error(f"{name}: cannot forecast ({why})." if metrics else f"Cannot draw the map: {why}")
        return
    except Exception as err:  # a model's own failure must not take the page down
        why = f"{type(err).__name__}: {plain(err, 400)}"
        st.error(
            f"{name}: forecasting failed ({why})."
            if metrics
            else f"Cannot draw the map: {name} failed ({why})"
        )
        return
    window = mark_hits(window_events(catalog, data, t), probs, threshold)
    mode = "gain" if gain else "probability"
    folder = str(card.folder)
    url, bounds = _image(
        folder, mtime(card.folder), data_key(data), t, mode, threshold, data.grid, probs, pri
    )
    deck = forecast_image_deck(data.grid, url, bounds, window=window, mc=data.mc, zoom=zoom)
    inside = window["cell"].to_numpy() >= 0
    n_hit = int(window["hit"].sum())
    n_miss = int(inside.sum()) - n_hit
    n_out = int((~inside).sum())
    n_alarm = int((probs >= threshold).sum())
    outside = f" ({n_out} more fell outside the grid, not counted)" if n_out else ""
    if not metrics:
        st.caption(
            f"Forecast day {day} (change it on the Forecast map page): {n_alarm:,} of "
            f"{probs.size:,} cells alarmed; {n_hit} of {n_hit + n_miss} quakes M≥{data.mc:.1f} "
            f"in its window (in grid cells){outside} hit. Cells below the threshold are faded."
        )
        st.pydeck_chart(deck, height=height, key=key)
        legend(gain, "probability (log scale)")
        return
    st.markdown(f"**{name}** · Mc {data.mc:.1f}")
    st.pydeck_chart(deck, height=height, key=key)
    a, b, c = st.columns(3)
    lead, last = data.protocol.lead_days, data.protocol.horizon_days - 1
    when = f"M ≥ {data.mc:.1f} in days T+{lead} … T+{last}, in a grid cell"
    a.metric("quakes hit", n_hit, help=f"{when}, alarmed")
    b.metric("quakes missed", n_miss, help=f"{when}, not alarmed{outside}")
    c.metric("alarmed cells", f"{n_alarm:,}", help=f"cells with P ≥ {fmt_threshold(threshold)}")
    if card.fingerprint and card.fingerprint != fingerprint:
        st.caption("Fitted on another catalog; these forecasts use the loaded one.")
    key = period_key(card, m, data)
    if key is not None:  # this day was forecast alone: offer the period (Play, fast steps)
        show_pending(key, card.name, needed=False)
    shown = int((probs >= PROB_RANGE[0]).sum())
    st.caption(
        f"Drawn: every cell with P ≥ {fmt_threshold(PROB_RANGE[0])} ({shown:,} of "
        f"{probs.size:,}); cells below the threshold are faded. Quakes: only those in grid "
        f"cells are counted{outside}. Hover a quake for its cell's probability."
    )


@st.cache_data(show_spinner=False, max_entries=512)
def _image(
    folder: str,
    mtime: float,
    data_key: str,
    t: int,
    mode: str,
    threshold: float,
    _grid: Grid,
    _probs: np.ndarray,
    _prior: np.ndarray,
) -> tuple[str, list]:
    """The map image of one model, data, day, colouring and threshold (cached: Play and
    back-and-forth steps reuse it)."""
    rgba = forecast_rgba(_probs, _prior, mode, threshold, PROB_RANGE, GAIN_RANGE, PROB_RANGE[0])
    return cell_image(_grid, rgba)


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
) -> go.Figure:
    """The Threshold page's explorer figure (cached: a rerun that changes none of these
    reuses it)."""
    return _explorer(
        str(card.folder), mtime(card.folder), mask, str(day), active, color, pres, card, mapped
    )


@st.cache_data(show_spinner=False, max_entries=16)
def _explorer(
    folder: str,
    mtime: float,
    mask: str,
    day: str,
    active: int,
    color: str,
    pres: bool,
    _card: ModelCard,
    _mapped: MapInput | None,
) -> go.Figure:
    curve = curves(_card)["test"][mask]
    return threshold_explorer(curve, THRESHOLDS, active, _card.name, color, _mapped, pres)


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
