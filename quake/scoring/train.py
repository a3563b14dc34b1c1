"""Train a neural forecaster for the test period, score it and save it: the entry point of
``python -m quake train`` and of the dashboard's Models page.

preset -> model (`quake.models.neural.build`) -> fit (`quake.models.training.fit_network`)
-> scores and curves (`quake.scoring.evaluate.fit_score_save`) -> saved model folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from quake.data.forecast_data import ForecastData
from quake.errors import ModelError
from quake.models.neural import build
from quake.progress import OnProgress
from quake.scoring.evaluate import fit_score_save


def train(
    kind: str = "convlstm-resid",
    data: ForecastData | None = None,
    preset: str | None = "quick",
    out: str | Path | None = None,
    class_weight: float | None = None,
    epochs: int | None = None,
    device: str | None = None,
    resume: str | Path | None = None,
    checkpoint_dir: str | Path | None = None,
    on_progress: OnProgress | None = None,
    should_stop: Callable[[], bool] | None = None,
    score: bool = True,
    model_args: dict[str, Any] | None = None,
    train_args: dict[str, Any] | None = None,
):
    """Build, train (the test-period model: ``final=True``), score and save a neural model.

    Returns the trained model. With ``out`` the model folder is written and, if ``score``,
    test and validation are scored by `quake.scoring.evaluate.fit_score_save` (model.json scores,
    curves.json). A cancelled run (``should_stop``) saves nothing; its checkpoint (if
    ``checkpoint_dir`` was given) can be resumed.
    """
    if data is None:
        raise ModelError("train needs data (a quake.data.forecast_data.ForecastData)")
    margs = dict(model_args or {})
    if class_weight is not None:
        margs["class_weight"] = float(class_weight)
    targs = dict(train_args or {})
    if epochs is not None:
        targs["epochs"] = int(epochs)
    if device is not None:
        targs["device"] = device
    model = build(kind, preset or "quick", margs, targs)
    model.fit(
        data,
        final=True,
        on_progress=on_progress,
        should_stop=should_stop,
        checkpoint_dir=checkpoint_dir,
        resume=resume,
    )
    if out is None or model.meta.get("cancelled"):
        return model
    if score:
        model.meta["scores"] = fit_score_save(model, data, out, fit=False, on_progress=on_progress)
    else:
        model.save(out)
    return model
