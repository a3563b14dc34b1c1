"""The schema of model.json: required keys, a registered kind, the protocol, the config
with its bounds, and the types of every optional key the package reads.

`check_model_file` is the one entry: `read_json` (size and depth bounded) then
`check_model_doc`; anything wrong is a `ModelError` ``"<file>: <field>: <problem>"``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quake.data.protocol import PERIOD_NAMES, Protocol
from quake.errors import ModelError
from quake.models.registry import config_class, kinds
from quake.models.store.validate_json import MAX_JSON_BYTES, read_json
from quake.models.store.validate_values import (
    LABEL_PATTERN,
    TOKEN_PATTERN,
    check_bool,
    check_choice,
    check_date,
    check_float,
    check_int,
    check_list,
    check_object,
    check_str,
    check_text,
    floats,
    ints,
    optional,
    type_name,
)
from quake.settings import MAX_GRID_CELLS

FORMAT_VERSION = 1
MAX_SIDE = 20_000  # grid cells along one axis
MAX_CELLS = MAX_GRID_CELLS  # grid cells, as for a catalog's grid (Japan: 50,000)
REQUIRED_PERIODS = ("train", "validation", "test")


# -- the protocol ---------------------------------------------------------------------------
_GRID_FLOATS = {
    "lat0": (-90.0, 90.0),
    "lon0": (-360.0, 360.0),
    "x0_km": (-1e5, 1e5),
    "y0_km": (-1e5, 1e5),
}


def check_protocol(d: Any, field: str = "protocol") -> Protocol:
    """The `Protocol` a model.json's ``protocol`` describes, every field checked first
    (then built by `Protocol.from_dict`); the grid holds at most `MAX_CELLS` cells."""
    check_object(d, field)
    required = ("name", "epoch", "grid", "periods", "active_before", "lead_days", "horizon_days")
    for key in (*required, "mcs", "thresholds", "masks"):
        if key not in d:
            raise ModelError(f"{field}: missing key {key!r}")
    check_text(d["name"], f"{field}.name", TOKEN_PATTERN, 100)
    epoch = check_date(d["epoch"], f"{field}.epoch")
    check_date(d["active_before"], f"{field}.active_before")
    grid = check_object(d["grid"], f"{field}.grid")
    known = {"lat0", "lon0", "cell_km", "nx", "ny", "x0_km", "y0_km", "radius_km"}
    if set(grid) != known:
        extra, missing = sorted(set(grid) - known), sorted(known - set(grid))
        raise ModelError(f"{field}.grid: unknown keys {extra}, missing keys {missing}")
    for key, (lo, hi) in _GRID_FLOATS.items():
        check_float(grid[key], f"{field}.grid.{key}", lo, hi)
    check_float(grid["cell_km"], f"{field}.grid.cell_km", 0.0, 1000.0, lo_open=True)
    check_float(grid["radius_km"], f"{field}.grid.radius_km", 0.0, 1e5, lo_open=True)
    nx = check_int(grid["nx"], f"{field}.grid.nx", 1, MAX_SIDE)
    ny = check_int(grid["ny"], f"{field}.grid.ny", 1, MAX_SIDE)
    if nx * ny > MAX_CELLS:
        raise ModelError(f"{field}.grid: {nx} x {ny} cells (at most {MAX_CELLS:,})")
    periods = check_list(d["periods"], f"{field}.periods", check_object, 1, len(PERIOD_NAMES))
    names = []
    for i, p in enumerate(periods):
        where = f"{field}.periods[{i}]"
        names.append(check_choice(p.get("name"), f"{where}.name", PERIOD_NAMES))
        start = check_date(p.get("start"), f"{where}.start")
        end = check_date(p.get("end"), f"{where}.end")
        if not epoch <= start <= end:
            raise ModelError(f"{where}: needs epoch <= start <= end")
    if len(set(names)) != len(names) or not set(REQUIRED_PERIODS) <= set(names):
        raise ModelError(f"{field}.periods: needs each of {', '.join(REQUIRED_PERIODS)} once")
    lead = check_int(d["lead_days"], f"{field}.lead_days", 0, 3650)
    check_int(d["horizon_days"], f"{field}.horizon_days", lead + 1, 3650)
    check_list(d["mcs"], f"{field}.mcs", floats(-2.0, 10.0), 0, 16)
    check_list(d["thresholds"], f"{field}.thresholds", floats(0.0, 1.0), 0, 32)
    check_list(d["masks"], f"{field}.masks", lambda x, f: check_str(x, f, 32), 0, 8)
    try:
        return Protocol.from_dict(d)
    except (KeyError, TypeError, ValueError) as err:  # not expected after the checks above
        raise ModelError(f"{field}: {err}") from None


# -- scores and the fit's record ------------------------------------------------------------
MAX_COUNT = 10**15  # pairs, targets, rows (a test period has ~2e8 (day, cell) pairs)

# Areas and fractions of a summary (`quake.metrics.scores.score_summary`): each lies in
# [0, 1]; the writer stores NaN (no targets, no weights) as null.
_SUMMARY_FRACTIONS = (
    "roc_auc",
    "pr_auc",
    "molchan_area",
    "molchan_area_skill",
    "molchan_area_weighted",
    "molchan_area_skill_weighted",
)
_ROW_FRACTIONS = ("threshold", "alarm_fraction", "edge", "baseline_threshold")
_ROW_COUNTS = ("tp", "fn", "fp", "tn")


def _str_map(value: Any, field: str, item: Callable[[Any, str], Any]) -> None:
    for k, v in check_object(value, field).items():
        item(v, f"{field}.{k}")


def _fraction(value: Any, field: str) -> float | None:
    """null, or a finite number in [0, 1] (NaN and infinities are refused)."""
    return optional(check_float, value, field, 0.0, 1.0)


def _count(value: Any, field: str, required: bool = False) -> int | None:
    """An integer in [0, `MAX_COUNT`]; null too unless ``required``."""
    if value is None and not required:
        return None
    return check_int(value, field, 0, MAX_COUNT)


def _row_totals(
    tp: int, fn: int, fp: int, tn: int, field: str, n_pairs: int | None, n_pos: int | None
) -> None:
    """A row's confusion counts add up to the summary's pairs and targets (where known)."""
    if n_pairs is not None and tp + fn + fp + tn != n_pairs:
        raise ModelError(f"{field}: tp + fn + fp + tn = {tp + fn + fp + tn}, not n_pairs {n_pairs}")
    if n_pos is not None and tp + fn != n_pos:
        raise ModelError(f"{field}: tp + fn = {tp + fn}, not n_positive {n_pos}")


def _operating_point(
    value: Any, field: str, required: bool, n_pairs: int | None, n_pos: int | None
) -> None:
    """A row of the threshold table (counts and threshold ``required``) or ``best_f1`` /
    ``matched_tp``: fractions in [0, 1], bounded counts adding up to the summary's."""
    check_object(value, field)
    for key in _ROW_FRACTIONS:
        _fraction(value.get(key), f"{field}.{key}")
    if required:
        check_float(value.get("threshold"), f"{field}.threshold", 0.0, 1.0)
    counts = [_count(value.get(key), f"{field}.{key}", required) for key in _ROW_COUNTS]
    _count(value.get("baseline_tp"), f"{field}.baseline_tp")
    tp, fn, fp, tn = counts
    if tp is not None and fn is not None and fp is not None and tn is not None:
        _row_totals(tp, fn, fp, tn, field, n_pairs, n_pos)


