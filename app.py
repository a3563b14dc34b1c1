"""Quake dashboard: navigation and the shared sidebar (run: ``streamlit run app.py``)."""

from __future__ import annotations

import streamlit as st

from app_pages.ui.loaders import catalog_source, current_catalog, good_cards, try_protocol
from app_pages.ui.nav import PAGES
from app_pages.ui.state import PRESENT_PARAM, PRESENTATION, presentation
from app_pages.ui.widgets import PRESENTATION_CSS, background_jobs
from quake.settings import readonly
from quake.viz.text import plain

st.set_page_config(
    page_title="Quake: earthquake forecasts for Japan",
    page_icon=":material/earthquake:",
    layout="wide",
)

nav = st.navigation(
    [st.Page(p.path, title=p.title, icon=p.icon, url_path=p.slug, default=p.default) for p in PAGES]
)

with st.sidebar:
    catalog, fingerprint, error = current_catalog()
    src = catalog_source()
    st.markdown("#### Catalog")
    if catalog is not None and fingerprint is not None:
        ev = catalog.events
        t0, t1 = ev["time"].iloc[0].date(), ev["time"].iloc[-1].date()
        st.markdown(
            f"**{plain(src['label']) if src else 'catalog'}**  \n"
            f"{len(ev):,} events · {t0} … {t1}  \nfingerprint `{fingerprint}`"
        )
        proto, why = try_protocol(catalog, fingerprint)
        st.markdown("#### Protocol")
        if proto is None:
            st.warning(plain(why, 400) if why else "no protocol", icon=":material/info:")
        else:
            g, test = proto.grid, proto.period("test")
            st.markdown(
                f"**{proto.name}**  \n{g.nx} × {g.ny} cells of {g.cell_km:g} km  \n"
                f"target: M ≥ Mc in days T+{proto.lead_days} … T+{proto.horizon_days - 1}  \n"
                f"test: {test.start} … {test.end}"
            )
    else:
        st.warning(
            plain(error, 400) if error else "No catalog loaded: open the Catalog page.",
            icon=":material/info:",
        )
    n = len(good_cards())
    st.markdown("#### Models")
    st.markdown(f"{n} saved model{'s' if n != 1 else ''} in `models/`")
    if readonly():
        st.caption("Served read-only (seminar mode): no training, no deleting, no server paths.")
    background_jobs()
    st.divider()
    # Kept in the address too (?present=1): a reload (F5 in a seminar) or a shared link keeps
    # the projector's fonts; session state alone was lost on a reload.
    fresh = PRESENTATION.widget not in st.session_state  # a new session: a reload, a link
    if fresh and st.query_params.get(PRESENT_PARAM) == "1":
        PRESENTATION.set(True)
    st.toggle(
        "Presentation mode",
        key=PRESENTATION.keep(),
        help="Larger fonts and thicker lines on every page, for a projector.",
    )
    PRESENTATION.remember()

if presentation():
    st.html(PRESENTATION_CSS)
    st.query_params[PRESENT_PARAM] = "1"
elif PRESENT_PARAM in st.query_params:
    del st.query_params[PRESENT_PARAM]

nav.run()
