"""The dashboard in a real browser: every page renders without an exception block, the maps
draw something, the threshold explorer's slider moves the counts in the browser; one
screenshot per page.

Runs ``streamlit run app.py`` in a subprocess and drives Debian's Chromium through
Playwright (sync API). Without Chromium or Playwright this test FAILS with what to install:
CI installs both (``make browser``). Screenshots go to ``artifacts/screenshots/``
(``QUAKE_SCREENSHOTS`` overrides).

``QUAKE_BROWSER_MODELS=models`` shows the repository's saved models instead of the
fixture's naive baselines (that is how the README screenshots are made).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from app_pages.ui.nav import PAGES as NAV

ROOT = Path(__file__).resolve().parent.parent
# README images: QUAKE_SCREENSHOTS=docs/screenshots; by default they stay out of the tree.
SHOTS = ROOT / os.environ.get("QUAKE_SCREENSHOTS", "artifacts/screenshots")
CHROMIUM = os.environ.get("QUAKE_CHROMIUM", "/usr/bin/chromium")
PAGES = {p.url: p.slug for p in NAV}  # url path -> screenshot name
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--enable-unsafe-swiftshader",
    "--disable-background-networking",
]


def _require_browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            "the browser test needs the playwright Python package: "
            "pip install -r requirements-dev.txt (it never downloads a browser here)"
        )
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        pytest.fail(
            f"the browser test needs Chromium at {CHROMIUM}: apt-get install chromium "
            "(or `make browser`), or set QUAKE_CHROMIUM to its path"
        )
    return sync_playwright


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory, dashboard_models) -> Iterator[str]:
    _require_browser()
    port = _free_port()
    models = os.environ.get("QUAKE_BROWSER_MODELS")
    env = {
        **os.environ,
        "QUAKE_MODELS_DIR": str(ROOT / models) if models else str(dashboard_models),
        "QUAKE_CACHE_DIR": os.environ.get("QUAKE_CACHE_DIR")
        or str(tmp_path_factory.mktemp("cache")),
    }
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "app.py",
                "--server.headless",
                "true",
                "--server.port",
                str(port),
                "--server.address",
                "127.0.0.1",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                pytest.fail(f"streamlit did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _settle(page, timeout: float = 180.0) -> int:
    """Wait until the app stops running and the page height stops changing; the height."""
    t0, last, same = time.time(), -1, 0
    while time.time() - t0 < timeout:
        busy = page.locator('[data-testid="stStatusWidget"]').count()
        height = page.evaluate(
            'Math.max(...[...document.querySelectorAll(\'[data-testid="stMain"],'
            '[data-testid="stMainBlockContainer"]\')].map(e => e.scrollHeight), 0)'
        )
        pending = page.locator('[data-testid="stSkeleton"]').count()
        same = same + 1 if (not busy and not pending and height == last) else 0
        if same >= 4:
            return int(height)
        last = height
        time.sleep(0.5)
    return int(last)


def _no_exception(page, name: str) -> None:
    blocks = page.locator('[data-testid="stException"]')
    if blocks.count():
        pytest.fail(f"{name}: Streamlit exception on the page:\n{blocks.first.inner_text()}")


def _canvas_variance(page) -> float:
    from PIL import Image

    canvas = page.locator('[data-testid="stDeckGlJsonChart"] canvas').first
    canvas.wait_for(state="visible", timeout=60_000)
    time.sleep(2.0)  # software WebGL draws a few frames later
    img = Image.open(io.BytesIO(canvas.screenshot())).convert("L")
    return float(np.asarray(img, dtype=np.float64).var())


def _plot_variance(page) -> float:
    """Pixel variance of the threshold explorer (map, curves and counts in one figure)."""
    from PIL import Image

    chart = page.locator('[data-testid="stPlotlyChart"]').first
    chart.wait_for(state="visible", timeout=60_000)
    time.sleep(1.0)
    img = Image.open(io.BytesIO(chart.screenshot())).convert("L")
    return float(np.asarray(img, dtype=np.float64).var())


def _slider_rail(page):
    """The first plotly slider's rail, attached and scrolled into view."""
    touch = page.locator(".slider-rail-touch-rect").first
    touch.wait_for(state="attached", timeout=60_000)
    touch.scroll_into_view_if_needed()
    time.sleep(0.5)
    return touch


def _click_tick(page, touch, tick) -> None:
    """Click a plotly slider's tick on its rail, then give the browser a second."""
    t, box = tick.bounding_box(), touch.bounding_box()
    page.mouse.click(t["x"] + t["width"] / 2, box["y"] + box["height"] / 2)
    time.sleep(1.0)


