"""Where catalogs may be read from: the reference catalog, and server paths a person types.

The reference catalog is never copied into the repository; it is looked for beside the
project (`quake.settings.reference_candidates`).

A path typed into the dashboard is hostile until proven otherwise. `read_catalog_file`
reads it only when its real location (every symlink followed) lies inside one of the
allowed folders (`quake.settings.catalog_roots`), it is a regular file (not a FIFO, a
device or a folder) and it is no larger than `quake.settings.MAX_CATALOG_BYTES`. A
refused path gets the same message whether or not it exists, and no byte of a refused
file is ever read.
"""

from __future__ import annotations

import os
from pathlib import Path

from quake.data.catalog.load import Catalog, read_catalog_bytes, read_regular_file
from quake.errors import CatalogError
from quake.settings import (
    CATALOG_DIRS_ENV,
    CATALOG_ENV,
    MAX_CATALOG_BYTES,
    PROJECT_ROOT,
    REFERENCE_NAME,
    catalog_roots,
    reference_candidates,
)

__all__ = [
    "REFERENCE_NAME",
    "allowed_path",
    "find_reference_catalog",
    "read_catalog_file",
    "reference_candidates",
]


def reference_env_problem() -> str | None:
    """What is wrong with ``$QUAKE_CATALOG`` when it is set but names no file (None: unset
    or a file): a typo there must be said, not replaced by another catalog."""
    env = os.environ.get(CATALOG_ENV, "").strip()
    if env and not Path(env).expanduser().is_file():
        return (
            f"{CATALOG_ENV}={env!r} is not a file; point it at the catalog CSV or unset it "
            "(then ../shared/data/japan_usgs_1990_2019.csv is used)."
        )
    return None


def find_reference_catalog() -> Path | None:
    """The first existing reference catalog path, or None on a machine without it."""
    for path in reference_candidates():
        if path.is_file():
            return path
    return None


def _inside(path: Path, roots: list[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def allowed_path(text: str | Path, roots: list[Path] | None = None) -> Path:
    """The real path of ``text`` if it lies inside an allowed folder, else `CatalogError`.

    A relative path is taken from the project folder (not the server's working
    directory). Nothing is opened here.
    """
    raw = str(text).strip()
    if not raw or "\x00" in raw or len(raw) > 4096:
        raise CatalogError("give the path of a CSV catalog file (at most 4,096 characters)")
    roots = catalog_roots() if roots is None else [r.resolve() for r in roots]
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = PROJECT_ROOT / path
    try:
        real = path.resolve()  # follows every symlink, also ones planted inside a root
    except (OSError, RuntimeError):  # a symlink loop
        real = None
    if real is None or not _inside(real, roots):
        shown = ", ".join(str(r) for r in roots) or "none"
        raise CatalogError(
            f"{raw!r} is not inside the folders this dashboard may read ({shown}). Upload "
            f"the file instead, or ask whoever runs the dashboard to add its folder to "
            f"{CATALOG_DIRS_ENV}."
        )
    return real


def read_catalog_file(
    text: str | Path, roots: list[Path] | None = None, max_bytes: int = MAX_CATALOG_BYTES
) -> Catalog:
    """Read a catalog from a path a person typed (see the module docstring)."""
    real = allowed_path(text, roots)
    # the real path, opened without following a link: nothing swapped in since the check
    raw = read_regular_file(real, repr(str(text)), max_bytes, follow=False)
    return read_catalog_bytes(raw, source=real.name)
