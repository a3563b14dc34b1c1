"""``python -m quake forecast``: one day of a saved model per cell, and every bad input as one
``error:`` line with exit 2 (never a traceback)."""

from __future__ import annotations

import json
import os
import shutil
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quake.cli import main
from quake.data.catalog import load_catalog
from quake.data.forecast_data import ForecastData
from quake.data.synthetic import synthetic_catalog, to_reference_csv
from quake.models import load_model


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> dict:
    """A synthetic catalog and a models folder with an ``ri`` model fitted by the CLI (once)."""
    base = tmp_path_factory.mktemp("forecast_cli")
    df = synthetic_catalog(n_background=300, n_days=900, productivity=0.5, seed=11)
    csv = base / "synthetic.csv"
    csv.write_text(to_reference_csv(df))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QUAKE_MODELS_DIR", str(base / "models"))
        common = ["--catalog", str(csv), "--mc", "3.5"]
        assert main(["fit", "--model", "ri", "--out", "ri-m3.5", *common]) == 0
    model = load_model(base / "models" / "ri-m3.5")
    data = ForecastData.build(load_catalog(csv), 3.5, model.protocol)
    return {"csv": csv, "base": base, "model": model, "data": data}


@pytest.fixture
def env(fitted, tmp_path, monkeypatch, capsys) -> dict:
    """The fitted model in a models folder of this test's own, the day to forecast."""
    models = tmp_path / "models"
    shutil.copytree(fitted["base"] / "models", models)
    monkeypatch.setenv("QUAKE_MODELS_DIR", str(models))
    monkeypatch.setenv("QUAKE_CACHE_DIR", str(tmp_path / "cache"))
    capsys.readouterr()
    data = fitted["data"]
    start, stop = data.days("test")
    t = (start + stop) // 2
    day = data.protocol.day_to_date(t)
    return {**fitted, "models": models, "t": t, "day": day}


def forecast(env: dict, *extra: str, day: object = None, model: str = "ri-m3.5") -> list[str]:
    d = env["day"] if day is None else day
    return ["forecast", "--model", model, "--day", str(d), "--catalog", str(env["csv"]), *extra]


def test_json_gives_every_cell_with_probability_and_gain(env, capsys) -> None:
    assert main(forecast(env, "--json")) == 0
    doc = json.loads(capsys.readouterr().out)
    data, t = env["data"], env["t"]
    assert doc["day"] == str(env["day"]) and doc["source"] == "model"
    assert doc["n_cells"] == data.grid.n_cells and doc["seconds"] >= doc["forecast_seconds"] >= 0
    cells = pd.DataFrame(doc["cells"])
    assert list(cells.columns) == ["cell", "lon", "lat", "probability", "gain"]
    want = env["model"].predict(data, t, t + 1)[0].ravel()
    np.testing.assert_allclose(cells["probability"], want, rtol=1e-6)
    prior = data.prior(final=True).ravel()
    np.testing.assert_allclose(cells["gain"], want / prior, rtol=1e-6)
    lat, lon = data.grid.cell_centers()
    np.testing.assert_allclose(cells["lat"], lat.ravel(), atol=1e-4)
    np.testing.assert_allclose(cells["lon"], lon.ravel(), atol=1e-4)


def test_text_lists_the_most_likely_cells_and_the_seconds(env, capsys) -> None:
    assert main(forecast(env)) == 0
    out = capsys.readouterr().out
    assert f"forecast day {env['day']}" in out and "computed in" in out and " s in all" in out
    assert "most likely cells" in out


def test_out_csv_and_geojson(env, tmp_path, capsys) -> None:
    csv_out, geo_out = tmp_path / "day.csv", tmp_path / "day.geojson"
    assert main(forecast(env, "--out", str(csv_out))) == 0
    assert f"wrote {env['data'].grid.n_cells:,} cells" in capsys.readouterr().out
    table = pd.read_csv(csv_out)
    assert len(table) == env["data"].grid.n_cells
    assert table["probability"].between(0, 1).all()
    assert main(forecast(env, "--out", str(geo_out), "--json")) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["out"] == str(geo_out) and len(doc["top"]["cell"]) == 10
    geo = json.loads(geo_out.read_text())
    assert geo["type"] == "FeatureCollection"
    assert len(geo["features"]) == env["data"].grid.n_cells
    first = geo["features"][0]
    assert first["geometry"]["type"] == "Point" and set(first["properties"]) == {
        "cell",
        "probability",
        "gain",
    }
    np.testing.assert_allclose(
        [f["properties"]["probability"] for f in geo["features"]],
        table["probability"],
        rtol=1e-5,
    )
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_saved_folder_path_works_too(env, capsys) -> None:
    assert main(forecast(env, "--json", model=str(env["models"] / "ri-m3.5"))) == 0
    assert json.loads(capsys.readouterr().out)["model"] == "ri-m3.5"


