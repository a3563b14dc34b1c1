"""A model's stored scoring summaries: what the comparisons need without forecasting again.

Two files in the model folder, written by `quake.scoring.scorepass` (one pass through the
period's forecasts) and read in milliseconds:

    scoring.safetensors   arrays: per-block histograms, per-window sums, per-target p
    scoring.json          what they mean: period, days, Mc, targets, bin design, trims, and
                          the mainshock-target curves and scores (``mainshocks``)

Arrays (W windows, N targets pooled over windows, B blocks):

- ``blocks.<mask>`` uint32 ``(B, 2, n_kept)``: operating-curve histograms of each block of
  ``block_days`` consecutive forecast days (the remainder of the period joins the last
  block), on the coarse ``design``, bins ``[bin_lo, bin_lo + n_kept)`` kept (the others
  are empty in every block);
- ``window.start`` int32 (W,): forecast days ``start, start + window_days, ...`` (target
  windows that do not overlap); ``window.n_obs`` int32 (W,) positive cells;
  ``window.sum_p``, ``window.sum_p2``, ``window.sum_rate`` float64 (W,): sums over all
  cells of p, p^2 and -ln(1 - p) (p clipped as in `quake.metrics.csep`);
  ``window.delta1``, ``window.delta2`` float64 (W,) and ``window.q_low``, ``window.q_high``
  int32 (W,): the N-test of each window (Poisson-binomial);
- ``target.offset`` int32 (W + 1,): window w's targets are ``[offset[w], offset[w+1])``;
  ``target.cell`` int32 (N,) their cells (sorted within a window); ``target.p`` float32
  (N,) the forecast there.

Every read is bounded and checked (size, names, shapes, dtypes, finite, ranges); anything
wrong is a `ModelError` ``"<file>: <field>: <problem>"``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from quake.atomic import atomic_open
from quake.errors import ModelError, QuakeError
from quake.metrics.bins import BinDesign
from quake.metrics.curves import OperatingCurve
from quake.models.store.validate_curves import check_curve
from quake.models.store.validate_json import read_bytes, read_json
from quake.models.store.validate_values import (
    check_choice,
    check_float,
    check_int,
    check_list,
    check_object,
    check_str,
    floats,
)

SUMMARY_ARRAYS = "scoring.safetensors"
SUMMARY_META = "scoring.json"
SUMMARY_FORMAT = "quake.ScoringSummary/1"
MAX_SUMMARY_BYTES = 4 << 20  # the arrays; a test-period summary is ~0.3 MB
MAX_META_BYTES = 2 << 20
MAX_WINDOWS = 10_000
MAX_TARGETS = 5_000_000
MAX_BLOCKS = 10_000
MASKS = ("all", "active")


@dataclass
class ScoringSummary:
    """One model's scoring summary of one period (see the module docstring for the arrays).

    ``block_hist``: ``{mask: (B, 2, n_bins) int64}`` on ``design`` (untrimmed in memory).
    ``mainshocks``: ``{"targets": kind, "curves": {mask: OperatingCurve}, "scores":
    {mask: summary}}`` or None.
    """

    period: str
    start: int
    stop: int
    mc: float
    targets: str
    fingerprint: str
    n_cells: int
    block_days: int
    window_days: int
    design: BinDesign
    block_hist: dict[str, np.ndarray]
    window: dict[str, np.ndarray]
    target_offset: np.ndarray
    target_cell: np.ndarray
    target_p: np.ndarray
    mainshocks: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    fine: dict[str, dict[str, float | None]] = field(default_factory=dict)
    """``{mask: {"roc_auc", "pr_auc"}}`` of the whole period on the fine bins (curves.json's
    values), which centre the bootstrap intervals (`quake.metrics.bootstrap`)."""

    @property
    def n_windows(self) -> int:
        return len(self.target_offset) - 1

    @property
    def n_blocks(self) -> int:
        return next(iter(self.block_hist.values())).shape[0] if self.block_hist else 0

    def same_targets(self, other: ScoringSummary) -> str | None:
        """Why two summaries cannot be paired (other data, period or windows), or None."""
        for key in ("period", "start", "stop", "mc", "targets", "fingerprint", "window_days"):
            if getattr(self, key) != getattr(other, key):
                return f"{key} differs ({getattr(self, key)} vs {getattr(other, key)})"
        if self.block_days != other.block_days:
            return f"block_days differs ({self.block_days} vs {other.block_days})"
        if not (
            np.array_equal(self.target_offset, other.target_offset)
            and np.array_equal(self.target_cell, other.target_cell)
        ):
            return "the target cells differ (another catalog or target definition)"
        return None


# -- writing --------------------------------------------------------------------------------
def _trim(h: np.ndarray) -> tuple[int, np.ndarray]:
    used = np.flatnonzero(h.sum(axis=(0, 1)))
    if not used.size:
        return 0, h[:, :, :0]
    lo, hi = int(used[0]), int(used[-1]) + 1
    return lo, h[:, :, lo:hi]


def save_summary(folder: str | Path, s: ScoringSummary) -> tuple[Path, Path]:
    """Write ``s`` into a model folder (both files atomically); returns their paths."""
    from safetensors.numpy import save

    folder = Path(folder)
    arrays: dict[str, np.ndarray] = {}
    trims = {}
    for mask, h in s.block_hist.items():
        if h.max(initial=0) >= 2**32:
            raise ModelError(f"block histogram counts of mask {mask} overflow uint32")
        lo, kept = _trim(h)
        trims[mask] = lo
        arrays[f"blocks.{mask}"] = np.ascontiguousarray(kept, dtype=np.uint32)
    for key, a in s.window.items():
        arrays[f"window.{key}"] = np.ascontiguousarray(a)
    arrays["target.offset"] = np.ascontiguousarray(s.target_offset, dtype=np.int32)
    arrays["target.cell"] = np.ascontiguousarray(s.target_cell, dtype=np.int32)
    arrays["target.p"] = np.ascontiguousarray(s.target_p, dtype=np.float32)
    meta = {
        "format": SUMMARY_FORMAT,
        "period": s.period,
        "start": s.start,
        "stop": s.stop,
        "mc": s.mc,
        "targets": s.targets,
        "fingerprint": s.fingerprint,
        "n_cells": s.n_cells,
        "block_days": s.block_days,
        "window_days": s.window_days,
        "design": s.design.to_dict(),
        "bin_lo": trims,
        "fine": s.fine,
        **s.meta,
    }
    if s.mainshocks is not None:
        meta["mainshocks"] = {
            "targets": s.mainshocks["targets"],
            "curves": {m: c.to_dict() for m, c in s.mainshocks["curves"].items()},
            "scores": s.mainshocks["scores"],
        }
    pa, pm = folder / SUMMARY_ARRAYS, folder / SUMMARY_META
    with atomic_open(pa, "wb") as fh:
        fh.write(save(arrays))
    with atomic_open(pm, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(meta, separators=(",", ":")))
    return pa, pm


# -- reading --------------------------------------------------------------------------------
def has_summary(folder: str | Path) -> bool:
    """Whether a model folder holds a scoring summary."""
    return (Path(folder) / SUMMARY_META).is_file() and (Path(folder) / SUMMARY_ARRAYS).is_file()


def _array(arrays: dict, name: str, dtype: Any, shape: tuple[int, ...]) -> np.ndarray:
    if name not in arrays:
        raise ModelError(f"{name}: missing")
    a = arrays[name]
    if a.dtype != np.dtype(dtype):
        raise ModelError(f"{name}: dtype {a.dtype}, expected {np.dtype(dtype)}")
    if a.shape != shape:
        raise ModelError(f"{name}: shape {a.shape}, expected {shape}")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise ModelError(f"{name}: NaN or infinite values")
    return a


def _check_meta(doc: dict) -> dict:
    if doc.get("format") != SUMMARY_FORMAT:
        raise ModelError(
            f"format: expected {SUMMARY_FORMAT!r}, got {str(doc.get('format'))[:40]!r}"
        )
    check_choice(doc.get("period"), "period", ("test", "validation"))
    start = check_int(doc.get("start"), "start", 0, 10**6)
    check_int(doc.get("stop"), "stop", start + 1, 10**6)
    check_float(doc.get("mc"), "mc", -2.0, 10.0)
    check_str(doc.get("targets"), "targets", 40)
    check_str(doc.get("fingerprint"), "fingerprint", 200)
    check_int(doc.get("n_cells"), "n_cells", 1, 10**7)
    check_int(doc.get("block_days"), "block_days", 1, 10**5)
    check_int(doc.get("window_days"), "window_days", 1, 10**5)
    des = check_object(doc.get("design"), "design")
    check_float(des.get("logit_max"), "design.logit_max", 0.0, 1000.0, lo_open=True)
    check_int(des.get("n_cells"), "design.n_cells", 2, 100_000)
    check_list(des.get("snap"), "design.snap", floats(0.0, 1.0, True), 0, 64)
    bin_lo = check_object(doc.get("bin_lo"), "bin_lo", 4)
    for mask, lo in bin_lo.items():
        check_choice(mask, "bin_lo", MASKS)
        check_int(lo, f"bin_lo.{mask}", 0, des["n_cells"] + 1)
    if "seconds" in doc:
        check_float(doc["seconds"], "seconds", 0.0, 1e7)
    for mask, v in check_object(doc.get("fine", {}), "fine", 4).items():
        check_choice(mask, "fine", MASKS)
        for key in ("roc_auc", "pr_auc"):
            value = check_object(v, f"fine.{mask}").get(key)
            if value is not None:
                check_float(value, f"fine.{mask}.{key}", 0.0, 1.0)
    main = doc.get("mainshocks")
    if main is not None:
        check_object(main, "mainshocks")
        check_str(main.get("targets"), "mainshocks.targets", 40)
        for mask, c in check_object(main.get("curves"), "mainshocks.curves", 4).items():
            check_choice(mask, "mainshocks.curves", MASKS)
            check_curve(c, f"mainshocks.curves.{mask}")
        check_object(main.get("scores"), "mainshocks.scores", 4)
    return doc


def load_summary(folder: str | Path) -> ScoringSummary:
    """A model folder's scoring summary, every file bounded and checked; `ModelError`
    ``"<file>: <field>: <problem>"`` (or that the folder has none: run scripts/rescore.py)."""
    from safetensors.numpy import load

    folder = Path(folder)
    pm, pa = folder / SUMMARY_META, folder / SUMMARY_ARRAYS
    if not has_summary(folder):
        raise ModelError(
            f"{folder}: no scoring summary ({SUMMARY_META} + {SUMMARY_ARRAYS}); compute it "
            f"with: python scripts/rescore.py {folder}"
        )
    try:
        doc = _check_meta(read_json(pm, MAX_META_BYTES))
    except ModelError as err:
        raise ModelError(f"{pm}: {err}" if not str(err).startswith(str(pm)) else str(err)) from None
    raw = read_bytes(pa, MAX_SUMMARY_BYTES, "summary file")
    try:
        arrays = load(raw)
    except Exception as err:  # safetensors raises its own error types
        raise ModelError(f"{pa}: not a valid safetensors file ({err})") from None
    try:
        return _from_arrays(doc, arrays, pm)
    except ModelError as err:
        raise ModelError(f"{pa}: {err}") from None


def _from_arrays(doc: dict, arrays: dict[str, np.ndarray], meta_path: Path) -> ScoringSummary:
    des = doc["design"]
    design = BinDesign(float(des["logit_max"]), int(des["n_cells"]), tuple(map(float, des["snap"])))
    n_bins = design.n_bins
    win_names = ("start", "n_obs", "sum_p", "sum_p2", "sum_rate", "delta1", "delta2")
    expected = {f"blocks.{m}" for m in doc["bin_lo"]} | {f"window.{k}" for k in win_names}
    expected |= {"window.q_low", "window.q_high", "target.offset", "target.cell", "target.p"}
    extra = sorted(set(arrays) - expected)
    if extra:
        raise ModelError(f"unexpected arrays {extra[:5]}")
    start, stop, n_cells = doc["start"], doc["stop"], doc["n_cells"]
    n_days = stop - start
    n_blocks = max(1, n_days // doc["block_days"])
    blocks = {}
    for mask, lo in doc["bin_lo"].items():
        name = f"blocks.{mask}"
        if name not in arrays:
            raise ModelError(f"{name}: missing")
        a = arrays[name]
        kept = a.shape[2] if a.ndim == 3 else -1
        a = _array(arrays, name, np.uint32, (n_blocks, 2, kept))
        if lo + kept > n_bins:
            raise ModelError(f"{name}: bins [{lo}, {lo + kept}) exceed the design's {n_bins}")
        if a.sum(dtype=np.int64) > n_days * n_cells:
            raise ModelError(f"{name}: more pairs than the period has ({n_days} days x {n_cells})")
        full = np.zeros((n_blocks, 2, n_bins), dtype=np.int64)
        full[:, :, lo : lo + kept] = a
        blocks[mask] = full
    w_start = arrays.get("window.start")
    if w_start is None:
        raise ModelError("window.start: missing")
    n_win = len(w_start) if w_start.ndim == 1 else -1
    if not 1 <= n_win <= MAX_WINDOWS:
        raise ModelError(
            f"window.start: expected 1 to {MAX_WINDOWS} windows, got shape {w_start.shape}"
        )
    window = {}
    for key in ("start", "n_obs", "q_low", "q_high"):
        window[key] = _array(arrays, f"window.{key}", np.int32, (n_win,))
    for key in ("sum_p", "sum_p2", "sum_rate", "delta1", "delta2"):
        window[key] = _array(arrays, f"window.{key}", np.float64, (n_win,))
    want = start + doc["window_days"] * np.arange(n_win)
    if not np.array_equal(window["start"], want) or want[-1] >= stop:
        raise ModelError("window.start: not the period's windows start, start + window_days, ...")
    for key in ("n_obs", "q_low", "q_high"):
        if (window[key] < 0).any() or (window[key] > n_cells).any():
            raise ModelError(f"window.{key}: values must lie in [0, {n_cells}]")
    for key in ("sum_p", "sum_p2", "sum_rate"):
        if (window[key] < 0).any():
            raise ModelError(f"window.{key}: values must be >= 0")
    if (window["sum_p"] > n_cells).any() or (window["sum_p2"] > window["sum_p"] + 1e-6).any():
        raise ModelError("window.sum_p: sums exceed what probabilities of n_cells can give")
    for key in ("delta1", "delta2"):
        if ((window[key] < 0) | (window[key] > 1)).any():
            raise ModelError(f"window.{key}: values must lie in [0, 1]")
    off = _array(arrays, "target.offset", np.int32, (n_win + 1,))
    n_t = int(off[-1])
    if off[0] != 0 or (np.diff(off) < 0).any() or not 0 <= n_t <= MAX_TARGETS:
        raise ModelError("target.offset: must rise from 0 to the number of targets")
    if not np.array_equal(np.diff(off), window["n_obs"]):
        raise ModelError("target.offset: targets per window differ from window.n_obs")
    cell = _array(arrays, "target.cell", np.int32, (n_t,))
    if n_t and ((cell < 0).any() or (cell >= n_cells).any()):
        raise ModelError(f"target.cell: cells must lie in [0, {n_cells})")
    p = _array(arrays, "target.p", np.float32, (n_t,))
    if n_t and ((p < 0).any() or (p > 1).any()):
        raise ModelError("target.p: probabilities must lie in [0, 1]")
    mainshocks = None
    if doc.get("mainshocks") is not None:
        m = doc["mainshocks"]
        try:
            curves = {k: OperatingCurve.from_dict(c) for k, c in m["curves"].items()}
        except (QuakeError, KeyError, TypeError, ValueError, ArithmeticError) as err:
            raise ModelError(f"{meta_path}: mainshocks.curves: {err}") from None
        mainshocks = {"targets": m["targets"], "curves": curves, "scores": m["scores"]}
    return ScoringSummary(
        period=doc["period"],
        start=start,
        stop=stop,
        mc=float(doc["mc"]),
        targets=doc["targets"],
        fingerprint=doc["fingerprint"],
        n_cells=n_cells,
        block_days=doc["block_days"],
        window_days=doc["window_days"],
        design=design,
        block_hist=blocks,
        window=window,
        target_offset=off,
        target_cell=cell,
        target_p=p,
        mainshocks=mainshocks,
        meta={"seconds": doc["seconds"]} if "seconds" in doc else {},
        fine={
            m: {k: v.get(k) for k in ("roc_auc", "pr_auc")} for m, v in doc.get("fine", {}).items()
        },
    )
