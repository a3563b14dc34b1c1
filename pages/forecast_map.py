"""Forecast map: one model's (or two models') probabilities on a chosen forecast day T,
with the quakes of T+10 … T+49 marked hit or missed at the current threshold."""

from __future__ import annotations

from datetime import date, timedelta

import streamlit as st

from pages.common import (
    choose_model,
    current_catalog,
    ensure_navigation,
    fmt_threshold,
    forecast_data,
    good_cards,
    keep,
    model,
    need_catalog,
    need_models,
    page_header,
    presentation,
    prior,
    remember,
    threshold_slider,
)
from pages.forecasting import (
    ForecastPending,
    forecast_for_day,
    map_cells,
    show_pending,
    window_events,
)
from quake.errors import QuakeError
from quake.service.forecast_cache import mark_hits
from quake.service.workspace import ModelCard
from quake.viz import forecast_deck, legend_html
from quake.viz.maps import GAIN_RANGE, PROB_RANGE
from quake.viz.style import MAP_SWATCHES, RDBU, YLORRD
from quake.viz.text import plain

ensure_navigation()

page_header(
    "Forecast map",
    "Each 10 km cell is coloured by the model's probability that a quake of magnitude ≥ Mc "
    "strikes it 10 to 50 days after the forecast day T. Dots are the quakes that then "
    "happened: blue = hit (its cell was alarmed), black ring = missed.",
)

catalog, fingerprint, cat_error = current_catalog()
models = good_cards()
if not models:
    need_models()
    st.stop()
if catalog is None or fingerprint is None:
    need_catalog("The map forecasts from the catalog's events.", cat_error)
    st.stop()

c1, c2, c3 = st.columns([2, 2, 2])
with c1:
    card_a = choose_model("Model", models, "model_a", prefer_fast=True)
with c2:
    card_b = choose_model(
        "Side by side with", [c for c in models if c is not card_a], "model_b", allow_none=True
    )
with c3:
    mode = st.radio(
        "Colour by",
        ["probability", "gain over the prior"],
        key=keep("map_mode", "probability"),
        horizontal=True,
        help="Gain = the model's probability divided by the naive prior of the same cell.",
    )
    remember("map_mode")
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
day_key = keep("forecast_day", date(2011, 3, 1) if first <= date(2011, 3, 1) <= last else first)
if not first <= st.session_state[day_key] <= last:
    st.session_state[day_key] = first


def step(days: int) -> None:
    d = st.session_state[day_key] + timedelta(days=days)
    st.session_state[day_key] = min(max(d, first), last)
    st.session_state["forecast_day"] = st.session_state[day_key]


def draw(card: ModelCard, t: int, threshold: float, gain: bool, height: int, zoom: float) -> None:
    """One model's map of forecast day t with its metrics."""
    try:
        m = model(card)
        data = forecast_data(catalog, fingerprint, float(card.mc or 5.0), m.protocol)
        probs = forecast_for_day(card, m, data, t)
        pri = prior(data, final=True)
    except ForecastPending as pending:
        st.markdown(f"**{plain(card.name)}** · Mc {card.mc or 0:.1f}")
        show_pending(pending, card.name)
        return
    except QuakeError as err:
        st.error(f"{plain(card.name)}: cannot forecast ({plain(err, 400)}).")
        return
    except Exception as err:  # a model's own failure must not take the page down
        st.error(
            f"{plain(card.name)}: forecasting failed ({type(err).__name__}: {plain(err, 400)})."
        )
        return
    window = mark_hits(window_events(catalog, data, t), probs, threshold)
    cells = map_cells(card, data, t, "gain" if gain else "probability", probs, pri)
    deck, sel = forecast_deck(
        data.grid, cells, threshold=threshold, window=window, mc=data.mc, zoom=zoom
    )
    n_hit = int(window["hit"].sum())
    n_alarm = int((probs >= threshold).sum())
    st.markdown(f"**{plain(card.name)}** · Mc {data.mc:.1f}")
    st.pydeck_chart(deck, height=height, key=f"deck_{'gain' if gain else 'prob'}_{card.name}")
    a, b, c = st.columns(3)
    lead, last = data.protocol.lead_days, data.protocol.horizon_days - 1
    when = f"M ≥ {data.mc:.1f} in days T+{lead} … T+{last}"
    a.metric("quakes hit", n_hit, help=f"{when}, in an alarmed cell")
    b.metric("quakes missed", len(window) - n_hit, help=f"{when}, in a cell not alarmed")
    c.metric("alarmed cells", f"{n_alarm:,}", help=f"cells with P ≥ {fmt_threshold(threshold)}")
    if card.fingerprint and card.fingerprint != fingerprint:
        st.caption("Fitted on another catalog; these forecasts use the loaded one.")
    st.caption(
        f"Drawn: the {len(sel.cells):,} most likely cells of "
        f"{sel.n_above_floor:,} with P ≥ 1e-5; cells below the threshold are faded."
    )


def day_view() -> None:
    """Day, threshold and maps. A fragment: stepping the day reruns only this part."""
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
    remember("forecast_day")
    threshold = threshold_slider()

    t = data_a.protocol.date_to_day(day)
    lead, horizon = data_a.protocol.lead_days, data_a.protocol.horizon_days
    st.markdown(
        f"#### Forecast made on **{day}** for **{day + timedelta(days=lead)} … "
        f"{day + timedelta(days=horizon - 1)}**"
    )
    gain = mode != "probability"
    height = 680 if presentation() else 620
    if card_b is None:
        draw(card_a, t, threshold, gain, height, zoom=3.75)
    else:
        left, right = st.columns(2)
        with left:
            draw(card_a, t, threshold, gain, height - 40, zoom=3.45)
        with right:
            draw(card_b, t, threshold, gain, height - 40, zoom=3.45)

    if gain:
        legend = legend_html(
            "gain over the naive prior (P / prior, log scale)",
            *GAIN_RANGE,
            ramp=RDBU,
            presentation=presentation(),
            extra=MAP_SWATCHES,
        )
    else:
        legend = legend_html(
            "probability of a target quake in the cell (log scale)",
            *PROB_RANGE,
            ramp=YLORRD,
            presentation=presentation(),
            extra=MAP_SWATCHES,
        )
    st.html(legend)


st.fragment(day_view)()
