"""``python -m quake fit --model KIND --out NAME``: fit for the test period, score, save."""

from __future__ import annotations

import argparse

from quake.commands._common import (
    TqdmProgress,
    add_data_arguments,
    add_out_arguments,
    fmt_mag,
    load_data,
    parse_model_args,
    print_scores,
)
from quake.models import create, kinds
from quake.models.ensemble import EnsembleModel
from quake.scoring.evaluate import fit_score_save
from quake.scoring.scorepass import summary_pass
from quake.service.folders import claim_out

NAME = "fit"
HELP = (
    "fit a model (final: train + validation), score it on test and validation (both masks) "
    "and save the folder with scores and curves"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, choices=kinds(), help="model kind")
    add_data_arguments(p)
    add_out_arguments(p)
    p.add_argument("--args", default=None, help="JSON model_args, e.g. '{\"neg_rate\": 0.005}'")


def run(args: argparse.Namespace) -> int:
    model = create(args.model, **parse_model_args(args.args))
    held = claim_out(args.out, force=args.force)  # checked and locked before any work
    if isinstance(model, EnsembleModel):
        model.home = held.final  # its members are read beside it (and it is not one of them)
    try:
        data = load_data(args.catalog, args.mc)
        progress = TqdmProgress()
        scores = fit_score_save(model, data, held.tmp, on_progress=progress, test_pass=summary_pass)
        progress.close()
        folder = held.commit()
    finally:
        if held.open:  # failed or interrupted: only the claim's temporary folder goes
            held.abort()
    print(f"{model.kind} Mc {fmt_mag(data.mc)} on {data.protocol.name} -> {folder}")
    print(f"fit {model.meta.get('fit_seconds')} s, eval {model.meta.get('eval_seconds')} s")
    print_scores(scores, data.mc, folder)  # an undefined AUC is said, not a crash: it is saved
    return 0
