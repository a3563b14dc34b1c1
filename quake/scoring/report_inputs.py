"""The report's own input files, read with bounds: the paper's text (for its Table II) and
the class-weight sweep's JSON (Table I). Each may be any file a person names, so a
missing, special, oversized, binary or deeply nested one is a `ModelError` naming it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from quake.errors import ModelError
from quake.models.store.validate_json import MAX_DEPTH, json_depth, read_bytes

MAX_PAPER_BYTES = 4 << 20  # paper.md: 25 kB
MAX_TABLE1_BYTES = 4 << 20  # table1.json: 2 kB


def read_text(path: Path, what: str, max_bytes: int) -> str:
    """A regular UTF-8 text file of at most ``max_bytes``; a `ModelError` naming the file
    and what it is when it is missing, a folder or a pipe, too large, or binary."""
    raw = read_bytes(path, max_bytes, what)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelError(f"{path}: not UTF-8 text (a binary file?); expected the {what}") from None


def read_table1(path: Path) -> Any:
    """The class-weight sweep's JSON (``python -m quake sweep-weights``), size and nesting
    bounded before parsing; a `ModelError` naming the file when it is not that JSON."""
    text = read_text(path, "sweep-weights JSON", MAX_TABLE1_BYTES)
    depth = json_depth(text.encode("utf-8"))
    if depth > MAX_DEPTH:
        raise ModelError(f"{path}: JSON nested {depth:,} levels deep (at most {MAX_DEPTH})")
    try:
        return json.loads(text, parse_constant=lambda c: None)
    except (ValueError, RecursionError) as err:
        raise ModelError(
            f"{path}: not valid JSON ({err}); expected the JSON of python -m quake sweep-weights"
        ) from None
