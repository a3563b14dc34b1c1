"""``python -m quake train --model convlstm-resid --mc 5 --preset quick --out NAME``.

Trains a neural forecaster (`quake.scoring.train.train`): weights on the train period with early
stopping on validation, the prior of train + validation for the test-period model; then
scores test and validation (both masks) and saves the model folder.

``--seeds N`` trains one model per seed (seed, seed + 1, ...) into ``NAME-s0`` ...
``NAME-s<N-1>``; with ``--ensemble`` their mean is saved, scored, as ``NAME``
(`quake.models.ensemble`). Under ``torchrun`` (``WORLD_SIZE`` > 1) one model is trained by
all ranks with DistributedDataParallel, rank 0 claiming, scoring and saving the folder
(`quake.models.distributed`); with ``--seeds`` the seeds are dealt out to the ranks
instead, each training its own alone, and rank 0 saves the ensemble once all are done.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from quake import settings
from quake.commands._common import (
    TqdmProgress,
    add_data_arguments,
    add_out_arguments,
    check_device,
    fmt_mag,
    load_data,
    parse_model_args,
    print_scores,
)
from quake.errors import ModelError
from quake.models.presets import PRESETS
from quake.models.registry import NEURAL_KINDS
from quake.service.folders import FolderClaim, claim_out

NAME = "train"
HELP = (
    "train a neural forecaster (cnn, convlstm, *-resid, *-etas) with a preset, score it on "
    "test and validation and save the model folder"
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
    p.add_argument(
        "--seeds",
        type=int,
        default=None,
        help="train N models, seeds seed..seed+N-1, into NAME-s0 ... NAME-s<N-1>",
    )
    p.add_argument(
        "--ensemble",
        action="store_true",
        help="with --seeds: also save NAME, the ensemble (mean probability) of the seeds",
    )


def run(args: argparse.Namespace) -> int:
    check_options(args)  # a bad option fails in seconds, before the catalog is read
    from quake.models import distributed  # torch only when the command runs

    ranks = distributed.start(args.device or "cpu")
    try:
        if args.seeds is not None:
            return _run_seeds(args, ranks)
        held = None
        try:
            if ranks.main:
                held = claim_out(args.out, force=args.force)  # checked before any work
            if ranks.world > 1:  # the other ranks stop too when rank 0 cannot claim
                dev = torch_device(args.device, ranks)
                if not distributed.broadcast([held is not None], ranks, dev)[0]:
                    raise ModelError(f"rank 0 could not claim {args.out}; nothing trained")
            return _run(args, held, ranks)
        finally:
            if held is not None and held.open:  # failed: only the temporary folder goes
                held.abort()
    finally:
        distributed.finish()


def check_options(args: argparse.Namespace) -> None:
    """Every option checked before a process group is joined or the catalog read: the
    counts, the device, and the model and training options as `_train` will build them
    (`quake.models.neural.build`: `quake.models.training.TrainConfig.from_dict`)."""
    if args.seeds is not None and not 1 <= args.seeds <= 64:
        raise ModelError(f"--seeds must be between 1 and 64, got {args.seeds}")
    if args.ensemble and (args.seeds or 0) < 2:
        raise ModelError("--ensemble needs --seeds 2 or more")
    if args.seeds is not None and args.resume is not None:
        raise ModelError("--resume continues one model; use it without --seeds")
    if args.threads is not None and args.threads < 1:
        raise ModelError(f"--threads must be a positive number of CPU threads, got {args.threads}")
    if args.epochs is not None and args.epochs < 1:
        raise ModelError(f"--epochs must be at least 1, got {args.epochs}")
    if args.class_weight is not None and not (
        math.isfinite(args.class_weight) and args.class_weight > 0
    ):
        raise ModelError(f"--class-weight must be a finite number > 0, got {args.class_weight}")
    check_device(args.device)
    from quake.models.neural import build

    margs = parse_model_args(args.args)
    if args.class_weight is not None:
        margs["class_weight"] = float(args.class_weight)
    targs = _targs(args)
    if args.epochs is not None:
        targs["epochs"] = args.epochs
    if args.device is not None:
        targs["device"] = args.device
    build(args.model, args.preset, margs, targs)  # a bad value is a ModelError naming it


def torch_device(device: str | None, ranks):
    import torch

    from quake.models.distributed import device_for

    return torch.device(device_for(device or "cpu", ranks))


def _targs(args: argparse.Namespace) -> dict:
    targs = parse_model_args(args.train_args, "--train-args")
    for key in ("threads", "seed"):
        if getattr(args, key) is not None:
            targs[key] = getattr(args, key)
    if args.max_minutes is not None:
        if not args.max_minutes > 0:
            raise ModelError(f"--max-minutes must be > 0, got {args.max_minutes:g}")
        targs["max_seconds"] = 60.0 * args.max_minutes
    return targs


def _member_out(out: str, i: int) -> str:
    """``NAME-s<i>`` beside ``out`` (a bare name or a path)."""
    p = Path(out)
    return f"{out}-s{i}" if p.name == out else str(p.with_name(f"{p.name}-s{i}"))


def _run_seeds(args: argparse.Namespace, ranks) -> int:
    from quake.models import distributed

    data = load_data(args.catalog, args.mc)
    targs = _targs(args)
    seed0 = int(targs.get("seed", PRESETS[args.preset]["train"].get("seed", 0)))
    mine = [i for i in range(args.seeds) if i % ranks.world == ranks.rank]
    claims = [claim_out(_member_out(args.out, i), force=args.force) for i in mine]
    try:
        for i, held in zip(mine, claims, strict=True):
            progress = TqdmProgress(lines=("validation",))
            checkpoint = settings.checkpoint_dir() / held.name
            if args.checkpoint is not None:
                checkpoint = args.checkpoint / held.name
            one = {**targs, "seed": seed0 + i}
            model = _train(args, data, held.tmp, checkpoint, progress, one, distributed.Ranks())
            progress.close()
            if model.meta.get("cancelled"):
                print(f"seed {i}: training stopped early; checkpoint in {checkpoint}")
                return 1
            _report(model, args.preset, data, held.commit())
    finally:
        for held in claims:
            if held.open:
                held.abort()
    distributed.barrier()  # every seed saved before the ensemble reads them
    if args.ensemble and ranks.main:
        _save_ensemble(args, data)
    return 0


def _save_ensemble(args: argparse.Namespace, data) -> None:
    from quake.scoring.train import save_ensemble

    held = claim_out(args.out, force=args.force)
    try:
        root = held.tmp.parent
        members = [root / Path(_member_out(args.out, i)).name for i in range(args.seeds)]
        progress = TqdmProgress()
        model = save_ensemble(members, data, held.tmp, on_progress=progress)
        progress.close()
        folder = held.commit()
    finally:
        if held.open:
            held.abort()
    print(f"ensemble of {args.seeds} seeds -> {folder}")
    print_scores(model.meta.get("scores", {}), data.mc, folder)


def _run(args: argparse.Namespace, held: FolderClaim | None, ranks) -> int:
    data = load_data(args.catalog, args.mc)
    targs = _targs(args)
    progress = TqdmProgress(lines=("validation",)) if ranks.main else None
    name = held.name if held is not None else Path(args.out).name
    checkpoint = args.checkpoint or settings.checkpoint_dir() / name
    out = held.tmp if held is not None else None  # rank 0 alone scores and saves
    model = _train(args, data, out, checkpoint, progress, targs)
    if progress is not None:
        progress.close()
    if not ranks.main:
        return 0
    if model.meta.get("cancelled"):
        print(f"training stopped early; checkpoint in {checkpoint} (resume with --resume)")
        return 1
    folder = held.commit()
    _report(model, args.preset, data, folder)
    return 0


def _train(args, data, out: Path | None, checkpoint: Path, on_progress, targs: dict, ranks=None):
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
        ranks=ranks,
    )


def _report(model, preset: str, data, folder: Path) -> None:
    print(f"{model.kind} ({preset}) Mc {fmt_mag(data.mc)} on {data.protocol.name} -> {folder}")
    meta = model.meta
    print(
        f"trained {meta.get('train_seconds')} s, best epoch {meta.get('best_epoch')} of "
        f"{len(meta.get('train_history', []))} (stopped by {meta.get('stopped_by')}); "
        f"eval {meta.get('eval_seconds')} s"
    )
    print_scores(model.meta.get("scores", {}), data.mc, folder)
