"""A saved model's card: what its model.json says, typed, without loading weights.

`read_card` never raises: a folder whose model.json fails the loader's own checks
(`quake.models.store.validate_model.check_model_file`) gives an error card, so one broken
folder never hides the others; a good card has well-typed fields.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quake.errors import ModelError
from quake.models.store.files import CURVES_FILE, MODEL_FILE, NAME_RE, NAME_RULE, model_folders
from quake.models.store.validate_model import CheckedModel, check_model_file


@dataclass(frozen=True)
class ModelCard:
    """What ``model.json`` says about a saved model (no weights loaded).

    ``error`` is set (and the other fields are empty) when the file cannot be read, so one
    broken folder never hides the others. Times are in seconds, ``saved`` is UTC.
    """

    name: str
    folder: Path
    kind: str | None = None
    label: str | None = None
    mc: float | None = None
    protocol: str | None = None  # the protocol's name
    protocol_spec: dict[str, Any] = field(default_factory=dict)  # Protocol.to_dict(): grid, dates
    fingerprint: str | None = None  # of the catalog the model was fitted on
    final: bool | None = None  # fitted on train + validation (the test-period model)
    model_args: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, Any] = field(default_factory=dict)  # {period: {mask: summary}}
    # the training record
    preset: str | None = None
    fit_seconds: float | None = None  # fitting time: fit_seconds, else train_seconds
    train_seconds: float | None = None  # a neural model's training loop
    device: str | None = None  # where a neural model was trained (train_args.device)
    train_args: dict[str, Any] = field(default_factory=dict)
    best_epoch: int | None = None
    stopped_by: str | None = None
    # provenance
    saved: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    format: int | None = None
    params: dict[str, Any] = field(default_factory=dict)  # fitted parameters (ri, etas)
    standard_errors: dict[str, Any] = field(default_factory=dict)  # of the parameters (etas)
    error: str | None = None

    def score(self, key: str, period: str = "test", mask: str = "all") -> float | None:
        """A number from ``scores[period][mask][key]`` (None when absent)."""
        value = self.scores.get(period, {}).get(mask, {}).get(key)
        return float(value) if isinstance(value, int | float) else None

    @property
    def trained_on(self) -> str:
        """Where a neural model was trained, as text ('on a GPU'); empty for the others."""
        return {"cuda": "on a GPU", "cpu": "on a CPU"}.get(self.device or "", "")

    @property
    def has_curves(self) -> bool:
        return (self.folder / CURVES_FILE).is_file()


def read_model(folder: str | Path) -> CheckedModel:
    """A folder's model.json after every check; a `ModelError` naming the file and the field
    (or saying the folder is not a saved model)."""
    folder = Path(folder)
    path = folder / MODEL_FILE
    if not path.is_file():
        raise ModelError(f"{folder}: no {MODEL_FILE}; not a saved model folder")
    return check_model_file(path)


def _seconds(value: Any) -> float | None:
    return None if value is None else float(value)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def card_of(checked: CheckedModel, folder: str | Path) -> ModelCard:
    """The card of a checked model.json (`check_model_file`) of ``folder``."""
    folder = Path(folder)
    doc = checked.doc
    fit, train = _seconds(doc.get("fit_seconds")), _seconds(doc.get("train_seconds"))
    targs = doc.get("train_args") or {}
    return ModelCard(
        name=folder.name,
        folder=folder,
        kind=checked.kind,
        label=doc.get("label"),
        mc=checked.mc,
        protocol=checked.protocol.name,
        protocol_spec=checked.protocol.to_dict(),
        fingerprint=doc.get("fingerprint"),
        final=doc.get("final"),
        model_args=checked.config.to_dict(),
        scores=doc.get("scores") or {},
        preset=doc.get("preset"),
        fit_seconds=fit if fit is not None else train,
        train_seconds=train,
        device=targs.get("device"),
        train_args=targs,
        best_epoch=doc.get("best_epoch"),
        stopped_by=doc.get("stopped_by"),
        saved=doc.get("saved"),
        versions=doc.get("versions") or {},
        format=checked.format,
        params=doc.get("params") or {},
        standard_errors=_dict(doc.get("standard_errors")),
    )


def read_card(folder: str | Path) -> ModelCard:
    """The card of one saved model folder, or an error card: model.json goes through the
    loader's own checks (size, depth, schema, a registered kind, config bounds, protocol),
    so whatever a folder holds this never raises."""
    folder = Path(folder)

    def error(text: str) -> ModelCard:  # paths shown relative to the models folder
        shown = text.replace(str(folder), folder.name)
        return ModelCard(name=folder.name, folder=folder, error=shown)

    if NAME_RE.fullmatch(folder.name) is None:  # never shown or charted as a model
        return error(
            f"the folder name is not a model name ({NAME_RULE}); rename the folder to use it"
        )
    try:
        return card_of(check_model_file(folder / MODEL_FILE), folder)
    except ModelError as err:  # "<folder>/model.json: <field>: <problem>"
        return error(f"cannot read {err}")
    except Exception as err:  # not expected: still one error card, never a broken page
        logging.getLogger(__name__).exception("reading %s", folder / MODEL_FILE)
        return error(f"cannot read {MODEL_FILE} ({type(err).__name__})")


def read_cards(root: str | Path) -> list[ModelCard]:
    """The card of every model folder of ``root`` (`model_folders`), sorted by name."""
    return [read_card(p) for p in model_folders(root)]
