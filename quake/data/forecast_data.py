"""One bundle of everything a model fits and is scored on: protocol, gridded events, targets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from quake.data.catalog import Catalog, find_reference_catalog, load_catalog
from quake.data.events import GriddedEvents
from quake.data.protocol import Protocol, protocol_for_catalog
from quake.data.targets import Targets, active_mask, naive_prior
from quake.errors import CatalogError


@dataclass(frozen=True)
class ForecastData:
    """A catalog prepared for one protocol and one Mc.

    Attributes:
        protocol: grid, window, splits.
        events: the daily heat maps (sparse).
        targets: positive (T, cell) pairs at ``mc``.
        fingerprint: hash of the catalog's events.
    """

    protocol: Protocol
    events: GriddedEvents
    targets: Targets
    fingerprint: str

    @property
    def mc(self) -> float:
        return self.targets.mc

    @property
    def grid(self):
        return self.protocol.grid

    def days(self, period: str) -> tuple[int, int]:
        return self.protocol.days(period)

    def prior(self, final: bool = False) -> np.ndarray:
        """The naive prior ``(ny, nx)`` from the fitting period (train, or train+validation)."""
        return naive_prior(self.targets, *self.protocol.fit_days(final))

    def mask(self, name: str) -> np.ndarray:
        """Cells scored under a mask: ``all`` or ``active`` (bool ``(ny, nx)``)."""
        if name == "all":
            return np.ones(self.grid.shape, dtype=bool)
        if name == "active":
            return active_mask(self.events, self.protocol.active_before_day)
        raise ValueError(f"unknown mask {name!r}; expected 'all' or 'active'")

    @classmethod
    def build(cls, catalog: Catalog, mc: float, protocol: Protocol | None = None) -> ForecastData:
        protocol = protocol or protocol_for_catalog(catalog.events)
        events = GriddedEvents.from_catalog(catalog.events, protocol.grid, protocol.epoch)
        targets = Targets.from_events(events, mc, protocol.lead_days, protocol.horizon_days)
        return cls(protocol, events, targets, catalog.fingerprint)


def load_reference(path: str | Path | None = None) -> Catalog:
    """The reference catalog from ``path`` or its usual places; a clear error if absent."""
    if path is None:
        path = find_reference_catalog()
        if path is None:
            raise CatalogError(
                "the reference catalog japan_usgs_1990_2019.csv was not found in ../shared/data; "
                "give a path (--catalog PATH), set QUAKE_CATALOG, or download it "
                "(python -m quake download)."
            )
    return load_catalog(path)
