"""The residual networks on ETAS (``cnn-etas``, ``convlstm-etas``): ETAS's forecast as the
base, no look-ahead, saved with the ETAS fit, validated on the train-fitted ETAS."""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import as_catalog

from quake.cli import main
from quake.data.decluster import from_background_probability
from quake.data.etas_sim import etas_catalog, simulate_etas
from quake.data.forecast_data import ForecastData
from quake.data.grid import Grid
from quake.data.protocol import derived_protocol
from quake.errors import ModelError
from quake.models import create, load_model
from quake.models.etas_base import etas_logit
from quake.models.etas_decluster import etas_declustering
from quake.models.nets import output_layer
from quake.models.neural import build
from quake.models.registry import NEURAL_KINDS
from quake.models.store import read_card
from quake.scoring.evaluate import scorer_for
from tests.helpers import run_cli

GRID = Grid(lat0=33.0, lon0=136.0, cell_km=10.0, nx=24, ny=24)
TRUTH = dict(mu=0.3, A=0.131, alpha=1.8, c=0.01, p=1.15, D=4.0, q=1.8, gamma=1.2, b=1.0)
START = date(2000, 1, 1)
N_DAYS = 2400
PROTOCOL = derived_protocol(START, START + timedelta(N_DAYS - 1), GRID)
TINY = {"pool": 2, "embed": 4, "hidden": 4, "head": 4, "channels": 4, "days": 5}
KINDS = ("cnn-etas", "convlstm-etas")


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest: one torch thread


@pytest.fixture(scope="module")
def sim():
    region = (0.0, GRID.nx * GRID.cell_km, 0.0, GRID.ny * GRID.cell_km)
    return simulate_etas(**TRUTH, m0=4.45, t_end_days=float(N_DAYS), region_km=region, seed=5)


@pytest.fixture(scope="module")
def events(sim) -> pd.DataFrame:
    return etas_catalog(sim, GRID, start=START)


def _data(events: pd.DataFrame) -> ForecastData:
    return ForecastData.build(as_catalog(events.reset_index(drop=True)), 4.5, PROTOCOL)


@pytest.fixture(scope="module")
def data(events) -> ForecastData:
    return _data(events)


def _model(kind: str):
    return build(kind, "quick", TINY, {"epochs": 1, "streams": 2, "bptt": 20, "patience": 9})


@pytest.fixture(scope="module")
def trained(data):
    return _model("convlstm-etas").fit(data, final=True)


def test_kinds_are_registered_networks():
    assert set(KINDS) <= set(NEURAL_KINDS)
    with pytest.raises(ModelError, match="model_args"):
        create("convlstm-etas", pool=0)


def test_logit_of_the_etas_probability():
    lam = np.array([0.0, 1e-6, 0.5, 3.0, 1e4])
    p = np.clip(-np.expm1(-lam), 1e-300, None)
    got = etas_logit(lam)
    np.testing.assert_allclose(got[1:4], np.log(p[1:4]) - np.log1p(-p[1:4]), rtol=1e-9)
    assert np.isfinite(got).all() and got[0] < -20 and got[-1] == pytest.approx(30.0, abs=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_zero_network_output_is_the_etas_forecast(kind, data):
    model = create(kind, **TINY)
    model.set_base(data, final=False)
    with torch.no_grad():
        output_layer(model.net).weight.zero_()
        output_layer(model.net).bias.zero_()
    etas = create("etas").fit(data, final=False)
    start = data.days("validation")[0]
    got = model.predict(data, start, start + 30)
    want = etas.predict(data, start, start + 30)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-12)
    assert not np.allclose(want, want[:1])  # the base moves in time
    assert model.meta["params"] == etas.meta["params"]


def test_a_day_forecast_reads_nothing_after_that_day(trained, data, events):
    """Events after day T (removed, or replaced by an M7.5 the next day) leave day T alone:
    the network's inputs and the ETAS base both stop at T."""
    with torch.no_grad():  # a net whose output varies, so the test sees its inputs too
        torch.nn.init.normal_(output_layer(trained.net).weight, std=0.5)
    day = data.days("test")[0] + 40
    cut = np.datetime64(START) + np.timedelta64(day + 1, "D")
    before = events[events["time"].dt.tz_convert(None) < cut]
    extra = before.iloc[[-1]].copy()
    extra["time"] = pd.Timestamp(START, tz="UTC") + pd.to_timedelta(day + 1.5, unit="D")
    extra["magnitude"] = 7.5
    changed = pd.concat([before, extra], ignore_index=True)
    a = trained.predict(_data(events), day - 5, day + 1)
    b = trained.predict(_data(before), day - 5, day + 1)
    c = trained.predict(_data(changed), day - 5, day + 1)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    later = trained.predict(_data(changed), day + 3, day + 4)
    assert not np.array_equal(later, trained.predict(_data(before), day + 3, day + 4))


