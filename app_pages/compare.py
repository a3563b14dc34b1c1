"""Compare: Table II (with mainshock columns) for every saved model, overlaid ROC / PR /
Molchan curves, and from the stored scoring summaries: scores with 95 % intervals, pairwise
information gains, the gain per window, reliability diagrams and the N-test, for slides."""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

from app_pages.ui.catalog_fit import catalog_models, no_fitting_models, show_others
from app_pages.ui.loaders import colors, curves, good_cards, mtime
from app_pages.ui.state import COMPARE_MC, MASK, presentation
from app_pages.ui.widgets import need_models, page_header
from quake.errors import QuakeError
from quake.metrics import csep
from quake.models.store import CURVES_FILE, ModelCard
from quake.models.store.summaries import ScoringSummary
from quake.scoring import compare_views as views
from quake.scoring.compare import load_summaries
from quake.scoring.seeds import fold_seeds
from quake.scoring.sweeps import member_names
from quake.scoring.tables import default_curves, scores_table
from quake.service.workspace import models_signature, same_catalog
from quake.settings import models_dir
from quake.viz import compare_charts as charts
from quake.viz import molchan_figure, pr_figure, roc_figure
from quake.viz.text import csv_safe, plain

fit = catalog_models()  # models of another catalog's grid or dates are listed apart
proto = fit.protocol
page_header(
    "Compare",
    "All saved models on the "
    + (
        f"test period of the loaded catalog's protocol ({proto.period('test').start} … "
        f"{proto.period('test').end}, {plain(proto.name)})"
        if proto
        else "test period of their protocol"
    )
    + ": areas under the ROC and precision–recall curves for all cells and for active cells "
    "(cells with an event before the test period), and the probability gain when 1 % of "
    "cell-days are alarmed (how many times more targets than a random alarm of the same "
    "size). Below: the curves, whether a difference is real (95 % intervals, CSEP tests) and "
    "whether the probabilities are right (reliability).",
)
if not good_cards():
    need_models()
    st.stop()
models = fit.fitting
if not models:
    no_fitting_models(fit)
    st.stop()
pres = presentation()
palette = colors()


@st.cache_resource(show_spinner="Reading the scoring summaries…", max_entries=4)
def _summaries(
    folders: tuple[str, ...], signature: tuple
) -> tuple[dict[str, ScoringSummary], dict[str, str]]:
    # shared, never mutated; re-read when a scoring.json / .safetensors changes (signature)
    return load_summaries([Path(f) for f in folders])


@st.cache_data(show_spinner="Bootstrapping the intervals…", max_entries=16)
def _interval_points(_s: dict, key: tuple, score: str, mask: str) -> list[dict]:
    return views.interval_points(_s, score, mask)


@st.cache_data(show_spinner="Comparing every pair of models…", max_entries=8)
def _gain_matrix(_s: dict, key: tuple) -> dict:
    return views.gain_matrix(_s)


def side_by_side(spec, **kwargs) -> list:
    """``st.columns(spec)``, but stacked containers on a projector (presentation mode):
    side by side at 1280 x 720 a chart was ~350 px wide, its axis titles cut."""
    n = spec if isinstance(spec, int) else len(spec)
    return [st.container() for _ in range(n)] if pres else list(st.columns(spec, **kwargs))


def html_download(where, fig: go.Figure, label: str, file_name: str, key: str) -> None:
    """A self-contained HTML download of ``fig`` (plotly.js embedded), built on click."""
    where.download_button(
        label,
        data=lambda fig=fig: charts.figure_html(fig, file_name.removesuffix(".html")),
        file_name=file_name,
        mime="text/html",
        icon=":material/download:",
        key=key,
        on_click="ignore",
    )


def export(fig: go.Figure, stem: str, key: str) -> None:
    """A figure on the page with its HTML and CSV downloads (the camera button: PNG)."""
    st.plotly_chart(fig, key=f"cmp_{key}", config=charts.EXPORT_CONFIG)
    a, b = st.columns(2)
    html_download(a, fig, "Figure (HTML)", f"quake_{stem}.html", f"dl_{key}")
    b.download_button(
        "Numbers (CSV)",
        data=lambda fig=fig: charts.figure_csv(fig).encode(),
        file_name=f"quake_{stem}.csv",
        mime="text/csv",
        icon=":material/download:",
        key=f"csv_{key}",
        on_click="ignore",
    )


def rescore_hint(cards: list[ModelCard]) -> str:
    """The command that writes the missing summaries."""
    here = Path.cwd()
    paths = [
        str(c.folder.relative_to(here)) if c.folder.is_relative_to(here) else str(c.folder)
        for c in cards
    ]
    return "python scripts/rescore.py " + " ".join(p.replace("`", "") for p in paths)


