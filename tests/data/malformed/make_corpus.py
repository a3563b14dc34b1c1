"""Rebuild the malformed-file corpus and EXPECTED.json (run from the project root).

``.venv/bin/python tests/data/malformed/make_corpus.py``. Every file is made here, by hand,
with the outcome it must have written next to it (not found by running the loader).
"""

from __future__ import annotations

import json
import random
import struct
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
REF_HEADER = "id,time,longitude,latitude,magnitude,x,y\n"
REF_ROWS = [
    "0,1990-01-01 09:03:12.880,140.568,36.417,4.8,204.09,90.78\n",
    "1,1990-01-02 16:26:37.730,146.063,43.42,4.6,1000.62,527.36\n",
    "2,1990-01-03 01:02:03.000,141.5,38.1,5.2,0.0,0.0\n",
    "3,1990-01-04 11:22:33.440,142.25,39.75,3.9,0.0,0.0\n",
    "4,1990-01-05 23:59:59.999,139.7,35.6,6.1,0.0,0.0\n",
]
USGS_HEADER = (
    "time,latitude,longitude,depth,mag,magType,nst,gap,dmin,rms,net,id,updated,place,type,"
    "horizontalError,depthError,magError,magNst,status,locationSource,magSource\n"
)


def usgs_row(t: str, lat: float, lon: float, depth: float, mag: float, place: str) -> str:
    return (
        f"{t},{lat},{lon},{depth},{mag},mb,,80,1.2,0.9,us,us{abs(hash(t)) % 10**8:08d},"
        f'{t},"{place}",earthquake,6.1,4.2,0.05,120,reviewed,us,us\n'
    )


