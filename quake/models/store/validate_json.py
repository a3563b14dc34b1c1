"""Reading a model folder's files with bounds: size before reading, nesting before parsing.

A model folder may be hostile (anyone who can copy a folder into ``models/`` writes it):
`read_bytes` reads at most a bound of a regular file (never a FIFO or a device), and
`read_json` counts the nesting depth without recursion before JSON parsing can recurse.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from quake.errors import ModelError
from quake.models.store.validate_values import type_name

MAX_JSON_BYTES = 4 << 20  # model.json: the committed ones are < 30 kB
MAX_CURVES_BYTES = 32 << 20  # curves.json: < 250 kB
MAX_WEIGHTS_BYTES = 1 << 30  # one safetensors or booster file
MAX_DEPTH = 32  # JSON nesting; model.json needs 6
MAX_INT_DIGITS = 19  # no JSON integer beyond int64

_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.DOTALL)
"""A JSON string, or an unterminated one up to the end: every match that starts succeeds
without backtracking (possessive), so the scan is linear even on ``"\\"\\"\\"…`` with no
closing quote, which the plain pattern retried from every quote (quadratic: hours at 4 MB)."""


def json_depth(raw: bytes) -> int:
    """Deepest nesting of ``[``/``{`` in JSON text (brackets inside strings ignored);
    computed without recursion, so it is safe on any input."""
    bare = np.frombuffer(_STRING.sub(b"", raw), dtype=np.uint8)
    if bare.size == 0:
        return 0
    step = (bare == ord("[")).astype(np.int32) + (bare == ord("{"))
    step -= (bare == ord("]")).astype(np.int32) + (bare == ord("}"))
    return int(np.cumsum(step).max(initial=0))


def not_a_file(path: Path, what: str) -> ModelError:
    """The error for ``path`` that is not a regular file: missing, or what it is instead."""
    if path.is_dir():
        return ModelError(f"{path}: the {what} is a folder, not a file")
    if path.exists():
        return ModelError(f"{path}: the {what} is not a regular file (a device, pipe or socket)")
    if path.is_symlink():
        return ModelError(f"{path}: the {what} is a link to nothing")
    return ModelError(f"{path}: missing {what}")


def read_bytes(path: str | Path, max_bytes: int, what: str = "file") -> bytes:
    """At most ``max_bytes`` of a regular file; a `ModelError` if missing, special or larger."""
    path = Path(path)
    if not path.is_file():  # follows links; refuses FIFOs, devices, folders
        raise not_a_file(path, what)
    try:
        with path.open("rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as err:
        raise ModelError(f"{path}: cannot read ({err.strerror or err})") from None
    if len(raw) > max_bytes:
        raise ModelError(f"{path}: {what} larger than {max_bytes:,} bytes")
    return raw


def parse_bounded_int(text: str) -> int:
    """A JSON integer of at most `MAX_INT_DIGITS` digits (``json.loads``'s ``parse_int``)."""
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
        doc = json.loads(raw.decode("utf-8"), parse_int=parse_bounded_int)
    except UnicodeDecodeError:
        raise ModelError(f"{path}: not UTF-8 text") from None
    except (ValueError, RecursionError) as err:
        raise ModelError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(doc, dict):
        raise ModelError(f"{path}: not a JSON object (a {type_name(doc)})")
    return doc
