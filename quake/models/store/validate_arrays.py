"""Checks of the arrays a weights file holds: names, shape, dtype, finite, probabilities.

Each model's ``_load_arrays`` calls these on what `quake.models.base.load_arrays` read,
so a tampered safetensors file is a `ModelError` naming the file and the array.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from quake.errors import ModelError


def check_names(arrays: dict[str, np.ndarray], allowed: set[str], file: str | Path) -> None:
    """Refuse arrays not in ``allowed`` (a weights file holds what its model saves, no more)."""
    extra = sorted(set(arrays) - allowed)
    if extra:
        raise ModelError(f"{file}: unexpected arrays {extra[:5]}")


def check_array(
    arrays: dict[str, np.ndarray],
    name: str,
    *,
    file: str | Path,
    shape: tuple[int, ...] | None = None,
    dtype: Any | Sequence[Any] = np.float32,
    finite: bool = True,
    prob: bool = False,
) -> np.ndarray:
    """``arrays[name]`` after checking it is there, has ``shape`` and one of the dtypes,
    is finite, and (``prob``) lies in [0, 1]."""
    if name not in arrays:
        raise ModelError(f"{file}: no array {name!r}")
    a = arrays[name]
    if not isinstance(a, np.ndarray):
        raise ModelError(f"{file}: {name!r} is not an array")
    dtypes = [np.dtype(t) for t in (dtype if isinstance(dtype, list | tuple) else [dtype])]
    if a.dtype not in dtypes:
        want = " or ".join(str(t) for t in dtypes)
        raise ModelError(f"{file}: {name!r} has dtype {a.dtype}, expected {want}")
    if shape is not None and a.shape != tuple(shape):
        raise ModelError(f"{file}: {name!r} has shape {a.shape}, expected {tuple(shape)}")
    if finite and a.dtype.kind == "f" and not np.isfinite(a).all():
        raise ModelError(f"{file}: {name!r} has NaN or infinite values")
    if prob and a.size and not ((a >= 0).all() and (a <= 1).all()):
        raise ModelError(
            f"{file}: {name!r} is not a probability (values in [{a.min():g}, {a.max():g}], "
            "expected [0, 1])"
        )
    return a
