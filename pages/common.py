"""The dashboard's shared UI layer: session state, cached loaders, sidebar, small widgets.

Caching lives here (never in `quake/`): `st.cache_data` for catalogs, forecast data,
predictions and curves, `st.cache_resource` for loaded models (never mutated).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from quake.data.catalog import Catalog, find_reference_catalog
from quake.data.catalog.paths import allowed_path, read_catalog_file
from quake.data.completeness import Completeness, estimate_completeness
from quake.data.forecast_data import ForecastData
from quake.data.protocol import Protocol, protocol_for_catalog
from quake.errors import CatalogError, QuakeError
from quake.metrics.curves import OperatingCurve
from quake.models import Forecaster, load_model
from quake.service.workspace import (
    ModelCard,
    best_model,
    full_resolution_net,
    list_models,
    load_curves,
    models_signature,
)
from quake.settings import models_dir
from quake.viz.style import model_colors
from quake.viz.text import plain

# Session-state keys (values that outlive a page; widget keys start with "w_").
SOURCE = "catalog_source"  # {"kind", "label", "path"}
LOADED = "catalog_loaded"  # (Catalog, fingerprint) for uploads and downloads
PRESENTATION = "presentation"

PAGES = {
    "home": "pages/home.py",
    "catalog": "pages/catalog.py",
    "models": "pages/models.py",
    "map": "pages/forecast_map.py",
    "threshold": "pages/threshold.py",
    "compare": "pages/compare.py",
}


def ensure_navigation() -> None:
    """Rerun through ``app.py`` when Streamlit started this run as a v1 multipage page.

    A folder named ``pages/`` makes Streamlit run a deep link (``/catalog``) as a bare
    v1 page on the first request a fresh server gets, skipping ``app.py`` (no sidebar,
    no layout) until some run calls ``st.navigation``. Each page calls this first.
    """
    try:  # Streamlit internals (1.67): without them the first deep link merely looks plain
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:
        return
    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        st.rerun()


def clicked(name: str) -> Callable[[], None]:
    """An ``on_click`` callback that records a click for `take`.

    Buttons are read through this, not through their return value: Streamlit may rerun a
    page before its body runs (see `ensure_navigation`), and a button's ``True`` lasts
    for one run only, while a recorded click waits until the body takes it.
    """

    def record() -> None:
        st.session_state[f"clicked_{name}"] = True

    return record


def take(name: str) -> bool:
    """Whether the button recorded by `clicked` ``(name)`` was pressed (once per click)."""
    return bool(st.session_state.pop(f"clicked_{name}", False))


def presentation() -> bool:
    return bool(st.session_state.get(PRESENTATION, False))


# -- catalog ------------------------------------------------------------------------------
@st.cache_data(show_spinner="Reading the catalog…", max_entries=4)
def _load_catalog_file(path: str, mtime: float, size: int) -> tuple[Catalog, str]:
    cat = read_catalog_file(path)
    return cat, cat.fingerprint


def load_catalog_path(path: str) -> tuple[Catalog, str]:
    """A catalog file inside the allowed folders (`quake.data.catalog.paths`), cached by its
    real path, modification time and size; raises `QuakeError` (never `OSError`)."""
    real = allowed_path(path)
    try:
        st_ = real.stat()
    except OSError:
        raise CatalogError(f"`{path}`: no such file.") from None
    return _load_catalog_file(str(real), st_.st_mtime, st_.st_size)


def set_catalog(kind: str, label: str, path: str | None = None, loaded: Catalog | None = None):
    """Make a catalog the current one (for every page of this session)."""
    st.session_state[SOURCE] = {"kind": kind, "label": label, "path": path}
    if loaded is not None:
        st.session_state[LOADED] = (loaded, loaded.fingerprint)
    else:
        st.session_state.pop(LOADED, None)


def catalog_source() -> dict | None:
    """The current catalog source; the reference catalog by default when it is found."""
    src = st.session_state.get(SOURCE)
    if src is None:
        ref = find_reference_catalog()
        if ref is not None:
            src = {"kind": "reference", "label": f"reference ({ref.name})", "path": str(ref)}
            st.session_state[SOURCE] = src
    return src


def current_catalog() -> tuple[Catalog | None, str | None, str | None]:
    """``(catalog, fingerprint, error)``: the session's catalog, or None and why not."""
    src = catalog_source()
    if src is None:
        return None, None, None
    if src["kind"] in ("upload", "usgs"):
        loaded = st.session_state.get(LOADED)
        if loaded is None:
            return None, None, "the uploaded catalog is no longer in this session; load it again"
        return loaded[0], loaded[1], None
    try:
        cat, fp = load_catalog_path(src["path"])
    except QuakeError as err:
        return None, None, str(err)
    return cat, fp, None


