"""Home: what the tool does, what is loaded, where to go next."""

from __future__ import annotations

import streamlit as st

from app_pages.ui.loaders import (
    catalog_source,
    current_catalog,
    good_cards,
    mc_options,
    try_protocol,
)
from app_pages.ui.nav import BY_KEY
from quake.data.protocol import JAPAN
from quake.viz.text import plain

catalog, fingerprint, error = current_catalog()
src = catalog_source()
models = good_cards()
proto, why = try_protocol(catalog, fingerprint) if catalog and fingerprint else (None, None)
# No catalog yet, or the Japan protocol: the reference setting; any other: its own region
japan = proto is None or proto.name == JAPAN.name
where = "Japan" if proto is None or proto.grid == JAPAN.grid else "the loaded catalog's region"
cell = f"{proto.grid.cell_km:g} km × {proto.grid.cell_km:g} km" if proto else "10 km × 10 km"

st.title(f"Quake: mid-term earthquake forecasts for {where}")
st.markdown(
    f"For every {cell} cell of a grid over {where}, Quake estimates the probability "
    "that an earthquake of magnitude at least Mc strikes **10 to 50 days after** the forecast "
    "day. It trains and compares forecasting models — from the naive historical rate to "
    "neural networks — on one fixed protocol, and maps their forecasts next to the quakes "
    "that then happened."
)


c1, c2, c3 = st.columns(3)
with c1, st.container(border=True):
    st.markdown("**Catalog**")
    if catalog is not None and fingerprint is not None:
        st.metric("events loaded", f"{len(catalog):,}")
        st.caption(f"{plain(src['label']) if src else ''} · layout {catalog.report.layout}")
    else:
        st.metric("events loaded", "none")
        st.caption(
            plain(error, 400)
            if error
            else "Load one on the Catalog page (upload, path or USGS download)."
        )
with c2, st.container(border=True):
    st.markdown("**Protocol**")
    if proto is not None and catalog is not None and fingerprint is not None:
        test = proto.period("test")
        st.metric("protocol", proto.name)
        if japan:
            mcs = " and ".join(f"{m:.1f}" for m in proto.mcs)
            st.caption(f"test period {test.start} … {test.end}; Mc {mcs} (the first: headline)")
        else:
            choices, default = mc_options(catalog, fingerprint, proto)
            offered = ", ".join(f"{m:.1f}" for m in choices)
            st.caption(
                f"test period {test.start} … {test.end}; Mc {default:.1f} by default "
                f"(offered: {offered}, from this catalog's completeness)"
            )
    elif why:
        st.metric("protocol", "—")
        st.caption(why)
    else:
        st.metric("protocol", "—")
        st.caption("Chosen from the catalog once one is loaded.")
with c3, st.container(border=True):
    st.markdown("**Saved models**")
    st.metric("models in models/", len(models))
    kinds = sorted({c.kind or "?" for c in models})
    st.caption(", ".join(kinds) if kinds else "Train one on the Models page.")

st.subheader("Where to go next")
NEXT = {  # page key -> what it is for
    "catalog": "load or download a catalog; check its magnitude of completeness",
    "models": "see every saved model's card and scores; train a new one",
    "map": "a model's probabilities on a chosen day, with the quakes that followed",
    "threshold": "move the alarm threshold: hits, misses and false alarms",
    "compare": "Table II, curves, 95 % intervals, CSEP tests and calibration, for slides",
}
for key, what in NEXT.items():
    page = BY_KEY[key]
    a, b = st.columns([1, 3], vertical_alignment="center")
    with a:
        st.page_link(page.path, label=page.title, icon=page.icon)
    with b:
        st.markdown(what)
if catalog is None:
    st.info(
        "No catalog is loaded: start on the **Catalog** page. Saved models' cards and "
        "curves (Models, Threshold, Compare) work without one."
    )