summaries, summary_errors = _summaries(
    tuple(str(c.folder) for c in models), models_signature(models_dir())
)

table = fold_seeds(scores_table(models), models)  # a seed sweep: one row, mean ± sd
extra = [views.mainshock_columns(summaries[n]) if n in summaries else {} for n in table["model"]]
for col in sorted({k for e in extra for k in e}, key=lambda k: ("PR" in k, "active" in k)):
    table[col] = [e.get(col, float("nan")) for e in extra]
table["scored on"] = [
    "the loaded catalog" if same_catalog(c, fit.fingerprint) else f"{(c.fingerprint or '?')[:12]}…"
    for c in (next(m for m in models if m.name == n) for n in table["model"])
]
st.subheader("Table II: scores on the test period")
st.caption(
    f"Models fitted on the loaded catalog's grid and dates ({plain(fit.label)}"
    + (f", protocol {plain(fit.protocol.name)}" if fit.protocol else "")
    + "); each score is of the catalog in its 'scored on' column."
    + (
        " The 'mainshocks' columns score the same forecasts against declustered targets "
        "(Gardner–Knopoff mainshocks ≥ Mc): a model that only forecasts aftershocks loses "
        "most there. Blank: no stored scoring summary for that model yet."
        if any(extra)
        else ""
    )
)
num = {
    c: st.column_config.NumberColumn(format="%.4g")
    for c in table.columns[3:-1]
    if c != "seeds" and not c.endswith("over seeds")
}
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
st.caption(
    "Each model is scored at its own Mc; compare models within one Mc only. A network trained "
    "with several seeds is one row: the scores of its first model, and the mean ± sample sd "
    "over its seeds ('over seeds')."
)
show_others(fit)

st.subheader("Curves, intervals and CSEP tests")
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

at_mc = [c for c in models if c.mc == mc]
# A seed sweep's members but the first are not drawn by default nor tested below: the first
# stands for the sweep (Table II has the spread over seeds).
seeds_apart = member_names(models)
available = {}
for c in at_mc:
    try:
        cv = curves(c).get("test", {}).get(mask)
    except QuakeError as err:
        st.warning(f"{plain(c.name)}: {plain(err, 400)}")
        continue
    if cv is not None:
        available[c.name] = cv
shown: list[str] = []
if not available:
    st.info(f"No model at Mc {mc} has saved curves for the '{mask}' mask.")
else:
    shown = st.multiselect(
        "Models on the curves",
        list(available),
        default=default_curves({n: c for n, c in available.items() if n not in seeds_apart}),
        key=f"compare_models_{mc}_{mask}",
        help="Fewer curves read better on a slide; the table above keeps every model. "
        "Default: the naive baseline and the five best by PR AUC.",
    )
chosen = {name: cv for name, cv in available.items() if name in shown}
suffix = f" — Mc {mc:.1f}, {mask} cells"


CURVES = {
    "roc": (
        "ROC",
        roc_figure,
        "ROC curve",
        "The share of target cell-days caught (true-positive rate) against the share of quiet "
        "cell-days alarmed (false-positive rate) as the threshold falls. The dotted diagonal is "
        "a random forecast; ROC AUC is the area under the curve.",
    ),
    "pr": (
        "Precision–recall",
        pr_figure,
        "Precision–recall",
        "Precision (the share of alarmed cell-days that were targets, log scale) against recall "
        "(the share of targets caught). A random forecast stays at the base rate (dotted); PR "
        "AUC rewards a model that gives its highest probabilities to the cells that do have a "
        "target, so it separates models that ROC AUC ranks alike.",
    ),
    "molchan": (
        "Molchan",
        molchan_figure,
        "Molchan diagram",
        "Molchan's error diagram: the miss rate ν against the share τ of all cell-days alarmed "
        "(log scale). A random forecast lies on ν = 1 − τ (dotted); lower is better. The "
        "probability gain at τ is (1 − ν) / τ, how many times more targets are caught than by "
        "a random alarm of the same size (Table II gives it at τ = 1 %).",
    ),
}
"""The operating-curve tabs: tab label, figure function, figure title, how to read it."""


@st.cache_resource(show_spinner=False, max_entries=12)  # shared, never mutated
def _curve_figure(
    kind: str, key: tuple, mask: str, pres: bool, suffix: str, _chosen: dict, _palette: dict
) -> go.Figure:
    """The ROC, precision-recall or Molchan figure (``kind``) of the chosen curves. Cached:
    building and validating the three was ~0.1 s of every run of this page (stop 21).
    ``key``: each chosen model's name, curves.json time and colour."""
    _, draw, title, _ = CURVES[kind]
    # the figure's column holds two legend entries a row (one at a projector's font size)
    cols = 1 if pres else 2
    return draw(_chosen, _palette, presentation=pres, title=title + suffix, legend_columns=cols)


