"""The neural forecasters (quake.models.neural, .training): fast checks on tiny grids, CPU."""

from __future__ import annotations

import json
import pickle
import threading
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
import torch

from quake.data.catalog import Catalog, LoadReport
from quake.data.forecast_data import ForecastData
from quake.data.grid import Grid
from quake.data.protocol import derived_protocol
from quake.data.synthetic import synthetic_catalog
from quake.errors import ModelError
from quake.models import Forecaster, create, nets
from quake.models.nets import ConvLSTMNet, output_layer
from quake.models.neural import build
from quake.models.training import TrainConfig, fit_network
from quake.scoring.evaluate import naive_curves
from tests.helpers import small_catalog_csv

KINDS = ("cnn", "convlstm", "cnn-resid", "convlstm-resid")
TINY = {"pool": 2, "embed": 4, "hidden": 8, "head": 8, "channels": 8, "days": 5}


def _data(mc: float = 4.0, n: int = 12, n_days: int = 1200, **kw) -> ForecastData:
    """A seeded synthetic catalog on an n x n grid of 10 km cells (about n / 11 degrees)."""
    deg = n * 10.0 / 111.0
    df = synthetic_catalog(
        start=date(2000, 1, 1),
        n_days=n_days,
        lat=(35.0, 35.0 + deg),
        lon=(139.0, 139.0 + deg),
        **{"n_background": 400, "productivity": 0.8, "seed": 7, **kw},
    )
    grid = Grid(lat0=35.0, lon0=139.0, cell_km=10.0, nx=n, ny=n)
    protocol = derived_protocol(date(2000, 1, 1), date(2000, 1, 1) + timedelta(n_days - 1), grid)
    catalog = Catalog(df, LoadReport("synthetic", "synthetic", len(df), len(df)))
    return ForecastData.build(catalog, mc, protocol)


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest: one torch thread


@pytest.fixture(scope="module")
def data() -> ForecastData:
    return _data()


def _model(kind: str, epochs: int = 1, **train):
    model = build(
        kind, "quick", TINY, {"epochs": epochs, "streams": 2, "bptt": 20, "patience": 99, **train}
    )
    return model


@pytest.mark.parametrize("kind", KINDS)
def test_shapes_and_gradients(kind, data):
    model = create(kind, **{k: v for k, v in TINY.items()})
    model.set_base(data, final=False)
    events = model.coarse_events(data)
    x = torch.from_numpy(np.stack([model.inputs(events, 100 - model.lag, 110)] * 3))
    assert x.shape == (3, 10 + model.lag, 6, 6)  # 12 x 12 cells pooled by 2
    # the untrained output layer is zero; perturb it so that every layer gets a gradient
    torch.nn.init.normal_(output_layer(model.net).weight, std=0.1)
    delta, state = model.run(x)
    assert delta.shape == (3, 10, 6, 6)
    up = model.upsample(delta, data.grid.shape)
    assert up.shape == (3, 10, 12, 12)
    assert (state is None) != model.recurrent
    up.square().sum().backward()
    for name, p in model.net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, f"no gradient reaches {name}"
    probs = model.predict(data, *data.days("validation"))
    assert probs.shape == (data.days("validation")[1] - data.days("validation")[0], 12, 12)
    assert probs.dtype == np.float32 and ((probs > 0) & (probs < 1)).all()


def test_coarse_events_follow_the_catalog_not_the_object_identity(data, monkeypatch):
    """Stop 27's audit: the cache was keyed on ``id(data.events)``; a freed catalog's
    successor at the same address (two visitors, one shared model) got its events. Every
    ``id`` is made equal here, the worst case of that reuse."""
    from quake.models import neural

    monkeypatch.setattr(neural, "id", lambda _obj: 1, raising=False)
    model = create("cnn", **TINY)
    other = _data(seed=8)
    assert other.fingerprint != data.fingerprint
    a, b = model.coarse_events(data), model.coarse_events(other)
    for got, d in ((a, data), (b, other)):
        want = d.events.coarsen(TINY["pool"])
        np.testing.assert_array_equal(got.dense(0, 400), want.dense(0, 400))
    assert model.coarse_events(data) is not b


