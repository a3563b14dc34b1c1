"""Shared fixtures: small seeded synthetic catalogs and the real reference catalog."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from quake.data.catalog import Catalog, LoadReport, find_reference_catalog, load_catalog
from quake.data.grid import Grid
from quake.data.protocol import derived_protocol
from quake.data.synthetic import synthetic_catalog

REFERENCE_MISSING = (
    "the reference catalog japan_usgs_1990_2019.csv is missing: expected at "
    "../shared/data/ beside the project (or set QUAKE_CATALOG). Tests on real data cannot run."
)


@pytest.fixture(scope="session")
def reference_path() -> Path:
    path = find_reference_catalog()
    if path is None:
        pytest.fail(REFERENCE_MISSING)
    return path


@pytest.fixture(scope="session")
def reference_catalog(reference_path) -> Catalog:
    return load_catalog(reference_path)


def as_catalog(df, source: str = "synthetic") -> Catalog:
    return Catalog(df, LoadReport(source, "synthetic", len(df), len(df)))


@pytest.fixture
def tiny_grid() -> Grid:
    """A 12 x 10 grid of 10 km cells around (35 N, 139 E)."""
    return Grid(lat0=35.0, lon0=139.0, cell_km=10.0, nx=12, ny=10)


@pytest.fixture
def aftershock_catalog() -> Catalog:
    """About 1,000 days with clustered seismicity in a 1 x 1 degree box."""
    df = synthetic_catalog(
        n_background=400, n_days=1200, productivity=0.8, m_ref=4.0, seed=7, start=date(2000, 1, 1)
    )
    return as_catalog(df)


@pytest.fixture
def tiny_protocol(tiny_grid):
    return derived_protocol(date(2000, 1, 1), date(2003, 4, 14), tiny_grid)


# -- dashboard fixtures (tests/test_app.py, tests/test_browser.py) -------------------------
@pytest.fixture(scope="session")
def dashboard_models(tmp_path_factory, reference_catalog) -> Path:
    """A models folder with the naive baseline at Mc 5.0 and 4.5, fitted and scored on the
    reference catalog (a second each); never the repository's models/."""
    from quake.data.forecast_data import ForecastData
    from quake.models import create
    from quake.scoring.evaluate import fit_score_save

    root = tmp_path_factory.mktemp("dashboard_models")
    for mc in (5.0, 4.5):
        data = ForecastData.build(reference_catalog, mc)
        fit_score_save(create("naive"), data, root / f"naive-m{mc:.1f}")
    return root


@pytest.fixture
def dashboard_env(monkeypatch, tmp_path, dashboard_models) -> Path:
    """Point the dashboard at the fixture models (a copy: tests may delete) and a tmp cache."""
    import shutil

    models = tmp_path / "models"
    shutil.copytree(dashboard_models, models)
    monkeypatch.setenv("QUAKE_MODELS_DIR", str(models))
    monkeypatch.setenv("QUAKE_CACHE_DIR", str(tmp_path / "cache"))
    return models


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny convolutions gain nothing from a second thread and lose much on a shared CPU:
    the modules that train or run nets use one (``pytestmark = usefixtures(...)``)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
