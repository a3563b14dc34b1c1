"""Training on several processes (quake.models.distributed): two CPU ranks with gloo under
torchrun give the weights of one process with the same global batch; rank 0 alone writes
the checkpoint, which resumes in one process; a cancel on one rank stops every rank at the
same step, also with the step's sums read a step late (as on a GPU); seed sweeps are spread
over the ranks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from quake.errors import ModelError
from quake.models import distributed
from quake.models.checkpoint import load_checkpoint
from quake.models.distributed import Ranks, shard
from tests.helpers import small_catalog_csv

ROOT = Path(__file__).resolve().parents[1]

# One script for both runs: it trains a tiny convlstm-resid on a seeded synthetic catalog
# (the same as tests/test_neural.py's) and rank 0 writes the trained weights and history.
WORKER = textwrap.dedent(
    """
    import json, sys
    from datetime import date, timedelta
    from pathlib import Path

    import numpy as np
    import torch
    from safetensors.numpy import save_file

    from quake.data.catalog import Catalog, LoadReport
    from quake.data.forecast_data import ForecastData
    from quake.data.grid import Grid
    from quake.data.protocol import derived_protocol
    from quake.data.synthetic import synthetic_catalog
    from quake.models import distributed
    from quake.models.neural import build
    from quake.models.training import fit_network

    from quake.models import training

    out = Path(sys.argv[1])
    opts = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    if opts.get("lag"):  # read each step's sums after the next step is queued, as on a GPU
        training.LAGGED_LOSS_DEVICES = ("cuda", "cpu")
    ranks = distributed.start("cpu")
    polls = iter(range(1, 10**6))
    cancel = opts.get("cancel_rank") == ranks.rank
    stop = (lambda: next(polls) == opts["cancel_at"]) if cancel else None
    events = []
    n, n_days = 12, 1200
    deg = n * 10.0 / 111.0
    df = synthetic_catalog(start=date(2000, 1, 1), n_days=n_days, lat=(35.0, 35.0 + deg),
                           lon=(139.0, 139.0 + deg), n_background=400, productivity=0.8, seed=7)
    grid = Grid(lat0=35.0, lon0=139.0, cell_km=10.0, nx=n, ny=n)
    end = date(2000, 1, 1) + timedelta(n_days - 1)
    protocol = derived_protocol(date(2000, 1, 1), end, grid)
    data = ForecastData.build(Catalog(df, LoadReport("s", "s", len(df), len(df))), 4.0, protocol)
    tiny = {"pool": 2, "embed": 4, "hidden": 8, "head": 8}
    targs = {"epochs": 2, "streams": 4, "bptt": 20, "patience": 99, "threads": 1}
    model = build("convlstm-resid", "quick", tiny, targs)
    res = fit_network(model, data, model.train_config, checkpoint_dir=out / "ckpt",
                      on_progress=events.append, should_stop=stop, resume=opts.get("resume"))
    train = [[e.step, e.metrics["loss"]] for e in events if e.stage == "train"]
    (out / f"rank{ranks.rank}.json").write_text(json.dumps(
        {"cancelled": res.cancelled, "train": train, "epochs": len(res.history)}))
    if ranks.main:
        save_file({k: np.ascontiguousarray(v) for k, v in model.state_arrays().items()},
                  str(out / "weights.safetensors"))
        (out / "history.json").write_text(json.dumps(res.history))
    distributed.finish()
    """
)


def _run(
    tmp: Path, nproc: int, name: str = "", opts: dict | None = None
) -> tuple[dict[str, np.ndarray], list[dict]]:
    script = tmp / "worker.py"
    script.write_text(WORKER)
    out = tmp / (name or f"n{nproc}")
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    args = [str(script), str(out), json.dumps(opts or {})]
    if nproc == 1:
        cmd = [sys.executable, *args]
    else:
        cmd = [
            sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc-per-node={nproc}", *args,
        ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    history = json.loads((out / "history.json").read_text())
    return load_file(str(out / "weights.safetensors")), history


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[int, tuple[dict[str, np.ndarray], list[dict]]]:
    tmp = tmp_path_factory.mktemp("dist")
    return {n: _run(tmp, n) for n in (1, 2)}


def test_two_gloo_ranks_train_the_weights_of_one_process(runs):
    (w1, h1), (w2, h2) = runs[1], runs[2]
    assert set(w1) == set(w2)
    init = None
    for k in w1:
        np.testing.assert_allclose(w2[k], w1[k], rtol=1e-4, atol=1e-5, err_msg=k)
        init = init or (np.abs(w1[k]).sum() > 0)
    assert init  # the nets did train (not all-zero)
    assert len(h1) == len(h2) == 2  # the same epochs, validated once per epoch
    for a, b in zip(h1, h2, strict=True):
        assert a["epoch"] == b["epoch"]
        for key in ("loss", "val_pr_auc_all", "val_roc_auc_all"):
            assert b[key] == pytest.approx(a[key], rel=1e-3, abs=1e-6), key


def test_rank0_checkpoint_holds_every_stream_and_resumes(runs, tmp_path_factory):
    tmp = next(_dist_dirs(tmp_path_factory))
    arrays, doc = load_checkpoint(tmp / "n2" / "ckpt")
    states = [k for k in arrays if k.startswith("state.")]
    assert states and all(arrays[k].shape[0] == 4 for k in states)  # 4 streams, 2 ranks
    assert doc["epoch"] == 2
    single, _ = load_checkpoint(tmp / "n1" / "ckpt")
    for k in states:
        np.testing.assert_allclose(arrays[k], single[k], rtol=1e-4, atol=1e-5)


def _ranks_seen(tmp: Path, name: str, world: int) -> list[dict]:
    return [json.loads((tmp / name / f"rank{r}.json").read_text()) for r in range(world)]


@pytest.fixture(scope="module")
def cancelled(tmp_path_factory) -> Path:
    """Two ranks, rank 1 asking to stop at its 14th poll (in the second epoch), with each
    step's sums read at once (``lag0``) and a step late as on a GPU (``lag1``)."""
    tmp = tmp_path_factory.mktemp("cancel")
    for lag in (False, True):
        _run(tmp, 2, f"lag{int(lag)}", {"lag": lag, "cancel_rank": 1, "cancel_at": 14})
    return tmp


