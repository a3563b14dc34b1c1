"""The measuring instrument: stream a model over a period into operating curves, score, store.

`evaluate` runs ``model.predict_days`` and ``data.targets.dense`` over a period's forecast
days in blocks and fills one `quake.metrics.scores.OperatingCurve` per mask, each pair weighted by
the naive prior (for the rate-weighted Molchan diagram): ``data.prior(final=True)`` on the
test period, ``data.prior(final=False)`` on validation, i.e. the prior a model fitted for
that period may know. Each block is binned once for every mask and observer
(`quake.metrics.groups.CellGroups`), in a worker thread while the model makes the next
block (`quake.behind`). Memory stays at a few blocks (``chunk`` days x cells) whatever the
period.

A model that is constant in time (it has ``static_forecast(data) -> (ny, nx)``, as the naive
baseline does) takes a fast path: each cell's positive and negative days are counted and
entered once with that count, instead of once per pair (`counts_curve`).

`score_model` turns curves into the model card's summaries (`quake.metrics.scores.score_summary`),
with the paper's Table III threshold: where the model catches as many targets as the naive
baseline does at its best-F1 threshold (same data, Mc, period and mask).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from quake.behind import Behind
from quake.data.forecast_data import ForecastData
from quake.errors import MetricsError, ModelError
from quake.metrics.bins import DEFAULT_DESIGN
from quake.metrics.groups import CellGroups
from quake.metrics.scores import OperatingCurve, score_summary
from quake.models.base import Forecaster, forecast_blocks
from quake.models.store import save_scores, save_summary
from quake.progress import OnProgress, emit, restage

PERIODS = ("test", "validation")
MASKS = ("all", "active")
TestPass = Callable[
    [Forecaster, ForecastData, Sequence[str], "OnProgress | None"],
    tuple[dict[str, Any], Any],
]
"""(model, data, masks, on_progress) -> (test curves per mask, a `ScoringSummary`)."""


class Observer(Protocol):
    """Anything that watches the forecasts of a scoring run, block by block: ``probs``
    ``(n_days, ny, nx)`` from forecast day ``day0`` and their bins ``(n_days, ny * nx)`` in
    `quake.metrics.bins.DEFAULT_DESIGN` (binned once per block for every curve)."""

    def update(self, day0: int, probs: np.ndarray, bins: np.ndarray) -> None: ...


def prior_for(data: ForecastData, period: str) -> np.ndarray:
    """The naive prior ``(ny, nx)`` a model scored on ``period`` may know (the pair weights)."""
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}; expected one of {PERIODS}")
    return data.prior(final=period == "test")


def counts_curve(
    p_cells: np.ndarray,
    n_pos: np.ndarray,
    n_neg: np.ndarray,
    weight_cells: np.ndarray | None = None,
) -> OperatingCurve:
    """A curve from per-cell counts: cell i has score ``p_cells[i]`` on ``n_pos[i]`` positive
    and ``n_neg[i]`` negative pairs (each pair of the cell weighted ``weight_cells[i]``).

    Equal to updating the curve with every pair, at the cost of one entry per cell.
    """
    curve = OperatingCurve.empty()
    n = curve.design.n_bins
    k = curve.design.bin_index(np.asarray(p_cells))
    pos = np.asarray(n_pos, dtype=np.float64).ravel()
    neg = np.asarray(n_neg, dtype=np.float64).ravel()
    curve.hist = np.stack(
        [np.bincount(k, weights=c, minlength=n).round().astype(np.int64) for c in (neg, pos)]
    )
    if weight_cells is not None:
        w = np.asarray(weight_cells, dtype=np.float64).ravel()
        curve.whist = np.stack([np.bincount(k, weights=c * w, minlength=n) for c in (neg, pos)])
    return curve


def _static_curves(
    static: np.ndarray,
    data: ForecastData,
    period: str,
    masks: Sequence[str],
    weight: np.ndarray,
) -> dict[str, OperatingCurve]:
    start, stop = data.days(period)
    pos = data.targets.positives_per_cell(start, stop)
    neg = (stop - start) - pos
    p = np.asarray(static, dtype=np.float32).ravel()
    out = {}
    for m in masks:
        keep = data.mask(m).ravel()
        out[m] = counts_curve(p[keep], pos[keep], neg[keep], weight.ravel()[keep])
    return out


def evaluate(
    model: Forecaster,
    data: ForecastData,
    period: str = "test",
    masks: Sequence[str] = MASKS,
    chunk: int = 64,
    on_progress: OnProgress | None = None,
    observers: Sequence[Observer] = (),
    behind: bool = True,
) -> dict[str, OperatingCurve]:
    """One operating curve per mask over every (forecast day, cell) pair of ``period``.

    Pairs are weighted by `prior_for` ``(data, period)``. A ``score <period>`` progress
    event of days done after each block (days a recurrent net runs through first included).
    Each of ``observers`` sees every block too: ``update(day0, probs)`` with ``probs``
    ``(n_days, ny, nx)`` read-only (`quake.scoring.scorepass`); a static model then
    streams its one map, broadcast over the days, through them.

    ``behind``: count each block's pairs (curves and observers) in a background thread
    while the model makes the next block (`quake.behind.Behind`; the same curves either
    way, to the last bit). False counts them in this thread, between the blocks.
    """
    stage = f"score {period}"
    start, stop = data.days(period)
    weight = prior_for(data, period).astype(np.float64)
    static_forecast = getattr(model, "static_forecast", None)
    if static_forecast is not None:
        static = np.asarray(static_forecast(data), dtype=np.float32)
        curves = _static_curves(static, data, period, masks, weight)
        static_bins = DEFAULT_DESIGN.bin_index(static)[None] if observers else None
        for a in range(start, stop, chunk) if observers else ():
            n = min(chunk, stop - a)
            block = np.broadcast_to(static, (n, *static.shape))
            for obs in observers:
                obs.update(a, block, np.broadcast_to(static_bins, (n, static.size)))
        emit(on_progress, stage, stop - start, stop - start)
        return curves
    if not (np.isfinite(weight).all() and weight.min() >= 0):
        raise MetricsError("weights must be finite and non-negative (the naive prior)")
    groups = CellGroups({m: data.mask(m) for m in masks})
    curves = {m: OperatingCurve.empty(DEFAULT_DESIGN) for m in masks}
    wflat = weight.ravel()

    def count(a: int, p: np.ndarray) -> None:
        n = len(p)
        bins = DEFAULT_DESIGN.bin_index(p).reshape(n, -1)  # once for every curve
        y = data.targets.dense(a, a + n).reshape(n, -1).view(bool)  # 0/1 bytes: a bool view
        groups.add_to(curves, bins, y, wflat)
        for obs in observers:
            obs.update(a, p, bins)

    expect = start
    # the host counts block i while the model makes block i + 1 (`quake.behind`)
    with Behind(depth=1, enabled=behind) as lane:
        for a, p in forecast_blocks(model, data, start, stop, chunk, on_progress, stage):
            if a != expect or p.shape[1:] != data.grid.shape:
                raise ModelError(
                    f"{model.kind}.predict_days gave block ({a}, {p.shape}); expected day "
                    f"{expect} and maps of shape {data.grid.shape}"
                )
            lane.submit(count, a, p)
            expect = a + p.shape[0]
        if expect != stop:
            raise ModelError(f"{model.kind}.predict_days stopped at day {expect}, not {stop}")
    return curves


def naive_curves(
    data: ForecastData, period: str = "test", masks: Sequence[str] = MASKS
) -> dict[str, OperatingCurve]:
    """The naive baseline's curves (fitted as for ``period``), by the per-cell fast path."""
    prior = prior_for(data, period)
    return _static_curves(prior.astype(np.float32), data, period, masks, prior)


