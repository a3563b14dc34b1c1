"""Long work of a server (a model's whole-period forecasts) under control.

Such work starts only when a person asks for it, knowing what it costs (`estimate_seconds`);
it runs in a `TrainingJob` (progress, cancel); one key (model x data) never runs twice at
once; and a `JobBoard` runs at most ``limit`` jobs at a time, refusing more with a message
that names the runs in the way. Nothing here imports streamlit: the dashboard keeps one
board per server (``st.cache_resource``) and shows it on every page.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from quake import settings
from quake.errors import QuakeError
from quake.service.folders import FolderClaim
from quake.service.jobs import Runner, TrainingJob

DEFAULT_LIMIT = 2

# Seconds per test day of a whole-period forecast, measured on the 2-core reference
# machine (issue #13: 100 s for xgb over 1,096 test days, 66 s for cnn-resid-quick, 293 s
# for convlstm-resid-quick, 75-107 min for convlstm-paper). A recurrent net also warms
# up from 1990, which the per-day rate includes. ETAS: 39 s for the 3,237 test days of
# etas-m5 at load 5 (`python -m quake evaluate`). The full-resolution CNN was not measured:
# its rate is a guess on the slow side.
SECONDS_PER_DAY: dict[str, float] = {
    "naive": 0.0,
    "ri": 0.02,
    "boosting": 0.1,
    "xgb_rtl": 0.1,
    "xgb_indicator": 0.1,
    "cnn": 0.06,
    "convlstm": 0.27,
    "etas": 0.02,
}
FULL_RESOLUTION_NET = 5.0  # s per test day: a paper-preset (10 km cells) recurrent net
FULL_RESOLUTION_CNN = 1.0
RECURRENT_STEP = {"paper": 0.05, "quick": 0.01}
"""Seconds per period day of a recurrent net with its forecasts (the map's cache run: the
head, the upsampling and the file) on the 2-core reference machine: convlstm-paper-m5 ~0.035
s a day on 2 threads, idle (`bench/bench_recurrent_step.py`; 0.14 s before the input gates
were computed near each day's events only), the quick preset's 40 km nets ~1-3 ms; counted
above that so that a busy server is not promised too much."""
RECURRENT_WARMUP_STEP = {"paper": 0.033, "quick": 0.01}
"""Seconds per warm-up day (the state only, no forecasts): convlstm-paper-m5 0.025-0.029 s
a day idle, 0.029 s over the whole test period in a first map (docs/FORECAST_SPEED.md). With
saved states (`quake.models.states`) the warm-up is only the days since the nearest state."""


class BoardFull(QuakeError):
    """The server already runs as many background jobs as it allows."""


def estimate_seconds(
    kind: str, n_days: int, pool: int = 1, recurrent: bool = False, warmup_days: int | None = None
) -> float:
    """About how long forecasting ``n_days`` takes a model of ``kind`` on this CPU.

    ``pool`` 1 with a neural kind is the paper preset at full resolution (much slower);
    unknown kinds count as 1 s a day (said as an estimate, never a promise). A recurrent
    net with a known ``warmup_days`` (from its saved states) counts `RECURRENT_WARMUP_STEP`
    seconds for each warm-up day and `RECURRENT_STEP` for each period day.
    """
    if recurrent and warmup_days is not None:
        preset = "paper" if pool <= 1 else "quick"
        warm = RECURRENT_WARMUP_STEP[preset] * max(0, int(warmup_days))
        return warm + RECURRENT_STEP[preset] * max(0, int(n_days))
    base = kind.split("-")[0].replace("-", "_")
    rate = SECONDS_PER_DAY.get(kind.replace("-", "_"), SECONDS_PER_DAY.get(base, 1.0))
    neural = base in ("cnn", "convlstm")
    if neural and pool <= 1:
        rate = FULL_RESOLUTION_NET if recurrent or base == "convlstm" else FULL_RESOLUTION_CNN
    return rate * max(0, int(n_days))


def cost_text(seconds: float) -> str:
    """``'about 2 min'``, ``'about 40 s'``, ``'about 1.5 h'``: an estimate for a button."""
    if seconds < 90:
        return f"about {max(5, round(seconds / 5) * 5):.0f} s"
    if seconds < 90 * 60:
        return f"about {seconds / 60:.0f} min"
    return f"about {seconds / 3600:.1f} h"


def _runs_full(busy: list[TrainingJob], limit: int) -> str:
    names = ", ".join(j.name for j in busy)
    return (
        f"{len(busy)} background runs already use this server ({names}); "
        "wait for one to finish or cancel one, then start this one."
    )


def _trainings_full(busy: list[TrainingJob], limit: int) -> str:
    names = ", ".join(j.name for j in busy)
    return (
        f"{len(busy)} training(s) already run on this server ({names}); at most {limit} at "
        f"once ({settings.MAX_TRAININGS_ENV}). Start this one when one of them has ended."
    )


@dataclass
class JobBoard:
    """The background jobs of one server, by key; at most ``limit`` run at a time.
    ``full``: the message when they do (who is in the way, what to do)."""

    limit: int = DEFAULT_LIMIT
    full: Callable[[list[TrainingJob], int], str] = _runs_full
    jobs: dict[str, TrainingJob] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)  # key -> days of the period
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def get(self, key: str) -> TrainingJob | None:
        return self.jobs.get(key)

    def running(self) -> list[tuple[str, TrainingJob]]:
        """``(key, job)`` of the jobs still running, oldest first."""
        return [(k, j) for k, j in list(self.jobs.items()) if j.running]

    def start(
        self,
        key: str,
        name: str,
        runner: Runner,
        unit: str = "days",
        size: int = 0,
        claim: FolderClaim | None = None,
    ) -> TrainingJob:
        """The job of ``key``: the one already running, or a new one started now.
        ``size``: the days of the period it forecasts (what its progress is told in);
        ``claim``: the model folder a training writes (`TrainingJob`).

        Raises `BoardFull` when ``limit`` jobs run already (none is queued: the person
        decides what to cancel).
        """
        with self._lock:
            job = self.jobs.get(key)
            if job is not None and job.running:
                return job
            busy = [j for _, j in self.running()]
            if len(busy) >= self.limit:
                raise BoardFull(self.full(busy, self.limit))
            job = TrainingJob(name, claim, runner, unit=unit)
            self.jobs[key] = job
            self.sizes[key] = int(size)
            return job.start()

    def cancel(self, key: str) -> bool:
        """Ask the job of ``key`` to stop (at its next progress event); False if none runs."""
        job = self.jobs.get(key)
        if job is None or not job.running:
            return False
        job.cancel()
        return True

    def forget(self, key: str) -> None:
        """Drop a finished job (a failed one can then be asked for again)."""
        with self._lock:
            job = self.jobs.get(key)
            if job is not None and not job.running:
                del self.jobs[key]

    def wait_all(self, timeout: float | None = None) -> None:
        for _, job in self.running():
            job.wait(timeout)


def training_board(limit: int) -> JobBoard:
    """The trainings of one server: at most ``limit`` at once, whoever starts them (each
    session may run one; without a server-wide cap, more tabs ran more)."""
    return JobBoard(limit=limit, full=_trainings_full)


def progress_text(job: TrainingJob, n_days: int) -> str:
    """A forecast run's progress in days: the warm-up days before the period (a recurrent
    net or a feature window), then the period's own days."""
    from quake.service.jobs import eta_text

    total, step = int(job.total), int(job.step)
    if total <= 0:
        return f"{job.name}: starting"
    warm = max(0, total - int(n_days))
    left = eta_text(job.elapsed, job.fraction)
    if warm and step < warm:
        return f"{job.name}: warming up on the days before the period, {step:,} of {warm:,}{left}"
    return f"{job.name}: day {step - warm:,} of {total - warm:,}{left}"
