"""Helpers shared by the model commands (not a command itself)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from quake import settings
from quake.data.forecast_data import ForecastData, load_reference
from quake.errors import ModelError
from quake.models import Forecaster, kinds
from quake.models.store import MODEL_FILE
from quake.progress import Progress, restage
from quake.service.folders import is_model_name


def add_data_arguments(p, own_mc: bool = False) -> None:
    """``--catalog`` and ``--mc`` (5.0; ``own_mc``: None, for a saved model's own Mc)."""
    p.add_argument("--catalog", default=None, help="catalog CSV (default: the reference catalog)")
    if own_mc:
        mc_help = "target magnitude threshold (a saved model's own Mc; 5.0 for a model kind)"
        p.add_argument("--mc", type=float, default=None, help=mc_help)
    else:
        p.add_argument("--mc", type=float, default=5.0, help="target magnitude threshold (5.0)")


def add_out_arguments(p) -> None:
    p.add_argument(
        "--out",
        required=True,
        help="model to write: a bare NAME goes into the models folder ($QUAKE_MODELS_DIR, "
        "default models/); a path (with a '/') is that folder",
    )
    p.add_argument("--force", action="store_true", help="replace an existing model of that name")


def load_data(
    catalog: str | None, mc: float, targets: str = "all", method: str = "gk"
) -> ForecastData:
    """The catalog (reference by default) prepared for its protocol and ``mc``, with targets
    of every event or of the mainshocks declustered by ``method``."""
    return ForecastData.build(load_reference(catalog), mc, targets=targets, method=method)


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
    """The saved model folder ``name`` means, or None: a bare name is looked up in the models
    folder of the settings (whatever the working directory), a path is taken as it is."""
    if is_model_name(name):
        candidates = [settings.models_dir() / name, Path(name)]
    else:
        candidates = [Path(name).expanduser()]
    for path in candidates:
        if (path / MODEL_FILE).is_file():
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
        f"(a path, or a name in the models folder {settings.models_dir()}, with a model.json)"
    )


class TqdmProgress:
    """Draws `Progress` events as tqdm bars on stderr, one bar per stage.

    Stages in ``lines`` are printed as one line per event instead (the neural trainer's
    ``validation``: one line per epoch).
    """

    def __init__(self, lines: tuple[str, ...] = ()) -> None:
        self.bars: dict[str, object] = {}
        self.lines = lines

    def __call__(self, event: Progress) -> None:
        from tqdm import tqdm

        shown = {k: _fmt(v) for k, v in event.metrics.items() if not isinstance(v, dict)}
        if event.stage in self.lines:
            epoch = shown.pop("epoch", None)
            head = f"epoch {epoch}" if epoch is not None else event.stage
            tqdm.write(f"{head}: " + "  ".join(f"{k} {v}" for k, v in shown.items()))
            return
        bar = self.bars.get(event.stage)
        if bar is None:
            bar = tqdm(total=event.total, desc=event.stage, file=sys.stderr, leave=False)
            self.bars[event.stage] = bar
        bar.update(event.step - bar.n)
        if shown:
            bar.set_postfix(shown)
        if event.step >= event.total:
            bar.close()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.5g}" if math.isfinite(v) else "nan"
    return str(v)


def fit_model(model: Forecaster, data: ForecastData, final: bool, progress: TqdmProgress):
    import time

    t0 = time.perf_counter()
    model.fit(data, final=final, on_progress=restage(progress, "fit"))
    model.meta["fit_seconds"] = round(time.perf_counter() - t0, 2)
    return model
