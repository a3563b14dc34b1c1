"""Which saved models fit the loaded catalog, and whose catalog each score belongs to.

A model fitted on another catalog's protocol (another region, grid or span of years) is
never run on the loaded one: the pages list it as "fitted on another catalog" with the
reason (`quake.service.workspace.catalog_mismatch`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from app_pages.ui.loaders import catalog_source, current_catalog, good_cards, try_protocol
from app_pages.ui.nav import BY_KEY
from quake.data.protocol import Protocol
from quake.models.store import ModelCard
from quake.service.workspace import same_catalog, split_by_catalog
from quake.viz.text import plain


@dataclass(frozen=True)
class CatalogModels:
    """The usable models split by whether they fit the loaded catalog."""

    fitting: list[ModelCard]
    others: list[tuple[ModelCard, str]]
    protocol: Protocol | None  # the loaded catalog's (None: no catalog, or too short)
    fingerprint: str | None
    label: str  # the loaded catalog, for people
    no_protocol: str | None = None  # why a loaded catalog has no protocol


def catalog_models() -> CatalogModels:
    """The saved models that can forecast the loaded catalog, and the others with why not."""
    catalog, fingerprint, _ = current_catalog()
    proto = why = None
    if catalog is not None and fingerprint is not None:
        proto, why = try_protocol(catalog, fingerprint)
    fitting, others = split_by_catalog(good_cards(), proto, why)
    src = catalog_source()
    label = src["label"] if src and catalog is not None else "no catalog loaded"
    return CatalogModels(fitting, others, proto, fingerprint, label, why)


def show_others(cm: CatalogModels) -> None:
    """An expander listing the models fitted on another catalog, each with the reason."""
    if not cm.others:
        return
    with st.expander(
        f"{len(cm.others)} saved model(s) fitted on another catalog: not run on this one"
    ):
        st.dataframe(
            pd.DataFrame(
                {
                    "model": [c.name for c, _ in cm.others],
                    "Mc": [c.mc for c, _ in cm.others],
                    "why not": [why for _, why in cm.others],
                }
            ),
            hide_index=True,
            width="stretch",
            column_config={"Mc": st.column_config.NumberColumn(format="%.1f")},
        )
        st.caption("Train a model on this catalog on the Models page.")


def score_origin(card: ModelCard, cm: CatalogModels) -> str:
    """Whose catalog ``card``'s saved scores belong to, as a short sentence."""
    if same_catalog(card, cm.fingerprint):
        return f"Scores of the loaded catalog ({plain(cm.label)})."
    fp = f" `{plain(card.fingerprint[:12])}…`" if card.fingerprint else ""
    return (
        f"Scores of the catalog the model was fitted on (protocol {plain(card.protocol)}, "
        f"data fingerprint{fp}), not of the loaded one ({plain(cm.label)})."
    )


def no_fitting_models(cm: CatalogModels) -> None:
    """Say that no saved model fits the loaded catalog, and what to do."""
    if cm.no_protocol is not None:
        st.info(
            f"The loaded catalog ({plain(cm.label)}) cannot be forecast: "
            f"{plain(cm.no_protocol, 400)} Load a longer catalog on the **Catalog** page."
        )
        page = BY_KEY["catalog"]
        st.page_link(page.path, label="Go to the Catalog page", icon=page.icon)
        return
    st.info(
        f"No saved model was fitted on this catalog's grid and dates ({plain(cm.label)}). "
        "Train one on the **Models** page (the naive or RI baseline takes seconds)."
    )
    page = BY_KEY["models"]
    st.page_link(page.path, label="Go to the Models page", icon=page.icon)
    show_others(cm)
