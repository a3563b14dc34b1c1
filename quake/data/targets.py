"""Targets and the naive prior (PROTOCOL.md "Target" and "Naive baseline").

``y(T, cell) = 1`` iff an event of magnitude >= Mc falls in the cell on a day d
with ``T + lead <= d < T + horizon``. An event on day d therefore makes the
forecast days ``T`` in ``[d - horizon + 1, d - lead]`` positive. Positives are
kept sparse as sorted keys ``T * n_cells + cell``.

Two kinds of targets (`TARGET_KINDS`): ``"all"`` (every event >= Mc, the protocol's) and
``"mainshocks"`` (only the declustered catalog's mainshocks >= Mc make positives, see
`quake.data.decluster`): a cell-window whose only quakes >= Mc are clustered events
(aftershocks, foreshocks) is negative. `Targets.from_events` takes the events the targets
are made of; `quake.data.forecast_data.ForecastData.build` passes the mainshocks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quake.data.events import GriddedEvents

TARGET_KINDS = ("all", "mainshocks")


@dataclass(frozen=True)
class Targets:
    """The positive (forecast day, cell) pairs for one Mc and window.

    Attributes:
        keys: sorted unique int64 ``T * n_cells + cell`` of every positive pair.
        n_cells: cells of the grid.
        mc, lead_days, horizon_days: the target's definition.
        kind: ``"all"``, or ``"mainshocks"`` with its declustering (``"mainshocks-gk"``).
    """

    keys: np.ndarray
    n_cells: int
    shape: tuple[int, int]
    mc: float
    lead_days: int = 10
    horizon_days: int = 50
    kind: str = "all"

    @classmethod
    def from_events(
        cls,
        events: GriddedEvents,
        mc: float,
        lead_days: int = 10,
        horizon_days: int = 50,
        kind: str = "all",
    ) -> Targets:
        """Targets from the events that make positives: every event for ``kind="all"``, the
        mainshocks only for ``kind="mainshocks-<method>"`` (the caller selects them)."""
        return cls(
            keys=_positive_keys(
                events.day,
                events.cell,
                events.mag,
                events.grid.n_cells,
                mc,
                lead_days,
                horizon_days,
            ),
            n_cells=events.grid.n_cells,
            shape=events.grid.shape,
            mc=mc,
            lead_days=lead_days,
            horizon_days=horizon_days,
            kind=kind,
        )

    def _span(self, start: int, stop: int) -> np.ndarray:
        lo, hi = np.searchsorted(self.keys, [start * self.n_cells, stop * self.n_cells])
        return self.keys[lo:hi]

    def dense(self, start: int, stop: int) -> np.ndarray:
        """Labels of forecast days ``[start, stop)``: uint8 ``(stop - start, ny, nx)``."""
        n = max(0, stop - start)
        out = np.zeros(n * self.n_cells, dtype=np.uint8)
        out[self._span(start, stop) - start * self.n_cells] = 1
        return out.reshape(n, *self.shape)

    def count(self, start: int, stop: int) -> int:
        """Positive pairs among forecast days ``[start, stop)``."""
        return len(self._span(start, stop))

    def positives_per_cell(self, start: int, stop: int) -> np.ndarray:
        """Positive forecast days per cell in ``[start, stop)``: ``(n_cells,)`` int64."""
        return np.bincount(self._span(start, stop) % self.n_cells, minlength=self.n_cells)

    def pairs(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """``(T, cell)`` arrays of the positive pairs in ``[start, stop)``."""
        return np.divmod(self._span(start, stop), self.n_cells)


def _positive_keys(
    day: np.ndarray,
    cell: np.ndarray,
    mag: np.ndarray,
    n_cells: int,
    mc: float,
    lead_days: int,
    horizon_days: int,
) -> np.ndarray:
    """Sorted unique keys of the positive pairs; the `_on_arrays` twin of `Targets`."""
    big = mag >= np.float32(mc)
    d = day[big].astype(np.int64)
    c = cell[big].astype(np.int64)
    offsets = np.arange(lead_days, horizon_days, dtype=np.int64)  # d - T in [lead, horizon)
    t = d[:, None] - offsets[None, :]
    keys = (t * n_cells + c[:, None]).ravel()
    keys = np.sort(keys[t.ravel() >= 0])
    # Sort + adjacent compare: np.unique (hash-based for integers in numpy 2.x) is ~40x slower.
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    return keys[first]


def naive_prior(targets: Targets, start: int, stop: int, alpha: float = 0.5) -> np.ndarray:
    """Per-cell frequency of ``y = 1`` over forecast days ``[start, stop)``, smoothed.

    ``p = (k + alpha) / (n + 2 alpha)`` with k positive days of n (Jeffreys' prior
    for alpha = 0.5), so no cell is exactly 0 or 1. Returns float64 ``(ny, nx)``.
    Only the fitting period's labels are read.
    """
    n = stop - start
    if n <= 0:
        raise ValueError("the fitting period is empty")
    k = targets.positives_per_cell(start, stop)
    return ((k + alpha) / (n + 2 * alpha)).reshape(targets.shape)


def active_mask(events: GriddedEvents, before_day: int) -> np.ndarray:
    """Cells with at least one event of any magnitude before ``before_day``: bool ``(ny, nx)``."""
    return (events.counts_per_cell(0, before_day) > 0).reshape(events.grid.shape)
