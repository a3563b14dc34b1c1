"""Caches that cannot kill the server: the map forecast cache and the USGS download cache.

A full or read-only disk while caching gives a warning and an uncached forecast (never an
exception, never a half file); a damaged cache file is detected and computed again; the
USGS download refetches damaged answers and stops at its deadline. No test touches the
network: USGS answers come from ``tests/data/usgs``.
"""

from __future__ import annotations

import builtins
import errno
import json
import logging
import os
import stat
import time
import urllib.parse
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import quake.data.catalog.usgs as usgs
import quake.service.cache_files as cf
import quake.service.forecast_cache as fc
from quake.cli import build_parser, main
from quake.data.catalog.usgs import Window, download_usgs
from quake.data.forecast_data import ForecastData
from quake.errors import DownloadError, ModelError
from quake.models import create
from quake.service.forecast_cache import cached_forecast, lookup
from tests.helpers import model_box, player_spec


# -- forecast cache -------------------------------------------------------------------------
@pytest.fixture
def tiny_data(aftershock_catalog, tiny_protocol) -> ForecastData:
    return ForecastData.build(aftershock_catalog, 4.0, tiny_protocol)


@pytest.fixture
def ri_model(tiny_data, tmp_path):
    """A relative-intensity model (its maps change from day to day) saved in tmp_path."""
    model = create("ri", tau_days=30.0, radius=1, beta=0.05).fit(tiny_data, final=True)
    return model, model.save(tmp_path / "models" / "ri")


def record(calls: list) -> object:
    """A progress listener that keeps (step, total) of each event."""
    return lambda p: calls.append((p.step, p.total))


def expected(model, data: ForecastData) -> np.ndarray:
    """A fresh forecast of the test period as the cache gives it back (quantised), float32."""
    start, stop = data.days("test")
    return cf.quantise(model.predict(data, start, stop))


def all_days(src, data: ForecastData) -> np.ndarray:
    start, stop = data.days("test")
    return np.stack([src.day(t) for t in range(start, stop)])


