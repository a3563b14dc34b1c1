"""The ETAS background density: a weighted variable-bandwidth Gaussian kernel estimate.

``u(x, y) = sum_l w_l N((x, y) - (x_l, y_l); h_l) / sum_l w_l M_l`` with ``M_l`` the mass of
kernel l inside the region (exact, a product of two normal CDF differences), so ``u``
integrates to 1 over the region (Zhuang, Ogata & Vere-Jones 2002, with the weights their
background probabilities). Integrals over grid cells are exact the same way.

A floor keeps every point of the region possible: ``u`` mixes in ``floor`` (default 0.001)
of a uniform density, so an isolated event (or a held-out one far from all others) never
has a zero background and a log-likelihood of minus infinity.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.spatial import cKDTree
from scipy.special import ndtr

from quake.errors import ModelError

KDE_CUT = 5.0  # Gaussians are cut at 5 bandwidths
MAX_PAIRS = 30_000_000
"""Most (point, neighbour) pairs one ETAS neighbour query may make (`neighbours`): ~1 GB of
index arrays; the likelihood's work per step grows with them. The Japan catalog's fits
make a few million; a catalog crowded into a few cells could make N**2."""


@dataclass
class EtasBackground:
    """The background density u(x, y): Gaussian kernels at ``(x, y)`` with bandwidths ``h``
    (km) and weights ``weight`` (background probabilities), normalised over ``region``, with
    the share ``floor`` spread uniformly over the region."""

    x: np.ndarray
    y: np.ndarray
    h: np.ndarray
    weight: np.ndarray
    region: tuple[float, float, float, float]
    floor: float = 1e-3

    @property
    def area(self) -> float:
        x0, x1, y0, y1 = self.region
        return (x1 - x0) * (y1 - y0)

    def mix(self, kernel_density: np.ndarray) -> np.ndarray:
        """``u`` from the normalised kernel estimate (km**-2): add the uniform floor."""
        return (1.0 - self.floor) * kernel_density + self.floor / self.area

    def _mass_1d(self, lo: np.ndarray, hi: np.ndarray, centre: np.ndarray) -> np.ndarray:
        return ndtr((hi - centre) / self.h) - ndtr((lo - centre) / self.h)

    @property
    def norm(self) -> float:
        x0, x1, y0, y1 = self.region
        inside = self._mass_1d(x0, x1, self.x) * self._mass_1d(y0, y1, self.y)
        return float(np.sum(self.weight * inside))

    def density(self, x_km: np.ndarray, y_km: np.ndarray) -> np.ndarray:
        """``u`` (km**-2) at points (0 outside the region); shape of ``x_km``."""
        xq, yq = (np.atleast_1d(np.asarray(a, dtype=np.float64)) for a in (x_km, y_km))
        x0, x1, y0, y1 = self.region
        inside = (xq >= x0) & (xq < x1) & (yq >= y0) & (yq < y1)
        u = self.mix(kde_matrix(xq, yq, self.x, self.y, self.h) @ self.weight / self.norm)
        return np.where(inside, u, 0.0).reshape(np.shape(x_km))

    def cell_mass(self, x_edges: np.ndarray, y_edges: np.ndarray) -> np.ndarray:
        """``integral of u`` over each cell of the grid with these edges (km), clipped to the
        region: shape ``(len(y_edges) - 1, len(x_edges) - 1)``, row 0 in the south."""
        x0, x1, y0, y1 = self.region
        xe = np.clip(np.asarray(x_edges, dtype=np.float64), x0, x1)
        ye = np.clip(np.asarray(y_edges, dtype=np.float64), y0, y1)
        px = ndtr((xe[None, :] - self.x[:, None]) / self.h[:, None])  # (n, nx + 1)
        py = ndtr((ye[None, :] - self.y[:, None]) / self.h[:, None])
        mx, my = np.diff(px, axis=1), np.diff(py, axis=1)
        kernels = (my * self.weight[:, None]).T @ mx / self.norm
        uniform = np.diff(ye)[:, None] * np.diff(xe)[None, :] / self.area
        return (1.0 - self.floor) * kernels + self.floor * uniform


def kde_matrix(xq, yq, x, y, h, leave_one_out: bool = False) -> csr_matrix:
    """``K[j, l] = N((xq_j, yq_j) - (x_l, y_l); h_l)`` (2-D isotropic Gaussian, km**-2), cut
    at 5 h_l. ``leave_one_out`` (queries = centres): ``K[j, j] = 0``, an event's own kernel
    does not explain it."""
    l_idx, j_idx = neighbours(xq, yq, x, y, KDE_CUT * h, "background kernel")
    if leave_one_out:
        other = l_idx != j_idx
        l_idx, j_idx = l_idx[other], j_idx[other]
    d2 = (xq[j_idx] - x[l_idx]) ** 2 + (yq[j_idx] - y[l_idx]) ** 2
    hl = h[l_idx]
    val = np.exp(-d2 / (2 * hl**2)) / (2 * np.pi * hl**2)
    return csr_matrix((val, (j_idx, l_idx)), shape=(len(xq), len(x)))


def neighbours(xq, yq, x, y, r, what: str) -> tuple[np.ndarray, np.ndarray]:
    """``(l, j)``: every point ``(xq_j, yq_j)`` within ``r_l`` of ``(x_l, y_l)``, counted
    first: more than `MAX_PAIRS` raises `ModelError` before any list is built."""
    tree = cKDTree(np.column_stack([xq, yq]))
    centres = np.column_stack([x, y])
    n = int(np.sum(tree.query_ball_point(centres, r=r, return_length=True), dtype=np.int64))
    if n > MAX_PAIRS:
        raise ModelError(
            f"ETAS: {n:,} event pairs lie within the {what}'s reach (at most {MAX_PAIRS:,}); "
            "the events are too crowded in space for this model. Raise the magnitude of "
            "completeness, or use a catalog spread over a larger region"
        )
    return flatten(tree.query_ball_point(centres, r=r))


def flatten(lists) -> tuple[np.ndarray, np.ndarray]:
    """Ragged neighbour lists -> ``(row, member)`` index arrays."""
    counts = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    members = np.fromiter(itertools.chain.from_iterable(lists), np.int64, int(counts.sum()))
    return np.repeat(np.arange(len(lists)), counts), members
