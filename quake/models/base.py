"""The one face every forecaster has: fit, predict per (day, cell), save, load.

A saved model is a folder (model.json, weights, curves.json), read and written through the
model store (`quake.models.store`). Loading reads JSON and safetensors only; nothing in the
folder can run code. Every file is checked before use (`quake.models.store`'s validation):
a hostile folder gives a `ModelError` that names the file and the field, never a crash or a
silently wrong model.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from safetensors.numpy import load_file, save_file

from quake.data.forecast_data import ForecastData
from quake.data.protocol import Protocol
from quake.errors import ModelError
from quake.models.store import MAX_WEIGHTS_BYTES, model_doc, read_model, write_model_json
from quake.models.store.validate_json import not_a_file
from quake.progress import OnProgress, emit


@dataclass
class ModelConfig:
    """Base of every model's config dataclass; saved as ``model_args``.

    Every config is checked when it is made (`check`): types and bounds of each field, so a
    hostile ``model_args`` is refused before anything is allocated from it.
    """

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Check (and normalise, e.g. int -> float) every field; a `ModelError`
        ``"model_args.<field>: ..."`` otherwise. Subclasses use `quake.models.store`'s checks."""

    def check_grid(self, ny: int, nx: int) -> None:
        """Refuse sizes that do not fit a ``(ny, nx)`` grid (none here)."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        if not isinstance(d, dict):
            raise ModelError(f"model_args: must be a JSON object, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            shown = sorted(str(k)[:40] for k in unknown)[:5]
            raise ModelError(f"model_args: unknown keys for {cls.__name__}: {shown}")
        return cls(**d)


class Forecaster(ABC):
    """A forecaster of ``P(y(T, cell) = 1)`` on a protocol's grid, for one Mc.

    Subclasses set ``kind``, ``config_cls`` and ``label``, and implement `fit`,
    `predict_days`, `_save_arrays` and `_load_arrays`.
    """

    kind: ClassVar[str]
    label: ClassVar[str]
    config_cls: ClassVar[type[ModelConfig]]

    def __init__(self, config: ModelConfig | None = None) -> None:
        self.config = config if config is not None else self.config_cls()
        self.meta: dict[str, Any] = {}

    # -- the face -------------------------------------------------------------------------
    @abstractmethod
    def fit(self, data: ForecastData, final: bool = False, on_progress: OnProgress | None = None):
        """Fit on the train period (``final``: train + validation), select on validation."""

    @abstractmethod
    def predict_days(
        self, data: ForecastData, start: int, stop: int, chunk: int = 64
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(first_day, probs)`` blocks covering forecast days ``[start, stop)`` in order.

        ``probs`` is float32 ``(n_days, ny, nx)`` on ``data.grid``; the model may see
        events up to and including each forecast day, never later. A block is not written
        to after it is yielded (a new array, or a view of one the model no longer
        changes): scoring reads it in another thread while the next block is made
        (`quake.behind`).
        """

    def warmup_days(self, start: int, data: ForecastData | None = None) -> int:
        """Days a forecast from day ``start`` runs through before its first block (none here;
        a recurrent net runs through the days before ``start`` since day 0 or, for
        ``data``'s events, since its latest saved state)."""
        return 0

    def predict(self, data: ForecastData, start: int, stop: int) -> np.ndarray:
        """All of ``[start, stop)`` at once: float32 ``(stop - start, ny, nx)``."""
        blocks = [p for _, p in self.predict_days(data, start, stop)]
        if not blocks:
            return np.zeros((0, *data.grid.shape), dtype=np.float32)
        return np.concatenate(blocks)

    # -- persistence ----------------------------------------------------------------------
    def _save_arrays(self, folder: Path) -> None:
        """Write weights (safetensors / xgboost UBJ) into ``folder``."""

    def _load_arrays(self, folder: Path) -> None:
        """Read what `_save_arrays` wrote."""

    def bind(self, data: ForecastData, fit_seconds: float | None = None) -> None:
        """Record what the model was fitted on (protocol, Mc, data fingerprint)."""
        self.meta.update(
            protocol=data.protocol.to_dict(),
            mc=data.mc,
            fingerprint=data.fingerprint,
        )
        if fit_seconds is not None:
            self.meta["fit_seconds"] = round(fit_seconds, 2)

    @property
    def mc(self) -> float | None:
        return self.meta.get("mc")

    @property
    def protocol(self) -> Protocol | None:
        p = self.meta.get("protocol")
        return Protocol.from_dict(p) if p else None

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self._save_arrays(folder)
        doc = model_doc(self.kind, self.label, self.config.to_dict(), self.meta)
        write_model_json(folder, doc)  # last: a folder with a model.json is complete
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Forecaster:
        """Load any registered model from its folder (JSON + safetensors/UBJ only).

        model.json is checked first (`quake.models.store.read_model`: schema, config
        bounds, protocol), then each model's `_load_arrays` checks its arrays.
        """
        from quake.models.registry import model_class

        folder = Path(folder)
        checked = read_model(folder)
        klass = model_class(checked.kind)
        model = klass(checked.config)
        doc = checked.doc
        model.meta = {k: v for k, v in doc.items() if k not in ("kind", "label", "model_args")}
        model._load_arrays(folder)
        return model

    def grid_shape(self) -> tuple[int, int]:
        """``(ny, nx)`` of the protocol the model was fitted on (saved arrays must fit it)."""
        proto = self.protocol
        if proto is None:
            raise ModelError(f"{self.kind}: the model has no protocol")
        return proto.grid.shape


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Arrays to a safetensors file (contiguous copies)."""
    save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(path))


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    """Arrays from a safetensors file; a clear `ModelError` if missing, special, too large
    or not safetensors. Each model checks names, shapes and values (`store.check_array`)."""
    if not path.is_file():  # follows links; refuses FIFOs and devices
        raise not_a_file(path, "weights file")
    if path.stat().st_size > MAX_WEIGHTS_BYTES:
        raise ModelError(f"{path}: larger than {MAX_WEIGHTS_BYTES:,} bytes")
    try:
        return load_file(str(path))
    except Exception as err:  # safetensors raises its own SafetensorError and others
        raise ModelError(f"{path}: not a valid safetensors file ({err})") from None


def forecast_blocks(
    model: Any,
    data: ForecastData,
    start: int,
    stop: int,
    chunk: int = 64,
    on_progress: OnProgress | None = None,
    stage: str = "forecast",
) -> Iterator[tuple[int, np.ndarray]]:
    """``model.predict_days`` with one count of progress: a ``stage`` event of days done
    after each block is used, the model's `Forecaster.warmup_days` counted too. ``model`` is
    anything with ``predict_days`` (a `Forecaster` or a scoring wrapper)."""
    warmup = getattr(model, "warmup_days", None)
    warm = int(warmup(start, data=data)) if warmup is not None else 0
    total = warm + stop - start
    extra = {}
    if warm and on_progress is not None:
        extra["on_warmup"] = lambda done, _n: emit(on_progress, stage, done, total)
    for first, block in model.predict_days(data, start, stop, chunk, **extra):
        yield first, block
        emit(on_progress, stage, warm + first + len(block) - start, total)
