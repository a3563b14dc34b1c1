"""The forecasting protocol: grid, target window, date splits and masks, as data.

`JAPAN` is PROTOCOL.md's ``japan-usgs-v1``. Other catalogs get the same rules with
their own dates and a grid cut from their own bounds (`protocol_for_catalog`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import numpy as np
import pandas as pd

from quake.data.grid import JAPAN_GRID, Grid, compact_lon_range
from quake.errors import CatalogError
from quake.settings import MAX_GRID_CELLS

PERIOD_NAMES = ("history", "train", "validation", "test")


PROTOCOL_THRESHOLDS: tuple[float, ...] = (1e-4, 0.1, 0.5, 0.99)
"""The operating points every score reports (PROTOCOL.md)."""


@dataclass(frozen=True)
class Period:
    """A range of forecast days T, both ends inclusive."""

    name: str
    start: date
    end: date

    def days(self, epoch: date) -> tuple[int, int]:
        """Half-open day numbers ``[start, stop)`` counted from ``epoch`` (day 0)."""
        return (self.start - epoch).days, (self.end - epoch).days + 1

    def to_dict(self) -> dict:
        return {"name": self.name, "start": self.start.isoformat(), "end": self.end.isoformat()}

    @classmethod
    def from_dict(cls, d: dict) -> Period:
        return cls(d["name"], date.fromisoformat(d["start"]), date.fromisoformat(d["end"]))


@dataclass(frozen=True)
class Protocol:
    """Everything a score depends on besides the model.

    ``y(T, cell) = 1`` iff an event with magnitude >= Mc falls in the cell on a day d
    with ``T + lead_days <= d < T + horizon_days``.
    """

    name: str
    epoch: date
    grid: Grid
    periods: tuple[Period, ...]
    active_before: date
    lead_days: int = 10
    horizon_days: int = 50
    mcs: tuple[float, ...] = (5.0, 4.5)
    thresholds: tuple[float, ...] = PROTOCOL_THRESHOLDS
    masks: tuple[str, ...] = field(default=("all", "active"))

    def period(self, name: str) -> Period:
        for p in self.periods:
            if p.name == name:
                return p
        raise KeyError(f"protocol {self.name} has no period {name!r}")

    def days(self, name: str) -> tuple[int, int]:
        """Half-open day range ``[start, stop)`` of a period's forecast days."""
        return self.period(name).days(self.epoch)

    def fit_days(self, final: bool) -> tuple[int, int]:
        """The fitting period: train, or train + validation for the final test fit."""
        start, stop = self.days("train")
        if final:
            stop = self.days("validation")[1]
        return start, stop

    @property
    def active_before_day(self) -> int:
        return (self.active_before - self.epoch).days

    @property
    def n_days(self) -> int:
        """Days from the epoch through the last target day of the last period."""
        return self.days(self.periods[-1].name)[1] + self.horizon_days

    def day_to_date(self, day: int) -> date:
        return self.epoch + timedelta(days=int(day))

    def date_to_day(self, d: date) -> int:
        return (d - self.epoch).days

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "epoch": self.epoch.isoformat(),
            "grid": self.grid.to_dict(),
            "periods": [p.to_dict() for p in self.periods],
            "active_before": self.active_before.isoformat(),
            "lead_days": self.lead_days,
            "horizon_days": self.horizon_days,
            "mcs": list(self.mcs),
            "thresholds": list(self.thresholds),
            "masks": list(self.masks),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Protocol:
        return cls(
            name=d["name"],
            epoch=date.fromisoformat(d["epoch"]),
            grid=Grid.from_dict(d["grid"]),
            periods=tuple(Period.from_dict(p) for p in d["periods"]),
            active_before=date.fromisoformat(d["active_before"]),
            lead_days=int(d["lead_days"]),
            horizon_days=int(d["horizon_days"]),
            mcs=tuple(d["mcs"]),
            thresholds=tuple(d["thresholds"]),
            masks=tuple(d["masks"]),
        )

    def with_grid(self, grid: Grid) -> Protocol:
        return replace(self, grid=grid)


JAPAN = Protocol(
    name="japan-usgs-v1",
    epoch=date(1990, 1, 1),
    grid=JAPAN_GRID,
    periods=(
        Period("history", date(1990, 1, 1), date(1991, 12, 31)),
        Period("train", date(1992, 1, 1), date(2006, 11, 11)),
        Period("validation", date(2007, 1, 1), date(2010, 11, 11)),
        Period("test", date(2011, 1, 1), date(2019, 11, 11)),
    ),
    active_before=date(2011, 1, 1),
)


