"""Saved states of recurrent nets (quake.models.states, quake.service.state_cache)."""

from __future__ import annotations

import json
import zlib

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file, save_file

from quake.errors import ModelError
from quake.models import Forecaster, create
from quake.models.nets import output_layer
from quake.models.states import (
    STATES_FILE,
    Snapshot,
    Snapshots,
    events_digest,
    load_snapshots,
    save_snapshots,
)
from quake.service.forecast_cache import drop_cached, forecast_day
from quake.service.state_cache import states_path
from tests.test_neural import TINY, _data

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest: one torch thread

TOL = 1e-3  # max |dp| of a run from a float16 state against the run from day 0 (measured 9e-5)


@pytest.fixture(scope="module")
def data():
    return _data()


def _net(data, kind: str = "convlstm-resid"):
    """An untrained net whose output does depend on its state (random head, seeded)."""
    torch.manual_seed(3)
    model = create(kind, **TINY)
    with torch.no_grad():
        layer = output_layer(model.net)
        layer.weight.normal_(0.0, 0.5)
    model.set_base(data, final=True)
    model.bind(data)
    model.meta["final"] = True
    return model


def test_warm_up_without_the_head_gives_the_same_state(data):
    model = _net(data)
    events = model.coarse_events(data)
    dev = torch.device("cpu")
    _, a = model.run_days(events, 0, 300, None, dev)
    none, b = model.run_days(events, 0, 300, None, dev, head=False)
    assert none is None
    for x, y in zip(a, b, strict=True):
        torch.testing.assert_close(x, y, rtol=0, atol=0)


def test_a_run_from_a_snapshot_matches_the_run_from_day_zero(data):
    model = _net(data)
    start, stop = data.days("test")
    full = model.predict(data, start, stop)  # from day 0
    assert not model.snapshots.days
    list(model.predict_days(data, start, start + 1, 1, record_every=100, record_from=start))
    assert model.snapshots.days[0] == start
    assert all(d % 100 == 0 for d in model.snapshots.days[1:])
    t = stop - 5
    snap = model.resume_point(data, t)
    assert snap is not None and start <= snap.day <= t
    assert model.warmup_days(t, data=data) == t - snap.day
    assert model.warmup_days(t) == t  # without data: from day 0
    resumed = model.predict(data, start, stop)  # from the snapshot at `start`
    diff = np.abs(resumed - full)
    assert diff.max() < TOL, diff.max()
    assert diff.max() > 0 or np.array_equal(resumed, full)
    one = np.concatenate([p for _, p in model.predict_days(data, t, t + 1, 1)])
    assert np.abs(one[0] - full[t - start]).max() < TOL


def test_a_snapshot_of_other_events_is_not_used(data):
    model = _net(data)
    start, _ = data.days("test")
    list(model.predict_days(data, start, start + 1, 1, record_every=100, record_from=start))
    other = _data(seed=8)
    assert events_digest(other.events, start) != events_digest(data.events, start)
    assert model.resume_point(other, start) is None
    assert model.warmup_days(start, data=other) == start
    # an event added on the snapshot day itself is after the state: it is still used
    assert model.resume_point(data, start).day == start


def test_states_round_trip_through_the_folder(data, tmp_path):
    model = _net(data)
    start, stop = data.days("test")
    list(model.predict_days(data, start, stop, 64, record_every=100, record_from=start))
    folder = model.save(tmp_path / "m")
    assert (folder / STATES_FILE).is_file()
    loaded = Forecaster.load(folder)
    assert loaded.snapshots.days == model.snapshots.days
    assert loaded.folder_snapshot_days == set(model.snapshots.days)
    a = model.snapshots.best(data.events, stop).state()
    b = loaded.snapshots.best(data.events, stop).state()
    for x, y in zip(a, b, strict=True):
        torch.testing.assert_close(x, y, rtol=0, atol=0)


def _write(path, arrays, meta):
    save_file(arrays, str(path), metadata=meta)


