"""Everything read from a model folder is checked here before it is used.

A model folder may be hostile (anyone who can copy a folder into ``models/`` writes it),
so nothing in it is trusted: `read_model_json` bounds the file's size and nesting depth
before JSON parsing can recurse, then `check_model_doc` checks the schema (types, required
keys, a kind of the registry, the protocol, the config with its bounds, sizes bounded by
the protocol's grid); `check_array` checks each array of a weights file (name, shape,
dtype, finite, probabilities in [0, 1]); `check_curves` the operating curves. Anything
wrong is a `ModelError` that names the file and the field.

The ``check_int``/``check_float``/... helpers are what each model's config uses in its
``check`` (the bounds that refuse ``channels: 200000`` before any allocation).

This module imports neither torch nor xgboost (the dashboard reads cards without them).
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from quake.data.protocol import PERIOD_NAMES, Protocol
from quake.errors import ModelError
from quake.models.registry import config_class, kinds
from quake.settings import MAX_GRID_CELLS

FORMAT_VERSION = 1
MAX_JSON_BYTES = 4 << 20  # model.json: the committed ones are < 30 kB
MAX_CURVES_BYTES = 32 << 20  # curves.json: < 250 kB
MAX_WEIGHTS_BYTES = 1 << 30  # one safetensors or booster file
MAX_DEPTH = 32  # JSON nesting; model.json needs 6
MAX_INT_DIGITS = 19  # no JSON integer beyond int64
MAX_SIDE = 20_000  # grid cells along one axis
MAX_CELLS = MAX_GRID_CELLS  # grid cells, as for a catalog's grid (Japan: 50,000)
MAX_CURVE_CELLS = 100_000  # bins of an operating curve (4,000 by default)
PROBE_TIMEOUT_S = 120  # xgboost reading a booster in a child process ...
PROBE_MEMORY_BYTES = 8 << 30  # ... with at most this much address space
REQUIRED_PERIODS = ("train", "validation", "test")


# -- bounded JSON -----------------------------------------------------------------------
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


def json_depth(raw: bytes) -> int:
    """Deepest nesting of ``[``/``{`` in JSON text (brackets inside strings ignored);
    computed without recursion, so it is safe on any input."""
    bare = np.frombuffer(_STRING.sub(b"", raw), dtype=np.uint8)
    if bare.size == 0:
        return 0
    step = (bare == ord("[")).astype(np.int32) + (bare == ord("{"))
    step -= (bare == ord("]")).astype(np.int32) + (bare == ord("}"))
    return int(np.cumsum(step).max(initial=0))


def read_bytes(path: str | Path, max_bytes: int, what: str = "file") -> bytes:
    """At most ``max_bytes`` of a regular file; a `ModelError` if missing, special or larger."""
    path = Path(path)
    if not path.is_file():  # follows links; refuses FIFOs, devices, folders
        raise ModelError(f"{path}: missing {what}")
    try:
        with path.open("rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as err:
        raise ModelError(f"{path}: cannot read ({err.strerror or err})") from None
    if len(raw) > max_bytes:
        raise ModelError(f"{path}: {what} larger than {max_bytes:,} bytes")
    return raw


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"integer with {len(text)} digits")
    return int(text)


def read_json(
    path: str | Path, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_DEPTH
) -> dict[str, Any]:
    """A JSON object from a file, its size and nesting bounded before parsing."""
    path = Path(path)
    raw = read_bytes(path, max_bytes, "JSON file")
    depth = json_depth(raw)
    if depth > max_depth:
        raise ModelError(f"{path}: JSON nested {depth} levels deep (at most {max_depth})")
    try:
        doc = json.loads(raw.decode("utf-8"), parse_int=_parse_int)
    except UnicodeDecodeError:
        raise ModelError(f"{path}: not UTF-8 text") from None
    except (ValueError, RecursionError) as err:
        raise ModelError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(doc, dict):
        raise ModelError(f"{path}: not a JSON object (a {_type(doc)})")
    return doc


# -- scalar and list checks (a config's ``check`` uses these) ----------------------------
def _type(value: Any) -> str:
    return {dict: "object", list: "list", str: "string", bool: "bool", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def _is_number(value: Any) -> bool:
    return _is_int(value) or isinstance(value, float | np.floating)


def check_int(value: Any, field: str, lo: int, hi: int) -> int:
    """An integer (not a bool, float or string) in ``[lo, hi]``."""
    if not _is_int(value):
        raise ModelError(f"{field}: must be an integer, got {_show(value)} ({_type(value)})")
    if not lo <= value <= hi:
        raise ModelError(f"{field}: must lie in [{lo}, {hi}], got {value}")
    return int(value)


def check_float(value: Any, field: str, lo: float, hi: float, lo_open: bool = False) -> float:
    """A finite number in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``), as a float."""
    if not _is_number(value):
        raise ModelError(f"{field}: must be a number, got {_show(value)} ({_type(value)})")
    x = float(value)
    low_ok = x > lo if lo_open else x >= lo
    if not (math.isfinite(x) and low_ok and x <= hi):
        bracket = "(" if lo_open else "["
        raise ModelError(f"{field}: must lie in {bracket}{lo:g}, {hi:g}], got {x!r}")
    return x


def check_bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise ModelError(f"{field}: must be true or false, got {_show(value)} ({_type(value)})")
    return bool(value)


def check_str(value: Any, field: str, max_len: int = 200) -> str:
    if not isinstance(value, str):
        raise ModelError(f"{field}: must be a string, got {_show(value)} ({_type(value)})")
    if len(value) > max_len:
        raise ModelError(f"{field}: longer than {max_len} characters")
    return value


def check_text(value: Any, field: str, pattern: str, max_len: int = 200) -> str:
    """A string matching ``pattern`` whole (labels and names the dashboard shows: no
    markup characters)."""
    check_str(value, field, max_len)
    if not re.fullmatch(pattern, value):
        raise ModelError(f"{field}: unexpected characters in {_show(value)}")
    return value


LABEL_PATTERN = r"[\w .,:;()+/%'-]*"  # "CNN+LSTM, resid.", "Relative intensity (prior + ...)"
TOKEN_PATTERN = r"[A-Za-z0-9_.:+-]+"  # fingerprints, protocol names, timestamps


def check_choice(value: Any, field: str, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ModelError(f"{field}: must be one of {', '.join(choices)}; got {_show(value)}")
    return value


def check_list(
    value: Any,
    field: str,
    item: Callable[[Any, str], Any],
    min_len: int = 1,
    max_len: int = 64,
) -> list:
    """A list of ``min_len`` to ``max_len`` items, each passed through ``item(x, field[i])``."""
    if not isinstance(value, list | tuple):
        raise ModelError(f"{field}: must be a list, got {_show(value)} ({_type(value)})")
    if not min_len <= len(value) <= max_len:
        raise ModelError(f"{field}: must have {min_len} to {max_len} items, got {len(value)}")
    return [item(x, f"{field}[{i}]") for i, x in enumerate(value)]


def optional(check: Callable[..., Any], value: Any, field: str, *args: Any) -> Any:
    """``None`` or ``check(value, field, *args)``."""
    return None if value is None else check(value, field, *args)


def ints(lo: int, hi: int) -> Callable[[Any, str], int]:
    """An item check for `check_list`: integers in ``[lo, hi]``."""
    return lambda x, f: check_int(x, f, lo, hi)


def floats(lo: float, hi: float, lo_open: bool = False) -> Callable[[Any, str], float]:
    """An item check for `check_list`: finite numbers in ``[lo, hi]``."""
    return lambda x, f: check_float(x, f, lo, hi, lo_open)


def _dict(value: Any, field: str, max_items: int = 256) -> dict:
    if not isinstance(value, dict):
        raise ModelError(f"{field}: must be a JSON object, got {_type(value)}")
    if len(value) > max_items:
        raise ModelError(f"{field}: more than {max_items} entries")
    return value


def _number_or_none(value: Any, field: str) -> None:
    """JSON numbers of stored scores may be NaN (e.g. no positives); not other types."""
    if value is not None and not _is_number(value):
        raise ModelError(f"{field}: must be a number or null, got {_type(value)}")


def _count_or_none(value: Any, field: str) -> None:
    if value is not None:
        check_int(value, field, 0, 2**62)


def _date(value: Any, field: str) -> date:
    check_str(value, field, 32)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ModelError(f"{field}: not an ISO date (YYYY-MM-DD), got {_show(value)}") from None


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
    _dict(d, field)
    required = ("name", "epoch", "grid", "periods", "active_before", "lead_days", "horizon_days")
    for key in (*required, "mcs", "thresholds", "masks"):
        if key not in d:
            raise ModelError(f"{field}: missing key {key!r}")
    check_text(d["name"], f"{field}.name", TOKEN_PATTERN, 100)
    epoch = _date(d["epoch"], f"{field}.epoch")
    _date(d["active_before"], f"{field}.active_before")
    grid = _dict(d["grid"], f"{field}.grid")
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
    periods = check_list(d["periods"], f"{field}.periods", _dict, 1, len(PERIOD_NAMES))
    names = []
    for i, p in enumerate(periods):
        where = f"{field}.periods[{i}]"
        names.append(check_choice(p.get("name"), f"{where}.name", PERIOD_NAMES))
        start, end = _date(p.get("start"), f"{where}.start"), _date(p.get("end"), f"{where}.end")
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


# -- model.json ---------------------------------------------------------------------------
def _str_map(value: Any, field: str, item: Callable[[Any, str], Any]) -> None:
    for k, v in _dict(value, field).items():
        item(v, f"{field}.{k}")


_SUMMARY_NUMBERS = (
    "roc_auc",
    "pr_auc",
    "molchan_area",
    "molchan_area_skill",
    "molchan_area_weighted",
    "molchan_area_skill_weighted",
)


def _operating_point(value: Any, field: str, counts_required: bool) -> None:
    """A row of the threshold table (counts required) or ``best_f1``/``matched_tp``."""
    _dict(value, field)
    for key in ("threshold", "alarm_fraction", "edge", "baseline_threshold"):
        _number_or_none(value.get(key), f"{field}.{key}")
    for key in ("tp", "fn", "fp", "tn", "baseline_tp"):
        if counts_required and key != "baseline_tp":
            check_int(value.get(key), f"{field}.{key}", 0, 2**62)
        else:
            _count_or_none(value.get(key), f"{field}.{key}")
    if counts_required:
        check_float(value.get("threshold"), f"{field}.threshold", 0.0, 1.0)


def _check_scores(scores: Any, field: str = "scores") -> None:
    """``{period: {mask: summary}}`` with the summary's numbers typed (what the dashboard,
    the report and the CLI read); unknown summary keys are allowed."""
    for period, per_mask in _dict(scores, field, 16).items():
        for mask, s in _dict(per_mask, f"{field}.{period}", 16).items():
            where = f"{field}.{period}.{mask}"
            _dict(s, where)
            for key in _SUMMARY_NUMBERS:
                _number_or_none(s.get(key), f"{where}.{key}")
            for key in ("n_pairs", "n_positive"):
                _count_or_none(s.get(key), f"{where}.{key}")
            if "thresholds" in s:
                rows = check_list(s["thresholds"], f"{where}.thresholds", _dict, 0, 64)
                for i, r in enumerate(rows):
                    _operating_point(r, f"{where}.thresholds[{i}]", counts_required=True)
            for key in ("best_f1", "matched_tp"):
                if s.get(key) is not None:
                    _operating_point(s[key], f"{where}.{key}", counts_required=False)
            for key in ("probability_gain", "probability_gain_weighted"):
                if s.get(key) is not None:
                    _str_map(s[key], f"{where}.{key}", _number_or_none)


def _params(value: Any, field: str) -> None:
    """ri's fitted parameters (all three, or an empty object)."""
    if _dict(value, field):
        check_float(value.get("tau_days"), f"{field}.tau_days", 0.0, 1e6, lo_open=True)
        check_int(value.get("radius"), f"{field}.radius", 0, MAX_SIDE)
        check_float(value.get("beta"), f"{field}.beta", 0.0, 1e6)