def derived_protocol(
    first: date, last: date, grid: Grid, horizon_days: int = 50, name: str = "derived"
) -> Protocol:
    """The protocol's rules on another catalog's dates.

    The span is cut like the Japan protocol's (about 7% history, 50% train, 13%
    validation, 30% test); each period's last forecast day is ``horizon_days``
    before the next period starts, so no label sees the next period's events.
    """
    span = (last - first).days + 1
    if span < 8 * horizon_days:
        raise CatalogError(
            f"the catalog spans {span} days; at least {8 * horizon_days} are needed to cut it "
            "into history, train, validation and test periods."
        )
    cuts = np.cumsum([0.07, 0.50, 0.13, 0.30]) * span
    bounds = [first + timedelta(days=int(c)) for c in [0, *cuts[:-1]]] + [last + timedelta(days=1)]
    periods = []
    for i, pname in enumerate(PERIOD_NAMES):
        start = bounds[i]
        gap = 1 if pname == "history" else horizon_days + 1
        end = bounds[i + 1] - timedelta(days=gap)
        periods.append(Period(pname, start, end))
    return Protocol(
        name=name,
        epoch=first,
        grid=grid,
        periods=tuple(periods),
        active_before=periods[-1].start,
        horizon_days=horizon_days,
    )


def _in_japan(events: pd.DataFrame) -> bool:
    """Whether most events fall in the Japan grid."""
    lat = events["latitude"].to_numpy()
    lon = events["longitude"].to_numpy()
    return bool(len(lat)) and (JAPAN.grid.cell_index(lat, lon) >= 0).mean() >= 0.5


def grid_for_catalog(events: pd.DataFrame, cell_km: float = 10.0) -> Grid:
    """The Japan grid (at ``cell_km``) for a Japan catalog; else one cut from its bounds.

    Longitudes are taken on the branch, [-180, 180) or [0, 360), where the catalog is
    narrower, so a catalog across the date line gets a compact grid. Raises `CatalogError`
    when the grid would have more than `quake.settings.MAX_GRID_CELLS` cells.
    """
    if not (np.isfinite(cell_km) and cell_km > 0):
        raise CatalogError(f"cell size {cell_km!r} km: expected a positive number of km.")
    if _in_japan(events):
        if cell_km == JAPAN.grid.cell_km:
            return JAPAN.grid

        def build(km: float) -> Grid:
            return Grid(cell_km=km, nx=int(np.ceil(2000 / km)), ny=int(np.ceil(2500 / km)))

    else:
        lat = events["latitude"].to_numpy(np.float64)
        west, east = compact_lon_range(events["longitude"].to_numpy(np.float64))
        south, north = float(lat.min()), float(lat.max())

        def build(km: float) -> Grid:
            return Grid.for_bounds(south, north, west, east, km)

    grid = build(cell_km)
    check_grid_budget(grid, build)
    return grid


def check_grid_budget(
    grid: Grid, build: Callable[[float], Grid] | None = None, limit: int | None = None
) -> None:
    """Raise `CatalogError` if ``grid`` has more than ``limit`` cells (`MAX_GRID_CELLS`).

    The message gives the region's size and, when ``build(cell_km) -> Grid`` is given,
    the smallest whole number of km per cell that fits the limit.
    """
    limit = MAX_GRID_CELLS if limit is None else limit
    if grid.n_cells <= limit:
        return
    width, height = grid.nx * grid.cell_km, grid.ny * grid.cell_km
    advice = "cut the catalog to a smaller region"
    if build is not None:
        km = int(np.ceil(grid.cell_km * np.sqrt(grid.n_cells / limit)))
        while build(km).n_cells > limit:  # edge cells: a step or two at most
            km += 1
        advice += f" or use cells of at least {km} km"
    raise CatalogError(
        f"this catalog spans {width:,.0f} km × {height:,.0f} km: {grid.n_cells:,} cells of "
        f"{grid.cell_km:g} km exceed the limit of {limit:,}; {advice}."
    )


def protocol_for_catalog(events: pd.DataFrame, cell_km: float = 10.0) -> Protocol:
    """The Japan protocol for a Japan catalog that covers its dates; else a derived one.

    A catalog is a Japan catalog when most of its events fall in the Japan grid.
    Elsewhere the grid is built from the catalog's own bounds with the same cell size.
    Raises `CatalogError` for a catalog too short to be split or a region too large
    for the cell budget (`grid_for_catalog`).
    """
    first = events["time"].iloc[0].date()
    last = events["time"].iloc[-1].date()
    covers = first <= JAPAN.epoch + timedelta(days=31) and last >= JAPAN.periods[-1].end
    grid = grid_for_catalog(events, cell_km)
    if grid == JAPAN.grid and covers:
        return JAPAN
    return derived_protocol(first, last, grid)
