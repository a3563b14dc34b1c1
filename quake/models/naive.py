"""The naive baseline: the per-cell historical frequency of y = 1 (paper III-A; PROTOCOL.md)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from quake.data.forecast_data import ForecastData
from quake.data.targets import naive_prior
from quake.errors import ModelError
from quake.models import store as v
from quake.models.base import Forecaster, ModelConfig, load_arrays, save_arrays
from quake.progress import OnProgress, emit

PRIOR_FILE = "prior.safetensors"


@dataclass
class NaiveConfig(ModelConfig):
    alpha: float = 0.5  # additive smoothing: p = (k + alpha) / (n + 2 alpha)

    def check(self) -> None:
        self.alpha = v.check_float(self.alpha, "model_args.alpha", 0.0, 1000.0)


class NaiveModel(Forecaster):
    """Constant in time: each cell's smoothed frequency of positive forecast days."""

    kind = "naive"
    label = "Naive baseline"
    config_cls = NaiveConfig

    def __init__(self, config: NaiveConfig | None = None) -> None:
        super().__init__(config)
        self.prior: np.ndarray | None = None

    def fit(self, data: ForecastData, final: bool = False, on_progress: OnProgress | None = None):
        start, stop = data.protocol.fit_days(final)
        self.prior = naive_prior(data.targets, start, stop, self.config.alpha).astype(np.float32)
        self.bind(data)
        self.meta["final"] = final
        emit(on_progress, "fit", 1, 1)
        return self

    def validation_twin(self, data: ForecastData) -> NaiveModel:
        """The same model fitted for the validation period (prior from train only)."""
        return NaiveModel(self.config).fit(data, final=False)

    def static_forecast(self, data: ForecastData) -> np.ndarray:
        """The forecast of every day, ``(ny, nx)`` float32: `quake.scoring.evaluate` scores a model
        that is constant in time per cell (counts per cell) instead of per pair."""
        if self.prior is None:
            raise ModelError("naive: fit or load the model first")
        return self.prior

    def predict_days(
        self, data: ForecastData, start: int, stop: int, chunk: int = 64
    ) -> Iterator[tuple[int, np.ndarray]]:
        if self.prior is None:
            raise ModelError("naive: fit or load the model first")
        for a in range(start, stop, chunk):
            n = min(chunk, stop - a)
            yield a, np.broadcast_to(self.prior, (n, *self.prior.shape))

    def _save_arrays(self, folder: Path) -> None:
        save_arrays(folder / PRIOR_FILE, {"prior": self.prior})

    def _load_arrays(self, folder: Path) -> None:
        path = folder / PRIOR_FILE
        arrays = load_arrays(path)
        self.prior = v.check_array(
            arrays, "prior", file=path, shape=self.grid_shape(), dtype=np.float32, prob=True
        )
        v.check_names(arrays, {"prior"}, path)
