"""Widgets and messages several pages share: the threshold slider, the model picker, what to
do without a catalog or models, the page header and presentation mode's CSS."""

from __future__ import annotations

import math

import streamlit as st

from app_pages.ui.nav import BY_KEY
from app_pages.ui.state import THRESHOLD, THRESHOLDS, Choice
from quake.models.store import ModelCard
from quake.scoring.tables import best_model, full_resolution_net
from quake.viz.text import plain

MC_CHOICES = [5.0, 4.5, 4.0, 3.5]
"""Mc offered for forecasting and training (5.0 the protocol's headline, 4.5 its second)."""


def fmt_threshold(t: float) -> str:
    """A threshold for people: 0.25 -> "0.25", 3.2e-05 -> "3.2e-5"."""
    if t >= 0.01:
        return f"{t:.2g}"
    return f"{t:.1e}".replace("e-0", "e-")


def threshold_slider(label: str = "Alarm threshold (probability, log scale)") -> float:
    """The shared log-scale threshold (same value on every page)."""
    key = THRESHOLD.keep()
    value = st.session_state[key]
    if value not in THRESHOLDS:
        st.session_state[key] = min(THRESHOLDS, key=lambda v: abs(math.log10(v / value)))
    st.select_slider(
        label,
        options=THRESHOLDS,
        format_func=fmt_threshold,
        key=key,
        help="A cell-day is alarmed when its forecast probability is at least this value.",
    )
    return float(THRESHOLD.remember())


def choose_model(
    label: str,
    options: list[ModelCard],
    choice: Choice[str],
    allow_none: bool = False,
    prefer_fast: bool = False,
) -> ModelCard | None:
    """A model picker remembered across pages (by name); the best Mc 5 model by default.

    ``prefer_fast`` (the map): the default is the best model that forecasts in seconds, and
    a full-resolution net that another page picked by default (not the person) gives way
    to it (see `best_model`).
    """
    names = [c.name for c in options]
    choices = (["(none)"] if allow_none else []) + names
    best = best_model(options, prefer_fast=prefer_fast)
    default = "(none)" if allow_none else (best.name if best else (choices[0] if choices else None))
    wkey = choice.keep(default)  # seeded on every run (`_Stored._seed`)
    chosen = f"{choice.name}__by_person"
    current = next((c for c in options if c.name == st.session_state[wkey]), None)
    if st.session_state[wkey] not in choices or (
        prefer_fast
        and not st.session_state.get(chosen)
        and current is not None
        and full_resolution_net(current, options)
    ):
        st.session_state[wkey] = default

    def picked() -> None:
        st.session_state[chosen] = True

    name = st.selectbox(label, choices, key=wkey, on_change=picked)
    choice.remember()
    return next((c for c in options if c.name == name), None)


def page_link(key: str, label: str) -> None:
    """A link to the page ``key`` of `nav.PAGES`, with that page's icon."""
    page = BY_KEY[key]
    st.page_link(page.path, label=label, icon=page.icon)


def need_catalog(reason: str, error: str | None = None) -> None:
    """Say what to do when a page needs a catalog and none is loaded."""
    if error:
        st.error(f"The catalog could not be loaded: {plain(error, 400)}")
    st.info(
        f"{reason} No catalog is loaded yet. On the **Catalog** page, upload a CSV, give a "
        "path, or download the Japan catalog from the USGS event service (needs the internet)."
    )
    page_link("catalog", "Go to the Catalog page")


def need_models() -> None:
    """Say what to do when a page needs saved models and there are none."""
    st.info(
        "No saved models were found in `models/`. Train one on the **Models** page "
        "(the naive baseline takes a second), or copy model folders into `models/`."
    )
    page_link("models", "Go to the Models page")


def background_jobs() -> None:
    """The server's background runs (map forecasts) in the sidebar of every page: progress
    in days and a cancel button each (`can_cancel`); nothing is drawn while none runs."""
    from app_pages.ui.forecasts import can_cancel, job_board
    from quake.service.background import progress_text

    board = job_board()
    if not board.running():
        return

    def panel() -> None:
        running = board.running()
        if not running:
            st.rerun()  # the page can now draw what was waiting
        st.markdown("#### Running in the background")
        for key, job in running:
            st.progress(job.fraction, text=plain(progress_text(job, board.sizes.get(key, 0))))
            if can_cancel(key) and st.button("Cancel", key=f"sidebar_cancel_{key}"):
                board.cancel(key)

    st.fragment(panel, run_every=1.0)()


def page_header(title: str, caption: str) -> None:
    st.title(title)
    st.caption(caption)


PRESENTATION_CSS = """
<style>
/* Streamlit sizes text in rem: a larger root font scales every title, label and metric. */
html { font-size: 21px; }
</style>
"""