def _gains(value: Any, field: str) -> None:
    """``{tau: gain}``: each key an alarm fraction tau in (0, 1], each gain null or in
    [0, 1 / tau] (`quake.metrics.scores.probability_gain`: (1 - nu) / tau)."""
    for key, gain in check_object(value, field, 64).items():
        where = f"{field}.{key}"
        try:
            tau = float(key)
        except ValueError:
            tau = math.nan
        if not 0.0 < tau <= 1.0:
            raise ModelError(f"{where}: the key must be an alarm fraction in (0, 1]")
        optional(check_float, gain, where, 0.0, (1.0 + 1e-9) / tau)


def _summary(s: Any, where: str) -> None:
    """One ``{mask: summary}`` entry of ``scores`` (see `check_scores`)."""
    check_object(s, where)
    for key in _SUMMARY_FRACTIONS:
        _fraction(s.get(key), f"{where}.{key}")
    n_pairs = _count(s.get("n_pairs"), f"{where}.n_pairs")
    n_pos = _count(s.get("n_positive"), f"{where}.n_positive")
    if n_pairs is not None and n_pos is not None and n_pos > n_pairs:
        raise ModelError(f"{where}.n_positive: {n_pos} targets among only {n_pairs} pairs")
    if "thresholds" in s:
        rows = check_list(s["thresholds"], f"{where}.thresholds", check_object, 0, 64)
        for i, r in enumerate(rows):
            _operating_point(r, f"{where}.thresholds[{i}]", True, n_pairs, n_pos)
    for key in ("best_f1", "matched_tp"):
        if s.get(key) is not None:
            _operating_point(s[key], f"{where}.{key}", False, n_pairs, n_pos)
    for key in ("probability_gain", "probability_gain_weighted"):
        if s.get(key) is not None:
            _gains(s[key], f"{where}.{key}")


def check_scores(scores: Any, field: str = "scores") -> None:
    """``{period: {mask: summary}}``, each summary's numbers checked (what the dashboard, the
    report and the CLI show): areas and fractions null or in [0, 1], counts integers in
    [0, `MAX_COUNT`] that add up (targets <= pairs, each row's counts to the pairs),
    probability gains within [0, 1 / tau]. Unknown summary keys are allowed."""
    for period, per_mask in check_object(scores, field, 16).items():
        for mask, s in check_object(per_mask, f"{field}.{period}", 16).items():
            _summary(s, f"{field}.{period}.{mask}")


