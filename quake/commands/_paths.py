"""Paths and user text in command-line messages (light: no model or torch imports)."""

from __future__ import annotations

import os
from pathlib import Path

from quake.errors import QuakeError


def shown(text: object, limit: int = 120) -> str:
    """User text for a terminal message: one line, at most ``limit`` characters, quoted,
    control characters escaped (a hostile name cannot move the cursor or recolour)."""
    s = " ".join(str(text).split())
    return repr(s if len(s) <= limit else s[: limit - 1] + "…")


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
