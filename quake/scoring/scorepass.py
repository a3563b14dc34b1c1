"""One scoring pass: a period's forecasts read once, everything the comparisons need kept.

`evaluate` (in `quake.scoring.evaluate`) calls each observer's ``update(day0, probs, bins)``
with every block of forecasts ``probs`` ``(n_days, ny, nx)`` starting at forecast day
``day0`` and their bins in the default design (binned once for every curve). The observers
here keep:

- `BlockHistograms`: the operating-curve histograms of each block of ``block_days``
  (50) consecutive forecast days from the period's start, on a coarse bin design
  (`COARSE_DESIGN`: logit cells of width 0.0625, the protocol thresholds snapped) so that
  a test period fits in ~0.3 MB; the remainder of the period (fewer than ``block_days``
  days) joins the last block, so every pair is counted once. For `quake.metrics.bootstrap`.
- `WindowStats`: on the forecast days ``start, start + W, start + 2W, ...`` with W the
  protocol's target window (horizon - lead = 40 days, so the target windows do not
  overlap), the sums of p, p^2 and -ln(1 - p) over all cells, the positive cells with
  their p, and the N-test; for `quake.metrics.csep`.
- `CurveObserver`: operating curves of other targets (the mainshocks of a declustered
  catalog) from the same forecasts.

`score_pass` runs them with the main curves and returns `(curves, ScoringSummary)`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from quake.data.forecast_data import ForecastData
from quake.metrics import csep
from quake.metrics.bins import DEFAULT_DESIGN, BinDesign
from quake.metrics.curves import OperatingCurve
from quake.metrics.groups import CellGroups
from quake.models.base import Forecaster
from quake.models.store.summaries import ScoringSummary
from quake.progress import OnProgress
from quake.scoring.evaluate import MASKS, evaluate, prior_for, score_model

BLOCK_DAYS = 50
COARSE_DESIGN = BinDesign(logit_max=20.0, n_cells=640)
"""Block histograms: 642 bins (logit width 0.0625, a 6 % step in the odds); the bins that
are empty in every block are not stored."""


class BlockHistograms:
    """Per-block operating-curve histograms ``{mask: (n_blocks, 2, n_bins) int64}``."""

    def __init__(
        self,
        data: ForecastData,
        period: str,
        masks: Sequence[str] = MASKS,
        block_days: int = BLOCK_DAYS,
        design: BinDesign = COARSE_DESIGN,
    ) -> None:
        self.start, self.stop = data.days(period)
        self.block_days = int(block_days)
        self.n_blocks = max(1, (self.stop - self.start) // self.block_days)
        self.design = design
        self.targets = data.targets
        self.groups = CellGroups({m: data.mask(m) for m in masks})
        self.hist = {m: np.zeros((self.n_blocks, 2, design.n_bins), np.int64) for m in masks}
        self._coarser: dict[bool, np.ndarray | None] = {}

    def block_of(self, day: np.ndarray) -> np.ndarray:
        """Block index of forecast days (the short remainder joins the last block)."""
        return np.minimum((np.asarray(day) - self.start) // self.block_days, self.n_blocks - 1)

    def update(self, day0: int, probs: np.ndarray, bins: np.ndarray) -> None:
        n = probs.shape[0]
        y = self.targets.dense(day0, day0 + n).reshape(n, -1).view(bool)
        wide = probs.dtype == np.float64
        if wide not in self._coarser:
            self._coarser[wide] = DEFAULT_DESIGN.coarser(self.design, probs.dtype)
        to_coarse = self._coarser[wide]
        if to_coarse is not None:  # the fine bins map onto the coarse ones exactly
            k = np.take(to_coarse, bins)
        else:
            k = self.design.bin_index(probs).reshape(n, -1)
        blk = self.block_of(np.arange(day0, day0 + n))
        first = int(blk[0])
        rows = blk - first
        hist, _ = self.groups.count(k, y, self.design.n_bins, rows=rows, n_rows=int(rows[-1]) + 1)
        for m, h in self.groups.per_mask(hist).items():
            self.hist[m][first : first + len(h)] += h


class WindowStats:
    """CSEP sums of the forecasts on the non-overlapping window days of a period."""

    def __init__(self, data: ForecastData, period: str, window_days: int | None = None) -> None:
        self.start, self.stop = data.days(period)
        proto = data.protocol
        self.window_days = int(window_days or proto.horizon_days - proto.lead_days)
        self.days = np.arange(self.start, self.stop, self.window_days)
        self.targets = data.targets
        n = len(self.days)
        self.rows: dict[str, np.ndarray] = {
            k: np.zeros(n, np.float64) for k in ("sum_p", "sum_p2", "sum_rate", "delta1", "delta2")
        }
        for k in ("start", "n_obs", "q_low", "q_high"):
            self.rows[k] = np.zeros(n, np.int32)
        self.rows["start"][:] = self.days
        self.cells: list[np.ndarray] = [np.zeros(0, np.int32)] * n
        self.p: list[np.ndarray] = [np.zeros(0, np.float32)] * n
        self.seen = np.zeros(n, dtype=bool)

    def update(self, day0: int, probs: np.ndarray, bins: np.ndarray | None = None) -> None:
        n = probs.shape[0]
        for w in np.flatnonzero((self.days >= day0) & (self.days < day0 + n)):
            day = int(self.days[w])
            p = np.asarray(probs[day - day0], dtype=np.float64).ravel()
            y = self.targets.dense(day, day + 1).ravel().astype(bool)
            pc = csep.clip_prob(p)
            r = self.rows
            r["sum_p"][w] = p.sum()
            r["sum_p2"][w] = np.sum(p * p)
            r["sum_rate"][w] = np.sum(-np.log1p(-pc))
            nt = csep.number_test(int(y.sum()), p)
            r["n_obs"][w] = nt["n_obs"]
            r["delta1"][w], r["delta2"][w] = nt["delta1"], nt["delta2"]
            r["q_low"][w], r["q_high"][w] = nt["q_low"], nt["q_high"]
            cells = np.flatnonzero(y).astype(np.int32)
            self.cells[w] = cells
            self.p[w] = np.asarray(probs[day - day0]).ravel()[cells].astype(np.float32)
            self.seen[w] = True

    def arrays(self) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
        """``(window, target_offset, target_cell, target_p)``."""
        if not self.seen.all():
            raise RuntimeError(f"windows {self.days[~self.seen][:5]} were never forecast")
        off = np.zeros(len(self.days) + 1, np.int32)
        off[1:] = np.cumsum([len(c) for c in self.cells])
        return self.rows, off, np.concatenate(self.cells), np.concatenate(self.p)


class CurveObserver:
    """Operating curves of other targets (e.g. mainshocks) from the same forecasts, each pair
    weighted by that data's naive prior for the period (as `evaluate` weights its own)."""

    def __init__(self, data: ForecastData, period: str, masks: Sequence[str] = MASKS) -> None:
        self.targets = data.targets
        self.weight = prior_for(data, period).astype(np.float64).ravel()
        self.groups = CellGroups({m: data.mask(m) for m in masks})
        self.curves = {m: OperatingCurve.empty(DEFAULT_DESIGN) for m in masks}

    def update(self, day0: int, probs: np.ndarray, bins: np.ndarray) -> None:
        n = probs.shape[0]
        y = self.targets.dense(day0, day0 + n).reshape(n, -1).view(bool)
        self.groups.add_to(self.curves, bins, y, self.weight)


