"""Helpers shared by test modules: a fresh interpreter for the CLI, AppTest navigation, a
small synthetic catalog for trainings end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
APP_TIMEOUT = 120


def run_python(*args: str, cwd: Path = ROOT, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python ARGS`` in a fresh interpreter that imports this checkout's ``quake``."""
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=timeout,
        check=False,
    )


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """``python -m quake ARGS`` in a fresh interpreter."""
    return run_python("-m", "quake", *args, cwd=cwd)


def app() -> AppTest:
    """The dashboard after its first run, with no exception."""
    at = AppTest.from_file(APP, default_timeout=APP_TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def goto(at: AppTest, page: str) -> AppTest:
    """Switch ``at`` to ``page`` (a path of `app_pages.ui.nav.PAGES`, e.g. ``PATHS["map"]``)
    and run it, no exception."""
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def player_spec(at: AppTest) -> dict:
    """The Forecast map's day player: the one plotly figure with frames on the page."""
    import json

    specs = [json.loads(p.proto.spec) for p in at.get("plotly_chart")]
    players = [s for s in specs if s.get("frames")]
    assert len(players) == 1, f"{len(players)} day players on the page"
    return players[0]


def model_box(at: AppTest, label: str):
    """The model picker ``label`` of the page (its widget key depends on the options)."""
    return next(s for s in at.selectbox if s.label == label)


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """``quake.cli.main(args)`` in this process: exit code, stdout, stderr (argparse's exit
    is caught too)."""
    from quake.cli import main

    try:
        code = main(list(args))
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def refused(capsys, *args: str, says: str) -> str:
    """Run ``args`` (`cli`): exit code 2, no traceback, a last line ``error: …`` holding
    ``says``; returns that line."""
    code, _, err = cli(capsys, *args)
    assert code == 2, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: ") and says in last, err
    return last


def small_catalog_csv(folder: Path) -> Path:
    """``folder/cat.csv``: a seeded synthetic catalog of 1,200 days outside Japan (a small
    grid of its own), in the reference CSV's format, for trainings end to end."""
    from datetime import date

    from quake.data.synthetic import synthetic_catalog, to_reference_csv

    df = synthetic_catalog(
        n_background=300, n_days=1200, productivity=1.0, seed=5, start=date(2000, 1, 1),
        lat=(10.0, 10.9), lon=(20.0, 20.9),
    )  # fmt: skip
    csv = folder / "cat.csv"
    csv.write_text(to_reference_csv(df))
    return csv
