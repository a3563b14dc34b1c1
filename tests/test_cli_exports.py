"""``export-csep`` and ``sweep-weights --out``: the magnitude bin written exactly, an
export folder that always equals its ``windows.json`` (another model's refused, the same
model's replaced wholly), write failures checked up front or named by the real file, and a
bad earlier Table I refused before any data is loaded or any network trained."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import quake.atomic
import quake.commands.export_csep as export_csep
import quake.commands.sweep_weights as sweep_weights
from quake.cli import main
from quake.scoring.export import INDEX_FILE, ascii_rows
from tests.helpers import cli, refused

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "japan_usgs_1990_2019.csv"
MC = 4.75


def snapshot(folder: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(folder.iterdir()) if f.is_file()}


def no_work(*args, **kwargs):
    raise AssertionError("the command went on to load data or train before refusing")


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """``fit --model naive --mc 4.75`` on the reference catalog, and the same folder under a
    second name (a second model, as export-csep names a model by its folder)."""
    if not REFERENCE.is_file():
        pytest.skip("no reference catalog")
    root = tmp_path_factory.mktemp("models")
    folder = root / "naive475"
    args = ["fit", "--model", "naive", "--mc", str(MC), "--out", str(folder)]
    assert main([*args, "--catalog", str(REFERENCE)]) == 0
    other = root / "other475"
    shutil.copytree(folder, other)
    return {"naive": folder, "other": other}


def export(capsys, model: Path, out: Path, *windows: int) -> tuple[int, str, str]:
    args = ["export-csep", "--model", str(model), "--out", str(out), "--catalog", str(REFERENCE)]
    for w in windows:
        args += ["--window", str(w)]
    return cli(capsys, *args)


@pytest.fixture(scope="module")
def exported(models, tmp_path_factory) -> Path:
    """naive475's export of window 0 (copied by the tests that change a folder)."""
    out = tmp_path_factory.mktemp("exp") / "csep"
    args = ["export-csep", "--model", str(models["naive"]), "--out", str(out)]
    assert main([*args, "--catalog", str(REFERENCE), "--window", "0"]) == 0
    return out


@pytest.fixture
def earlier(exported, tmp_path) -> Path:
    out = tmp_path / "csep"
    shutil.copytree(exported, out)
    return out


# 1: the magnitude bin --------------------------------------------------------------


@pytest.mark.parametrize("mc", [4.75, 5.0, 3.1, 4.55, 2.0 + 1e-9, np.float64(4.75)])
def test_ascii_rows_write_the_magnitude_bin_exactly(mc) -> None:
    bounds = np.array([[127.0, 127.1, 27.0, 27.1], [127.1, 127.2, 27.0, 27.1]])
    text = ascii_rows(bounds, np.array([0.01, 0.5]), mc)
    fields = [line.split() for line in text.splitlines()]
    assert len(fields) == 2 and all(len(f) == 10 for f in fields)
    assert all(float(f[6]) == float(mc) and float(f[7]) == 10.0 for f in fields)
    assert fields[0][6] == repr(float(mc))  # shortest text that round-trips
    assert [float(f[8]) for f in fields] == pytest.approx([-np.log(0.99), np.log(2)], rel=1e-9)


def test_export_writes_mc_4_75_and_pycsep_reads_it_back(exported) -> None:
    from csep.core.forecasts import GriddedForecast

    index = json.loads((exported / INDEX_FILE).read_text())
    assert index["model"] == "naive475" and [w["mc"] for w in index["windows"]] == [MC]
    assert "load_ascii rebuilds a regular lon/lat grid" in index["binning"]  # said, not hidden
    dat = exported / index["windows"][0]["file"]
    assert {line.split()[6] for line in dat.read_text().splitlines()} == {"4.75"}
    f = GriddedForecast.load_ascii(str(dat))
    assert f.magnitudes[0] == MC and f.data.shape[1] == 1
    assert f.data.shape[0] == f.region.num_nodes > 1000


# 2: an export folder equals its windows.json ----------------------------------------


