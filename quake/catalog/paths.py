"""Where the reference catalog lives: never copied into the repository."""

from __future__ import annotations

import os
from pathlib import Path

REFERENCE_NAME = "japan_usgs_1990_2019.csv"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
ENV_VAR = "QUAKE_CATALOG"


def reference_candidates() -> list[Path]:
    """Places searched, in order: $QUAKE_CATALOG, ../shared/data beside the project, data/."""
    out = []
    if os.environ.get(ENV_VAR):
        out.append(Path(os.environ[ENV_VAR]))
    out += [
        PROJECT_ROOT.parent / "shared" / "data" / REFERENCE_NAME,
        Path.cwd().parent / "shared" / "data" / REFERENCE_NAME,
        PROJECT_ROOT / "data" / "downloads" / REFERENCE_NAME,
    ]
    return out


def find_reference_catalog() -> Path | None:
    """The first existing reference catalog path, or None on a machine without it."""
    for path in reference_candidates():
        if path.is_file():
            return path
    return None
