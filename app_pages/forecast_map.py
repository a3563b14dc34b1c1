"""Forecast map: one model's (or two models') probabilities on a chosen forecast day T,
with the quakes of T+10 … T+49 marked hit or missed at the current threshold."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from app_pages.ui.catalog_fit import catalog_models, no_fitting_models, show_others
from app_pages.ui.loaders import current_catalog, forecast_data, good_cards, model
from app_pages.ui.map_panel import legend, map_panel
from app_pages.ui.state import FORECAST_DAY, MAP_MODE, MODEL_A, MODEL_B, presentation
from app_pages.ui.widgets import (
    choose_model,
    need_catalog,
    need_models,
    page_header,
    threshold_slider,
)
from quake.errors import QuakeError
from quake.models.store import ModelCard
from quake.viz.text import plain

page_header(
    "Forecast map",
    "Each 10 km cell is coloured by the model's probability that a quake of magnitude ≥ Mc "
    "strikes it 10 to 50 days after the forecast day T. Dots are the quakes that then "
    "happened: blue = hit (its cell was alarmed), black ring = missed.",
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

# -- the day ------------------------------------------------------------------------------
test = data_a.protocol.period("test")
first, last = test.start, test.end
day_key = FORECAST_DAY.keep()
if not first <= st.session_state[day_key] <= last:
    st.session_state[day_key] = first


def step(days: int) -> None:
    d = st.session_state[day_key] + timedelta(days=days)
    st.session_state[day_key] = min(max(d, first), last)
    FORECAST_DAY.set(st.session_state[day_key])


PLAYING = "map_playing"  # session key: Play is on
FRAME_S = 0.25  # Play shows a new day every FRAME_S seconds (4 a second)
playing = bool(st.session_state.get(PLAYING, False))


def toggle_play() -> None:
    st.session_state[PLAYING] = not st.session_state.get(PLAYING, False)


def day_view() -> None:
    """Day, threshold and maps. A fragment: stepping the day reruns only this part; while
    Play is on it reruns on its own every `FRAME_S` seconds, one day later each time."""
    if playing:
        if st.session_state[day_key] >= last:
            st.session_state[PLAYING] = False
            st.rerun(scope="app")
        step(1)
    s1, s2, s3, s4, s5 = st.columns([1.2, 1.2, 8, 1.2, 1.2], vertical_alignment="bottom")
    s1.button("−7 d", on_click=step, args=(-7,), help="one week earlier", width="stretch")
    s2.button("−1 d", on_click=step, args=(-1,), help="one day earlier", width="stretch")
    with s3:
        day = st.slider(
            "Forecast day T (test period)",
            min_value=first,
            max_value=last,
            key=day_key,
            step=timedelta(days=1),
            format="YYYY-MM-DD",
        )
    s4.button("+1 d", on_click=step, args=(1,), help="one day later", width="stretch")
    s5.button("+7 d", on_click=step, args=(7,), help="one week later", width="stretch")
    FORECAST_DAY.remember()
    threshold = threshold_slider()

    lead, horizon = data_a.protocol.lead_days, data_a.protocol.horizon_days
    st.markdown(
        f"#### Forecast made on **{day}** for **{day + timedelta(days=lead)} … "
        f"{day + timedelta(days=horizon - 1)}**"
    )
    gain = mode != "probability"
    height = 680 if presentation() else 620

    def panel(card: ModelCard, height: int, zoom: float) -> None:
        key = f"deck_{'gain' if gain else 'prob'}_{card.name}"
        map_panel(
            card, catalog, fingerprint, day, threshold, key=key, height=height, zoom=zoom, gain=gain
        )

    if card_b is None:
        panel(card_a, height, zoom=3.75)
    else:
        left, right = st.columns(2)
        with left:
            panel(card_a, height - 40, zoom=3.45)
        with right:
            panel(card_b, height - 40, zoom=3.45)
    legend(gain)


p1, p2 = st.columns([1.3, 10], vertical_alignment="center")
p1.button(
    "⏸ Pause" if playing else "▶ Play",
    on_click=toggle_play,
    key="map_play",
    type="primary" if playing else "secondary",
    help="Step through the days on their own, four a second (e.g. through March 2011).",
    width="stretch",
)
p2.caption(
    "Play shows one forecast day after the other, four a second, until Pause or the end "
    "of the test period."
    if not playing
    else "Playing: one day every quarter second. Pause to stop."
)
st.fragment(day_view, run_every=FRAME_S if playing else None)()
st.caption(f"Forecasts from the loaded catalog: {plain(fit.label)}.")
show_others(fit)