@st.cache_data(show_spinner=False, max_entries=8)
def _completeness(_catalog: Catalog, fingerprint: str, correction: float) -> Completeness | None:
    try:
        return estimate_completeness(_catalog.events["magnitude"].to_numpy(), correction=correction)
    except QuakeError:
        return None


def completeness(catalog: Catalog, fingerprint: str) -> Completeness | None:
    """Mc (maximum curvature + the Catalog page's correction) and b-value; None if too few."""
    return _completeness(catalog, fingerprint, float(st.session_state.get("mc_correction", 0.2)))


@st.cache_data(show_spinner=False, max_entries=8)
def _protocol_json(_catalog: Catalog, fingerprint: str) -> str:
    return json.dumps(protocol_for_catalog(_catalog.events).to_dict())


def catalog_protocol(catalog: Catalog, fingerprint: str) -> Protocol:
    """The protocol for a catalog (japan-usgs-v1 for the reference catalog); a
    `CatalogError` when the catalog is too short to be split into periods."""
    try:
        return Protocol.from_dict(json.loads(_protocol_json(catalog, fingerprint)))
    except ValueError as err:
        raise CatalogError(f"no forecasting protocol for this catalog: {plain(err, 400)}") from None


def try_protocol(catalog: Catalog, fingerprint: str) -> tuple[Protocol | None, str | None]:
    """``(protocol, None)`` or ``(None, why not)``."""
    try:
        return catalog_protocol(catalog, fingerprint), None
    except CatalogError as err:
        return None, str(err)


@st.cache_data(show_spinner="Gridding events and targets…", max_entries=6)
def _forecast_data(
    _catalog: Catalog, fingerprint: str, mc: float, protocol_json: str
) -> ForecastData:
    return ForecastData.build(_catalog, mc, Protocol.from_dict(json.loads(protocol_json)))


def forecast_data(
    catalog: Catalog, fingerprint: str, mc: float, protocol: Protocol | None = None
) -> ForecastData:
    """ForecastData of the catalog at Mc (on ``protocol``, the catalog's own by default)."""
    proto = protocol or catalog_protocol(catalog, fingerprint)
    return _forecast_data(catalog, fingerprint, float(mc), json.dumps(proto.to_dict()))


@st.cache_data(show_spinner=False, max_entries=12)
def _prior(_data: ForecastData, key: str, final: bool) -> np.ndarray:
    return _data.prior(final=final).astype(np.float32)


def prior(data: ForecastData, final: bool = True) -> np.ndarray:
    """The naive prior ``(ny, nx)`` of ``data`` (train + validation when ``final``)."""
    return _prior(data, data_key(data), final)


def data_key(data: ForecastData) -> str:
    """What identifies a ForecastData in cache keys: catalog, Mc and protocol."""
    return f"{data.fingerprint}|{data.mc}|{json.dumps(data.protocol.to_dict())}"


# -- models -------------------------------------------------------------------------------
@st.cache_resource(show_spinner=False, max_entries=4)
def _cards(root: str, signature: tuple) -> tuple[ModelCard, ...]:
    # A resource (shared, never mutated: cards are frozen) rather than data: read on every
    # rerun of every page, a copy per read would cost more than the listing itself.
    return tuple(list_models(root))


def cards() -> list[ModelCard]:
    """Every saved model's card (re-read when a model.json or curves.json changes)."""
    root = models_dir()
    return list(_cards(str(root), models_signature(root)))


