"""``python -m quake sweep-weights --mc 5``: the paper's Table I (class weights) on VALIDATION.

For each minority-class weight w a neural model is trained (``final=False``: weights and
prior from the train period, early stopping on validation) and scored on the validation
period, both masks, by `quake.scoring.evaluate.evaluate` (a full pass from day 0, so the recurrent
state is warm). The test period is never read. Rows go to ``docs/table1.json``
(``{"rows": [...]}``, rendered by ``python -m quake report``) and to stdout.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

from quake import settings
from quake.commands._common import (
    add_data_arguments,
    check_device,
    load_data,
    parse_model_args,
)
from quake.commands._paths import check_out_file, json_text, out_file, shown, write_out
from quake.errors import ModelError
from quake.models.presets import PRESETS
from quake.models.registry import NEURAL_KINDS
from quake.scoring.report_inputs import read_table1

NAME = "sweep-weights"
HELP = "Table I: train a neural model per class weight and score it on the validation period"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_data_arguments(p)
    p.add_argument("--weights", type=float, nargs="+", default=[1, 10, 1e3, 1e5, 1e7])
    p.add_argument(
        "--model",
        default="convlstm-resid",
        choices=NEURAL_KINDS,
        help="model kind (the paper's Table I used CNN+LSTM, i.e. convlstm)",
    )
    p.add_argument("--preset", default="quick", choices=list(PRESETS))
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--device", default=None)
    p.add_argument("--args", default=None, help="JSON model_args overrides")
    p.add_argument("--train-args", default=None, help="JSON training overrides")
    p.add_argument("--out", type=out_file, default=settings.DOCS_DIR / "table1.json")


def sweep(
    data,
    weights,
    kind="convlstm-resid",
    preset="quick",
    model_args=None,
    train_args=None,
    on_row=None,
) -> list[dict]:
    """One row per weight: validation ROC/PR AUC per mask, epochs, seconds."""
    from quake.models.neural import build
    from quake.scoring.evaluate import evaluate, naive_curves

    rows = []
    base = naive_curves(data, "validation")
    rows.append({"weight": "naive prior", **_scores(base), "best_epoch": None, "seconds": None})
    if on_row:
        on_row(rows[-1])
    for w in weights:
        t0 = time.perf_counter()
        model = build(kind, preset, {**(model_args or {}), "class_weight": float(w)}, train_args)
        model.fit(data, final=False)
        curves = evaluate(model, data, "validation")
        rows.append(
            {
                "weight": float(w),
                **_scores(curves),
                "best_epoch": model.meta.get("best_epoch"),
                "seconds": round(time.perf_counter() - t0, 1),
            }
        )
        if on_row:
            on_row(rows[-1])
    return rows


def _scores(curves) -> dict:
    out = {}
    for m in ("all", "active"):
        out[f"roc_auc_{m}"] = round(curves[m].roc_auc(), 4)
        out[f"pr_auc_{m}"] = round(curves[m].pr_auc(), 6)
    return out


def earlier_rows(path: Path) -> list[dict]:
    """The rows of an earlier sweep's JSON at ``path`` (none if there is no file), read and
    checked before any training: a file that is not that JSON is an error naming --out, so
    hours of training never end in a file that cannot be merged into."""
    if not path.is_file():
        return []
    try:
        doc = read_table1(path)
    except ModelError as err:
        raise ModelError(f"--out {err}") from None
    rows = doc.get("rows") if isinstance(doc, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ModelError(
            f"--out {shown(path)} is not a sweep-weights table (a JSON object with a list of "
            '"rows"); give a new file or one python -m quake sweep-weights wrote'
        )
    return rows


def run(args: argparse.Namespace) -> int:
    check_out_file(args.out, "--out")
    old = earlier_rows(args.out)  # before any data or training: a bad file fails now
    bad = [w for w in args.weights if not (math.isfinite(w) and w > 0)]
    if bad:
        raise ModelError(f"--weights must be finite numbers > 0, got {bad[0]}")
    check_device(args.device)
    targs = parse_model_args(args.train_args, "--train-args")
    if args.epochs is not None:
        targs["epochs"] = args.epochs
    if args.device is not None:
        targs["device"] = args.device
    from quake.models.neural import build

    build(args.model, args.preset, parse_model_args(args.args), targs)  # bad options: now
    data = load_data(args.catalog, args.mc)
    cols = [
        "weight",
        "roc_auc_all",
        "pr_auc_all",
        "roc_auc_active",
        "pr_auc_active",
        "best_epoch",
        "seconds",
    ]
    print(" ".join(f"{c:>14}" for c in cols), flush=True)
    rows = sweep(
        data,
        args.weights,
        args.model,
        args.preset,
        parse_model_args(args.args),
        targs,
        on_row=lambda r: print(" ".join(f"{r[c]!s:>14}" for c in cols), flush=True),
    )
    doc = {
        "table": "I",
        "period": "validation",
        "protocol": data.protocol.name,
        "note": "each weight: fit on train, early stopping on validation, scored on validation "
        "(never test); the paper's Table I reports CNN+LSTM (convlstm) on its own catalog",
        "rows": [{"model": args.model, "preset": args.preset, "mc": data.mc, **r} for r in rows],
    }
    mine = (args.model, args.preset, data.mc)  # keep the rows of other sweeps
    keep = [r for r in old if (r.get("model"), r.get("preset"), r.get("mc")) != mine]
    doc["rows"] = keep + doc["rows"]
    write_out(args.out, "--out", json_text(doc, indent=1))
    print(f"-> {args.out}")
    return 0
