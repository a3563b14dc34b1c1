"""The Catalog page's "Mainshocks and aftershocks" section: the catalog declustered by
Gardner–Knopoff windows, Zaliapin–Ben-Zion nearest neighbours (`quake.data.decluster`) or
ETAS background probabilities (`quake.models.etas_decluster`), as counts, a map and
monthly counts. The declustering is cached per catalog and method (`loaders.declustering`;
ETAS here, `_etas`): GK takes a fraction of a second on the reference catalog, ZBZ several
seconds the first time, ETAS (a maximum-likelihood fit) tens of seconds.
"""

from __future__ import annotations

import math

import numpy as np
import streamlit as st

from app_pages.ui.loaders import declustering, mc_options
from app_pages.ui.state import DECLUSTER, presentation
from quake.data.catalog import Catalog
from quake.data.decluster import Declustering
from quake.data.grid import Grid
from quake.data.protocol import protocol_for_catalog
from quake.errors import QuakeError
from quake.models.etas_decluster import etas_declustering
from quake.viz import mainshocks_deck, monthly_classes, monthly_figure, swatch_legend_html
from quake.viz.maps import CLUSTERED_COLOR, MAINSHOCK_COLOR
from quake.viz.text import plain

METHODS = {
    "gk": "Gardner–Knopoff windows",
    "zbz": "Zaliapin–Ben-Zion nearest neighbours",
    "etas": "ETAS background probability",
}
WAIT = {"gk": "a moment", "zbz": "a few seconds the first time", "etas": "up to a minute"}
BANDS = (4.5, 5.0)
"""Japan's count bands (the protocol's two Mc); other catalogs get theirs (`bands_for`)."""
MAP_MAGNITUDES = [3.0, 4.0, 4.5, 5.0, 5.5, 6.0]


def bands_for(choices: list[float]) -> tuple[float, ...]:
    """The two lowest Mc offered for this catalog (`loaders.mc_options`; Japan: 4.5, 5)."""
    return tuple(sorted(choices)[:2]) or BANDS


def map_magnitudes(mags: np.ndarray) -> list[float]:
    """Map cut-offs in steps of 0.5 from the catalog's smallest magnitude (rounded down)
    to one step below its largest; the reference's are 2.5 ... 8.5."""
    m = mags[np.isfinite(mags)]
    if m.size == 0:
        return MAP_MAGNITUDES
    lo, hi = math.floor(float(m.min()) * 2) / 2, math.floor(float(m.max()) * 2) / 2
    return [lo + 0.5 * k for k in range(int(round((hi - lo) / 0.5)) + 1)] or [lo]


@st.cache_data(show_spinner=False, max_entries=2)
def _etas(_catalog: Catalog, fingerprint: str) -> Declustering:
    return etas_declustering(_catalog.events, protocol_for_catalog(_catalog.events))


def _result(catalog: Catalog, fingerprint: str, method: str) -> Declustering:
    if method == "etas":
        return _etas(catalog, fingerprint)
    return declustering(catalog, fingerprint, method)


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
        "pairs are clustered. ETAS (Zhuang, Ogata & Vere-Jones 2002): the fitted model's "
        "probability that an event came from the background rather than from an earlier "
        "event; a mainshock when it is at least 0.5 (events above the fit's completeness "
        "magnitude, inside the grid, from the first training year on)."
    )
    method = st.radio(
        "Declustering method",
        list(METHODS),
        format_func=METHODS.get,
        key=DECLUSTER.keep(),
        horizontal=True,
    )
    DECLUSTER.remember()
    try:
        with st.spinner(f"Declustering the catalog ({METHODS[method]}, {WAIT[method]})…"):
            result = _result(catalog, fingerprint, method)
    except QuakeError as err:
        st.error(f"This catalog cannot be declustered: {plain(err, 400)}")
        return

    mags = catalog.events["magnitude"].to_numpy(np.float64)
    try:
        protocol = protocol_for_catalog(catalog.events)
    except QuakeError:  # too short for a protocol: it can still be declustered
        protocol = None
    bands = bands_for(mc_options(catalog, fingerprint, protocol)[0])
    counts = result.counts(bands)
    for band, suffix in [("all", ""), *[(f"M>={b:g}", f" M ≥ {b:g}") for b in bands]]:
        c = counts[band]
        a, b, d = st.columns(3)
        a.metric(f"events{suffix}", f"{c['events']:,}")
        b.metric(f"mainshocks{suffix}", f"{c['mainshocks']:,}")
        share = f" ({100 * c['fraction_clustered']:.1f} %)" if c["events"] else ""
        d.metric(f"clustered{suffix}", f"{c['clustered']:,}{share}")

    events = catalog.events  # GK and ZBZ cover every event, in this order; ETAS a subset
    if result.rows is not None and len(result.rows) != len(events):
        events = events.iloc[result.rows]
        st.caption(
            f"ETAS declusters the {len(events):,} events of M ≥ {result.extra['m_min']:g} "
            "inside the grid from the first training year on (fitted on the train and "
            f"validation years, branching ratio {result.extra['branching_ratio']:.2f}); the "
            "others are left out below."
        )
    left, right = st.columns([3, 2])
    with right:
        choices = map_magnitudes(mags)
        start = min(choices, key=lambda m: abs(m - bands[0]))  # the lowest Mc band
        m_min = st.select_slider(
            "Map: events of magnitude at least", choices, value=start, key="w_decluster_mag"
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
