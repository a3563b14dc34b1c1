"""Atomic file writes: a temporary file beside the target, flushed to disk, then renamed.

A reader sees the old file or the new one, never half of one; a failed write (a full or
read-only disk, an exception while writing) leaves no temporary file behind. Only a
regular file (or a link, which is replaced, not followed) can be replaced: a rename over a
device, a pipe or a folder named by a hostile path (``/dev/null``, as root) is refused.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


def temporary_name(path: Path) -> Path:
    """A fresh hidden name beside ``path`` (never an existing file)."""
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")


def check_replaceable(path: Path) -> None:
    """Raise `FileExistsError` if ``path`` exists as anything but a regular file or a link."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        raise FileExistsError(
            errno.EEXIST,
            "exists and is not a regular file (a folder, device or pipe); not replacing it",
            str(path),
        )


@contextmanager
def atomic_open(path: str | Path, mode: str = "w", **open_args: Any) -> Iterator[IO]:
    """``open`` for writing ``path`` atomically (``mode`` ``"w"`` or ``"wb"``)."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes whole files: mode 'w' or 'wb', not {mode!r}")
    path = Path(path)
    check_replaceable(path)
    tmp = temporary_name(path)
    try:
        with open(tmp, mode.replace("w", "x"), **open_args) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
