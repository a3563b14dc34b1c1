"""Recompute a saved model's scoring summary (`quake.scoring.scorepass`) and store it.

`rescore` loads the folder's model, prepares the catalog at the model's own Mc (with every
event and with Gardner-Knopoff mainshocks as targets), checks that the model was fitted
on that catalog, runs one scoring pass over the test period and writes ``scoring.json``
and ``scoring.safetensors`` into the folder (`quake.models.store.summaries`), and the same
run's curves and scores of that period into curves.json and model.json's ``scores``: every
number of the folder then describes one forecast. (Until stop 29 the card was left alone;
four recurrent models trained before their inference code last changed showed a training-
time ROC in Table II and a rescored one in its intervals, e.g. 0.8520 against 0.8555.)
The rest of model.json (``saved``, training history, ...) is not touched.
"""

from __future__ import annotations

import time
from pathlib import Path

from quake.data.catalog import Catalog
from quake.data.forecast_data import ForecastData
from quake.models import load_model
from quake.models.store import save_scores
from quake.models.store.summaries import ScoringSummary, save_summary
from quake.progress import OnProgress
from quake.scoring.evaluate import check_compatible, score_model
from quake.scoring.scorepass import score_pass


class DataCache:
    """`ForecastData` of one catalog per (Mc, targets), built once."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._data: dict[tuple[float, str], ForecastData] = {}

    def get(self, mc: float, targets: str = "all") -> ForecastData:
        key = (float(mc), targets)
        if key not in self._data:
            self._data[key] = ForecastData.build(self.catalog, float(mc), targets=targets)
        return self._data[key]


def rescore(
    folder: str | Path,
    cache: DataCache,
    period: str = "test",
    mainshocks: bool = True,
    on_progress: OnProgress | None = None,
) -> tuple[ScoringSummary, float]:
    """Score the saved model in ``folder`` once more and store its summary; returns it and
    the seconds taken (catalog preparation excluded)."""
    model = load_model(Path(folder))
    data = cache.get(float(model.mc))
    check_compatible(model, data)
    main = cache.get(float(model.mc), "mainshocks") if mainshocks else None
    t0 = time.perf_counter()
    curves, summary = score_pass(model, data, period, mainshock_data=main, on_progress=on_progress)
    save_summary(folder, summary)
    save_scores(folder, {period: score_model(curves, data, period)}, {period: curves})
    return summary, time.perf_counter() - t0
