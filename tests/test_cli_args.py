"""Bad command-line input: a one-line ``error: ...`` and exit 2 before any work, never a
traceback; undefined scores said as such; every JSON the CLI writes is strict (no NaN)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from quake.commands._common import fmt_mag, parse_model_args
from quake.commands._paths import json_text, open_out
from quake.errors import ModelError, QuakeError
from quake.models.training import TrainConfig
from tests.helpers import refused, run_cli

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "japan_usgs_1990_2019.csv"
needs_reference = pytest.mark.skipif(not REFERENCE.is_file(), reason="no reference catalog")


def strict(text: str):
    """JSON as a strict reader sees it: NaN or Infinity fail the test."""

    def refuse(name: str):
        raise AssertionError(f"non-standard JSON constant {name} in the output")

    return json.loads(text, parse_constant=refuse)


# 1, 2: undefined scores; strict JSON -------------------------------------------------


@pytest.fixture(scope="module")
def naive_m75(tmp_path_factory) -> tuple[Path, object]:
    """``fit --model naive --mc 7.5``: no M >= 7.5 target in the validation period."""
    if not REFERENCE.is_file():
        pytest.skip("no reference catalog")
    folder = tmp_path_factory.mktemp("m") / "naive-m7.5"
    proc = run_cli("fit", "--model", "naive", "--mc", "7.5", "--out", str(folder))
    return folder, proc


def test_fit_with_an_undefined_score_saves_and_says_why(naive_m75) -> None:
    folder, proc = naive_m75
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert (folder / "model.json").is_file()
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip().startswith("validation")]
    assert len(lines) == 2, proc.stdout
    assert all("undefined (no target in the validation period)" in ln for ln in lines)
    test_lines = [ln for ln in proc.stdout.splitlines() if ln.strip().startswith("test")]
    assert test_lines and all("undefined" not in ln for ln in test_lines)
    assert f"the model was saved to {folder}" in proc.stderr
    assert "validation all: no target in the validation period" in proc.stderr
    scores = json.loads((folder / "model.json").read_text())["scores"]
    assert scores["validation"]["all"]["roc_auc"] is None


@needs_reference
def test_evaluate_json_is_strict_when_scores_are_undefined(tmp_path: Path) -> None:
    cat = pd.read_csv(REFERENCE)
    late = pd.to_datetime(cat["time"]) >= "2010-11-01"
    path = tmp_path / "no_m5.csv"
    cat[~(late & (cat["magnitude"] >= 5))].to_csv(path, index=False)
    out = tmp_path / "new" / "folder" / "ev.json"  # missing folders are made
    proc = run_cli("evaluate", "--model", "naive", "--catalog", str(path), "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    for doc in (strict(proc.stdout), strict(out.read_text())):
        assert doc["n_positive"] == 0
        assert doc["roc_auc"] is None and doc["pr_auc"] is None
        assert doc["roc_auc_ci"] == [None, None] and doc["pr_auc_ci"] == [None, None]
    assert "undefined (null) at Mc 5, mask all: no target in the test period" in proc.stderr


def test_json_text_writes_undefined_numbers_as_null() -> None:
    import numpy as np

    doc = {"a": float("nan"), "b": [float("inf"), np.float32("nan"), np.int64(3)], "c": 1.5}
    assert strict(json_text(doc)) == {"a": None, "b": [None, None, 3], "c": 1.5}


def test_catalog_json_is_strict(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text(
        "time,latitude,longitude,magnitude\n"
        "1990-01-01T00:00:00Z,36.0,140.0,4.0\n"
        "1990-01-02T00:00:00Z,37.0,141.0,5.0\n"
    )
    proc = run_cli("catalog", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    assert strict(proc.stdout)["n_events"] == 2


def test_compare_and_forecast_json_are_strict(naive_m75, tmp_path: Path) -> None:
    folder, proc = naive_m75
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "sub" / "cmp.json"
    args = ["compare", "--model", str(folder), "--model", str(folder), "--mc", "7.5"]
    got = run_cli(*args, "--json", str(out))
    assert got.returncode == 0, got.stderr
    assert strict(out.read_text())["mc"] == 7.5
    got = run_cli("forecast", "--model", str(folder), "--day", "2012-01-01", "--json")
    assert got.returncode == 0, got.stderr
    assert strict(got.stdout)["n_cells"] > 0


# 3, 9: magnitudes -------------------------------------------------------------------


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "100", "-5", "10.5", "big"])
@pytest.mark.parametrize("command", ["fit", "evaluate", "train", "sweep-weights"])
def test_mc_must_be_a_finite_magnitude(capsys, tmp_path: Path, command: str, value: str) -> None:
    args = {
        "fit": ["fit", "--model", "naive", "--out", str(tmp_path / "m")],
        "evaluate": ["evaluate", "--model", "naive"],
        "train": ["train", "--out", str(tmp_path / "m")],
        "sweep-weights": ["sweep-weights", "--out", str(tmp_path / "t.json")],
    }[command]
    last = refused(capsys, *args, f"--mc={value}", says="argument --mc: expected a finite")
    assert "[-2, 10]" in last and repr(value) in last
    assert not (tmp_path / "m").exists()


def test_compare_mc_uses_the_same_range(capsys, naive_m75) -> None:
    folder, proc = naive_m75
    assert proc.returncode == 0, proc.stderr
    a = ["compare", "--model", str(folder), "--model", str(folder)]
    refused(
        capsys, *a, "--mc", "nan", says="argument --mc: expected a finite magnitude in [-2, 10]"
    )
    refused(capsys, *a, "--mc", "11", says="argument --mc: expected a finite magnitude in [-2, 10]")
    last = refused(capsys, *a, "--mc", "7.50000001", says="was scored at Mc 7.5, not --mc")
    assert "--mc 7.50000001" in last


def test_fmt_mag_keeps_every_digit_that_matters() -> None:
    assert fmt_mag(5.0) == "5"
    assert fmt_mag(4.5) == "4.5"
    assert fmt_mag(4.50000001) == "4.50000001"


@pytest.mark.parametrize("value", ["nan", "-inf", "inf", "11"])
def test_decluster_m_min_must_be_a_finite_magnitude(capsys, value: str) -> None:
    refused(capsys, "decluster", "--json", f"--m-min={value}", says="argument --m-min: expected")


def test_decluster_other_numbers_are_checked(capsys) -> None:
    refused(capsys, "decluster", "--threshold", "nan", says="--threshold must lie in [0, 1]")
    refused(capsys, "decluster", "--foreshock-fraction", "nan", says="--foreshock-fraction must")
    refused(capsys, "decluster", "--method", "zbz", "--eta0", "-1", says="--eta0 must be")


# 4: train options, refused before the catalog is read -------------------------------


@pytest.mark.parametrize(
    ("option", "says"),
    [
        (["--device", "bogus"], "--device 'bogus': expected cpu, cuda, cuda:N"),
        (["--threads=-1"], "--threads must be a positive number"),
        (["--threads", "0"], "--threads must be a positive number"),
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--class-weight", "nan"], "--class-weight must be a finite number > 0"),
        (["--train-args", '{"epochs": "x"}'], "'epochs' must be an integer in [1, "),
        (["--train-args", '{"lr": "x"}'], "'lr' must be a number in (0, 10]"),
        (["--train-args", '{"streams": "x"}'], "'streams' must be an integer in [1, 4096]"),
        (["--train-args", '{"bptt": true}'], "'bptt' must be an integer"),
        (["--train-args", '{"lr_final": 2}'], "'lr_final' must be a number in [0, 1]"),
        (["--train-args", '{"device": "gpu"}'], "'device' must be cpu, cuda, cuda:N or mps"),
        (["--train-args", '{"select_mask": "x"}'], "'select_mask' must be 'all' or 'active'"),
        (["--train-args", '{"deterministic": "no"}'], "'deterministic' must be true or false"),
        (["--train-args", '{"nope": 1}'], "unknown training options ['nope']"),
        (["--train-args", '{"lr": NaN}'], "--train-args must be a JSON object (NaN is not"),
        (["--train-args", "[1]"], "--train-args must be a JSON object"),
        (["--args", '{"hidden": -3}'], "model_args.hidden"),
    ],
)
def test_train_options_fail_before_any_work(capsys, tmp_path, monkeypatch, option, says) -> None:
    import quake.commands.train as train_cmd

    def no_data(*args, **kwargs):
        raise AssertionError("the catalog was read before the options were checked")

    monkeypatch.setattr(train_cmd, "load_data", no_data)
    refused(capsys, "train", "--out", str(tmp_path / "m"), *option, says=says)
    assert not (tmp_path / "m").exists()


def test_train_device_must_exist(capsys, tmp_path) -> None:
    import torch

    if torch.cuda.is_available():
        n = torch.cuda.device_count()
        refused(capsys, "train", "--out", str(tmp_path / "m"), "--device", f"cuda:{n}", says="")
    else:
        refused(
            capsys,
            "train",
            "--out",
            str(tmp_path / "m"),
            "--device",
            "cuda",
            says="torch sees no CUDA device",
        )


def test_train_errors_reach_the_terminal_without_traceback(tmp_path: Path) -> None:
    proc = run_cli("train", "--out", str(tmp_path / "m"), "--train-args", '{"epochs": "x"}')
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: training option 'epochs'")


def test_train_config_checks_types_and_ranges() -> None:
    assert TrainConfig.from_dict({"epochs": 3, "lr": 1, "threads": None}).lr == 1
    for bad in ({"epochs": 1.5}, {"clip": 0}, {"max_seconds": float("inf")}, {"seed": -1}):
        with pytest.raises(ModelError, match=f"training option '{next(iter(bad))}'"):
            TrainConfig.from_dict(bad)


# 5: nested or oversized JSON options -------------------------------------------------


@pytest.mark.parametrize("flag", ["--args", "--train-args"])
def test_deeply_nested_json_option_is_refused(flag: str, tmp_path: Path) -> None:
    deep = "[" * 20000 + "]" * 20000
    args = ["train", "--out", str(tmp_path / "m")] if flag == "--train-args" else None
    args = args or ["fit", "--model", "naive", "--out", str(tmp_path / "m")]
    proc = run_cli(*args, flag, deep)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"error: {flag} is JSON nested 20,000 levels deep" in proc.stderr


def test_parse_model_args_bounds() -> None:
    assert parse_model_args('{"a": {"b": [1, 2.5]}}') == {"a": {"b": [1, 2.5]}}
    for text, says in [
        ("[" * 50 + "]" * 50, "nested 50 levels"),
        ('{"a": "' + "x" * 70_000 + '"}', "characters long"),
        ('{"a": 1e999}', "out of range"),
        ('{"a": Infinity}', "Infinity is not a JSON number"),
        ('{"a": ' + "9" * 40 + "}", "digits"),
        ("{", "must be a JSON object"),
    ]:
        with pytest.raises(ModelError, match=says):
            parse_model_args(text)


# 6: report inputs --------------------------------------------------------------------


def test_report_refuses_bad_input_files(capsys, tmp_path: Path) -> None:
    out = ["report", "--out", str(tmp_path / "R.md"), "--models-dir", str(tmp_path / "none")]
    csv = tmp_path / "t.csv"
    csv.write_text("a,b\n1,2\n")
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 20000 + "]" * 20000)
    binary = tmp_path / "paper.md"
    binary.write_bytes(bytes(range(256)) * 8)
    folder = tmp_path / "folder"
    folder.mkdir()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for args, says in [
        (["--table1", str(csv)], f"--table1 {csv}: not valid JSON"),
        (["--table1", str(deep)], f"--table1 {deep}: JSON nested 20,000 levels deep"),
        (["--table1", str(tmp_path / "missing.json")], "missing.json': no such file"),
        (["--table1", str(folder)], "is a folder, not a regular file"),
        (["--paper", str(binary)], f"--paper {binary}: not UTF-8 text"),
        (["--paper", str(folder)], "folder' is a folder, not a regular file"),
        (["--paper", str(fifo)], "is a named pipe (FIFO), not a regular file"),
    ]:
        last = refused(capsys, *out, *args, says=says)
        assert args[0] in last
    assert not (tmp_path / "R.md").exists()


def test_report_table1_rows_must_be_records(tmp_path: Path) -> None:
    from quake.scoring.report import _table1

    path = tmp_path / "t.json"
    path.write_text(json.dumps({"rows": [{"weight": 1}, 5]}))
    assert "not a list of records" in _table1(path)[0]


# 7: decluster --out ----------------------------------------------------------------


@needs_reference
def test_decluster_out_makes_missing_folders(tmp_path: Path) -> None:
    out = tmp_path / "new" / "deeper" / "m.csv"
    proc = run_cli("decluster", "--m-min", "6", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert out.is_file() and out.read_text().startswith("time,")


def test_a_failed_write_names_the_file_not_the_temporary_one(tmp_path: Path) -> None:
    path = tmp_path / ("m" * 240 + ".csv")  # valid, but its temporary name is too long
    with pytest.raises(QuakeError) as exc, open_out(path, "--out") as fh:
        fh.write("x")
    msg = str(exc.value)
    assert msg.startswith("--out ") and "cannot write it" in msg
    assert ".tmp" not in msg and not list(tmp_path.iterdir())


# 8: download window ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--start", "2019-01-01", "--end", "2018-01-01"], "--start 2019-01-01 is after --end"),
        (["--min-lat", "50", "--max-lat", "10"], "--min-lat 50 must be below --max-lat 10"),
        (["--min-lon", "200", "--max-lon", "100"], "--min-lon 200 must be below --max-lon 100"),
        (["--min-lat", "-95"], "--min-lat must be a finite number in [-90, 90]"),
        (["--max-lon", "nan"], "--max-lon must be a finite number in [-360, 360]"),
        (["--min-lon", "-200", "--max-lon", "170"], "spans more than 360 degrees"),
        (["--min-mag", "nan"], "--min-mag must be a finite magnitude in [-2, 10]"),
        (["--deadline", "nan"], "--deadline must be a number of seconds >= 0"),
        (["--start", "1990-13-01"], "argument --start: expected a date YYYY-MM-DD"),
    ],
)
def test_download_window_is_checked_before_any_request(capsys, tmp_path, monkeypatch, args, says):
    import quake.data.catalog.usgs as usgs

    def no_network(*a, **k):
        raise AssertionError("a request was made for an impossible window")

    monkeypatch.setattr(usgs, "urlopen_fetch", no_network)
    cache = tmp_path / "cache"
    refused(
        capsys,
        "download",
        *args,
        "--out",
        str(tmp_path / "c.csv"),
        "--cache",
        str(cache),
        says=says,
    )
    assert not cache.exists() and not (tmp_path / "c.csv").exists()


def test_download_usgs_checks_the_window_itself(monkeypatch) -> None:
    from datetime import date

    from quake.data.catalog.usgs import Window, download_usgs
    from quake.errors import DownloadError

    def fetch(url: str) -> bytes:
        raise AssertionError("fetched")

    with pytest.raises(DownloadError, match="start 2019-01-02 is after end 2019-01-01"):
        download_usgs(Window(start=date(2019, 1, 2), end=date(2019, 1, 1)), None, fetch)


def test_report_models_dir_must_be_a_folder(capsys, tmp_path: Path) -> None:
    out = ["report", "--out", str(tmp_path / "R.md")]
    refused(capsys, *out, "--models-dir", str(tmp_path / "none"), says="does not exist")
    (tmp_path / "file").write_text("x")
    refused(capsys, *out, "--models-dir", str(tmp_path / "file"), says="is not a folder")


@pytest.mark.parametrize(
    "args",
    [
        ("forecast", "--model", "naive-m5", "--day", "2015-01-01", "--out"),
        ("evaluate", "--model", "naive-m5", "--json"),
        ("compare", "--model", "naive-m5", "--model", "ri-m5", "--json"),
        ("decluster", "--out"),
        ("download", "--out"),
        ("report", "--out"),
        ("sweep-weights", "--model", "cnn", "--out"),
    ],
)
def test_a_file_option_ending_in_a_separator_is_refused(capsys, tmp_path, args) -> None:
    """``x.csv/`` names a folder: `Path` would drop the separator and write the file x.csv."""
    target = tmp_path / "x.csv"
    refused(capsys, *args, f"{target}/", says="names a folder; expected a file name")
    assert not target.exists()
