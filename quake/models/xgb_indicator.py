"""Gradient boosting on indicator features (paper III-C, "binary indicators of earthquakes
for previous days").

Features of forecast day T and cell c (`quake.models.features.indicator`): the largest magnitude
of the cell-days over the past ``windows_days`` (1, 7, 30, 90, 365 days, the forecast day
included) in the cell and its ``sizes`` neighbourhoods (1 x 1, 3 x 3, 7 x 7 cells), 0 where
there was none (so ``> 0`` is the paper's indicator), plus ``log prior(c)`` of the fitting
period: 15 + 1 columns. Training, imbalance and prediction: see `quake.models.boosting`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from quake.data.forecast_data import ForecastData
from quake.models import store as v
from quake.models.boosting import BoostConfig, BoostedModel
from quake.models.features.indicator import SIZES, WINDOWS_DAYS, indicator_raw, raw_names


@dataclass
class IndicatorConfig(BoostConfig):
    windows_days: list[int] = field(default_factory=lambda: list(WINDOWS_DAYS))
    sizes: list[int] = field(default_factory=lambda: list(SIZES))

    def check(self) -> None:
        super().check()
        f = "model_args."
        self.windows_days = v.check_list(
            self.windows_days, f + "windows_days", v.ints(1, 3650), 1, 16
        )
        self.sizes = v.check_list(self.sizes, f + "sizes", v.ints(1, 101), 1, 8)


class XGBIndicatorModel(BoostedModel):
    """xgboost on recent largest magnitudes near the cell and the log prior."""

    kind = "xgb-indicator"
    label = "Gradient boosting, indicator features"
    config_cls = IndicatorConfig

    def raw_names(self) -> list[str]:
        return raw_names(self.config.windows_days, self.config.sizes)

    def feature_names(self) -> list[str]:
        return [*self.raw_names(), "log_prior"]

    def _raw(
        self, data: ForecastData, start: int, stop: int, chunk: int
    ) -> Iterator[tuple[int, np.ndarray]]:
        c = self.config
        yield from indicator_raw(data.events, start, stop, chunk, c.windows_days, c.sizes)

    def _feature_maps(self, raw: np.ndarray, cell: np.ndarray, log_prior: np.ndarray) -> np.ndarray:
        n, n_raw, m = raw.shape
        out = np.empty((n, n_raw + 1, m), dtype=np.float32)
        out[:, :-1] = raw
        out[:, -1] = log_prior
        return out
