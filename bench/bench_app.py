"""Benchmark of the dashboard, server side, with Streamlit's AppTest (no browser).

Measured (seconds of ``AppTest.run()``: the script of app.py + the page, every widget and
chart built and serialised; the browser's drawing is not included):

  first render   each page in a NEW session (fresh AppTest) once the process caches are
                 warm (catalog, forecast data, models and curves loaded once before)
  cold           the same, the very first time in the process (caches empty), for reference
  threshold      one move of the threshold slider on the Threshold page (median of 12 moves
                 over the whole log range; counts, three curves and the map all update)
  forecast day   one new forecast day on the Forecast map (median of 12: "+1 d", "+7 d" and
                 slider jumps), with the model's forecasts already cached on disk

For the last two, two numbers: the whole page rerun under AppTest (app.py, sidebar and
page), and the fragment alone. In the running app both widgets sit in an ``st.fragment``,
so moving them reruns only the fragment; AppTest always reruns the whole script, so the
fragment's own time is measured by timing the fragment function inside those runs.

Goals: threshold < 0.1 s, new forecast day < 2 s, any page's first render < 3 s.

Models: ``$QUAKE_BENCH_MODELS`` (a folder of saved models, e.g. ``models``) or, by default,
naive baselines at Mc 5.0 and 4.5 fitted on the reference catalog into a temporary folder,
plus, with ``--ri``, a relative-intensity model (time-varying forecasts read from the
float16 cache; building that cache takes a few minutes once).

Usage: ``.venv/bin/python bench/bench_app.py [--ri] [--json]`` (exit code 1 when a goal
is missed).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from app_pages.ui.nav import PATHS  # noqa: E402  (the dashboard's page list)

GOALS = {"threshold": 0.1, "forecast_day": 2.0, "first_render": 3.0}
PAGES = list(PATHS.values())


def fit_models(root: Path, with_ri: bool) -> None:
    from quake.data.forecast_data import ForecastData, load_reference
    from quake.models import create
    from quake.scoring.evaluate import fit_score_save

    catalog = load_reference()
    for mc in (5.0, 4.5):
        data = ForecastData.build(catalog, mc)
        fit_score_save(create("naive"), data, root / f"naive-m{mc:.1f}")
    if with_ri:
        data = ForecastData.build(catalog, 5.0)
        model = create("ri", tau_days=730.0, radius=1, beta=0.01)
        fit_score_save(model, data, root / "ri-m5.0")


def warm_forecasts(root: Path) -> None:
    """Build the forecast cache of the model the map shows by default (not timed)."""
    from quake.data.forecast_data import ForecastData, load_reference
    from quake.models import load_model
    from quake.scoring.tables import best_model
    from quake.service.forecast_cache import cached_forecast
    from quake.service.workspace import list_models

    card = best_model(list_models(root))
    if card is None:
        return
    model = load_model(card.folder)
    if getattr(model, "static_forecast", None) is not None:
        return
    data = ForecastData.build(load_reference(), float(card.mc or 5.0), model.protocol)
    t0 = time.perf_counter()
    cached_forecast(model, card.folder, data, "test")
    print(f"  forecast cache of {card.name}: {time.perf_counter() - t0:.1f} s (setup)")


FRAGMENTS: list[tuple[str, float]] = []


def time_fragments() -> None:
    """Wrap ``st.fragment`` so each fragment function's run time is recorded."""
    import functools

    import streamlit as st

    original = st.fragment

    def fragment(func=None, **kwargs):
        def deco(f):
            @functools.wraps(f)
            def timed(*a, **k):
                t0 = time.perf_counter()
                try:
                    return f(*a, **k)
                finally:
                    FRAGMENTS.append((f.__name__, time.perf_counter() - t0))

            return original(timed, **kwargs)

        return deco(func) if func is not None else deco

    st.fragment = fragment


def last_fragment(name: str) -> float:
    return next(dt for n, dt in reversed(FRAGMENTS) if n == name)


def timed_run(at, timeout: float = 300) -> float:
    t0 = time.perf_counter()
    at.run(timeout=timeout)
    dt = time.perf_counter() - t0
    if at.exception:
        raise RuntimeError(f"exception in the app: {[e.value for e in at.exception]}")
    return dt


def new_session(page: str):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    at.switch_page(page)
    return at


