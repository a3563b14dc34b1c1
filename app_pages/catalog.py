"""Catalog: choose the data (reference, upload, path, USGS), check it, see it."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import streamlit as st

from app_pages.ui.decluster_panel import decluster_section
from app_pages.ui.loaders import (
    catalog_source,
    completeness,
    current_catalog,
    load_catalog_path,
    mc_options,
    set_catalog,
    try_protocol,
)
from app_pages.ui.state import (
    CATALOG_CHOICE,
    MC,
    MC_CORRECTION,
    UPLOAD_ERROR,
    UPLOAD_ID,
    presentation,
)
from app_pages.ui.widgets import page_header
from quake import settings
from quake.data.catalog import (
    DROP_REASONS,
    catalog_summary,
    find_reference_catalog,
    read_catalog_bytes,
)
from quake.data.catalog.paths import reference_env_problem
from quake.data.catalog.usgs import JAPAN_WINDOW, Window, download_usgs
from quake.data.completeness import MIN_TARGETS, frequency_magnitude
from quake.data.protocol import JAPAN
from quake.errors import QuakeError
from quake.viz import events_deck, fmd_figure, legend_html, monthly_counts, monthly_figure
from quake.viz.maps import MAG_RANGE
from quake.viz.style import VIRIDIS
from quake.viz.text import plain

page_header(
    "Catalog",
    "The earthquake catalog every forecast is made from: where it comes from, what was "
    "dropped while reading it, where and when its events are, and down to which magnitude "
    "it is complete.",
)

ALL_SOURCES = {
    "reference": "Reference catalog",
    "upload": "Upload a CSV",
    "path": "File path",
    "usgs": "Download from USGS",
}
# Seminar (read-only) mode: no server paths, no downloads written to the server's disk.
SOURCES = [
    label
    for kind, label in ALL_SOURCES.items()
    if (kind != "path" or settings.path_field()) and (kind != "usgs" or not settings.readonly())
]

src = catalog_source()
failed_upload = False  # the file just uploaded could not be read
with st.container(border=True):
    st.markdown("**Source**")
    wanted = ALL_SOURCES.get(src["kind"], SOURCES[0]) if src else ALL_SOURCES["upload"]
    default = wanted if wanted in SOURCES else SOURCES[0]
    choice_key = CATALOG_CHOICE.keep(default)
    if st.session_state[choice_key] not in SOURCES:  # a source this server does not offer
        st.session_state[choice_key] = default
    choice = st.radio(
        "Where the catalog comes from",
        SOURCES,
        key=choice_key,
        horizontal=True,
        label_visibility="collapsed",
    )
    CATALOG_CHOICE.remember()

    if choice == "Reference catalog":
        if problem := reference_env_problem():
            st.warning(plain(problem, 400))
        ref = find_reference_catalog()
        if ref is None:
            st.warning(
                "The reference catalog `japan_usgs_1990_2019.csv` is not on this machine "
                "(looked in `../shared/data/`, `$QUAKE_CATALOG` and `data/downloads/`). "
                "Upload it, give its path, or download it from the USGS."
            )
        else:
            what = (
                "USGS ComCat, Japan region, 1990–2019"
                if ref.name == "japan_usgs_1990_2019.csv"
                else "the reference catalog this server is set to (`QUAKE_CATALOG`)"
            )
            st.markdown(f"{plain(ref, 300)} — {what}.")
            current = src is not None and src.get("path") == str(ref)
            if not current:
                st.button(
                    "Use the reference catalog",
                    type="primary",
                    on_click=set_catalog,
                    args=("reference", f"reference ({ref.name})", str(ref)),
                )

    elif choice == "Upload a CSV":
        up = st.file_uploader(
            "A catalog CSV (USGS ComCat, the reference layout, the paper's layout, or any "
            "table with time, latitude, longitude and magnitude columns)",
            type=["csv", "txt"],
            key="w_upload",
        )
        if up is not None and UPLOAD_ID.get() != up.file_id:
            try:
                cat = read_catalog_bytes(up.getvalue(), source=up.name)
            except QuakeError as err:
                UPLOAD_ERROR.set(str(err))
            else:
                UPLOAD_ERROR.pop()
                set_catalog("upload", f"upload ({up.name})", loaded=cat)
            UPLOAD_ID.set(up.file_id)
            if UPLOAD_ERROR.get() is None:
                st.rerun()  # the sidebar (drawn before this page) shows the new catalog
        if UPLOAD_ERROR.get() and up is not None:
            failed_upload = True
            st.error(f"Cannot use this file: {plain(UPLOAD_ERROR.get(), 400)}")

    elif choice == "File path":
        with st.form("path_form", border=False):
            path = st.text_input(
                "Path of a catalog CSV on the machine running the dashboard",
                value=src.get("path") or "" if src else "",
                placeholder="/data/catalogs/my_catalog.csv",
            )
            load = st.form_submit_button("Load", type="primary")
        st.caption(
            "Only files inside these folders are read: "
            + ", ".join(f"`{r}`" for r in settings.catalog_roots())
            + f" (add folders with `{settings.CATALOG_DIRS_ENV}`)."
        )
        if load:
            try:
                load_catalog_path(path.strip())
            except QuakeError as err:
                st.error(f"Cannot use this file: {plain(err, 400)}")
            else:
                set_catalog("path", f"file ({path.strip()})", path.strip())
                st.rerun()

    else:
        st.caption(
            "Queries the USGS FDSN event service year by year (needs the internet); "
            "answers are kept under `data/downloads/`, so a repeated download reads the disk."
        )
        with st.form("usgs_form", border=False):
            w = JAPAN_WINDOW  # the reference catalog's window
            a, b, c, d = st.columns(4)
            min_lat = a.number_input("south (° N)", -90.0, 90.0, w.min_lat, 0.5)
            max_lat = b.number_input("north (° N)", -90.0, 90.0, w.max_lat, 0.5)
            min_lon = c.number_input("west (° E)", -180.0, 180.0, w.min_lon, 0.5)
            max_lon = d.number_input("east (° E)", -180.0, 180.0, w.max_lon, 0.5)
            e, f, g = st.columns(3)
            start = e.date_input("from", w.start, min_value=date(1900, 1, 1))
            end = f.date_input("to", w.end, min_value=date(1900, 1, 1))
            min_mag = g.number_input("minimum magnitude", 0.0, 9.0, w.min_mag, 0.1)
            download = st.form_submit_button("Download", type="primary")
        if download:
            if min_lat >= max_lat or min_lon >= max_lon or start > end:
                st.error("The window is empty: need south < north, west < east, from ≤ to.")
            else:
                window = Window(min_lat, max_lat, min_lon, max_lon, start, end, min_mag)
                bar = st.progress(0.0, text="Asking the USGS event service…")
                try:
                    cat = download_usgs(
                        window,
                        on_progress=lambda p: bar.progress(
                            p.fraction, text=f"chunk {p.step} of {p.total}"
                        ),
                    )
                except QuakeError as err:
                    bar.empty()
                    st.error(f"Download failed: {plain(err, 400)}")
                else:
                    bar.empty()
                    set_catalog("usgs", f"USGS {start}…{end} M≥{min_mag:g}", loaded=cat)
                    st.rerun()

catalog, fingerprint, error = current_catalog()
if failed_upload:
    # The failed file's error is this page's report: the previous catalog's report is not
    # shown under it, as if it were the new file's.
    if catalog is not None and src is not None:
        st.info(
            f"Nothing was loaded from this file. The catalog in use is still "
            f"**{plain(src['label'])}**: the other pages work on it. Choose another file "
            "or another source to replace it."
        )
    st.stop()
if catalog is None or fingerprint is None:
    if error:
        st.error(f"The current catalog could not be loaded: {plain(error, 400)}")
    st.info("No catalog loaded yet: choose a source above.")
    st.stop()

proto, why = try_protocol(catalog, fingerprint)
if proto is None:
    st.warning(f"This catalog can be inspected but not used for forecasting: {why}")
s = catalog_summary(catalog, proto.grid if proto else JAPAN.grid)
src = catalog_source()

st.subheader("Load report")
st.caption(
    f"{plain(src['label']) if src else ''} — layout **{s['layout']}**, source {plain(s['source'])}"
)
m1, m2, m3, m4 = st.columns(4)
m1.metric("rows read", f"{s['n_rows']:,}")
m2.metric("events loaded", f"{s['n_events']:,}")
m3.metric("rows dropped", f"{sum(s['dropped'].values()):,}")
m4.metric(f"events in the {proto.name if proto else 'Japan'} grid", f"{s['n_in_grid']:,}")
left, right = st.columns([2, 3])
with left:
    counts = [s["dropped"].get(r, 0) for r in DROP_REASONS]
    dropped = pd.DataFrame({"reason": list(DROP_REASONS), "rows dropped": counts})
    st.dataframe(dropped, hide_index=True, width="stretch")
with right:
    st.markdown(
        f"- time: **{s['time_start'][:10]} … {s['time_end'][:10]}** (UTC)\n"
        f"- latitude {s['lat_min']:.2f} … {s['lat_max']:.2f} ° N, "
        f"longitude {s['lon_min']:.2f} … {s['lon_max']:.2f} ° E\n"
        f"- magnitude {s['mag_min']:.1f} … {s['mag_max']:.1f}; "
        + ", ".join(f"M≥{k}: {v:,}" for k, v in s["n_mag_ge"].items())
    )
    for note in s["notes"]:
        st.caption(f"note: {note}")

# -- completeness -------------------------------------------------------------------------
st.subheader("Magnitude of completeness")
mags = catalog.events["magnitude"].to_numpy()
c1, c2 = st.columns([1, 2])
with c1:
    st.select_slider(
        "Correction added to maximum curvature",
        options=[0.0, 0.1, 0.2, 0.3, 0.4, 0.5],
        key=MC_CORRECTION.keep(),
        help="Maximum curvature underestimates Mc; +0.2 is customary (Woessner & Wiemer 2005).",
    )
    MC_CORRECTION.remember()
    mc_list, mc_default = mc_options(catalog, fingerprint, proto)
    mc_key = MC.keep()
    if st.session_state[mc_key] not in mc_list:  # another catalog's choice
        st.session_state[mc_key] = mc_default
    mc = st.selectbox(
        "Mc for forecasting (targets are quakes of magnitude ≥ Mc)",
        mc_list,
        key=mc_key,
        help=f"From this catalog's estimated completeness up to where at least {MIN_TARGETS} "
        "events remain (the Japan protocol's 5.0 and 4.5 always for that protocol).",
    )
    MC.remember()
comp = completeness(catalog, fingerprint)
if comp is None:
    c2.warning("No completeness estimate: too few events above the maximum-curvature Mc.")
if comp is not None:
    with c2:
        a, b, c = st.columns(3)
        a.metric(
            "estimated Mc",
            f"{comp.mc:.1f}",
            help=f"maximum curvature {comp.mc_maxc:.1f} + correction {comp.correction:.1f}",
        )
        b.metric("b-value (Aki)", f"{comp.b_value:.2f} ± {comp.b_error:.2f}")
        c.metric("events ≥ estimated Mc", f"{comp.n_above:,}")
        if mc < comp.mc - 1e-9:
            st.warning(
                f"The chosen Mc {mc:.1f} is below the estimated magnitude of completeness "
                f"{comp.mc:.1f}: the catalog misses part of the quakes of that size, so "
                "targets are undercounted and scores are not comparable."
            )
        else:
            st.success(f"Mc {mc:.1f} is at or above the estimated completeness {comp.mc:.1f}.")


def magnitude_charts() -> None:
    """The frequency-magnitude distribution and the monthly counts at Mc, Mc+1, Mc+2."""
    centres, counts, cumulative = frequency_magnitude(mags)
    g1, g2 = st.columns(2)
    with g1:
        st.plotly_chart(fmd_figure(centres, counts, cumulative, comp, float(mc), presentation()))
    with g2:
        mc_levels = sorted({float(mc), float(mc) + 1.0, float(mc) + 2.0})
        monthly = monthly_counts(catalog.events["time"], catalog.events["magnitude"], mc_levels)
        st.plotly_chart(monthly_figure(monthly, presentation()))


def events_map() -> None:
    """The events on a map, filtered by time and magnitude."""
    ev = catalog.events
    t_first, t_last = ev["time"].iloc[0].date(), ev["time"].iloc[-1].date()
    m_lo, m_hi = float(np.floor(mags.min() * 10) / 10), float(np.ceil(mags.max() * 10) / 10)
    if m_hi - m_lo < 0.1:  # every event of one magnitude: a slider needs two ends
        m_lo = round(m_hi - 0.1, 1)
    f1, f2 = st.columns([3, 2])
    with f1:
        if t_first == t_last:
            t_first = t_first - timedelta(days=1)
        span = st.slider(
            "Time range (UTC)",
            min_value=t_first,
            max_value=t_last,
            value=(t_first, t_last),
            format="YYYY-MM-DD",
            key=f"w_map_span_{fingerprint}",
        )
    with f2:
        m_default = (max(m_lo, min(float(mc), m_hi)), m_hi)
        mrange = st.slider(
            "Magnitude range",
            min_value=m_lo,
            max_value=m_hi,
            value=m_default,
            step=0.1,
            key=f"w_map_mag_{fingerprint}",
        )
    times = ev["time"].dt.tz_convert(None)
    sel = (
        (times >= pd.Timestamp(span[0]))
        & (times < pd.Timestamp(span[1]) + pd.Timedelta(days=1))
        & (ev["magnitude"] >= mrange[0] - 1e-9)
        & (ev["magnitude"] <= mrange[1] + 1e-9)
    )
    shown = ev[sel.to_numpy()]
    # Colours over five magnitude units from M3, or lower for a catalog of small quakes.
    mag_lo = min(MAG_RANGE[0], float(np.floor(mc)))
    mag_range = (mag_lo, mag_lo + MAG_RANGE[1] - MAG_RANGE[0])
    st.pydeck_chart(
        events_deck(shown, proto.grid if proto else None, mag_range=mag_range),
        height=560 if presentation() else 480,
    )
    st.html(
        legend_html(
            "magnitude (circle size grows with magnitude)",
            *mag_range,
            ramp=VIRIDIS,
            log=False,
            ticks=[int(mag_lo) + k for k in range(6)],
            presentation=presentation(),
            extra=[("#969696", "line", "model grid")],
        )
    )
    n_shown = len(shown)
    st.caption(
        f"{n_shown:,} events between {span[0]} and {span[1]}, M{mrange[0]:.1f} to M{mrange[1]:.1f}"
        + (" (the 20,000 largest are drawn)." if n_shown > 20000 else ".")
        + " Coastlines: Natural Earth (public domain), drawn offline."
    )


# Lazy tabs: only the open one runs and is sent. Each deck.gl map costs seconds to draw in a
# browser without a GPU; the first tab is the light one, so opening the page stays quick.
TABS = ["Magnitude charts", "Where the events are", "Mainshocks and aftershocks"]
tabs = st.tabs(TABS, key="catalog_tab", on_change="rerun")
with tabs[0]:
    if tabs[0].open:
        magnitude_charts()
with tabs[1]:
    if tabs[1].open:
        events_map()
with tabs[2]:
    if tabs[2].open:
        decluster_section(catalog, fingerprint, proto.grid if proto else None)
