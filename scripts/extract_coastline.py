"""Build ``data/coastline_world.geojson``: the world's coastlines from Natural Earth land.

Source: Natural Earth 4.1.0 land polygons (public domain), as redistributed in TopoJSON by
the ``world-atlas`` npm package (``land-50m.json`` by default; ``land-110m.json`` is
coarser). The package is fetched with ``npm pack`` (a package registry), or read from a
tarball or JSON file already on disk; nothing here is needed at run time.

Every land ring becomes a polyline. Natural Earth cuts rings that cross the date line
along lon = +-180 and closes Antarctica along lat = -90: those straight edges are not
coasts, so each line is split where it runs along them. Lines are simplified with
Douglas-Peucker, coordinates rounded, and pieces shorter than ``--min-points`` dropped.
The output is byte-for-byte reproducible for one input and one set of options::

    python scripts/extract_coastline.py                                 # npm pack
    python scripts/extract_coastline.py --topojson /tmp/wa/package/land-50m.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_coastline import object_rings, simplify  # noqa: E402  (sibling dev-time script)

Point = tuple[float, float]
Line = list[Point]

PACKAGE = "world-atlas@2.0.2"
DEFAULT_MEMBER = "land-50m.json"
DEFAULT_TOLERANCE = 0.01  # degrees (~1 km), about the detail of the 1:50m source
DEFAULT_MIN_POINTS = 3
ROUND = 2  # decimals (~1 km)
EDGE = 179.999  # |lon| at or beyond this is the date-line cut
SOUTH_EDGE = -89.99
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "data" / "coastline_world.geojson"


def read_member(member: str, tarball: Path | None = None) -> dict:
    """``member`` of the world-atlas package, from ``tarball`` or fetched with ``npm pack``."""
    if tarball is not None:
        return _from_tar(tarball, member)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            ["npm", "pack", PACKAGE, "--silent"], cwd=tmp, check=True, stdout=subprocess.DEVNULL
        )
        return _from_tar(next(Path(tmp).glob("world-atlas-*.tgz")), member)


def _from_tar(tgz: Path, member: str) -> dict:
    with tarfile.open(tgz) as tar:
        fh = tar.extractfile(f"package/{member}")
        if fh is None:
            raise FileNotFoundError(member)
        return json.load(fh)


def _artificial(p: Point, q: Point) -> bool:
    """A segment along the date-line cut or Antarctica's closing edge (not a coast)."""
    on_dateline = abs(p[0]) >= EDGE and abs(q[0]) >= EDGE
    on_pole = p[1] <= SOUTH_EDGE and q[1] <= SOUTH_EDGE
    return on_dateline or on_pole


def split_artificial(ring: Line) -> list[Line]:
    """Split a ring wherever it runs along an artificial edge; drop those segments."""
    pieces: list[Line] = []
    cur: Line = []
    for p, q in zip(ring, ring[1:], strict=False):
        if _artificial(p, q):
            if len(cur) >= 2:
                pieces.append(cur)
            cur = []
            continue
        if not cur:
            cur.append(p)
        cur.append(q)
    if len(cur) >= 2:
        pieces.append(cur)
    return pieces


def build(topo: dict, tol: float, min_points: int, source: str) -> dict:
    """All land rings as simplified, rounded LineString features."""
    features = []
    for ring in object_rings(topo, "land"):
        for piece in split_artificial(ring):
            coords: list[list[float]] = []
            for x, y in simplify(piece, tol):
                pt = [round(x, ROUND), round(y, ROUND)]
                if not coords or coords[-1] != pt:
                    coords.append(pt)
            if len(coords) < min_points:
                continue
            features.append(
                {
                    "type": "Feature",
                    "properties": {},
                    "geometry": {"type": "LineString", "coordinates": coords},
                }
            )
    # One source for the whole file (a GeoJSON foreign member), not repeated per line.
    return {
        "type": "FeatureCollection",
        "name": "coastline_world",
        "source": source,
        "features": features,
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--topojson", type=Path, help="a world-atlas land-*.json already on disk")
    ap.add_argument("--tarball", type=Path, help="a world-atlas .tgz already on disk")
    ap.add_argument("--member", default=DEFAULT_MEMBER, help="file inside the npm package")
    ap.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE)
    ap.add_argument("--min-points", type=int, default=DEFAULT_MIN_POINTS)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)

    if args.topojson is not None:
        topo = json.loads(args.topojson.read_text(encoding="utf-8"))
        member = args.topojson.name
    else:
        topo = read_member(args.member, args.tarball)
        member = args.member
    scale = member.split("-")[-1].removesuffix(".json")
    source = f"Natural Earth 4.1.0 land 1:{scale} (public domain) via npm {PACKAGE} {member}"
    fc = build(topo, args.tolerance, args.min_points, source)
    text = json.dumps(fc, separators=(",", ":")) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    n_pts = sum(len(f["geometry"]["coordinates"]) for f in fc["features"])
    print(
        f"wrote {args.out}: {len(fc['features'])} lines, {n_pts} points, {len(text)} bytes",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