@pytest.mark.parametrize("lag", [False, True])
def test_a_cancel_on_one_rank_stops_every_rank_at_the_same_step(
    runs, cancelled, tmp_path_factory, lag
):
    """The flag travels with its step's loss in one all-reduce (`StepTotals`), read after
    the step (one step later when lagged): both ranks stop after the same step, 14 (15
    lagged), and every loss they reported before is the uncancelled run's."""
    seen = _ranks_seen(cancelled, f"lag{int(lag)}", 2)
    full = _ranks_seen(next(_dist_dirs(tmp_path_factory)), "n2", 2)[0]["train"]
    steps = 14 + lag
    assert len(full) > steps + 2  # the uncancelled run went on
    for r in seen:
        assert r["cancelled"] is True and r["epochs"] == 1  # no validation after the stop
        assert [s for s, _ in r["train"]] == list(range(1, steps + 1))
        np.testing.assert_allclose(
            [v for _, v in r["train"]], [v for _, v in full[:steps]], rtol=1e-6
        )


def test_a_cancelled_two_rank_run_resumes_to_the_uncancelled_weights(
    runs, cancelled, tmp_path_factory
):
    """The run cancelled in its second epoch left rank 0's checkpoint of the first; two
    ranks resumed from it end with the weights and history of the run never cancelled."""
    tmp = tmp_path_factory.mktemp("resume")
    weights, history = _run(tmp, 2, "resumed", {"resume": str(cancelled / "lag0" / "ckpt")})
    w2, h2 = runs[2]
    assert [h["epoch"] for h in history] == [1, 2]
    full = _ranks_seen(next(_dist_dirs(tmp_path_factory)), "n2", 2)[0]["train"]
    for r in _ranks_seen(tmp, "resumed", 2):  # only the second epoch's steps were run
        first = r["train"][0][0]
        assert 1 < first < 14 and r["train"] == [list(t) for t in full[first - 1 :]]
    for k in w2:
        np.testing.assert_allclose(weights[k], w2[k], rtol=1e-6, atol=1e-7, err_msg=k)
    for a, b in zip(history, h2, strict=True):
        assert a["val_pr_auc_all"] == pytest.approx(b["val_pr_auc_all"], rel=1e-6)


def _dist_dirs(tmp_path_factory):
    return (p for p in tmp_path_factory.getbasetemp().iterdir() if p.name.startswith("dist"))


def test_shard_splits_streams_evenly_and_refuses_uneven():
    assert [list(shard(4, Ranks(r, 2))) for r in (0, 1)] == [[0, 1], [2, 3]]
    assert list(shard(3, Ranks())) == [0, 1, 2]
    with pytest.raises(ModelError, match="multiple of the number of processes"):
        shard(3, Ranks(0, 2))


