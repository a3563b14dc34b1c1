"""Magnitude of completeness and the Gutenberg-Richter b-value of a catalog (pure numpy).

- Frequency-magnitude distribution (FMD): events per magnitude bin of width ``dm``
  (non-cumulative) and the number of events at or above each bin (cumulative).
- Maximum curvature (MAXC; Wiemer & Wyss 2000): Mc is the bin with the most events in the
  non-cumulative FMD. MAXC is known to underestimate Mc for gradually curved FMDs, so a
  correction of +0.2 is customary (Woessner & Wiemer 2005).
- b-value by Aki's (1965) maximum likelihood with Utsu's (1965) correction for binned
  magnitudes: ``b = log10(e) / (mean(M) - (Mc - dm / 2))`` over events with M >= Mc; its
  standard error by Shi & Bolt (1982): ``2.30 b^2 sqrt(sum (M - mean)^2 / (n (n - 1)))``.

References: Aki, K. (1965) Bull. Earthq. Res. Inst. 43, 237-239. Utsu, T. (1965) Geophys.
Bull. Hokkaido Univ. 13, 99-103. Shi, Y. & Bolt, B. A. (1982) BSSA 72, 1677-1687. Wiemer, S.
& Wyss, M. (2000) BSSA 90, 859-869. Woessner, J. & Wiemer, S. (2005) BSSA 95, 684-698.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from quake.errors import CatalogError

MIN_EVENTS = 50
"""Fewer events above Mc than this give no meaningful b-value."""


@dataclass(frozen=True)
class Completeness:
    """An estimate of the magnitude of completeness and the Gutenberg-Richter law above it.

    Attributes:
        mc: magnitude of completeness (``mc_maxc + correction``).
        mc_maxc: the maximum-curvature bin (no correction).
        correction: added to ``mc_maxc`` (Woessner & Wiemer 2005 suggest 0.2).
        b_value: Aki-Utsu maximum-likelihood b-value over events with M >= mc.
        b_error: Shi & Bolt (1982) standard error of ``b_value``.
        a_value: ``log10`` of the number of events with M >= mc, so that
            ``N(>= m) = 10 ** (a_value - b_value * (m - mc))``.
        n_above: events with M >= mc.
        bin_width: magnitude bin width ``dm``.
    """

    mc: float
    mc_maxc: float
    correction: float
    b_value: float
    b_error: float
    a_value: float
    n_above: int
    bin_width: float

    def expected_count(self, m: np.ndarray | float) -> np.ndarray:
        """Gutenberg-Richter number of events with magnitude >= ``m`` (same shape as ``m``)."""
        return 10.0 ** (self.a_value - self.b_value * (np.asarray(m, dtype=np.float64) - self.mc))


def _bin_index(mags: np.ndarray, dm: float) -> np.ndarray:
    # Magnitudes are reported to 0.1; the small offset keeps 4.45 / 0.1 from falling short.
    return np.floor(np.asarray(mags, dtype=np.float64) / dm + 0.5 + 1e-9).astype(np.int64)


def frequency_magnitude(
    mags: np.ndarray, bin_width: float = 0.1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The FMD: ``(centres, counts, cumulative)``, each ``(n_bins,)``.

    ``centres`` are multiples of ``bin_width`` from the smallest to the largest magnitude;
    ``counts[i]`` events fall in bin i and ``cumulative[i]`` events have a magnitude in
    bin i or above. Empty arrays for no magnitudes.
    """
    mags = np.asarray(mags, dtype=np.float64)
    mags = mags[np.isfinite(mags)]
    if mags.size == 0:
        return np.array([]), np.array([], dtype=np.int64), np.array([], dtype=np.int64)
    k = _bin_index(mags, bin_width)
    lo = int(k.min())
    counts = np.bincount(k - lo)
    centres = np.round((lo + np.arange(len(counts))) * bin_width, 6)
    cumulative = np.cumsum(counts[::-1])[::-1]
    return centres, counts, cumulative


