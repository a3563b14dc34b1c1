"""``python -m quake report``: regenerate docs/RESULTS.md from the saved model folders."""

from __future__ import annotations

import argparse
from pathlib import Path

from quake import settings
from quake.commands._paths import check_out_file
from quake.scoring.report import write_report

NAME = "report"
HELP = "regenerate docs/RESULTS.md (Tables I-III, timings) from models/*/model.json"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models-dir", type=Path, default=None, help="default: $QUAKE_MODELS_DIR")
    p.add_argument("--out", type=Path, default=settings.DOCS_DIR / "RESULTS.md")
    p.add_argument("--table1", type=Path, default=settings.DOCS_DIR / "table1.json")
    p.add_argument("--paper", type=Path, default=None, help="paper.md (default ../shared/paper.md)")


def run(args: argparse.Namespace) -> int:
    check_out_file(args.out, "--out")
    models = args.models_dir or settings.models_dir()
    path = write_report(models, args.out, args.table1, args.paper)
    print(f"wrote {path}")
    return 0
