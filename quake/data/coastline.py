"""Offline coastline polylines: the world's, and a finer one of the Japan region.

Reads the bundled ``data/coastline_world.geojson`` (Natural Earth 1:50m land) and
``data/coastline_japan.geojson`` (1:10m, Japan region), both public domain (see
``data/README.md``), with the standard library and numpy only, so maps draw coastlines
without any network access. `coastline_in_box` gives the world's lines that cross a
view, for maps of any region.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
DEFAULT_PATH = DATA_DIR / "coastline_japan.geojson"
WORLD_PATH = DATA_DIR / "coastline_world.geojson"

LonLat = tuple[float, float]


def _geometry_lines(geom: dict) -> list[list[list[float]]]:
    """Raw coordinate lists of every line (or ring) in a GeoJSON geometry."""
    kind = geom.get("type")
    coords = geom.get("coordinates", [])
    if kind == "LineString":
        return [coords]
    if kind in ("MultiLineString", "Polygon"):
        return list(coords)
    if kind == "MultiPolygon":
        return [ring for poly in coords for ring in poly]
    if kind == "GeometryCollection":
        return [line for sub in geom.get("geometries", []) for line in _geometry_lines(sub)]
    return []


@lru_cache(maxsize=4)
def _load(path: str) -> tuple[tuple[LonLat, ...], ...]:
    """Parse ``path`` once; an immutable cache shared by the public helpers."""
    with open(path, encoding="utf-8") as fh:
        doc = json.load(fh)
    if doc.get("type") == "FeatureCollection":
        geoms = [f.get("geometry") or {} for f in doc.get("features", [])]
    elif doc.get("type") == "Feature":
        geoms = [doc.get("geometry") or {}]
    else:
        geoms = [doc]
    paths = []
    for geom in geoms:
        for line in _geometry_lines(geom):
            pts = tuple((float(p[0]), float(p[1])) for p in line)
            if len(pts) >= 2:
                paths.append(pts)
    return tuple(paths)


def load_coastline(path: str | Path | None = None) -> list[list[LonLat]]:
    """Load coastline polylines as lists of ``(lon, lat)`` tuples.

    Args:
        path: GeoJSON file to read; defaults to the bundled
            ``data/coastline_japan.geojson``.

    Returns:
        One list per polyline, each with at least two ``(lon, lat)`` points in
        degrees. A fresh list is returned on every call, so callers may mutate it.
    """
    target = Path(path) if path is not None else DEFAULT_PATH
    return [list(line) for line in _load(str(target.resolve()))]


def coastline_paths_for_pydeck(
    path: str | Path | None = None,
) -> list[dict[str, list[list[float]]]]:
    """Coastlines as ``[{"path": [[lon, lat], ...]}, ...]`` for a pydeck ``PathLayer``.

    Use with ``get_path="path"``.

    Args:
        path: GeoJSON file to read; defaults to the bundled coastline.
    """
    return [{"path": [[lon, lat] for lon, lat in line]} for line in load_coastline(path)]


@lru_cache(maxsize=2)
def _arrays(path: str) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Each polyline as an ``(n, 2)`` lon/lat array, and every line's bounding box
    ``(n_lines, 4)`` as west, south, east, north."""
    lines = tuple(np.asarray(line, dtype=np.float64) for line in _load(path))
    boxes = np.array(
        [[a[:, 0].min(), a[:, 1].min(), a[:, 0].max(), a[:, 1].max()] for a in lines]
    ).reshape(-1, 4)
    return lines, boxes


def _runs_inside(line: np.ndarray, box: tuple[float, float, float, float]) -> list[np.ndarray]:
    """The runs of ``line`` inside ``box``, each with one point beyond either end, so a
    coast drawn in the view runs on to its edge (the renderer cuts it there)."""
    west, south, east, north = box
    lon, lat = line[:, 0], line[:, 1]
    inside = (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
    if not inside.any():
        return []
    keep = inside.copy()
    keep[1:] |= inside[:-1]
    keep[:-1] |= inside[1:]
    edges = np.flatnonzero(np.diff(np.concatenate([[0], keep.astype(np.int8), [0]])))
    return [line[a:b] for a, b in zip(edges[::2], edges[1::2], strict=True) if b - a >= 2]


def coastline_in_box(
    west: float,
    south: float,
    east: float,
    north: float,
    path: str | Path | None = None,
) -> list[list[LonLat]]:
    """The coastline polylines that cross the box, clipped to it (degrees).

    Longitudes may run past 180 (or below -180), as a grid across the date line gives
    them (`quake.data.grid.Grid.unproject`): the world is then drawn once more, shifted
    by 360 degrees, so a coast east of the date line is where that grid's cells are.

    Args:
        west, south, east, north: the box; ``west < east`` and ``south < north``.
        path: GeoJSON file to read; the bundled world coastline by default.

    Returns:
        One list of ``(lon, lat)`` tuples per piece, each of at least two points; empty
        when no coast crosses the box (open ocean) or the box is not a box.
    """
    values = (west, south, east, north)
    if not all(math.isfinite(v) for v in values) or west >= east or south >= north:
        return []
    target = Path(path) if path is not None else WORLD_PATH
    lines, boxes = _arrays(str(target.resolve()))
    out: list[list[LonLat]] = []
    for shift in (-360.0, 0.0, 360.0):
        w, e = west - shift, east - shift
        if e < -180.0 or w > 180.0:
            continue
        hit = (boxes[:, 2] >= w) & (boxes[:, 0] <= e) & (boxes[:, 3] >= south)
        hit &= boxes[:, 1] <= north
        for i in np.flatnonzero(hit):
            for run in _runs_inside(lines[i], (w, south, e, north)):
                for piece in _split_at_jumps(run + np.array([shift, 0.0])):
                    out.append([(float(x), float(y)) for x, y in piece])
    return out


def _split_at_jumps(pts: np.ndarray) -> list[np.ndarray]:
    """``pts`` cut where two neighbours are more than 180 degrees of longitude apart (a
    ring of the data that steps from 179.99 to -180 at the date line): drawn whole, that
    step is a line across the map. Pieces of fewer than two points are left out."""
    cuts = np.flatnonzero(np.abs(np.diff(pts[:, 0])) > 180.0) + 1
    return [p for p in np.split(pts, cuts) if len(p) >= 2]
