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
    "etas": "quake.models.etas:EtasModel",
    "cnn": "quake.models.neural:CNNModel",
    "convlstm": "quake.models.neural:ConvLSTMModel",
    "cnn-resid": "quake.models.neural:CNNResidModel",
    "convlstm-resid": "quake.models.neural:ConvLSTMResidModel",
    "cnn-etas": "quake.models.neural_etas:CNNEtasModel",
    "convlstm-etas": "quake.models.neural_etas:ConvLSTMEtasModel",
    "ensemble": "quake.models.ensemble:EnsembleModel",
}
NEURAL_KINDS: tuple[str, ...] = tuple(
    k
    for k, target in _KINDS.items()
    if target.startswith(("quake.models.neural:", "quake.models.neural_etas:"))
)
"""The network kinds (trained with a preset, `quake.models.presets`)."""

# kind -> its config class, importable without torch (a model card is checked without
# loading the model; `model_class(kind).config_cls` is the same class).
_CONFIGS: dict[str, str] = {
    "naive": "quake.models.naive:NaiveConfig",
    "ri": "quake.models.ri:RIConfig",
    "xgb-rtl": "quake.models.xgb_rtl:RTLConfig",
    "xgb-indicator": "quake.models.xgb_indicator:IndicatorConfig",
    "etas": "quake.models.etas:EtasConfig",
    "cnn": "quake.models.neural_config:NeuralConfig",
    "convlstm": "quake.models.neural_config:NeuralConfig",
    "cnn-resid": "quake.models.neural_config:NeuralConfig",
    "convlstm-resid": "quake.models.neural_config:NeuralConfig",
    "cnn-etas": "quake.models.neural_config:NeuralConfig",
    "convlstm-etas": "quake.models.neural_config:NeuralConfig",
    "ensemble": "quake.models.ensemble:EnsembleConfig",
}


# Our model kind -> the paper's Table II method it reproduces.
PAPER_METHOD = {
    "naive": "Baseline",
    "xgb-indicator": "GradBoost, indicator",
    "xgb-rtl": "GradBoost, RTL",
    "cnn": "CNN",
    "convlstm": "CNN+LSTM",
    "cnn-resid": "CNN, resid.",
    "convlstm-resid": "CNN+LSTM, resid.",
}
"""(one source: the networks' labels and the report's Table II rows)"""


def register(kind: str, target: str, config: str | None = None) -> None:
    """Register ``kind`` as ``"module:Class"``; ``config`` names its config class when
    the model's module is costly to import (default: the model class's ``config_cls``)."""
    _KINDS[kind] = target
    if config is not None:
        _CONFIGS[kind] = config
    else:
        _CONFIGS.pop(kind, None)


def kinds() -> list[str]:
    return list(_KINDS)


def _check_kind(kind: object) -> str:
    if not isinstance(kind, str) or kind not in _KINDS:
        shown = repr(kind) if len(repr(kind)) <= 40 else repr(kind)[:37] + "..."
        raise ModelError(f"unknown model kind {shown}; known kinds: {', '.join(_KINDS)}")
    return kind


def _import(target: str):
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


def model_class(kind: str | None):
    return _import(_KINDS[_check_kind(kind)])


def config_class(kind: str | None):
    """The config dataclass of ``kind`` (without importing torch for the neural kinds)."""
    target = _CONFIGS.get(_check_kind(kind))
    return _import(target) if target else model_class(kind).config_cls


def create(kind: str, /, **model_args):
    """A new, unfitted model of ``kind`` with ``model_args`` for its config."""
    klass = model_class(kind)
    return klass(klass.config_cls.from_dict(model_args))
