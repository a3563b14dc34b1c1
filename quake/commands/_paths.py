"""Paths, user text in command-line messages and the JSON the commands write (light: no
model or torch imports)."""

from __future__ import annotations

import argparse
import json
import math
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np

from quake.atomic import atomic_open
from quake.errors import QuakeError


def shown(text: object, limit: int = 120) -> str:
    """User text for a terminal message: one line, at most ``limit`` characters, quoted,
    control characters escaped (a hostile name cannot move the cursor or recolour)."""
    s = " ".join(str(text).split())
    return repr(s if len(s) <= limit else s[: limit - 1] + "…")


def out_file(text: str) -> Path:
    """An argparse ``type`` for an option that names a file to write: ``x.csv/`` (ending in
    a separator) names a folder, which `Path` would silently turn into the file ``x.csv``."""
    if not text or text.endswith(("/", os.sep)) or text in (".", ".."):
        raise argparse.ArgumentTypeError(f"{shown(text)} names a folder; expected a file name")
    return Path(text).expanduser()


def check_out_file(path: Path, flag: str) -> Path:
    """``flag``'s file, checked before any work is done: not a folder, a link or a device,
    and in a folder that exists or can be made (every missing folder is made on writing)."""
    name = shown(path)
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise QuakeError(f"{flag} {name} exists and is not a regular file")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise QuakeError(f"{flag} {name}: {shown(folder)} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise QuakeError(f"{flag} {name}: no permission to write in {shown(folder)}")
    return path


def check_in_file(path: Path, flag: str) -> Path:
    """``flag``'s input file, checked before any work: it exists and is a regular file
    (following links; a folder, a FIFO or a device is named for what it is)."""
    name = shown(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise QuakeError(f"{flag} {name}: no such file") from None
    except OSError as err:  # a link loop, a name too long, no permission on a folder
        raise QuakeError(f"{flag} {name}: cannot be read ({err.strerror or err})") from None
    if not stat.S_ISREG(mode):
        raise QuakeError(f"{flag} {name} is {kind_of(mode)}, not a regular file")
    return path


def kind_of(mode: int) -> str:
    """What a file of ``mode`` is, in words (for a message)."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


@contextmanager
def open_out(path: Path, flag: str, mode: str = "w", **open_args: Any) -> Iterator[IO]:
    """``flag``'s file opened for an atomic write (`quake.atomic.atomic_open`), its missing
    folders made first (as `check_out_file` promises). A failure names ``path`` and the
    option, never the temporary file beside it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(path, mode, **open_args) as fh:
            yield fh
    except OSError as err:
        raise QuakeError(f"{flag} {shown(path)}: cannot write it ({err.strerror or err})") from None


def write_out(path: Path, flag: str, text: str) -> Path:
    """``text`` written to ``flag``'s file through `open_out`."""
    with open_out(path, flag, encoding="utf-8") as fh:
        fh.write(text)
    return path


def _strict(value: Any) -> Any:
    """``value`` with every non-finite float as None and numpy scalars as Python numbers."""
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.ndarray):
        return _strict(value.tolist())
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(v) for v in value]
    return value


def json_text(doc: Any, **dumps_args: Any) -> str:
    """Strict JSON for every document the CLI prints or writes: an undefined number (NaN,
    an infinity) is ``null``, never the bare ``NaN`` most JSON readers refuse."""
    return json.dumps(_strict(doc), allow_nan=False, **dumps_args)
