"""Checks of curves.json: each saved `quake.metrics.curves.OperatingCurve` has a bounded bin
design and non-negative, finite, sparse histograms whose bins lie inside it, strictly
increasing, with bounded totals (no sum of the curve can overflow)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from quake.errors import ModelError
from quake.models.store.validate_values import (
    check_float,
    check_int,
    check_list,
    check_object,
    check_str,
    floats,
    type_name,
)

MAX_CURVE_CELLS = 100_000  # bins of an operating curve (4,000 by default)
MAX_CURVE_PAIRS = 10**13  # (day, cell) pairs of one curve (a test period has ~2e8)


def _vector(value: Any, field: str, count: bool, max_len: int) -> np.ndarray:
    """A JSON list of non-negative integers (``count``) or finite non-negative numbers,
    checked in bulk (a curve has thousands)."""
    if not isinstance(value, list):
        raise ModelError(f"{field}: must be a list, got {type_name(value)}")
    if len(value) > max_len:
        raise ModelError(f"{field}: more than {max_len} items")
    kinds = (int,) if count else (int, float)
    if not all(type(x) in kinds for x in value):
        raise ModelError(f"{field}: must hold only {'integers' if count else 'numbers'}")
    try:
        a = np.asarray(value, dtype=np.int64 if count else np.float64)
    except OverflowError:
        raise ModelError(f"{field}: a value is out of range") from None
    if a.size and not (np.isfinite(a).all() and (a >= 0).all()):
        raise ModelError(f"{field}: values must be finite and >= 0")
    return a


def _sparse(
    value: Any, field: str, key: str, n_bins: int, count: bool
) -> tuple[np.ndarray, np.ndarray]:
    """A sparse histogram ``{"bin": [...], key: [...]}`` as written by
    `quake.metrics.curves.OperatingCurve.to_dict` (bins strictly increasing, so none twice,
    inside the design): its ``(bins, values)``."""
    check_object(value, field)
    bins = _vector(value.get("bin"), f"{field}.bin", True, n_bins)
    vals = _vector(value.get(key), f"{field}.{key}", count, n_bins)
    if bins.size and bins.max() >= n_bins:
        raise ModelError(f"{field}.bin: bins must lie in [0, {n_bins})")
    if len(bins) != len(vals):
        raise ModelError(f"{field}: {len(bins)} bins but {len(vals)} values")
    if (np.diff(bins) <= 0).any():
        raise ModelError(f"{field}.bin: bins must be strictly increasing (none twice)")
    return bins, vals


def _total(vals: np.ndarray, field: str) -> float:
    """The sum of a histogram's values, each and the sum at most `MAX_CURVE_PAIRS` (so no
    sum of the curve overflows int64 or becomes infinite)."""
    if vals.size and vals.max() > MAX_CURVE_PAIRS:
        raise ModelError(f"{field}: a value exceeds {MAX_CURVE_PAIRS:.0e}")
    total = float(vals.sum())  # <= (MAX_CURVE_CELLS + 2) * MAX_CURVE_PAIRS < 2**63
    if total > MAX_CURVE_PAIRS:
        raise ModelError(f"{field}: {total:.4g} in all, more than {MAX_CURVE_PAIRS:.0e}")
    return total


def _histograms(d: dict, field: str, n_bins: int) -> None:
    """The two count histograms, bounded in all, and the weighted twins (optional, both or
    neither): bounded, with weight only in bins that hold pairs of the class."""
    pairs = 0.0
    bins: dict[str, np.ndarray] = {}
    for part in ("negative", "positive"):
        bins[part], counts = _sparse(d.get(part), f"{field}.{part}", "count", n_bins, True)
        pairs += _total(counts, f"{field}.{part}.count")
    if pairs > MAX_CURVE_PAIRS:
        raise ModelError(f"{field}: {pairs:.4g} pairs in all, more than {MAX_CURVE_PAIRS:.0e}")
    if "weighted_negative" not in d and "weighted_positive" not in d:
        return
    for part in ("negative", "positive"):
        where = f"{field}.weighted_{part}"
        wbins, weights = _sparse(d.get(f"weighted_{part}"), where, "weight", n_bins, False)
        _total(weights, f"{where}.weight")
        if not np.isin(wbins, bins[part]).all():
            raise ModelError(f"{where}.bin: weight in a bin that holds no {part} pairs")


def check_curve(d: Any, field: str) -> None:
    """One saved `quake.metrics.curves.OperatingCurve` dict: a bounded bin design, sparse
    histograms as `_sparse` reads them, at most `MAX_CURVE_PAIRS` pairs (and weight)."""
    check_object(d, field)
    check_str(d.get("format"), f"{field}.format", 64)
    des = check_object(d.get("design"), f"{field}.design")
    check_float(des.get("logit_max"), f"{field}.design.logit_max", 0.0, 1000.0, lo_open=True)
    n_cells = check_int(des.get("n_cells"), f"{field}.design.n_cells", 2, MAX_CURVE_CELLS)
    check_list(des.get("snap"), f"{field}.design.snap", floats(0.0, 1.0, True), 0, 64)
    _histograms(d, field, n_cells + 2)


def check_curves(doc: Any, file: str | Path) -> dict[str, dict[str, dict]]:
    """A curves.json ``{period: {mask: curve dict}}``, each curve checked (`check_curve`)."""
    try:
        for period, per_mask in check_object(doc, "curves", 16).items():
            for mask, d in check_object(per_mask, period, 16).items():
                check_curve(d, f"{period}.{mask}")
    except ModelError as err:
        raise ModelError(f"{file}: {err}") from None
    return doc