def test_export_replaces_the_same_models_earlier_export_wholly(capsys, models, tmp_path):
    out = tmp_path / "csep"
    code, _, err = export(capsys, models["naive"], out, 0, 1)
    assert code == 0, err
    first = json.loads((out / INDEX_FILE).read_text())["windows"]
    assert len(first) == 2 and set(snapshot(out)) == {INDEX_FILE, *(w["file"] for w in first)}
    code, stdout, err = export(capsys, models["naive"], out, 1)
    assert code == 0, err
    assert "removed 1 files of the earlier export" in stdout
    rows = json.loads((out / INDEX_FILE).read_text())["windows"]
    assert [w["window"] for w in rows] == [1] and rows[0]["file"] == first[1]["file"]
    assert set(snapshot(out)) == {INDEX_FILE, first[1]["file"]}


def test_export_refuses_another_models_export(capsys, monkeypatch, models, earlier):
    monkeypatch.setattr(export_csep, "load_data", no_work)
    before = snapshot(earlier)
    last = refused(
        capsys,
        "export-csep",
        "--model",
        str(models["other"]),
        "--out",
        str(earlier),
        says="holds the export of another model, 'naive475'",
    )
    assert "choose another folder for 'other475'" in last
    assert snapshot(earlier) == before


def _unlisted(out: Path) -> str:
    (out / "naive475_2011-02-20.dat").write_text("not listed\n")
    return "holds other files ('naive475_2011-02-20.dat'"


def _other_models_file(out: Path) -> str:
    (out / "other475_2011-01-11.dat").write_text("x\n")
    return "holds other files ('other475_2011-01-11.dat'"


def _no_index(out: Path) -> str:
    (out / INDEX_FILE).unlink()
    return "holds other files ('naive475_2011-01-11.dat'"


def _bad_index(out: Path) -> str:
    (out / INDEX_FILE).write_text("{not json")
    return "holds a windows.json that is not an export-csep index"


def _lists_a_path_outside(out: Path) -> str:
    victim = out.parent / "victim.dat"
    victim.write_text("keep me\n")
    doc = json.loads((out / INDEX_FILE).read_text())
    doc["windows"].append({"file": "../victim.dat"})
    (out / INDEX_FILE).write_text(json.dumps(doc))
    return "lists '../victim.dat', not a file of an export of 'naive475'"


def _lists_a_link(out: Path) -> str:
    dat = next(out.glob("*.dat"))
    target = out.parent / "target.dat"
    dat.rename(target)
    dat.symlink_to(target)
    return "'naive475_2011-01-11.dat' is not a regular file"


@pytest.mark.parametrize(
    "spoil",
    [_unlisted, _other_models_file, _no_index, _bad_index, _lists_a_path_outside, _lists_a_link],
)
def test_export_refuses_a_folder_that_is_not_only_its_earlier_export(
    capsys, monkeypatch, models, earlier, spoil
) -> None:
    says = spoil(earlier)
    monkeypatch.setattr(export_csep, "load_data", no_work)
    before = snapshot(earlier.parent)
    inside = snapshot(earlier)
    links = {f.name: os.readlink(f) for f in earlier.iterdir() if f.is_symlink()}
    args = ["export-csep", "--model", str(models["naive"]), "--out", str(earlier)]
    last = refused(capsys, *args, says=says)
    assert last.startswith(f"error: --out '{earlier}'")
    assert snapshot(earlier) == inside and snapshot(earlier.parent) == before
    assert {f.name: os.readlink(f) for f in earlier.iterdir() if f.is_symlink()} == links


# 3: write failures: checked up front, or named by the real file ----------------------


@pytest.mark.parametrize("where", ["existing", "new"])
def test_export_checks_write_permission_before_any_work(
    capsys, monkeypatch, models, tmp_path, where
) -> None:
    out = tmp_path / "csep"
    if where == "existing":
        out.mkdir()
    denied = out if where == "existing" else tmp_path
    real = os.access

    def access(path, mode, *args, **kwargs):
        if Path(path) == denied and mode & os.W_OK:
            return False
        return real(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)
    monkeypatch.setattr(export_csep, "load_data", no_work)
    args = ["export-csep", "--model", str(models["naive"]), "--out", str(out)]
    last = refused(capsys, *args, says="no permission to write in")
    assert last.startswith(f"error: --out '{out}'") and ".tmp" not in last
    assert (where == "existing") == out.exists()


