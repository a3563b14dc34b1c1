"""``python -m quake forecast --model NAME --day YYYY-MM-DD [--out FILE.csv|.geojson] [--json]``:
one day's forecast of a saved model, per cell, and the seconds it took.

The day alone is forecast (`quake.service.forecast_cache.forecast_day`): a non-recurrent
model computes that day only, a recurrent net runs through every day before it (minutes for
a paper-preset net: docs/FORECAST_SPEED.md); a cached test period is read instead when the
map pages made one. Per cell: its id (``iy * nx + ix``), the longitude (-180 to 180) and
latitude of its centre, the probability of a target quake (M >= the model's Mc in days
T + lead ... T + horizon - 1) and the gain over the naive prior the model may know (that
of train + validation for a test-period day, of train before).

``--out`` writes every cell (CSV, or GeoJSON points); the file is written atomically and
must be a new or regular ``.csv`` / ``.geojson`` file in an existing folder. Without
``--out`` the text lists the most likely cells; ``--json`` prints the summary as JSON
(with every cell when there is no ``--out``).
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from quake.commands._common import TqdmProgress, fmt_mag, is_model_folder
from quake.commands._paths import check_out_file, json_text, open_out, out_file, shown
from quake.data.forecast_data import ForecastData, load_reference
from quake.data.grid import wrap_lon
from quake.errors import ModelError, QuakeError
from quake.models import load_model
from quake.scoring.evaluate import check_compatible
from quake.service.folders import is_model_name
from quake.service.forecast_cache import forecast_day, forecast_days

NAME = "forecast"
HELP = "one day's forecast of a saved model per cell (probability, gain over the prior)"
SUFFIXES = (".csv", ".geojson")
TOP = 10


class ForecastError(QuakeError):
    """A bad --day or --out."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="a saved model: a NAME in the models folder")
    p.add_argument("--day", required=True, help="the forecast day T, YYYY-MM-DD")
    p.add_argument("--catalog", default=None, help="catalog CSV (default: the reference catalog)")
    p.add_argument(
        "--out", type=out_file, default=None, help="write every cell to FILE.csv or FILE.geojson"
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(str(text).strip())
    except ValueError:
        raise ForecastError(f"--day {shown(text, 40)} is not a date; expected YYYY-MM-DD") from None


def check_out(text: str) -> Path:
    """``--out`` as a file we may write: a .csv/.geojson name in an existing folder that is
    new or a regular file (never a folder, a link or a device)."""
    out = Path(text).expanduser()
    name = shown(text)
    if out.suffix.lower() not in SUFFIXES:
        raise ForecastError(f"--out {name}: expected a file ending in .csv or .geojson")
    if not out.parent.is_dir():
        raise ForecastError(f"--out {name}: the folder {shown(out.parent)} does not exist")
    return check_out_file(out, "--out")


def resolve_saved(name: str) -> Path:
    folder = is_model_folder(name)
    if folder is None:
        what = "model name" if is_model_name(name) else "path"
        raise ModelError(
            f"--model {shown(name, 80)}: no saved model of that {what} (a folder with a "
            "model.json; list them with python -m quake report)"
        )
    return folder


def cell_table(data: ForecastData, probs: np.ndarray, prior: np.ndarray) -> pd.DataFrame:
    """Every cell: ``cell, lon, lat, probability, gain`` (gain = probability / prior)."""
    lat, lon = data.grid.cell_centers()
    p = np.asarray(probs, dtype=np.float64).ravel()
    base = np.asarray(prior, dtype=np.float64).ravel()
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.where(base > 0, p / base, np.nan)
    return pd.DataFrame(
        {
            "cell": np.arange(p.size),
            # -180 <= lon < 180, as GeoJSON and GIS tools expect (a grid across the date
            # line has centres past 180 in its own frame)
            "lon": np.round(wrap_lon(np.asarray(lon, dtype=np.float64).ravel()), 4),
            "lat": np.round(np.asarray(lat, dtype=np.float64).ravel(), 4),
            "probability": p,
            "gain": gain,
        }
    )


def write_table(table: pd.DataFrame, out: Path, meta: dict) -> None:
    if out.suffix.lower() == ".csv":
        with open_out(out, "--out", encoding="utf-8", newline="") as fh:
            table.to_csv(fh, index=False, float_format="%.6g")
        return
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [r.lon, r.lat]},
            "properties": {
                "cell": int(r.cell),
                "probability": float(f"{r.probability:.6g}"),
                "gain": None if np.isnan(r.gain) else float(f"{r.gain:.6g}"),
            },
        }
        for r in table.itertuples(index=False)
    ]
    doc = {"type": "FeatureCollection", "properties": meta, "features": features}
    with open_out(out, "--out", encoding="utf-8") as fh:
        fh.write(json_text(doc, separators=(",", ":")))


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    day = parse_day(args.day)
    out = check_out(args.out) if args.out else None
    folder = resolve_saved(args.model)
    model = load_model(folder)  # a tampered folder is a ModelError naming the file
    if model.mc is None:
        raise ModelError(f"{folder.name}: the model records no Mc")
    data = ForecastData.build(load_reference(args.catalog), float(model.mc), model.protocol)
    check_compatible(model, data)
    proto = data.protocol
    first, stop = forecast_days(data)
    t = proto.date_to_day(day)
    if not first <= t < stop:
        lo, hi = proto.day_to_date(first), proto.day_to_date(stop - 1)
        raise ForecastError(
            f"--day {day}: outside the forecast days of protocol {proto.name} ({lo} to {hi})"
        )
    progress = TqdmProgress()  # a recurrent net's warm-up takes minutes
    try:
        got = forecast_day(model, data, t, folder, on_progress=progress)
    finally:
        progress.close()
    test_start = data.days("test")[0]
    prior = data.prior(final=t >= test_start)
    table = cell_table(data, got.probs, prior)
    meta = {
        "model": folder.name,
        "kind": model.kind,
        "mc": data.mc,
        "protocol": proto.name,
        "day": str(day),
        "target_window": [
            str(proto.day_to_date(t + proto.lead_days)),
            str(proto.day_to_date(t + proto.horizon_days - 1)),
        ],
        "source": got.source,
        "warmup_days": got.warmup_days,
        "forecast_seconds": round(got.seconds, 3),
        "n_cells": int(len(table)),
        "max_probability": float(table["probability"].max()),
        "mean_probability": float(table["probability"].mean()),
    }
    if out is not None:
        write_table(table, out, meta)
        meta["out"] = str(out)
    meta["seconds"] = round(time.perf_counter() - t0, 3)
    top = table.nlargest(TOP, "probability")
    if args.json:
        doc = dict(meta)
        if out is None:
            doc["cells"] = {k: _finite(table[k]) for k in table.columns}
        else:
            doc["top"] = {k: _finite(top[k]) for k in top.columns}
        print(json_text(doc))
        return 0
    print(
        f"{meta['model']} ({model.kind}, Mc {fmt_mag(data.mc)}): forecast day {day}, target quakes "
        f"{meta['target_window'][0]} .. {meta['target_window'][1]}"
    )
    how = {"cache": "read from the map cache", "static": "constant in time", "model": "computed"}
    warm = f", after {got.warmup_days} days of warm-up" if got.warmup_days else ""
    total = meta["seconds"]
    print(f"forecast {how[got.source]} in {got.seconds:.2f} s{warm}; {total:.2f} s in all")
    print(f"{TOP} most likely cells:")
    print(top.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    if out is not None:
        print(f"wrote {len(table):,} cells to {out}")
    return 0


def _finite(col: pd.Series) -> list:
    """A column as JSON values (NaN as null)."""
    return [None if isinstance(v, float) and not np.isfinite(v) else v for v in col.tolist()]
