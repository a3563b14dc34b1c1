"""One registry of model kinds: feeds the CLI, the loader and the dashboard's model picker."""

from __future__ import annotations

import importlib

from quake.errors import ModelError

# kind -> "module:Class"; modules are imported on first use (torch only when needed).
_KINDS: dict[str, str] = {
    "naive": "quake.models.naive:NaiveModel",
    "ri": "quake.models.ri:RelativeIntensityModel",
    "xgb-rtl": "quake.models.xgb_rtl:XGBRTLModel",
    "xgb-indicator": "quake.models.xgb_indicator:XGBIndicatorModel",
    "cnn": "quake.models.neural:CNNModel",
    "convlstm": "quake.models.neural:ConvLSTMModel",
    "cnn-resid": "quake.models.neural:CNNResidModel",
    "convlstm-resid": "quake.models.neural:ConvLSTMResidModel",
}


def register(kind: str, target: str) -> None:
    _KINDS[kind] = target


def kinds() -> list[str]:
    return list(_KINDS)


def model_class(kind: str | None):
    if kind not in _KINDS:
        raise ModelError(f"unknown model kind {kind!r}; known kinds: {', '.join(_KINDS)}")
    module, name = _KINDS[kind].split(":")
    return getattr(importlib.import_module(module), name)


def create(kind: str, **model_args):
    """A new, unfitted model of ``kind`` with ``model_args`` for its config."""
    klass = model_class(kind)
    return klass(klass.config_cls.from_dict(model_args))
