"""First-map time and map-cache size per saved model.

For each model in ``models/`` (or those named): load it, then forecast one day in the middle
of the test period with an empty cache, as the map page does before the period is cached
(`quake.service.forecast_cache.forecast_day`); then the size of its test-period map cache,
either written in full (``--full``) or estimated from ``--sample`` consecutive days written
in the cache format (the size per day extrapolated to the period's days; the first day of
the sample is a key day, as one day in `quake.service.cache_files.KEY_DAYS` is).

The data (catalog on the grid, per Mc) are built once and not counted: the dashboard keeps
them in memory. Usage::

    nice .venv/bin/python bench/bench_first_map.py --out docs/bench_first_map.json
    nice .venv/bin/python bench/bench_first_map.py xgb-rtl-m5 cnn-paper-m5 --full
    nice .venv/bin/python bench/bench_first_map.py etas-m5 --out docs/bench_first_map.json --merge
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch

from quake.data.forecast_data import ForecastData, load_reference
from quake.models import Forecaster
from quake.models.store import MODEL_FILE
from quake.service import cache_files as cf
from quake.service.forecast_cache import MAP_WARMUP_DAYS, cached_forecast, forecast_day


def _sample_size(model: Forecaster, data: ForecastData, t: int, n: int, root: Path) -> int:
    """Bytes of ``n`` days from ``t`` in the cache format (header and index included)."""
    recurrent = getattr(model, "recurrent", False)
    kwargs = {"warmup": MAP_WARMUP_DAYS or 512} if recurrent else {}  # size only: any warm state
    days = np.concatenate([p for _, p in model.predict_days(data, t, t + n, n, **kwargs)])
    path = root / f"sample{cf.SUFFIX}"
    w = cf.CacheWriter(root, path, root / "sample.json")
    w.open(days.shape)
    w.write(days)
    w.commit({"format": cf.FORMAT})
    if w.error is not None:
        raise w.error
    size = path.stat().st_size
    path.unlink()
    (root / "sample.json").unlink()
    return size


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", help="model names (default: every folder in models/)")
    ap.add_argument("--sample", type=int, default=32, help="days written to estimate the size")
    ap.add_argument("--full", action="store_true", help="write the whole test period instead")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--day", default=None, help="forecast day YYYY-MM-DD (default: the test period's middle)"
    )
    ap.add_argument("--out", default=None, help="also write the rows as JSON here")
    ap.add_argument(
        "--merge", action="store_true", help="keep --out's rows of the models not run here"
    )
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    root = Path("models")
    names = a.models or sorted(p.parent.name for p in root.glob(f"*/{MODEL_FILE}"))
    catalog = load_reference(None)
    datas: dict[float, ForecastData] = {}
    rows = []
    for name in names:
        t0 = time.perf_counter()
        model = Forecaster.load(root / name)
        load_s = time.perf_counter() - t0
        mc = float(model.mc or 5.0)
        if mc not in datas:
            datas[mc] = ForecastData.build(catalog, mc)
        data = datas[mc]
        start, stop = data.days("test")
        t = (start + stop) // 2
        if a.day:
            t = data.protocol.date_to_day(date.fromisoformat(a.day))
        with tempfile.TemporaryDirectory() as tmp:
            got = forecast_day(model, data, t, root / name, Path(tmp))
            row = {
                "model": name,
                "kind": model.kind,
                "day": str(data.protocol.day_to_date(t)),
                "load_s": round(load_s, 2),
                "first_map_s": round(got.seconds, 2),
                "source": got.source,
                "warmup_days": got.warmup_days,
            }
            if got.source == "static":
                row["cache_mb"] = 0.0  # constant in time: the pages keep no period cache
            elif a.full:
                t1 = time.perf_counter()
                src = cached_forecast(model, root / name, data, "test", Path(tmp))
                row["period_s"] = round(time.perf_counter() - t1, 1)
                row["cache_mb"] = round(src.path.stat().st_size / 1e6, 2)
                row["cache_measured"] = "full"
            else:
                n = min(a.sample, stop - t)
                size = _sample_size(model, data, t, n, Path(tmp))
                per_day = (size - cf._HEAD.size) / n
                row["cache_mb"] = round((cf._HEAD.size + per_day * (stop - start)) / 1e6, 2)
                row["cache_measured"] = f"{n} days extrapolated"
        rows.append(row)
        print(json.dumps(row), flush=True)
    if a.out:
        out = rows
        if a.merge and Path(a.out).is_file():
            ran = {r["model"] for r in rows}
            kept = [r for r in json.loads(Path(a.out).read_text()) if r.get("model") not in ran]
            out = sorted(kept + rows, key=lambda r: r["model"])
        Path(a.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"{'model':28} {'first map s':>11} {'warm-up':>8} {'cache MB':>9}", file=sys.stderr)
    for r in rows:
        print(
            f"{r['model']:28} {r['first_map_s']:11.2f} {r['warmup_days']:8d} {r['cache_mb']:9.2f}",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
