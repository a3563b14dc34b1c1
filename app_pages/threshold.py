"""Threshold trade-off: move the alarm threshold and see hits, misses, false alarms and the
operating point on ROC, PR and Molchan curves — all from the saved operating curve."""

from __future__ import annotations

import math

import streamlit as st

from app_pages.ui.catalog_fit import catalog_models, no_fitting_models, score_origin, show_others
from app_pages.ui.forecasts import ForecastPending, show_pending
from app_pages.ui.loaders import colors, current_catalog, curves, good_cards
from app_pages.ui.map_panel import explorer_figure, explorer_map
from app_pages.ui.state import (
    BUDGET,
    BUDGET_MODE,
    FORECAST_DAY,
    MASK,
    MODEL_A,
    THRESHOLD,
    THRESHOLDS,
    presentation,
)
from app_pages.ui.viewport import narrow_layout
from app_pages.ui.widgets import choose_model, fmt_threshold, need_models, page_header
from quake.errors import QuakeError
from quake.scoring.compare_views import calibration_statement
from quake.scoring.tables import alarm_budget_table, operating_row, threshold_for_alarm_fraction
from quake.viz import misses_figure, molchan_figure, operating_points, pr_figure, roc_figure
from quake.viz.grid_plot import PIXELATED_CSS
from quake.viz.style import fmt_count
from quake.viz.text import plain

page_header(
    "Threshold trade-off",
    "An alarm is raised for a cell-day when the forecast probability reaches the threshold. "
    "A lower threshold catches more quakes (fewer misses) at the price of more false alarms. "
    "Counts are over every cell and day of the test period. The slider under the figure "
    "runs in your browser: counts, curve points and map follow at once.",
)

if not good_cards():
    need_models()
    st.stop()
fit = catalog_models()  # models fitted on another catalog's grid or dates are not offered
if not fit.fitting:
    no_fitting_models(fit)
    st.stop()
scored = [c for c in fit.fitting if c.has_curves]
if not scored:
    st.info(
        "No saved model has operating curves (`curves.json`) yet. Score one with "
        "`python -m quake evaluate`, or train one on the Models page (it is scored when saved)."
    )
    st.stop()

c1, c2, c3 = st.columns([2, 1, 1.3] if presentation() else [2, 1, 1])
with c1:
    card = choose_model("Model", scored, MODEL_A, prefer_fast=True)
with c2:
    mask = st.radio(
        "Cells",
        ["all", "active"],
        key=MASK.keep(),
        horizontal=True,
        help="active: cells with at least one event before the test period.",
    )
    MASK.remember()
with c3:
    budget = st.toggle(
        "Alarm-budget mode",
        key=BUDGET_MODE.keep(),
        help="Fix the share of cell-days alarmed and compare misses across models.",
    )
    BUDGET_MODE.remember()
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
pres = presentation()
st.caption(plain(calibration_statement(curve), 500))  # how far these are probabilities


def explorer() -> None:
    """The threshold explorer: its slider runs in the browser (no rerun per step)."""
    value = THRESHOLD.get()
    active = min(range(len(THRESHOLDS)), key=lambda i: abs(math.log10(THRESHOLDS[i] / value)))
    mapped, day, note = None, None, None
    catalog, fingerprint, _ = current_catalog()
    if catalog is None or fingerprint is None:
        note = "Load a catalog on the Catalog page to see the alarmed cells of a forecast day."
    else:
        try:
            mapped, day = explorer_map(card, catalog, fingerprint, FORECAST_DAY.get())
        except ForecastPending as pending:
            show_pending(pending, card.name)
        except QuakeError as err:
            note = f"Cannot draw the map: {plain(err, 400)}"
    color = palette.get(card.name, "#0072B2")
    fig = explorer_figure(card, mask, day, active, color, pres, mapped, narrow_layout())
    st.html(PIXELATED_CSS)  # the map's cells as sharp squares
    st.plotly_chart(fig, key="threshold_explorer", config={"displayModeBar": False})
    if note:
        st.info(note)
    st.caption(
        f"{score_origin(card, fit)} {plain(card.name)}, Mc {card.mc:.1f}, {mask} cells, test "
        f"period: {curve.n_positive:,} target cell-days among {curve.n_pairs:,}; counts at "
        "the operating curve's bin edge at or above the threshold. The map: forecast day "
        f"{day or '—'} (change it on the Forecast map page), every cell with P ≥ 1e-6 "
        "coloured, cells below the threshold faded; quakes of its window in grid cells only. "
        "This slider works in your browser; the Forecast map keeps its own threshold."
    )


def trade_off() -> None:
    """Alarm-budget mode: a share of cell-days alarmed, the misses of every model at it.
    A fragment: moving the budget reruns only this part."""
    FRACTIONS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2]
    fraction = st.select_slider(
        "Alarm budget: share of cell-days alarmed",
        options=FRACTIONS,
        format_func=lambda f: f"{f:.2%}",
        key=BUDGET.keep(),
    )
    BUDGET.remember()
    threshold = threshold_for_alarm_fraction(curve, fraction)
    st.caption(f"{plain(card.name)} reaches this budget at threshold {fmt_threshold(threshold)}.")
    row = operating_row(curve, threshold)
    # Three a row on a projector: six columns cut the numbers ("251,…") at its font size.
    m = st.columns(3) + st.columns(3) if presentation() else st.columns(6)
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
    one = {card.name: curve}
    pts = operating_points(one, {card.name: threshold})
    g1, g2, g3 = st.columns(3)
    with g1:
        st.plotly_chart(roc_figure(one, palette, pts["roc"], pres), key="roc")
    with g2:
        st.plotly_chart(pr_figure(one, palette, pts["pr"], pres), key="pr")
    with g3:
        st.plotly_chart(molchan_figure(one, palette, pts["molchan"], pres), key="molchan")
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


if budget:
    st.fragment(trade_off)()
else:
    explorer()
show_others(fit)
