"""Models: every saved model's card, training a new one (live curves, cancellable), deleting."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from app_pages.ui.loaders import (
    cards,
    colors,
    completeness,
    current_catalog,
    forecast_data,
    mc_options,
    training_slots,
    try_protocol,
)
from app_pages.ui.state import (
    CONFIRM_DELETE,
    DELETE_ERROR,
    DELETED,
    JOB_SEEN,
    MC,
    TRAIN_JOB,
    TRAIN_KIND,
    TRAIN_MC,
    TRAININGS,
    presentation,
)
from app_pages.ui.viewport import narrow_layout
from app_pages.ui.widgets import need_catalog, page_header
from quake.errors import QuakeError
from quake.models import kinds
from quake.models.store import ModelCard
from quake.models.store.files import NAME_RE
from quake.scoring.seeds import spread_text
from quake.scoring.sweeps import by_first, member_names, seed_groups
from quake.service.folders import NAME_RULE, claim, delete_model, new_model_name
from quake.service.forecast_cache import drop_cached
from quake.service.jobs import (
    TrainingJob,
    TrainSpec,
    eta_text,
    is_neural,
    make_runner,
    preset_defaults,
    presets,
    training_device,
)
from quake.service.workspace import catalog_mismatch
from quake.settings import models_dir, readonly
from quake.viz import training_figure
from quake.viz.text import plain

STAGES = {
    "fit": "fitting",
    "train": "training",
    "validation": "validation",
    "score test": "scoring the test period",
    "score validation": "scoring the validation period",
}

page_header(
    "Models",
    "Every saved model in `models/` with its card: what it is, what it was fitted on, how long "
    "it took, and its scores on the protocol's test period. Train a new one or delete one.",
)
catalog, fingerprint, cat_error = current_catalog()
loaded_proto = try_protocol(catalog, fingerprint)[0] if catalog and fingerprint else None
all_cards = cards()
palette = colors()


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "—"
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def score_rows(card: ModelCard) -> list[dict]:
    """The test scores of a card, one row per mask (plain rows: a DataFrame per card cost
    ~3 ms, most of the Models page's run with 30 cards)."""
    rows = []
    for mask in ("all", "active"):
        gain = card.scores.get("test", {}).get(mask, {}).get("probability_gain") or {}
        rows.append(
            {
                "cells": "all cells" if mask == "all" else "active cells",
                "ROC AUC": card.score("roc_auc", "test", mask),
                "PR AUC": card.score("pr_auc", "test", mask),
                "gain @1%": gain.get("0.01") if isinstance(gain, dict) else None,
            }
        )
    return rows


def score_table(card: ModelCard) -> str:
    """`score_rows` as a Markdown table, numbers to 4 significant digits ("—" if none)."""

    def cell(v: object) -> str:
        return f"{v:.4g}" if isinstance(v, int | float) and v == v else "—"

    rows = ["| cells | ROC AUC | PR AUC | gain @1% |", "|:--|--:|--:|--:|"]
    for r in score_rows(card):
        rows.append(
            f"| {r['cells']} | {cell(r['ROC AUC'])} | {cell(r['PR AUC'])} | {cell(r['gain @1%'])} |"
        )
    return "\n".join(rows)


def params_frame(card: ModelCard) -> pd.DataFrame:
    """The fitted parameters with their standard errors (numbers only; text shown as text)."""

    def number(x: object) -> float | None:
        return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None

    se = card.standard_errors
    rows = [
        {"parameter": str(k), "value": number(x), "standard error": number(se.get(k))}
        for k, x in card.params.items()
        if number(x) is not None
    ]
    return pd.DataFrame(rows, columns=["parameter", "value", "standard error"])


def seeds_line(sweep: list[ModelCard]) -> str:
    """``"Over 3 seeds (this model, NAME-s1, NAME-s2), test, all cells: ROC AUC 0.8871 ±
    0.0006, PR AUC 0.00404 ± 0.00003"``: the sweep's mean ± sample sd."""
    parts = [
        f"ROC AUC {spread_text(sweep, 'roc_auc', 4)}",
        f"PR AUC {spread_text(sweep, 'pr_auc', 5)}",
    ]
    others = ", ".join(plain(c.name) for c in sweep[1:])
    return f"Over {len(sweep)} seeds (this model, {others}), test, all cells: " + ", ".join(parts)


def card_label(card: ModelCard) -> str:
    """One line for a folded card (a phone): name, Mc and the test scores, all cells."""
    if card.error:
        return f"{plain(card.name)} · cannot be used"
    mc = f"Mc {card.mc:.1f}" if card.mc is not None else "Mc —"
    roc, pr = card.score("roc_auc"), card.score("pr_auc")
    scores = f" · ROC {roc:.3f} · PR {pr:.4f}" if roc is not None and pr is not None else ""
    return f"{plain(card.name)} · {mc}{scores}"


def show_card(card: ModelCard, sweep: list[ModelCard] | None = None, folded: bool = False) -> None:
    """A model's card; ``folded`` (a narrow column): one line that opens into the card,
    drawn only when open, so that a phone scrolls a list instead of ~15,000 px of cards."""
    if folded:
        box = st.expander(card_label(card), key=f"w_card_{card.name}", on_change="rerun")
        if box.open:
            with box:
                card_body(card, sweep)
                delete_controls(card)
        return
    with st.container(border=True):
        card_body(card, sweep)
    delete_controls(card)


def card_body(card: ModelCard, sweep: list[ModelCard] | None) -> None:
    """The card's text, scores and lazy details (expanders; Streamlit nests them in a
    folded card's)."""
    if card.error:
        st.markdown(f"**{plain(card.name)}**")
        st.error(f"This folder cannot be used: {plain(card.error, 400)}")
    else:
        dot = palette.get(card.name, "#7F7F7F")
        # The colour comes from our palette; every piece of text from the folder is escaped.
        st.markdown(
            f'<span style="color:{dot};font-size:1.4em">●</span> '
            f"**{plain(card.name)}** — {plain(card.label or card.kind)} "
            f"({plain(card.kind)})",
            unsafe_allow_html=True,
        )
        # One line, not three st.metric boxes: 30 cards of metrics (label, value, help
        # icon each) were a third of this page's DOM, drawn on every visit.
        where = card.trained_on
        mc = f"{card.mc:.1f}" if card.mc is not None else "—"
        st.markdown(
            f"Mc **{mc}** (targets M ≥ Mc) · training time "
            f"**{fmt_seconds(card.fit_seconds)}** · preset **{plain(card.preset or '—')}**"
        )
        same = fingerprint is not None and card.fingerprint == fingerprint
        st.caption(
            f"protocol **{plain(card.protocol or '—')}** · data fingerprint "
            f"`{plain(card.fingerprint)}` "
            + ("(the loaded catalog)" if same else "(not the loaded catalog)")
            + (f" · saved {card.saved}" if card.saved else "")
            + (f" · trained {where}" if where else "")
        )
        why = catalog_mismatch(card, loaded_proto) if loaded_proto else None
        if why:
            st.caption(f"Not run on the loaded catalog: {plain(why, 400)}.")
        if card.scores.get("test"):
            if not same:
                st.caption("Test-period scores on the catalog it was fitted on:")
            # A Markdown table: an interactive grid per card (a canvas each) made this
            # page slow to draw, a styled st.table slow to build; same numbers, 4 digits.
            st.markdown(score_table(card))
            if (n_pos := card.score("n_positive")) is not None and n_pos == 0:
                st.caption(
                    "— : undefined: the test period holds no quake of M ≥ "
                    f"{card.mc if card.mc is not None else 'Mc'} in this catalog, so "
                    "there is nothing to score."
                )
            if sweep and sweep[0].name == card.name:
                st.caption(seeds_line(sweep))
        else:
            st.caption("No protocol scores in model.json yet.")
        # Lazy expanders: a closed one sends nothing (19 code blocks and tables drawn
        # while closed were most of this page's time in the browser).
        if card.params:
            params = st.expander(
                "fitted parameters", key=f"w_params_{card.name}", on_change="rerun"
            )
            if params.open:
                with params:
                    st.dataframe(params_frame(card), hide_index=True, width="stretch")
        args = st.expander("model arguments", key=f"w_args_{card.name}", on_change="rerun")
        if args.open:
            with args:
                st.code(json.dumps(card.model_args, indent=1), language="json")


def delete_controls(card: ModelCard) -> None:
    """Delete… (then Yes / Cancel) for a folder named as a model, unless read-only."""
    if readonly() or NAME_RE.fullmatch(card.folder.name) is None:
        return  # a folder not named as a model cannot be deleted from here: no button
    if CONFIRM_DELETE.get() == card.name:
        st.warning(
            f"Delete **{plain(card.name)}** and its cached forecasts? This cannot be undone."
        )
        y, n, _ = st.columns([1, 1, 2])
        y.button(
            "Yes, delete",
            key=f"yes_{card.name}",
            type="primary",
            on_click=delete_now,
            args=(card,),
        )
        n.button(
            "Cancel",
            key=f"no_{card.name}",
            on_click=CONFIRM_DELETE.pop,
        )
    else:
        st.button(
            "Delete…",
            key=f"del_{card.name}",
            icon=":material/delete:",
            on_click=CONFIRM_DELETE.set,
            args=(card.name,),
        )


def delete_now(card: ModelCard) -> None:
    """Callback of "Yes, delete": remove the folder and its cached forecasts."""
    CONFIRM_DELETE.pop()
    if readonly():
        DELETE_ERROR.set("this dashboard is read-only")
        return
    try:
        drop_cached(card.folder)
        delete_model(card.folder, models_dir())
    except QuakeError as err:
        DELETE_ERROR.set(str(err))
    else:
        DELETED.set(card.name)


if DELETE_ERROR.get():
    st.error(f"Nothing deleted: {plain(DELETE_ERROR.pop(), 400)}")
if DELETED.get():
    st.success(f"Deleted {plain(DELETED.pop())}.")

st.subheader(f"Saved models ({len([c for c in all_cards if not c.error])})")
if not all_cards:
    st.info(
        f"No saved models in `{models_dir()}`. Train one below; the naive baseline takes a "
        "second and is the reference every other model is compared with."
    )
# On a phone the cards fold into one line each (name, Mc, scores) that opens into the card.
folded = narrow_layout()
cols = st.columns(1 if folded else 2)


def _order(card: ModelCard) -> tuple[bool, float, str]:
    """Models that fit the loaded catalog first, then Mc 5.0 first (as on Compare)."""
    other = loaded_proto is not None and catalog_mismatch(card, loaded_proto) is not None
    return other, -(card.mc or 0.0), card.name


# A seed sweep's other members (NAME-s1, ... beside NAME) are listed apart, drawn only when
# their expander is opened: NAME's card gives the spread over the seeds.
sweeps = by_first(seed_groups(all_cards))
members = member_names(all_cards)
by_mc = sorted((c for c in all_cards if c.name not in members), key=_order)
for i, card in enumerate(by_mc):
    with cols[i % len(cols)]:
        show_card(card, sweeps.get(card.name), folded)
if members:
    more = st.expander(
        f"The other seeds of {len(sweeps)} network{'s' if len(sweeps) != 1 else ''} "
        f"({len(members)} models)",
        key="w_seed_members",
        on_change="rerun",
    )
    if more.open:
        with more:
            inner = st.columns(1 if folded else 2)
            for i, card in enumerate(
                sorted((c for c in all_cards if c.name in members), key=_order)
            ):
                with inner[i % len(inner)]:
                    show_card(card, folded=folded)

# -- training -----------------------------------------------------------------------------
st.subheader("Train a new model")
job: TrainingJob | None = TRAIN_JOB.get()

if readonly():
    st.info(
        "This dashboard is served read-only (seminar mode): models can be looked at, "
        "compared and mapped, but not trained or deleted here. Train with "
        "`python -m quake train` / `fit` on the server."
    )
elif catalog is None or fingerprint is None:
    need_catalog("Training needs a catalog.", cat_error)
else:
    all_kinds = kinds()
    a, b, c = st.columns(3)
    kind = a.selectbox("Kind", all_kinds, key=TRAIN_KIND.keep(all_kinds[0]))
    TRAIN_KIND.remember()
    chosen = MC.get()  # the Catalog page's choice
    mc_list, mc_default = mc_options(catalog, fingerprint, loaded_proto)
    mc_key = TRAIN_MC.keep(chosen if chosen in mc_list else mc_default)
    if st.session_state[mc_key] not in mc_list:  # chosen for another catalog
        st.session_state[mc_key] = chosen if chosen in mc_list else mc_default
    mc = b.selectbox("Mc (targets: M ≥ Mc)", mc_list, key=mc_key)
    TRAIN_MC.remember()
    comp = completeness(catalog, fingerprint)
    if comp is not None and mc < comp.mc - 1e-9:
        st.warning(
            f"Mc {mc:.1f} is below this catalog's estimated magnitude of completeness "
            f"{comp.mc:.1f} (Catalog page): targets of that size are undercounted."
        )
    # one name field per (kind, Mc, training started): each gets a fresh unique default
    name_key = f"w_name_{kind}_{mc}_{TRAININGS.get()}"
    if name_key not in st.session_state:  # a fresh unique default, kept while it is edited
        st.session_state[name_key] = new_model_name(kind, mc)
    name = c.text_input(
        "Model name",
        key=name_key,
        max_chars=64,
        help=f"The model's folder in the models folder: {NAME_RULE}.",
    )
    neural = is_neural(kind)
    d, e, f = st.columns(3)
    # presets() imports the neural trainer (torch): only for a neural kind.
    preset = d.selectbox(
        "Preset",
        presets() if neural else ["—"],
        disabled=not neural,
        key=f"w_preset_{neural}",
        help="quick: 40 km cells, minutes on a CPU; paper: full grid, for a GPU.",
    )
    if neural and preset == "paper" and training_device() == "cpu":
        st.warning(
            "The paper preset (full 10 km grid) trains at about 2 days/s on a CPU: about an "
            "hour per epoch. Use quick here, or train it on a GPU with `python -m quake train "
            "--preset paper --device cuda` (docs/NEURAL.md: ~9 s per epoch on an H100)."
        )
    dflt = preset_defaults(kind, preset) if neural else {}
    weight = e.number_input(
        "Class weight (positives)",
        1.0,
        100000.0,
        float(dflt.get("class_weight") or 1000.0),
        50.0,
        disabled=not neural,
        key=f"w_weight_{kind}",
        help="Weight of the rare positive cell-days in the loss (100–1000 behave alike).",
    )
    epochs = f.number_input(
        "Epochs",
        1,
        500,
        int(dflt.get("epochs") or 6),
        1,
        disabled=not neural,
        key=f"w_epochs_{kind}_{preset}",
    )
    if not neural:
        st.caption(
            "Baselines are fitted on train + validation and scored on the test period; "
            "preset, class weight and epochs apply to neural models only."
        )
    busy = job is not None and job.running
    train = st.button(
        "Train",
        type="primary",
        disabled=busy,
        icon=":material/play_arrow:",
    )
    if train and not busy:
        try:
            data = forecast_data(catalog, fingerprint, float(mc))
            spec = TrainSpec(
                kind,
                float(mc),
                preset if neural else None,
                float(weight) if neural else None,
                int(epochs) if neural else None,
            )
            # The name is checked and claimed atomically; the job writes into the claim's
            # private temporary folder and only a finished model is renamed into place.
            held = claim(name.strip())
            try:
                runner = make_runner(spec, data, held.tmp)
                job = training_slots().start(held.name, held.name, runner, "steps", claim=held)
            except BaseException:
                held.abort()
                raise
            TRAIN_JOB.set(job)
            TRAININGS.set(TRAININGS.get() + 1)
        except QuakeError as err:
            st.error(f"Cannot start training: {plain(err, 400)}")


def has_training_curves(history: list[dict]) -> bool:
    """Whether the job's history holds a loss or validation score to draw (a baseline's
    progress events carry none: its chart would be empty)."""
    return any(
        isinstance(v, int | float) and ("loss" in k.lower() or k.startswith("val_"))
        for row in history
        for k, v in row.items()
    )


def job_panel() -> None:
    job: TrainingJob | None = TRAIN_JOB.get()
    if job is None:
        return
    with st.container(border=True):
        st.markdown(f"**Training {plain(job.name)}** — {job.status}, {job.elapsed:.0f} s")
        if job.running:
            stage = STAGES.get(job.stage, job.stage or "working")
            # the training stage starts the job: its elapsed time is the stage's
            training = job.stage in ("train", "validation")
            eta = eta_text(job.elapsed, job.fraction) if training else ""
            st.progress(job.fraction, text=f"{stage}: {job.step:,} of {job.total or 0:,}{eta}")
            st.button("Cancel training", icon=":material/stop:", on_click=job.cancel)
        elif job.status == "done":
            st.success(f"Saved as {plain(job.name)} in the models folder.")
        elif job.status == "cancelled":
            st.warning("Training was cancelled; nothing was saved.")
        elif job.status == "failed":
            st.error(f"Training failed: {plain(job.error, 400)}")
        if has_training_curves(job.history):
            st.plotly_chart(training_figure(job.history, presentation()), key="train_curves")
        elif not job.running and job.status == "done":
            st.caption("A baseline is fitted in one pass: it has no training curves.")
        if not job.running:
            if JOB_SEEN.get() != job.name + job.status:
                JOB_SEEN.set(job.name + job.status)
                st.rerun()  # refresh the list of saved models
            st.button("Dismiss", on_click=TRAIN_JOB.pop)


running = (job := TRAIN_JOB.get()) is not None and job.running
st.fragment(job_panel, run_every=1.0 if running else None)()