@pytest.mark.parametrize("kind", ["cnn-resid", "convlstm-resid"])
def test_zero_network_output_is_the_prior_exactly(kind, data):
    model = create(kind, **TINY)
    for final in (False, True):
        model.set_base(data, final=final)
        with torch.no_grad():
            for p in model.net.parameters():  # a perturbed net whose output layer is zero
                p.add_(0.3)
            output_layer(model.net).weight.zero_()
            output_layer(model.net).bias.zero_()
        probs = model.predict(data, *data.days("test"))
        prior = data.prior(final).astype(np.float32)
        np.testing.assert_array_equal(probs, np.broadcast_to(prior, probs.shape))


def test_calibration_undoes_the_class_weight(data):
    a = create("cnn-resid", **TINY, class_weight=100.0)
    b = create("cnn-resid", **TINY, class_weight=100.0, calibrate=False)
    for m in (a, b):
        m.set_base(data, final=False)
        m.net.load_state_dict(a.net.state_dict())
    pa, pb = (m.predict(data, 700, 720).astype(np.float64) for m in (a, b))
    np.testing.assert_allclose(pa, pb / (pb + 100.0 * (1 - pb)), rtol=1e-5)  # p / (p + w(1-p))


def test_the_sparse_inference_path_equals_the_batched_one(monkeypatch):
    """Inference on a CPU computes each day's input gates only near that day's events
    (`ConvLSTMNet._input_gates_sparse`); with gradients on, every day is one batched
    convolution. Both give the same state and output: events at the corners and edges, a
    day without events, a large active patch, two streams."""
    torch.manual_seed(0)
    net = ConvLSTMNet(embed=4, hidden=6, head=4, memory_days=50.0).eval()
    with torch.no_grad():
        for prm in net.parameters():
            prm.add_(0.3 * torch.randn_like(prm))
    x = torch.zeros(2, 10, 26, 18)
    x[0, 0, 0, 0] = 3.0
    x[1, 0, 25, 17] = 2.0
    x[0, 2, 11, 3] = 4.0
    x[0, 2, 12, 13] = 1.0  # two patches on one day
    x[1, 3, 0, 8] = 5.0
    x[:, 5, 2:24, 1:17] = torch.rand(2, 22, 16)  # almost the whole grid (> 256 cells)
    x[0, 7, 5, 5] = -1.0  # a transformed input may be negative
    # day 9: an L of events whose box reaches within 3 cells of a lone event, which is
    # another patch (labelled first): the L's box must see that event too
    x[0, 9, 20, 2:13] = 1.0
    x[0, 9, 10:21, 12] = 1.0
    x[0, 9, 4, 2] = 6.0
    # day 1, 4, 6 and 8: no events
    state = net.zero_state(2, 26, 18, x)
    state = (state[0] + 0.1, state[1] - 0.2)
    monkeypatch.setattr(nets, "SPARSE_MIN_CELLS", 0)  # a small grid takes that path too
    calls = []
    real = net._input_gates_sparse
    monkeypatch.setattr(net, "_input_gates_sparse", lambda d: calls.append(1) or real(d))
    with torch.no_grad():
        d_sparse, st_sparse = net(x, state)
    assert len(calls) == x.shape[1]
    with torch.enable_grad():
        d_dense, st_dense = net(x, state)
    torch.testing.assert_close(d_sparse, d_dense.detach(), rtol=1e-5, atol=1e-6)
    for a, b in zip(st_sparse, st_dense, strict=True):
        torch.testing.assert_close(a, b.detach(), rtol=1e-5, atol=1e-6)
    assert d_sparse.abs().max() > 0.01  # not a trivial net