def score_model(
    curves: dict[str, OperatingCurve],
    data: ForecastData,
    period: str = "test",
    baseline: dict[str, OperatingCurve] | None = None,
) -> dict[str, dict[str, Any]]:
    """``{mask: score_summary}`` with the protocol's thresholds and ``matched_tp``: the
    threshold where the model catches as many targets (TP) as the naive baseline at its
    best-F1 threshold (Table III's view). ``baseline`` defaults to `naive_curves`.
    """
    if baseline is None:
        baseline = naive_curves(data, period, tuple(curves))
    return {
        m: score_summary(c, thresholds=data.protocol.thresholds, baseline=baseline[m])
        for m, c in curves.items()
    }


def check_compatible(model: Forecaster, data: ForecastData) -> None:
    """Refuse to score a saved model on data other than what it was fitted for."""
    problems = []
    if model.mc is None or not math.isclose(float(model.mc), data.mc):
        problems.append(f"Mc {model.mc} (data: {data.mc:g})")
    proto = model.protocol
    if proto is None or proto.to_dict() != data.protocol.to_dict():
        name = proto.name if proto else None
        problems.append(f"protocol {name} (data: {data.protocol.name}, or its grid/dates differ)")
    if model.meta.get("fingerprint") != data.fingerprint:
        problems.append("catalog fingerprint (it was fitted on another catalog or version)")
    if problems:
        raise ModelError(
            f"the saved {model.kind} model does not match the data: {'; '.join(problems)}. "
            "Fit a fresh model on this catalog (python -m quake fit ...)."
        )