def _params(value: Any, field: str) -> None:
    """Fitted parameters: ri's three (or an empty object), or ETAS's (`EtasParams`)."""
    if check_object(value, field) and "mu" in value:
        from quake.models.etas_core import saved_params  # numpy only

        try:
            saved_params(value)
        except ModelError as err:
            raise ModelError(f"{field}: {err}") from None
        return
    if value:
        check_float(value.get("tau_days"), f"{field}.tau_days", 0.0, 1e6, lo_open=True)
        check_int(value.get("radius"), f"{field}.radius", 0, MAX_SIDE)
        check_float(value.get("beta"), f"{field}.beta", 0.0, 1e6)


def _selection(value: Any, field: str) -> None:
    """Boosting's selection summary."""
    check_object(value, field)
    for key in ("n_trees", "train_rows", "validation_rows", "final_rows"):
        _count(value.get(key), f"{field}.{key}")
    optional(check_float, value.get("validation_logloss"), f"{field}.validation_logloss", 0, 1e6)


def _seconds(value: Any, field: str) -> None:
    if value is not None:
        check_float(value, field, 0.0, 1e9)


ETAS_KINDS = ("etas", "cnn-etas", "convlstm-etas")  # model.json carries the ETAS ``params``

# Optional keys with their checks; unknown keys are allowed (bounded by size and depth).
_META: dict[str, Callable[[Any, str], Any]] = {
    "label": lambda v, f: check_text(v, f, LABEL_PATTERN, 200),
    "fingerprint": lambda v, f: check_text(v, f, TOKEN_PATTERN, 128),
    "saved": lambda v, f: check_text(v, f, TOKEN_PATTERN, 64),
    "preset": lambda v, f: optional(check_text, v, f, TOKEN_PATTERN, 64),
    "name": lambda v, f: check_text(v, f, TOKEN_PATTERN, 200),
    "final": check_bool,
    "base_final": check_bool,
    "cancelled": check_bool,
    "fit_seconds": _seconds,
    "train_seconds": _seconds,
    "best_epoch": lambda v, f: optional(check_int, v, f, 0, 100_000),
    "planned_epochs": lambda v, f: optional(check_int, v, f, 0, 100_000),
    "stopped_by": lambda v, f: optional(check_text, v, f, LABEL_PATTERN, 200),  # the report
    "eval_seconds": lambda v, f: _str_map(v, f, _seconds),
    "scored_by": lambda v, f: _str_map(v, f, check_str),
    "versions": lambda v, f: _str_map(v, f, check_str),
    "params": _params,
    "selection": _selection,
    "search": lambda v, f: check_list(v, f, check_object, 0, 10_000),
    "features": lambda v, f: check_list(v, f, check_str, 0, 1000),
    "train_history": lambda v, f: check_list(v, f, check_object, 0, 100_000),
    "train_args": lambda v, f: (
        check_object(v, f),
        optional(check_text, v.get("device"), f"{f}.device", TOKEN_PATTERN, 32),
    ),
    "scores": check_scores,
    "members_saved": lambda v, f: _str_map(
        v, f, lambda x, g: check_text(x, g, r"[A-Za-z0-9_.:+-]*", 64)
    ),
}


# -- model.json -----------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckedModel:
    """A model.json that passed `check_model_doc`: the doc, the kind's config (bounds
    checked) and the protocol."""

    doc: dict[str, Any]
    kind: str
    config: Any
    protocol: Protocol
    mc: float
    format: int


def check_model_doc(doc: Any, file: str | Path) -> CheckedModel:
    """Check a parsed model.json; every problem is a `ModelError` ``"<file>: <field>: ..."``.

    Required: ``kind`` (a registered kind), ``model_args`` (the kind's config, within its
    bounds and the grid's), ``protocol`` (`check_protocol`), ``mc``. Optional keys the
    package reads are type-checked (`_META`), ``fit_days`` lies inside the protocol.
    """
    try:
        if not isinstance(doc, dict):
            raise ModelError(f"not a JSON object (a {type_name(doc)})")
        for key in ("kind", "model_args", "protocol", "mc"):
            if key not in doc:
                raise ModelError(f"missing key {key!r}")
        fmt = check_int(doc.get("format", FORMAT_VERSION), "format", 1, FORMAT_VERSION)
        kind = check_choice(doc["kind"], "kind", kinds())
        protocol = check_protocol(doc["protocol"])
        args = check_object(doc["model_args"], "model_args")
        config = config_class(kind).from_dict(args)
        config.check_grid(*protocol.grid.shape)
        mc = check_float(doc["mc"], "mc", -2.0, 10.0)
        for key, check in _META.items():
            if key in doc:
                check(doc[key], key)
        if kind in ETAS_KINDS and "mu" not in (doc.get("params") or {}):
            raise ModelError(f"params: a {kind} model needs its ETAS parameters (mu, A, ...)")
        if "fit_days" in doc:
            last = protocol.n_days
            a, b = check_list(doc["fit_days"], "fit_days", ints(0, last), 2, 2)
            if a >= b:
                raise ModelError(f"fit_days: start {a} must be before stop {b}")
    except ModelError as err:
        raise ModelError(f"{file}: {err}") from None
    return CheckedModel(doc, kind, config, protocol, mc, fmt)


def check_model_file(path: str | Path) -> CheckedModel:
    """`read_json` then `check_model_doc` of a model.json."""
    return check_model_doc(read_json(path, MAX_JSON_BYTES), path)