def test_ranks_from_env_and_bad_values():
    assert Ranks.from_env({}) == Ranks(0, 1, 0)
    assert Ranks.from_env({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}) == Ranks(3, 4, 1)
    with pytest.raises(ModelError, match="integers"):
        Ranks.from_env({"WORLD_SIZE": "two"})
    with pytest.raises(ModelError, match="inconsistent"):
        Ranks.from_env({"RANK": "2", "WORLD_SIZE": "2"})
    assert distributed.backend_for("cpu") == "gloo"
    assert distributed.backend_for(torch.device("cuda", 0)) == "nccl"
    assert distributed.device_for("cuda", Ranks(1, 2, 1)) == "cuda:1"
    assert distributed.device_for("cpu", Ranks(1, 2, 1)) == "cpu"


def test_torchrun_cli_spreads_seeds_over_ranks_and_saves_the_ensemble(tmp_path):

    csv = small_catalog_csv(tmp_path)
    root = tmp_path / "models"
    root.mkdir()
    tiny = json.dumps({"pool": 2, "embed": 4, "hidden": 8, "head": 8})
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
        "-m", "quake", "train", "--catalog", str(csv), "--mc", "3.5", "--epochs", "1",
        "--args", tiny, "--train-args", '{"streams": 2, "bptt": 20}', "--seeds", "2",
        "--ensemble", "--checkpoint", str(tmp_path / "ckpt"), "--out", str(root / "sw"),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    seeds = [json.loads((root / f"sw-s{i}" / "model.json").read_text()) for i in (0, 1)]
    assert [d["train_args"]["seed"] for d in seeds] == [0, 1]
    ens = json.loads((root / "sw" / "model.json").read_text())
    assert ens["kind"] == "ensemble" and ens["model_args"]["members"] == ["sw-s0", "sw-s1"]
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["sw-s0", "sw-s1"]
    assert done.stdout.count("ensemble of 2 seeds") == 1  # rank 0 alone saves it


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_machines_train_as_one_process_and_node_0_alone_writes(tmp_path):
    """The README's two-machine command, both "machines" on this host: two torchrun
    launchers, ``--nnodes 2 --node-rank 0/1`` with node 0's address (static rendezvous,
    so node 0 runs rank 0). Node 0 alone writes the checkpoint and the model, each into
    its own folders, and the test scores are one process's with the same streams."""

    csv = small_catalog_csv(tmp_path)
    train = [
        "-m", "quake", "train", "--catalog", str(csv), "--mc", "3.5", "--epochs", "2",
        "--args", json.dumps({"pool": 2, "embed": 4, "hidden": 8, "head": 8}),
        "--train-args", '{"streams": 4, "bptt": 20}',
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    port = _free_port()

    def node(k: int) -> list[str]:
        where = tmp_path / f"node{k}"
        return [
            sys.executable, "-m", "torch.distributed.run", "--nnodes", "2",
            "--node-rank", str(k), "--nproc-per-node", "1", "--master-addr", "127.0.0.1",
            "--master-port", str(port), *train, "--checkpoint", str(where / "ckpt"),
            "--out", str(where / "models" / "two"),
        ]  # fmt: skip

    second = subprocess.Popen(
        node(1), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT
    )
    try:
        first = subprocess.run(
            node(0), capture_output=True, text=True, env=env, cwd=ROOT, timeout=600
        )
        _, err1 = second.communicate(timeout=120)
    finally:
        second.kill()
    assert first.returncode == 0, first.stderr[-3000:]
    assert second.returncode == 0, err1[-3000:]
    assert (tmp_path / "node0" / "models" / "two" / "model.json").exists()
    assert (tmp_path / "node0" / "ckpt").exists()
    assert not (tmp_path / "node1").exists()  # rank 1 wrote nothing
    one = [sys.executable, *train, "--out", str(tmp_path / "one" / "models" / "one")]
    alone = subprocess.run(one, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert alone.returncode == 0, alone.stderr[-3000:]
    got, want = (
        json.loads((tmp_path / p / "model.json").read_text())["scores"]["test"]["all"]
        for p in ("node0/models/two", "one/models/one")
    )
    assert got["n_pairs"] == want["n_pairs"] > 0
    for key in ("roc_auc", "pr_auc"):
        assert got[key] == pytest.approx(want[key], rel=1e-4), key
