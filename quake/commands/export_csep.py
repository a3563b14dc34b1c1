"""``python -m quake export-csep --model NAME --out DIR [--window N ...]``: a saved model's
forecasts of the non-overlapping test windows as pycsep gridded-forecast ASCII files
(`quake.scoring.export`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from quake.commands._common import TqdmProgress, load_data
from quake.commands._paths import shown
from quake.commands.compare import find_model
from quake.errors import ModelError
from quake.models import load_model
from quake.scoring.evaluate import check_compatible
from quake.scoring.export import INDEX_FILE, export_windows

NAME = "export-csep"
HELP = "write a saved model's test-window forecasts as pycsep gridded-forecast ASCII files"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="a saved model (name or folder)")
    p.add_argument("--out", required=True, type=Path, help="folder for the files (new or empty)")
    p.add_argument("--catalog", default=None, help="catalog CSV (default: the reference catalog)")
    p.add_argument(
        "--window",
        type=int,
        action="append",
        default=None,
        help="window index to write (repeatable; default: every window, ~4 MB each)",
    )


def check_out(out: Path) -> Path:
    """``--out`` as a folder we may write: new, empty, or an earlier export's; else an error."""
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            raise ModelError(f"--out {shown(out)} exists and is not a folder")
        ours = {INDEX_FILE}
        others = [
            f.name for f in out.iterdir() if f.name not in ours and not f.name.endswith(".dat")
        ]
        if others:
            raise ModelError(
                f"--out {shown(out)} holds other files ({others[0][:40]!r}, ...); give a "
                "new or empty folder"
            )
        return out
    if not out.parent.is_dir():
        raise ModelError(f"--out: the folder {shown(out.parent)} does not exist")
    return out  # made by export_windows once the windows are known to exist


def run(args: argparse.Namespace) -> int:
    folder = find_model(args.model, float("nan"))
    model = load_model(folder)
    out = check_out(args.out)
    data = load_data(args.catalog, float(model.mc))
    check_compatible(model, data)
    progress = TqdmProgress()
    rows = export_windows(model, data, out, folder.name, args.window, on_progress=progress)
    progress.close()
    print(f"wrote {len(rows)} forecast files and {INDEX_FILE} to {out}")
    return 0