def _explorer_slider_moves(page) -> None:
    """Click far right on the threshold explorer's slider (plotly, in the browser): the
    threshold shown, the counts and the map's colour scale change without a rerun."""
    touch = _slider_rail(page)
    label = page.locator(".slider-container text", has_text="Alarm threshold").first
    counts = page.get_by_text(re.compile("hits \\(TP\\)")).first
    before = (label.text_content(), counts.text_content())
    ticks = page.locator(".slider-tick-rect")
    assert ticks.count() >= 50, f"the explorer slider has {ticks.count()} steps"
    _click_tick(page, touch, ticks.nth(ticks.count() - 12))
    after = (label.text_content(), counts.text_content())
    assert after[0] != before[0], f"the slider did not move: {before[0]}"
    assert after[1] != before[1], f"the counts did not follow the slider: {before[1]}"


def _player_steps_a_day(page) -> None:
    """Click the day player's second tick (plotly, in the browser): the day shown and the
    title's counts change without a rerun."""
    touch = _slider_rail(page)
    label = page.locator("g.slider-group > text.slider-label").first
    title = page.locator(".gtitle").first
    before = (label.text_content(), title.text_content())
    ticks = page.locator(".slider-tick-rect")
    assert ticks.count() >= 28, f"the player holds {ticks.count()} days"
    _click_tick(page, touch, ticks.nth(1))
    after = (label.text_content(), title.text_content())
    assert after[0] != before[0], f"the day did not move: {before[0]}"
    assert after[1] != before[1], f"the title did not follow the day: {before[1]}"


@contextlib.contextmanager
def _chromium(width: int, height: int, tag: str) -> Iterator:
    """A headless Chromium context (its own profile folder, removed afterwards)."""
    sync_playwright = _require_browser()
    profile = Path(os.environ.get("TMPDIR", "/tmp")) / f"quake-chromium-{tag}{os.getpid()}"
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            user_data_dir=str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=BROWSER_ARGS,
            viewport={"width": width, "height": height},
        )
        try:
            yield ctx
        finally:
            ctx.close()
            shutil.rmtree(profile, ignore_errors=True)


def test_every_page_in_a_real_browser(server):
    SHOTS.mkdir(parents=True, exist_ok=True)
    with _chromium(1500, 1000, "") as ctx:
        page = ctx.new_page()
        for path, name in PAGES.items():
            page.set_viewport_size({"width": 1500, "height": 1000})
            page.goto(f"{server}/{path}")
            page.wait_for_selector('[data-testid="stApp"]', timeout=60_000)
            try:  # every page starts with a title
                page.wait_for_selector("h1", timeout=120_000)
            except Exception:
                _no_exception(page, name)
                pytest.fail(f"{name}: no title after 120 s")
            height = _settle(page)
            _no_exception(page, name)
            if name == "catalog":  # the map is in a tab that runs when opened
                page.get_by_role("tab", name="Where the events are").click()
                _settle(page)
                var = _canvas_variance(page)
                assert var > 20.0, f"{name}: the map canvas looks blank (variance {var:.1f})"
            if name == "forecast_map":
                var = _plot_variance(page)
                assert var > 20.0, f"{name}: the day player looks blank (variance {var:.1f})"
                _player_steps_a_day(page)
                _no_exception(page, name)
            if name == "threshold":
                var = _plot_variance(page)
                assert var > 20.0, f"{name}: the explorer looks blank (variance {var:.1f})"
                _explorer_slider_moves(page)
                _no_exception(page, name)
                height = _settle(page)
            page.set_viewport_size({"width": 1500, "height": min(height + 200, 6000)})
            _settle(page)
            time.sleep(1.5)
            page.screenshot(path=str(SHOTS / f"{name}.png"))


def _explorer_columns(page) -> list[float]:
    """The x domain of the explorer's ROC panel as plotly laid it out in the page."""
    return page.evaluate(
        """() => [...document.querySelectorAll('.js-plotly-plot')]
            .filter(g => (g._fullLayout.sliders || []).length)
            .map(g => g._fullLayout.xaxis2.domain)[0] || []"""
    )


def test_the_threshold_explorer_takes_one_column_on_a_phone(server):
    """On a phone's width the explorer's panels stack (they overlapped in one 2 x 3 figure,
    stop 28): the page measures its column in the browser (`app_pages.ui.viewport`) and
    draws the one-column figure; widened to a laptop's, it goes back to the wide one."""
    with _chromium(390, 844, "phone-") as ctx:
        page = ctx.new_page()
        page.goto(f"{server}/threshold")
        page.wait_for_selector("h1", timeout=120_000)
        _settle(page)
        deadline = time.time() + 60
        while _explorer_columns(page) != [0, 1] and time.time() < deadline:
            time.sleep(0.5)
        assert _explorer_columns(page) == [0, 1], "the explorer kept its wide layout"
        _no_exception(page, "threshold (phone)")
        page.set_viewport_size({"width": 1500, "height": 1000})
        deadline = time.time() + 60
        while (_explorer_columns(page) or [0])[0] < 0.3 and time.time() < deadline:
            time.sleep(0.5)
        columns = _explorer_columns(page)
        assert columns and columns[0] > 0.3, f"still one column when wide: {columns}"
