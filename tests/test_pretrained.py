"""The committed models/ folders: every one loads without unpickling anything, its scores
agree with its operating curves, and it forecasts days of the reference catalog's first months.

These are the models the dashboard shows the moment it starts (some trained on a GPU: their
weights must load and run on a CPU).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from quake.data.forecast_data import ForecastData
from quake.models import load_model
from quake.models.store import load_curves, model_folders, read_card
from quake.service.background import estimate_seconds
from quake.service.costs import QUICK_DAY_SECONDS

MODELS = Path(__file__).resolve().parent.parent / "models"
FOLDERS = model_folders(MODELS)


def test_the_pretrained_set_is_complete_and_small():
    names = {p.name for p in FOLDERS}
    for mc in ("5", "4.5"):
        for need in ("naive", "convlstm-resid-quick", "convlstm-resid-paper"):
            assert f"{need}-m{mc}" in names, f"models/{need}-m{mc} is missing"
        assert {f"xgb-rtl-m{mc}", f"xgb-indicator-m{mc}"} & names, "no boosting model"
    files = [f for f in MODELS.rglob("*") if f.is_file()]
    # The scoring summaries (block histograms and CSEP window sums for the intervals and
    # tests) have a budget of their own: at most 0.5 MB a model.
    summaries = [f for f in files if f.name.startswith("scoring.")]
    for f in summaries:
        assert f.stat().st_size < 0.5e6, f"{f} is {f.stat().st_size / 1e6:.2f} MB (budget 0.5 MB)"
    # Saved states of recurrent nets (quake.models.states) too: 0.5 MB a quick-preset net;
    # a paper-preset net (10 km cells, 32 channels) keeps two states, at the test period's
    # start and middle (2.8-4.5 MB each: evaluate starts at the first, a first map of any
    # test day runs through at most ~half the period: `test_a_first_map_warms_up_...`).
    # A paper net's seed members (NAME-s1, NAME-s2) keep the test start's only (2.6-2.9 MB).
    states = {f.parent.name: f.stat().st_size for f in files if f.name == "states.safetensors"}
    for name, size in states.items():
        seed = name.rsplit("-", 1)[-1].startswith("s")
        limit = (3.5e6 if seed else 9.5e6) if "-paper-" in name else 0.5e6
        assert size < limit, f"{name}: states take {size:,} bytes (budget {limit:,.0f})"
    assert sum(states.values()) < 45e6, f"states take {sum(states.values()) / 1e6:.1f} MB"
    size = sum(
        f.stat().st_size for f in files if f not in summaries and f.name != "states.safetensors"
    )
    # 11.5 MB for the 22 models of Table II, 6 MB more for cnn-etas and the networks' other
    # seeds (ten quick-preset members NAME-s1, NAME-s2 for Table II's mean ± sd: 0.3-0.7 MB
    # each, the *-etas ones with their ETAS background map); stop 28: Table II's quick rows
    # at Mc 4.5 with three seeds each (cnn-resid, cnn-etas, convlstm-etas), 4.7 MB, and the
    # paper convlstm's seeds 1 and 2 at both Mc (trained on an H200; no stored states), 2.5 MB;
    # stop 29: the quick cnn and convlstm rows, three seeds at both Mc (12 folders), 4.2 MB.
    assert size < 30e6, f"models/ holds {size / 1e6:.1f} MB of models (budget 30 MB)"
    pickles = [f for f in MODELS.rglob("*") if f.suffix in (".pkl", ".pickle", ".pt", ".pth")]
    assert not pickles, pickles


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_scores_agree_with_the_saved_curves(folder):
    card = read_card(folder)
    assert card.error is None and card.has_curves, card.error
    curves = load_curves(folder)
    for period in ("test", "validation"):
        for mask in ("all", "active"):
            s = card.scores[period][mask]
            c = curves[period][mask]
            assert c.n_positive == s["n_positive"] and c.n_pairs == s["n_pairs"]
            assert abs(c.roc_auc() - s["roc_auc"]) < 1e-9, (period, mask)
            assert abs(c.pr_auc() - s["pr_auc"]) < 1e-9, (period, mask)
    # every model was scored on the same test pairs (PROTOCOL.md)
    n_pos = {5.0: 55_291, 4.5: 250_334}[card.mc]
    assert card.scores["test"]["all"]["n_positive"] == n_pos


@pytest.fixture(scope="module")
def reference_data(reference_catalog):
    return {mc: ForecastData.build(reference_catalog, mc) for mc in (5.0, 4.5)}


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_loads_and_forecasts_on_a_cpu(folder, reference_data):
    model = load_model(folder)
    data = reference_data[float(model.mc)]
    assert model.meta["fingerprint"] == data.fingerprint
    p = model.predict(data, 30, 32)  # a recurrent net first runs through days 0 ... 29
    assert p.shape == (2, *data.grid.shape) and p.dtype == np.float32
    assert np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all()
    assert p.max() > p.min()  # not a constant map


@pytest.mark.parametrize(
    "folder",
    [f for f in FOLDERS if (f / "states.safetensors").is_file()],
    ids=lambda p: p.name,
)
def test_saved_states_load_with_their_model(folder):
    """A recurrent net's saved states are read with it (every kind, the ETAS nets too)
    and start no earlier than its test period."""
    model = load_model(folder)
    days = model.snapshots.days
    assert days and model.folder_snapshot_days == set(days)
    start = model.protocol.period("test").start
    assert model.protocol.day_to_date(days[0]) == start


@pytest.mark.parametrize(
    "folder",
    [f for f in FOLDERS if (read_card(f).kind or "").startswith("convlstm")],
    ids=lambda p: p.name,
)
def test_every_recurrent_net_carries_its_test_start_state(folder):
    """Without it, `evaluate` and a first map run through every day from 1990 (~14 minutes
    for a paper-preset net on a 2-core CPU; docs/FORECAST_SPEED.md)."""
    assert (folder / "states.safetensors").is_file(), f"{folder.name}: no saved states"


MAX_MAP_WARMUP = 1_700
"""Days a first map of a paper-preset recurrent net may run through from its nearest saved
state: at ~0.03 s a day on the 2-core reference CPU (docs/FORECAST_SPEED.md) that keeps any
test day's first map within a minute (issue #13)."""


