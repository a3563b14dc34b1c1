"""The residual networks on ETAS: kinds ``cnn-etas`` and ``convlstm-etas`` (issue #11, part 3).

The training logit of a pair (T, cell) is ``logit(p_etas[T, cell]) + c + up(delta)``: the
residual form of `quake.models.neural` with ETAS's time-varying forecast
(`quake.models.etas_base.EtasBase`) as the base instead of the fixed naive prior. With the
default shift ``c = log w`` and ``calibrate`` a zero network output reproduces the ETAS
forecast exactly, so training starts from ETAS's ranking.

Periods, as for the residual kinds: the weights are trained on the train period with early
stopping on validation, with ETAS fitted on train as the base; the test-period model
(``final``) swaps in ETAS fitted on train + validation. Its validation scores come from
`validation_twin` (the same weights on the train-fitted ETAS), so they are not in-sample.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from quake.data.forecast_data import ForecastData
from quake.errors import ModelError
from quake.models import store as v
from quake.models.base import load_arrays, save_arrays
from quake.models.etas_base import EtasBase
from quake.models.neural import WEIGHTS_FILE, NeuralForecaster

__all__ = ["CNNEtasModel", "ConvLSTMEtasModel", "EtasNeuralForecaster"]


class EtasNeuralForecaster(NeuralForecaster):
    """A neural forecaster whose base is ETAS's forecast for each day."""

    resid = True

    def __init__(self, config=None) -> None:
        super().__init__(config)
        self.etas: EtasBase | None = None
        self._fits: dict[bool, EtasBase] = {}  # this process's ETAS fits, by ``final``

    def set_base(self, data: ForecastData, final: bool) -> None:
        """ETAS fitted for the period (train; ``final``: train + validation), kept in memory."""
        key = (data.fingerprint, data.mc)
        fit = self._fits.get(final)
        if fit is None or fit.model.meta.get("fingerprint") != key[0] or fit.model.mc != key[1]:
            fit = self._fits[final] = EtasBase.fit(data, final)
        self.etas = fit
        self.base = np.zeros(data.grid.shape, dtype=np.float32)  # the fixed part: none
        self.meta["base_final"] = bool(final)
        self.meta.update(fit.meta())

    def base_logit(self) -> np.ndarray:
        if self.etas is None or self.base is None:
            raise ModelError("fit or load the model first (it has no ETAS base)")
        return self.base.astype(np.float64)

    def day_logits(self, data: ForecastData, days: np.ndarray) -> np.ndarray:
        if self.etas is None:
            raise ModelError("fit or load the model first (it has no ETAS base)")
        return self.etas.logits(data, days)

    def validation_twin(self, data: ForecastData) -> EtasNeuralForecaster:
        """The same weights on ETAS fitted on train only (scored on validation)."""
        if not self.meta.get("base_final"):
            return self
        twin = copy.copy(self)
        twin.meta = dict(self.meta)
        twin._fits = self._fits  # shared: a later call reuses the train fit
        twin.set_base(data, final=False)
        return twin

    # -- persistence ----------------------------------------------------------------------
    def _save_arrays(self, folder: Path) -> None:
        if self.etas is None:
            raise ModelError("nothing to save: the model has not been fitted")
        save_arrays(folder / WEIGHTS_FILE, self.state_arrays())
        self.etas.save(folder)
        if self.recurrent:
            self.save_snapshots(folder)

    def _load_arrays(self, folder: Path) -> None:
        path = folder / WEIGHTS_FILE
        arrays = load_arrays(path)  # safetensors only: refuses pickles without running them
        v.check_names(arrays, {f"net.{k}" for k in self.net.state_dict()}, path)
        self.load_state_arrays(arrays, str(path))
        if "params" not in self.meta:
            raise ModelError(f"{folder / v.MODEL_FILE}: params: missing (the ETAS base)")
        self.etas = EtasBase.load(folder, self.meta)
        self._fits = {self.etas.final: self.etas}
        self.base = np.zeros(self.grid_shape(), dtype=np.float32)
        self.load_snapshots(folder)


class CNNEtasModel(EtasNeuralForecaster):
    kind = "cnn-etas"
    label = "CNN on ETAS"


class ConvLSTMEtasModel(EtasNeuralForecaster):
    kind = "convlstm-etas"
    label = "CNN+LSTM on ETAS"
    recurrent = True
