"""``python -m quake export-csep --model NAME --out DIR [--window N ...]``: a saved model's
forecasts of the non-overlapping test windows as pycsep gridded-forecast ASCII files
(`quake.scoring.export`)."""

from __future__ import annotations

import argparse
import os
import stat
import sys
from pathlib import Path

from quake.commands._common import TqdmProgress, load_data
from quake.commands._paths import open_out, shown
from quake.commands.compare import find_model
from quake.errors import ModelError
from quake.models import load_model
from quake.scoring.evaluate import check_compatible
from quake.scoring.export import (
    BINNING_NOTE,
    INDEX_FILE,
    export_windows,
    is_export_file,
    read_index,
)

NAME = "export-csep"
HELP = "write a saved model's test-window forecasts as pycsep gridded-forecast ASCII files"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="a saved model (name or folder)")
    p.add_argument(
        "--out",
        required=True,
        type=Path,
        help="folder for the files: new, empty, or an earlier export of the same model "
        "(replaced wholly)",
    )
    p.add_argument("--catalog", default=None, help="catalog CSV (default: the reference catalog)")
    p.add_argument(
        "--window",
        type=int,
        action="append",
        default=None,
        help="window index to write (repeatable; default: every window, ~4 MB each)",
    )


def check_out(out: Path, name: str) -> list[str]:
    """``--out`` as a folder we may write, checked before any work: new, empty, or holding
    an earlier export of model ``name`` (its index and the files it lists, which are
    returned: the new export replaces them); another model's export, any other file, or a
    folder we may not write in is an error."""
    where = f"--out {shown(out)}"
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            raise ModelError(f"{where} exists and is not a folder")
        if not os.access(out, os.R_OK | os.W_OK | os.X_OK):
            raise ModelError(f"{where}: no permission to write in it; give another folder")
        entries = {f.name for f in out.iterdir()}
        old = _earlier_export(out, name, where) if INDEX_FILE in entries else []
        others = sorted(entries - {INDEX_FILE, *old})
        if others:
            raise ModelError(
                f"{where} holds other files ({shown(others[0], 40)}, ...); give a new or "
                f"empty folder, or one holding only an earlier export of {shown(name, 60)}"
            )
        return old
    if not out.parent.is_dir():
        raise ModelError(f"--out: the folder {shown(out.parent)} does not exist")
    if not os.access(out.parent, os.W_OK | os.X_OK):
        raise ModelError(f"{where}: no permission to write in {shown(out.parent)}")
    return []  # made by export_windows once the windows are known to exist


def _earlier_export(out: Path, name: str, where: str) -> list[str]:
    """The files an earlier export of ``name`` in ``out`` lists (those there, each a regular
    file with the export's own name); an error if the index is another model's or not one."""
    index = read_index(out)
    if index is None:
        raise ModelError(
            f"{where} holds a {INDEX_FILE} that is not an export-csep index; give a new or "
            "empty folder"
        )
    if index["model"] != name:
        raise ModelError(
            f"{where} holds the export of another model, {shown(index['model'], 60)}; choose "
            f"another folder for {shown(name, 60)}"
        )
    files = []
    for row in index["windows"]:
        fname = row.get("file") if isinstance(row, dict) else None
        if not is_export_file(name, fname):
            raise ModelError(
                f"{where}: its {INDEX_FILE} lists {shown(fname, 60)}, not a file of an export "
                f"of {shown(name, 60)}; give a new or empty folder"
            )
        try:
            mode = os.lstat(out / fname).st_mode
        except FileNotFoundError:
            continue  # listed but gone: nothing to replace
        if not stat.S_ISREG(mode):
            raise ModelError(
                f"{where}: {shown(fname, 60)} is not a regular file; give a new or empty folder"
            )
        files.append(fname)
    return files


def run(args: argparse.Namespace) -> int:
    folder = find_model(args.model, float("nan"))
    model = load_model(folder)
    out = args.out
    old = check_out(out, folder.name)
    data = load_data(args.catalog, float(model.mc))
    check_compatible(model, data)
    progress = TqdmProgress()
    try:
        rows = export_windows(
            model,
            data,
            out,
            folder.name,
            args.window,
            on_progress=progress,
            replacing=old,
            opener=lambda path: open_out(path, "--out", encoding="utf-8"),
        )
    finally:
        progress.close()
    gone = len(set(old) - {r["file"] for r in rows})
    also = f"; removed {gone} files of the earlier export" if gone else ""
    print(f"wrote {len(rows)} forecast files and {INDEX_FILE} to {out}{also}")
    print(f"note: {BINNING_NOTE}", file=sys.stderr)
    return 0
