"""Offline coastline polylines for the Japan region.

Reads the bundled ``data/coastline_japan.geojson`` (Natural Earth, public
domain; see ``data/README.md``) with the standard library only, so maps can
draw coastlines without any network access.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "data" / "coastline_japan.geojson"

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
