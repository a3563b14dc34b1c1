"""Relative intensity: the naive prior plus smoothed, decayed recent activity.

A pattern-informatics style baseline (relative intensity, Holliday et al. 2005, Phys. Rev.
Lett. 95, 248501; smoothed seismicity as in the CSEP forecast models, e.g. Helmstetter et
al. 2007): recent nearby seismicity raises the chance of the next event. For forecast day T
and cell c::

    S(T, c) = sum_{cell-days (d, c), d <= T} 10 ** (m - 5) * exp(-(T - d) / tau)
    A(T, c) = mean of S(T, .) over the (2r + 1) x (2r + 1) box of cells around c
    p(T, c) = clip(prior(c) + beta * A(T, c), 0, 1 - 1e-6)

with m the cell-day's largest magnitude (`quake.models.features.activity`). ``prior`` is the naive
prior of the fitting period. The map to a probability is the identity clipped to [0, 1):
``p`` is in probability units and equals the (calibrated) prior where there has been no
activity; elsewhere it is a monotone score, not a calibrated probability.

Three parameters (tau days, r cells, beta) are chosen by a grid search that maximises PR
AUC (mask ``select_mask``) on the VALIDATION period, with the prior fitted on train
(``final=False``) and every ``select_stride``-th validation day; the test period is never
read. A ``final`` fit keeps those parameters and refits the prior on train + validation.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from quake.data.forecast_data import ForecastData
from quake.errors import ModelError
from quake.models import store as v
from quake.models.base import Forecaster, ModelConfig, load_arrays, save_arrays
from quake.models.features.activity import box_mean, decayed_energy
from quake.progress import OnProgress, emit

P_MAX = 1.0 - 1e-6
_SHIFT = 13  # float32 bits dropped: 2 ** (23 - 13) = 1,024 bins per octave
_N_BITS_BINS = (0x3F800000 >> _SHIFT) + 1  # bins of p in [0, 1]
PRIOR_FILE = "prior.safetensors"
MAX_TAU_DAYS = 36_500.0
MAX_RADIUS = 100  # cells
MAX_BETA = 1e6


@dataclass
class RIConfig(ModelConfig):
    """Fixed parameters (None: chosen on validation) and the search grid."""

    tau_days: float | None = None
    radius: int | None = None
    beta: float | None = None
    taus: list[float] = field(default_factory=lambda: [90.0, 365.0, 730.0, 1825.0, 3650.0])
    radii: list[int] = field(default_factory=lambda: [0, 1, 2])
    betas: list[float] = field(
        default_factory=lambda: [round(10.0**e, 10) for e in np.arange(-4.0, 0.01, 0.5)]
    )
    select_stride: int = 2
    select_mask: str = "all"

    def check(self) -> None:
        f = "model_args."
        self.tau_days = v.optional(v.check_float, self.tau_days, f + "tau_days", 0.0, MAX_TAU_DAYS)
        self.radius = v.optional(v.check_int, self.radius, f + "radius", 0, MAX_RADIUS)
        self.beta = v.optional(v.check_float, self.beta, f + "beta", 0.0, MAX_BETA)
        if self.tau_days == 0.0:
            raise ModelError(f"{f}tau_days: must be > 0")
        self.taus = v.check_list(self.taus, f + "taus", v.floats(0.0, MAX_TAU_DAYS, True), 1, 32)
        self.radii = v.check_list(self.radii, f + "radii", v.ints(0, MAX_RADIUS), 1, 16)
        self.betas = v.check_list(self.betas, f + "betas", v.floats(0.0, MAX_BETA), 1, 64)
        self.select_stride = v.check_int(self.select_stride, f + "select_stride", 1, 365)
        self.select_mask = v.check_choice(self.select_mask, f + "select_mask", ("all", "active"))

    def check_grid(self, ny: int, nx: int) -> None:
        side = max(ny, nx)
        for r in [self.radius or 0, *self.radii]:
            if r > side:
                raise ModelError(f"model_args: radius {r} exceeds the grid ({ny} x {nx} cells)")


def ri_score(prior: np.ndarray, activity: np.ndarray, beta: float) -> np.ndarray:
    """``clip(prior + beta * activity, 0, 1 - 1e-6)`` as float32, shape of ``activity``."""
    p = prior + np.float64(beta) * activity
    np.clip(p, 0.0, P_MAX, out=p)
    return p.astype(np.float32)


class RelativeIntensityModel(Forecaster):
    """Prior + beta x box-smoothed decayed energy of past events (see module docstring)."""

    kind = "ri"
    label = "Relative intensity (prior + decayed activity)"
    config_cls = RIConfig

    def __init__(self, config: RIConfig | None = None) -> None:
        super().__init__(config)
        self.prior: np.ndarray | None = None

    @property
    def params(self) -> dict:
        return self.meta.get("params", {})

    def fit(self, data: ForecastData, final: bool = False, on_progress: OnProgress | None = None):
        c = self.config
        fixed = {"tau_days": c.tau_days, "radius": c.radius, "beta": c.beta}
        if None in fixed.values():
            params, search = self._search(data, on_progress)
            params = {k: (v if v is not None else params[k]) for k, v in fixed.items()}
            self.meta["search"] = search
        else:
            params = fixed
        self.meta["params"] = {
            "tau_days": float(params["tau_days"]),
            "radius": int(params["radius"]),
            "beta": float(params["beta"]),
        }
        self.prior = data.prior(final).astype(np.float64)
        self.bind(data)
        self.meta["final"] = final
        return self

    def validation_twin(self, data: ForecastData) -> RelativeIntensityModel:
        """The same parameters with the prior of train only: the model a validation score
        may use (the parameters were chosen on validation with that prior, no refit)."""
        twin = RelativeIntensityModel(self.config)
        twin.meta = {k: v for k, v in self.meta.items() if k in ("params", "search")}
        twin.prior = data.prior(final=False).astype(np.float64)
        twin.bind(data)
        twin.meta["final"] = False
        return twin

    def _search(self, data: ForecastData, on_progress: OnProgress | None) -> tuple[dict, list]:
        """Grid search on validation PR AUC; returns the best params and every result.

        Scores are binned by their float32 bit pattern (monotone for p >= 0; 1,024 bins per
        octave, ~0.1 % apart): a histogram several times cheaper per pair than an
        `OperatingCurve` and fine enough to rank candidates; pairs with no activity (score =
        prior for every beta) are binned once per (tau, r). Reported scores come from
        `quake.scoring.evaluate`.
        """
        c = self.config
        keep = data.selection_mask(c.select_mask)  # never read validation events
        prior = data.prior(final=False)[keep].astype(np.float32)
        start, stop = data.days("validation")
        cands = [(tau, r, b) for tau in c.taus for r in c.radii for b in c.betas]
        hist = np.zeros((len(cands), 2 * _N_BITS_BINS), dtype=np.int64)
        done, total = 0, len(c.taus) * (stop - start)
        for tau in c.taus:
            for a, s in decayed_energy(data.events, start, stop, tau):
                n = s.shape[0]
                sel = (np.arange(a, a + n) - start) % c.select_stride == 0
                y = data.targets.dense(a, a + n)[sel][:, keep].astype(np.int32)
                for r in c.radii:
                    act = box_mean(s[sel], r)[:, keep]
                    # Pairs with no activity score the prior whatever beta: binned once.
                    quiet = act == 0
                    h0 = _bits_hist(np.broadcast_to(prior, act.shape)[quiet], y[quiet])
                    busy = ~quiet
                    pb, ab, yb = np.broadcast_to(prior, act.shape)[busy], act[busy], y[busy]
                    for b in c.betas:
                        hist[cands.index((tau, r, b))] += h0 + _bits_hist(
                            pb + np.float32(b) * ab, yb
                        )
                done += n
                emit(on_progress, "fit", done, total, tau_days=tau)
        results = []
        for (tau, r, b), h in zip(cands, hist, strict=True):
            pr, roc = _areas(h[:_N_BITS_BINS], h[_N_BITS_BINS:])
            results.append(
                {"tau_days": tau, "radius": r, "beta": float(b), "pr_auc": pr, "roc_auc": roc}
            )
        scored = [r for r in results if not math.isnan(r["pr_auc"])]
        if not scored:
            raise ModelError("ri: the validation period has no target events to select on")
        best = max(scored, key=lambda r: (r["pr_auc"], r["roc_auc"]))
        return best, results

    def activity(
        self, data: ForecastData, start: int, stop: int, chunk: int = 64
    ) -> Iterator[tuple[int, np.ndarray]]:
        """``(first_day, A)`` blocks: the box-smoothed decayed energy, float32 ``(n, ny, nx)``."""
        if not self.params:
            raise ModelError("ri: fit or load the model first")
        tau, r = self.params["tau_days"], self.params["radius"]
        for a, s in decayed_energy(data.events, start, stop, tau, chunk):
            yield a, box_mean(s, r)

    def predict_days(
        self, data: ForecastData, start: int, stop: int, chunk: int = 64
    ) -> Iterator[tuple[int, np.ndarray]]:
        if self.prior is None:
            raise ModelError("ri: fit or load the model first")
        for a, act in self.activity(data, start, stop, chunk):
            yield a, ri_score(self.prior, act, self.params["beta"])

    def _save_arrays(self, folder: Path) -> None:
        save_arrays(folder / PRIOR_FILE, {"prior": self.prior})

    def _load_arrays(self, folder: Path) -> None:
        doc = folder / v.MODEL_FILE
        params = self.meta.get("params")
        if not params:
            raise ModelError(f"{doc}: params: missing (the fitted parameters)")
        try:
            ny, nx = self.grid_shape()
            self.meta["params"] = {
                "tau_days": v.check_float(
                    params.get("tau_days"), "params.tau_days", 0.0, MAX_TAU_DAYS, True
                ),
                "radius": v.check_int(params.get("radius"), "params.radius", 0, max(ny, nx)),
                "beta": v.check_float(params.get("beta"), "params.beta", 0.0, MAX_BETA),
            }
        except ModelError as err:
            raise ModelError(f"{doc}: {err}") from None
        path = folder / PRIOR_FILE
        arrays = load_arrays(path)
        prior = v.check_array(
            arrays, "prior", file=path, shape=(ny, nx), dtype=(np.float64, np.float32), prob=True
        )
        v.check_names(arrays, {"prior"}, path)
        self.prior = prior.astype(np.float64)


def _bits_hist(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Histogram ``(2 * _N_BITS_BINS,)`` of float32 scores p >= 0 by bit pattern; y in {0, 1}."""
    p = np.minimum(p, np.float32(P_MAX))
    key = p.view(np.int32)
    key >>= _SHIFT
    key += y * np.int32(_N_BITS_BINS)
    return np.bincount(key, minlength=2 * _N_BITS_BINS)


def _areas(neg: np.ndarray, pos: np.ndarray) -> tuple[float, float]:
    """(average precision, ROC AUC) from score histograms (bins ascending, ties per bin)."""
    n_pos, n_neg = pos.sum(), neg.sum()
    if n_pos == 0 or n_neg == 0:
        return math.nan, math.nan
    nz = (pos + neg) > 0
    pos, neg = pos[nz][::-1].astype(np.float64), neg[nz][::-1].astype(np.float64)
    tp, fp = np.cumsum(pos), np.cumsum(neg)
    has = pos > 0
    ap = float(np.sum(pos[has] * tp[has] / (tp[has] + fp[has])) / n_pos)
    tpr, fpr = np.concatenate(([0.0], tp / n_pos)), np.concatenate(([0.0], fp / n_neg))
    return ap, float(np.trapezoid(tpr, fpr))