def test_predictions_do_not_see_the_future(data):
    """Changing events after day T must not change the forecast of day T (nor chunking)."""
    model = create("convlstm-resid", **TINY)
    model.set_base(data, final=False)
    with torch.no_grad():
        torch.nn.init.normal_(output_layer(model.net).weight, std=0.5)
    ev = data.events
    cut = 760
    keep = ev.day <= cut
    later = type(ev)(ev.grid, ev.epoch, ev.day[keep], ev.cell[keep], ev.mag[keep])
    other = ForecastData(data.protocol, later, data.targets, data.fingerprint)
    a = model.predict(data, 700, cut + 1)
    b = model.predict(other, 700, cut + 1)
    np.testing.assert_array_equal(a, b)
    c = np.concatenate([p for _, p in model.predict_days(data, 700, cut + 1, chunk=7)])
    np.testing.assert_allclose(a, c, rtol=1e-5, atol=1e-9)
    assert not np.allclose(a, a[:1])  # the forecast does vary in time


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_round_trip(kind, data, tmp_path):
    model = _model(kind)
    model.fit(data, final=True)
    folder = model.save(tmp_path / kind)
    loaded = Forecaster.load(folder)
    assert loaded.kind == kind and loaded.config == model.config
    start, stop = data.days("test")
    np.testing.assert_array_equal(
        model.predict(data, start, stop), loaded.predict(data, start, stop)
    )
    assert (folder / "weights.safetensors").stat().st_size < 200_000


