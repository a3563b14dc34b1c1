"""About how long a model's map day or period takes on this machine, ensembles included.

The dashboard shows these before it runs anything long (`quake.service.background`): a
map day of a recurrent net is forecast alone when it is quick enough, otherwise the period
run is offered with its cost. An ensemble costs what its members cost: a member whose test
period is cached costs nothing for a day (`quake.service.forecast_cache.forecast_day`
reads it), and every member is run for the ensemble's own period.
"""

from __future__ import annotations

from pathlib import Path

from quake.data.forecast_data import ForecastData
from quake.models.base import Forecaster
from quake.service.background import estimate_seconds
from quake.service.forecast_cache import cached_day, members_of, warmup_for_day

QUICK_DAY_SECONDS = 60.0
"""A map day is forecast alone when that takes about this long at most (a recurrent net from
its nearest saved state); otherwise the period run is offered."""


def model_pool(model: Forecaster) -> int:
    """The model's coarse cells in protocol cells (1: the paper's 10 km; 1 when it has none)."""
    pool = getattr(getattr(model, "config", None), "pool", 1)
    return int(pool) if isinstance(pool, int) and pool >= 1 else 1


def day_seconds(
    model: Forecaster,
    model_folder: str | Path,
    data: ForecastData,
    t: int,
    root: Path | None = None,
) -> float:
    """About how long the forecast of day ``t`` alone takes: the warm-up of a recurrent net
    from its nearest saved or cached state, summed over an ensemble's members (0 for the
    others: a day of them takes seconds at most)."""
    parts = members_of(model, model_folder)
    if parts is not None:
        return sum(
            0.0 if cached_day(f, data, t, root) else day_seconds(m, f, data, t, root)
            for m, f in parts
        )
    if not getattr(model, "recurrent", False):
        return 0.0
    warm = warmup_for_day(model, model_folder, data, int(t), root)
    return estimate_seconds(model.kind, 1, model_pool(model), True, warm)


def period_seconds(
    model: Forecaster,
    model_folder: str | Path,
    data: ForecastData,
    period: str = "test",
    root: Path | None = None,
) -> float:
    """About how long forecasting every day of ``period`` takes (the map's cache run); an
    ensemble runs all its members for it."""
    if getattr(model, "static_forecast", None) is not None:
        return 0.0
    start, stop = data.days(period)
    parts = members_of(model, model_folder)
    if parts is not None:
        return sum(period_seconds(m, f, data, period, root) for m, f in parts)
    pool = model_pool(model)
    if getattr(model, "recurrent", False):
        warm = warmup_for_day(model, model_folder, data, start, root)
        return estimate_seconds(model.kind, stop - start, pool, True, warm)
    return estimate_seconds(model.kind, stop - start, pool)


def day_is_quick(
    model: Forecaster,
    model_folder: str | Path,
    data: ForecastData,
    t: int,
    root: Path | None = None,
) -> bool:
    """Whether day ``t`` can be forecast alone within `QUICK_DAY_SECONDS`."""
    return day_seconds(model, model_folder, data, t, root) <= QUICK_DAY_SECONDS