def draw_curve(kind: str) -> None:
    """One operating curve of the chosen models, a guide to reading it and its HTML download.
    One figure a tab: each plotly chart costs the browser ~0.1 s to draw (docs/BROWSER.md)."""
    if available and not chosen:
        st.info("Pick at least one model to draw its curves.")
    elif chosen:
        cards = {c.name: c for c in at_mc}
        key = tuple(
            (str(cards[n].folder), mtime(cards[n].folder, CURVES_FILE), palette.get(n, ""))
            for n in chosen
        )
        fig = _curve_figure(kind, key, mask, pres, suffix, chosen, palette)
        label, _, _, guide = CURVES[kind]
        if kind == "roc":
            guide += " " + views.rarity_statement(next(iter(chosen.values())))
        left, right = side_by_side([3, 2], gap="large")
        left.plotly_chart(fig, key=f"cmp_{kind}", config=charts.EXPORT_CONFIG)
        right.caption(guide)
        html_download(
            right,
            fig,
            f"Download the {label} figure (HTML)",
            f"quake_{kind}_m{mc:.1f}_{mask}.html",
            f"dl_{kind}",
        )
        right.caption(
            "The HTML figure is self-contained (plotly.js embedded): it opens offline on a "
            "laptop. The figure's camera button saves a PNG for slides."
        )


# -- is the difference real? ------------------------------------------------------------------
tested = [c for c in at_mc if c.name not in seeds_apart]
here = {c.name: summaries[c.name] for c in tested if c.name in summaries}
lacking = [c for c in tested if c.name not in summaries]
refused = [c for c in lacking if (c.folder / "scoring.json").is_file()]
absent = [c for c in lacking if c not in refused]
if absent:
    st.info(
        f"No intervals yet for {', '.join(plain(c.name) for c in absent)}: run "
        f"`{rescore_hint(absent)}` (one scoring pass over the test period per model)."
    )
for c in refused:
    st.warning(
        f"{plain(c.name)}: its scoring summary was refused ({plain(summary_errors[c.name], 300)}). "
        f"Write it again with `{rescore_hint([c])}`."
    )
key = (tuple(sorted(here)), models_signature(models_dir()), mc)
# Lazy tabs: only the open tab runs and is sent (every tab drawn at once was most of this
# page's time in the browser); the choice is kept while the page is open.
# One operating curve a tab, too: three charts at once were ~0.2 s of every switch to this page.
TABS = [label for label, *_ in CURVES.values()]
TABS += ["Intervals", "Pairwise gains", "Gain over time", "Reliability", "N-test"]
*curve_tabs, intervals_tab, pairs_tab, time_tab, reliability_tab, ntest_tab = st.tabs(
    TABS, key="cmp_tab", on_change="rerun"
)
for tab, kind in zip(curve_tabs, CURVES, strict=True):
    with tab:
        if tab.open:
            draw_curve(kind)
with intervals_tab:
    if intervals_tab.open:
        if not here:
            st.info(f"No model at Mc {mc:.1f} has a stored scoring summary.")
        else:
            st.caption(
                "Is the difference real? Each score with its 95 % interval from a block "
                "bootstrap (1,000 seeded resamples of the forecast days, drawn up to 150 "
                "consecutive days at a time, since neighbouring days share targets; "
                "percentiles widened for the few independent draws, as simulation showed "
                "plain ones too narrow): "
                "overlapping whiskers mean the ordering may be noise. Paired differences are "
                "in `python -m quake compare`."
            )
            for m in ("all", "active"):
                cols = side_by_side(2)
                for col, (score, title) in zip(cols, views.SCORES.items(), strict=True):
                    rows = _interval_points(here, key, score, m)
                    with col:
                        if not rows:
                            st.info(f"No summary has the '{m}' mask.")
                            continue
                        fig = charts.intervals_figure(
                            rows, palette, title, pres, f"{title} — Mc {mc:.1f}, {m} cells"
                        )
                        export(fig, f"{score}_ci_m{mc:.1f}_{m}", f"ci_{score}_{m}")