def mc_max_curvature(mags: np.ndarray, bin_width: float = 0.1) -> float:
    """Maximum-curvature Mc: the centre of the most populated magnitude bin (highest on ties)."""
    centres, counts, _ = frequency_magnitude(mags, bin_width)
    if counts.size == 0:
        raise CatalogError("no magnitudes: cannot estimate the magnitude of completeness")
    i = len(counts) - 1 - int(np.argmax(counts[::-1]))
    return float(centres[i])


def b_value_aki(mags: np.ndarray, mc: float, bin_width: float = 0.1) -> tuple[float, float, int]:
    """Aki-Utsu maximum-likelihood ``(b, standard error, n)`` over magnitudes >= ``mc``.

    Magnitudes are compared after binning to ``bin_width``, so ``mc`` is a bin centre.
    ``b`` and its error are NaN when fewer than two events lie above ``mc`` or they all
    share one magnitude below the binning offset.
    """
    mags = np.asarray(mags, dtype=np.float64)
    mags = mags[np.isfinite(mags)]
    k = _bin_index(mags, bin_width)
    above = mags[k >= _bin_index(np.array([mc]), bin_width)[0]]
    n = int(above.size)
    if n < 2:
        return math.nan, math.nan, n
    mean = float(above.mean())
    denom = mean - (mc - bin_width / 2.0)
    if denom <= 0:
        return math.nan, math.nan, n
    b = math.log10(math.e) / denom
    err = 2.30 * b * b * math.sqrt(float(((above - mean) ** 2).sum()) / (n * (n - 1)))
    return b, err, n


def estimate_completeness(
    mags: np.ndarray,
    bin_width: float = 0.1,
    correction: float = 0.2,
    min_events: int = MIN_EVENTS,
) -> Completeness:
    """Mc by maximum curvature (+ ``correction``) and the b-value above it.

    Raises `CatalogError` when fewer than ``min_events`` events lie at or above Mc.
    """
    mc_maxc = mc_max_curvature(mags, bin_width)
    mc = round(mc_maxc + correction, 6)
    b, err, n = b_value_aki(mags, mc, bin_width)
    if n < min_events:
        raise CatalogError(
            f"only {n} events at or above M{mc:g}; at least {min_events} are needed to "
            "estimate the magnitude of completeness and the b-value"
        )
    return Completeness(
        mc=mc,
        mc_maxc=mc_maxc,
        correction=correction,
        b_value=b,
        b_error=err,
        a_value=math.log10(n),
        n_above=n,
        bin_width=bin_width,
    )


MIN_TARGETS = 30
"""An Mc is offered for forecasting only when at least this many events reach it."""
MC_STEP = 0.5


def mc_choices(
    mags: np.ndarray,
    completeness: Completeness | None = None,
    min_targets: int = MIN_TARGETS,
    step: float = MC_STEP,
    also: tuple[float, ...] = (),
) -> list[float]:
    """The Mc values worth offering for forecasting a catalog, largest first.

    Multiples of ``step`` from the estimated magnitude of completeness (rounded up to a
    step; the smallest magnitude of the catalog without an estimate) up to the largest
    value that at least ``min_targets`` events reach: below completeness the targets are
    undercounted, above that there is too little to learn or score. A catalog too small
    for any such value gets its one lowest step (so there is always a choice). ``also``:
    values offered whatever the counts (a protocol's own settings, e.g. Japan's 5.0 and 4.5).
    """
    mags = np.asarray(mags, dtype=np.float64)
    mags = mags[np.isfinite(mags)]
    if mags.size == 0:
        return sorted({5.0, *also}, reverse=True)
    floor = completeness.mc if completeness is not None else float(mags.min())
    lo = math.ceil(round(floor / step, 6)) * step
    out = []
    m = lo
    while np.count_nonzero(mags >= m - 1e-9) >= min_targets:
        out.append(round(m, 6))
        m += step
    if not out:  # never above the largest magnitude: that Mc would have no target at all
        top = math.floor(round(float(mags.max()) / step, 6)) * step
        out = [round(min(lo, top), 6)]
    return sorted({*out, *(round(float(v), 6) for v in also)}, reverse=True)


def default_mc(choices: list[float], headline: float = 5.0) -> float:
    """The Mc picked when the person has not chosen: the protocol's headline 5.0 when it is
    offered (the Japan reference), else the lowest complete one (the most targets)."""
    return headline if headline in choices else min(choices)
