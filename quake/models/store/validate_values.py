"""Checks of single values and lists read from a model folder (a config's ``check`` uses them).

Each check returns the value (normalised, e.g. an int bound to a float field becomes a
float) or raises a `ModelError` ``"<field>: <problem>"`` that names the field: the bounds
that refuse ``channels: 200000`` before anything is allocated from it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import numpy as np

from quake.errors import ModelError

LABEL_PATTERN = r"[\w .,:;()+/%'-]*"  # "CNN+LSTM, resid.", "Relative intensity (prior + ...)"
TOKEN_PATTERN = r"[A-Za-z0-9_.:+-]+"  # fingerprints, protocol names, timestamps


def type_name(value: Any) -> str:
    """The JSON name of a value's type ("object", "list", ...) for messages."""
    return {dict: "object", list: "list", str: "string", bool: "bool", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def show(value: Any) -> str:
    """A value for a message, at most 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def is_number(value: Any) -> bool:
    return is_int(value) or isinstance(value, float | np.floating)


def check_int(value: Any, field: str, lo: int, hi: int) -> int:
    """An integer (not a bool, float or string) in ``[lo, hi]``."""
    if not is_int(value):
        raise ModelError(f"{field}: must be an integer, got {show(value)} ({type_name(value)})")
    if not lo <= value <= hi:
        raise ModelError(f"{field}: must lie in [{lo}, {hi}], got {value}")
    return int(value)


def check_float(value: Any, field: str, lo: float, hi: float, lo_open: bool = False) -> float:
    """A finite number in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``), as a float."""
    if not is_number(value):
        raise ModelError(f"{field}: must be a number, got {show(value)} ({type_name(value)})")
    x = float(value)
    low_ok = x > lo if lo_open else x >= lo
    if not (math.isfinite(x) and low_ok and x <= hi):
        bracket = "(" if lo_open else "["
        raise ModelError(f"{field}: must lie in {bracket}{lo:g}, {hi:g}], got {x!r}")
    return x


def check_bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise ModelError(f"{field}: must be true or false, got {show(value)} ({type_name(value)})")
    return bool(value)


def check_str(value: Any, field: str, max_len: int = 200) -> str:
    if not isinstance(value, str):
        raise ModelError(f"{field}: must be a string, got {show(value)} ({type_name(value)})")
    if len(value) > max_len:
        raise ModelError(f"{field}: longer than {max_len} characters")
    return value


def check_text(value: Any, field: str, pattern: str, max_len: int = 200) -> str:
    """A string matching ``pattern`` whole (labels and names the dashboard shows: no
    markup characters)."""
    check_str(value, field, max_len)
    if not re.fullmatch(pattern, value):
        raise ModelError(f"{field}: unexpected characters in {show(value)}")
    return value


def check_choice(value: Any, field: str, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ModelError(f"{field}: must be one of {', '.join(choices)}; got {show(value)}")
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
        raise ModelError(f"{field}: must be a list, got {show(value)} ({type_name(value)})")
    if not min_len <= len(value) <= max_len:
        raise ModelError(f"{field}: must have {min_len} to {max_len} items, got {len(value)}")
    return [item(x, f"{field}[{i}]") for i, x in enumerate(value)]


def check_object(value: Any, field: str, max_items: int = 256) -> dict:
    """A JSON object of at most ``max_items`` entries."""
    if not isinstance(value, dict):
        raise ModelError(f"{field}: must be a JSON object, got {type_name(value)}")
    if len(value) > max_items:
        raise ModelError(f"{field}: more than {max_items} entries")
    return value


def optional(check: Callable[..., Any], value: Any, field: str, *args: Any) -> Any:
    """``None`` or ``check(value, field, *args)``."""
    return None if value is None else check(value, field, *args)


def ints(lo: int, hi: int) -> Callable[[Any, str], int]:
    """An item check for `check_list`: integers in ``[lo, hi]``."""
    return lambda x, f: check_int(x, f, lo, hi)


def floats(lo: float, hi: float, lo_open: bool = False) -> Callable[[Any, str], float]:
    """An item check for `check_list`: finite numbers in ``[lo, hi]``."""
    return lambda x, f: check_float(x, f, lo, hi, lo_open)


def check_date(value: Any, field: str) -> date:
    """An ISO date ``YYYY-MM-DD``."""
    check_str(value, field, 32)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ModelError(f"{field}: not an ISO date (YYYY-MM-DD), got {show(value)}") from None
