"""Seed sweeps and ensembles: ``train --seeds N --ensemble`` end to end on a small synthetic
catalog, the ensemble's mean, its checks on load (missing member, cycle, other Mc, bad
names), the seed table, and the one-run scoring of validation then test."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from quake.data.forecast_data import ForecastData, load_reference
from quake.errors import ModelError
from quake.models import Forecaster
from quake.models import ensemble as ensemble_module
from quake.models.ensemble import EnsembleConfig, EnsembleModel, member_graph, model_files
from quake.models.store import read_cards
from quake.scoring.evaluate import evaluate
from quake.scoring.seeds import fold_seeds, format_mean_sd, mean_sd, seed_table
from quake.scoring.sweeps import seed_groups, seed_sweeps
from quake.scoring.tables import scores_table
from quake.scoring.train import OnePass
from tests.helpers import small_catalog_csv

TINY = {"pool": 2, "embed": 4, "hidden": 8, "head": 8}


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest: one torch thread


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> tuple[Path, ForecastData]:
    """``train --seeds 2 --ensemble`` into a models folder of its own."""
    from quake.cli import main

    tmp = tmp_path_factory.mktemp("sweep")
    csv = small_catalog_csv(tmp)
    root = tmp / "models"
    root.mkdir()
    args = ["train", "--catalog", str(csv), "--mc", "3.5", "--epochs", "1"]
    args += ["--args", json.dumps(TINY), "--train-args", json.dumps({"streams": 2, "bptt": 20})]
    args += ["--checkpoint", str(tmp / "ckpt"), "--seeds", "2", "--ensemble"]
    assert main([*args, "--out", str(root / "m")]) == 0
    return root, ForecastData.build(load_reference(csv), 3.5)


def test_seeds_train_one_model_each_and_the_ensemble_is_their_mean(sweep):
    root, data = sweep
    docs = {n: json.loads((root / n / "model.json").read_text()) for n in ("m-s0", "m-s1", "m")}
    assert [docs[f"m-s{i}"]["train_args"]["seed"] for i in (0, 1)] == [0, 1]
    ens = docs["m"]
    assert ens["kind"] == "ensemble" and ens["model_args"] == {"members": ["m-s0", "m-s1"]}
    assert set(ens["scores"]) == {"test", "validation"} and (root / "m" / "curves.json").is_file()
    a, b, e = (Forecaster.load(root / n) for n in ("m-s0", "m-s1", "m"))
    assert isinstance(e, EnsembleModel)
    pa, pb, pe = (m.predict(data, *data.days("test")) for m in (a, b, e))
    assert not np.allclose(pa, pb)  # two seeds, two models
    np.testing.assert_allclose(pe, (pa.astype(np.float64) + pb) / 2, rtol=1e-6)
    chunked = np.concatenate([p for _, p in e.predict_days(data, *data.days("test"), chunk=7)])
    np.testing.assert_allclose(chunked, pe, rtol=1e-5)


def test_ensemble_load_refuses_missing_members_cycles_and_other_mc(sweep, tmp_path):
    root, _ = sweep
    work = tmp_path / "models"
    shutil.copytree(root, work)

    def edit(name: str, **changes) -> None:
        path = work / name / "model.json"
        doc = json.loads(path.read_text())
        doc.update(changes)
        path.write_text(json.dumps(doc))

    shutil.copytree(work / "m", work / "e2")
    shutil.copytree(work / "m", work / "e3")
    edit("e2", model_args={"members": ["m-s0", "e3"]})
    edit("e3", model_args={"members": ["m-s1", "e2"]})
    with pytest.raises(ModelError, match=r"cycle of members \(e2 -> e3 -> e2\)"):
        Forecaster.load(work / "e2")
    edit("e3", model_args={"members": ["m-s1", "e3"]})
    with pytest.raises(ModelError, match="cycle"):
        Forecaster.load(work / "e3")
    edit("m", model_args={"members": ["m-s0", "gone"]})
    with pytest.raises(ModelError, match="member 'gone' is missing"):
        Forecaster.load(work / "m")
    edit("m", model_args={"members": ["m-s0", "m-s1"]})
    Forecaster.load(work / "m")  # fine again
    edit("m-s1", mc=4.0)
    with pytest.raises(ModelError, match="another protocol, grid or Mc"):
        Forecaster.load(work / "m")
    for bad in (["../m-s0", "m-s1"], ["m-s0", "m-s0"], "m-s0", [".hidden", "x"], ["m-s0"], []):
        with pytest.raises(ModelError, match="members"):
            EnsembleConfig.from_dict({"members": bad})
    with pytest.raises(ModelError, match="at least two"):
        EnsembleModel.of([work / "m-s0"])


def test_shared_members_are_read_once_and_the_models_reached_are_capped(sweep, tmp_path):
    """Stop 27's audit: five levels of ensembles, each listing the same six of the level
    below, reach 6**5 models from 31 small folders (70 s and 1.9 GB to load with 6, ~10**9
    with 64). Each folder is now read once and the models reached are capped."""
    root, _ = sweep
    work = tmp_path / "dag"
    shutil.copytree(root, work)
    doc = json.loads((work / "m" / "model.json").read_text())
    reads = []
    real_read = ensemble_module.v.read_model

    def counting_read(folder):
        reads.append(Path(folder).name)
        return real_read(folder)

    def level(names: list[str], members: list[str]) -> None:
        for name in names:
            (work / name).mkdir()
            (work / name / "model.json").write_text(
                json.dumps({**doc, "model_args": {"members": members}})
            )

    below = ["m-s0", "m-s1"]
    for depth in range(4, 0, -1):  # e4-* list the seeds, e3-* list every e4-*, ...
        names = [f"e{depth}-{k}" for k in range(4)]
        level(names, below)
        below = names
    level(["top"], below)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ensemble_module.v, "read_model", counting_read)
        with pytest.raises(ModelError, match="reach more than 64 models in all"):
            member_graph(work / "top", below)
    assert len(reads) == len(set(reads)) <= 18  # 16 ensembles and 2 seeds, each read once
    assert member_graph(work / "e4-0", ["m-s0", "m-s1"]) == 2
    assert member_graph(work / "e3-0", ["e4-0", "e4-1", "m-s0"]) == 5  # counted per path
    level(["e5"], ["e4-0", "e4-1"])
    for depth in range(6, 12):  # a chain deeper than MAX_DEPTH, refused before recursing far
        level([f"e{depth}"], [f"e{depth - 1}", "m-s0"])
    with pytest.raises(ModelError, match="nested more than 4 deep"):
        member_graph(work / "top2", ["e11", "m-s0"])
    level(["c4"], ["m-s0", "m-s1"])
    for k in (3, 2, 1):
        level([f"c{k}"], [f"c{k + 1}", "m-s0"])
    level(["d1"], ["c1", "m-s1"])
    assert member_graph(work / "top3", ["c1", "m-s0"]) == 6  # c1 ... c4: 4 nested levels
    with pytest.raises(ModelError, match="nested more than 4 deep"):  # c4, read first at
        member_graph(work / "top4", ["c4", "d1"])  # depth 1, is reached again at depth 5


def test_an_ensemble_refuses_a_member_refitted_since(sweep, tmp_path):
    # Stop 24's audit: a member refitted on another catalog changed the ensemble's forecast
    # silently, its stored scores no longer describing it.
    root, _ = sweep
    work = tmp_path / "models"
    shutil.copytree(root, work)
    path = work / "m-s1" / "model.json"
    doc = json.loads(path.read_text())
    path.write_text(json.dumps({**doc, "fingerprint": "0" * 64}))
    with pytest.raises(ModelError, match="member 'm-s1' was fitted on another catalog"):
        Forecaster.load(work / "m")
    path.write_text(json.dumps({**doc, "final": not doc.get("final")}))
    with pytest.raises(ModelError, match="member 'm-s1' was fitted on other periods"):
        Forecaster.load(work / "m")


def test_a_member_saved_again_is_refused_and_changes_the_cache_key(sweep, tmp_path):
    """Stop 27's audit: ``fit --force`` of a member on the same catalog (other settings)
    left the ensemble loading, its cached maps and stored scores those of the old member."""
    from quake.service.cache_files import cache_key

    root, _ = sweep
    work = tmp_path / "refit"
    shutil.copytree(root, work)
    stamps = json.loads((work / "m" / "model.json").read_text())["members_saved"]
    assert set(stamps) == {"m-s0", "m-s1"} and all(stamps.values())
    assert [f.parent.name for f in model_files(work / "m")] == ["m", "m-s1", "m-s0"]
    assert model_files(work / "m-s0") == [work / "m-s0" / "model.json"]
    key = cache_key(work / "m", "fp", "test")
    path = work / "m-s1" / "model.json"
    doc = json.loads(path.read_text())
    path.write_text(json.dumps({**doc, "saved": "2099-01-01T00:00:00Z"}))
    with pytest.raises(ModelError, match="member 'm-s1' was saved again"):
        Forecaster.load(work / "m")
    assert cache_key(work / "m", "fp", "test") != key
    assert cache_key(work / "m-s0", "fp", "test") == cache_key(work / "m-s0", "fp", "test")


def test_fit_ensemble_reads_members_beside_it_and_never_itself(sweep, tmp_path, capsys):
    from quake.cli import main

    root, data = sweep
    work = tmp_path / "elsewhere"
    shutil.copytree(root, work)
    (work / "m").rename(work / "ens")  # an ensemble of the two seeds, outside the models folder
    before = (work / "ens" / "model.json").read_bytes()
    members = json.dumps({"members": ["ens", "m-s0"]})
    args = [
        "fit",
        "--model",
        "ensemble",
        "--mc",
        "3.5",
        "--catalog",
        str(sweep[0].parent / "cat.csv"),
    ]
    assert main([*args, "--args", members, "--out", str(work / "ens"), "--force"]) == 2
    assert "a cycle of members (ens -> ens)" in capsys.readouterr().err
    assert (work / "ens" / "model.json").read_bytes() == before  # not replaced
    members = json.dumps({"members": ["m-s0", "m-s1"]})
    assert main([*args, "--args", members, "--out", str(work / "ens2")]) == 0
    ens = Forecaster.load(work / "ens2")  # members beside it, not in the models folder
    assert [m.meta["fingerprint"] for m in ens.members] == [data.fingerprint] * 2


def test_seed_table_gives_mean_and_sd_over_seeds(sweep):
    root, _ = sweep
    cards = read_cards(root)
    groups = seed_groups(cards)
    assert list(groups) == ["m"] and [c.name for c in groups["m"]] == ["m-s0", "m-s1"]
    table = seed_table(cards)
    row = table.iloc[0]
    values = [c.score("pr_auc", "test", "all") for c in groups["m"]]
    assert row["seeds"] == 2
    assert row["PR AUC (all)"] == pytest.approx(np.mean(values))
    assert row["PR AUC (all) sd"] == pytest.approx(np.std(values, ddof=1))
    assert mean_sd([1.0, 3.0, float("nan")]) == (2.0, pytest.approx(2**0.5), 2)
    assert format_mean_sd(0.5, 0.01, 2) == "0.50 ± 0.01"
    assert format_mean_sd(float("nan"), 0.0) == "–"


def test_one_pass_scores_validation_then_test_like_two_runs(sweep):
    root, data = sweep
    model = Forecaster.load(root / "m-s0")
    one = OnePass(model, data)
    assert one.warmup_days(data.days("validation")[0]) == data.days("validation")[0]
    shared = {p: evaluate(one, data, p) for p in ("validation", "test")}
    assert one.warmup_days(data.days("test")[0]) == 0  # the test run continues
    for period in ("validation", "test"):
        alone = evaluate(model, data, period)
        for mask, curve in alone.items():
            assert shared[period][mask].roc_auc() == pytest.approx(curve.roc_auc(), abs=1e-6)
            assert shared[period][mask].pr_auc() == pytest.approx(curve.pr_auc(), rel=1e-5)


def test_a_model_saved_before_its_sweep_is_its_first_seed(sweep):
    root, _ = sweep
    cards = read_cards(root)
    # "m" is the ensemble of m-s0 and m-s1: another kind, so not a seed of its own sweep;
    # the sweep's row is its first member's
    table = fold_seeds(scores_table(cards), cards).set_index("model")
    assert set(table.index) == {"m", "m-s0"}
    assert table.loc["m-s0", "seeds"] == 2 and table.loc["m", "seeds"] == 1
    values = [c.score("roc_auc", "test", "all") for c in seed_groups(cards)["m"]]
    mean, sd, _ = mean_sd(values)
    assert table.loc["m-s0", "ROC AUC (all) over seeds"] == format_mean_sd(mean, sd, 4)
    assert table.loc["m", "ROC AUC (all) over seeds"] == ""
    # NAME of the members' kind, Mc and preset leads its sweep; another Mc does not join
    same = [
        ("x", "cnn", 5.0, "quick"),
        ("x-s1", "cnn", 5.0, "quick"),
        ("x-s2", "cnn", 5.0, "quick"),
    ]
    assert seed_sweeps(same) == {"x": ["x", "x-s1", "x-s2"]}
    other = [("x", "cnn", 4.5, "quick"), ("x-s1", "cnn", 5.0, "quick")]
    assert seed_sweeps(other) == {}
    assert seed_sweeps([("x-s0", "cnn", 5.0, "q"), ("x-s1", "cnn-resid", 5.0, "q")]) == {}


def test_an_ensemble_is_scored_on_validation_with_its_members_twins(
    aftershock_catalog, tiny_protocol, tmp_path
):
    from quake.models import create
    from quake.scoring.evaluate import fit_score_save, scorer_for

    tiny_data = ForecastData.build(aftershock_catalog, 4.0, tiny_protocol)
    root = tmp_path / "models"
    for name, alpha in (("a", 0.5), ("b", 2.0)):  # final naive models: prior from train + val
        fit_score_save(create("naive", alpha=alpha), tiny_data, root / name)
    ens = EnsembleModel.of([root / "a", root / "b"]).fit(tiny_data, final=True)
    scorer, how = scorer_for(ens, tiny_data, "validation")
    assert how.startswith("same model fitted on train only") and scorer is not ens
    v0, v1 = tiny_data.days("validation")
    got = np.concatenate([p for _, p in scorer.predict_days(tiny_data, v0, v1)])
    twins = [Forecaster.load(root / n).validation_twin(tiny_data) for n in ("a", "b")]
    want = np.mean(
        [np.concatenate([p for _, p in t.predict_days(tiny_data, v0, v1)]) for t in twins], 0
    )
    np.testing.assert_allclose(got, want, rtol=1e-6)
    saved = np.concatenate([p for _, p in ens.predict_days(tiny_data, v0, v1)])
    assert not np.allclose(saved, got)  # the saved members' priors include validation
    # a final member without a twin: scored as saved, and said so
    ens.members[1].validation_twin = None
    assert scorer_for(ens, tiny_data, "validation") == (
        ens,
        "final model (in-sample: it was fitted on validation too)",
    )


def test_the_pool_ceiling_scores_the_pools_it_names():
    """scripts/pool_ceiling.py: each pool is what its name says, scored like `evaluate`."""
    import importlib.util

    from sklearn.metrics import average_precision_score, roc_auc_score

    spec = importlib.util.spec_from_file_location(
        "pool_ceiling", Path(__file__).resolve().parents[1] / "scripts" / "pool_ceiling.py"
    )
    pc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pc)
    rng = np.random.default_rng(3)
    y = rng.random((40, 6, 5)) < 0.05
    a = np.clip(0.02 + 0.3 * y * rng.random(y.shape) + 0.05 * rng.random(y.shape), 1e-6, 1)
    b = np.clip(0.04 * rng.random(y.shape) + 0.2 * y * rng.random(y.shape), 1e-6, 1)
    c = rng.random(y.shape) * 0.1
    arrays = {"a": a.astype(np.float32), "b": b.astype(np.float32), "c": c.astype(np.float32)}
    pools = pc.pools(arrays)
    every = slice(0, None)
    assert np.allclose(pools["mean(a + b)"](every), (a + b) / 2, rtol=1e-6)
    assert np.allclose(pools["geometric mean(a + b)"](every), np.sqrt(a * b), rtol=1e-5)
    assert np.allclose(pools["0.3 a + 0.7 b"](every), 0.3 * a + 0.7 * b, rtol=1e-6)
    assert np.allclose(pools["mean(a + b + c)"](every), (a + b + c) / 3, rtol=1e-6)
    roc, pr = pc.aucs(y, pools["mean(a + b)"])
    p = ((a + b) / 2).ravel()
    assert roc == pytest.approx(roc_auc_score(y.ravel(), p), abs=0.01)  # binned scores
    assert pr == pytest.approx(average_precision_score(y.ravel(), p), abs=0.03)


def test_score_periods_splits_the_test_period_around_its_largest_event(sweep, tmp_path):
    """scripts/score_periods.py: the parts cover the test period once, the days before the
    event are those whose window holds it, and the whole-period row is `evaluate`'s score;
    a model against an identical copy differs by exactly 0."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "score_periods", Path(__file__).resolve().parents[1] / "scripts" / "score_periods.py"
    )
    sp = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sp)
    root, data = sweep
    day, mag = sp.largest_event_day(data)
    start, stop = data.days("test")
    p = data.protocol
    ev = data.events
    in_windows = (ev.day >= start + p.lead_days) & (ev.day < stop - 1 + p.horizon_days)
    assert mag == pytest.approx(float(ev.mag[in_windows].max()))
    cut = sp.parts(data, day)
    t = start + cut["before"]
    assert np.all((t < day) & (t + p.lead_days <= day) & (day < t + p.horizon_days))
    assert len(cut["before"]) == min(p.horizon_days - p.lead_days, day - p.lead_days - start + 1)
    assert sorted([*cut["before"], *cut["rest"]]) == list(cut["all"])

    models = tmp_path / "models"
    shutil.copytree(root, models)
    shutil.copytree(root / "m-s0", models / "copy")
    out = tmp_path / "periods.json"
    args = ["m-s0", "copy", "m", "--models-dir", str(models), "--out", str(out)]
    assert sp.main([*args, "--catalog", str(root.parent / "cat.csv")]) == 0
    doc = json.loads(out.read_text())
    y = data.targets.dense(start, stop)
    assert doc["positives"] == {k: int(y[v].sum()) for k, v in cut.items()}
    rows = {(r["model"], r["part"]): r for r in doc["rows"]}
    want = evaluate(Forecaster.load(root / "m"), data, "test")["all"].roc_auc()
    assert rows[("m", "all")]["roc_auc"] == pytest.approx(want, abs=1e-12)
    lo, hi = rows[("m", "all")]["roc_auc_ci"]
    assert lo <= rows[("m", "all")]["roc_auc"] <= hi
    same = rows[("copy", "rest")]
    assert same["roc_auc_diff_vs_m-s0"] == 0 and same["roc_auc_p_vs_m-s0"] == 1
    assert rows[("m", "before")]["roc_auc_ci"] == [None, None]  # one block: no interval