@pytest.mark.parametrize(
    "damage",
    [
        "format",
        "shape",
        "extra array",
        "digest",
        "day",
        "truncated",
        "bomb",
        "nan",
        "not safetensors",
        "dtype",
    ],
)
def test_damaged_state_files_are_refused_with_a_message(data, tmp_path, damage):
    shape = (2, 3, 4)
    state = (torch.ones(1, *shape), torch.full((1, *shape), 0.5))
    snaps = Snapshots([Snapshot.of(10, "ab" * 12, state)])
    path = save_snapshots(tmp_path / STATES_FILE, snaps)
    assert load_snapshots(path, shape).days == [10]
    arrays = load_file(str(path))
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as fh:
        meta = dict(fh.metadata())
    if damage == "format":
        meta["format"] = "pickle"
    elif damage == "shape":
        meta["shape"] = json.dumps([2, 3, 5])
    elif damage == "extra array":
        arrays["x.0"] = np.zeros(3, np.uint8)
    elif damage == "digest":
        meta["snapshots"] = json.dumps([{"day": 10, "digest": "<script>"}])
    elif damage == "day":
        meta["snapshots"] = json.dumps([{"day": -1, "digest": "ab" * 12}])
    elif damage == "truncated":
        arrays["h.0"] = arrays["h.0"][:-3]
    elif damage == "bomb":  # decompresses far beyond a state's size
        arrays["h.0"] = np.frombuffer(zlib.compress(bytes(50_000_000)), np.uint8)
    elif damage == "nan":
        nan = np.full(shape, np.nan, np.float16).tobytes()
        arrays["c.0"] = np.frombuffer(zlib.compress(nan), np.uint8)
    elif damage == "dtype":
        arrays["h.0"] = arrays["h.0"].astype(np.int16)
    if damage == "not safetensors":
        path.write_bytes(b"\x80\x04K\x01.")  # a pickle
    else:
        _write(path, arrays, meta)
    with pytest.raises(ModelError) as err:
        load_snapshots(path, shape)
    assert STATES_FILE in str(err.value)


def test_a_format_1_file_is_still_read(tmp_path):
    """Format 1 stored plain float16 (no byte shuffle): read and re-packed, same values."""
    shape = (2, 3, 4)
    rng = np.random.default_rng(0)
    h, c = (rng.normal(0, s, shape).astype(np.float16) for s in (0.5, 50.0))
    arrays = {
        "h.0": np.frombuffer(zlib.compress(h.tobytes()), np.uint8),
        "c.0": np.frombuffer(zlib.compress(c.tobytes()), np.uint8),
    }
    meta = {
        "format": "quake-states-1",
        "dtype": "float16",
        "snapshots": json.dumps([{"day": 7, "digest": "cd" * 12}]),
        "shape": json.dumps(list(shape)),
        "weights": "",
    }
    _write(tmp_path / STATES_FILE, arrays, meta)
    snap = list(load_snapshots(tmp_path / STATES_FILE, shape))[0]
    got = snap.state()
    np.testing.assert_array_equal(got[0][0].numpy(), h.astype(np.float32))
    np.testing.assert_array_equal(got[1][0].numpy(), c.astype(np.float32))
    path = save_snapshots(tmp_path / "again.safetensors", Snapshots([snap]))
    again = list(load_snapshots(path, shape))[0].state()
    np.testing.assert_array_equal(again[1][0].numpy(), c.astype(np.float32))


def test_states_of_other_weights_are_refused(data, tmp_path):
    model = _net(data)
    start, _ = data.days("test")
    list(model.predict_days(data, start, start + 1, 1, record_every=100, record_from=start))
    folder = model.save(tmp_path / "m")
    assert (folder / STATES_FILE).is_file()
    states = (folder / STATES_FILE).read_bytes()
    with torch.no_grad():
        output_layer(model.net).weight.add_(0.1)  # retrained: other weights, same folder
    model.snapshots = type(model.snapshots)()
    model.save(folder)
    assert not (folder / STATES_FILE).exists()  # no states now: the old file is gone
    (folder / STATES_FILE).write_bytes(states)  # a stale file put back
    with pytest.raises(ModelError, match="other weights"):
        Forecaster.load(folder)


def test_a_damaged_state_file_in_a_model_folder_refuses_the_folder(data, tmp_path):
    model = _net(data)
    start, _ = data.days("test")
    list(model.predict_days(data, start, start + 1, 1, record_every=100, record_from=start))
    folder = model.save(tmp_path / "m")
    raw = bytearray((folder / STATES_FILE).read_bytes())
    raw[-10:] = b"\x00" * 10
    (folder / STATES_FILE).write_bytes(bytes(raw))
    with pytest.raises(ModelError, match=STATES_FILE):
        Forecaster.load(folder)


