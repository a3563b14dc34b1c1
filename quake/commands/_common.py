"""Helpers shared by the model commands (not a command itself)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from quake.data.forecast_data import ForecastData, load_reference
from quake.errors import ModelError
from quake.models import Forecaster, kinds


def add_data_arguments(p) -> None:
    p.add_argument("--catalog", default=None, help="catalog CSV (default: the reference catalog)")
    p.add_argument("--mc", type=float, default=5.0, help="target magnitude threshold (5.0)")


def add_out_arguments(p) -> None:
    p.add_argument(
        "--out",
        required=True,
        help="model to write: a bare NAME goes into the models folder ($QUAKE_MODELS_DIR, "
        "default models/); a path (with a '/') is that folder",
    )
    p.add_argument("--force", action="store_true", help="replace an existing model of that name")


def load_data(catalog: str | None, mc: float) -> ForecastData:
    """The catalog (reference by default) prepared for its protocol and ``mc``."""
    return ForecastData.build(load_reference(catalog), mc)


def parse_model_args(text: str | None) -> dict:
    if not text:
        return {}
    try:
        args = json.loads(text)
    except json.JSONDecodeError as err:
        raise ModelError(f"--args must be a JSON object ({err})") from None
    if not isinstance(args, dict):
        raise ModelError("--args must be a JSON object, e.g. '{\"neg_rate\": 0.005}'")
    return args


def is_model_folder(name: str) -> Path | None:
    """The saved model folder ``name`` means (a path, or a name under models/), or None."""
    for path in (Path(name), Path("models") / name):
        if (path / "model.json").is_file():
            return path
    return None


def resolve_model(name: str) -> tuple[str, Path | None]:
    """``(kind, None)`` for a model kind, ``("", folder)`` for a saved folder; else an error."""
    folder = is_model_folder(name)
    if folder is not None:
        return "", folder
    if name in kinds():
        return name, None
    raise ModelError(
        f"{name!r} is neither a model kind ({', '.join(kinds())}) nor a saved model folder "
        "(a path or a name under models/ with a model.json)"
    )


class TqdmProgress:
    """An ``on_progress(step, total, metrics)`` (or with a leading stage) drawing tqdm bars
    on stderr, one per stage."""

    def __init__(self) -> None:
        self.bars: dict[str, object] = {}

    def stage(self, name: str, step: int, total: int, metrics: dict) -> None:
        from tqdm import tqdm

        bar = self.bars.get(name)
        if bar is None:
            bar = self.bars[name] = tqdm(total=total, desc=name, file=sys.stderr, leave=False)
        bar.update(step - bar.n)
        if metrics:
            bar.set_postfix({k: v for k, v in metrics.items() if not isinstance(v, dict)})
        if step >= total:
            bar.close()

    def for_stage(self, name: str):
        return lambda step, total, metrics: self.stage(name, step, total, metrics)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def fit_model(model: Forecaster, data: ForecastData, final: bool, progress: TqdmProgress):
    import time

    t0 = time.perf_counter()
    model.fit(data, final=final, on_progress=progress.for_stage("fit"))
    model.meta["fit_seconds"] = round(time.perf_counter() - t0, 2)
    return model