def _tamper(env: dict) -> None:
    (env["models"] / "ri-m3.5" / "model.json").write_text('{"kind": "ri", "model_args": [1]}')


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"day": "yesterday"}, "is not a date; expected YYYY-MM-DD"),
        ({"day": "2019-02-30"}, "is not a date"),
        ({"day": "1900-01-01"}, "outside the forecast days"),
        ({"day": "2100-01-01"}, "outside the forecast days"),
        ({"model": "no-such-model"}, "no saved model"),
        ({"model": "../../etc"}, "no saved model"),
        ({"model": "tampered"}, "model.json"),
        ({"out": "day.txt"}, "expected a file ending in .csv or .geojson"),
        ({"out": "a-folder.csv"}, "is not a regular file"),
        ({"out": "link.csv"}, "is not a regular file"),
        ({"out": "missing/day.csv"}, "does not exist"),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(env, tmp_path, capsys, args, message) -> None:
    (tmp_path / "a-folder.csv").mkdir()
    os.symlink(tmp_path / "elsewhere.csv", tmp_path / "link.csv")
    day, model, extra = env["day"], "ri-m3.5", []
    if "day" in args:
        day = args["day"]
    if args.get("model") == "tampered":
        _tamper(env)
    elif "model" in args:
        model = args["model"]
    if "out" in args:
        extra = ["--out", str(tmp_path / args["out"])]
    assert main(forecast(env, *extra, day=day, model=model)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "elsewhere.csv").exists()
    typed = str(tmp_path / args["out"]) if "out" in args else args.get("day", args.get("model"))
    if typed != "tampered":
        assert typed in err, err  # the text as typed, not Markdown-escaped


def test_the_day_after_the_last_forecast_day_is_refused(env, capsys) -> None:
    proto = env["data"].protocol
    last = proto.day_to_date(env["data"].days(proto.periods[-1].name)[1] - 1)
    assert main(forecast(env, day=last)) == 0
    capsys.readouterr()
    assert main(forecast(env, day=last + timedelta(days=1))) == 2
    assert "outside the forecast days" in capsys.readouterr().err


def test_a_cached_test_period_is_read(env, capsys) -> None:
    from quake.service.forecast_cache import cached_forecast

    folder = Path(env["models"] / "ri-m3.5")
    cached_forecast(env["model"], folder, env["data"], "test")
    assert main(forecast(env, "--json")) == 0
    assert json.loads(capsys.readouterr().out)["source"] == "cache"


def test_a_recurrent_net_runs_from_day_0(env, capsys) -> None:
    from quake.models.neural import build

    data, t = env["data"], env["t"]
    net = build("convlstm-resid", "quick", {"pool": 2, "embed": 2, "hidden": 2, "head": 2})
    net.set_base(data, final=True)
    net.bind(data)
    net.save(env["models"] / "lstm-m3.5")
    assert main(forecast(env, "--json", model="lstm-m3.5")) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["kind"] == "convlstm-resid" and doc["warmup_days"] == t
    want = net.predict(data, t, t + 1)[0].ravel()
    np.testing.assert_allclose(doc["cells"]["probability"], want, rtol=1e-6)


def test_cell_longitudes_are_written_between_minus_180_and_180() -> None:
    """Stop 27's audit: a Tonga grid's cells were written at 183.8 (its own frame) for
    -176.2, which GeoJSON and GIS tools read as no place at all."""
    from types import SimpleNamespace

    from quake.commands.forecast import cell_table
    from quake.data.grid import Grid

    grid = Grid(lat0=-25.0, lon0=170.0, cell_km=10.0, nx=226, ny=112)
    n = grid.nx * grid.ny
    table = cell_table(SimpleNamespace(grid=grid), np.full(n, 0.01), np.full(n, 0.005))
    lon = table["lon"].to_numpy()
    assert lon.min() >= -180.0 and lon.max() < 180.0
    assert (lon < -170.0).any() and (lon > 170.0).any()  # both sides of the date line
