"""Tests for the bundled offline coastline and its loader."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from quake.data.coastline import (
    DEFAULT_PATH,
    WORLD_PATH,
    coastline_in_box,
    coastline_paths_for_pydeck,
    load_coastline,
)

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


# -- the world coastline (maps of any region) ---------------------------------------------
def test_world_coastline_is_bundled_small_and_sourced() -> None:
    doc = json.loads(WORLD_PATH.read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection" and "Natural Earth" in doc["source"]
    assert WORLD_PATH.stat().st_size < 1_000_000
    assert len(doc["features"]) > 1000  # every continent and the larger islands


@pytest.mark.parametrize(
    ("box", "coast"),
    [
        ((-119.0, 32.0, -116.0, 35.0), (-117.25, 32.85)),  # La Jolla, San Diego
        ((-10.0, 35.0, 5.0, 45.0), (-9.4, 38.75)),  # Cabo da Roca, Portugal
        ((170.0, -46.0, 176.0, -40.0), (174.8, -41.3)),  # Wellington
    ],
)
def test_coastline_in_box_is_clipped_to_the_box_and_finds_the_coast(box, coast) -> None:
    lines = coastline_in_box(*box)
    assert lines
    west, south, east, north = box
    pts = np.array([p for line in lines for p in line])
    # Runs are kept with one point beyond each end: within a few km of the box.
    assert (pts[:, 0] > west - 1).all() and (pts[:, 0] < east + 1).all()
    assert (pts[:, 1] > south - 1).all() and (pts[:, 1] < north + 1).all()
    nearest = np.hypot(pts[:, 0] - coast[0], pts[:, 1] - coast[1]).min()
    assert nearest < 0.1, nearest


def test_coastline_across_the_date_line_and_open_ocean() -> None:
    # Fiji's Vanua Levu straddles 180; a grid there gives longitudes past 180.
    east = np.array([p for line in coastline_in_box(178.0, -18.0, 182.0, -15.0) for p in line])
    assert (east[:, 0] > 180.0).any() and (east[:, 0] < 180.0).any()
    assert coastline_in_box(-140.0, -40.0, -130.0, -30.0) == []  # the South Pacific
    assert coastline_in_box(5.0, 0.0, 4.0, 1.0) == []  # not a box


def _extract_script():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "scripts" / "extract_coastline.py"
    spec = importlib.util.spec_from_file_location("extract_coastline", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_extract_script_drops_the_date_line_cut_and_keeps_coasts() -> None:
    script = _extract_script()
    # A square island cut by the date line: its edge along lon = 180 is not a coast.
    topo = {
        "type": "Topology",
        "objects": {
            "land": {
                "type": "GeometryCollection",
                "geometries": [{"type": "Polygon", "arcs": [[0]]}],
            }
        },
        "arcs": [[[170.0, 10.0], [180.0, 10.0], [180.0, 20.0], [170.0, 20.0], [170.0, 10.0]]],
    }
    fc = script.build(topo, tol=0.01, min_points=2, source="test")
    lines = [f["geometry"]["coordinates"] for f in fc["features"]]
    segments = [(a, b) for line in lines for a, b in zip(line, line[1:], strict=False)]
    assert ([180.0, 10.0], [180.0, 20.0]) not in segments
    assert sum(len(s) - 1 for s in lines) == 3  # the three true coasts
    assert fc["source"] == "test"


def test_no_piece_of_coast_jumps_across_the_map_at_the_date_line():
    """Stop 27: a Fiji ring of the data steps from 179.99 to -180 (and its copy shifted by
    360 from 539.99 to 180): drawn whole, each step was a line across the whole map."""
    for box in ((168.0, -28.0, 194.0, -12.0), (-194.0, -28.0, -168.0, -12.0)):
        lines = coastline_in_box(*box)
        assert lines
        for line in lines:
            lon = np.array([p[0] for p in line])
            assert len(lon) >= 2 and np.abs(np.diff(lon)).max() <= 180.0, line[:3]
