"""The forecast map panel: one model's probabilities on one forecast day T, with the quakes of
T+10 … T+49 marked hit or missed at the threshold. The Forecast map page draws one or two
side by side (with metric tiles), the Threshold page one under its curves (with a caption).
"""

from __future__ import annotations

from datetime import date

import streamlit as st

from app_pages.ui.forecasts import (
    ForecastPending,
    forecast_for_day,
    map_cells,
    show_pending,
    window_events,
)
from app_pages.ui.loaders import forecast_data, model, prior
from app_pages.ui.state import presentation
from app_pages.ui.widgets import fmt_threshold
from quake.data.catalog import Catalog
from quake.errors import QuakeError
from quake.models.store import ModelCard
from quake.service.forecast_cache import mark_hits
from quake.viz import forecast_deck, legend_html
from quake.viz.maps import GAIN_RANGE, PROB_RANGE
from quake.viz.style import MAP_SWATCHES, RDBU, YLORRD
from quake.viz.text import plain


def map_panel(
    card: ModelCard,
    catalog: Catalog,
    fingerprint: str,
    day: date,
    threshold: float,
    *,
    key: str,
    height: int,
    zoom: float = 3.75,
    gain: bool = False,
    metrics: bool = True,
) -> None:
    """Draw ``card``'s forecast of ``day`` (kept inside the model's test period).

    ``gain`` colours cells by probability over the naive prior. ``metrics``: a header, tiles
    of quakes hit and missed and alarmed cells, and notes (the Forecast map); otherwise one
    caption above the map and the legend below (the Threshold page). A failure is shown on
    the page, never raised: one model's failure must not take the page down.
    """
    name = plain(card.name)
    try:
        m = model(card)
        data = forecast_data(catalog, fingerprint, float(card.mc or 5.0), m.protocol)
        test = data.protocol.period("test")
        day = min(max(day, test.start), test.end)
        t = data.protocol.date_to_day(day)
        probs = forecast_for_day(card, m, data, t)
        pri = prior(data, final=True)
    except ForecastPending as pending:
        if metrics:
            st.markdown(f"**{name}** · Mc {card.mc or 0:.1f}")
        show_pending(pending, card.name)
        return
    except QuakeError as err:
        why = plain(err, 400)
        st.error(f"{name}: cannot forecast ({why})." if metrics else f"Cannot draw the map: {why}")
        return
    except Exception as err:  # a model's own failure must not take the page down
        why = f"{type(err).__name__}: {plain(err, 400)}"
        st.error(
            f"{name}: forecasting failed ({why})."
            if metrics
            else f"Cannot draw the map: {name} failed ({why})"
        )
        return
    window = mark_hits(window_events(catalog, data, t), probs, threshold)
    cells = map_cells(card, data, t, "gain" if gain else "probability", probs, pri)
    deck, sel = forecast_deck(
        data.grid, cells, threshold=threshold, window=window, mc=data.mc, zoom=zoom
    )
    n_hit = int(window["hit"].sum())
    n_alarm = int((probs >= threshold).sum())
    if not metrics:
        st.caption(
            f"Forecast day {day} (change it on the Forecast map page): {n_alarm:,} alarmed "
            f"cells; {n_hit} of {len(window)} quakes M≥{data.mc:.1f} in its window hit. "
            "Faded cells are below the threshold."
        )
        st.pydeck_chart(deck, height=height, key=key)
        legend(gain, "probability (log scale)")
        return
    st.markdown(f"**{name}** · Mc {data.mc:.1f}")
    st.pydeck_chart(deck, height=height, key=key)
    a, b, c = st.columns(3)
    lead, last = data.protocol.lead_days, data.protocol.horizon_days - 1
    when = f"M ≥ {data.mc:.1f} in days T+{lead} … T+{last}"
    a.metric("quakes hit", n_hit, help=f"{when}, in an alarmed cell")
    b.metric("quakes missed", len(window) - n_hit, help=f"{when}, in a cell not alarmed")
    c.metric("alarmed cells", f"{n_alarm:,}", help=f"cells with P ≥ {fmt_threshold(threshold)}")
    if card.fingerprint and card.fingerprint != fingerprint:
        st.caption("Fitted on another catalog; these forecasts use the loaded one.")
    st.caption(
        f"Drawn: the {len(sel.cells):,} most likely cells of "
        f"{sel.n_above_floor:,} with P ≥ 1e-5; cells below the threshold are faded."
    )


def legend(gain: bool = False, title: str | None = None) -> None:
    """The colour scale of the map panels (and the marks of hit and missed quakes)."""
    if gain:
        title = title or "gain over the naive prior (P / prior, log scale)"
        vmin, vmax, ramp = *GAIN_RANGE, RDBU
    else:
        title = title or "probability of a target quake in the cell (log scale)"
        vmin, vmax, ramp = *PROB_RANGE, YLORRD
    st.html(
        legend_html(title, vmin, vmax, ramp=ramp, presentation=presentation(), extra=MAP_SWATCHES)
    )
