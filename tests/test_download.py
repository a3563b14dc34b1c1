"""Downloading from the USGS event service, replayed: no test touches the network.

``tests/data/usgs`` holds count and query answers rebuilt from real rows of the reference
catalog (see its README: we are offline, so they are not a live recording).
"""

from __future__ import annotations

import urllib.error
import urllib.parse
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

import quake.data.catalog.usgs as usgs
from quake.cli import main
from quake.data.catalog import load_catalog
from quake.data.catalog.usgs import LIMIT, Window, download_usgs, urlopen_fetch
from quake.errors import DownloadError

FIXTURES = Path(__file__).parent / "data" / "usgs"
WINDOW = Window(start=date(2011, 3, 1), end=date(2011, 3, 10))
CHUNKS = [
    ("2011-03-01", "2011-03-06"),
    ("2011-03-06", "2011-03-09"),
    ("2011-03-09", "2011-03-10"),
    ("2011-03-10", "2011-03-11"),
]


class Replay:
    """A ``fetch`` that answers from the fixture files and records every URL asked for."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def __call__(self, url: str, **_limits) -> bytes:  # timeout=, deadline= of urlopen_fetch
        self.urls.append(url)
        parts = urllib.parse.urlsplit(url)
        q = dict(urllib.parse.parse_qsl(parts.query))
        assert parts.netloc == "earthquake.usgs.gov", url
        assert (q["minlatitude"], q["maxlatitude"]) == ("22", "46")
        assert (q["minlongitude"], q["maxlongitude"]) == ("122", "150")
        kind = parts.path.rsplit("/", 1)[-1]
        if kind == "query":
            assert q["format"] == "csv"
            name = f"query_{q['starttime']}_{q['endtime']}.csv"
        else:
            assert kind == "count" and "format" not in q
            name = f"count_{q['starttime']}_{q['endtime']}.txt"
        path = FIXTURES / name
        assert path.is_file(), f"no recorded answer for {url}"
        return path.read_bytes()

    def kinds(self) -> list[str]:
        return [urllib.parse.urlsplit(u).path.rsplit("/", 1)[-1] for u in self.urls]


@pytest.fixture
def small_limit(monkeypatch):
    """The fixtures hold 88 events: a limit of 50 makes the client halve the window twice."""
    monkeypatch.setattr(usgs, "LIMIT", 50)


def reference_rows(reference_path, start: str, end: str) -> pd.DataFrame:
    df = pd.read_csv(reference_path)
    return df[(df["time"] >= start) & (df["time"] < end)]


def test_fixtures_are_comcat_csv_newest_first() -> None:
    header = (
        "time,latitude,longitude,depth,mag,magType,nst,gap,dmin,rms,net,id,updated,place,type,"
        "horizontalError,depthError,magError,magNst,status,locationSource,magSource"
    )
    for a, b in CHUNKS:
        text = (FIXTURES / f"query_{a}_{b}.csv").read_text()
        lines = text.splitlines()
        assert lines[0] == header
        times = [ln.split(",", 1)[0] for ln in lines[1:]]
        assert all(t.endswith("Z") and "T" in t for t in times)
        assert times == sorted(times, reverse=True)


def test_download_replays_halves_and_matches_the_reference(
    tmp_path, small_limit, reference_path
) -> None:
    fetch = Replay()
    progress: list[tuple[int, int]] = []
    cat = download_usgs(
        WINDOW,
        cache_dir=tmp_path,
        fetch=fetch,
        on_progress=lambda p: progress.append((p.step, p.total)),
    )
    # 88 > 50 -> 10 + 78; 78 -> 17 + 61; 61 -> 45 + 16: seven counts, four queries.
    assert fetch.kinds() == ["count"] * 7 + ["query"] * 4
    queried = [dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(u).query)) for u in fetch.urls]
    assert [(q["starttime"], q["endtime"]) for q in queried[7:]] == CHUNKS
    assert progress == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert cat.report.layout == "usgs" and cat.report.dropped == {}
    ref = reference_rows(reference_path, "2011-03-01", "2011-03-11")
    assert len(cat) == len(ref) == 88
    ev = cat.events
    assert ev["time"].is_monotonic_increasing  # newest-first answers come out sorted
    assert ev["magnitude"].tolist() == ref["magnitude"].tolist()
    assert ev["latitude"].tolist() == ref["latitude"].tolist()
    want = pd.to_datetime(ref["time"]).dt.tz_localize("UTC")
    assert ev["time"].tolist() == want.tolist()


def test_a_count_over_the_limit_is_halved_until_it_fits() -> None:
    counts = {("2011-01-01", "2012-01-01"): LIMIT + 1, ("2011-01-01", "2011-07-03"): LIMIT}
    asked: list[tuple[str, str]] = []

    def fetch(url: str) -> bytes:
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        key = (q["starttime"], q["endtime"])
        asked.append(key)
        return str(counts.get(key, 10)).encode()

    window = Window(start=date(2011, 1, 1), end=date(2011, 12, 31))
    chunks = usgs._chunks(window, fetch)
    assert chunks == [
        (date(2011, 1, 1), date(2011, 7, 2)),  # exactly the limit: not cut again
        (date(2011, 7, 3), date(2011, 12, 31)),
    ]
    assert asked == [
        ("2011-01-01", "2012-01-01"),
        ("2011-01-01", "2011-07-03"),
        ("2011-07-03", "2012-01-01"),
    ]


def test_long_windows_are_cut_by_year() -> None:
    window = Window(start=date(1990, 6, 1), end=date(1992, 2, 1))
    chunks = usgs._chunks(window, lambda url: b"5\n")
    assert chunks == [
        (date(1990, 6, 1), date(1990, 12, 31)),
        (date(1991, 1, 1), date(1991, 12, 31)),
        (date(1992, 1, 1), date(1992, 2, 1)),
    ]


def test_second_call_reads_the_cache_and_does_not_fetch(tmp_path, small_limit) -> None:
    first = download_usgs(WINDOW, cache_dir=tmp_path, fetch=Replay())
    cached = sorted(p.name for p in tmp_path.iterdir())
    assert sum(n.endswith(".csv") for n in cached) == 4
    assert sum(n.endswith(".count") for n in cached) == 7

    def offline(url: str) -> bytes:
        raise AssertionError(f"fetched {url} although everything is cached")

    second = download_usgs(WINDOW, cache_dir=tmp_path, fetch=offline)
    pd.testing.assert_frame_equal(first.events, second.events)
    assert first.fingerprint == second.fingerprint


def test_a_bad_answer_is_an_error_and_is_not_cached(tmp_path) -> None:
    html = b"<!DOCTYPE html><html><body>503 Service Unavailable</body></html>"
    with pytest.raises(DownloadError, match="unexpected answer"):
        download_usgs(WINDOW, cache_dir=tmp_path, fetch=lambda url: html)
    assert list(tmp_path.iterdir()) == []

    def count_then_html(url: str) -> bytes:
        return b"12\n" if "/count?" in url else html

    with pytest.raises(DownloadError, match="unexpected answer"):
        download_usgs(WINDOW, cache_dir=tmp_path, fetch=count_then_html)
    assert [p.suffix for p in tmp_path.iterdir()] == [".count"]


def test_an_empty_window_is_a_download_error(tmp_path) -> None:
    with pytest.raises(DownloadError, match="returned nothing"):
        download_usgs(WINDOW, cache_dir=None, fetch=lambda url: b"0" if "count" in url else b"")


def _unreachable(*args, **kwargs):
    raise urllib.error.URLError(OSError(101, "Network is unreachable"))


def test_offline_fetch_raises_a_clear_download_error(monkeypatch) -> None:
    monkeypatch.setattr(usgs.urllib.request, "urlopen", _unreachable)
    with pytest.raises(DownloadError) as err:
        urlopen_fetch("https://earthquake.usgs.gov/fdsnws/event/1/count?starttime=2011-01-01")
    msg = str(err.value)
    assert "cannot reach the USGS event service" in msg
    assert "offline" in msg and "Network is unreachable" in msg


def test_http_error_is_a_download_error(monkeypatch) -> None:
    def http_503(url, timeout):
        raise urllib.error.HTTPError(url, 503, "Service Unavailable", None, None)

    monkeypatch.setattr(usgs.urllib.request, "urlopen", http_503)
    with pytest.raises(DownloadError, match="HTTP 503"):
        urlopen_fetch("https://earthquake.usgs.gov/fdsnws/event/1/count")


def test_download_uses_urlopen_fetch_by_default(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(usgs, "urlopen_fetch", Replay())
    monkeypatch.setattr(usgs, "LIMIT", 50)
    assert len(download_usgs(WINDOW, cache_dir=tmp_path)) == 88


def _cli_download(tmp_path: Path, *extra: str) -> int:
    return main(
        [
            "download",
            "--start", "2011-03-01", "--end", "2011-03-10",
            "--cache", str(tmp_path / "cache"),
            "--out", str(tmp_path / "out.csv"),
            *extra,
        ]
    )  # fmt: skip


def test_cli_download_offline_exits_2_with_one_error_line(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setattr(usgs.urllib.request, "urlopen", _unreachable)
    assert _cli_download(tmp_path) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach the USGS event service")
    assert not (tmp_path / "out.csv").exists()


def test_cli_download_with_a_replayed_service_writes_a_loadable_catalog(
    monkeypatch, tmp_path, capsys
) -> None:
    monkeypatch.setattr(usgs, "urlopen_fetch", Replay())
    monkeypatch.setattr(usgs, "LIMIT", 50)
    assert _cli_download(tmp_path) == 0
    out, err = capsys.readouterr()
    assert "chunk 4/4" in out and "88 events written" in out and err == ""
    cat = load_catalog(tmp_path / "out.csv")
    assert len(cat) == 88 and cat.report.dropped == {}
    assert cat.events["time"].is_monotonic_increasing
