"""The saved models a person works with: folders in ``models/``, their cards and curves.

A model folder holds ``model.json`` (see `quake.models.base`) and, once scored,
``curves.json`` with one operating curve per (period, mask). This module reads
both without loading weights, builds the comparison table and answers the
alarm-budget question; nothing here imports streamlit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quake.errors import ModelError
from quake.metrics.curves import OperatingCurve
from quake.models.presets import NEURAL_KINDS
from quake.settings import models_dir

MODEL_FILE = "model.json"
CURVES_FILE = "curves.json"


@dataclass(frozen=True)
class ModelCard:
    """What ``model.json`` says about a saved model (no weights loaded).

    ``error`` is set (and most fields are None) when the file cannot be read, so one
    broken folder never hides the others.
    """

    name: str
    folder: Path
    kind: str | None = None
    label: str | None = None
    mc: float | None = None
    preset: str | None = None
    protocol: str | None = None
    fingerprint: str | None = None
    fit_seconds: float | None = None
    saved: str | None = None
    final: bool | None = None
    model_args: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, Any] = field(default_factory=dict)
    device: str | None = None  # where a neural model was trained (train_args.device)
    error: str | None = None

    def score(self, key: str, period: str = "test", mask: str = "all") -> float | None:
        """A number from ``scores[period][mask][key]`` (None when absent)."""
        value = self.scores.get(period, {}).get(mask, {}).get(key)
        return float(value) if isinstance(value, int | float) else None

    @property
    def trained_on(self) -> str:
        """Where a neural model was trained, as text ('on a GPU'); empty for the others."""
        return {"cuda": "on a GPU", "cpu": "on a CPU"}.get(self.device or "", "")

    @property
    def has_curves(self) -> bool:
        return (self.folder / CURVES_FILE).is_file()


def _float(x: Any) -> float | None:
    try:
        return float(x) if x is not None else None
    except (TypeError, ValueError):
        return None


def read_card(folder: str | Path) -> ModelCard:
    """The card of one saved model folder, or an error card: model.json goes through the
    loader's own checks (`quake.models.validate.check_model_file`: size, depth, schema, a
    registered kind, config bounds, protocol), so whatever a folder holds this never raises
    and a good card has well-typed fields."""
    import logging

    from quake.models.validate import check_model_file

    folder = Path(folder)

    def error(text: str) -> ModelCard:  # paths shown relative to the models folder
        shown = text.replace(str(folder), folder.name)
        return ModelCard(name=folder.name, folder=folder, error=shown)

    try:
        checked = check_model_file(folder / MODEL_FILE)
    except ModelError as err:  # "<folder>/model.json: <field>: <problem>"
        return error(f"cannot read {err}")
    except Exception as err:  # not expected: still one error card, never a broken page
        logging.getLogger(__name__).exception("reading %s", folder / MODEL_FILE)
        return error(f"cannot read {MODEL_FILE} ({type(err).__name__})")
    doc = checked.doc
    times = [_float(doc.get(k)) for k in ("fit_seconds", "train_seconds")]
    targs = doc.get("train_args") or {}
    return ModelCard(
        name=folder.name,
        folder=folder,
        kind=checked.kind,
        label=doc.get("label"),
        mc=checked.mc,
        preset=doc.get("preset"),
        protocol=checked.protocol.name,
        fingerprint=doc.get("fingerprint"),
        fit_seconds=next((v for v in times if v is not None), None),
        saved=doc.get("saved"),
        final=doc.get("final"),
        model_args=checked.config.to_dict(),
        scores=doc.get("scores") or {},
        device=targs.get("device"),
    )


def list_models(root: str | Path | None = None) -> list[ModelCard]:
    """Every folder under ``root`` with a ``model.json``, sorted by name."""
    root = Path(root) if root is not None else models_dir()
    if not root.is_dir():
        return []
    folders = sorted(
        p
        for p in root.iterdir()
        if not p.name.startswith(".") and p.is_dir() and (p / MODEL_FILE).is_file()
    )
    return [read_card(p) for p in folders]


def full_resolution_net(card: ModelCard) -> bool:
    """A neural model run on the 10 km cells (``pool`` 1, the paper preset): forecasting the
    whole test period takes it many minutes on a CPU (about 10 days/s on 2 cores)."""
    return (card.kind or "") in NEURAL_KINDS and int(card.model_args.get("pool", 1) or 1) == 1


def best_model(
    cards: list[ModelCard], mc: float = 5.0, prefer_fast: bool = False
) -> ModelCard | None:
    """The model with the highest test PR AUC (all cells) at ``mc``; else the first card.

    ``prefer_fast``: pass over full-resolution nets when another model is scored (the map
    page: their first forecast of the test period takes many minutes on a CPU).
    """
    ok = [c for c in cards if c.error is None]
    if prefer_fast and any(not full_resolution_net(c) for c in ok):
        ok = [c for c in ok if not full_resolution_net(c)]
    scored = [c for c in ok if c.mc == mc and c.score("pr_auc") is not None]
    if scored:
        return max(scored, key=lambda c: c.score("pr_auc") or 0.0)
    return ok[0] if ok else None


def default_curves(curves: dict[str, OperatingCurve], best: int = 5) -> list[str]:
    """Names to draw by default: the naive baselines and the ``best`` others by PR AUC
    (in the given order)."""
    naive = {n for n in curves if n.startswith("naive")}
    others = sorted((n for n in curves if n not in naive), key=lambda n: -curves[n].pr_auc())
    keep = naive | set(others[:best])
    return [n for n in curves if n in keep]


def models_signature(root: str | Path | None = None) -> tuple[tuple[str, float], ...]:
    """``(name, mtime)`` of each model.json and curves.json: changes when a model changes."""
    root = Path(root) if root is not None else models_dir()
    if not root.is_dir():
        return ()
    out = []
    for p in sorted(root.iterdir()):
        if p.name.startswith("."):  # claims and temporary folders of running jobs
            continue
        for f in (p / MODEL_FILE, p / CURVES_FILE):
            if f.is_file():
                out.append((f"{p.name}/{f.name}", f.stat().st_mtime))
    return tuple(out)


# -- curves -------------------------------------------------------------------------------
def _parse_curves(doc: Any) -> dict[str, dict[str, OperatingCurve]]:
    """``{period: {mask: curve}}`` from the JSON of curves.json (nested or "period/mask" keys)."""
    out: dict[str, dict[str, OperatingCurve]] = {}
    if not isinstance(doc, dict):
        return out
    doc = doc.get("curves", doc)
    for key, value in doc.items():
        if not isinstance(value, dict):
            continue
        if "format" in value and "/" in str(key):
            period, mask = str(key).split("/", 1)
            out.setdefault(period, {})[mask] = OperatingCurve.from_dict(value)
            continue
        for mask, cd in value.items():
            if isinstance(cd, dict) and "format" in cd:
                out.setdefault(str(key), {})[str(mask)] = OperatingCurve.from_dict(cd)
    return out


def load_curves(folder: str | Path) -> dict[str, dict[str, OperatingCurve]]:
    """A model's saved operating curves as ``{period: {mask: OperatingCurve}}`` ({} if none).

    Prefers `quake.scoring.evaluate.load_curves` when present (the evaluator owns the format).
    """
    folder = Path(folder)
    try:
        from quake.scoring.evaluate import load_curves as _evaluate_load  # type: ignore[attr-defined]
    except ImportError:
        _evaluate_load = None
    if _evaluate_load is not None:
        try:
            got = _evaluate_load(folder)  # checks the file (`quake.models.validate`)
        except ModelError:
            raise
        except Exception as err:  # a broken file is reported as a ModelError, never a crash
            raise ModelError(f"{folder}: cannot read the operating curves ({err})") from None
        return _normalise_curves(got)
    from quake.models.validate import MAX_CURVES_BYTES, read_json

    path = folder / CURVES_FILE
    if not path.is_file():
        return {}
    try:
        return _parse_curves(read_json(path, MAX_CURVES_BYTES))
    except (ValueError, KeyError, TypeError, ArithmeticError) as err:
        raise ModelError(f"{path}: cannot read the operating curves ({err})") from None


def _normalise_curves(got: Any) -> dict[str, dict[str, OperatingCurve]]:
    if not isinstance(got, dict):
        return {}
    out: dict[str, dict[str, OperatingCurve]] = {}
    for key, value in got.items():
        if isinstance(value, OperatingCurve):
            if isinstance(key, tuple) and len(key) == 2:
                out.setdefault(str(key[0]), {})[str(key[1])] = value
            elif "/" in str(key):
                period, mask = str(key).split("/", 1)
                out.setdefault(period, {})[mask] = value
        elif isinstance(value, dict):
            for mask, curve in value.items():
                if isinstance(curve, OperatingCurve):
                    out.setdefault(str(key), {})[str(mask)] = curve
    return out


# -- the comparison table -----------------------------------------------------------------
TABLE_COLUMNS = {"roc_auc": "ROC AUC", "pr_auc": "PR AUC"}
"""The paper's Table II scores (the Molchan diagram is drawn, not tabulated: its area skill
is close to the ROC AUC when targets are rare)."""


def scores_table(cards: list[ModelCard], period: str = "test") -> pd.DataFrame:
    """Table II: one row per model, ROC and PR AUC for each mask.

    Columns: ``model, kind, Mc`` then ``"<score> (<mask>)"`` for masks all and active,
    then ``probability gain @1% (all)``. Missing scores are NaN.
    """
    rows = []
    for c in cards:
        if c.error:
            continue
        row: dict[str, Any] = {"model": c.name, "kind": c.kind, "Mc": c.mc}
        for mask in ("all", "active"):
            for key, title in TABLE_COLUMNS.items():
                v = c.score(key, period, mask)
                row[f"{title} ({mask})"] = math.nan if v is None else v
        gain = c.scores.get(period, {}).get("all", {}).get("probability_gain") or {}
        g1 = gain.get("0.01") if isinstance(gain, dict) else None
        row["gain @1% (all)"] = _float(g1) if g1 is not None else math.nan
        rows.append(row)
    cols = (
        ["model", "kind", "Mc"]
        + [f"{t} ({m})" for m in ("all", "active") for t in TABLE_COLUMNS.values()]
        + ["gain @1% (all)"]
    )
    df = pd.DataFrame(rows, columns=cols)
    return df.sort_values(["Mc", "model"], ascending=[False, True], kind="stable").reset_index(
        drop=True
    )


# -- alarm budget -------------------------------------------------------------------------
def threshold_for_alarm_fraction(curve: OperatingCurve, fraction: float) -> float:
    """The highest bin edge whose alarms (p >= edge) cover at least ``fraction`` of the pairs.

    That is the sparsest alarm set with alarm fraction >= ``fraction`` (ties within a bin
    are alarmed together, so the fraction reached may be a little higher). O(log n_bins).
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"alarm fraction must lie in (0, 1], got {fraction}")
    pts = curve.operating_points()
    alarms = (pts["tp"] + pts["fp"]).astype(np.float64)  # non-increasing in the edge index
    need = fraction * curve.n_pairs
    r = int(np.searchsorted(alarms[::-1], need, side="left"))
    k = max(0, len(alarms) - 1 - r)
    return float(curve.edges[k])