def test_forecast_day_records_states_in_the_cache_and_uses_them(data, tmp_path):
    model = _net(data)
    folder = model.save(tmp_path / "m")
    root = tmp_path / "cache"
    start, stop = data.days("test")
    first = forecast_day(model, data, stop - 2, folder, root=root)
    assert first.warmup_days == stop - 2  # nothing saved yet: from day 0
    path = states_path(folder, data, root)
    assert path.is_file()
    fresh = Forecaster.load(folder)  # a restarted server: no states in memory
    second = forecast_day(fresh, data, stop - 1, folder, root=root)
    assert second.warmup_days <= 256
    assert np.abs(second.probs - model.predict(data, stop - 1, stop)[0]).max() < TOL
    assert drop_cached(folder, root) >= 1 and not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"garbage")  # a damaged cache file is removed, never an error
    third = forecast_day(Forecaster.load(folder), data, stop - 1, folder, root=root)
    assert third.warmup_days == stop - 1


def test_snapshots_are_shared_safely_between_threads(data):
    """Two sessions share a model: one records states while the other looks them up."""
    import threading

    snaps = Snapshots()
    state = (torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2))
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for d in range(1, 3000):
                snaps.add(Snapshot.of(d, "ab" * 12, state))
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    t = threading.Thread(target=writer)
    t.start()
    while t.is_alive():
        snaps.best(data.events, 10**6)
        list(snaps)
        _ = snaps.days
    t.join()
    assert not errors and len(snaps) == 2999


def test_large_buffers_stay_in_the_heap_on_glibc():
    """`quake.models.allocator`: set once on Linux with glibc, a no-op elsewhere."""
    import platform

    from quake.models.allocator import keep_large_buffers

    glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert keep_large_buffers() is glibc
    assert keep_large_buffers() is glibc  # idempotent


def test_an_ensembles_day_runs_each_member_as_it_would_run_alone(data, tmp_path):
    """An ensemble with a recurrent member: its map day is the mean of its members' days,
    the member warms up from (and records) its own cached states, a member whose period is
    cached is read, and the day and period costs are the members' (quake.service.costs)."""
    from quake.models.ensemble import EnsembleModel
    from quake.progress import Progress
    from quake.service.costs import day_seconds, period_seconds
    from quake.service.forecast_cache import cached_forecast, warmup_for_day

    models = tmp_path / "models"
    root = tmp_path / "cache"
    rnn = _net(data).save(models / "rnn")
    naive = create("naive").fit(data, final=True).save(models / "naive")
    ens = EnsembleModel.of([rnn, naive])
    ens.bind(data)
    folder = ens.save(models / "ens")
    ens = Forecaster.load(folder)
    start, stop = data.days("test")
    t = stop - 2
    assert warmup_for_day(ens, folder, data, t, root) == t  # the member from day 0
    cost = day_seconds(ens, folder, data, t, root)
    assert cost == day_seconds(Forecaster.load(rnn), rnn, data, t, root) > 0
    events: list[Progress] = []
    first = forecast_day(ens, data, t, folder, root=root, on_progress=events.append)
    other = tmp_path / "other cache"
    alone = [forecast_day(Forecaster.load(f), data, t, f, root=other) for f in (rnn, naive)]
    np.testing.assert_allclose(first.probs, (alone[0].probs + alone[1].probs) / 2, rtol=1e-6)
    assert first.warmup_days == t and events and events[-1].step == events[-1].total == t
    assert states_path(rnn, data, root).is_file()  # the member's states, cached
    again = Forecaster.load(folder)  # a restarted server
    assert warmup_for_day(again, folder, data, t + 1, root) <= 256
    assert day_seconds(again, folder, data, t + 1, root) < cost
    whole = period_seconds(again, folder, data, root=root)
    parts = [period_seconds(Forecaster.load(f), f, data, root=root) for f in (rnn, naive)]
    assert whole == pytest.approx(sum(parts)) and whole > 0
    cached_forecast(Forecaster.load(rnn), rnn, data, "test", root=root)  # the member's period
    assert warmup_for_day(again, folder, data, t + 1, root) == 0
    assert day_seconds(again, folder, data, t + 1, root) == 0.0
    read = forecast_day(again, data, t + 1, folder, root=root)
    exact = (forecast_day(Forecaster.load(rnn), data, t + 1).probs + alone[1].probs) / 2
    assert read.warmup_days == 0
    np.testing.assert_allclose(read.probs, exact, rtol=3e-3)  # cache codes: within 0.18 %