def test_final_model_swaps_the_etas_fit_and_validates_on_the_train_fit(trained, data):
    assert trained.meta["final"] and trained.meta["base_final"]
    scorer, how = scorer_for(trained, data, "validation")
    assert scorer is not trained and how.startswith("same model fitted on train only")
    assert scorer.meta["base_final"] is False and scorer.net is trained.net
    assert scorer.meta["params"] != trained.meta["params"]  # fitted on fewer days
    assert trained.meta["base_final"]  # the twin did not change the final model
    assert len(trained.meta["train_history"]) == 1
    assert np.isfinite(trained.meta["train_history"][0]["val_pr_auc_all"])


def test_save_load_round_trip_and_checked_folder(trained, data, tmp_path):
    folder = trained.save(tmp_path / "convlstm-etas")
    assert (folder / "background.safetensors").is_file()
    again = load_model(folder)
    start = data.days("test")[0]
    np.testing.assert_array_equal(
        trained.predict(data, start, start + 20), again.predict(data, start, start + 20)
    )
    card = read_card(folder)
    assert card.error is None and card.kind == "convlstm-etas" and "alpha" in card.params
    twin = again.validation_twin(data)  # a loaded model refits ETAS on train for validation
    assert twin.meta["base_final"] is False


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: d["params"].update(A=50.0),  # supercritical
        lambda d: d.pop("params"),
        lambda d: d["params"].update(p="1.1"),
    ],
)
def test_tampered_etas_parameters_are_refused(trained, tmp_path, tamper):
    folder = trained.save(tmp_path / "m")
    doc = json.loads((folder / "model.json").read_text())
    tamper(doc)
    (folder / "model.json").write_text(json.dumps(doc))
    with pytest.raises(ModelError, match="params"):
        load_model(folder)
    assert read_card(folder).error


def test_a_missing_or_tampered_background_is_refused(trained, tmp_path):
    from safetensors.numpy import save_file

    folder = trained.save(tmp_path / "m")
    bg = trained.etas.model.background
    save_file({"background": np.ascontiguousarray(-bg)}, str(folder / "background.safetensors"))
    with pytest.raises(ModelError, match="background"):
        load_model(folder)
    (folder / "background.safetensors").unlink()
    with pytest.raises(ModelError, match="background.safetensors"):
        load_model(folder)


# -- ETAS as a declustering view ------------------------------------------------------------
def test_background_probabilities_threshold_or_draw():
    p = np.array([0.1, 0.5, 0.9, 0.49] * 500)
    fixed = from_background_probability(p)
    assert fixed.n_mainshocks == 1000 and fixed.extra["rule"] == "probability >= 0.5"
    a = from_background_probability(p, seed=1, rows=np.arange(2000), magnitude=p + 4.0)
    b = from_background_probability(p, seed=1)
    assert np.array_equal(a.mainshock, b.mainshock)  # seeded: reproducible
    assert abs(a.n_mainshocks - p.sum()) < 4 * np.sqrt((p * (1 - p)).sum())
    assert a.counts((4.5,))["M>=4.5"]["events"] == 1000
    with pytest.raises(ValueError, match="rows"):
        from_background_probability(p, rows=np.arange(3))


def test_etas_declustering_finds_the_simulated_background(sim, events):
    result = etas_declustering(events, PROTOCOL)
    assert result.method == "etas" and 0.0 < result.extra["branching_ratio"] < 1.0
    rows = result.rows
    assert len(rows) > 500 and np.all(np.diff(rows) > 0)
    assert (events["magnitude"].to_numpy()[rows] >= result.extra["m_min"] - 1e-9).all()
    truth = sim.parent[rows] == -1  # background events of the simulation
    accuracy = float((result.mainshock == truth).mean())
    assert accuracy > max(truth.mean(), 1 - truth.mean()) + 0.1, accuracy
    assert result.extra["probability"][truth].mean() > result.extra["probability"][~truth].mean()


def test_cli_decluster_etas(events, tmp_path, capsys):
    csv = tmp_path / "sim.csv"
    events.to_csv(csv, index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ")
    rc = main(["decluster", str(csv), "--method", "etas", "--json", "--seed", "2"])
    report = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert report["method"] == "etas" and report["params"]["rule"] == "stochastic draw"
    assert 0 < report["n_mainshocks"] < report["n_events"]
    # A bad threshold is refused before any fit, with a message and no traceback.
    bad = run_cli("decluster", str(csv), "--method", "etas", "--threshold", "2")
    assert bad.returncode == 2 and "threshold" in bad.stderr and "Traceback" not in bad.stderr
