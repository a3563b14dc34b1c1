"""A model folder's files: their names, atomic writes, curves.json, and the folders of a root.

A saved model is a folder::

    model.json          kind, model_args, protocol, mc, data fingerprint, scores, versions
    *.safetensors       arrays and torch weights (never pickle)
    *.ubj               xgboost boosters, in xgboost's own format
    curves.json         operating curves per (period, mask), see `quake.metrics.curves`

Every write goes to a temporary file in the folder and is renamed over the old file, so a
reader (the dashboard, a report) sees the old file or the new one, never half of one.
Every read is bounded and checked (`quake.models.store.validate_json`, ``validate_curves``).
"""

from __future__ import annotations

import json
import platform
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from quake.atomic import atomic_open
from quake.errors import ModelError, QuakeError
from quake.metrics.curves import OperatingCurve
from quake.models.store.validate_curves import check_curves
from quake.models.store.validate_json import MAX_CURVES_BYTES, MAX_JSON_BYTES, read_json
from quake.models.store.validate_model import FORMAT_VERSION

NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
"""The model-folder grammar: no separator, no leading dot, no markup, at most 64 characters."""
NAME_RE = re.compile(NAME_PATTERN)
NAME_RULE = (
    "1–64 characters: letters, digits, '.', '_' or '-', starting with a letter or a digit "
    "(no '/', no spaces)"
)

MODEL_FILE = "model.json"
CURVES_FILE = "curves.json"

Curves = dict[str, dict[str, OperatingCurve]]
"""``{period: {mask: OperatingCurve}}``."""


# -- writing --------------------------------------------------------------------------------
def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_json(path: str | Path, doc: Any, **dump_args: Any) -> Path:
    """``doc`` as JSON (numpy scalars and arrays as numbers and lists) to ``path``, atomically:
    a temporary file next to it, flushed to disk, then renamed over ``path``."""
    path = Path(path)
    text = json.dumps(doc, default=_json_default, **dump_args)
    with atomic_open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path


def versions() -> dict[str, str]:
    """Versions of Python and the packages a saved model depends on."""
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("numpy", "torch", "xgboost-cpu", "scikit-learn"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def model_doc(kind: str, label: str, model_args: dict, meta: dict[str, Any]) -> dict[str, Any]:
    """A model.json document: format, kind, label, config, the model's ``meta`` (protocol,
    Mc, fingerprint, the fit's record), then provenance (versions, the save time, UTC)."""
    return {
        "format": FORMAT_VERSION,
        "kind": kind,
        "label": label,
        "model_args": model_args,
        **meta,
        "versions": versions(),
        "saved": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write_model_json(folder: str | Path, doc: dict[str, Any]) -> Path:
    """Write ``doc`` as the folder's model.json (atomically); returns its path."""
    return write_json(Path(folder) / MODEL_FILE, doc, indent=1)


def save_scores(
    folder: str | Path,
    scores: dict[str, dict[str, dict]],
    curves: Curves | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Merge ``scores`` ``{period: {mask: summary}}`` (and ``extra`` keys) into model.json and
    ``curves`` ``{period: {mask: curve}}`` into curves.json of a saved model folder."""
    folder = Path(folder)
    doc = read_json(folder / MODEL_FILE, MAX_JSON_BYTES)
    doc.setdefault("scores", {})
    for period, per_mask in scores.items():
        doc["scores"].setdefault(period, {}).update(per_mask)
    doc.update(extra or {})
    write_model_json(folder, doc)
    if curves:
        path = folder / CURVES_FILE
        saved = read_json(path, MAX_CURVES_BYTES) if path.is_file() else {}
        for period, per_mask in curves.items():
            saved.setdefault(period, {}).update({m: c.to_dict() for m, c in per_mask.items()})
        write_json(path, saved, separators=(",", ":"))


# -- reading --------------------------------------------------------------------------------
def load_curves(folder: str | Path) -> Curves:
    """``{period: {mask: OperatingCurve}}`` from a model folder's curves.json ({} if none);
    a `ModelError` naming the file and the curve when it is malformed (`check_curves`)."""
    path = Path(folder) / CURVES_FILE
    if not path.exists():
        return {}
    doc = check_curves(read_json(path, MAX_CURVES_BYTES), path)
    out: Curves = {}
    for period, per_mask in doc.items():
        for mask, d in per_mask.items():
            try:
                out.setdefault(period, {})[mask] = OperatingCurve.from_dict(d)
            except (QuakeError, KeyError, TypeError, ValueError, ArithmeticError) as err:
                raise ModelError(f"{path}: {period}.{mask}: {err}") from None
    return out


def model_folders(root: str | Path) -> list[Path]:
    """Every folder of ``root`` with a model.json, sorted by name; dot-folders (claims and
    temporary folders of running jobs) are skipped."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(
        p
        for p in root.iterdir()
        if not p.name.startswith(".") and p.is_dir() and (p / MODEL_FILE).is_file()
    )
