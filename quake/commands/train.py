"""``python -m quake train --model convlstm-resid --mc 5 --preset quick --out NAME``.

Trains a neural forecaster (`quake.scoring.train.train`): weights on the train period with early
stopping on validation, the prior of train + validation for the test-period model; then
scores test and validation (both masks) and saves the model folder.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from quake import settings
from quake.commands._common import (
    TqdmProgress,
    add_data_arguments,
    add_out_arguments,
    load_data,
    parse_model_args,
)
from quake.errors import ModelError
from quake.models.presets import PRESETS
from quake.models.registry import NEURAL_KINDS
from quake.service.folders import FolderClaim, claim_out

NAME = "train"
HELP = (
    "train a neural forecaster (cnn, convlstm, *-resid) with a preset, score it on test and "
    "validation and save the model folder"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="convlstm-resid", choices=NEURAL_KINDS)
    add_data_arguments(p)
    p.add_argument(
        "--preset",
        default="quick",
        choices=list(PRESETS),
        help="quick: 40 km cells, minutes on a CPU; paper: full grid, for a GPU",
    )
    add_out_arguments(p)
    p.add_argument("--device", default=None, help="cpu (default) or cuda")
    p.add_argument("--epochs", type=int, default=None, help="most epochs (early stopping)")
    p.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="time budget of the training: plans the epochs that fit, best epoch kept",
    )
    p.add_argument("--class-weight", type=float, default=None, help="minority-class weight")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--resume", type=Path, default=None, help="checkpoint folder to continue")
    p.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="checkpoint folder (default $QUAKE_CHECKPOINT_DIR/<name>, artifacts/checkpoints/)",
    )
    p.add_argument("--args", default=None, help='JSON model_args overrides, e.g. {"pool": 2}')
    p.add_argument("--train-args", default=None, help='JSON training overrides, e.g. {"lr": 0.001}')
    p.add_argument("--no-score", action="store_true", help="save without scoring")


def run(args: argparse.Namespace) -> int:
    held = claim_out(args.out, force=args.force)  # checked and locked before any work
    try:
        return _run(args, held)
    finally:
        if held.open:  # failed or interrupted: only the claim's temporary folder goes
            held.abort()


def _run(args: argparse.Namespace, held: FolderClaim) -> int:
    data = load_data(args.catalog, args.mc)
    targs = parse_model_args(args.train_args)
    for key in ("threads", "seed"):
        if getattr(args, key) is not None:
            targs[key] = getattr(args, key)
    if args.max_minutes is not None:
        if not args.max_minutes > 0:
            raise ModelError(f"--max-minutes must be > 0, got {args.max_minutes:g}")
        targs["max_seconds"] = 60.0 * args.max_minutes
    progress = TqdmProgress(lines=("validation",))  # one line per epoch
    checkpoint = args.checkpoint or settings.checkpoint_dir() / held.name
    model = _train(args, data, held.tmp, checkpoint, progress, targs)
    progress.close()
    if model.meta.get("cancelled"):
        print(f"training stopped early; checkpoint in {checkpoint} (resume with --resume)")
        return 1
    folder = held.commit()
    _report(model, args.preset, data, folder)
    return 0


def _train(args, data, out: Path, checkpoint: Path, on_progress, targs: dict):
    from quake.scoring.train import train  # torch is imported only when a command needs it

    return train(
        args.model,
        data,
        preset=args.preset,
        out=out,
        class_weight=args.class_weight,
        epochs=args.epochs,
        device=args.device,
        resume=args.resume,
        checkpoint_dir=checkpoint,
        on_progress=on_progress,
        score=not args.no_score,
        model_args=parse_model_args(args.args),
        train_args=targs,
    )


def _report(model, preset: str, data, folder: Path) -> None:
    print(f"{model.kind} ({preset}) Mc {data.mc:g} on {data.protocol.name} -> {folder}")
    meta = model.meta
    print(
        f"trained {meta.get('train_seconds')} s, best epoch {meta.get('best_epoch')} of "
        f"{len(meta.get('train_history', []))} (stopped by {meta.get('stopped_by')}); "
        f"eval {meta.get('eval_seconds')} s"
    )
    for period, per_mask in model.meta.get("scores", {}).items():
        for mask, s in per_mask.items():
            print(f"  {period:<10} {mask:<6} ROC AUC {s['roc_auc']:.4f}  PR AUC {s['pr_auc']:.5f}")
