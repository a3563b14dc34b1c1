"""``python -m quake catalog PATH [--json]``: the report's keys, types and values; exit codes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from quake.cli import main
from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parents[1]
REQUIRED = {
    "layout": str,
    "n_events": int,
    "dropped": dict,
    "time_start": str,
    "time_end": str,
    "lat_min": float,
    "lat_max": float,
    "lon_min": float,
    "lon_max": float,
    "mag_min": float,
    "mag_max": float,
    "n_mag_ge": dict,
    "n_in_grid": int,
}
EXTRA = {"source": str, "n_rows": int, "notes": list, "grid": dict}

CATALOG = (
    "id,time,longitude,latitude,magnitude,x,y\n"
    "0,1990-01-01 09:03:12.880,140.568,36.417,4.8,0,0\n"
    "1,1990-01-02 16:26:37.730,146.063,43.42,6.0,0,0\n"
    "2,not a time,146.063,43.42,6.0,0,0\n"
    "3,1990-01-03 00:00:00.000,120.0,20.0,3.0,0,0\n"  # outside the Japan grid
    "4,1990-01-03 00:00:00.000,140.0,36.0,big,0,0\n"
    "5,1990-01-04 00:00:00.000,141.0,37.0,5.0,0,0,extra\n"
    "6,1990-01-05 12:00:00.000,142.0,38.0,4.5,0,0\n"
)


@pytest.fixture
def catalog_path(tmp_path: Path) -> Path:
    path = tmp_path / "with_drops.csv"
    path.write_text(CATALOG)
    return path


def test_json_report_through_a_fresh_interpreter(catalog_path: Path) -> None:
    proc = run_cli("catalog", str(catalog_path), "--json")
    assert proc.returncode == 0, proc.stderr  # dropped rows are reported, not fatal
    assert proc.stderr == ""
    s = json.loads(proc.stdout)
    assert set(REQUIRED) <= set(s) and set(s) <= set(REQUIRED) | set(EXTRA)
    for key, kind in {**REQUIRED, **EXTRA}.items():
        assert type(s[key]) is kind, (key, s[key])
    assert s["layout"] == "reference"
    assert s["n_events"] == 4 and s["n_rows"] == 7
    assert s["dropped"] == {"malformed row": 1, "unparseable time": 1, "unparseable magnitude": 1}
    assert all(type(v) is int for v in s["dropped"].values())
    t0 = datetime.fromisoformat(s["time_start"])
    t1 = datetime.fromisoformat(s["time_end"])
    assert t0.utcoffset().total_seconds() == 0 and str(t0) == "1990-01-01 09:03:12.880000+00:00"
    assert str(t1) == "1990-01-05 12:00:00+00:00"
    assert (s["lat_min"], s["lat_max"], s["lon_min"], s["lon_max"]) == (20.0, 43.42, 120.0, 146.063)
    assert (s["mag_min"], s["mag_max"]) == (3.0, 6.0)
    assert s["n_mag_ge"] == {"3.5": 3, "4.5": 3, "5": 1, "6": 1}
    assert s["n_in_grid"] == 3
    assert s["source"] == str(catalog_path) and s["notes"] == []


def test_text_report(catalog_path: Path, capsys) -> None:
    assert main(["catalog", str(catalog_path)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "events      4 loaded of 7 rows" in out
    assert "dropped     1 malformed row, 1 unparseable time, 1 unparseable magnitude" in out
    assert "in grid     3 (japan-usgs-v1: 200 x 250 cells of 10 km)" in out


def test_reference_catalog_json(reference_path, capsys) -> None:
    assert main(["catalog", str(reference_path), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["n_events"] == 37_581 and s["dropped"] == {}
    assert s["n_mag_ge"]["5"] == 4_455 and s["n_mag_ge"]["6"] == 447
    assert s["n_in_grid"] == 31_217
    assert s["time_start"].startswith("1990-01-01") and s["time_end"].startswith("2019-12-31")


def test_a_short_catalog_elsewhere_reports_on_its_own_grid(tmp_path: Path, capsys) -> None:
    path = tmp_path / "ca.csv"
    path.write_text(
        "time,latitude,longitude,mag\n"
        "2019-07-06T03:19:53Z,35.77,-117.60,7.1\n"
        "2019-07-04T17:33:49Z,35.71,-117.50,6.4\n"
    )
    assert main(["catalog", str(path)]) == 0  # two days: too short for the splits, still a report
    out = capsys.readouterr().out
    assert "in grid     2 (grid from the catalog's bounds" in out
    assert "longitude   -117.600 .. -117.500" in out


def test_missing_argument_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["catalog"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("error: ")
    assert "Traceback" not in err


def test_the_quake_command_is_declared_and_installed() -> None:
    import tomllib

    script = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["quake"]
    assert script == "quake.cli:main"
    exe = Path(sys.executable).parent / "quake"
    assert exe.is_file(), f"{exe} is missing: run make install (or pip install -e .)"
    proc = subprocess.run([exe, "catalog", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "--json" in proc.stdout, proc.stderr


def test_a_bare_model_name_is_found_from_any_directory(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("QUAKE_MODELS_DIR", raising=False)  # the project's models/
    proc = run_cli("evaluate", "--model", "naive-m5", "--mc", "5", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["model"] == "naive-m5" and out["kind"] == "naive"
    assert abs(out["roc_auc"] - 0.6135) < 5e-4, out  # docs/RESULTS.md, naive, Mc 5, all cells
    proc = run_cli("evaluate", "--model", "no-such-model", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.startswith("error: ")
    assert "Traceback" not in proc.stderr


def test_evaluate_against_mainshock_targets(tmp_path, monkeypatch) -> None:
    """The saved naive-m5 scored against GK-mainshock targets: fewer positives, its own JSON."""
    monkeypatch.delenv("QUAKE_MODELS_DIR", raising=False)  # the project's models/
    args = ("evaluate", "--model", "naive-m5", "--targets", "mainshocks", "--decluster", "gk")
    proc = run_cli(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["targets"], out["decluster"], out["mask"]) == ("mainshocks", "gk", "all")
    assert out["n_pairs"] == 161_850_000  # the same cells and days as every-event targets
    assert out["n_positive"] == 15_208  # of 55,291 with every event >= M5
    assert abs(out["roc_auc"] - 0.5848) < 5e-4, out


def test_an_output_path_that_cannot_be_written_fails_before_the_work(tmp_path, capsys) -> None:
    """--json/--out of evaluate, compare, sweep-weights, report, download and decluster are
    checked first: exit 2, one line naming the path as typed, nothing written or replaced."""
    afile = tmp_path / "a-file"
    afile.write_text("x")
    pipe = tmp_path / "pipe.csv"  # stands in for a device such as /dev/null
    os.mkfifo(pipe)
    cases = [
        (["evaluate", "--model", "naive-m5", "--json", str(afile / "x.json")], "is not a folder"),
        (["evaluate", "--model", "naive-m5", "--json", str(tmp_path)], "is not a regular file"),
        (
            ["compare", "--model", "naive-m5", "--model", "naive-m5", "--json", str(tmp_path)],
            "is not a regular file",
        ),
        (["sweep-weights", "--out", str(afile / "d" / "t.json")], "is not a folder"),
        (["report", "--out", str(tmp_path)], "is not a regular file"),
        (["download", "--out", str(pipe)], "is not a regular file"),  # before any request
        (["decluster", "--out", str(pipe)], "is not a regular file"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and "Traceback" not in err, err
        assert repr(argv[-1]) in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "pipe.csv"]
    assert stat.S_ISFIFO(os.lstat(pipe).st_mode)


def test_an_os_error_names_its_path_and_the_reason() -> None:
    from quake.cli import describe

    err = OSError(2, "No such file or directory", "/no/such\nplace")
    assert describe(err) == "cannot read or write '/no/such\\nplace': No such file or directory"
    assert describe(OSError("disk full")) == "disk full"
