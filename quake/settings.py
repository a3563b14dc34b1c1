"""Every ``QUAKE_*`` setting, read in one place (the CLI and the dashboard share them).

Folders resolve to absolute paths (relative values against the project root, not the
working directory), so ``python -m quake`` and ``streamlit run app.py`` see the same
models and caches wherever they are started from. Each function reads the environment
when called: tests change a setting with ``monkeypatch.setenv``.

=========================  ==========================================================
variable                   meaning (default)
=========================  ==========================================================
``QUAKE_MODELS_DIR``       saved models (``models/`` in the project)
``QUAKE_CACHE_DIR``        map forecasts cache (``data/cache/``)
``QUAKE_DOWNLOAD_DIR``     USGS download cache (``data/downloads/``)
``QUAKE_CATALOG``          the reference catalog file (found beside the project if unset)
``QUAKE_CATALOG_DIRS``     extra folders the dashboard's path field may read
                           (``os.pathsep``-separated; ``data/`` and the reference data
                           folder are always allowed)
``QUAKE_PATH_FIELD``       ``0`` turns the Catalog page's path field off (on)
``QUAKE_READONLY``         ``1`` for seminars: no training, no delete, no path field (off)
``QUAKE_DEVICE``           torch device for training from the dashboard (auto)
``QUAKE_CHECKPOINT_DIR``   training checkpoints (``artifacts/checkpoints/``)
``QUAKE_FUSED_CELL``       ConvLSTM cell update as one compiled kernel: ``auto`` (on
                           CUDA), ``on`` (every device, errors raised), ``off`` (off)
=========================  ==========================================================
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_NAME = "japan_usgs_1990_2019.csv"

MODELS_ENV = "QUAKE_MODELS_DIR"
CACHE_ENV = "QUAKE_CACHE_DIR"
DOWNLOAD_ENV = "QUAKE_DOWNLOAD_DIR"
CATALOG_ENV = "QUAKE_CATALOG"
CATALOG_DIRS_ENV = "QUAKE_CATALOG_DIRS"
PATH_FIELD_ENV = "QUAKE_PATH_FIELD"
READONLY_ENV = "QUAKE_READONLY"
DEVICE_ENV = "QUAKE_DEVICE"
CHECKPOINT_ENV = "QUAKE_CHECKPOINT_DIR"
CACHE_MAX_ENV = "QUAKE_CACHE_MAX_MB"
MAX_TRAININGS_ENV = "QUAKE_MAX_TRAININGS"
FUSED_CELL_ENV = "QUAKE_FUSED_CELL"
DEFAULT_CACHE_MAX_MB = 2048
DOCS_DIR = PROJECT_ROOT / "docs"

MAX_CATALOG_BYTES = 200 * 1024 * 1024
"""Largest catalog file the dashboard reads, by path or upload (``server.maxUploadSize``)."""

MAX_CATALOG_ROWS = 3_000_000
"""Most data rows a catalog read by the dashboard (upload, path, download) may have: a
200 MB file of near-empty rows would otherwise take gigabytes of parsed columns. A real
catalog row takes 40-200 bytes, so 200 MB of real rows fit."""

MAX_CLI_CATALOG_BYTES = 4 * 1024**3
"""Largest catalog file the command line reads (a person's own file, so ~20x the
dashboard's; the cap only stops a runaway read such as ``/proc/kcore``)."""

MAX_GRID_CELLS = 2_000_000
"""Largest grid a catalog may get (about Japan × 40 at 10 km); larger regions are refused."""

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return default


def _folder(name: str, default: Path) -> Path:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    path = Path(value).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def models_dir() -> Path:
    """Where saved models live: ``$QUAKE_MODELS_DIR`` or ``models/`` in the project."""
    return _folder(MODELS_ENV, PROJECT_ROOT / "models")


def cache_dir() -> Path:
    """Where map forecasts are cached: ``$QUAKE_CACHE_DIR`` or ``data/cache/``."""
    return _folder(CACHE_ENV, PROJECT_ROOT / "data" / "cache")


def cache_budget_bytes() -> int:
    """Most bytes the map forecast cache may hold (``$QUAKE_CACHE_MAX_MB``, 2,048 MB by
    default): past it, the least recently used forecasts and states are removed. Every
    visitor's catalog gets its own files, read-only mode included, so without a budget a
    room could fill the disk."""
    value = os.environ.get(CACHE_MAX_ENV, "").strip()
    try:
        mb = float(value) if value else DEFAULT_CACHE_MAX_MB
    except ValueError:
        mb = DEFAULT_CACHE_MAX_MB
    if not mb >= 0:  # NaN or negative: the default
        mb = DEFAULT_CACHE_MAX_MB
    return int(min(mb, 1e9) * 2**20)


def max_trainings() -> int:
    """Trainings the dashboard runs at once on this server (``$QUAKE_MAX_TRAININGS``, 2 by
    default, at least 1)."""
    try:
        return max(1, min(int(os.environ.get(MAX_TRAININGS_ENV, "").strip() or 2), 64))
    except ValueError:
        return 2


def download_dir() -> Path:
    """Where USGS answers are cached: ``$QUAKE_DOWNLOAD_DIR`` or ``data/downloads/``."""
    return _folder(DOWNLOAD_ENV, PROJECT_ROOT / "data" / "downloads")


def checkpoint_dir() -> Path:
    """Where training checkpoints go: ``$QUAKE_CHECKPOINT_DIR`` or ``artifacts/checkpoints/``."""
    return _folder(CHECKPOINT_ENV, PROJECT_ROOT / "artifacts" / "checkpoints")


def paper_candidates() -> list[Path]:
    """Where the paper's text (for its Table II) is looked for: beside the project."""
    return [PROJECT_ROOT.parent / "shared" / "paper.md", DOCS_DIR / "paper.md"]


def reference_candidates() -> list[Path]:
    """Places searched for the reference catalog, in order: ``$QUAKE_CATALOG``,
    ``../shared/data`` beside the project (and beside the working directory), the
    download folder."""
    out = []
    env = os.environ.get(CATALOG_ENV, "").strip()
    if env:
        out.append(Path(env).expanduser())
    out += [
        PROJECT_ROOT.parent / "shared" / "data" / REFERENCE_NAME,
        Path.cwd().parent / "shared" / "data" / REFERENCE_NAME,
        download_dir() / REFERENCE_NAME,
    ]
    return out


def catalog_roots() -> list[Path]:
    """Folders the dashboard's path field may read from (resolved, existing ones only):
    the project's ``data/``, the reference catalog's folder(s), the download folder and
    every folder in ``$QUAKE_CATALOG_DIRS``."""
    roots = [PROJECT_ROOT / "data", download_dir()]
    roots += [p.parent for p in reference_candidates()]
    extra = os.environ.get(CATALOG_DIRS_ENV, "")
    roots += [Path(p).expanduser() for p in extra.split(os.pathsep) if p.strip()]
    out: list[Path] = []
    for root in roots:
        try:
            real = root.resolve(strict=True)
        except (OSError, RuntimeError):
            continue
        if real.is_dir() and real not in out:
            out.append(real)
    return out


def readonly() -> bool:
    """Seminar mode (``QUAKE_READONLY=1``): no training, no delete, no path field."""
    return _flag(READONLY_ENV, False)


def path_field() -> bool:
    """Whether the Catalog page offers a server path field (off in read-only mode)."""
    return _flag(PATH_FIELD_ENV, True) and not readonly()


def fused_cell() -> str:
    """``$QUAKE_FUSED_CELL``: ``off`` (the default: eager everywhere), ``auto`` (a compiled
    ConvLSTM cell update on CUDA, eager where compiling fails) or ``on`` (compiled on every
    device, a failure raised). Anything else reads as ``off``. Off by default until it has
    been measured on a GPU: on this project's CPUs it is no faster (docs/NEURAL.md)."""
    value = os.environ.get(FUSED_CELL_ENV, "").strip().lower()
    if value == "auto":
        return "auto"
    return "on" if value in _TRUE else "off"


def device() -> str | None:
    """``$QUAKE_DEVICE`` (``cpu``, ``cuda``, ``cuda:1`` …) or None: pick automatically."""
    value = os.environ.get(DEVICE_ENV, "").strip()
    return value or None
