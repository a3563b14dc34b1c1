"""The dashboard's cached loaders: catalog, completeness, declustering, protocol, forecast
data, prior, model cards, models and curves.

Caching lives here (never in `quake/`): `st.cache_data` for catalogs, forecast data and
curves, `st.cache_resource` for loaded models and cards (shared: never mutate them).
Arguments that cannot be hashed get a leading underscore and a key next to them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import streamlit as st

from app_pages.ui.state import LOADED, MC_CORRECTION, SOURCE
from quake.data.catalog import Catalog, find_reference_catalog
from quake.data.catalog.paths import allowed_path, read_catalog_file
from quake.data.completeness import Completeness, default_mc, estimate_completeness, mc_choices
from quake.data.decluster import Declustering, decluster
from quake.data.forecast_data import ForecastData
from quake.data.protocol import JAPAN, Protocol, protocol_for_catalog
from quake.errors import CatalogError, QuakeError
from quake.metrics.curves import OperatingCurve
from quake.models import Forecaster, load_model
from quake.models.ensemble import model_files
from quake.models.store import CURVES_FILE, MODEL_FILE, ModelCard, load_curves
from quake.service.background import JobBoard, training_board
from quake.service.workspace import list_models, models_signature
from quake.settings import max_trainings, models_dir
from quake.viz.style import model_colors


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
    SOURCE.set({"kind": kind, "label": label, "path": path})
    if loaded is not None:
        LOADED.set((loaded, loaded.fingerprint))
    else:
        LOADED.pop()


def catalog_source() -> dict | None:
    """The current catalog source; the reference catalog by default when it is found."""
    src = SOURCE.get()
    if src is None:
        ref = find_reference_catalog()
        if ref is not None:
            src = {"kind": "reference", "label": f"reference ({ref.name})", "path": str(ref)}
            SOURCE.set(src)
    return src


def current_catalog() -> tuple[Catalog | None, str | None, str | None]:
    """``(catalog, fingerprint, error)``: the session's catalog, or None and why not."""
    src = catalog_source()
    if src is None:
        return None, None, None
    if src["kind"] in ("upload", "usgs"):
        loaded = LOADED.get()
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
    return _completeness(catalog, fingerprint, float(MC_CORRECTION.get()))


@st.cache_data(show_spinner=False, max_entries=8)
def _mc_options(_catalog: Catalog, fingerprint: str, correction: float, japan: bool) -> list[float]:
    comp = _completeness(_catalog, fingerprint, correction)
    also = tuple(JAPAN.mcs) if japan else ()
    return mc_choices(_catalog.events["magnitude"].to_numpy(), comp, also=also)


def mc_options(
    catalog: Catalog, fingerprint: str, protocol: Protocol | None
) -> tuple[list[float], float]:
    """``(choices, default)``: the Mc values offered for this catalog, largest first
    (`quake.data.completeness.mc_choices`: from its completeness up to where enough events
    remain; the Japan protocol's 5.0 and 4.5 always for that protocol), and the default."""
    japan = protocol is not None and protocol.name == JAPAN.name
    choices = _mc_options(catalog, fingerprint, float(MC_CORRECTION.get()), japan)
    return choices, default_mc(choices)


@st.cache_data(show_spinner=False, max_entries=4)
def _declustering(_catalog: Catalog, fingerprint: str, method: str) -> Declustering:
    return decluster(_catalog.events, method)


def declustering(catalog: Catalog, fingerprint: str, method: str) -> Declustering:
    """Mainshocks and clustered events of every event of the catalog (arrays in the order of
    ``catalog.events``) by ``method`` (``"gk"`` or ``"zbz"``), cached per catalog and method.

    Raises `QuakeError` (`CatalogError`) when the catalog cannot be declustered, e.g. too
    few events for the Zaliapin–Ben-Zion mixture; an error is not cached.
    """
    return _declustering(catalog, fingerprint, method)


# -- protocol and forecast data -----------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=8)
def _protocol_json(_catalog: Catalog, fingerprint: str) -> str:
    return json.dumps(protocol_for_catalog(_catalog.events).to_dict())


def catalog_protocol(catalog: Catalog, fingerprint: str) -> Protocol:
    """The protocol for a catalog (japan-usgs-v1 for the reference catalog).

    Raises `CatalogError` (from `protocol_for_catalog`, with its message for the person)
    when the catalog is too short to be cut into periods or spans too large a region.
    """
    return Protocol.from_dict(json.loads(_protocol_json(catalog, fingerprint)))


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
@st.cache_resource(show_spinner=False)
def training_slots() -> JobBoard:
    """The trainings of this server (every session's): at most `settings.max_trainings`
    at once."""
    return training_board(max_trainings())


@st.cache_resource(show_spinner=False, max_entries=4)
def _cards(root: str, signature: str) -> tuple[ModelCard, ...]:
    # A resource (shared, never mutated: cards are frozen) rather than data: read on every
    # rerun of every page, a copy per read would cost more than the listing itself.
    return tuple(list_models(root))


def cards() -> list[ModelCard]:
    """Every saved model's card (re-read when a model.json or curves.json changes)."""
    root = models_dir()
    # The signature's digest as the key: Streamlit's own hashing of the (name, mtime) tuple
    # of ~140 files took ~5 ms a call, several calls a run.
    digest = hashlib.sha1(repr(models_signature(root)).encode()).hexdigest()
    return list(_cards(str(root), digest))


def good_cards() -> list[ModelCard]:
    """The cards of the models that can be used (no error reading their folder)."""
    return [c for c in cards() if c.error is None]


def colors() -> dict[str, str]:
    """Each usable model's colour, the same on every page."""
    cs = good_cards()
    return model_colors([c.name for c in cs], [c.kind for c in cs], [c.mc for c in cs])


def mtime(folder: Path, name: str = MODEL_FILE) -> float:
    """When ``folder``'s ``name`` last changed; for model.json, the latest of the model's
    and, for an ensemble, of every member's (a member refitted makes it change)."""
    files = model_files(folder) if name == MODEL_FILE else [folder / name]
    return max((f.stat().st_mtime for f in files if f.is_file()), default=0.0)


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
    return _curves(str(card.folder), mtime(card.folder, CURVES_FILE))
