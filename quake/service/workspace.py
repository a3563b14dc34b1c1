"""The saved models of this deployment: the cards of the models folder and its signature.

Reading and writing a model folder is the model store's (`quake.models.store`); the
tables that compare models are `quake.scoring.tables`. This module adds what the CLI and
the dashboard share about the configured models folder (``QUAKE_MODELS_DIR``); nothing
here imports streamlit.
"""

from __future__ import annotations

from pathlib import Path

from quake.models.store import CURVES_FILE, MODEL_FILE, ModelCard, model_folders, read_cards
from quake.settings import models_dir


def list_models(root: str | Path | None = None) -> list[ModelCard]:
    """The card of every saved model under ``root`` (the models folder by default), sorted
    by name; a broken folder gives an error card (`quake.models.store.read_card`)."""
    return read_cards(root if root is not None else models_dir())


def models_signature(root: str | Path | None = None) -> tuple[tuple[str, float], ...]:
    """``(name, mtime)`` of each model.json and curves.json: changes when a model changes."""
    out = []
    for folder in model_folders(root if root is not None else models_dir()):
        for f in (folder / MODEL_FILE, folder / CURVES_FILE):
            if f.is_file():
                out.append((f"{folder.name}/{f.name}", f.stat().st_mtime))
    return tuple(out)
