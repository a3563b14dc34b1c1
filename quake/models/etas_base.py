"""ETAS's time-varying forecast as the base of a network (kinds ``cnn-etas``, ``convlstm-etas``).

The residual networks (`quake.models.neural`, paper III-E) add their output to the logit of a
fixed per-cell prior. `EtasBase` gives them a base that moves instead: for forecast day T
and cell c, ``logit(p_etas[T, c])`` with ``p_etas = 1 - exp(-Lambda)`` the ETAS forecast of
`quake.models.etas` (so ``logit = log(expm1(Lambda))``). Like the residual prior it is
fitted for a period: on train for the model scored on validation, on train + validation
(``final``) for the test-period model. Nothing after day T is read for day T: the ETAS
forecast engine (`quake.models.etas_forecast.EtasCounts`) only sums events with ``t < T + 1``.

Cached in memory per fit: the `EtasModel` keeps its forecast engine (the events' cell
footprints, ~25 s for Japan) for every day of the catalog, and `logits` turns any days into
logits with one sparse product (a few ms per day). Nothing is cached on disk.

Saved like an ``etas`` model: the fitted parameters, their standard errors and the
branching ratio in model.json (``params``, ``standard_errors``, ``branching_ratio``) and
the background's cell masses in ``background.safetensors`` (`quake.models.etas.BACKGROUND_FILE`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from quake.data.forecast_data import ForecastData
from quake.errors import ModelError
from quake.models.etas import BACKGROUND_FILE, EtasConfig, EtasModel

# Lambda is clipped to [LAMBDA_MIN, LAMBDA_MAX] before the logit: a cell whose background
# mass is zero would otherwise give -inf, and expm1 overflows above ~700.
LAMBDA_MIN, LAMBDA_MAX = 1e-12, 30.0
META_KEYS = ("params", "standard_errors", "branching_ratio", "hessian_ok", "loglik")

__all__ = ["BACKGROUND_FILE", "EtasBase", "etas_logit"]


def etas_logit(counts: np.ndarray) -> np.ndarray:
    """Expected counts ``Lambda`` -> float64 ``logit(1 - exp(-Lambda)) = log(expm1(Lambda))``."""
    lam = np.clip(np.asarray(counts, dtype=np.float64), LAMBDA_MIN, LAMBDA_MAX)
    return np.log(np.expm1(lam))


class EtasBase:
    """A fitted ETAS model whose forecast is a network's base (see the module docstring)."""

    def __init__(self, model: EtasModel) -> None:
        if model.params is None or model.background is None:
            raise ModelError("the ETAS base must be a fitted etas model")
        self.model = model

    @classmethod
    def fit(cls, data: ForecastData, final: bool, config: EtasConfig | None = None) -> EtasBase:
        """ETAS (default `EtasConfig`) fitted on train (``final``: train + validation)."""
        return cls(EtasModel(config).fit(data, final=final))

    @property
    def final(self) -> bool:
        return bool(self.model.meta.get("final"))

    def logits(self, data: ForecastData, days: np.ndarray) -> np.ndarray:
        """float32 ``(len(days), ny, nx)`` ``logit(p_etas)`` of integer forecast ``days``."""
        days = np.asarray(days, dtype=np.int64).ravel()
        shape = (len(days), *data.grid.shape)
        if len(days) == 0:
            return np.zeros(shape, dtype=np.float32)
        engine = self.model._engine(data, int(days.max()))  # cached per catalog and fit
        return etas_logit(engine.counts(days)).astype(np.float32).reshape(shape)

    def range_logits(self, data: ForecastData, start: int, stop: int) -> np.ndarray:
        """`logits` of the days ``[start, stop)``."""
        return self.logits(data, np.arange(start, stop))

    # -- persistence ----------------------------------------------------------------------
    def meta(self) -> dict[str, Any]:
        """What model.json records of the base (the etas model's keys)."""
        return {k: self.model.meta[k] for k in META_KEYS if k in self.model.meta}

    def save(self, folder: Path) -> None:
        self.model._save_arrays(folder)

    @classmethod
    def load(cls, folder: Path, meta: dict[str, Any]) -> EtasBase:
        """The base saved in ``folder`` (its model.json ``meta`` already read and checked):
        the background with the etas model's checks, the parameters from ``params``."""
        model = EtasModel(EtasConfig())
        model.meta = {k: meta[k] for k in ("protocol", "mc", *META_KEYS) if k in meta}
        model.meta["final"] = bool(meta.get("base_final", meta.get("final", False)))
        model._load_arrays(folder)
        return cls(model)
