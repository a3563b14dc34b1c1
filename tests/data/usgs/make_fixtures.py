"""Rebuild the replayed USGS answers in this folder from the reference catalog.

Run from the project root: ``.venv/bin/python tests/data/usgs/make_fixtures.py``.
See README.md here for what is real and what is a placeholder.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
REFERENCE = HERE.parents[3] / "shared" / "data" / "japan_usgs_1990_2019.csv"
COMCAT_HEADER = (
    "time,latitude,longitude,depth,mag,magType,nst,gap,dmin,rms,net,id,updated,place,type,"
    "horizontalError,depthError,magError,magNst,status,locationSource,magSource"
)
HEADER = COMCAT_HEADER.split(",")
# (starttime, endtime) of every count the client asks for with LIMIT = 50, and the
# chunks it then queries; endtime is the day after the chunk's last day.
COUNTS = [
    ("2011-03-01", "2011-03-11"),
    ("2011-03-01", "2011-03-06"),
    ("2011-03-06", "2011-03-11"),
    ("2011-03-06", "2011-03-09"),
    ("2011-03-09", "2011-03-11"),
    ("2011-03-09", "2011-03-10"),
    ("2011-03-10", "2011-03-11"),
]
QUERIES = [
    ("2011-03-01", "2011-03-06"),
    ("2011-03-06", "2011-03-09"),
    ("2011-03-09", "2011-03-10"),
    ("2011-03-10", "2011-03-11"),
]


def reference_rows(start: str, end: str) -> list[dict]:
    with REFERENCE.open(newline="") as f:
        return [r for r in csv.DictReader(f) if start <= r["time"][:10] < end]


def comcat_csv(rows: list[dict]) -> str:
    """ComCat's CSV answer: ISO times with Z (milliseconds), newest first."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(HEADER)
    for r in sorted(rows, key=lambda r: r["time"], reverse=True):
        t = datetime.strptime(r["time"], "%Y-%m-%d %H:%M:%S.%f")
        iso = t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        place = f"reference row {r['id']}, Japan region"
        fields = {
            "time": iso,
            "latitude": r["latitude"],
            "longitude": r["longitude"],
            "mag": r["magnitude"],
            "net": "us",
            "id": f"ref{int(r['id']):06d}",
            "place": place,
            "type": "earthquake",
            "status": "reviewed",
            "locationSource": "us",
            "magSource": "us",
        }
        w.writerow([fields.get(h, "") for h in HEADER])
    return out.getvalue()


def main() -> None:
    for start, end in COUNTS:
        n = len(reference_rows(start, end))
        (HERE / f"count_{start}_{end}.txt").write_text(f"{n}\n")
    for start, end in QUERIES:
        (HERE / f"query_{start}_{end}.csv").write_text(comcat_csv(reference_rows(start, end)))


if __name__ == "__main__":
    main()
