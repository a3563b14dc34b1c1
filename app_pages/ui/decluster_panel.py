"""The Catalog page's "Mainshocks and aftershocks" section: the catalog declustered by
Gardner–Knopoff windows or Zaliapin–Ben-Zion nearest neighbours (`quake.data.decluster`),
as counts, a map and monthly counts. The declustering is cached per catalog and method
(`loaders.declustering`): GK takes a fraction of a second on the reference catalog, ZBZ
several seconds the first time.
"""

from __future__ import annotations

import streamlit as st

from app_pages.ui.loaders import declustering
from app_pages.ui.state import DECLUSTER, presentation
from quake.data.catalog import Catalog
from quake.data.grid import Grid
from quake.errors import QuakeError
from quake.viz import mainshocks_deck, monthly_classes, monthly_figure, swatch_legend_html
from quake.viz.maps import CLUSTERED_COLOR, MAINSHOCK_COLOR
from quake.viz.text import plain

METHODS = {
    "gk": "Gardner–Knopoff windows",
    "zbz": "Zaliapin–Ben-Zion nearest neighbours",
}
BANDS = (4.5, 5.0)
MAP_MAGNITUDES = [3.0, 4.0, 4.5, 5.0, 5.5, 6.0]


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02X}{:02X}{:02X}".format(*rgb)


def decluster_section(catalog: Catalog, fingerprint: str, grid: Grid | None) -> None:
    """Draw the section for ``catalog`` (its events' declustering, counts, map, months)."""
    st.subheader("Mainshocks and aftershocks")
    st.caption(
        "Declustering splits the catalog into mainshocks (background seismicity) and "
        "clustered events (foreshocks and aftershocks). Gardner & Knopoff (1974): space-time "
        "windows that grow with magnitude around each larger event. Zaliapin & Ben-Zion "
        "(2013): each event's nearest earlier neighbour in rescaled time and distance; close "
        "pairs are clustered."
    )
    method = st.radio(
        "Declustering method",
        list(METHODS),
        format_func=METHODS.get,
        key=DECLUSTER.keep(),
        horizontal=True,
    )
    DECLUSTER.remember()
    wait = "a few seconds the first time" if method == "zbz" else "a moment"
    try:
        with st.spinner(f"Declustering the catalog ({METHODS[method]}, {wait})…"):
            result = declustering(catalog, fingerprint, method)
    except QuakeError as err:
        st.error(f"This catalog cannot be declustered: {plain(err, 400)}")
        return

    counts = result.counts(BANDS)
    for band, suffix in [("all", ""), *[(f"M>={b:g}", f" M ≥ {b:g}") for b in BANDS]]:
        c = counts[band]
        a, b, d = st.columns(3)
        a.metric(f"events{suffix}", f"{c['events']:,}")
        b.metric(f"mainshocks{suffix}", f"{c['mainshocks']:,}")
        share = f" ({100 * c['fraction_clustered']:.1f} %)" if c["events"] else ""
        d.metric(f"clustered{suffix}", f"{c['clustered']:,}{share}")

    events = catalog.events  # the declustering covers every event, in this order
    left, right = st.columns([3, 2])
    with right:
        m_min = st.select_slider(
            "Map: events of magnitude at least", MAP_MAGNITUDES, value=4.5, key="w_decluster_mag"
        )
    keep = events["magnitude"].to_numpy() >= m_min - 1e-9
    with left:
        st.pydeck_chart(
            mainshocks_deck(events[keep], result.mainshock[keep], grid),
            height=560 if presentation() else 480,
        )
        st.html(
            swatch_legend_html(
                "mainshocks and clustered events (circle size grows with magnitude)",
                [
                    (_hex(MAINSHOCK_COLOR), "dot", "mainshock"),
                    (_hex(CLUSTERED_COLOR), "dot", "clustered event"),
                ],
                presentation(),
            )
        )
    with right:
        monthly = monthly_classes(
            events["time"], {"mainshocks": result.mainshock, "clustered": ~result.mainshock}
        )
        st.plotly_chart(
            monthly_figure(
                monthly,
                presentation(),
                title="Mainshocks and clustered events per month",
                colors=[_hex(MAINSHOCK_COLOR), _hex(CLUSTERED_COLOR)],
            )
        )
    n_map = int(keep.sum())
    st.caption(
        f"{n_map:,} events of M ≥ {m_min:g} on the map"
        + (" (the 20,000 largest are drawn)." if n_map > 20000 else ".")
        + " The monthly counts cover every event."
    )
