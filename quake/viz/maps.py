"""pydeck maps that draw with no network: coastlines from the bundled GeoJSON, no base map.

Each map is framed on its grid (or its events): centre and zoom from the grid's lon/lat
bounds, and the world coastline clipped to what the view can show.

Every deck uses ``map_provider=None`` (nothing is fetched) and gives each layer type its
own ``id`` (reusing an id across layer types broke the map when switching between them).
Only a bounded number of cells is drawn (a probability floor and a top-k), so the JSON
a page sends stays at a few hundred kB. All tooltips read one ``tip`` field.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import pydeck as pdk
from pydeck.bindings.json_tools import default_serialize

from quake.data.coastline import coastline_in_box
from quake.data.grid import JAPAN_GRID, Grid, compact_lon_range, wrap_lon
from quake.viz.style import (
    COAST_COLOR,
    GRID_COLOR,
    HIT_COLOR,
    MISS_COLOR,
    RDBU,
    VIRIDIS,
    YLORRD,
    fmt_prob,
    ramp_colors,
)

JAPAN_VIEW = {"latitude": 38.6, "longitude": 140.0, "zoom": 3.55}
TOOLTIP_STYLE = {"backgroundColor": "rgba(20,20,20,0.88)", "color": "white", "fontSize": "13px"}
PIXELS = "'pixels'"  # quoted: pydeck turns a bare string into a JS accessor expression
DEFAULT_TOP_K = 3000
DEFAULT_FLOOR = 1e-5
PROB_RANGE = (1e-6, 1.0)  # the threshold slider's range: legend and slider agree
GAIN_RANGE = (0.01, 100.0)


Box = tuple[float, float, float, float]  # west, south, east, north (degrees)
VIEW_PX = (900.0, 440.0)  # the map a zoom is fitted to (px; the catalog map is 480 high)


def grid_bounds(grid: Grid) -> Box:
    """The grid's lon/lat box (its outline's extremes; east may pass 180)."""
    lon, lat = _outline(grid)
    return float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())


def fit_zoom(box: Box, px: tuple[float, float] = VIEW_PX) -> float:
    """The web-Mercator zoom at which ``box`` fills a ``px`` map (deck.gl: 512 px world)."""
    west, south, east, north = box
    lat = math.radians(max(-80.0, min(80.0, (south + north) / 2)))
    span_x = max(east - west, 1e-3) * math.cos(lat)  # degrees of a great circle
    span_y = max(north - south, 1e-3)
    fit = min(px[0] / span_x, px[1] / span_y) * 360.0 * math.cos(lat) / 512.0
    return float(np.clip(math.log2(fit), 1.0, 13.0))


def view_state(
    grid: Grid | None = None, zoom: float | None = None, box: Box | None = None
) -> pdk.ViewState:
    """A view centred on ``box`` (else the grid's bounds; the Japan view without either).

    ``zoom`` is the zoom wanted for the Japan grid's 2000 x 2500 km (the pages' tuning); a
    grid of another size gets the same framing: that zoom plus the difference of the fitted
    zooms. Without ``zoom`` the view fits the box.
    """
    if grid is None and box is None:
        return pdk.ViewState(**{**JAPAN_VIEW, **({"zoom": zoom} if zoom else {})})
    if box is None and grid == JAPAN_GRID:
        return pdk.ViewState(**{**JAPAN_VIEW, **({"zoom": zoom} if zoom else {})})
    box = box if box is not None else grid_bounds(grid)  # type: ignore[arg-type]
    fitted = fit_zoom(box)
    z = fitted if zoom is None else zoom + fitted - fit_zoom(grid_bounds(JAPAN_GRID))
    return pdk.ViewState(
        latitude=(box[1] + box[3]) / 2, longitude=(box[0] + box[2]) / 2, zoom=float(z)
    )


def view_box(view: pdk.ViewState, px: tuple[float, float] = (2400.0, 1600.0)) -> Box:
    """The lon/lat box a ``px`` map shows at ``view`` (generous: any page's map fits in it)."""
    deg_per_px = 360.0 / (512.0 * 2.0 ** float(view.zoom))
    half_w = px[0] / 2 * deg_per_px
    lat = math.radians(max(-80.0, min(80.0, float(view.latitude))))
    half_h = px[1] / 2 * deg_per_px * math.cos(lat)
    lon, lat_c = float(view.longitude), float(view.latitude)
    return lon - half_w, max(-90.0, lat_c - half_h), lon + half_w, min(90.0, lat_c + half_h)


def coastline_layer(width_px: float = 1.2, box: Box | None = None) -> pdk.Layer:
    """Coastlines (Natural Earth 1:50m land, bundled) as a PathLayer, clipped to ``box``
    (the Japan view's box by default)."""
    box = box if box is not None else view_box(view_state(None))
    return pdk.Layer(
        "PathLayer",
        id="coastline-path",
        data=_coastline_raw(tuple(round(v, 1) for v in box)),
        get_path="path",
        get_color=list(COAST_COLOR),
        width_units=PIXELS,
        get_width=width_px,
        pickable=False,
    )


def _outline(grid: Grid, n: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """Lon and lat of ``4 n`` points around the grid's outline."""
    xs = grid.x0_km + np.linspace(0, grid.nx * grid.cell_km, n)
    ys = grid.y0_km + np.linspace(0, grid.ny * grid.cell_km, n)
    x = np.concatenate([xs, np.full(n, xs[-1]), xs[::-1], np.full(n, xs[0])])
    y = np.concatenate([np.full(n, ys[0]), ys, np.full(n, ys[-1]), ys[::-1]])
    lat, lon = grid.unproject(x, y)
    return lon, lat


def grid_outline_layer(grid: Grid) -> pdk.Layer:
    """The outline of the model grid (dashed look by a thin grey line)."""
    lon, lat = _outline(grid)
    path = np.round(np.stack([lon, lat], axis=-1), 3).tolist()
    return pdk.Layer(
        "PathLayer",
        id="grid-outline-path",
        data=[{"path": path}],
        get_path="path",
        get_color=list(GRID_COLOR),
        width_units=PIXELS,
        get_width=1,
        pickable=False,
    )


class CompactDeck(pdk.Deck):
    """A Deck serialised without indentation (pydeck indents by 2: ~4x larger for polygons)
    and with pre-encoded layer data spliced in (see `RawData`), so a large, unchanged data
    list is encoded once, not on every rerun."""

    def to_json(self) -> str:
        raw: dict[str, str] = {}
        for layer in self.layers:
            if isinstance(layer.data, RawData):
                token = f"@@quake-raw-{len(raw)}"
                raw[json.dumps(token)] = layer.data.json
                layer.data = token
        try:
            out = json.dumps(self, sort_keys=True, default=default_serialize, separators=(",", ":"))
        finally:
            for layer in self.layers:
                if isinstance(layer.data, str) and layer.data.startswith("@@quake-raw-"):
                    layer.data = RawData(raw[json.dumps(layer.data)])
        for token, text in raw.items():
            out = out.replace(token, text, 1)
        return out


@dataclass(frozen=True)
class RawData:
    """A layer's data list already encoded as compact JSON text."""

    json: str

    @classmethod
    def of(cls, records: list) -> RawData:
        return cls(json.dumps(records, separators=(",", ":")))


def _deck(layers: list[pdk.Layer], view: pdk.ViewState) -> pdk.Deck:
    return CompactDeck(
        layers=layers,
        # repeat: copies of the world side by side, so that a grid across the date line,
        # whose longitudes run past 180, is drawn where its view is
        views=[pdk.View(type="MapView", controller=True, repeat=True)],
        initial_view_state=view,
        map_provider=None,
        map_style=None,
        tooltip={"html": "{tip}", "style": TOOLTIP_STYLE},
    )


@lru_cache(maxsize=16)
def _coastline_raw(box: Box) -> RawData:
    return RawData.of([{"path": line} for line in coastline_in_box(*box)])


# -- catalog events -----------------------------------------------------------------------
MAG_RANGE = (3.0, 8.0)


MAINSHOCK_COLOR = (213, 94, 0)  # Okabe-Ito vermillion
CLUSTERED_COLOR = (86, 180, 233)  # Okabe-Ito sky blue


def events_deck(
    events: pd.DataFrame,
    grid: Grid | None = None,
    max_points: int = 20000,
    mag_range: tuple[float, float] = MAG_RANGE,
) -> pdk.Deck:
    """Events as circles sized and coloured by magnitude (viridis over ``mag_range``,
    M3 to M8 by default; a catalog of small quakes passes its own).

    ``events``: canonical columns ``time, latitude, longitude, magnitude`` (already
    filtered by the page). The largest ``max_points`` events are drawn.
    """
    ev = _largest(events, max_points)
    mag = ev["magnitude"].to_numpy(np.float64)
    color = ramp_colors(mag, *mag_range, ramp=VIRIDIS, log=False, alpha=190)
    return _events_deck(ev, color, [""] * len(ev), "catalog-events-scatter", grid)


def mainshocks_deck(
    events: pd.DataFrame,
    mainshock: np.ndarray,
    grid: Grid | None = None,
    max_points: int = 20000,
) -> pdk.Deck:
    """Mainshocks (vermillion) and clustered events (sky blue), sized by magnitude.

    ``events``: canonical columns ``time, latitude, longitude, magnitude``; ``mainshock``:
    bool ``(len(events),)`` (`quake.data.decluster.Declustering.mainshock`). The largest
    ``max_points`` events are drawn, larger on top.
    """
    flag = pd.Series(np.asarray(mainshock, dtype=bool), index=events.index, name="_main")
    ev = _largest(events.assign(_main=flag), max_points)
    main = ev["_main"].to_numpy(bool)
    color = np.where(main[:, None], [*MAINSHOCK_COLOR, 215], [*CLUSTERED_COLOR, 150])
    kind = np.where(main, "mainshock", "clustered")
    return _events_deck(ev, color, [f"<br/>{k}" for k in kind], "mainshock-events-scatter", grid)


def _largest(events: pd.DataFrame, max_points: int) -> pd.DataFrame:
    ev = events
    if len(ev) > max_points:
        ev = ev.nlargest(max_points, "magnitude")
    return ev.sort_values("magnitude")  # large events drawn last, on top


def _events_deck(
    ev: pd.DataFrame, color: np.ndarray, notes: list[str], layer_id: str, grid: Grid | None
) -> pdk.Deck:
    """Circles for ``ev`` (sorted as drawn) with RGBA ``color`` ``(n, 4)`` and tooltip notes."""
    mag = ev["magnitude"].to_numpy(np.float64)
    t = ev["time"].dt.strftime("%Y-%m-%d %H:%M UTC").to_numpy()
    # Radius (m) grows like the rupture length, ~10^(0.5 M); floor keeps M3 visible.
    radius = np.round(800.0 * 10 ** (0.35 * (mag - 3.0))).astype(int).tolist()
    tips = [f"M{m:.1f}<br/>{s}{n}" for m, s, n in zip(mag, t, notes, strict=True)]
    lon = ev["longitude"].to_numpy(np.float64)
    if grid is not None:  # the grid's frame: across the date line, 179 W is drawn at 181
        lon = grid.lon0 + wrap_lon(lon - grid.lon0)
    data = [
        {"lon": lo, "lat": la, "r": r, "c": c, "tip": tip}
        for lo, la, r, c, tip in zip(
            np.round(lon, 3).tolist(),
            ev["latitude"].round(3).tolist(),
            radius,
            np.asarray(color).astype(int).tolist(),
            tips,
            strict=True,
        )
    ]
    view = view_state(grid) if grid is not None else _events_view(ev)
    layers = [coastline_layer(box=view_box(view))]
    if grid is not None:
        layers.append(grid_outline_layer(grid))
    layers.append(
        pdk.Layer(
            "ScatterplotLayer",
            id=layer_id,
            data=data,
            get_position=["lon", "lat"],
            get_radius="r",
            radius_min_pixels=1.5,
            radius_max_pixels=40,
            get_fill_color="c",
            stroked=True,
            get_line_color=[255, 255, 255, 160],
            line_width_min_pixels=0.3,
            pickable=True,
        )
    )
    return _deck(layers, view)


def _events_view(ev: pd.DataFrame) -> pdk.ViewState:
    """A view fitting the events (a catalog with no grid); the Japan view without events."""
    if ev.empty:
        return view_state(None)
    west, east = compact_lon_range(ev["longitude"].to_numpy())
    lat = ev["latitude"].to_numpy(np.float64)
    return view_state(box=(west, float(lat.min()), max(east, west + 0.1), float(lat.max()) + 0.1))


# -- forecast cells -----------------------------------------------------------------------
@dataclass(frozen=True)
class CellSelection:
    """The cells a forecast map draws: indices into the flat grid and why."""

    cells: np.ndarray
    n_above_floor: int
    top_k: int


def select_cells(
    probs: np.ndarray, floor: float = DEFAULT_FLOOR, top_k: int = DEFAULT_TOP_K
) -> CellSelection:
    """Cells with p >= floor, at most the ``top_k`` most likely (``probs``: ``(ny, nx)``).

    The same cells are drawn whether they are coloured by probability or by gain: picking
    the largest gains instead would leave holes where a likely cell has a high prior.
    """
    p = np.asarray(probs, dtype=np.float64).ravel()
    cand = np.flatnonzero(p >= floor)
    if len(cand) > top_k:
        keep = np.argpartition(p[cand], len(cand) - top_k)[len(cand) - top_k :]
        cand = cand[keep]
    return CellSelection(np.sort(cand), int((p >= floor).sum()), top_k)


def cell_polygons(grid: Grid, cells: np.ndarray) -> list[list[list[float]]]:
    """Lon/lat corners (3 decimals, ~100 m) of each cell: ``[[lon, lat] x 4]`` per cell."""
    return np.round(grid.cell_corners(cells), 3).tolist()


@dataclass(frozen=True)
class PreparedCells:
    """The cells of one forecast map, encoded once: a threshold move only changes the fill
    accessor (``p >= threshold`` decides faded or not in the browser), not the data.

    ``data`` holds per cell ``polygon``, colour ``r, g, b``, probability ``p`` and ``tip``.
    """

    data: RawData
    selection: CellSelection
    probs: np.ndarray  # (n,) probability of each drawn cell


def prepare_cells(
    grid: Grid,
    probs: np.ndarray,
    prior: np.ndarray | None = None,
    mode: str = "probability",
    floor: float = DEFAULT_FLOOR,
    top_k: int = DEFAULT_TOP_K,
    prob_range: tuple[float, float] = PROB_RANGE,
    gain_range: tuple[float, float] = GAIN_RANGE,
) -> PreparedCells:
    """Select and encode the cells of a forecast map: coloured by probability (log YlOrRd)
    or by gain p / prior (log RdBu), each with its tooltip."""
    sel = select_cells(probs, floor, top_k)
    cells = sel.cells
    p = np.asarray(probs, dtype=np.float64).ravel()[cells]
    pr = np.asarray(prior, dtype=np.float64).ravel()[cells] if prior is not None else None
    ratio = p / np.maximum(pr, 1e-12) if pr is not None else None
    if mode == "gain" and ratio is not None:
        color = ramp_colors(ratio, *gain_range, ramp=RDBU, log=True)
    else:
        color = ramp_colors(p, *prob_range, ramp=YLORRD, log=True)
    iy, ix = np.divmod(cells, grid.nx)
    tips = []
    for k in range(len(cells)):
        tip = f"cell {int(ix[k])},{int(iy[k])}<br/>P = {fmt_prob(p[k])}"
        if pr is not None and ratio is not None:
            tip += f"<br/>prior {fmt_prob(pr[k])}<br/>{ratio[k]:.3g}× prior"
        tips.append(tip)
    # float32 text keeps the JSON short; the comparison with the threshold stays exact
    # enough for colouring (the counts come from the operating curve, not from here).
    pv = p.astype(np.float32).tolist()
    records = [
        {"polygon": poly, "r": c[0], "g": c[1], "b": c[2], "p": float(f"{q:.6g}"), "tip": tip}
        for poly, c, q, tip in zip(
            cell_polygons(grid, cells), color.tolist(), pv, tips, strict=True
        )
    ]
    return PreparedCells(RawData.of(records), sel, p)


def cells_layer(cells: PreparedCells, threshold: float | None = None) -> pdk.Layer:
    """The cell polygons; with a ``threshold``, cells below it are faded."""
    alpha = "215" if threshold is None else f"(p >= {float(threshold)!r} ? 215 : 50)"
    return pdk.Layer(
        "PolygonLayer",
        id="forecast-cells-polygon",
        data=cells.data,
        get_polygon="polygon",
        get_fill_color=f"[r, g, b, {alpha}]",
        stroked=False,
        filled=True,
        pickable=True,
        update_triggers={"getFillColor": [alpha]},
    )


def target_events_layer(window: pd.DataFrame, mc: float) -> pdk.Layer | None:
    """The window's quakes: hits as filled blue dots, misses as black rings (pixel radius).

    ``window``: columns ``time, latitude, longitude, magnitude, hit, p``
    (see `quake.service.forecast_cache.mark_hits`).
    """
    if window.empty:
        return None
    mag = window["magnitude"].to_numpy(np.float64)
    hit = window["hit"].to_numpy(bool)
    fill = np.where(hit[:, None], [*HIT_COLOR, 230], [255, 255, 255, 90])
    line = np.where(hit[:, None], [255, 255, 255, 255], [*MISS_COLOR, 255])
    t = window["time"].dt.strftime("%Y-%m-%d").to_numpy()
    p = window["p"].to_numpy(np.float64)
    tips = [
        f"M{m:.1f} on {s}<br/>{'hit (cell alarmed)' if h else 'missed'}<br/>P in its cell = "
        f"{fmt_prob(q) if math.isfinite(q) else 'outside grid'}"
        for m, s, h, q in zip(mag, t, hit, p, strict=True)
    ]
    radius = np.round(3.0 + 2.0 * np.clip(mag - mc, 0, 4), 1).tolist()
    data = [
        {"lon": lo, "lat": la, "r": r, "f": f, "l": li, "tip": tip}
        for lo, la, r, f, li, tip in zip(
            window["longitude"].round(3).tolist(),
            window["latitude"].round(3).tolist(),
            radius,
            fill.tolist(),
            line.tolist(),
            tips,
            strict=True,
        )
    ]
    return pdk.Layer(
        "ScatterplotLayer",
        id="target-events-scatter",
        data=data,
        get_position=["lon", "lat"],
        get_radius="r",
        radius_units=PIXELS,
        get_fill_color="f",
        get_line_color="l",
        stroked=True,
        line_width_units=PIXELS,
        get_line_width=1.5,
        pickable=True,
    )


def forecast_deck(
    grid: Grid,
    probs: np.ndarray | PreparedCells,
    prior: np.ndarray | None = None,
    mode: str = "probability",
    threshold: float | None = None,
    window: pd.DataFrame | None = None,
    mc: float = 5.0,
    floor: float = DEFAULT_FLOOR,
    top_k: int = DEFAULT_TOP_K,
    zoom: float | None = None,
) -> tuple[pdk.Deck, CellSelection]:
    """The forecast map of one day: cells (faded below the threshold), the window's quakes
    (hit or missed), the grid outline and coastlines.

    ``probs``: the ``(ny, nx)`` probabilities, or cells already made by `prepare_cells`
    (a page caches those per day, so a threshold move re-encodes nothing).
    """
    cells = (
        probs
        if isinstance(probs, PreparedCells)
        else prepare_cells(grid, probs, prior, mode, floor, top_k)
    )
    view = view_state(grid, zoom)
    layers = [grid_outline_layer(grid), cells_layer(cells, threshold)]
    layers.append(coastline_layer(box=view_box(view)))
    if window is not None:
        ev = target_events_layer(window, mc)
        if ev is not None:
            layers.append(ev)
    return _deck(layers, view), cells.selection
