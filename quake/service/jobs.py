"""Training started from the dashboard: a background thread the UI watches and can cancel.

`make_runner` picks the trainer for a model kind: `quake.scoring.train.train` for a neural
kind, otherwise fit + score + save by `quake.scoring.evaluate.fit_score_save`. Nothing here
imports streamlit.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quake import settings
from quake.data.forecast_data import ForecastData
from quake.errors import QuakeError
from quake.models.neural_config import NeuralConfig
from quake.models.presets import PRESETS
from quake.models.registry import NEURAL_KINDS
from quake.progress import OnProgress, Progress
from quake.service.folders import FolderClaim

log = logging.getLogger(__name__)


class Cancelled(QuakeError):
    """Training was cancelled by the person who started it."""


Runner = Callable[[OnProgress, Callable[[], bool]], Any]
"""``runner(on_progress, should_stop)``: trains and saves, sending `Progress` events;
``should_stop()`` is True once the person cancelled (a trainer's cancel hook)."""


@dataclass
class TrainingJob:
    """One long run (training, or forecasting a period) in a background thread, watched
    (and cancellable) from the UI; it goes on when the person leaves the page.

    ``history`` gets one dict per training progress call that carries numbers (with the
    trainer's ``step``), so a page can draw live loss and validation curves. Cancelling
    sets the trainer's ``should_stop`` and raises `Cancelled` inside the next progress call
    (for trainers without a cancel hook).

    A job that saves a model holds a `FolderClaim`: its runner writes into ``claim.tmp``;
    success renames that into place, cancel or failure removes that temporary folder only.
    """

    name: str
    claim: FolderClaim | None
    runner: Runner
    status: str = "pending"  # pending, running, done, cancelled, failed
    step: int = 0
    total: int = 0
    stage: str = ""
    error: str | None = None
    history: list[dict] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0
    unit: str = "steps"  # what step and total count ("days" for a forecast run)
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def folder(self) -> Path | None:
        """Where the model is saved once the job is done (None for a forecast run)."""
        return self.claim.final if self.claim is not None else None

    def start(self) -> TrainingJob:
        self.status, self.started = "running", time.time()
        self._thread = threading.Thread(target=self._run, name=f"train-{self.name}", daemon=True)
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> TrainingJob:
        if self._thread is not None:
            self._thread.join(timeout)
        return self

    @property
    def running(self) -> bool:
        return self.status in ("pending", "running")

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total) if self.total else 0.0

    @property
    def elapsed(self) -> float:
        return (self.finished or time.time()) - self.started if self.started else 0.0

    def on_progress(self, event: Progress) -> None:
        if self._cancel.is_set():
            raise Cancelled("cancelled")
        self.stage, self.step, self.total = event.stage, event.step, event.total
        numeric = {k: v for k, v in event.numbers().items() if k != "step"}
        if numeric:
            self.history.append({"step": self.step, **numeric})

    def _run(self) -> None:
        try:
            self.runner(self.on_progress, self._cancel.is_set)
            if self._cancel.is_set():
                raise Cancelled("cancelled")
            if self.claim is not None:
                self.claim.commit()
            self.status = "done"
        except Cancelled:
            self.status = "cancelled"
        except QuakeError as err:  # a message meant for the person
            self.status = "failed"
            self.error = str(err)
            log.warning("job %s failed: %s", self.name, err)
        except Exception as err:  # shown to the person; the thread must never die silently
            self.status = "failed"
            self.error = f"{type(err).__name__}: {err}"
            log.exception("job %s failed", self.name)
        finally:
            if self.claim is not None and self.claim.open:
                self.claim.abort()
            self.finished = time.time()


@dataclass(frozen=True)
class TrainSpec:
    """What a person asked for on the Models page."""

    kind: str
    mc: float
    preset: str | None = None
    class_weight: float | None = None
    epochs: int | None = None


def is_neural(kind: str) -> bool:
    return kind in NEURAL_KINDS


def presets() -> list[str]:
    """Training presets of the neural models (`quake.models.presets.PRESETS`)."""
    return list(PRESETS)


def preset_defaults(kind: str, preset: str | None) -> dict[str, Any]:
    """``epochs`` and ``class_weight`` a neural ``kind`` gets from ``preset`` (None if unknown).

    The class weight is the model config's default (reading it imports the model module).
    """
    out: dict[str, Any] = {"epochs": None, "class_weight": None}
    if preset in PRESETS:
        out["epochs"] = PRESETS[preset]["train"].get("epochs")
    if is_neural(kind):
        out["class_weight"] = NeuralConfig().class_weight
    return out


def training_device() -> str:
    """``$QUAKE_DEVICE`` if set, else ``cuda`` when torch sees a GPU, else ``cpu``: the
    dashboard trains where it runs."""
    chosen = settings.device()
    if chosen:
        return chosen
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def make_runner(spec: TrainSpec, data: ForecastData, folder: Path) -> Runner:
    """A runner that trains ``spec`` on ``data``, scores it and saves it to ``folder``."""
    if is_neural(spec.kind):

        def neural(on_progress: OnProgress, should_stop: Callable[[], bool]) -> Any:
            from quake.scoring.train import train  # torch: imported when a net is trained

            return train(
                spec.kind,
                data,
                preset=spec.preset,
                out=folder,
                class_weight=spec.class_weight,
                epochs=spec.epochs,
                device=training_device(),
                on_progress=on_progress,
                should_stop=should_stop,
            )

        return neural

    from quake.models import create
    from quake.scoring.evaluate import fit_score_save
    from quake.scoring.scorepass import summary_pass

    def baseline(on_progress: OnProgress, should_stop: Callable[[], bool]) -> Any:
        model = create(spec.kind)
        return fit_score_save(model, data, folder, on_progress=on_progress, test_pass=summary_pass)

    return baseline


def eta_text(elapsed: float, fraction: float) -> str:
    """The time left of a run as text (', about 3 min left'); empty while too early to say."""
    if fraction < 0.02 or elapsed < 5.0 or fraction >= 1.0:
        return ""
    left = elapsed * (1.0 - fraction) / fraction
    return f", about {left / 60:.0f} min left" if left >= 90 else f", about {left:.0f} s left"
