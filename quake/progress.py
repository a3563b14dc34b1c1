"""One progress event for every long run: fitting, training, scoring and the map cache.

A run calls ``on_progress(Progress(stage, step, total, metrics))``; the CLI draws the events
with tqdm (`quake.commands._common.TqdmProgress`), the dashboard with ``st.progress``
(`quake.service.jobs.TrainingJob`), from the same events. A callback may raise to cancel
the run (the dashboard's cancel button does).

Stages: ``fit`` (a baseline), ``features`` (boosting features), ``train`` and ``validation``
(a neural net, one ``validation`` event per epoch), ``score test`` / ``score validation``
(`quake.scoring.evaluate`), ``forecast`` (forecasting days for the map).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Progress:
    """``step`` of ``total`` done in ``stage``; ``metrics`` are numbers to show or plot
    (``loss``, ``val_pr_auc_all``, ``epoch`` …)."""

    stage: str
    step: int
    total: int
    metrics: Mapping[str, float | int | str] = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total) if self.total > 0 else 0.0

    def numbers(self) -> dict[str, float]:
        """The numeric metrics (for live curves); booleans and text left out."""
        return {
            k: float(v)
            for k, v in self.metrics.items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        }


OnProgress = Callable[[Progress], None]


def emit(on_progress: OnProgress | None, stage: str, step: int, total: int, **metrics) -> None:
    """Send one event when there is a listener."""
    if on_progress is not None:
        on_progress(Progress(stage, int(step), int(total), metrics))


def restage(on_progress: OnProgress | None, stage: str) -> OnProgress | None:
    """A listener that relabels every event with ``stage`` (a sub-run seen as one stage)."""
    if on_progress is None:
        return None
    return lambda p: on_progress(replace(p, stage=stage))
