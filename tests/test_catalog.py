"""Reading catalogs: every layout, encodings and separators, drops by reason, malformed files.

The malformed-file corpus lives in ``tests/data/malformed`` with its expected outcomes in
``EXPECTED.json`` (made by hand, see ``make_corpus.py`` there). Each file is read in-process
and through the CLI (``python -m quake catalog FILE`` as a subprocess).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quake.cli import main
from quake.data.catalog import CANONICAL, DROP_REASONS, load_catalog, read_catalog_bytes
from quake.errors import CatalogError
from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parents[1]
MALFORMED = Path(__file__).parent / "data" / "malformed"
EXPECTED: dict[str, dict] = json.loads((MALFORMED / "EXPECTED.json").read_text())

USGS_HEADER = (
    "time,latitude,longitude,depth,mag,magType,nst,gap,dmin,rms,net,id,updated,place,type,"
    "horizontalError,depthError,magError,magNst,status,locationSource,magSource\n"
)
REF_HEADER = "id,time,longitude,latitude,magnitude,x,y\n"


def usgs_row(t: str, lat, lon, depth, mag, place: str = "10 km E of Namie, Japan") -> str:
    place = place.replace('"', '""')  # CSV doubles a quote inside a quoted field
    return (
        f"{t},{lat},{lon},{depth},{mag},mww,,23,1.3,1.1,us,usp000{abs(hash(t)) % 10**6:06d},"
        f'2022-05-01T10:00:00.000Z,"{place}",earthquake,5.6,1.8,0.04,54,reviewed,us,us\n'
    )


def utc(s: str) -> pd.Timestamp:
    return pd.Timestamp(s, tz="UTC")


def assert_canonical(events: pd.DataFrame) -> None:
    assert list(events.columns) == CANONICAL
    assert isinstance(events["time"].dtype, pd.DatetimeTZDtype)
    assert str(events["time"].dt.tz) == "UTC"
    for col in CANONICAL[1:]:
        assert events[col].dtype == np.float64, col
    assert events["time"].is_monotonic_increasing
    assert events.index.equals(pd.RangeIndex(len(events)))


# --- layouts ------------------------------------------------------------------------------


def test_usgs_layout_newest_first_comes_out_sorted() -> None:
    text = USGS_HEADER + "".join(
        [
            usgs_row("2011-04-07T14:32:43.290Z", 38.276, 141.588, 42.0, 7.1, "Miyagi, Japan"),
            usgs_row("2011-03-11T06:15:40.280Z", 36.281, 141.111, 42.6, 7.9),
            usgs_row(
                "2011-03-11T05:46:24.120Z", 38.297, 142.373, 29.0, 9.1, 'the "big" one, Japan'
            ),
            usgs_row("2011-03-09T02:45:20.330Z", 38.435, 142.842, 32.0, 7.3),
        ]
    )
    cat = read_catalog_bytes(text.encode(), "usgs.csv")
    ev = cat.events
    assert cat.report.layout == "usgs"
    assert cat.report.n_rows == 4 and cat.report.n_events == 4 and cat.report.dropped == {}
    assert_canonical(ev)
    assert list(ev["time"]) == [
        utc("2011-03-09 02:45:20.330"),
        utc("2011-03-11 05:46:24.120"),
        utc("2011-03-11 06:15:40.280"),
        utc("2011-04-07 14:32:43.290"),
    ]
    assert ev["magnitude"].tolist() == [7.3, 9.1, 7.9, 7.1]
    assert ev["depth_km"].tolist() == [32.0, 29.0, 42.6, 42.0]
    assert ev.loc[1, ["latitude", "longitude"]].tolist() == [38.297, 142.373]


def test_reference_layout() -> None:
    text = REF_HEADER + (
        "0,1990-01-01 09:03:12.880,140.568,36.417,4.8,204.09,90.78\n"
        "1,1990-01-02 16:26:37.730,146.063,43.42,4.6,1000.62,527.36\n"
    )
    cat = read_catalog_bytes(text.encode())
    assert cat.report.layout == "reference"
    assert_canonical(cat.events)
    assert cat.events["time"].tolist() == [
        utc("1990-01-01 09:03:12.880"),
        utc("1990-01-02 16:26:37.730"),
    ]
    assert cat.events["longitude"].tolist() == [140.568, 146.063]
    assert cat.events["latitude"].tolist() == [36.417, 43.42]
    assert cat.events["depth_km"].isna().all()  # the reference layout has no depth


def test_paper_layout_with_fractional_seconds() -> None:
    text = (
        "year,month,date,hour,minute,seconds,lat,long,depth,class\n"
        "1995,1,16,20,46,52.25,34.59,135.07,16.1,7.3\n"
        "1990,12,31,23,59,59.999,35.0,139.0,10,3.5\n"
        "2004,10,23,8,56,0.5,37.29,138.87,13,6.8\n"
        "2011,3,11,5,46,24,38.1,142.86,24,9.0\n"
    )
    cat = read_catalog_bytes(text.encode())
    assert cat.report.layout == "paper"
    assert cat.report.dropped == {}
    assert_canonical(cat.events)
    assert cat.events["time"].tolist() == [
        utc("1990-12-31 23:59:59.999"),
        utc("1995-01-16 20:46:52.250"),
        utc("2004-10-23 08:56:00.500"),
        utc("2011-03-11 05:46:24"),
    ]
    assert cat.events["magnitude"].tolist() == [3.5, 7.3, 6.8, 9.0]
    assert cat.events["depth_km"].tolist() == [10.0, 16.1, 13.0, 24.0]


def test_paper_layout_impossible_date_is_an_unparseable_time() -> None:
    text = (
        "year,month,date,hour,minute,seconds,lat,long,depth,class\n"
        "1995,1,16,20,46,52.25,34.59,135.07,16.1,7.3\n"
        "1995,13,16,20,46,52.25,34.59,135.07,16.1,7.3\n"
        "1995,2,30,20,46,52.25,34.59,135.07,16.1,7.3\n"
    )
    cat = read_catalog_bytes(text.encode())
    assert cat.report.dropped == {"unparseable time": 2}
    assert len(cat) == 1


def test_generic_layout_case_offsets_and_naive_times() -> None:
    text = (
        "Time,Lat,Lon,Mag,Depth\n"
        "2000-01-01T09:00:00+09:00,35.5,139.5,4.5,10\n"  # = midnight UTC
        "2000-01-01 12:00:00,35.5,139.5,4.6,\n"  # naive: taken as UTC
        "2000-01-02,35.5,139.5,4.7,20\n"
    )
    cat = read_catalog_bytes(text.encode())
    assert cat.report.layout == "generic"
    assert_canonical(cat.events)
    assert cat.events["time"].tolist() == [
        utc("2000-01-01 00:00"),
        utc("2000-01-01 12:00"),
        utc("2000-01-02 00:00"),
    ]
    assert cat.events["depth_km"].tolist()[0] == 10.0
    assert np.isnan(cat.events["depth_km"].tolist()[1])


def test_whole_numbers_still_give_float_columns() -> None:
    cat = read_catalog_bytes(b"time,lat,lon,mag\n2000-01-01,36,140,5\n2000-01-02,37,141,6\n")
    assert_canonical(cat.events)


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
@pytest.mark.parametrize("sep", [",", ";", "\t"])
def test_bom_and_separators_give_the_same_events(bom: bytes, sep: str) -> None:
    rows = [
        ["time", "latitude", "longitude", "mag", "depth"],
        ["2000-01-01T00:00:00Z", "35.5", "139.5", "4.5", "10"],
        ["2000-01-03T00:00:00Z", "36.5", "140.5", "5.5", "20"],
    ]
    text = "\n".join(sep.join(r) for r in rows) + "\n"
    cat = read_catalog_bytes(bom + text.encode())
    ref = read_catalog_bytes("\n".join(",".join(r) for r in rows).encode())
    pd.testing.assert_frame_equal(cat.events, ref.events)
    assert cat.report.layout == "generic"
    assert (f"separator {sep!r}" in cat.report.notes) == (sep != ",")


def test_crlf_blank_lines_comments_and_trailing_separators() -> None:
    text = (
        "# exported 2024-01-01\r\n"
        "\r\n"
        "time,lat,lon,mag,\r\n"
        "2000-01-01,36,140,5,\r\n"
        "\r\n"
        "   \r\n"
        "2000-01-02,36,140,5.5,\r\n"
        "2000-01-03,36,140,6\r\n"
    )
    cat = read_catalog_bytes(text.encode())
    assert cat.report.n_rows == 3
    assert cat.report.dropped == {}
    assert cat.events["magnitude"].tolist() == [5.0, 5.5, 6.0]


def test_multibyte_place_names_do_not_shift_fields() -> None:
    text = USGS_HEADER + "".join(
        [
            usgs_row("2011-03-11T05:46:24.120Z", 38.297, 142.373, 29.0, 9.1, "東北地方, 日本"),
            usgs_row("2011-03-12T05:46:24.120Z", 37.0, 141.0, 10.0, 6.0, "Tōhoku, Japan"),
        ]
    )
    cat = read_catalog_bytes(text.encode("utf-8"))
    assert cat.report.dropped == {} and cat.report.notes == []
    assert cat.events["magnitude"].tolist() == [9.1, 6.0]


def test_fingerprint_is_the_same_whatever_the_layout() -> None:
    ref = REF_HEADER + (
        "0,1990-01-01 09:03:12.880,140.568,36.417,4.8,0,0\n"
        "1,1990-01-02 16:26:37.730,146.063,43.42,4.6,0,0\n"
    )
    generic = (
        "time,lat,lon,mag\n"
        "1990-01-02T16:26:37.730Z,43.42,146.063,4.6\n"
        "1990-01-01T09:03:12.880Z,36.417,140.568,4.8\n"
    )
    assert (
        read_catalog_bytes(ref.encode()).fingerprint
        == read_catalog_bytes(generic.encode()).fingerprint
    )


# --- the input file -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        REF_HEADER + "0,1990-01-01 09:03:12.880,140.568,36.417,4.8,0,0\n",
        REF_HEADER + "0,1990-01-01 09:03:12.880,140.568,36.417,4.8,0,0\n1,bad,1,1,1,1,1\n",
        "\ufefftime;lat;lon;mag\r\n2000-01-01;36;140;5\r\n",
    ],
)
def test_input_file_is_never_modified(tmp_path: Path, content: str) -> None:
    path = tmp_path / "catalog.csv"
    path.write_bytes(content.encode())
    os.chmod(path, 0o444)  # a write attempt would fail loudly
    before = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
    load_catalog(path)
    after = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog.csv"]


def test_missing_path_and_folder(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="no such file"):
        load_catalog(tmp_path / "nope.csv")
    with pytest.raises(CatalogError, match="is a folder"):
        load_catalog(tmp_path)


# --- drops ------------------------------------------------------------------------------------

VALID = [
    "10,2001-01-01 00:00:00.000,140.0,36.0,4.5,0,0",
    "11,2001-01-02 00:00:00.000,141.0,37.0,5.0,0,0",
    "12,2001-01-03 00:00:00.000,142.0,38.0,-1.0,0,0",  # small but plausible
    "13,2001-01-04 00:00:00.000,200.0,38.0,6.0,0,0",  # 200 E = 160 W
    "14,2001-01-05 00:00:00.000,-179.5,-89.9,3.0,0,0",
    "15,2001-01-05 00:00:00.000,-179.5,-89.9,3.1,0,0",  # same time and place, other magnitude
    "16,2001-01-06 00:00:00.000,140.0,36.0,10.5,0,0",  # the largest plausible
]
BAD = {
    "unparseable time": [
        "20,2001-13-01 00:00:00.000,140.0,36.0,4.5,0,0",
        "21,,140.0,36.0,4.5,0,0",
        "22,yesterday,140.0,36.0,nan,0,0",  # also a bad magnitude: counted once, as its time
    ],
    "unparseable magnitude": [
        "23,2001-02-01 00:00:00.000,140.0,36.0,,0,0",
        "24,2001-02-02 00:00:00.000,140.0,36.0,M4.5,0,0",
    ],
    "missing coordinates": [
        "25,2001-02-03 00:00:00.000,,36.0,4.5,0,0",
        "26,2001-02-04 00:00:00.000,140.0,n/a,4.5,0,0",
    ],
    "coordinates out of range": [
        "27,2001-02-05 00:00:00.000,140.0,90.5,4.5,0,0",
        "28,2001-02-06 00:00:00.000,-180.5,36.0,4.5,0,0",
        "29,2001-02-07 00:00:00.000,360.5,36.0,4.5,0,0",
    ],
    "implausible magnitude": [
        "30,2001-02-08 00:00:00.000,140.0,36.0,12.0,0,0",
        "31,2001-02-09 00:00:00.000,140.0,36.0,-3.5,0,0",
    ],
    "exact duplicate": [
        "10,2001-01-01 00:00:00.000,140.0,36.0,4.5,0,0",
        "99,2001-01-02 00:00:00.000,141.0,37.0,5.0,9,9",  # other id and x, y: same event
        "10,2001-01-01 00:00:00.000,140.0,36.0,4.5,0,0",
    ],
    "malformed row": [
        "40,2001-03-01 00:00:00.000,140.0,36.0,4.5,0,0,extra",
        "41,2001-03-02 00:00:00.000,140.0,36.0,4.5,0",
        '42,"2001-03-03 00:00:00.000,140.0,36.0,4.5,0,0',  # unterminated quote
    ],
}


def test_drops_are_counted_by_reason_and_nothing_valid_is_lost() -> None:
    rows = VALID + [r for rows in BAD.values() for r in rows]
    random.Random(3).shuffle(rows)
    # The first row of the file has the extra field: it must not turn into an index column.
    rows.remove(BAD["malformed row"][0])
    rows.insert(0, BAD["malformed row"][0])
    cat = read_catalog_bytes((REF_HEADER + "\n".join(rows) + "\n").encode())
    rep = cat.report
    assert rep.dropped == {reason: len(r) for reason, r in BAD.items()}
    assert set(rep.dropped) <= set(DROP_REASONS)
    assert rep.n_rows == len(rows)
    assert rep.n_events == len(VALID) == len(cat)
    assert rep.n_dropped == rep.n_rows - rep.n_events
    assert_canonical(cat.events)
    # Rows sharing a time keep the file's (shuffled) order: compare in a fixed order.
    ev = cat.events.sort_values(["time", "magnitude"])
    assert ev["magnitude"].tolist() == [4.5, 5.0, -1.0, 6.0, 3.0, 3.1, 10.5]
    assert ev["longitude"].tolist() == [140.0, 141.0, 142.0, -160.0, -179.5, -179.5, 140.0]


def test_all_rows_bad_is_an_error_that_lists_the_reasons() -> None:
    one_each = [rows[0] for reason, rows in BAD.items() if reason != "exact duplicate"]
    text = REF_HEADER + "\n".join(one_each) + "\n"
    with pytest.raises(CatalogError) as err:
        read_catalog_bytes(text.encode(), "bad.csv")
    msg = str(err.value)
    assert msg.startswith("bad.csv: no valid events among 6 rows")
    for reason in ("unparseable time", "unparseable magnitude", "missing coordinates"):
        assert f"1 {reason}" in msg


def test_random_damage_gives_a_catalog_or_a_catalog_error() -> None:
    """Seeded mutations of valid files: never any other exception."""
    bases = [
        (REF_HEADER + "\n".join(VALID) + "\n").encode(),
        (USGS_HEADER + usgs_row("2011-03-11T05:46:24.120Z", 38.3, 142.4, 29, 9.1)).encode(),
        (REF_HEADER + "\n".join(VALID)).encode("utf-16"),
        b"year,month,date,hour,minute,seconds,lat,long,depth,class\n1995,1,16,20,46,52.25,34,135,16,7\n",
    ]
    tokens = [
        b'"',
        b",",
        b";",
        b"\n",
        b"\r",
        b"\x00",
        b"#",
        b"nan",
        b"inf",
        b"\xff",
        b"1e999",
        b"-",
    ]
    rng = random.Random(11)
    for _ in range(200):
        data = bytearray(rng.choice(bases))
        for _ in range(rng.randint(1, 5)):
            i = rng.randrange(len(data) + 1)
            op = rng.randrange(4)
            if op == 0:
                data[i:i] = rng.choice(tokens)
            elif op == 1:
                del data[i : i + rng.randint(1, 12)]
            elif op == 2:
                data = data[:i]
            else:
                data[i:i] = bytes(rng.randrange(256) for _ in range(3))
        try:
            cat = read_catalog_bytes(bytes(data), "fuzz")
        except CatalogError:
            continue
        assert_canonical(cat.events)
        assert cat.report.n_events + cat.report.n_dropped == cat.report.n_rows


# --- the malformed-file corpus --------------------------------------------------------------


def test_corpus_and_expected_outcomes_match() -> None:
    files = {p.name for p in MALFORMED.iterdir() if p.suffix not in (".py", ".json")}
    assert files == set(EXPECTED)
    assert len(files) >= 12


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file_in_process(name: str) -> None:
    want = EXPECTED[name]
    path = MALFORMED / name
    if "error" in want:
        with pytest.raises(CatalogError) as err:
            load_catalog(path)
        assert want["error"] in str(err.value)
        assert str(path) in str(err.value)  # the message names the file
        return
    cat = load_catalog(path)
    assert cat.report.n_events == want["n_events"]
    assert cat.report.dropped == want["dropped"]
    if "note" in want:
        assert any(want["note"] in n for n in cat.report.notes), cat.report.notes
    if "layout" in want:
        assert cat.report.layout == want["layout"]
    assert_canonical(cat.events)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return run_cli("catalog", *args)


ERRORS = sorted(name for name, want in EXPECTED.items() if "error" in want)
LOADS = sorted(name for name, want in EXPECTED.items() if "error" not in want)


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    """Every corpus file that must fail, a missing path and a folder through the CLI.

    One fresh interpreter each (``python -m quake catalog FILE``), a few at a time.
    """
    folder = tmp_path_factory.mktemp("a_folder")
    jobs = {name: (str(MALFORMED / name),) for name in ERRORS}
    jobs["<missing>"] = (str(folder / "no_such_catalog.csv"),)
    jobs["<folder>"] = (str(folder),)
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {key: pool.submit(_cli, *args) for key, args in jobs.items()}
        return {key: f.result() for key, f in futures.items()}


def assert_one_line_error(proc: subprocess.CompletedProcess, substring: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    assert substring in lines[0]
    assert proc.stdout == ""


@pytest.mark.parametrize("name", ERRORS)
def test_corpus_error_through_the_cli(cli_runs, name: str) -> None:
    assert_one_line_error(cli_runs[name], EXPECTED[name]["error"])


@pytest.mark.parametrize("name", LOADS)
def test_corpus_load_through_the_cli(capsys, name: str) -> None:
    """Files that load: exit 0 and the JSON report (in-process: the same `main`)."""
    want = EXPECTED[name]
    assert main(["catalog", str(MALFORMED / name), "--json"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    summary = json.loads(out)
    assert summary["n_events"] == want["n_events"]
    assert summary["dropped"] == want["dropped"]
    if "note" in want:
        assert any(want["note"] in n for n in summary["notes"])


def test_cli_missing_path(cli_runs) -> None:
    assert_one_line_error(cli_runs["<missing>"], "no such file")


def test_cli_folder(cli_runs) -> None:
    assert_one_line_error(cli_runs["<folder>"], "is a folder")


def test_comcat_rows_that_are_not_earthquakes_are_dropped_and_counted() -> None:
    """Stop 27's audit: quarry blasts and explosions of a ComCat file were kept as quakes.
    (The reference catalog has none: it was cut from ComCat's earthquakes.)"""
    head = "time,latitude,longitude,depth,mag,magType,id,type\n"
    rows = [
        "2019-07-06T03:19:53.040Z,35.77,-117.599,8,7.1,mw,a,earthquake",
        "2019-07-05T10:00:00.000Z,34.1,-117.3,0,2.6,ml,b,quarry blast",
        "2019-07-04T10:00:00.000Z,34.2,-117.4,0,2.7,ml,c,Explosion",
        "2019-07-03T10:00:00.000Z,34.3,-117.5,5,3.0,ml,d,",
        "2019-07-02T10:00:00.000Z,34.4,-117.6,5,3.1,ml,e, Earthquake ",
    ]
    cat = read_catalog_bytes((head + "\n".join(rows) + "\n").encode())
    assert cat.report.dropped == {"not an earthquake (event type)": 2}
    assert sorted(cat.events["magnitude"]) == [3.0, 3.1, 7.1]  # a blank type is kept
