"""The report's own input files, read with bounds: the paper's text (for its Table II) and
the class-weight sweep's JSON (Table I). Each may be any file a person names, so a
missing, special, oversized, binary or deeply nested one is a `ModelError` naming it.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

from quake.errors import ModelError
from quake.models.store.validate_json import MAX_DEPTH, json_depth

MAX_PAPER_BYTES = 4 << 20  # paper.md: 25 kB
MAX_TABLE1_BYTES = 4 << 20  # table1.json: 2 kB


def read_text(path: Path, what: str, max_bytes: int) -> str:
    """A regular UTF-8 text file of at most ``max_bytes``; a `ModelError` naming the file
    and what it is when it is missing, a folder or a pipe, too large, or binary."""
    try:
        mode = path.stat().st_mode
    except OSError as err:  # missing, a link loop, no permission
        raise ModelError(f"{path}: cannot read the {what} ({err.strerror or err})") from None
    if stat.S_ISDIR(mode):
        raise ModelError(f"{path} is a folder; expected the {what} file")
    if not stat.S_ISREG(mode):
        raise ModelError(f"{path} is not a regular file (a pipe or a device); expected the {what}")
    try:
        with path.open("rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as err:
        raise ModelError(f"{path}: cannot read the {what} ({err.strerror or err})") from None
    if len(raw) > max_bytes:
        raise ModelError(f"{path}: larger than {max_bytes:,} bytes; expected the {what}")
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
