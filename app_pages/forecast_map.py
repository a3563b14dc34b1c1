"""Forecast map: one model's (or two models') probabilities over a window of forecast days,
with the quakes of T+10 … T+49 marked hit or missed at the current threshold; the days
of the window are stepped and played in the browser (`quake.viz.day_player`)."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from app_pages.ui.catalog_fit import catalog_models, no_fitting_models, show_others
from app_pages.ui.forecasts import ForecastPending, show_pending
from app_pages.ui.loaders import current_catalog, forecast_data, good_cards, model
from app_pages.ui.map_panel import legend, open_panel, player_figure, show_offers
from app_pages.ui.state import FORECAST_DAY, MAP_MODE, MODEL_A, MODEL_B, presentation
from app_pages.ui.viewport import narrow_layout
from app_pages.ui.widgets import (
    choose_model,
    need_catalog,
    need_models,
    page_header,
    threshold_slider,
)
from quake.errors import QuakeError
from quake.viz.grid_plot import PIXELATED_CSS
from quake.viz.text import plain

WINDOW_DAYS = 28  # days in the player (half of it for two models side by side): four weeks,
# a 0.9 MB figure (56 days: 1.6 MB and ~0.3 s more per page switch, measured in Chromium)

page_header(
    "Forecast map",
    "Each 10 km cell is coloured by the model's probability that a quake of magnitude ≥ Mc "
    "strikes it 10 to 50 days after the forecast day T. Dots are the quakes that then "
    "happened: blue = hit (its cell was alarmed), black ring = missed. Step through the "
    "days with the map's slider or ▶ Play.",
)

catalog, fingerprint, cat_error = current_catalog()
if not good_cards():
    need_models()
    st.stop()
if catalog is None or fingerprint is None:
    need_catalog("The map forecasts from the catalog's events.", cat_error)
    st.stop()
fit = catalog_models()  # only models fitted on this catalog's grid and dates are run
models = fit.fitting
if not models:
    no_fitting_models(fit)
    st.stop()

c1, c2, c3 = st.columns([2, 2, 2])
with c1:
    card_a = choose_model("Model", models, MODEL_A, prefer_fast=True)
with c2:
    card_b = choose_model(
        "Side by side with", [c for c in models if c is not card_a], MODEL_B, allow_none=True
    )
with c3:
    mode = st.radio(
        "Colour by",
        ["probability", "gain over the prior"],
        key=MAP_MODE.keep(),
        horizontal=True,
        help="Gain = the model's probability divided by the naive prior of the same cell.",
    )
    MAP_MODE.remember()
assert card_a is not None

try:
    m_a = model(card_a)
    proto = m_a.protocol
    data_a = forecast_data(catalog, fingerprint, float(card_a.mc or 5.0), proto)
except QuakeError as err:
    st.error(f"Cannot load {plain(card_a.name)}: {plain(err, 400)}")
    st.stop()

# -- the window of days -------------------------------------------------------------------
test = data_a.protocol.period("test")
first, last = test.start, test.end
day_key = FORECAST_DAY.keep()
if not first <= st.session_state[day_key] <= last:
    st.session_state[day_key] = first
n_days = WINDOW_DAYS if card_b is None else WINDOW_DAYS // 2


def step(days: int) -> None:
    d = st.session_state[day_key] + timedelta(days=days)
    st.session_state[day_key] = min(max(d, first), last)
    FORECAST_DAY.set(st.session_state[day_key])


def day_view() -> None:
    """The window's first day, the threshold and the player. A fragment: moving the
    window reruns only this part; stepping and Play inside the window run in the browser."""
    s1, s3, s5 = st.columns([1.6, 8, 1.6], vertical_alignment="bottom")
    s1.button(
        f"◀ {n_days} days",
        on_click=step,
        args=(-n_days,),
        help="the window before",
        width="stretch",
    )
    with s3:
        day = st.slider(
            "First forecast day T of the window (test period)",
            min_value=first,
            max_value=last,
            key=day_key,
            step=timedelta(days=1),
            format="YYYY-MM-DD",
            help=f"The player below holds {n_days} days from this one: its slider and ▶ Play "
            "step through them in the browser.",
        )
    s5.button(
        f"{n_days} days ▶", on_click=step, args=(n_days,), help="the window after", width="stretch"
    )
    FORECAST_DAY.remember()
    threshold = threshold_slider()
    gain = mode != "probability"
    height = (900 if presentation() else 860) if card_b is None else 760
    cards = [c for c in (card_a, card_b) if c is not None]
    panels = []
    for card in cards:
        try:
            t0 = data_a.protocol.date_to_day(day)
            panels.append(open_panel(card, catalog, fingerprint, t0, n_days))
        except ForecastPending as pending:
            st.markdown(f"**{plain(card.name)}** · Mc {card.mc or 0:.1f}")
            show_pending(pending, card.name)
        except QuakeError as err:
            st.error(f"{plain(card.name)}: cannot forecast ({plain(err, 400)}).")
        except Exception as err:  # a model's own failure must not take the page down
            st.error(
                f"{plain(card.name)}: forecasting failed ({type(err).__name__}: {plain(err, 300)})."
            )
    if not panels:
        return
    try:
        with st.spinner("Drawing the days of the window…"):
            fig = player_figure(panels, catalog, threshold, gain, height, narrow_layout())
    except ForecastPending as pending:
        show_pending(pending, panels[0].card.name)
        return
    except QuakeError as err:
        st.error(f"Cannot draw the map: {plain(err, 400)}")
        return
    st.html(PIXELATED_CSS)
    st.plotly_chart(fig, width="stretch", config={"scrollZoom": True, "displaylogo": False})
    legend(gain)
    if min(len(p.days) for p in panels) < n_days and any(len(p.days) == 1 for p in panels):
        st.caption(
            "Only the first day is shown: the window's other days need the model's "
            "forecasts of the whole test period."
        )
    show_offers(panels)
    st.caption(
        "Drag the slider or press ▶ Play (five days a second) to step through the window; "
        "scroll or drag to zoom and pan, double-click to reset. Hover a quake for its "
        "cell's probability. Quakes outside the grid are not drawn or counted."
    )


st.fragment(day_view)()
st.caption(f"Forecasts from the loaded catalog: {plain(fit.label)}.")
show_others(fit)