def good_cards() -> list[ModelCard]:
    return [c for c in cards() if c.error is None]


def colors() -> dict[str, str]:
    cs = good_cards()
    return model_colors([c.name for c in cs], [c.kind for c in cs], [c.mc for c in cs])


def mtime(folder: Path, name: str = "model.json") -> float:
    f = folder / name
    return f.stat().st_mtime if f.is_file() else 0.0


@st.cache_resource(show_spinner="Loading the model…", max_entries=8)
def _load_model(folder: str, mtime: float) -> Forecaster:
    return load_model(folder)


def model(card: ModelCard) -> Forecaster:
    """The loaded model (shared; never mutate it)."""
    return _load_model(str(card.folder), mtime(card.folder))


@st.cache_data(show_spinner=False, max_entries=32)
def _curves(folder: str, mtime: float) -> dict[str, dict[str, OperatingCurve]]:
    return load_curves(folder)


def curves(card: ModelCard) -> dict[str, dict[str, OperatingCurve]]:
    """``{period: {mask: curve}}`` from the model's curves.json ({} if it has none)."""
    return _curves(str(card.folder), mtime(card.folder, "curves.json"))


# -- shared widgets -----------------------------------------------------------------------
def keep(key: str, default: Any) -> str:
    """Seed widget key ``w_<key>`` from the remembered value so it survives page switches.

    Use ``st.<widget>(..., key=keep("x", default))`` then `remember` ``("x")``.
    """
    wkey = f"w_{key}"
    if wkey not in st.session_state:
        st.session_state[wkey] = st.session_state.get(key, default)
    return wkey


def remember(key: str) -> Any:
    value = st.session_state.get(f"w_{key}")
    st.session_state[key] = value
    return value


THRESHOLDS = [round(10.0 ** float(e), 12) for e in np.arange(-6.0, 0.001, 0.1)]
"""Log-spaced thresholds for the threshold sliders: 1e-6 ... 1 at 0.1 decade."""
DEFAULT_THRESHOLD = THRESHOLDS[20]  # 1e-4, a protocol threshold


def fmt_threshold(t: float) -> str:
    if t >= 0.01:
        return f"{t:.2g}"
    return f"{t:.1e}".replace("e-0", "e-")


def threshold_slider(label: str = "Alarm threshold (probability, log scale)") -> float:
    """The shared log-scale threshold (same value on every page)."""
    key = keep("threshold", DEFAULT_THRESHOLD)
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
    return float(remember("threshold"))


def choose_model(
    label: str,
    options: list[ModelCard],
    key: str,
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
    wkey = keep(key, default)
    chosen = f"{key}__by_person"
    current = next((c for c in options if c.name == st.session_state[wkey]), None)
    if st.session_state[wkey] not in choices or (
        prefer_fast
        and not st.session_state.get(chosen)
        and current is not None
        and full_resolution_net(current)
    ):
        st.session_state[wkey] = default

    def picked() -> None:
        st.session_state[chosen] = True

    name = st.selectbox(label, choices, key=wkey, on_change=picked)
    remember(key)
    return next((c for c in options if c.name == name), None)


def need_catalog(reason: str, error: str | None = None) -> None:
    """Say what to do when a page needs a catalog and none is loaded."""
    if error:
        st.error(f"The catalog could not be loaded: {plain(error, 400)}")
    st.info(
        f"{reason} No catalog is loaded yet. On the **Catalog** page, upload a CSV, give a "
        "path, or download the Japan catalog from the USGS event service (needs the internet)."
    )
    st.page_link(PAGES["catalog"], label="Go to the Catalog page", icon=":material/database:")


def need_models() -> None:
    st.info(
        "No saved models were found in `models/`. Train one on the **Models** page "
        "(the naive baseline takes a second), or copy model folders into `models/`."
    )
    st.page_link(PAGES["models"], label="Go to the Models page", icon=":material/model_training:")


def page_header(title: str, caption: str) -> None:
    st.title(title)
    st.caption(caption)


PRESENTATION_CSS = """
<style>
/* Streamlit sizes text in rem: a larger root font scales every title, label and metric. */
html { font-size: 21px; }
</style>
"""