def _full_resolution_recurrent(folder: Path) -> bool:
    card = read_card(folder)
    return (card.kind or "").startswith("convlstm") and card.model_args.get("pool", 1) == 1


def _seed_member(folder: Path) -> bool:
    """``NAME-s1``, ``NAME-s2``...: a seed sweep's other members (Table II's mean ± sd)."""
    return re.fullmatch(r"s\d+", folder.name.rsplit("-", 1)[-1]) is not None


@pytest.mark.parametrize(
    "folder",
    [f for f in FOLDERS if _full_resolution_recurrent(f) and not _seed_member(f)],
    ids=lambda p: p.name,
)
def test_a_first_map_warms_up_from_a_state_near_any_test_day(folder):
    """(A quick-preset net runs ~1 ms a day: its test start state is enough. A paper net's
    seed members keep only that state, 2-3 MB each: a map of a day far into the test
    period offers their period run, as for any net far from a state.)"""
    model = load_model(folder)
    p = model.protocol.period("test")
    first, stop = model.protocol.date_to_day(p.start), model.protocol.date_to_day(p.end) + 1
    days = sorted(model.snapshots.days)
    gaps = [b - a for a, b in zip(days, [*days[1:], stop], strict=True)]
    assert days[0] == first and max(gaps) <= MAX_MAP_WARMUP, (
        f"{folder.name}: states on days {days}; the longest warm-up is {max(gaps)} days"
    )
    # and the map pages expect such a day within their minute (else they offer the period)
    assert estimate_seconds(model.kind, 1, 1, True, max(gaps)) <= QUICK_DAY_SECONDS
