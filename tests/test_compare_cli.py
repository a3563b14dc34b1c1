"""Stored scoring summaries (quake.models.store.summaries), paired comparisons
(quake.scoring.compare, ``python -m quake compare``), the pycsep export
(``python -m quake export-csep``, read back with pycsep) and tampered summaries."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from quake.cli import main
from quake.data.forecast_data import ForecastData, load_reference
from quake.data.synthetic import synthetic_catalog, to_reference_csv
from quake.errors import ModelError
from quake.metrics import csep
from quake.models import create, load_model
from quake.models.store.summaries import SUMMARY_ARRAYS, SUMMARY_META, load_summary, save_summary
from quake.scoring.compare import compare, model_scores
from quake.scoring.evaluate import fit_score_save
from quake.scoring.scorepass import score_pass

MC = 3.5


@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> dict[str, Path]:
    """naive and ri folders fitted, scored and summarised on a tiny protocol."""
    from datetime import date

    from quake.data.grid import Grid
    from quake.data.protocol import derived_protocol
    from tests.conftest import as_catalog

    grid = Grid(lat0=35.0, lon0=139.0, cell_km=10.0, nx=12, ny=10)
    proto = derived_protocol(date(2000, 1, 1), date(2003, 4, 14), grid)
    df = synthetic_catalog(
        n_background=400, n_days=1200, productivity=0.8, m_ref=4.0, seed=7, start=date(2000, 1, 1)
    )
    cat = as_catalog(df)
    data = ForecastData.build(cat, MC, proto)
    main_data = ForecastData.build(cat, MC, proto, targets="mainshocks")
    root = tmp_path_factory.mktemp("scored")
    out = {}
    for kind in ("naive", "ri"):
        folder = root / f"{kind}-m{MC}"
        model = create(kind)
        fit_score_save(model, data, folder, periods=("test",))
        _, summary = score_pass(model, data, "test", mainshock_data=main_data, block_days=20)
        save_summary(folder, summary)
        out[kind] = folder
    return out


def test_summary_round_trip_and_size(scored) -> None:
    s = load_summary(scored["ri"])
    size = sum((scored["ri"] / f).stat().st_size for f in (SUMMARY_ARRAYS, SUMMARY_META))
    assert size < 500_000
    assert s.n_windows >= 2 and s.n_blocks >= 2 and s.targets == "all"
    assert s.mainshocks is not None and s.mainshocks["targets"] == "mainshocks-gk"
    assert s.mainshocks["curves"]["all"].n_positive <= s.block_hist["all"][:, 1].sum()
    scores = model_scores(s)
    assert scores["n_test"]["observed"] == int(s.target_offset[-1])
    assert np.isfinite(scores["log_likelihood"]) and 0 <= scores["brier"] < 1
    lo, hi = scores["bootstrap"]["roc_auc_ci"]
    assert lo <= scores["bootstrap"]["roc_auc"] <= hi
    # the intervals are centred on the fine curve of curves.json (model.json's Table II)
    from quake.models.store import load_curves

    fine = load_curves(scored["ri"])["test"]["all"]
    assert s.fine["all"] == {"roc_auc": fine.roc_auc(), "pr_auc": fine.pr_auc()}
    assert scores["bootstrap"]["roc_auc"] == pytest.approx(fine.roc_auc(), abs=1e-12)
    assert scores["bootstrap"]["pr_auc"] == pytest.approx(fine.pr_auc(), abs=1e-12)


def test_log_likelihood_from_the_summary_equals_the_direct_one(scored) -> None:
    s = load_summary(scored["ri"])
    model = load_model(scored["ri"])
    day = int(s.window["start"][0])
    ll = model_scores(s)["log_likelihood_window"][0]
    from quake.scoring.compare import window_log_likelihood

    assert window_log_likelihood(s)[0] == ll
    # direct: the summary's p are the model's (float32) forecasts in the target cells
    p = s.target_p[s.target_offset[0] : s.target_offset[1]]
    direct = csep.log_likelihood_from_sums(p, float(s.window["sum_rate"][0]))
    assert ll == pytest.approx(direct, abs=1e-9)
    assert day == s.start and model.kind == "ri"


def test_compare_itself_is_zero_and_swapping_negates(scored) -> None:
    a, b = load_summary(scored["ri"]), load_summary(scored["naive"])
    same = compare(a, a)
    assert same["t_test"]["gain"] == 0.0 and same["t_test"]["p_value"] == 1.0
    assert same["w_test"]["p_value"] == 1.0 and same["log_likelihood_diff"] == 0.0
    assert same["bootstrap"]["roc_auc_diff"] == 0.0 and same["brier_diff"] == 0.0
    ab, ba = compare(a, b), compare(b, a)
    assert ab["t_test"]["gain"] == -ba["t_test"]["gain"] != 0
    assert ab["t_test"]["lower"] == pytest.approx(-ba["t_test"]["upper"], abs=1e-12)
    assert ab["t_test"]["p_value"] == ba["t_test"]["p_value"]
    assert ab["w_test"]["p_value"] == ba["w_test"]["p_value"]
    assert ab["log_likelihood_diff"] == -ba["log_likelihood_diff"]
    assert ab["brier_diff"] == -ba["brier_diff"]
    assert ab["bootstrap"]["roc_auc_diff"] == -ba["bootstrap"]["roc_auc_diff"]
    assert all(
        (x is None and y is None) or x == -y
        for x, y in zip(ab["gain_per_window"], ba["gain_per_window"], strict=True)
    )


def _without_targets_after(s, w: int):
    """``s`` as if windows ``w`` … the last held no target (the test period's end quiet)."""
    import dataclasses

    offset = s.target_offset.copy()
    offset[w + 1 :] = offset[w]
    return dataclasses.replace(s, target_p=s.target_p[: offset[w]], target_offset=offset)


def test_windows_without_targets_at_the_end_count_as_zero(scored) -> None:
    # Stop 24's audit: np.add.reduceat failed (IndexError) when the last windows of a
    # sparse catalog held no target, in `compare`, `report` and two Compare tabs.
    from quake.scoring.compare import gain_per_window, window_log_likelihood
    from quake.scoring.compare_views import gain_matrix

    a, b = load_summary(scored["ri"]), load_summary(scored["naive"])
    w = a.n_windows - 3
    qa, qb = _without_targets_after(a, w), _without_targets_after(b, w)
    ll = window_log_likelihood(qa)
    np.testing.assert_allclose(ll[:w], window_log_likelihood(a)[:w], rtol=1e-12)
    np.testing.assert_allclose(ll[w:], -qa.window["sum_rate"][w:], rtol=1e-12)
    gain = gain_per_window(qa, qb)
    assert np.isfinite(gain[:w]).any() and np.isnan(gain[w:]).all()
    assert compare(qa, qb)["n_targets"] == int(a.target_offset[w])
    assert np.isfinite(gain_matrix({"ri": qa, "naive": qb})["gain"][0, 1])


def test_no_targets_is_said_not_crashed(scored, capsys) -> None:
    from quake.scoring.compare_views import gain_matrix

    a, b = load_summary(scored["ri"]), load_summary(scored["naive"])
    qa, qb = _without_targets_after(a, 0), _without_targets_after(b, 0)
    assert int(qa.target_offset[-1]) == 0
    with pytest.raises(ModelError, match="hold 0 target cell.*too few events at this Mc"):
        compare(qa, qb)
    assert np.isnan(gain_matrix({"ri": qa, "naive": qb})["gain"]).all()


def test_cli_compare(scored, tmp_path, capsys) -> None:
    a, b = str(scored["ri"]), str(scored["naive"])
    out = tmp_path / "cmp.json"
    assert main(["compare", "--model", a, "--model", b, "--mc", "3.5", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "gain per target" in text and "T-test p" in text and "ROC AUC A - B" in text
    doc = json.loads(out.read_text())
    assert doc["a"] == scored["ri"].name and "t_test" in doc and "bootstrap" in doc
    assert main(["compare", "--model", a, "--model", a, "--mc", "3.5", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["t_test"]["gain"] == 0.0
    capsys.readouterr()
    for bad in (["--model", a], ["--model", a, "--model", "../../etc/passwd"]):
        assert main(["compare", *bad, "--mc", "3.5"]) == 2
        assert "error:" in capsys.readouterr().err
    assert main(["compare", "--model", a, "--model", b, "--mc", "5"]) == 2
    assert "not --mc 5" in capsys.readouterr().err


def _tamper(folder: Path, dest: Path, arrays=None, meta=None) -> Path:
    copy = Path(shutil.copytree(folder, dest / folder.name))
    if arrays:
        a = load_file(str(copy / SUMMARY_ARRAYS))
        arrays(a)
        save_file(a, str(copy / SUMMARY_ARRAYS))
    if meta:
        doc = json.loads((copy / SUMMARY_META).read_text())
        meta(doc)
        (copy / SUMMARY_META).write_text(json.dumps(doc))
    return copy


def _set(name: str, value):
    def edit(a: dict) -> None:
        a[name] = value(a[name]) if callable(value) else value

    return edit


@pytest.mark.parametrize(
    ("arrays", "meta", "message"),
    [
        (_set("target.p", lambda p: p + np.float32(2)), None, r"target\.p: probabilities"),
        (_set("target.p", lambda p: p.astype(np.float64)), None, r"target\.p: dtype"),
        (_set("window.sum_p", lambda p: p * np.nan), None, r"window\.sum_p: NaN"),
        (_set("target.cell", lambda c: c + np.int32(10**6)), None, r"target\.cell: cells"),
        (_set("window.n_obs", lambda n: n + np.int32(1)), None, "target.offset: targets per"),
        (_set("blocks.all", lambda b: b[:1]), None, r"blocks\.all: shape"),
        (_set("extra", np.zeros(3)), None, "unexpected arrays"),
        (None, _set("format", "x"), "format: expected"),
        (None, lambda d: d["fine"]["all"].update(roc_auc=2.0), r"fine\.all\.roc_auc"),
        (None, _set("block_days", -1), r"block_days: must lie"),
        (None, _set("window_days", "40"), "window_days: must be an integer"),
        (None, lambda d: d["mainshocks"]["curves"]["all"].update(design=[]), "mainshocks.curves"),
    ],
)
def test_tampered_summary_is_refused(scored, tmp_path, arrays, meta, message) -> None:
    copy = _tamper(scored["ri"], tmp_path, arrays, meta)
    with pytest.raises(ModelError, match=message) as err:
        load_summary(copy)
    assert "scoring." in str(err.value)  # names the file


def test_oversized_or_garbage_summary_is_refused(scored, tmp_path) -> None:
    copy = _tamper(scored["ri"], tmp_path)
    (copy / SUMMARY_ARRAYS).write_bytes(b"\x00" * 64)
    with pytest.raises(ModelError, match="not a valid safetensors"):
        load_summary(copy)
    (copy / SUMMARY_ARRAYS).write_bytes(b"\x00" * (5 << 20))
    with pytest.raises(ModelError, match="larger than"):
        load_summary(copy)
    (copy / SUMMARY_META).unlink()
    with pytest.raises(ModelError, match="rescore"):
        load_summary(copy)


@pytest.fixture
def synthetic_csv(tmp_path) -> Path:
    df = synthetic_catalog(n_background=300, n_days=900, productivity=0.5, seed=11)
    path = tmp_path / "synthetic.csv"
    path.write_text(to_reference_csv(df))
    return path


def test_export_csep_reads_back_with_pycsep(synthetic_csv, tmp_path, capsys) -> None:
    try:
        from csep.core.forecasts import GriddedForecast
    except ImportError as err:  # pragma: no cover
        pytest.fail(f"pycsep is missing ({err}); pip install -r requirements-dev.txt")
    folder = tmp_path / "naive-m3.5"
    common = ["--catalog", str(synthetic_csv)]
    assert main(["fit", "--model", "naive", "--out", str(folder), *common, "--mc", "3.5"]) == 0
    out = tmp_path / "csep"
    args = ["export-csep", "--model", str(folder), "--out", str(out), *common]
    assert main([*args, "--window", "0", "--window", "2"]) == 0
    index = json.loads((out / "windows.json").read_text())
    assert [w["window"] for w in index["windows"]] == [0, 2]
    f = GriddedForecast.load_ascii(str(out / index["windows"][0]["file"]))
    model = load_model(folder)
    data = ForecastData.build(load_reference(str(synthetic_csv)), 3.5)
    start = data.days("test")[0]
    p = model.predict(data, start, start + 1).ravel()
    assert f.data.shape == (data.grid.n_cells, 1)
    assert np.allclose(f.data[:, 0], csep.rates(p), rtol=1e-9)
    assert f.magnitudes[0] == 3.5 and f.region.num_nodes == data.grid.n_cells
    capsys.readouterr()
    (tmp_path / "file").write_text("x")
    for bad in (["--out", str(tmp_path / "file")], ["--out", str(tmp_path / "no" / "such")]):
        assert main(["export-csep", "--model", str(folder), *bad, *common]) == 2
        assert "error: --out" in capsys.readouterr().err
    assert main(["export-csep", "--model", "no-such-model", "--out", str(out), *common]) == 2
    assert "not a saved model" in capsys.readouterr().err
    assert main([*args, "--window", "9999"]) == 2
    assert "does not exist" in capsys.readouterr().err
    fresh = ["export-csep", "--model", str(folder), "--out", str(tmp_path / "new"), *common]
    assert main([*fresh, "--window", "-1"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()  # a refused export leaves no empty folder


def test_report_shows_intervals_gains_orderings_and_csep(scored, tmp_path) -> None:
    from quake.scoring.report import write_report

    root = tmp_path / "models"
    root.mkdir()
    for folder in scored.values():
        shutil.copytree(folder, root / folder.name)
    text = write_report(root, tmp_path / "RESULTS.md", tmp_path / "none.json").read_text()
    assert "## Table II with 95 % intervals" in text
    assert f"| ri-m{MC} | {MC:g} | 0." in text and "[0." in text
    assert f"## Information gain per target over naive-m{MC}" in text
    assert f"| ri-m{MC} | " in text.split("Information gain per target over")[1]
    assert "Which orderings of Table II are significant" in text
    assert "N-test: too low" in text and "Without a scoring summary" not in text
    (root / "ri-m3.5" / SUMMARY_META).unlink()
    text = write_report(root, tmp_path / "R2.md", tmp_path / "none.json").read_text()
    assert "Without a scoring summary (not shown): ri-m3.5" in text


def test_load_summaries_never_raises_for_a_bad_folder(scored, tmp_path) -> None:
    from quake.scoring.compare import load_summaries

    bad = _tamper(scored["ri"], tmp_path, meta=_set("format", "x"))
    empty = tmp_path / "empty"
    empty.mkdir()
    got, errors = load_summaries([scored["naive"], bad, empty])
    assert list(got) == [scored["naive"].name]
    assert "format" in errors[bad.name] and "rescore" in errors["empty"]


def test_cli_compare_refuses_a_tampered_summary(scored, tmp_path, capsys) -> None:
    bad = _tamper(scored["ri"], tmp_path, arrays=_set("target.p", lambda p: p * np.nan))
    args = ["compare", "--model", str(bad), "--model", str(scored["naive"]), "--mc", "3.5"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "scoring.safetensors: target.p: NaN" in err
