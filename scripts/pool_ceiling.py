"""How far can averaging saved models go? Test-period ROC / PR AUC (all cells) of each model
alone and of pools of them: the mean of probabilities (the `ensemble` kind's linear pool),
the geometric mean (a log pool), weighted pairs, and a spatially smoothed mean.

    python scripts/pool_ceiling.py etas-m5 convlstm-paper-m5 xgb-rtl-m5 [--out F.json]

The first two models are the pair every variant is built on; each further model is tried
as a third member. This reads the test period's targets: it is a ceiling check (can any
pool of these models reach a score at all?), not a way to choose a model, which must be
done on the validation period. Each model's test forecasts are computed once and kept as
float32 memory maps in a temporary folder (~0.65 GB a model on the Japan grid).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from quake.data.forecast_data import ForecastData, load_reference  # noqa: E402
from quake.errors import QuakeError  # noqa: E402
from quake.metrics.curves import OperatingCurve  # noqa: E402
from quake.models import Forecaster  # noqa: E402
from quake.models.base import forecast_blocks  # noqa: E402

Pool = Callable[[slice], np.ndarray]
CHUNK = 128  # forecast days per block


def forecasts(name: str, model: Forecaster, data: ForecastData, tmp: Path) -> np.ndarray:
    """The model's test-period probabilities, float32 ``(days, ny, nx)``, memory-mapped."""
    start, stop = data.days("test")
    out = np.lib.format.open_memmap(
        tmp / f"{name}.npy",
        mode="w+",
        dtype=np.float32,
        shape=(stop - start, *data.grid.shape),
    )
    static = getattr(model, "static_forecast", None)
    if static is not None:
        out[:] = np.asarray(static(data), dtype=np.float32)[None]
    else:
        for a, p in forecast_blocks(model, data, start, stop, 64, None, "test"):
            out[a - start : a - start + p.shape[0]] = p
    out.flush()
    return out


def aucs(y: np.ndarray, pool: Pool) -> tuple[float, float]:
    curve = OperatingCurve.empty()
    for a in range(0, y.shape[0], CHUNK):
        s = slice(a, a + CHUNK)
        curve.update(y[s], pool(s))
    return curve.roc_auc(), curve.pr_auc()


def log(x: np.ndarray) -> np.ndarray:
    return np.log(np.clip(x, 1e-12, 1.0))


def pools(arrays: dict[str, np.ndarray]) -> dict[str, Pool]:
    from scipy.ndimage import gaussian_filter

    names = list(arrays)
    a, b = arrays[names[0]], arrays[names[1]]
    out: dict[str, Pool] = {n: (lambda s, x=arrays[n]: x[s]) for n in names}
    pair = f"{names[0]} + {names[1]}"
    out[f"mean({pair})"] = lambda s: 0.5 * (a[s] + b[s])
    out[f"geometric mean({pair})"] = lambda s: np.exp(0.5 * (log(a[s]) + log(b[s])))
    out[f"max({pair})"] = lambda s: np.maximum(a[s], b[s])
    for w in (0.3, 0.7):
        out[f"{w:g} {names[0]} + {1 - w:g} {names[1]}"] = lambda s, w=w: w * a[s] + (1 - w) * b[s]
    for sigma in (1.0, 2.5):
        out[f"mean({pair}) smoothed, Gaussian {sigma:g} cells"] = lambda s, g=sigma: (
            gaussian_filter(0.5 * (a[s] + b[s]), sigma=(0, g, g), mode="constant")
        )
    for n in names[2:]:
        c = arrays[n]
        out[f"mean({pair} + {n})"] = lambda s, c=c: (a[s] + b[s] + c[s]) / 3
        out[f"geometric mean({pair} + {n})"] = lambda s, c=c: np.exp(
            (log(a[s]) + log(b[s]) + log(c[s])) / 3
        )
    return out


def model_arguments(doc: str, models_help: str) -> argparse.ArgumentParser:
    """The arguments the goal scripts share: model names, their folder, catalog, --out."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("models", nargs="+", help=models_help)
    ap.add_argument("--models-dir", type=Path, default=ROOT / "models")
    ap.add_argument("--catalog", default=None, help="catalog CSV (default: the reference)")
    ap.add_argument("--out", type=Path, default=None, help="write the table as JSON here")
    return ap


def load_models(
    ap: argparse.ArgumentParser, args: argparse.Namespace
) -> tuple[dict[str, Forecaster], ForecastData]:
    """The named models (one Mc) and the catalog on the first model's protocol."""
    try:
        models = {n: Forecaster.load(args.models_dir / n) for n in args.models}
        mc = {float(m.mc) for m in models.values()}
        if len(mc) != 1:
            ap.error(f"the models have different Mc: {sorted(mc)}")
        first = models[args.models[0]]
        return models, ForecastData.build(load_reference(args.catalog), mc.pop(), first.protocol)
    except QuakeError as e:
        ap.error(str(e))


def main(argv: list[str] | None = None) -> int:
    ap = model_arguments(__doc__, "model folder names in --models-dir (two or more)")
    args = ap.parse_args(argv)
    if len(args.models) < 2:
        ap.error("give at least two models")
    models, data = load_models(ap, args)
    start, stop = data.days("test")
    y = data.targets.dense(start, stop).astype(bool)
    rows = []
    with tempfile.TemporaryDirectory(prefix="pool-") as tmp:
        arrays = {}
        for name, model in models.items():
            t0 = time.perf_counter()
            arrays[name] = forecasts(name, model, data, Path(tmp))
            print(f"{name}: test forecasts in {time.perf_counter() - t0:.0f} s", flush=True)
        for name, pool in pools(arrays).items():
            roc, pr = aucs(y, pool)
            rows.append({"forecast": name, "roc_auc": roc, "pr_auc": pr})
            print(f"| {name} | {roc:.4f} | {pr:.5f} |", flush=True)
        del arrays
    if args.out:
        args.out.write_text(json.dumps({"models": args.models, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
