"""Benchmark of the dashboard in a real browser (Chromium driven by Playwright).

What a person waits for, from the input to the settled page:

  threshold_step  one ArrowRight on the Threshold page's threshold slider (counts, curve
                  points and map all follow), median and worst of ``--steps`` steps
  day_step        one click of "+1 d" on the Forecast map (its forecasts cached)
  page_switch     a click on each page in the navigation menu, every page visited once
                  before (caches warm), each switch measured ``--switches`` times
  play_fps        days shown per second while Play runs on the Forecast map (if there is
                  a Play button; ``null`` otherwise)

How "settled" is measured: a MutationObserver in the page records the time of the last
change of the document; after the input the benchmark waits until Streamlit has finished
the rerun (its ``script_finished`` message on the websocket; a change made in the browser
alone needs none) and the document has been quiet for ``QUIET`` seconds. The step's time is
last change - input, plus one frame (16 ms) for the canvas to draw.

The server runs ``streamlit run app.py`` on a free port with the reference catalog; models
come from ``--models`` (default ``models/``) and map forecasts from ``--cache`` (default
``data/cache``; the first visit of the Forecast map computes them once if they are missing,
which is not timed).

Usage: ``.venv/bin/python bench/bench_browser.py OUT.json [--steps 12] [--label before]``;
``bench/bench_browser.py --table BEFORE.json AFTER.json`` prints the Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from app_pages.ui.nav import PAGES  # noqa: E402  (the dashboard's page list)

CHROMIUM = os.environ.get("QUAKE_CHROMIUM", "/usr/bin/chromium")
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--enable-unsafe-swiftshader",
    "--disable-background-networking",
]
QUIET = 0.4  # s without a change of the document: settled
FRAME = 0.016  # s: one frame for deck.gl / plotly to draw after the last change
GOALS = {"threshold_step": 0.150, "day_step": 0.300, "page_switch": 1.0, "play_fps": 4.0}

# The last change a person can see. Changes inside a <canvas> are its fallback content (the
# data grid's hidden table for screen readers, refreshed ~0.3 s after the grid is drawn):
# never rendered, so not counted (stop 18; before, they set the Compare page's time).
OBSERVER = """() => {
  window.__lastMut = window.__lastAny = performance.now();
  if (window.__quakeObs) return;
  const drawn = (r) => {
    const el = r.target.nodeType === 1 ? r.target : r.target.parentElement;
    if (!el) return true;
    if (r.type === 'childList' && el.tagName === 'CANVAS') return false;
    return !(el.parentElement && el.parentElement.closest('canvas'));
  };
  window.__quakeObs = new MutationObserver((recs) => {
    window.__lastAny = performance.now();
    if (recs.some(drawn)) window.__lastMut = performance.now();
  });
  window.__quakeObs.observe(document.body,
    {subtree: true, childList: true, attributes: true, characterData: true});
}"""


def bench_models(src: Path, without: set[str]) -> Path:
    """A fixed folder (so the forecast cache, keyed by model folder, is reused between runs)
    of links to the models of ``src`` but ``without``."""
    out = Path(os.environ.get("QUAKE_BENCH_MODELS", "/tmp/quake-bench-models"))
    if out.exists():
        for link in out.iterdir():
            link.unlink()
    out.mkdir(parents=True, exist_ok=True)
    for folder in sorted(src.iterdir()):
        if folder.is_dir() and folder.name not in without and not folder.name.startswith("."):
            (out / folder.name).symlink_to(folder)
    return out


def prepare_cache(models: Path, cache: Path, catalog: Path) -> str | None:
    """Compute (once, untimed) the test-period forecasts of the model the map pages pick by
    default, with this tree's code, so that the pages are measured with it cached."""
    from quake.data.catalog.paths import read_catalog_file
    from quake.data.forecast_data import ForecastData
    from quake.models import load_model
    from quake.scoring.tables import best_model
    from quake.service.forecast_cache import cached_forecast
    from quake.service.workspace import list_models

    cards = [c for c in list_models(models) if c.error is None]
    card = best_model(cards, prefer_fast=True)
    if card is None:
        return None
    m = load_model(card.folder)
    if getattr(m, "static_forecast", None) is not None:
        return card.name
    data = ForecastData.build(read_catalog_file(str(catalog)), float(card.mc or 5.0), m.protocol)
    t0 = time.time()
    cached_forecast(m, card.folder, data, "test", root=cache)
    print(f"forecasts of {card.name} cached in {time.time() - t0:.0f} s", flush=True)
    return card.name


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(models: Path, cache: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """``streamlit run app.py`` on a free port; returns the process and its address."""
    import urllib.request

    port = free_port()
    env = {**os.environ, "QUAKE_MODELS_DIR": str(models), "QUAKE_CACHE_DIR": str(cache)}
    ref = Path("/work/shared/data/japan_usgs_1990_2019.csv")
    if "QUAKE_CATALOG" not in env and ref.is_file():
        env["QUAKE_CATALOG"] = str(ref)
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true"]
    cmd += ["--server.port", str(port), "--server.address", "127.0.0.1"]
    cmd += ["--browser.gatherUsageStats", "false"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return proc, url
        except OSError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    proc.terminate()
    sys.exit(f"streamlit did not start:\n{log.read_text()[-3000:]}")


class Runs:
    """Counts Streamlit's ``script_finished`` messages on the page's websocket."""

    def __init__(self, page) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self._msg = ForwardMsg
        self.finished = 0
        self.last = 0.0
        self.last_any_s = float("nan")  # the last settle counting canvas fallback changes too
        page.on("websocket", self._attach)

    def _attach(self, ws) -> None:
        ws.on("framereceived", self._frame)

    def _frame(self, payload) -> None:
        if isinstance(payload, str):
            return
        try:
            msg = self._msg.FromString(payload)
        except Exception:
            return
        if msg.WhichOneof("type") == "script_finished":
            self.finished += 1
            self.last = time.time()


def settle(page, runs: Runs, before: int, t0: float, expect_run: bool, timeout: float = 60):
    """Seconds from ``t0`` (page clock, ms) to the last change, once the page is settled."""
    start = time.time()
    while time.time() - start < timeout:
        page.wait_for_timeout(20)
        if expect_run and runs.finished <= before and time.time() - start < 3.0:
            continue
        busy = page.locator('[data-testid="stStatusWidget"]').count()
        # quiet: no change of any kind (the canvas fallback's too) for QUIET seconds
        quiet_ms = page.evaluate("performance.now() - window.__lastAny")
        if not busy and quiet_ms >= QUIET * 1000:
            last, last_any = page.evaluate("[window.__lastMut, window.__lastAny]")
            runs.last_any_s = max(0.0, (last_any - t0) / 1000.0) + FRAME
            return max(0.0, (last - t0) / 1000.0) + FRAME
    return float("nan")


def measure(page, runs: Runs, action, expect_run: bool = True) -> float:
    page.evaluate(OBSERVER)
    before = runs.finished
    t0 = page.evaluate("performance.now()")
    action()
    return settle(page, runs, before, t0, expect_run)


def wait_ready(page, timeout: float = 1800.0) -> None:
    """Wait for the page to finish (including a first-time forecast run, not timed)."""
    start = time.time()
    while time.time() - start < timeout:
        page.wait_for_timeout(500)
        pending = page.locator('[data-testid="stProgress"]').count()
        ask = page.get_by_role("button", name=re.compile(r"^Compute the forecasts"))
        if ask.count():
            ask.first.click()
            continue
        busy = page.locator('[data-testid="stStatusWidget"]').count()
        if not pending and not busy:
            page.wait_for_timeout(2000)
            quiet = not page.locator('[data-testid="stStatusWidget"]').count()
            if quiet and not page.locator('[data-testid="stProgress"]').count():
                return
    sys.exit("the page did not settle in time")


def summary(values: list[float]) -> dict:
    ok = [v for v in values if v == v]
    return {
        "n": len(values),
        "median_s": round(statistics.median(ok), 3) if ok else None,
        "worst_s": round(max(ok), 3) if ok else None,
        "values_s": [round(v, 3) for v in values],
    }


def goto(page, url: str, slug: str) -> None:
    page.goto(f"{url}/{slug}")
    page.wait_for_selector("h1", timeout=300_000)
    wait_ready(page)


def bench_threshold(page, runs: Runs, url: str, steps: int) -> dict:
    goto(page, url, "threshold")
    touch = page.locator(".slider-rail-touch-rect")
    native = page.get_by_role("slider", name=re.compile("Alarm threshold"))
    deadline = time.time() + 60
    while not (touch.count() or native.count()) and time.time() < deadline:
        page.wait_for_timeout(200)  # the chart draws after the run has finished
    if touch.count():  # the threshold explorer: a plotly slider that runs in the browser
        return bench_plotly_slider(page, runs, steps)
    thumb = page.get_by_role("slider", name=re.compile("Alarm threshold")).first
    thumb.focus()
    values = []
    for _ in range(steps):
        values.append(measure(page, runs, lambda: thumb.press("ArrowRight")))
        thumb.focus()
    return summary(values)


def bench_plotly_slider(page, runs: Runs, steps: int) -> dict:
    """Clicks on the explorer slider's next tick, one step each (no rerun is expected)."""
    touch = page.locator(".slider-rail-touch-rect").first
    touch.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    box = touch.bounding_box()
    y = box["y"] + box["height"] / 2
    ticks = page.locator(".slider-tick-rect")
    xs = []
    for i in range(ticks.count()):
        b = ticks.nth(i).bounding_box()
        xs.append(b["x"] + b["width"] / 2)
    current = page.locator(".slider-container text", has_text="Alarm threshold").first
    label = current.text_content()
    start = 20  # 1e-4, the default threshold
    values = []
    for k in range(steps):
        x = xs[min(start + 1 + k, len(xs) - 1)]
        values.append(measure(page, runs, lambda x=x: page.mouse.click(x, y), expect_run=False))
    out = summary(values)
    out["mode"] = "plotly slider in the browser"
    out["moved"] = current.text_content() != label
    return out


def bench_day(page, runs: Runs, url: str, steps: int) -> dict:
    """One day later on the Forecast map: the next tick of the day player's slider (it runs
    in the browser), or the "+1 d" button of a page without the player."""
    goto(page, url, "forecast_map")
    touch = page.locator(".slider-rail-touch-rect")
    deadline = time.time() + 60
    while not touch.count() and time.time() < deadline:
        page.wait_for_timeout(200)
    if not touch.count():
        button = page.get_by_role("button", name="+1 d").first
        return summary([measure(page, runs, button.click) for _ in range(steps)])
    touch.first.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    box = touch.first.bounding_box()
    y = box["y"] + box["height"] / 2
    ticks = page.locator(".slider-tick-rect")
    xs = [ticks.nth(i).bounding_box() for i in range(ticks.count())]
    xs = [b["x"] + b["width"] / 2 for b in xs]
    label = page.locator("g.slider-group > text.slider-label").first
    before = label.text_content()
    values = []
    for k in range(steps):
        x = xs[min(1 + k, len(xs) - 1)]
        values.append(measure(page, runs, lambda x=x: page.mouse.click(x, y), expect_run=False))
    out = summary(values)
    out["mode"] = "day player slider in the browser"
    out["moved"] = label.text_content() != before
    return out


def bench_play(page, runs: Runs, url: str, seconds: float = 8.0) -> dict:
    """Distinct forecast days shown per second while Play runs (the model's test period is
    cached on disk: "once cached"): new days after the first over the time from the first
    to the last new day (the day player stops at the end of its window)."""
    goto(page, url, "forecast_map")
    player = page.locator(".updatemenu-button", has_text="Play")
    deadline = time.time() + 60
    while not player.count() and time.time() < deadline:
        page.wait_for_timeout(200)
    play = player if player.count() else page.get_by_role("button", name=re.compile(r"Play"))
    if not play.count():
        return {"fps": None, "note": "no Play button on the Forecast map"}

    def heading() -> str:
        if player.count():  # the day player: its slider's current value
            v = page.locator("g.slider-group > text.slider-label").first
            return v.text_content() if v.count() else ""
        h = page.get_by_text(re.compile(r"^Forecast made on")).first
        return h.inner_text() if h.count() else ""

    def run(duration: float) -> tuple[int, float]:
        first = heading()
        play.first.click()
        seen, last, t0, times = set(), first, time.time(), []
        while time.time() - t0 < duration:
            text = heading()
            if text and text != last:
                seen.add(text)
                times.append(time.time())
                last = text
            page.wait_for_timeout(10)
        elapsed = times[-1] - times[0] if len(times) > 1 else float("nan")
        stop = page.locator(".updatemenu-button", has_text="Pause")
        if not stop.count():
            stop = page.get_by_role("button", name=re.compile(r"Pause|Stop"))
        if stop.count():
            stop.first.click()
        page.wait_for_timeout(1500)
        return len(seen), elapsed

    n, elapsed = run(seconds)
    fps = (n - 1) / elapsed if n > 1 and elapsed > 0 else None
    return {"fps": round(fps, 2) if fps else None, "frames": n, "seconds": round(elapsed, 2)}


def bench_pages(page, runs: Runs, url: str, repeats: int) -> dict:
    for p in PAGES:  # every page once: caches warm
        goto(page, url, p.url)
    out = {}
    for p in PAGES:
        values, with_fallback = [], []
        for _ in range(repeats):
            other = next(q for q in PAGES if q.key != p.key)
            goto(page, url, other.url)
            link = page.locator(f'[data-testid="stSidebarNav"] a[href$="/{p.url}"]').first
            if not p.url:
                link = page.locator('[data-testid="stSidebarNav"] a').first
            values.append(measure(page, runs, link.click))
            with_fallback.append(round(runs.last_any_s, 3))
        # The same switches timed to the last change of any kind, canvas fallback included
        # (the measure before stop 18).
        out[p.slug] = {**summary(values), "with_canvas_fallback_s": with_fallback}
    return out


def guarded(fn, *args) -> dict:
    """One part of the benchmark; a failure is recorded, the other parts still run."""
    try:
        return fn(*args)
    except Exception as err:  # a page that never settles must not lose the other numbers
        return {"error": f"{type(err).__name__}: {str(err)[:300]}"}


def table(before: dict, after: dict) -> str:
    """The before/after table (median and worst seconds per goal) as Markdown."""
    rows = [("threshold step", "threshold_step", GOALS["threshold_step"])]
    rows.append(("day step (Forecast map)", "day_step", GOALS["day_step"]))
    lines = [
        "| goal | target | before median | before worst | after median | after worst |",
        "|---|---|---|---|---|---|",
    ]

    def cell(d: dict | None, key: str) -> str:
        v = (d or {}).get(key)
        return "—" if v is None else f"{v:.3f} s"

    for label, key, goal in rows:
        b, a = before.get(key), after.get(key)
        lines.append(
            f"| {label} | ≤ {goal} s | {cell(b, 'median_s')} | {cell(b, 'worst_s')} | "
            f"{cell(a, 'median_s')} | {cell(a, 'worst_s')} |"
        )
    for page in before.get("page_switch", {}):
        b = before["page_switch"].get(page)
        a = after.get("page_switch", {}).get(page)
        lines.append(
            f"| switch to {page} | ≤ {GOALS['page_switch']} s | {cell(b, 'median_s')} | "
            f"{cell(b, 'worst_s')} | {cell(a, 'median_s')} | {cell(a, 'worst_s')} |"
        )

    def fps(d: dict) -> str:
        v = d.get("play", {}).get("fps")
        return "no Play" if v is None else f"{v:.2f} frames/s"

    lines.append(f"| Play | ≥ {GOALS['play_fps']} frames/s | {fps(before)} | | {fps(after)} | |")
    for d in (before, after):
        lines.append(
            f"\n{d.get('label')}: {d.get('date')}, load average (1, 5, 15 min) "
            f"{d.get('load_before')} at the start, {d.get('load_after')} at the end."
        )
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--table":
        before, after = (json.loads(Path(p).read_text()) for p in sys.argv[2:])
        print(table(before, after))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="where to write the JSON results")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--switches", type=int, default=2)
    ap.add_argument("--models", type=Path, default=ROOT / "models")
    ap.add_argument("--cache", type=Path, default=ROOT / "data" / "cache")
    ap.add_argument(
        "--without",
        default="etas-m5,etas-m4.5",
        help="models left out (comma-separated): ETAS, the map's default otherwise, takes "
        "over 30 min here for its first whole-period forecast; this measures the pages",
    )
    ap.add_argument("--label", default="")
    ap.add_argument("--shots", type=Path, default=None, help="folder for screenshots")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).is_file():
        sys.exit(f"Chromium not found at {CHROMIUM}: apt-get install chromium")
    args.cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="quake-bench-"))
    models = bench_models(args.models.resolve(), set(filter(None, args.without.split(","))))
    ref = Path(os.environ.get("QUAKE_CATALOG", "/work/shared/data/japan_usgs_1990_2019.csv"))
    os.environ["QUAKE_CATALOG"] = str(ref)  # the server and the cache read the same file
    mapped = prepare_cache(models, args.cache.resolve(), ref)
    proc, url = start_server(models, args.cache.resolve(), tmp / "server.log")
    load0 = os.getloadavg()
    result: dict = {
        "label": args.label,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "models": sorted(p.name for p in models.iterdir() if not p.name.startswith(".")),
        "map_model": mapped,
    }
    try:
        with sync_playwright() as p:
            ctx = p.chromium.launch_persistent_context(
                user_data_dir=str(tmp / "profile"),
                executable_path=CHROMIUM,
                headless=True,
                args=BROWSER_ARGS,
                viewport={"width": 1500, "height": 1000},
            )
            page = ctx.new_page()
            runs = Runs(page)
            result["day_step"] = guarded(bench_day, page, runs, url, args.steps)
            if args.shots:
                args.shots.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.shots / "forecast_map.png"), full_page=True)
            result["threshold_step"] = guarded(bench_threshold, page, runs, url, args.steps)
            if args.shots:
                page.screenshot(path=str(args.shots / "threshold.png"), full_page=True)
            result["page_switch"] = guarded(bench_pages, page, runs, url, args.switches)
            result["play"] = guarded(bench_play, page, runs, url)
            if args.shots:
                page.screenshot(path=str(args.shots / "play.png"), full_page=True)
            ctx.close()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    result["load_before"] = [round(v, 2) for v in load0]
    result["load_after"] = [round(v, 2) for v in os.getloadavg()]
    result["goals"] = GOALS
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "page_switch"}, indent=1))


if __name__ == "__main__":
    main()