def _selection(value: Any, field: str) -> None:
    """Boosting's selection summary."""
    _dict(value, field)
    for key in ("n_trees", "train_rows", "validation_rows", "final_rows"):
        _count_or_none(value.get(key), f"{field}.{key}")
    _number_or_none(value.get("validation_logloss"), f"{field}.validation_logloss")


def _seconds(value: Any, field: str) -> None:
    if value is not None:
        check_float(value, field, 0.0, 1e9)


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
    "stopped_by": lambda v, f: optional(check_str, v, f, 200),
    "eval_seconds": lambda v, f: _str_map(v, f, _seconds),
    "scored_by": lambda v, f: _str_map(v, f, check_str),
    "versions": lambda v, f: _str_map(v, f, check_str),
    "params": _params,
    "selection": _selection,
    "search": lambda v, f: check_list(v, f, _dict, 0, 10_000),
    "features": lambda v, f: check_list(v, f, check_str, 0, 1000),
    "train_history": lambda v, f: check_list(v, f, _dict, 0, 100_000),
    "train_args": lambda v, f: (
        _dict(v, f),
        optional(check_text, v.get("device"), f"{f}.device", TOKEN_PATTERN, 32),
    ),
    "scores": lambda v, f: _check_scores(v, f),
}


@dataclass(frozen=True)
class CheckedModel:
    """A model.json that passed `check_model_doc`: the doc, the kind's config (bounds
    checked) and the protocol."""

    doc: dict[str, Any]
    kind: str
    config: Any
    protocol: Protocol
    mc: float