class _Payload:
    """Unpickling this would create a marker file (a stand-in for arbitrary code)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickle_weights_are_refused_without_running(data, tmp_path):
    model = _model("convlstm-resid")
    model.fit(data)
    folder = model.save(tmp_path / "m")
    marker = tmp_path / "PWNED"
    payload = pickle.dumps(_Payload(marker))
    (folder / "weights.safetensors").write_bytes(payload)  # pickle in place of safetensors
    with pytest.raises(ModelError):
        Forecaster.load(folder)
    # a model.json pointing at a torch.save file elsewhere is not followed either
    torch.save({"x": _Payload(marker)}, folder / "weights.pt")
    (folder / "weights.safetensors").unlink()
    doc = json.loads((folder / "model.json").read_text())
    doc.update(weights="weights.pt", weights_file=str(folder / "weights.pt"))
    (folder / "model.json").write_text(json.dumps(doc))
    with pytest.raises(ModelError):
        Forecaster.load(folder)
    assert not marker.exists(), "the pickle payload ran"
    # the payload is live: unpickling it would have created the marker
    pickle.loads(payload)
    assert marker.exists()


def test_training_is_reproducible(data):
    a, b = _model("convlstm-resid", epochs=2), _model("convlstm-resid", epochs=2)
    a.fit(data)
    b.fit(data)
    for (k, va), vb in zip(a.net.state_dict().items(), b.net.state_dict().values(), strict=True):
        assert torch.equal(va, vb), k
    assert a.meta["train_history"] == [
        {**h, "seconds": a.meta["train_history"][i]["seconds"]}
        for i, h in enumerate(b.meta["train_history"])
    ]


def test_cancel_stops_and_resume_continues(data, tmp_path):
    straight = _model("convlstm-resid", epochs=3)
    straight.fit(data)

    stopped = _model("convlstm-resid", epochs=3)
    done_epochs: list[int] = []
    stop = threading.Event()

    def progress(event):
        if event.stage == "validation":
            done_epochs.append(event.metrics["epoch"])
            if event.metrics["epoch"] == 2:
                stop.set()

    res = fit_network(
        stopped,
        data,
        stopped.train_config,
        on_progress=progress,
        should_stop=stop.is_set,
        checkpoint_dir=tmp_path / "ckpt",
    )
    assert res.cancelled and done_epochs == [1, 2] and res.epochs_run == 2

    resumed = _model("convlstm-resid", epochs=3)
    res = fit_network(resumed, data, resumed.train_config, resume=tmp_path / "ckpt")
    assert not res.cancelled and [h["epoch"] for h in res.history] == [1, 2, 3]
    for (k, va), vb in zip(
        straight.net.state_dict().items(), resumed.net.state_dict().values(), strict=True
    ):
        assert torch.equal(va, vb), k

    with pytest.raises(ModelError):  # a checkpoint of another model is refused
        other = _model("cnn-resid", epochs=3)
        fit_network(other, data, other.train_config, resume=tmp_path / "ckpt")


def test_time_budget_plans_the_epochs_and_never_overruns(data, monkeypatch):
    import quake.models.training as qt

    def fake_clock(monkeypatch):  # every reading of the clock is one second later
        ticks = iter(range(10**9))
        monkeypatch.setattr(qt.time, "perf_counter", lambda: float(next(ticks)))

    fake_clock(monkeypatch)
    free = _model("convlstm-resid", epochs=12, max_seconds=1e9)
    free.fit(data)
    hist = free.meta["train_history"]
    assert free.meta["stopped_by"] == "epochs" and len(hist) == 12
    first, per = hist[0]["seconds"], hist[1]["seconds"] - hist[0]["seconds"]

    fake_clock(monkeypatch)
    budget = first + 2.5 * per  # room for the first epoch and two more
    tight = _model("convlstm-resid", epochs=12, max_seconds=budget)
    tight.fit(data)
    meta = tight.meta
    assert meta["stopped_by"] == "time budget", meta
    assert 2 <= meta["planned_epochs"] <= 4, meta["planned_epochs"]
    assert len(meta["train_history"]) == meta["planned_epochs"]
    assert meta["train_history"][-1]["seconds"] <= budget


def test_quick_training_beats_the_prior_on_a_planted_signal():
    data = _data(**PLANTED["data"])
    naive = naive_curves(data, "validation")["all"].pr_auc()
    model = build("convlstm-resid", "quick", PLANTED["model"], PLANTED["train"])
    res = fit_network(model, data, model.train_config)
    assert res.best_score > 1.2 * naive, (res.best_score, naive, res.history)


PLANTED = {
    # strong clustering, few background events: "prior + decayed activity" triples the
    # prior's validation PR AUC here (0.065 against 0.022)
    "data": {
        "mc": 3.5,
        "n": 24,
        "n_days": 1500,
        "n_background": 600,
        "productivity": 1.2,
        "delay_days": 15.0,
        "seed": 1,
    },
    "model": {**TINY},
    "train": {"epochs": 8, "streams": 2, "bptt": 20, "lr": 3e-3, "patience": 99},
}


def test_train_config_rejects_unknown_options():
    with pytest.raises(ModelError):
        TrainConfig.from_dict({"epochs": 1, "lr_schedule": "magic"})


def test_cli_train_and_sweep(tmp_path):
    """``python -m quake train`` and ``sweep-weights`` end to end on a small catalog."""
    from quake.cli import main

    csv = small_catalog_csv(tmp_path)
    tiny = json.dumps({k: v for k, v in TINY.items() if k not in ("days", "channels")})
    out = tmp_path / "m"
    args = ["--catalog", str(csv), "--mc", "3.5", "--epochs", "1", "--args", tiny]
    train_args = json.dumps({"streams": 2, "bptt": 20})
    ckpt = ["--checkpoint", str(tmp_path / "ckpt")]
    ckpt += ["--max-minutes", "30"]
    assert main(["train", *args, "--train-args", train_args, "--out", str(out), *ckpt]) == 0
    assert (tmp_path / "ckpt" / "last.json").is_file()
    doc = json.loads((out / "model.json").read_text())
    assert doc["kind"] == "convlstm-resid" and doc["final"] is True
    assert doc["train_args"]["max_seconds"] == 1800.0 and doc["stopped_by"] == "epochs"
    bad = main(["train", *args, "--out", str(tmp_path / "bad"), "--max-minutes", "0"])
    assert bad == 2 and not (tmp_path / "bad").exists()
    assert set(doc["scores"]) == {"test", "validation"}
    assert set(doc["scores"]["test"]) == {"all", "active"}
    assert (out / "curves.json").is_file()
    assert Forecaster.load(out).predict(*_cli_data(csv), 0, 5).shape[0] == 5
    table = tmp_path / "table1.json"
    sweep = ["sweep-weights", *args, "--weights", "1", "1000", "--out", str(table)]
    assert main([*sweep, "--train-args", train_args]) == 0
    rows = json.loads(table.read_text())["rows"]
    assert [r["weight"] for r in rows] == ["naive prior", 1.0, 1000.0]
    assert all(0 <= r["pr_auc_all"] <= 1 and 0 <= r["roc_auc_active"] <= 1 for r in rows)


def _cli_data(csv):
    from quake.data.forecast_data import load_reference

    return (ForecastData.build(load_reference(csv), 3.5),)


def test_bptt_chunks_cover_each_stream_once():
    from quake.models.training import _chunks, _lr

    for offset in (0, 1, 7, 29):
        chunks = _chunks(100, 30, offset)
        assert chunks[0][0] == 0 and chunks[-1][1] == 100
        assert all(b - a <= 30 and b > a for a, b in chunks)
        assert all(p[1] == q[0] for p, q in zip(chunks, chunks[1:], strict=False))
    cfg = TrainConfig(lr=1e-3, warmup_steps=10, lr_final=0.1)
    assert _lr(cfg, 0, 100) == pytest.approx(1e-4)
    assert _lr(cfg, 9, 100) == pytest.approx(1e-3, rel=0.02)  # warm, cosine just begun
    assert _lr(cfg, 100, 100) == pytest.approx(1e-4)


def test_evaluation_progress_counts_the_recurrent_warm_up(data):
    from quake.scoring.evaluate import evaluate

    model = _model("convlstm-resid")
    model.set_base(data, final=True)
    calls: list[tuple[int, int]] = []
    evaluate(model, data, "test", on_progress=lambda p: calls.append((p.step, p.total)))
    start, stop = data.days("test")
    assert calls[-1] == (stop, stop)  # days 0 ... start - 1 first, then the test days
    done = [d for d, _ in calls]
    assert done[0] <= 256 and done == sorted(done)


@pytest.mark.parametrize("cancel_at", [None, 6])
def test_losses_read_a_step_late_are_the_same_events_and_weights(data, monkeypatch, cancel_at):
    """On a GPU a step's loss is read after the next step is queued (`LAGGED_LOSS_DEVICES`);
    the progress events (step numbers, epochs, losses, learning rates) and the weights
    must be those of reading it at once, also when the training is cancelled mid-epoch."""
    from quake.models import training

    def run(lagged: bool):
        devices = ("cuda", "cpu") if lagged else ("cuda",)
        monkeypatch.setattr(training, "LAGGED_LOSS_DEVICES", devices)
        model = _model("convlstm-resid", epochs=2)
        events: list = []
        polls = iter(range(1, 10**6))
        stop = (lambda: next(polls) == cancel_at) if cancel_at else None
        res = fit_network(
            model, data, model.train_config, on_progress=events.append, should_stop=stop
        )
        assert res.cancelled == bool(cancel_at)
        return model, res, [(e.stage, e.step, e.total, e.metrics) for e in events]

    plain, plain_res, plain_events = run(False)
    lagged, lagged_res, lagged_events = run(True)
    train = [e for e in lagged_events if e[0] == "train"]
    assert len(train) > 4 and [e[1] for e in train] == list(range(1, len(train) + 1))
    strip = [
        (s, d, t, {k: v for k, v in m.items() if k != "seconds"}) for s, d, t, m in plain_events
    ]
    assert strip == [
        (s, d, t, {k: v for k, v in m.items() if k != "seconds"}) for s, d, t, m in lagged_events
    ]
    for (k, va), vb in zip(
        plain.net.state_dict().items(), lagged.net.state_dict().values(), strict=True
    ):
        assert torch.equal(va, vb), k
    assert [h["loss"] for h in plain_res.history] == [h["loss"] for h in lagged_res.history]


def test_to_device_on_a_cpu_is_the_plain_tensor():
    from quake.models.transfer import to_device

    a = np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2]  # a strided view
    t = to_device(a, "cpu")
    assert t.dtype == torch.float32 and t.device.type == "cpu"
    np.testing.assert_array_equal(t.numpy(), a)
    assert to_device(torch.ones(2), torch.device("cpu")).tolist() == [1.0, 1.0]
