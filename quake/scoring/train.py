"""Train a neural forecaster for the test period, score it and save it: the entry point of
``python -m quake train`` and of the dashboard's Models page.

preset -> model (`quake.models.neural.build`) -> fit (`quake.models.training.fit_network`)
-> scores and curves (`quake.scoring.evaluate.fit_score_save`) -> saved model folder.

A model that warms up (a recurrent net runs from day 0 to the first forecast day) is
scored on validation and then on test in one run (`OnePass`): the test period continues
the validation run's state instead of warming up again from day 0 (41 % fewer net-days at
Mc 5 on the Japan protocol; the same forecasts up to float round-off of the block cuts).
`save_ensemble` scores and saves an ensemble of saved members (`quake.models.ensemble`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from quake.data.forecast_data import ForecastData
from quake.errors import ModelError
from quake.models.ensemble import EnsembleModel
from quake.models.neural import build
from quake.progress import OnProgress
from quake.scoring.evaluate import fit_score_save
from quake.scoring.scorepass import summary_pass


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
    ranks: Any = None,
):
    """Build, train (the test-period model: ``final=True``), score and save a neural model.

    Returns the trained model. With ``out`` the model folder is written and, if ``score``,
    test and validation are scored by `quake.scoring.evaluate.fit_score_save` (model.json scores,
    curves.json). A cancelled run (``should_stop``) saves nothing; its checkpoint (if
    ``checkpoint_dir`` was given) can be resumed. ``ranks`` (`quake.models.distributed.Ranks`)
    overrides the process group's: ``Ranks()`` trains in this process alone (a seed of a
    sweep spread over torchrun's ranks).
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
        **({"ranks": ranks} if ranks is not None else {}),
    )
    if out is None or model.meta.get("cancelled"):
        return model
    if score:
        model.meta["scores"] = score_save(model, data, out, fit=False, on_progress=on_progress)
    else:
        model.save(out)
    return model


def score_save(model, data: ForecastData, out: str | Path, fit: bool, on_progress=None):
    """`fit_score_save` on validation and test, in one run for a model that warms up."""
    v0 = data.days("validation")[0]
    one = model.warmup_days(v0) > 0 and data.days("test")[0] >= data.days("validation")[1]
    scorer = OnePass(model, data) if one else model
    periods = ("validation", "test")
    return fit_score_save(
        scorer, data, out, fit=fit, periods=periods, on_progress=on_progress, test_pass=summary_pass
    )


def save_ensemble(
    folders: Sequence[str | Path],
    data: ForecastData,
    out: str | Path,
    on_progress: OnProgress | None = None,
) -> EnsembleModel:
    """The ensemble of the saved models in ``folders`` (their mean probability), checked
    against ``data`` (protocol, Mc, catalog, all final), scored and saved in ``out`` (a
    folder next to the members: model.json lists them by name)."""
    if Path(out).resolve().parent != Path(folders[0]).resolve().parent:
        raise ModelError("an ensemble is saved in the same models folder as its members")
    model = EnsembleModel.of(folders)
    model.meta["scores"] = score_save(model, data, out, fit=True, on_progress=on_progress)
    return model


class OnePass:
    """``model`` with one forecast run shared by validation then test.

    The first ``predict_days`` call (from the validation start) starts one run of the
    model to the end of the test period; a later call (the test period) continues it from
    where it is, skipping the days in between. Every other attribute is the model's (its
    ``meta`` dict, ``save``, ``kind``), so `fit_score_save` saves the model itself.
    """

    def __init__(self, model: Any, data: ForecastData) -> None:
        self._model = model
        self._first = data.days("validation")[0]
        self._stop = data.days("test")[1]
        self._run: Iterator[tuple[int, np.ndarray]] | None = None
        self._held: tuple[int, np.ndarray] | None = None
        self._day = self._first  # the first day not yet given out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def warmup_days(self, start: int, data: ForecastData | None = None) -> int:
        return self._model.warmup_days(start, data=data) if self._run is None else 0

    def predict_days(self, data, start: int, stop: int, chunk: int = 64, **kw):
        if self._run is None and start == self._first:
            self._run = self._model.predict_days(data, start, self._stop, chunk, **kw)
        if self._run is None or start < self._day or stop > self._stop:
            yield from self._model.predict_days(data, start, stop, chunk, **kw)  # not shared
            return
        while self._day < stop:
            a, p = self._held if self._held is not None else next(self._run)
            self._held = None
            b = a + len(p)
            if b > stop:  # the rest of the block belongs to the next call
                self._held = (stop, p[stop - a :])
                p, b = p[: stop - a], stop
            self._day = b
            if b <= start:
                continue
            k = max(start - a, 0)
            yield a + k, p[k:]