def check_model_doc(doc: Any, file: str | Path) -> CheckedModel:
    """Check a parsed model.json; every problem is a `ModelError` ``"<file>: <field>: ..."``.

    Required: ``kind`` (a registered kind), ``model_args`` (the kind's config, within its
    bounds and the grid's), ``protocol`` (`check_protocol`), ``mc``. Optional keys the
    package reads are type-checked (`_META`), ``fit_days`` lies inside the protocol.
    """
    try:
        if not isinstance(doc, dict):
            raise ModelError(f"not a JSON object (a {_type(doc)})")
        for key in ("kind", "model_args", "protocol", "mc"):
            if key not in doc:
                raise ModelError(f"missing key {key!r}")
        fmt = doc.get("format", FORMAT_VERSION)
        check_int(fmt, "format", 1, FORMAT_VERSION)
        kind = check_choice(doc["kind"], "kind", kinds())
        protocol = check_protocol(doc["protocol"])
        args = _dict(doc["model_args"], "model_args")
        config = config_class(kind).from_dict(args)
        config.check_grid(*protocol.grid.shape)
        mc = check_float(doc["mc"], "mc", -2.0, 10.0)
        for key, check in _META.items():
            if key in doc:
                check(doc[key], key)
        if "fit_days" in doc:
            last = protocol.n_days
            a, b = check_list(doc["fit_days"], "fit_days", ints(0, last), 2, 2)
            if a >= b:
                raise ModelError(f"fit_days: start {a} must be before stop {b}")
    except ModelError as err:
        raise ModelError(f"{file}: {err}") from None
    return CheckedModel(doc, kind, config, protocol, mc)