def operating_row(curve: OperatingCurve, threshold: float) -> dict[str, float | int]:
    """Counts at ``threshold`` plus alarm fraction, miss rate, precision and recall."""
    c = curve.counts_at(float(threshold))
    tp, fn, fp, tn = c["tp"], c["fn"], c["fp"], c["tn"]
    n = curve.n_pairs
    return {
        "threshold": float(threshold),
        "edge": c["edge"],
        "tp": tp,
        "fn": fn,
        "fp": fp,
        "tn": tn,
        "alarm_fraction": (tp + fp) / n if n else math.nan,
        "miss_rate": fn / (tp + fn) if tp + fn else math.nan,
        "precision": tp / (tp + fp) if tp + fp else math.nan,
        "recall": tp / (tp + fn) if tp + fn else math.nan,
    }


def alarm_budget_table(curves: dict[str, OperatingCurve], fraction: float) -> pd.DataFrame:
    """For each model's curve, the operating point at a fixed alarm fraction (misses compared)."""
    rows = []
    for name, curve in curves.items():
        thr = threshold_for_alarm_fraction(curve, fraction)
        rows.append({"model": name, **operating_row(curve, thr)})
    cols = [
        "model",
        "threshold",
        "edge",
        "tp",
        "fn",
        "fp",
        "tn",
        "alarm_fraction",
        "miss_rate",
        "precision",
        "recall",
    ]
    return pd.DataFrame(rows, columns=cols)
