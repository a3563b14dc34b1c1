"""Forecasting models: one face (`Forecaster`), one registry (`kinds`, `create`, `load_model`)."""

from quake.models.base import Forecaster, ModelConfig
from quake.models.registry import create, kinds, model_class


def load_model(folder):
    """Load a saved model folder (any kind)."""
    return Forecaster.load(folder)


__all__ = ["Forecaster", "ModelConfig", "create", "kinds", "load_model", "model_class"]