def check_model_file(path: str | Path) -> CheckedModel:
    """`read_json` then `check_model_doc` of a model.json."""
    return check_model_doc(read_json(path, MAX_JSON_BYTES), path)


def read_model_json(path: str | Path) -> dict[str, Any]:
    """A model.json's content after every check (`check_model_file`)."""
    return check_model_file(path).doc


# -- arrays ---------------------------------------------------------------------------------
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


# -- operating curves -------------------------------------------------------------------------
def _vector(value: Any, field: str, count: bool, max_len: int) -> np.ndarray:
    """A JSON list of non-negative integers (``count``) or finite non-negative numbers,
    checked in bulk (a curve has thousands)."""
    if not isinstance(value, list):
        raise ModelError(f"{field}: must be a list, got {_type(value)}")
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


def _sparse(value: Any, field: str, key: str, n_bins: int, count: bool) -> None:
    _dict(value, field)
    bins = _vector(value.get("bin"), f"{field}.bin", True, n_bins)
    vals = _vector(value.get(key), f"{field}.{key}", count, n_bins)
    if bins.size and bins.max() >= n_bins:
        raise ModelError(f"{field}.bin: bins must lie in [0, {n_bins})")
    if len(bins) != len(vals):
        raise ModelError(f"{field}: {len(bins)} bins but {len(vals)} values")


def check_curve(d: Any, field: str) -> None:
    """One saved `quake.metrics.curves.OperatingCurve` dict: a bounded bin design, non-negative
    finite histograms whose bins lie inside it."""
    _dict(d, field)
    check_str(d.get("format"), f"{field}.format", 64)
    des = _dict(d.get("design"), f"{field}.design")
    check_float(des.get("logit_max"), f"{field}.design.logit_max", 0.0, 1000.0, lo_open=True)
    n_cells = check_int(des.get("n_cells"), f"{field}.design.n_cells", 2, MAX_CURVE_CELLS)
    check_list(des.get("snap"), f"{field}.design.snap", floats(0.0, 1.0, True), 0, 64)
    n_bins = n_cells + 2
    for part in ("negative", "positive"):
        _sparse(d.get(part), f"{field}.{part}", "count", n_bins, count=True)
    if "weighted_negative" in d or "weighted_positive" in d:
        for part in ("weighted_negative", "weighted_positive"):
            _sparse(d.get(part), f"{field}.{part}", "weight", n_bins, count=False)


