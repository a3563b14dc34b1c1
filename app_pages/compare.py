"""Compare: Table II for every saved model and overlaid ROC / PR / Molchan curves, for slides."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from app_pages.ui.loaders import cards, colors, curves, good_cards
from app_pages.ui.state import COMPARE_MC, MASK, presentation
from app_pages.ui.widgets import need_models, page_header
from quake.errors import QuakeError
from quake.scoring.tables import default_curves, scores_table
from quake.viz import molchan_figure, pr_figure, roc_figure
from quake.viz.text import csv_safe, plain

page_header(
    "Compare",
    "All saved models on the protocol's test period (2011–2019 for japan-usgs-v1): areas under "
    "the ROC and precision–recall curves for all cells and for active cells (cells with an "
    "event before the test period), and the probability gain when 1 % of cell-days are "
    "alarmed (how many times more targets than a random alarm of the same size).",
)
models = good_cards()
if not models:
    need_models()
    st.stop()
pres = presentation()
palette = colors()

table = scores_table(cards())
st.subheader("Table II: scores on the test period")
num = {c: st.column_config.NumberColumn(format="%.4g") for c in table.columns[3:]}
st.dataframe(
    table,
    hide_index=True,
    width="stretch",
    column_config={"Mc": st.column_config.NumberColumn(format="%.1f"), **num},
)
st.download_button(
    "Download the table (CSV)",
    data=csv_safe(table).to_csv(index=False).encode(),  # no spreadsheet formulas
    file_name="quake_table2.csv",
    mime="text/csv",
    icon=":material/download:",
)
st.caption("Each model is scored at its own Mc; compare models within one Mc only.")

st.subheader("Curves")
mcs = sorted({c.mc for c in models if c.mc is not None}, reverse=True)
a, b = st.columns(2)
with a:
    mc = st.radio(
        "Mc",
        mcs,
        key=COMPARE_MC.keep(mcs[0] if mcs else 5.0),
        horizontal=True,
        format_func=lambda v: f"M ≥ {v:.1f}",
    )
    COMPARE_MC.remember()
with b:
    mask = st.radio("Cells", ["all", "active"], key=MASK.keep(), horizontal=True)
    MASK.remember()

chosen = {}
for c in models:
    if c.mc != mc:
        continue
    try:
        cv = curves(c).get("test", {}).get(mask)
    except QuakeError as err:
        st.warning(f"{plain(c.name)}: {plain(err, 400)}")
        continue
    if cv is not None:
        chosen[c.name] = cv
if not chosen:
    st.info(f"No model at Mc {mc} has saved curves for the '{mask}' mask.")
    st.stop()
shown = st.multiselect(
    "Models on the curves",
    list(chosen),
    default=default_curves(chosen),
    key=f"compare_models_{mc}_{mask}",
    help="Fewer curves read better on a slide; the table above keeps every model. "
    "Default: the naive baseline and the five best by PR AUC.",
)
chosen = {name: cv for name, cv in chosen.items() if name in shown}
if not chosen:
    st.info("Pick at least one model to draw its curves.")
    st.stop()

suffix = f" — Mc {mc:.1f}, {mask} cells"
figs: dict[str, go.Figure] = {
    "roc": roc_figure(chosen, palette, presentation=pres, title="ROC curve" + suffix),
    "pr": pr_figure(chosen, palette, presentation=pres, title="Precision–recall" + suffix),
    "molchan": molchan_figure(chosen, palette, presentation=pres, title="Molchan diagram" + suffix),
}
cols = st.columns(3)
for col, (name, fig) in zip(cols, figs.items(), strict=True):
    with col:
        st.plotly_chart(fig, key=f"cmp_{name}")
        st.download_button(
            f"Download {name.upper() if name != 'molchan' else 'Molchan'} figure (HTML)",
            data=lambda fig=fig: fig.to_html(include_plotlyjs=True, full_html=True).encode(),
            file_name=f"quake_{name}_m{mc:.1f}_{mask}.html",
            mime="text/html",
            icon=":material/download:",
            key=f"dl_{name}",
            on_click="ignore",
        )
st.caption("HTML figures are self-contained (plotly.js embedded): they open offline on a laptop.")