NO_TARGETS = (
    f"The test windows hold fewer than 2 target cells of M ≥ {mc:.1f} (the catalog has too "
    "few events at this Mc in the test period): there is nothing to compare forecasts on."
)
few_targets = bool(here) and all(views.n_targets(s) < 2 for s in here.values())
with pairs_tab:
    if pairs_tab.open:
        if len(here) < 2:
            st.info("The pairwise matrix needs two models of this Mc with stored summaries.")
        elif few_targets:
            st.info(NO_TARGETS)
        else:
            mat = _gain_matrix(here, key)
            fig = charts.gain_matrix_figure(
                mat, pres, f"Information gain per target, row over column — Mc {mc:.1f}"
            )
            export(fig, f"gain_matrix_m{mc:.1f}", "gain_matrix")
            st.caption(
                "Information gain per target (Rhoades et al. 2011) of the row model over the "
                "column model, in nats, pooled over the non-overlapping 40-day windows: blue, the "
                "row model gives the observed target cells higher probability for the same total; "
                "a star (\\*) marks pairs where both the T-test and the W-test reject equal "
                "skill (p < 0.05). Hover for the "
                "95 % interval and p-values. Rows are ordered by their mean gain."
            )
with time_tab:
    if time_tab.open:
        if len(here) < 2:
            st.info("The gain over time needs two models of this Mc with stored summaries.")
        elif few_targets:
            st.info(NO_TARGETS)
        else:
            names = _gain_matrix(here, key)["names"]  # best first by mean gain
            refs = [n for n in names if n.startswith("naive")] + [
                n for n in names if n.startswith("etas")
            ]
            c1, c2 = st.columns(2)
            ref = c2.selectbox(
                "Reference",
                names,
                index=names.index(refs[0]) if refs else len(names) - 1,
                key="cmp_gain_ref",
                help="The naive prior or ETAS, the seismologists' reference, are the usual ones.",
            )
            others = [n for n in names if n != ref]
            model = c1.selectbox("Model", others, key="cmp_gain_model")
            total = st.radio(
                "Gain",
                ["whole window", "per target"],
                horizontal=True,
                key="cmp_gain_total",
                help="Per target: the mean over the window's target cells. Whole window: times "
                "its number of targets, so a window with a large sequence (Tohoku, March 2011) "
                "weighs as much as it counts in the pooled gain.",
            )
            g = views.gain_over_time(here[model], here[ref])
            proto = fit.protocol
            x = [proto.day_to_date(d) for d in g["start"]] if proto else g["start"]
            fig = charts.gain_time_figure(
                x,
                g["gain"],
                g["n_targets"],
                f"{model} over {ref}",
                pres,
                f"Information gain per window: {model} over {ref} — Mc {mc:.1f}",
                total=total == "whole window",
            )
            export(fig, f"gain_time_{model}_over_{ref}", "gain_time")
            best = views.largest_windows(
                x, g["gain"], g["n_targets"], total=total == "whole window"
            )
            st.caption(
                "Each bar: the information gain of one non-overlapping 40-day target window, "
                "placed at its forecast day T (its targets fall 10 to 49 days later), in all its "
                "targets or per target; the pooled "
                "gain per target is their sum over all targets. Largest |gain|: " + best + "."
            )
with reliability_tab:
    if reliability_tab.open:
        if not chosen:
            st.info("Pick models on the curves above to draw their reliability.")
        else:
            rel = {n: csep.reliability(cv) for n, cv in chosen.items()}
            fig = charts.reliability_figure(
                rel, palette, pres, f"Reliability — Mc {mc:.1f}, {mask} cells"
            )
            export(fig, f"reliability_m{mc:.1f}_{mask}", "reliability")
            st.caption(
                "Cell-days binned by their forecast probability (decades); each point: the bin's "
                "mean forecast against the share of its cell-days that were targets (marker size: "
                "number of cell-days; hover for counts). On the dotted diagonal the numbers are "
                "probabilities; below it they are too high. Bins with no target sit at the bottom."
            )
            for n, cv in chosen.items():
                st.markdown(f"- **{plain(n)}**: {plain(views.calibration_statement(cv), 400)}")
with ntest_tab:
    if ntest_tab.open:
        if not here:
            st.info(f"No model at Mc {mc:.1f} has a stored scoring summary.")
        else:
            names = list(here)
            c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
            model = c1.selectbox("Model", names, key="cmp_ntest_model")
            log = c2.toggle("Log count axis", value=True, key="cmp_ntest_log")
            w = views.ntest_windows(here[model])
            proto = fit.protocol
            x = [proto.day_to_date(d) for d in w["start"]] if proto else w["start"]
            fig = charts.ntest_figure(
                x,
                w,
                model,
                palette.get(model, "#0072B2"),
                pres,
                f"N-test per window: {model} — Mc {mc:.1f}",
                log=log,
            )
            export(fig, f"ntest_{model}", "ntest")
            st.caption(
                f"Positive cells in each 40-day window against the forecast's expected number "
                f"(sum of P) and its 95 % band (Poisson-binomial quantiles). {plain(model)}: "
                f"{w['too_low']} of {len(w['start'])} windows with more targets than the band "
                f"allows (forecast too low), {w['too_high']} with fewer (too high)."
            )
