"""``python -m quake report``: regenerate docs/RESULTS.md from the saved model folders."""

from __future__ import annotations

import argparse
from pathlib import Path

from quake import settings
from quake.commands._paths import check_in_file, check_out_file, out_file, shown
from quake.errors import ModelError
from quake.scoring.report import paper_table2, write_report
from quake.scoring.report_inputs import read_table1

TABLE1 = settings.DOCS_DIR / "table1.json"

NAME = "report"
HELP = "regenerate docs/RESULTS.md (Tables I-III, timings) from models/*/model.json"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models-dir", type=Path, default=None, help="default: $QUAKE_MODELS_DIR")
    p.add_argument("--out", type=out_file, default=settings.DOCS_DIR / "RESULTS.md")
    p.add_argument(
        "--table1",
        type=Path,
        default=None,
        help="the class-weight sweep's JSON (default docs/table1.json, if there)",
    )
    p.add_argument("--paper", type=Path, default=None, help="paper.md (default ../shared/paper.md)")


def check_inputs(args: argparse.Namespace) -> Path:
    """``--table1`` and ``--paper``, read before the report is made: a file given must be
    there and be what it is meant to be; errors name the option. Returns the table1 path."""
    for flag, path, read in (
        ("--table1", args.table1, read_table1),
        ("--paper", args.paper, paper_table2),
    ):
        if path is None:
            continue
        check_in_file(path, flag)
        try:
            read(path)
        except ModelError as err:
            raise ModelError(f"{flag} {err}") from None
    return args.table1 if args.table1 is not None else TABLE1


def run(args: argparse.Namespace) -> int:
    check_out_file(args.out, "--out")
    table1 = check_inputs(args)
    models = args.models_dir or settings.models_dir()
    if not models.is_dir():  # said as it is, not as "no saved model folder with scores"
        what = "does not exist" if not models.exists() else "is not a folder"
        raise ModelError(f"--models-dir {shown(models)} {what}; expected the models folder")
    path = write_report(models, args.out, table1, args.paper)
    print(f"wrote {path}")
    return 0