def scorer_for(model: Forecaster, data: ForecastData, period: str) -> tuple[Forecaster, str]:
    """The model that may be scored on ``period`` and how it was obtained.

    A ``final`` model was fitted on validation too, so its validation scores would be
    in-sample; its ``validation_twin(data)`` (the same model fitted on train, if the kind
    has one) is scored instead. Without a twin the final model is used and said so.
    """
    if period != "validation" or not model.meta.get("final"):
        return model, "fitted for the period"
    twin = getattr(model, "validation_twin", None)
    try:
        if twin is not None:
            return twin(data), "same model fitted on train only (final=False)"
    except ModelError:
        pass  # e.g. a loaded boosting model: its selection fit was not saved
    return model, "final model (in-sample: it was fitted on validation too)"


def fit_score_save(
    model: Forecaster,
    data: ForecastData,
    out: str | Path,
    fit: bool = True,
    periods: Sequence[str] = PERIODS,
    masks: Sequence[str] = MASKS,
    on_progress: OnProgress | None = None,
    test_pass: TestPass | None = None,
) -> dict[str, dict[str, dict]]:
    """Fit ``model`` for the test period (``final=True``) unless ``fit`` is False (already
    trained, e.g. by the neural ``train`` command), score it on ``periods`` x ``masks``, and
    save the folder with model.json ``scores``, ``fit_seconds``, ``eval_seconds``,
    ``scored_by`` (see `scorer_for`) and curves.json. Progress events of the stages
    ``fit`` and ``score <period>``. ``test_pass`` (e.g. `quake.scoring.scorepass.summary_pass`)
    scores the test period instead of `evaluate` and returns its curves with a scoring summary,
    saved beside them (`quake.models.store.save_summary`).
    """
    if fit:
        t0 = time.perf_counter()
        model.fit(data, final=True, on_progress=restage(on_progress, "fit"))
        model.meta["fit_seconds"] = round(time.perf_counter() - t0, 2)
    scores: dict[str, dict[str, dict]] = {}
    curves: dict[str, dict[str, OperatingCurve]] = {}
    eval_seconds: dict[str, float] = {}
    scored_by: dict[str, str] = {}
    summary = None
    for period in periods:
        scorer, scored_by[period] = scorer_for(model, data, period)
        t0 = time.perf_counter()
        if period == "test" and test_pass is not None:
            curves[period], summary = test_pass(scorer, data, masks, on_progress)
        else:
            curves[period] = evaluate(scorer, data, period, masks, on_progress=on_progress)
        eval_seconds[period] = round(time.perf_counter() - t0, 2)
        scores[period] = score_model(curves[period], data, period)
    model.meta["eval_seconds"] = eval_seconds
    model.meta["scored_by"] = scored_by
    model.save(out)
    save_scores(out, scores, curves)
    if summary is not None:
        save_summary(out, summary)
    return scores