def png_bytes() -> bytes:
    """A real 1 x 1 grey PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00\x80")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def control_garbage() -> bytes:
    rng = random.Random(20240601)
    controls = [c for c in range(1, 32) if c not in (9, 10, 13)]
    out = bytearray(b"time,lat,lon,mag\n")
    for _ in range(400):
        out += bytes(rng.choice(controls) for _ in range(rng.randint(1, 6)))
        out += rng.choice([b",", b"\n", b"4.5", b"2001-01-01"])
    return bytes(out)


def utf16_cut(text: str, last: str) -> bytes:
    """``text`` as UTF-16 cut one byte into the second character of its last ``last``."""
    keep = "\ufeff" + text[: text.rindex(last) + 1]
    return text.encode("utf-16")[: len(keep.encode("utf-16-le")) + 1]


HTML = """<!DOCTYPE html>
<html><head><title>503 Service Unavailable</title></head>
<body><h1>Service Unavailable</h1>
<p>The server is temporarily unable to service your request. Please try again later.</p>
</body></html>
"""

XML = """<?xml version="1.0" encoding="UTF-8"?>
<q:quakeml xmlns="http://quakeml.org/xmlns/bed/1.2" xmlns:q="http://quakeml.org/xmlns/quakeml/1.2">
<eventParameters publicID="quakeml:earthquake.usgs.gov/fdsnws/event/1/query">
<event publicID="quakeml:earthquake.usgs.gov/fdsnws/event/1/query?eventid=us1"><magnitude>
<mag><value>5.1</value></mag></magnitude></event>
</eventParameters></q:quakeml>
"""

# name -> (contents, expected outcome)
FILES: dict[str, tuple[bytes, dict]] = {
    "empty.csv": (b"", {"error": "the file is empty"}),
    "whitespace_only.csv": (b"  \n\t\n   \r\n\n", {"error": "the file is empty"}),
    "header_only.csv": (REF_HEADER.encode(), {"error": "no data rows"}),
    "image.png": (png_bytes(), {"error": "binary file"}),
    "nul_bytes.csv": (
        (REF_HEADER + REF_ROWS[0]).encode() + b"\x00" * 64 + REF_ROWS[1].encode(),
        {"error": "binary file"},
    ),
    "error_page.html": (HTML.encode(), {"error": "HTML/XML page"}),
    "error_page_as.csv": (("\n  " + HTML).encode(), {"error": "HTML/XML page"}),
    "quakeml.xml": (XML.encode(), {"error": "HTML/XML page"}),
    "wrong_columns.csv": (
        b"station,channel,starttime,amplitude\nHKD,BHZ,2011-03-11T05:46:24Z,0.3\n",
        {"error": "columns not recognised"},
    ),
    "duplicate_columns.csv": (
        b"time,lat,lon,mag,Mag\n2001-01-01,36,140,4.5,4.7\n",
        {"error": "appears more than once"},
    ),
    "control_garbage.csv": (control_garbage(), {"error": "unreadable text"}),
    "all_rows_bad.csv": (
        (
            REF_HEADER
            + "0,not a time,140.5,36.4,4.8,0,0\n"
            + "1,1990-01-02 16:26:37.730,140.5,36.4,big,0,0\n"
            + "2,1990-01-03 00:00:00.000,,36.4,4.8,0,0\n"
            + "3,1990-01-04 00:00:00.000,140.5,95.0,4.8,0,0\n"
            + "4,1990-01-05 00:00:00.000,140.5,36.4,12.5,0,0\n"
            + "5,1990-01-06 00:00:00.000,140.5,36.4\n"
        ).encode(),
        {"error": "no valid events among 6 rows"},
    ),
    "utf16_bom.csv": (
        (REF_HEADER + "".join(REF_ROWS)).encode("utf-16"),
        {"n_events": 5, "dropped": {}, "note": "UTF-16", "layout": "reference"},
    ),
    "utf16_truncated.csv": (
        # A UTF-16 file cut in the middle of its last row, inside a character (odd byte
        # count): the cut row has too few fields.
        utf16_cut(REF_HEADER + "".join(REF_ROWS), "35.6"),
        {"n_events": 4, "dropped": {"malformed row": 1}, "note": "replaced"},
    ),
    "latin1_place.csv": (
        (
            USGS_HEADER
            + usgs_row("2011-03-11T05:46:24.120Z", 38.297, 142.373, 29.0, 9.1, "near Tōhoku, Japón")
            + usgs_row("2011-03-09T02:45:20.330Z", 38.435, 142.842, 32.0, 7.3, "Sanriku, Japón")
            + usgs_row("2011-04-07T14:32:43.290Z", 38.276, 141.588, 42.0, 7.1, "Miyagi-ken, Japón")
        )
        .replace("ō", "o")
        .encode("latin-1"),
        {"n_events": 3, "dropped": {}, "note": "cp1252", "layout": "usgs"},
    ),
    "unterminated_quote.csv": (
        (
            USGS_HEADER
            + usgs_row("2011-03-11T05:46:24.120Z", 38.297, 142.373, 29.0, 9.1, "A, Japan")
            + usgs_row("2011-03-09T02:45:20.330Z", 38.435, 142.842, 32.0, 7.3, "B, Japan").replace(
                '"B', '"B "'
            )
            + usgs_row("2011-04-07T14:32:43.290Z", 38.276, 141.588, 42.0, 7.1, "C, Japan").replace(
                '"C, Japan"', '"C, Japan'
            )
            + usgs_row("2011-04-11T08:16:12.000Z", 36.945, 140.673, 10.0, 6.6, "D, Japan")
        ).encode(),
        {"n_events": 2, "dropped": {"malformed row": 2}, "layout": "usgs"},
    ),
    "extra_field_first_row.csv": (
        (REF_HEADER + REF_ROWS[0].rstrip("\n") + ",surplus\n" + "".join(REF_ROWS[1:])).encode(),
        {"n_events": 4, "dropped": {"malformed row": 1}, "layout": "reference"},
    ),
}


def main() -> None:
    expected = {}
    for name, (data, outcome) in FILES.items():
        (HERE / name).write_bytes(data)
        expected[name] = outcome
    (HERE / "EXPECTED.json").write_text(json.dumps(expected, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
