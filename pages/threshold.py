"""Threshold trade-off: move the alarm threshold and see hits, misses, false alarms and the
operating point on ROC, PR and Molchan curves — all from the saved operating curve."""

from __future__ import annotations

from datetime import date

import streamlit as st

from pages.common import (
    choose_model,
    colors,
    current_catalog,
    curves,
    ensure_navigation,
    fmt_threshold,
    forecast_data,
    good_cards,
    keep,
    model,
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
from quake.service.workspace import alarm_budget_table, operating_row, threshold_for_alarm_fraction
from quake.viz import (
    forecast_deck,
    legend_html,
    misses_figure,
    molchan_figure,
    operating_points,
    pr_figure,
    roc_figure,
)
from quake.viz.maps import PROB_RANGE
from quake.viz.style import MAP_SWATCHES, YLORRD, fmt_count
from quake.viz.text import plain

ensure_navigation()

page_header(
    "Threshold trade-off",
    "An alarm is raised for a cell-day when the forecast probability reaches the threshold. "
    "A lower threshold catches more quakes (fewer misses) at the price of more false alarms. "
    "Counts are over every cell and day of the test period.",
)

models = good_cards()
if not models:
    need_models()
    st.stop()
scored = [c for c in models if c.has_curves]
if not scored:
    st.info(
        "No saved model has operating curves (`curves.json`) yet. Score one with "
        "`python -m quake evaluate`, or train one on the Models page (it is scored when saved)."
    )
    st.stop()

c1, c2, c3 = st.columns([2, 1, 1])
with c1:
    card = choose_model("Model", scored, "model_a", prefer_fast=True)
with c2:
    mask = st.radio(
        "Cells",
        ["all", "active"],
        key=keep("mask", "all"),
        horizontal=True,
        help="active: cells with at least one event before the test period.",
    )
    remember("mask")
with c3:
    budget = st.toggle(
        "Alarm-budget mode",
        key=keep("budget_mode", False),
        help="Fix the share of cell-days alarmed and compare misses across models.",
    )
    remember("budget_mode")
assert card is not None

try:
    curve = curves(card).get("test", {}).get(mask)
except QuakeError as err:
    st.error(str(err))
    st.stop()
if curve is None:
    st.warning(f"{plain(card.name)} has no test-period curve for the '{mask}' mask.")
    st.stop()

palette = colors()


def trade_off() -> None:
    """Everything the threshold moves. A fragment: moving the slider reruns only this part."""
    if budget:
        FRACTIONS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2]
        fraction = st.select_slider(
            "Alarm budget: share of cell-days alarmed",
            options=FRACTIONS,
            format_func=lambda f: f"{f:.2%}",
            key=keep("budget", 0.01),
        )
        remember("budget")
        threshold = threshold_for_alarm_fraction(curve, fraction)
        st.caption(
            f"{plain(card.name)} reaches this budget at threshold {fmt_threshold(threshold)}."
        )
    else:
        fraction = None
        threshold = threshold_slider()

    row = operating_row(curve, threshold)
    m = st.columns(6)
    m[0].metric("hits (TP)", fmt_count(row["tp"]), help=f"{row['tp']:,} target cell-days alarmed")
    m[1].metric(
        "misses (FN)", fmt_count(row["fn"]), help=f"{row['fn']:,} target cell-days not alarmed"
    )
    m[2].metric(
        "false alarms (FP)", fmt_count(row["fp"]), help=f"{row['fp']:,} quiet cell-days alarmed"
    )
    m[3].metric("quiet, no alarm (TN)", fmt_count(row["tn"]), help=f"{row['tn']:,} cell-days")
    m[4].metric("alarm fraction", f"{row['alarm_fraction']:.3%}", help="share of cell-days alarmed")
    m[5].metric(
        "precision",
        f"{row['precision']:.3%}" if row["tp"] + row["fp"] else "—",
        help="share of alarms followed by a target quake",
    )
    st.caption(
        f"{plain(card.name)}, Mc {card.mc:.1f}, {mask} cells, test period: "
        f"{curve.n_positive:,} target "
        f"cell-days among {curve.n_pairs:,}. Counts at bin edge {fmt_threshold(row['edge'])}."
    )

    # -- curves -------------------------------------------------------------------------------
    one = {card.name: curve}
    pts = operating_points(one, {card.name: threshold})
    pres = presentation()
    g1, g2, g3 = st.columns(3)
    with g1:
        st.plotly_chart(roc_figure(one, palette, pts["roc"], pres), key="roc")
    with g2:
        st.plotly_chart(pr_figure(one, palette, pts["pr"], pres), key="pr")
    with g3:
        st.plotly_chart(molchan_figure(one, palette, pts["molchan"], pres), key="molchan")

    # -- alarm budget across models -----------------------------------------------------------
    if budget and fraction is not None:
        same = [c for c in scored if c.mc == card.mc]
        comp = {}
        for c in same:
            cv = curves(c).get("test", {}).get(mask)
            if cv is not None:
                comp[c.name] = cv
        table = alarm_budget_table(comp, fraction)
        st.subheader(f"Misses at the same alarm budget (Mc {card.mc:.1f}, {mask} cells)")
        a, b = st.columns([3, 2])
        with a:
            st.plotly_chart(misses_figure(table, palette, fraction, pres), key="misses")
        with b:
            st.dataframe(
                table[["model", "threshold", "tp", "fn", "fp", "miss_rate", "precision"]],
                hide_index=True,
                width="stretch",
                column_config={
                    "threshold": st.column_config.NumberColumn(format="%.2e"),
                    "miss_rate": st.column_config.NumberColumn("miss rate", format="%.3f"),
                    "precision": st.column_config.NumberColumn(format="%.4f"),
                },
            )

    # -- the map ------------------------------------------------------------------------------
    st.subheader("Alarmed cells on the map")
    catalog, fingerprint, cat_error = current_catalog()
    if catalog is None or fingerprint is None:
        st.info("Load a catalog on the Catalog page to see the alarmed cells of a forecast day.")
        return
    try:
        mdl = model(card)
        data = forecast_data(catalog, fingerprint, float(card.mc or 5.0), mdl.protocol)
        test = data.protocol.period("test")
        day = st.session_state.get("forecast_day") or date(2011, 3, 1)
        day = min(max(day, test.start), test.end)
        t = data.protocol.date_to_day(day)
        probs = forecast_for_day(card, mdl, data, t)
        pri = prior(data, final=True)
    except ForecastPending as pending:
        show_pending(pending, card.name)
        return
    except QuakeError as err:
        st.error(f"Cannot draw the map: {plain(err, 400)}")
        return
    except Exception as err:  # a model's own failure must not take the page down
        st.error(
            f"Cannot draw the map: {plain(card.name)} failed "
            f"({type(err).__name__}: {plain(err, 400)})"
        )
        return
    window = mark_hits(window_events(catalog, data, t), probs, threshold)
    cells = map_cells(card, data, t, "probability", probs, pri)
    deck, sel = forecast_deck(
        data.grid, cells, threshold=threshold, window=window, mc=data.mc, zoom=3.75
    )
    n_alarm = int((probs >= threshold).sum())
    st.caption(
        f"Forecast day {day} (change it on the Forecast map page): {n_alarm:,} alarmed cells; "
        f"{int(window['hit'].sum())} of {len(window)} quakes M≥{data.mc:.1f} in its window hit. "
        "Faded cells are below the threshold."
    )
    st.pydeck_chart(deck, height=640 if pres else 600, key="threshold_deck")
    st.html(
        legend_html(
            "probability (log scale)",
            *PROB_RANGE,
            ramp=YLORRD,
            presentation=pres,
            extra=MAP_SWATCHES,
        )
    )


st.fragment(trade_off)()