def _finite(d: dict[str, float]) -> dict[str, float | None]:
    return {k: (float(v) if np.isfinite(v) else None) for k, v in d.items()}


def score_pass(
    model: Forecaster,
    data: ForecastData,
    period: str = "test",
    masks: Sequence[str] = MASKS,
    mainshock_data: ForecastData | None = None,
    block_days: int = BLOCK_DAYS,
    on_progress: OnProgress | None = None,
) -> tuple[dict[str, OperatingCurve], ScoringSummary]:
    """The period's curves (as `evaluate`) and the model's `ScoringSummary`, from one run
    through its forecasts. ``mainshock_data``: the same catalog with mainshock targets
    (`ForecastData.build(..., targets="mainshocks")`); its curves and scores are stored too.
    """
    t0 = time.perf_counter()
    blocks = BlockHistograms(data, period, masks, block_days)
    windows = WindowStats(data, period)
    observers: list = [blocks, windows]
    main = None
    if mainshock_data is not None:
        main = CurveObserver(mainshock_data, period, masks)
        observers.append(main)
    curves = evaluate(model, data, period, masks, on_progress=on_progress, observers=observers)
    window, off, cells, p = windows.arrays()
    mainshocks = None
    if main is not None:
        scores = score_model(main.curves, mainshock_data, period)
        mainshocks = {
            "targets": mainshock_data.targets.kind,
            "curves": main.curves,
            "scores": scores,
        }
    start, stop = data.days(period)
    summary = ScoringSummary(
        period=period,
        start=start,
        stop=stop,
        mc=float(data.mc),
        targets=data.targets.kind,
        fingerprint=data.fingerprint,
        n_cells=data.grid.n_cells,
        block_days=blocks.block_days,
        window_days=windows.window_days,
        design=blocks.design,
        block_hist=blocks.hist,
        window=window,
        target_offset=off,
        target_cell=cells,
        target_p=p,
        mainshocks=mainshocks,
        meta={"seconds": round(time.perf_counter() - t0, 2)},
        fine={
            m: _finite({"roc_auc": c.roc_auc(), "pr_auc": c.pr_auc()}) for m, c in curves.items()
        },
    )
    return curves, summary


def summary_pass(
    model: Forecaster,
    data: ForecastData,
    masks: Sequence[str] = MASKS,
    on_progress: OnProgress | None = None,
) -> tuple[dict[str, OperatingCurve], ScoringSummary]:
    """`quake.scoring.evaluate.fit_score_save`'s test pass: a model saved by ``fit`` or
    ``train`` (CLI or dashboard) gets its summary at once (intervals, CSEP windows) from the
    same forecast run. No mainshock-target curves here: they need the catalog's events to
    decluster (`scripts/rescore.py` adds them)."""
    return score_pass(model, data, "test", masks, on_progress=on_progress)