class FullDisk:
    """``open`` for the cache file module: files opened for writing take ``room`` bytes
    in all, then raise ENOSPC (what a full disk does). Records every path written."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.paths: list[Path] = []

    def __call__(self, path, mode="r", *args, **kwargs):
        f = builtins.open(path, mode, *args, **kwargs)  # noqa: SIM115 (returned)
        if "w" not in mode:
            return f
        self.paths.append(Path(path))
        disk = self
        real_write = f.write

        class Limited:
            def __getattr__(self, name):
                return getattr(f, name)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                f.close()

            def write(self, data):
                n = len(memoryview(data).cast("B"))
                if n > disk.room:
                    real_write(memoryview(data).cast("B")[: disk.room])  # a partial block lands
                    f.flush()
                    disk.room = 0
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                disk.room -= n
                return real_write(data)

        return Limited()


def read_only(path, mode="r", *args, **kwargs):
    """``open`` on a read-only file system: reading works, writing raises EROFS."""
    if "w" in mode:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
    return builtins.open(path, mode, *args, **kwargs)


@pytest.mark.parametrize("fallback", ["memory", "on-demand"])
def test_a_full_disk_midway_gives_an_uncached_forecast_and_no_file(
    tiny_data, ri_model, tmp_path, monkeypatch, caplog, fallback
) -> None:
    model, folder = ri_model
    if fallback == "on-demand":
        monkeypatch.setattr(fc, "MEMORY_FALLBACK_BYTES", 0)
    root = tmp_path / "cache"
    whole = cached_forecast(model, folder, tiny_data, "test", tmp_path / "sized", chunk=16)
    disk = FullDisk(room=whole.path.stat().st_size // 2)  # the header and the first days
    monkeypatch.setattr(cf, "open", disk, raising=False)
    calls: list[tuple[int, int]] = []
    with caplog.at_level(logging.WARNING, logger="quake.service.forecast_cache"):
        src = cached_forecast(
            model, folder, tiny_data, "test", root, on_progress=record(calls), chunk=16
        )
    assert disk.paths and disk.paths[0].name.endswith(".tmp.qfc")  # a partial file was made
    assert not src.cached and src.path is None
    assert "No space left on device" in src.warning
    assert any("cannot cache the forecasts" in r.getMessage() for r in caplog.records)
    assert list(root.iterdir()) == []  # neither the partial file nor a sidecar is left
    start, stop = tiny_data.days("test")
    if fallback == "memory":
        assert calls[-1] == (stop - start, stop - start)  # the model ran to the end
    else:
        assert calls[-1][0] < stop - start  # the model stopped once nothing could be kept
    monkeypatch.undo()  # the disk has room again: days are still served from the source
    np.testing.assert_array_equal(all_days(src, tiny_data), expected(model, tiny_data))
    assert lookup(folder, tiny_data, "test", root) is None


def test_a_read_only_cache_folder_gives_an_uncached_forecast(
    tiny_data, ri_model, tmp_path, monkeypatch, caplog
) -> None:
    model, folder = ri_model
    root = tmp_path / "cache"
    root.mkdir()
    root.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        if os.access(root, os.W_OK):  # root ignores modes: refuse as a read-only mount would
            monkeypatch.setattr(cf, "open", read_only, raising=False)
        with caplog.at_level(logging.WARNING, logger="quake.service.forecast_cache"):
            src = cached_forecast(model, folder, tiny_data, "test", root, chunk=16)
        assert not src.cached
        assert "could not be saved in the cache folder" in src.warning
        assert str(root) not in src.warning  # no server path for the page
        assert caplog.records and caplog.records[-1].levelno == logging.WARNING
        assert list(root.iterdir()) == []
        np.testing.assert_array_equal(all_days(src, tiny_data), expected(model, tiny_data))
    finally:
        root.chmod(stat.S_IRWXU)


def test_a_model_error_while_writing_leaves_no_temporary_file(tiny_data, tmp_path) -> None:
    class Broken:
        def predict_days(self, data, start, stop, chunk):
            yield start, np.zeros((chunk, *data.grid.shape), np.float32)
            raise ModelError("the model broke")

    model, folder = Broken(), create("naive").fit(tiny_data).save(tmp_path / "m")
    with pytest.raises(ModelError, match="broke"):
        cached_forecast(model, folder, tiny_data, "test", tmp_path / "c", chunk=8)
    assert list((tmp_path / "c").iterdir()) == []


def _damage(kind: str, path: Path, meta: Path) -> None:
    info = json.loads(meta.read_text())
    n, ny, nx = info["shape"]
    raw = bytearray(path.read_bytes())
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif kind in ("magic", "shape", "encoding"):
        head = list(cf._HEAD.unpack(bytes(raw[: cf._HEAD.size])))
        if kind == "magic":
            head[0] = b"\x93NUMPY\x01\x00"
        elif kind == "shape":
            head[1:4] = [n - 1, ny, nx + 1]
        else:
            head[4] = 256
        raw[: cf._HEAD.size] = cf._HEAD.pack(*head)
        path.write_bytes(bytes(raw))  # same size: the header check, not the size, finds it
    elif kind == "index":
        raw[-8:] = b"\xff" * 8
        path.write_bytes(bytes(raw))
    elif kind == "data":  # same size, header and index, other numbers
        raw[cf._HEAD.size + 1 : cf._HEAD.size + 3] = b"\x11\x11"
        path.write_bytes(bytes(raw))
    elif kind == "sidecar-garbage":
        meta.write_bytes(b"\x00\xff{garbage")
    elif kind == "sidecar-list":
        meta.write_text("[1, 2, 3]")
    elif kind == "sidecar-old":
        meta.write_text(json.dumps({k: v for k, v in info.items() if k != "format"}))
    else:
        raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    ["empty", "truncated", "magic", "shape", "encoding", "index", "data", "sidecar-garbage",
     "sidecar-list", "sidecar-old"],
)  # fmt: skip
def test_a_damaged_cache_file_is_detected_and_recomputed(
    tiny_data, ri_model, tmp_path, caplog, kind
) -> None:
    model, folder = ri_model
    root = tmp_path / "cache"
    first = cached_forecast(model, folder, tiny_data, "test", root, chunk=16)
    assert first.cached and lookup(folder, tiny_data, "test", root) is not None
    path = first.path
    _damage(kind, path, path.with_suffix(".json"))
    assert lookup(folder, tiny_data, "test", root) is None
    calls: list[tuple[int, int]] = []
    with caplog.at_level(logging.WARNING, logger="quake.service.forecast_cache"):
        again = cached_forecast(
            model, folder, tiny_data, "test", root, on_progress=record(calls), chunk=16
        )
    assert len(calls) > 1  # the model ran again (a hit reports progress once)
    assert any("computing it again" in r.getMessage() for r in caplog.records)
    assert again.cached and again.path == path
    np.testing.assert_array_equal(all_days(again, tiny_data), expected(model, tiny_data))
    assert lookup(folder, tiny_data, "test", root) is not None
    assert sorted(p.suffix for p in root.iterdir()) == [".json", ".qfc"]


def test_a_file_damaged_after_lookup_is_a_model_error_not_a_crash(
    tiny_data, ri_model, tmp_path
) -> None:
    model, folder = ri_model
    src = cached_forecast(model, folder, tiny_data, "test", tmp_path / "cache", chunk=16)
    start, stop = tiny_data.days("test")
    src.path.write_bytes(src.path.read_bytes()[:200])
    with pytest.raises(ModelError, match="truncated"):
        src.day(stop - 1)
    src.path.write_bytes(b"")
    with pytest.raises(ModelError, match="truncated"):
        src.day(start)
    src.path.write_bytes(b"x" * 4096)
    with pytest.raises(ModelError, match="cannot be read"):
        src.day(start)


def test_the_cache_is_written_with_plain_writes_and_matches_the_sidecar(
    tiny_data, ri_model, tmp_path, monkeypatch
) -> None:
    model, folder = ri_model

    def no_memmap(*args, **kwargs):
        raise AssertionError("the cache must not be written through a memory map")

    monkeypatch.setattr(np.lib.format, "open_memmap", no_memmap)
    monkeypatch.setattr(np, "memmap", no_memmap)
    src = cached_forecast(model, folder, tiny_data, "test", tmp_path / "cache", chunk=16)
    info = json.loads(src.path.with_suffix(".json").read_text())
    assert info["file_size"] == src.path.stat().st_size
    assert info["encoding"] == cf.ENCODING and info["format"] == cf.FORMAT
    assert info["shape"] == [src.stop - src.start, *tiny_data.grid.shape]
    np.testing.assert_array_equal(all_days(src, tiny_data), expected(model, tiny_data))


def test_cache_dir_follows_the_settings(tiny_data, ri_model, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("QUAKE_CACHE_DIR", str(tmp_path / "elsewhere"))
    model, folder = ri_model
    src = cached_forecast(model, folder, tiny_data, "test")
    assert src.cached and src.path.parent == tmp_path / "elsewhere"


def test_the_cache_keeps_to_its_budget_dropping_the_least_recently_used(
    tiny_data, aftershock_catalog, ri_model, tmp_path, monkeypatch
) -> None:
    # Stop 24's audit: every variant of an uploaded catalog got its own cache file, read-only
    # mode included, and nothing bounded them. Three catalogs' forecasts, a budget of two.
    model, folder = ri_model
    root = tmp_path / "cache"
    datas = [tiny_data]
    for drop in (3, 7):  # other catalogs of the same protocol: other fingerprints
        events = aftershock_catalog.events.drop(index=drop).reset_index(drop=True)
        other = type(aftershock_catalog)(events=events, report=aftershock_catalog.report)
        datas.append(ForecastData.build(other, 4.0, tiny_data.protocol))
    assert len({d.fingerprint for d in datas}) == 3
    first = cached_forecast(model, folder, datas[0], "test", root)
    one = sum(f.stat().st_size for f in root.iterdir() if f.is_file())
    monkeypatch.setenv("QUAKE_CACHE_MAX_MB", str(2.5 * one / 2**20))
    cached_forecast(model, folder, datas[1], "test", root)
    old = time.time() - 100
    os.utime(first.path.with_suffix(".json"), (old, old))
    assert lookup(folder, datas[0], "test", root) is not None  # used again: now the newest
    time.sleep(0.01)
    cached_forecast(model, folder, datas[2], "test", root)
    kept = [d for d in datas if lookup(folder, d, "test", root) is not None]
    assert kept == [datas[0], datas[2]]  # the second was the least recently used
    assert sum(f.stat().st_size for f in root.iterdir() if f.is_file()) <= 2.5 * one


def test_trim_cache_never_removes_what_it_is_told_to_keep(tmp_path) -> None:
    root = tmp_path / "cache"
    (root / "states").mkdir(parents=True)
    for i, name in enumerate(("a", "b")):
        (root / f"{name}.json").write_text(json.dumps({"format": cf.FORMAT}))
        (root / f"{name}{cf.SUFFIX}").write_bytes(b"x" * 1000)
        os.utime(root / f"{name}.json", (1000 + i, 1000 + i))
        os.utime(root / f"{name}{cf.SUFFIX}", (1000 + i, 1000 + i))
    state = root / "states" / "net-0123456789abcdef0123.safetensors"
    state.write_bytes(b"s" * 5000)
    os.utime(state, (900, 900))  # the oldest, but kept
    removed = cf.trim_cache(root, 3000, keep=(state,))
    assert state.exists() and removed > 0
    assert not (root / f"a{cf.SUFFIX}").exists() and not (root / "a.json").exists()
    assert not (root / f"b{cf.SUFFIX}").exists()  # still over budget without it
    assert cf.trim_cache(root, 10**9) == 0


def test_the_cache_budget_setting(monkeypatch) -> None:
    from quake import settings

    for value, mb in (("", 2048), ("100", 100), ("0", 0), ("nan", 2048), ("-5", 2048), ("x", 2048)):
        monkeypatch.setenv("QUAKE_CACHE_MAX_MB", value)
        assert settings.cache_budget_bytes() == mb * 2**20, value


def test_the_map_page_warns_and_still_draws_when_the_cache_cannot_be_written(
    dashboard_env, reference_catalog, monkeypatch
) -> None:
    from streamlit.testing.v1 import AppTest

    from app_pages.ui import nav

    data = ForecastData.build(reference_catalog, 5.0)
    ri = create("ri", tau_days=730.0, radius=1, beta=0.01).fit(data, final=True)
    ri.save(dashboard_env / "ri-m5.0")
    monkeypatch.setattr(cf, "open", read_only, raising=False)
    at = AppTest.from_file(str(Path(__file__).parent.parent / "app.py"), default_timeout=120)
    at.run()
    at.switch_page(nav.PATHS["map"]).run()
    model_box(at, "Model").set_value("ri-m5.0").run()
    # The day is forecast alone at once (no cache needed); the period run is offered.
    assert not at.exception, [e.value for e in at.exception]
    assert player_spec(at)["layout"]["images"][0]["source"].startswith("data:image/png")
    start = [b for b in at.button if str(b.label).startswith("Compute the forecasts")]
    assert len(start) == 1
    start[0].click().run()
    for _ in range(200):  # the background run gives up on the cache at once
        if at.warning or at.exception:
            break
        time.sleep(0.1)
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("could not be saved in the cache folder" in w.value for w in at.warning)
    assert player_spec(at)["layout"]["images"][0]["source"].startswith("data:image/png")
    assert not any(Path(os.environ["QUAKE_CACHE_DIR"]).glob("*.qfc"))


# -- USGS download cache --------------------------------------------------------------------
FIXTURES = Path(__file__).parent / "data" / "usgs"
WINDOW = Window(start=date(2011, 3, 1), end=date(2011, 3, 10))


class Service:
    """A fake USGS service answering from the fixtures; counts the calls of each kind and
    moves a fake clock by ``step`` seconds per answer."""

    def __init__(self, step: float = 0.0) -> None:
        self.urls: list[str] = []
        self.now = 0.0
        self.step = step

    def clock(self) -> float:
        return self.now

    def __call__(self, url: str, **limits) -> bytes:
        self.urls.append(url)
        self.now += self.step
        parts = urllib.parse.urlsplit(url)
        q = dict(urllib.parse.parse_qsl(parts.query))
        kind = parts.path.rsplit("/", 1)[-1]
        name = f"{'query' if kind == 'query' else 'count'}_{q['starttime']}_{q['endtime']}"
        return (FIXTURES / (name + (".csv" if kind == "query" else ".txt"))).read_bytes()

    def kinds(self) -> list[str]:
        return [urllib.parse.urlsplit(u).path.rsplit("/", 1)[-1] for u in self.urls]


@pytest.fixture(autouse=True)
def small_limit(monkeypatch):
    """The fixtures hold 88 events: a limit of 50 cuts the window into four chunks."""
    monkeypatch.setattr(usgs, "LIMIT", 50)


def test_damaged_cached_answers_are_fetched_again(tmp_path, caplog) -> None:
    first = download_usgs(WINDOW, cache_dir=tmp_path, fetch=Service())
    counts = sorted(tmp_path.glob("*.count"))
    csvs = sorted(tmp_path.glob("*.csv"))
    whole = next(p for p in counts if "2011-03-01_2011-03-10" in p.name)  # the first asked
    whole.write_bytes(b"")  # an empty count (a killed write of the old code)
    csvs[0].write_bytes(b"<html><body>503 Service Unavailable</body></html>")
    csvs[1].write_bytes(b"")  # the chunk counted events: empty is not an answer
    csvs[2].write_bytes(csvs[2].read_bytes()[:-30])  # cut off inside the last row
    again = Service()
    with caplog.at_level(logging.WARNING, logger="quake.data.catalog.usgs"):
        second = download_usgs(WINDOW, cache_dir=tmp_path, fetch=again)
    assert again.kinds() == ["count", "query", "query", "query"]
    assert sum("fetching it again" in r.getMessage() for r in caplog.records) == 4
    pd.testing.assert_frame_equal(first.events, second.events)
    assert whole.read_bytes().strip().isdigit()
    assert not list(tmp_path.glob(".*"))  # no temporary file left
    third = Service()
    download_usgs(WINDOW, cache_dir=tmp_path, fetch=third)
    assert third.urls == []  # the refetched answers were cached whole


def test_a_cache_that_cannot_be_written_does_not_stop_the_download(
    tmp_path, monkeypatch, caplog
) -> None:
    import quake.atomic

    def full_disk(path, mode="r", *args, **kwargs):
        if "w" in mode or "x" in mode:
            with builtins.open(path, mode, *args, **kwargs) as f:
                f.write(b"12")  # something lands before the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return builtins.open(path, mode, *args, **kwargs)

    monkeypatch.setattr(quake.atomic, "open", full_disk, raising=False)
    with caplog.at_level(logging.WARNING, logger="quake.data.catalog.usgs"):
        cat = download_usgs(WINDOW, cache_dir=tmp_path, fetch=Service())
    assert len(cat) == 88
    assert any("cannot cache" in r.getMessage() for r in caplog.records)
    assert list(tmp_path.iterdir()) == []  # no half answer stays behind


def test_the_deadline_while_sizing_chunks(tmp_path) -> None:
    service = Service(step=30.0)
    with pytest.raises(DownloadError) as err:
        download_usgs(WINDOW, cache_dir=tmp_path, fetch=service, deadline_s=100,
                      clock=service.clock)  # fmt: skip
    msg = str(err.value)
    assert "deadline of 100 s" in msg and "4 counts answered" in msg and "resumes" in msg
    assert len(service.urls) == 4 and len(list(tmp_path.glob("*.count"))) == 4


def test_the_deadline_keeps_downloaded_chunks_and_a_rerun_resumes(tmp_path) -> None:
    service = Service(step=10.0)  # 7 counts, then 2 of the 4 chunks before 85 s pass
    with pytest.raises(DownloadError, match=r"deadline of 85 s: 2 of 4 chunks downloaded"):
        download_usgs(WINDOW, cache_dir=tmp_path, fetch=service, deadline_s=85,
                      clock=service.clock)  # fmt: skip
    assert len(list(tmp_path.glob("*.csv"))) == 2
    rerun = Service()
    cat = download_usgs(WINDOW, cache_dir=tmp_path, fetch=rerun, deadline_s=85, clock=rerun.clock)
    assert rerun.kinds() == ["query", "query"] and len(cat) == 88


def test_without_a_cache_the_deadline_says_nothing_was_kept() -> None:
    service = Service(step=50.0)
    with pytest.raises(DownloadError, match="nothing was cached"):
        download_usgs(WINDOW, cache_dir=None, fetch=service, deadline_s=60, clock=service.clock)


def test_the_default_fetch_is_bounded_by_the_deadline(tmp_path, monkeypatch) -> None:
    asked: list[dict] = []
    service = Service()

    def recorder(url: str, **limits) -> bytes:
        asked.append(limits)
        return service(url)

    monkeypatch.setattr(usgs, "urlopen_fetch", recorder)
    download_usgs(WINDOW, cache_dir=tmp_path, deadline_s=30)
    assert len(asked) == 11
    assert all(1.0 <= a["timeout"] <= 30 for a in asked)
    assert all(a["deadline"] <= time.monotonic() + 30 for a in asked)


def test_default_download_folder_follows_the_settings(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("QUAKE_DOWNLOAD_DIR", str(tmp_path / "dl"))
    download_usgs(WINDOW, fetch=Service())
    assert len(list((tmp_path / "dl").glob("*.csv"))) == 4


def test_cli_deadline_is_an_error_line_and_exit_2(tmp_path, monkeypatch, capsys) -> None:
    assert build_parser().parse_args(["download"]).deadline == usgs.DEADLINE_S == 600
    service = Service()

    def slow(url: str, **limits) -> bytes:
        time.sleep(0.06)
        return service(url)

    monkeypatch.setattr(usgs, "urlopen_fetch", slow)
    rc = main(
        ["download", "--start", "2011-03-01", "--end", "2011-03-10", "--deadline", "0.05",
         "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "out.csv")]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert rc == 2 and "Traceback" not in out + err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the download passed its deadline")
    assert "0.05 s" in lines[0] and "1 counts answered" in lines[0]
    assert not (tmp_path / "out.csv").exists()
    assert len(list((tmp_path / "cache").glob("*.count"))) == 1  # kept for the rerun


def test_cli_unwritable_output_is_an_error_line(tmp_path, monkeypatch, capsys) -> None:
    service = Service()
    monkeypatch.setattr(usgs, "urlopen_fetch", service)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    args = ["download", "--start", "2011-03-01", "--end", "2011-03-10"]
    args += ["--cache", str(tmp_path / "cache")]
    rc = main([*args, "--out", str(blocker / "out.csv")])
    out, err = capsys.readouterr()
    assert rc == 2 and "Traceback" not in out + err
    assert "is not a folder" in err and service.urls == []  # refused before any request
    # A write that fails after the download (the disk fills up): the events are cached.
    import quake.commands.download as download

    def full_disk(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(download, "atomic_open", full_disk)
    rc = main([*args, "--out", str(tmp_path / "out.csv")])
    out, err = capsys.readouterr()
    assert rc == 2 and "Traceback" not in out + err
    assert err.startswith("error: downloaded 88 events but cannot write")
    assert "No space left on device" in err and service.urls


# -- the compressed format ------------------------------------------------------------------
def test_codes_are_within_a_fifth_of_a_percent_and_keep_every_slider_threshold() -> None:
    from app_pages.ui.state import THRESHOLDS

    rng = np.random.default_rng(0)
    p = 10.0 ** rng.uniform(-11.9, 0.0, 200_000)
    q = cf.quantise(p)
    assert np.abs(q / p - 1.0).max() < 1.81e-3  # 10 ** (0.5 / 640) - 1
    # Values right at, just below and just above each threshold of the slider.
    for t in THRESHOLDS:
        near = np.array([t, t * (1 - 1e-5), t * (1 + 1e-6), t * 0.999, t * 1.001])
        np.testing.assert_array_equal(cf.quantise(near) >= t, near >= t)
    assert cf.quantise(np.array([0.0, 1e-13, np.nan, 1.0, 2.0])).tolist() == [0, 0, 0, 1, 1]


def test_a_period_of_changing_maps_is_small_on_disk(tiny_data, ri_model, tmp_path) -> None:
    model, folder = ri_model
    src = cached_forecast(model, folder, tiny_data, "test", tmp_path / "cache", chunk=16)
    # A map that changes in a few cells a day: mostly zeros once differenced.
    rng = np.random.default_rng(1)
    day = 10.0 ** rng.uniform(-8, -2, (50, 60))
    days = []
    for _ in range(70):
        day = day.copy()
        day.flat[rng.integers(0, day.size, 30)] *= 1.5
        days.append(day)
    root = tmp_path / "synthetic"
    root.mkdir()
    w = cf.CacheWriter(root, root / f"s{cf.SUFFIX}", root / "s.json")
    w.open((70, 50, 60))
    assert w.write(np.stack(days))
    w.commit({"format": cf.FORMAT})
    assert w.error is None
    assert (root / f"s{cf.SUFFIX}").stat().st_size < 0.15 * 70 * 50 * 60 * 2  # uint16: 420 kB
    back = cf.CachedForecast(root / f"s{cf.SUFFIX}", 0, 70, (50, 60))
    for i in (0, 31, 32, 69):
        np.testing.assert_array_equal(back.day(i), cf.quantise(days[i]))
    # Days far from a key day decode through the differences of the days before them.
    for t in (src.start, src.start + cf.KEY_DAYS - 1, src.stop - 1):
        want = cf.quantise(model.predict(tiny_data, t, t + 1)[0])
        np.testing.assert_array_equal(src.day(t), want)


def test_a_damaged_day_is_a_model_error(tiny_data, ri_model, tmp_path) -> None:
    model, folder = ri_model
    src = cached_forecast(model, folder, tiny_data, "test", tmp_path / "cache", chunk=16)
    raw = bytearray(src.path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # inside a day's blob (the CRC of that day no longer fits)
    src.path.write_bytes(bytes(raw))
    with pytest.raises(ModelError, match="cannot be read|damaged"):
        for t in range(src.start, src.stop):
            src.day(t)


# -- one day without the period -------------------------------------------------------------
def test_forecast_day_computes_one_day_and_reads_the_cache_when_there_is_one(
    tiny_data, ri_model, tmp_path
) -> None:
    model, folder = ri_model
    start, stop = tiny_data.days("test")
    t = (start + stop) // 2
    got = fc.forecast_day(model, tiny_data, t, folder, tmp_path / "cache")
    assert got.source == "model" and got.day == t and got.seconds >= 0
    np.testing.assert_array_equal(got.probs, model.predict(tiny_data, t, t + 1)[0])
    cached_forecast(model, folder, tiny_data, "test", tmp_path / "cache", chunk=16)
    again = fc.forecast_day(model, tiny_data, t, folder, tmp_path / "cache")
    assert again.source == "cache"
    np.testing.assert_array_equal(again.probs, cf.quantise(got.probs))
    with pytest.raises(ModelError, match="outside the protocol's forecast days"):
        fc.forecast_day(model, tiny_data, stop + 5)


def _net(data: ForecastData, memory_days: float):
    """A small ConvLSTM whose output layer is not zero (so its state shows in its forecast)."""
    import torch

    from quake.models.nets import output_layer
    from quake.models.neural import build

    torch.manual_seed(0)
    model = build(
        "convlstm-resid",
        "quick",
        {"pool": 2, "embed": 2, "hidden": 2, "head": 2, "memory_days": memory_days},
    )
    with torch.no_grad():
        torch.nn.init.normal_(output_layer(model.net).weight, std=1.0)
    model.set_base(data, final=True)
    model.bind(data)
    return model


def test_a_short_warm_up_of_a_forgetful_net_changes_nothing(tiny_data, monkeypatch) -> None:
    """Warmed up for 64 days, a net whose memories last a few days forecasts what it forecasts
    after running from day 0; a net remembering for up to 1,000 days does not."""
    monkeypatch.setattr(fc, "MAP_WARMUP_DAYS", 64)
    start, stop = tiny_data.days("test")
    t = start + 20
    assert t > 64
    diffs = {}
    for memory in (3.0, 1000.0):
        model = _net(tiny_data, memory)
        full = model.predict(tiny_data, t, t + 1)[0]
        short = fc.forecast_day(model, tiny_data, t)
        assert short.warmup_days == 64 and short.source == "model"
        cold = next(iter(model.predict_days(tiny_data, t, t + 1, 1, warmup=0)))[1][0]
        assert np.abs(cold - full).max() > 1e-4  # the state matters to both
        diffs[memory] = float(np.abs(short.probs - full).max())
    assert diffs[3.0] < 1e-6 < diffs[1000.0], diffs


def test_zigzag_differences_round_trip_every_step():
    from quake.service.cache_files import _unzigzag, _zigzag

    a = np.arange(0, 65536, dtype=np.uint16)
    for step in (0, 1, -1, 2, -2, 300, -300, 32767, -32768):
        b = (a.astype(np.int64) + step).astype(np.uint16)  # wraps like the codes do
        z = _zigzag(b - a)
        assert (a + _unzigzag(z) == b).all()
        assert int(z[0]) == (2 * step if step >= 0 else -2 * step - 1)
