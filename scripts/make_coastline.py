"""Build ``data/coastline_japan.geojson`` from Natural Earth land polygons.

Source: the ``world-atlas`` npm package (Natural Earth 4.1.0 redistributed as
TopoJSON by Mike Bostock). Natural Earth data is in the public domain.

The script decodes the TopoJSON ``land`` object (quantized, delta-encoded
arcs), takes every polygon ring as a coastline polyline, clips the lines to
the Japan-region bounding box, simplifies them with Douglas-Peucker, rounds
coordinates to 3 decimals and writes a GeoJSON FeatureCollection of
LineString features.

It needs only the Python standard library plus ``npm`` (to fetch the package)
unless ``--topojson`` points at an already-downloaded file::

    python3 scripts/make_coastline.py                      # runs `npm pack`
    python3 scripts/make_coastline.py --topojson /tmp/wa/package/land-50m.json

The output is deterministic for a given input file and options.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
from itertools import pairwise
from pathlib import Path

Point = tuple[float, float]
Line = list[Point]

PACKAGE = "world-atlas@2.0.2"
DEFAULT_MEMBER = "land-10m.json"
DEFAULT_BBOX = (120.0, 20.0, 152.0, 48.0)  # lon_min, lat_min, lon_max, lat_max
DEFAULT_TOLERANCE = 0.01  # degrees, Douglas-Peucker
DEFAULT_MIN_POINTS = 3  # drop tiny slivers (after simplification)
ROUND = 3
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "data" / "coastline_japan.geojson"


def fetch_topojson(member: str) -> dict:
    """Download the world-atlas tarball with ``npm pack`` and read ``member``."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            ["npm", "pack", PACKAGE, "--silent"],
            cwd=tmp,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        tgz = next(Path(tmp).glob("world-atlas-*.tgz"))
        with tarfile.open(tgz) as tar:
            fh = tar.extractfile(f"package/{member}")
            if fh is None:
                raise FileNotFoundError(member)
            return json.load(fh)


