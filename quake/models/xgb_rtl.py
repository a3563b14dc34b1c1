"""Gradient boosting on RTL features (paper III-B/C; Sobolev & Tyupkin 1997).

Features of forecast day T and cell c, for each r0 in ``r0_km`` and t0 in ``t0_days``
(defaults 25/50/100 km x 30/90/180 days; R, T, L as in `quake.models.features.rtl`, computed at
the cell centre from the grid's cell-days over the cylinder ``r <= 2 r0``, ``T - t < 2 t0``)::

    RTL_{r0,t0}(T, c) = (R - R_bg(c)) * (T - T_bg(c)) * (L - L_bg(c))

where ``X_bg(c)`` is the mean of the term over every forecast day of the fitting period
(train, or train + validation for a ``final`` fit; `quake.models.features.rtl.rtl_background`,
in closed form, recomputed from the data's events when a saved model predicts), plus
``log prior(c)`` (the naive prior of the fitting period): 9 + 1 columns. The terms are
not divided by their standard deviations (Sobolev & Tyupkin do); a tree is invariant to
scaling a column, not to per-cell scaling, so this is a choice, documented here.
Training, imbalance and prediction: see `quake.models.boosting`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from quake.data.forecast_data import ForecastData
from quake.models import store as v
from quake.models.boosting import BoostConfig, BoostedModel
from quake.models.features.rtl import R0_KM, T0_DAYS, raw_names, rtl_background, rtl_raw


@dataclass
class RTLConfig(BoostConfig):
    r0_km: list[float] = field(default_factory=lambda: list(R0_KM))
    t0_days: list[int] = field(default_factory=lambda: list(T0_DAYS))

    def check(self) -> None:
        super().check()
        f = "model_args."
        self.r0_km = v.check_list(self.r0_km, f + "r0_km", v.floats(0.0, 500.0, True), 1, 8)
        self.t0_days = v.check_list(self.t0_days, f + "t0_days", v.ints(1, 3650), 1, 8)


class XGBRTLModel(BoostedModel):
    """xgboost on RTL products and the log prior (see module docstring)."""

    kind = "xgb-rtl"
    label = "Gradient boosting, RTL features"
    config_cls = RTLConfig
    derived_statics = ("background",)
    _background_key: tuple | None = None

    def raw_names(self) -> list[str]:
        return raw_names(self.config.r0_km, self.config.t0_days)

    def feature_names(self) -> list[str]:
        c = self.config
        return [f"RTL_r{r:g}km_t{t}d" for r in c.r0_km for t in c.t0_days] + ["log_prior"]

    def _raw(
        self, data: ForecastData, start: int, stop: int, chunk: int
    ) -> Iterator[tuple[int, np.ndarray]]:
        yield from rtl_raw(data.events, start, stop, chunk, self.config.r0_km, self.config.t0_days)

    def _fit_statics(self, data: ForecastData, final: bool) -> None:
        super()._fit_statics(data, final)
        self._prepare(data)

    def _prepare(self, data: ForecastData) -> None:
        """The backgrounds, recomputed in closed form from the data's events of the fitting
        period (2.7 MB of floats a saved model need not carry; ~2 s)."""
        key = (data.fingerprint, *self.meta["fit_days"])
        if self.statics.get("background") is None or self._background_key != key:
            c = self.config
            start, stop = self.meta["fit_days"]
            self.statics["background"] = rtl_background(
                data.events, start, stop, c.r0_km, c.t0_days
            )
            self._background_key = key
            self._quiet_p = None

    def _feature_maps(self, raw: np.ndarray, cell: np.ndarray, log_prior: np.ndarray) -> np.ndarray:
        n_r, n_t = len(self.config.r0_km), len(self.config.t0_days)
        n, _, m = raw.shape
        bg = self.statics["background"][cell].T  # (n_raw, m)
        dev = (raw - bg).reshape(n, n_r, 3, n_t, m)  # r0 > term > t0 order
        out = np.empty((n, n_r * n_t + 1, m), dtype=np.float32)
        rtl = out[:, :-1].reshape(n, n_r, n_t, m)
        np.multiply(dev[:, :, 0], dev[:, :, 1], out=rtl)
        rtl *= dev[:, :, 2]
        out[:, -1] = log_prior
        return out
