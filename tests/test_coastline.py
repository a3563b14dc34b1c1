"""Tests for the bundled offline coastline and its loader."""

from __future__ import annotations

import json
import math

from quake.data.coastline import DEFAULT_PATH, coastline_paths_for_pydeck, load_coastline

LON_MIN, LAT_MIN, LON_MAX, LAT_MAX = 120.0, 20.0, 152.0, 48.0


def _all_points() -> list[tuple[float, float]]:
    return [pt for line in load_coastline() for pt in line]


def test_file_is_geojson_with_source() -> None:
    doc = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection"
    assert doc["features"]
    for feat in doc["features"]:
        assert feat["geometry"]["type"] in ("LineString", "MultiLineString")
        assert "Natural Earth" in feat["properties"]["source"]


def test_file_is_small() -> None:
    assert DEFAULT_PATH.stat().st_size < 1_000_000


def test_loads_paths() -> None:
    paths = load_coastline()
    assert len(paths) > 10
    assert all(len(line) >= 2 for line in paths)
    lon, lat = paths[0][0]
    assert isinstance(lon, float) and isinstance(lat, float)


def test_points_within_bbox() -> None:
    for lon, lat in _all_points():
        assert LON_MIN <= lon <= LON_MAX
        assert LAT_MIN <= lat <= LAT_MAX


def test_honshu_point_count_reasonable() -> None:
    honshu = [(x, y) for x, y in _all_points() if 134.0 <= x <= 142.1 and 34.0 <= y <= 41.6]
    assert 200 <= len(honshu) <= 20_000


def test_known_coasts_present() -> None:
    pts = _all_points()
    # Tokyo Bay, Osaka Bay, Cape Soya (Hokkaido), Busan (Korea).
    for lon, lat in [(139.8, 35.55), (135.3, 34.6), (141.94, 45.52), (129.05, 35.08)]:
        nearest = min(math.hypot(x - lon, y - lat) for x, y in pts)
        assert nearest < 0.3, (lon, lat, nearest)


def test_load_returns_fresh_lists() -> None:
    first = load_coastline()
    first[0].clear()
    assert load_coastline()[0]


def test_pydeck_paths_shape() -> None:
    data = coastline_paths_for_pydeck()
    assert len(data) == len(load_coastline())
    first = data[0]["path"]
    assert isinstance(first, list) and len(first[0]) == 2
    assert all(isinstance(v, float) for v in first[0])


def test_custom_path(tmp_path) -> None:
    src = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {},
                "geometry": {
                    "type": "MultiLineString",
                    "coordinates": [
                        [[130, 30], [131, 31]],
                        [[140, 40], [141, 41], [142, 42]],
                    ],
                },
            }
        ],
    }
    path = tmp_path / "c.geojson"
    path.write_text(json.dumps(src))
    assert load_coastline(path) == [
        [(130.0, 30.0), (131.0, 31.0)],
        [(140.0, 40.0), (141.0, 41.0), (142.0, 42.0)],
    ]