def check_curves(doc: Any, file: str | Path) -> dict[str, dict[str, dict]]:
    """A curves.json ``{period: {mask: curve dict}}``, each curve checked (`check_curve`)."""
    try:
        for period, per_mask in _dict(doc, "curves", 16).items():
            for mask, d in _dict(per_mask, period, 16).items():
                check_curve(d, f"{period}.{mask}")
    except ModelError as err:
        raise ModelError(f"{file}: {err}") from None
    return doc


# -- xgboost boosters -------------------------------------------------------------------------
_BOOSTER_PROBE = """
import resource, sys
try:
    resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[1]),) * 2)
except (ValueError, OSError):  # a platform without the limit
    pass
import numpy as np
import xgboost as xgb
booster = xgb.Booster()
booster.load_model(bytearray(sys.stdin.buffer.read()))
x = np.zeros((4, booster.num_features()), np.float32)
x[1], x[2], x[3] = 1e30, -1e30, np.nan
booster.inplace_predict(x, predict_type="margin")
booster.save_raw("json")
"""


def probe_booster(raw: bytes, path: str | Path) -> None:
    """Let xgboost parse, run and dump the booster ``raw`` in a child process first.

    xgboost's own parser is not hardened: some corrupted UBJ files crash it (SIGSEGV,
    abort), which in-process would take the dashboard's server down. A child that
    survives means the same bytes load in this process. Costs one interpreter start
    (about 2 s); the dashboard caches loaded models.
    """
    if len(raw) < 2 or raw[:1] != b"{":  # UBJ and JSON models are objects
        raise ModelError(f"{path}: not a valid xgboost model (it does not start with '{{')")
    try:
        proc = subprocess.run(
            [sys.executable, "-I", "-c", _BOOSTER_PROBE, str(PROBE_MEMORY_BYTES)],
            input=raw,
            capture_output=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ModelError(f"{path}: xgboost took over {PROBE_TIMEOUT_S} s to read it") from None
    if proc.returncode < 0:
        why = f"xgboost crashed reading it, signal {-proc.returncode}"
    elif proc.returncode:
        why = "xgboost refused it"
        for line in proc.stderr.decode("utf-8", "replace").splitlines():
            m = re.match(r"(?:\w+\.)*(\w+(?:Error|Exception)): (.*)", line)
            if m:
                why = f"{m[1]}: {m[2][:200]}"
                break
    else:
        return
    raise ModelError(f"{path}: not a valid xgboost model ({why})")


def check_booster_doc(doc: Any, n_features: int, path: str | Path) -> None:
    """A booster's JSON dump (``save_raw("json")``): one-output tree ensemble whose trees
    are well formed (equal-length node arrays, children after their parent so every path
    ends, numeric splits on existing features); a malformed tree could read past its arrays
    while predicting."""
    try:
        learner = doc["learner"]
        booster = learner["gradient_booster"]
        param = learner["learner_model_param"]
        if booster.get("name") != "gbtree":
            raise ModelError(f"a {booster.get('name')!r} booster, expected 'gbtree'")
        if str(param.get("num_class")) != "0" or str(param.get("num_target")) != "1":
            raise ModelError("a multi-output booster, expected one output")
        for t, tree in enumerate(booster["model"]["trees"]):
            left, right = tree["left_children"], tree["right_children"]
            idx, kind = tree["split_indices"], tree["split_type"]
            n = len(left)
            if (
                n == 0
                or not len(right) == len(idx) == len(kind) == len(tree["split_conditions"]) == n
            ):
                raise ModelError(f"tree {t}: node arrays of different lengths")
            for i in range(n):
                a, b = left[i], right[i]
                if a == -1 and b == -1:
                    continue
                if not (i < a < n and i < b < n and a != b):
                    raise ModelError(f"tree {t}: node {i} has children {a}, {b}")
                if not 0 <= idx[i] < n_features or kind[i] != 0:
                    raise ModelError(f"tree {t}: node {i} splits on feature {idx[i]}")
    except ModelError as err:
        raise ModelError(f"{path}: {err}") from None
    except (KeyError, TypeError, IndexError) as err:
        raise ModelError(f"{path}: unexpected booster layout ({err!r})") from None
