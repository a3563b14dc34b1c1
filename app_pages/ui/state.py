"""Session state: every value the dashboard keeps between runs, as a typed key with one default.

Streamlit forgets a widget's value when a run does not draw it (another page is open), so a
choice that must survive page switches lives under its own key and seeds the widget's key
``w_<name>`` each time the widget is drawn::

    st.radio("Cells", ["all", "active"], key=MASK.keep())
    MASK.remember()

A `Key` has a fixed default; a `Choice` gets its default from the page that draws it,
because it depends on the options offered there (saved models, model kinds, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import numpy as np
import streamlit as st

from quake.data.protocol import PROTOCOL_THRESHOLDS

if TYPE_CHECKING:
    from quake.data.catalog import Catalog
    from quake.service.jobs import TrainingJob

T = TypeVar("T")


@dataclass(frozen=True)
class _Stored(Generic[T]):
    name: str

    @property
    def widget(self) -> str:
        """The key of the widget that edits this value."""
        return f"w_{self.name}"

    def _seed(self, default: Any) -> str:
        # Assigned on every run, not only when missing: Streamlit ties a widget's state to
        # its page, so a key drawn on another page before would start at the widget's own
        # default (a slider at its minimum, a selectbox at its first option).
        if self.widget in st.session_state:
            value = st.session_state[self.widget]
        else:
            value = st.session_state.get(self.name, default)
        st.session_state[self.widget] = value
        return self.widget

    def set(self, value: T) -> None:
        st.session_state[self.name] = value

    def remember(self) -> T:
        """Store the widget's value under this key (call it after drawing the widget)."""
        value = st.session_state.get(self.widget)
        st.session_state[self.name] = value
        return value


@dataclass(frozen=True)
class Key(_Stored[T]):
    """A session-state value with a fixed default."""

    default: T

    def get(self) -> T:
        value = st.session_state.get(self.name)
        return self.default if value is None else value

    def pop(self) -> T:
        value = st.session_state.pop(self.name, None)
        return self.default if value is None else value

    def keep(self) -> str:
        """The widget's key, seeded with the remembered value (or the default)."""
        return self._seed(self.default)


@dataclass(frozen=True)
class Choice(_Stored[T]):
    """A remembered choice whose default depends on the options the page offers."""

    def get(self) -> T | None:
        return st.session_state.get(self.name)

    def keep(self, default: T) -> str:
        """The widget's key, seeded with the remembered value (or ``default``)."""
        return self._seed(default)


THRESHOLDS: list[float] = [round(10.0 ** float(e), 12) for e in np.arange(-6.0, 0.001, 0.1)]
"""The threshold slider's values: 1e-6 … 1, log-spaced at 0.1 decade."""
DEFAULT_THRESHOLD = PROTOCOL_THRESHOLDS[0]  # 1e-4, the protocol's lowest threshold
assert DEFAULT_THRESHOLD in THRESHOLDS

# -- the catalog (every page) ---------------------------------------------------------------
SOURCE: Key[dict | None] = Key("catalog_source", None)  # {"kind", "label", "path"}
LOADED: Key[tuple[Catalog, str] | None] = Key("catalog_loaded", None)  # uploads, downloads
CATALOG_CHOICE: Choice[str] = Choice("catalog_choice")  # the Catalog page's source radio
UPLOAD_ID: Key[str | None] = Key("upload_id", None)  # the upload last read
UPLOAD_ERROR: Key[str | None] = Key("upload_error", None)  # why it could not be used
MC: Key[float] = Key("mc", 5.0)  # Mc for forecasting, chosen on the Catalog page
MC_CORRECTION: Key[float] = Key("mc_correction", 0.2)  # added to maximum curvature
DECLUSTER: Key[str] = Key("decluster", "gk")  # the Catalog page's declustering method

# -- shared by several pages ---------------------------------------------------------------
PRESENTATION: Key[bool] = Key("presentation", False)  # larger fonts, for a projector
PRESENT_PARAM = "present"  # ...also kept in the address: ?present=1 survives a reload
THRESHOLD: Key[float] = Key("threshold", DEFAULT_THRESHOLD)  # the alarm threshold
FORECAST_DAY: Key[date] = Key("forecast_day", date(2011, 3, 1))  # 10 days before Tōhoku
MODEL_A: Choice[str] = Choice("model_a")  # the map's and the Threshold page's model
MODEL_B: Choice[str] = Choice("model_b")  # the map's second model, or "(none)"
MASK: Key[str] = Key("mask", "all")  # cells scored: "all" or "active"

# -- one page each -------------------------------------------------------------------------
MAP_MODE: Key[str] = Key("map_mode", "probability")  # or "gain over the prior"
BUDGET_MODE: Key[bool] = Key("budget_mode", False)
BUDGET: Key[float] = Key("budget", 0.01)  # share of cell-days alarmed
COMPARE_MC: Choice[float] = Choice("compare_mc")
TRAIN_KIND: Choice[str] = Choice("train_kind")
TRAIN_MC: Choice[float] = Choice("train_mc")
TRAIN_JOB: Key[TrainingJob | None] = Key("train_job", None)
TRAININGS: Key[int] = Key("trainings", 0)  # trainings started: a fresh name field each
JOB_SEEN: Key[str | None] = Key("job_seen", None)  # the finished job the page reran for
MY_RUNS: Key[tuple[str, ...]] = Key("my_runs", ())  # background runs this session started
CONFIRM_DELETE: Key[str | None] = Key("confirm_delete", None)  # the model asked about
DELETE_ERROR: Key[str | None] = Key("delete_error", None)
DELETED: Key[str | None] = Key("deleted", None)


def presentation() -> bool:
    """Whether presentation mode is on (set in the sidebar)."""
    return bool(PRESENTATION.get())
