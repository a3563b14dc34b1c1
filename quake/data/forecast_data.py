"""One bundle of everything a model fits and is scored on: protocol, gridded events, targets."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from quake.data.catalog import Catalog, find_reference_catalog, load_catalog
from quake.data.catalog.paths import reference_env_problem
from quake.data.decluster import METHODS, decluster
from quake.data.events import GriddedEvents
from quake.data.protocol import Protocol, protocol_for_catalog
from quake.data.targets import TARGET_KINDS, Targets, active_mask, naive_prior
from quake.errors import CatalogError


@dataclass(frozen=True)
class ForecastData:
    """A catalog prepared for one protocol and one Mc.

    Attributes:
        protocol: grid, window, splits.
        events: the daily heat maps (sparse).
        targets: positive (T, cell) pairs at ``mc``: of every event (``targets.kind``
            ``"all"``) or of the mainshocks only (``"mainshocks-gk"``, ``"mainshocks-zbz"``).
        fingerprint: hash of the catalog's events.
        points: every event as a point (exact time and place), for point-process models.
    """

    protocol: Protocol
    events: GriddedEvents
    targets: Targets
    fingerprint: str
    points: EventPoints | None = field(default=None, compare=False, repr=False)

    @property
    def mc(self) -> float:
        return self.targets.mc

    @property
    def grid(self):
        return self.protocol.grid

    def days(self, period: str) -> tuple[int, int]:
        return self.protocol.days(period)

    def prior(self, final: bool = False) -> np.ndarray:
        """The naive prior ``(ny, nx)`` from the fitting period (train, or train+validation):
        the frequency of positives of these targets (mainshock targets: of mainshocks)."""
        return naive_prior(self.targets, *self.protocol.fit_days(final))

    def mask(self, name: str) -> np.ndarray:
        """Cells scored under a mask: ``all`` or ``active`` (bool ``(ny, nx)``).

        ``active`` is read from every event (the inputs), whatever the targets: a cell's
        seismic history does not change with the target definition, so both kinds of
        targets are scored on the same cells and their scores can be compared.
        """
        return self._mask(name, self.protocol.active_before_day)

    def selection_mask(self, name: str) -> np.ndarray:
        """The mask that choosing on the validation period uses: ``active`` = cells with
        an event before the validation period starts. The protocol's ``active`` (events
        before the test start) would read validation events: 1,038 of its 7,725 Japan cells
        are first active in the validation years: positives with a train prior of ~0."""
        return self._mask(name, self.days("validation")[0])

    def _mask(self, name: str, before_day: int) -> np.ndarray:
        if name == "all":
            return np.ones(self.grid.shape, dtype=bool)
        if name == "active":
            return active_mask(self.events, before_day)
        raise ValueError(f"unknown mask {name!r}; expected 'all' or 'active'")

    @classmethod
    def build(
        cls,
        catalog: Catalog,
        mc: float,
        protocol: Protocol | None = None,
        targets: str = "all",
        method: str = "gk",
    ) -> ForecastData:
        """The catalog on ``protocol`` (its own by default) with targets at ``mc``.

        ``targets="mainshocks"`` makes positives of mainshocks only: the whole catalog (every
        magnitude, so a small foreshock can still be a ZBZ parent) is declustered by
        ``method`` (``"gk"`` or ``"zbz"``, `quake.data.decluster`). The events (the models'
        inputs), the points and the active mask keep every event; the prior follows the
        targets.
        """
        if targets not in TARGET_KINDS:
            raise ValueError(f"targets must be one of {', '.join(TARGET_KINDS)}, not {targets!r}")
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
        protocol = protocol or protocol_for_catalog(catalog.events)
        events = GriddedEvents.from_catalog(catalog.events, protocol.grid, protocol.epoch)
        sources, kind = events, "all"
        if targets == "mainshocks":
            main = decluster(catalog.events, method).mainshocks(catalog.events)
            sources = GriddedEvents.from_catalog(main, protocol.grid, protocol.epoch)
            kind = f"mainshocks-{method}"
        positives = Targets.from_events(
            sources, mc, protocol.lead_days, protocol.horizon_days, kind=kind
        )
        points = EventPoints.from_catalog(catalog.events, protocol)
        return cls(protocol, events, positives, catalog.fingerprint, points)


@dataclass(frozen=True)
class EventPoints:
    """The catalog's events as points, sorted by time: ``t_days`` since the protocol's epoch
    (fractional, UTC), ``x_km``/``y_km`` in the grid's projection, ``magnitude`` (1-D
    float64 arrays of one length; events outside the grid are kept: they can trigger)."""

    t_days: np.ndarray
    x_km: np.ndarray
    y_km: np.ndarray
    magnitude: np.ndarray

    def __len__(self) -> int:
        return len(self.t_days)

    def before(self, day: float) -> EventPoints:
        """The events with ``t_days < day``."""
        n = int(np.searchsorted(self.t_days, day, side="left"))
        return EventPoints(self.t_days[:n], self.x_km[:n], self.y_km[:n], self.magnitude[:n])

    @classmethod
    def from_catalog(cls, events, protocol: Protocol) -> EventPoints:
        t = events["time"].dt.tz_convert(None).to_numpy().astype("datetime64[ns]")
        t_days = (t - np.datetime64(protocol.epoch, "ns")) / np.timedelta64(1, "D")
        x, y = protocol.grid.project(events["latitude"].to_numpy(), events["longitude"].to_numpy())
        mag = events["magnitude"].to_numpy(np.float64)
        order = np.argsort(t_days, kind="stable")
        arrays = (np.asarray(a, dtype=np.float64)[order] for a in (t_days, x, y, mag))
        return cls(*arrays)


def load_reference(path: str | Path | None = None) -> Catalog:
    """The reference catalog from ``path`` or its usual places; a clear error if absent."""
    if path is None:
        problem = reference_env_problem()  # a typo must not mean another catalog
        if problem:
            raise CatalogError(problem)
        path = find_reference_catalog()
        if path is None:
            raise CatalogError(
                "the reference catalog japan_usgs_1990_2019.csv was not found in ../shared/data; "
                "give a path (--catalog PATH), set QUAKE_CATALOG, or download it "
                "(python -m quake download)."
            )
    return load_catalog(path)