def bench() -> dict:
    out: dict = {"cold": {}, "first_render": {}}
    for page in PAGES:  # cold: the first visit in this process fills the caches
        at = new_session(page)
        out["cold"][page] = timed_run(at)
    for page in PAGES:
        at = new_session(page)
        out["first_render"][page] = timed_run(at)

    at = new_session(PATHS["threshold"])
    timed_run(at)
    slider = at.select_slider(key="w_threshold")
    options = list(slider.options)
    picks = [options[i] for i in (5, 55, 10, 40, 20, 35, 25, 45, 15, 30, 50, 20)]
    times, frag = [], []
    for v in picks:
        at.select_slider(key="w_threshold").set_value(float(v))
        times.append(timed_run(at))
        frag.append(last_fragment("trade_off"))
    out["threshold"], out["threshold_fragment"] = times, frag

    at = new_session(PATHS["map"])
    timed_run(at)
    times, frag = [], []
    for step in ["+1 d", "+1 d", "+7 d", "−1 d", "+7 d", "+1 d"]:
        next(b for b in at.button if b.label == step).click()
        times.append(timed_run(at))
        frag.append(last_fragment("day_view"))
    import datetime as dt

    for day in ["2011-03-20", "2012-06-01", "2014-09-10", "2016-04-20", "2018-01-01", "2019-06-30"]:
        at.slider(key="w_forecast_day").set_value(dt.date.fromisoformat(day))
        times.append(timed_run(at))
        frag.append(last_fragment("day_view"))
    out["forecast_day"], out["forecast_day_fragment"] = times, frag
    decks = [len(d.proto.json) for d in at.get("deck_gl_json_chart")]
    out["deck_json_bytes"] = decks
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ri", action="store_true", help="add a time-varying RI model")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    time_fragments()

    tmp = Path(tempfile.mkdtemp(prefix="quake-bench-"))
    models = os.environ.get("QUAKE_BENCH_MODELS")
    if models:
        root = (ROOT / models).resolve()
    else:
        root = tmp / "models"
        print("setup: fitting naive baselines" + (" and RI" if args.ri else "") + " …")
        fit_models(root, args.ri)
    os.environ["QUAKE_MODELS_DIR"] = str(root)
    os.environ.setdefault("QUAKE_CACHE_DIR", str(tmp / "cache"))
    warm_forecasts(root)

    res = bench()
    med_thr = statistics.median(res["threshold"])
    med_day = statistics.median(res["forecast_day"])
    frag_thr = statistics.median(res["threshold_fragment"])
    frag_day = statistics.median(res["forecast_day_fragment"])
    worst_first = max(res["first_render"].values())
    summary = {
        "models": str(root),
        "threshold_median_s": med_thr,
        "threshold_fragment_median_s": frag_thr,
        "forecast_day_fragment_median_s": frag_day,
        "threshold_max_s": max(res["threshold"]),
        "forecast_day_median_s": med_day,
        "forecast_day_max_s": max(res["forecast_day"]),
        "first_render_s": res["first_render"],
        "cold_render_s": res["cold"],
        "deck_json_bytes": res["deck_json_bytes"],
    }
    ok = (
        frag_thr < GOALS["threshold"]
        and med_day < GOALS["forecast_day"]
        and worst_first < GOALS["first_render"]
    )
    if args.json:
        print(json.dumps({**summary, "ok": ok}))
    else:
        print(f"models: {root}")
        print(f"{'page':28s} {'cold (s)':>9s} {'first render, warm (s)':>23s}")
        for page in PAGES:
            print(f"{page:28s} {res['cold'][page]:9.3f} {res['first_render'][page]:23.3f}")
        goal_thr, goal_day = GOALS["threshold"] * 1000, GOALS["forecast_day"]
        print(
            f"threshold move:   fragment median {frag_thr * 1000:6.1f} ms; whole page median "
            f"{med_thr * 1000:6.1f} ms, max {max(res['threshold']) * 1000:6.1f} ms  "
            f"(goal < {goal_thr:.0f} ms)"
        )
        print(
            f"new forecast day: fragment median {frag_day * 1000:6.1f} ms; whole page median "
            f"{med_day * 1000:6.1f} ms, max {max(res['forecast_day']) * 1000:6.1f} ms  "
            f"(goal < {goal_day:.0f} s)"
        )
        goal_first = GOALS["first_render"]
        print(f"first render:     worst {worst_first:.2f} s  (goal < {goal_first:.0f} s)")
        kb = ", ".join(f"{b / 1024:.0f} kB" for b in res["deck_json_bytes"])
        print(f"deck JSON per map: {kb}")
        print("all goals met" if ok else "GOAL MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