def _too_long_for(name: str | None):
    """``temporary_name`` whose names (for files called ``name``; all if None) are too long
    for the file system, so opening the temporary file fails."""
    real = quake.atomic.temporary_name

    def temporary_name(path: Path) -> Path:
        if name is None or path.name == name:
            return path.with_name("." + "t" * 300 + ".tmp")
        return real(path)

    return temporary_name


def test_a_failed_forecast_write_names_the_file_and_out(capsys, monkeypatch, models, tmp_path):
    monkeypatch.setattr(quake.atomic, "temporary_name", _too_long_for(None))
    out = tmp_path / "csep"
    code, _, err = export(capsys, models["naive"], out, 0)
    assert code == 2 and "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"error: --out '{out / 'naive475_2011-01-11.dat'}': cannot write it")
    assert ".tmp" not in last and "ttt" not in last
    assert not list(out.iterdir())


def test_a_failed_index_write_leaves_the_earlier_export(capsys, monkeypatch, models, earlier):
    monkeypatch.setattr(quake.atomic, "temporary_name", _too_long_for(INDEX_FILE))
    before = snapshot(earlier)
    code, _, err = export(capsys, models["naive"], earlier, 1)
    assert code == 2 and "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"error: --out '{earlier / INDEX_FILE}': cannot write it")
    assert ".tmp" not in last
    assert snapshot(earlier) == before  # window 1's file, written first, removed again


# 4: sweep-weights --out read before any work ----------------------------------------


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("not json", "not valid JSON"),
        ("", "not valid JSON"),
        ("[" * 100_000, "levels deep"),
        ("[1, 2]", "is not a sweep-weights table"),
        ('{"rows": 3}', "is not a sweep-weights table"),
        ('{"rows": [1]}', "is not a sweep-weights table"),
        ('{"table": "I"}', "is not a sweep-weights table"),
    ],
)
def test_sweep_weights_refuses_a_bad_out_before_loading_or_training(
    capsys, monkeypatch, tmp_path, text, says
) -> None:
    monkeypatch.setattr(sweep_weights, "load_data", no_work)
    monkeypatch.setattr(sweep_weights, "sweep", no_work)
    out = tmp_path / "table1.json"
    out.write_text(text)
    last = refused(capsys, "sweep-weights", "--out", str(out), "--weights", "10", says=says)
    assert last.startswith("error: --out ") and str(out) in last
    assert out.read_text() == text


def test_sweep_weights_refuses_binary_out(capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(sweep_weights, "load_data", no_work)
    monkeypatch.setattr(sweep_weights, "sweep", no_work)
    out = tmp_path / "table1.json"
    out.write_bytes(b"\xff\xfe\x00binary")
    refused(capsys, "sweep-weights", "--out", str(out), says="not UTF-8 text")
    assert out.read_bytes() == b"\xff\xfe\x00binary"


def test_sweep_weights_merges_into_the_out_it_read_first(capsys, monkeypatch, tmp_path):
    import quake.models.neural

    out = tmp_path / "table1.json"
    other = {"model": "cnn", "preset": "quick", "mc": 5.0, "weight": 10.0}
    stale = {"model": "convlstm-resid", "preset": "quick", "mc": 5.0, "weight": 99.0}
    out.write_text(json.dumps({"table": "I", "rows": [other, stale]}))
    data = SimpleNamespace(mc=5.0, protocol=SimpleNamespace(name="reference"))
    row = {
        "weight": 10.0,
        "roc_auc_all": 0.5,
        "pr_auc_all": 0.1,
        "roc_auc_active": 0.5,
        "pr_auc_active": 0.1,
        "best_epoch": 1,
        "seconds": 0.0,
    }
    monkeypatch.setattr(quake.models.neural, "build", lambda *a, **k: None)
    monkeypatch.setattr(sweep_weights, "load_data", lambda *a, **k: data)
    monkeypatch.setattr(sweep_weights, "sweep", lambda *a, on_row=None, **k: [row])
    code, _, err = cli(capsys, "sweep-weights", "--out", str(out), "--weights", "10")
    assert code == 0, err
    rows = json.loads(out.read_text())["rows"]
    assert rows == [other, {"model": "convlstm-resid", "preset": "quick", "mc": 5.0, **row}]