def decode_arcs(topo: dict) -> list[Line]:
    """Return absolute lon/lat arcs from a quantized, delta-encoded topology."""
    transform = topo.get("transform")
    arcs: list[Line] = []
    for arc in topo["arcs"]:
        if transform is None:
            arcs.append([(float(x), float(y)) for x, y, *_ in arc])
            continue
        (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
        x = y = 0
        out: Line = []
        for dx, dy, *_ in arc:
            x += dx
            y += dy
            out.append((x * sx + tx, y * sy + ty))
        arcs.append(out)
    return arcs


def ring_from_arcs(indices: list[int], arcs: list[Line]) -> Line:
    """Stitch arc references (negative = reversed ``~i``) into one ring."""
    ring: Line = []
    for idx in indices:
        pts = arcs[idx] if idx >= 0 else arcs[~idx][::-1]
        ring.extend(pts if not ring else pts[1:])
    return ring


def object_rings(topo: dict, name: str) -> list[Line]:
    """All polygon rings of a TopoJSON object, as lon/lat point lists."""
    arcs = decode_arcs(topo)
    rings: list[Line] = []

    def walk(geom: dict) -> None:
        kind = geom.get("type")
        if kind == "GeometryCollection":
            for sub in geom["geometries"]:
                walk(sub)
        elif kind == "Polygon":
            rings.extend(ring_from_arcs(r, arcs) for r in geom["arcs"])
        elif kind == "MultiPolygon":
            for poly in geom["arcs"]:
                rings.extend(ring_from_arcs(r, arcs) for r in poly)

    walk(topo["objects"][name])
    return rings


def clip_segment(
    p: Point, q: Point, bbox: tuple[float, float, float, float]
) -> tuple[Point, Point] | None:
    """Liang-Barsky clip of segment ``p``-``q``; ``None`` if fully outside."""
    x0, y0, x1, y1 = bbox
    dx, dy = q[0] - p[0], q[1] - p[1]
    t0, t1 = 0.0, 1.0
    for pk, qk in (
        (-dx, p[0] - x0),
        (dx, x1 - p[0]),
        (-dy, p[1] - y0),
        (dy, y1 - p[1]),
    ):
        if pk == 0:
            if qk < 0:
                return None
            continue
        t = qk / pk
        if pk < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
        if t0 > t1:
            return None
    a = p if t0 == 0.0 else (p[0] + t0 * dx, p[1] + t0 * dy)
    b = q if t1 == 1.0 else (p[0] + t1 * dx, p[1] + t1 * dy)
    return a, b


def clip_line(line: Line, bbox: tuple[float, float, float, float]) -> list[Line]:
    """Clip a polyline to ``bbox``, splitting it wherever it leaves the box."""
    pieces: list[Line] = []
    cur: Line = []
    for p, q in pairwise(line):
        seg = clip_segment(p, q, bbox)
        if seg is None:
            if cur:
                pieces.append(cur)
                cur = []
            continue
        a, b = seg
        if cur and cur[-1] != a:
            pieces.append(cur)
            cur = []
        if not cur:
            cur.append(a)
        cur.append(b)
        if b != q:  # left the box
            pieces.append(cur)
            cur = []
    if cur:
        pieces.append(cur)
    return [pc for pc in pieces if len(pc) >= 2]


def _perp_dist(p: Point, a: Point, b: Point) -> float:
    dx, dy = b[0] - a[0], b[1] - a[1]
    if dx == 0 and dy == 0:
        return ((p[0] - a[0]) ** 2 + (p[1] - a[1]) ** 2) ** 0.5
    return abs(dy * p[0] - dx * p[1] + b[0] * a[1] - b[1] * a[0]) / (dx * dx + dy * dy) ** 0.5


def simplify(line: Line, tol: float) -> Line:
    """Iterative Douglas-Peucker simplification (tolerance in degrees)."""
    if len(line) < 3:
        return list(line)
    keep = [False] * len(line)
    keep[0] = keep[-1] = True
    # A closed ring has a zero-length chord; split it at the farthest point.
    stack = [(0, len(line) - 1)]
    if line[0] == line[-1]:
        far = max(range(1, len(line) - 1), key=lambda i: _perp_dist(line[i], line[0], line[0]))
        keep[far] = True
        stack = [(0, far), (far, len(line) - 1)]
    while stack:
        i, j = stack.pop()
        best, best_d = -1, tol
        for k in range(i + 1, j):
            d = _perp_dist(line[k], line[i], line[j])
            if d > best_d:
                best, best_d = k, d
        if best >= 0:
            keep[best] = True
            stack.extend(((i, best), (best, j)))
    return [p for p, k in zip(line, keep, strict=True) if k]


def build(
    topo: dict,
    bbox: tuple[float, float, float, float],
    tol: float,
    min_points: int,
    source: str,
) -> dict:
    """Clip, simplify and round all land rings into a GeoJSON FeatureCollection."""
    features = []
    for ring in object_rings(topo, "land"):
        xs, ys = [p[0] for p in ring], [p[1] for p in ring]
        if max(xs) < bbox[0] or min(xs) > bbox[2] or max(ys) < bbox[1] or min(ys) > bbox[3]:
            continue
        for piece in clip_line(ring, bbox):
            simple = simplify(piece, tol)
            coords: list[list[float]] = []
            for x, y in simple:
                pt = [round(x, ROUND), round(y, ROUND)]
                if not coords or coords[-1] != pt:
                    coords.append(pt)
            if len(coords) < min_points:
                continue
            features.append(
                {
                    "type": "Feature",
                    "properties": {"source": source},
                    "geometry": {"type": "LineString", "coordinates": coords},
                }
            )
    return {
        "type": "FeatureCollection",
        "name": "coastline_japan",
        "bbox": list(bbox),
        "features": features,
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--topojson", type=Path, help="local world-atlas TopoJSON (skips npm pack)")
    ap.add_argument("--member", default=DEFAULT_MEMBER, help="file inside the npm package")
    ap.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE)
    ap.add_argument("--min-points", type=int, default=DEFAULT_MIN_POINTS)
    ap.add_argument(
        "--bbox",
        type=float,
        nargs=4,
        default=DEFAULT_BBOX,
        metavar=("W", "S", "E", "N"),
    )
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)

    if args.topojson is not None:
        topo = json.loads(args.topojson.read_text())
        member = args.topojson.name
    else:
        topo = fetch_topojson(args.member)
        member = args.member
    scale = member.split("-")[-1].removesuffix(".json")
    source = f"Natural Earth 4.1.0 land 1:{scale} (public domain) via npm {PACKAGE} {member}"

    fc = build(topo, tuple(args.bbox), args.tolerance, args.min_points, source)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(fc, separators=(",", ":"))
    args.out.write_text(text + "\n")
    n_pts = sum(len(f["geometry"]["coordinates"]) for f in fc["features"])
    print(
        f"wrote {args.out}: {len(fc['features'])} lines, {n_pts} points, {len(text) + 1} bytes",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
