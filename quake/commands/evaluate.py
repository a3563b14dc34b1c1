"""``python -m quake evaluate --model NAME_OR_DIR [--targets all|mainshocks] [--decluster gk|zbz]``:
score a model on the protocol's test period.

The JSON has ``roc_auc_ci`` and ``pr_auc_ci``: 95 % block-bootstrap intervals (blocks of 50
forecast days drawn in runs of 3, 1,000 seeded resamples, `quake.metrics.bootstrap`) from
the same run,
centred on the fine-bin scores. A score that is undefined (no target in the period) is
``null``, never NaN (the JSON is strict), and a note on stderr says why.

``--targets mainshocks`` scores against positives made by mainshocks only (the catalog
declustered by ``--decluster``, `quake.data.forecast_data.ForecastData.build`); the naive
baseline of ``matched_tp`` and the weights follow those targets, the active mask does not.
"""

from __future__ import annotations

import argparse
import sys
import time

from quake.commands._common import (
    TqdmProgress,
    add_data_arguments,
    fit_model,
    fmt_mag,
    is_defined,
    load_data,
    parse_model_args,
    resolve_model,
    undefined_reason,
)
from quake.commands._paths import check_out_file, json_text, out_file, write_out
from quake.data.decluster import METHODS
from quake.data.targets import TARGET_KINDS
from quake.metrics.bootstrap import intervals
from quake.models import create, load_model
from quake.scoring.evaluate import check_compatible, evaluate, score_model, scorer_for
from quake.scoring.scorepass import BlockHistograms

NAME = "evaluate"
HELP = (
    "score a model kind (fitted fresh) or a saved model folder: ROC/PR AUC, confusion counts, "
    "Molchan skill, probability gain (JSON)"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="a model kind (naive, ri, ...) or a folder")
    add_data_arguments(p, own_mc=True)
    p.add_argument("--mask", choices=("all", "active"), default="all")
    p.add_argument("--period", choices=("test", "validation"), default="test")
    p.add_argument(
        "--targets",
        choices=TARGET_KINDS,
        default="all",
        help="positives from every event >= Mc (all) or from mainshocks >= Mc only",
    )
    p.add_argument(
        "--decluster",
        choices=METHODS,
        default="gk",
        help="with --targets mainshocks: Gardner-Knopoff (gk) or Zaliapin-Ben-Zion (zbz)",
    )
    p.add_argument("--args", default=None, help="JSON model_args for a fresh model")
    p.add_argument("--json", type=out_file, default=None, help="also write the JSON to this file")


def result_json(model, data, period: str, mask: str, summary: dict, extra: dict) -> dict:
    """The command's JSON: one (model, protocol, Mc, period, mask) score."""
    start, stop = data.days(period)
    rows = [{k: r[k] for k in ("threshold", "tp", "fn", "fp", "tn")} for r in summary["thresholds"]]
    matched = summary.get("matched_tp") or {}
    if matched.get("tp") is not None:
        rows.append({k: matched[k] for k in ("threshold", "tp", "fn", "fp", "tn")})
    return {
        "model": model.meta.get("name") or model.kind,
        "kind": model.kind,
        "protocol": data.protocol.name,
        "mc": data.mc,
        "mask": mask,
        "period": period,
        "targets": "all" if data.targets.kind == "all" else "mainshocks",
        "decluster": None if data.targets.kind == "all" else data.targets.kind.split("-", 1)[1],
        "days": [str(data.protocol.day_to_date(start)), str(data.protocol.day_to_date(stop - 1))],
        "roc_auc": summary["roc_auc"],
        "pr_auc": summary["pr_auc"],
        "n_pairs": summary["n_pairs"],
        "n_positive": summary["n_positive"],
        "thresholds": rows,
        "matched_tp": matched,
        "molchan_area_skill": summary["molchan_area_skill"],
        "probability_gain": summary["probability_gain"],
        "molchan_area_skill_weighted": summary["molchan_area_skill_weighted"],
        "probability_gain_weighted": summary["probability_gain_weighted"],
        "fit_final": model.meta.get("final"),
        **extra,
    }


def run(args: argparse.Namespace) -> int:
    if args.json:
        check_out_file(args.json, "--json")
    kind, folder = resolve_model(args.model)
    # The model first: a bad folder or bad --args fails in a second, before the catalog.
    model = (
        load_model(folder) if folder is not None else create(kind, **parse_model_args(args.args))
    )
    mc = args.mc if args.mc is not None else model.mc if folder is not None else 5.0
    data = load_data(args.catalog, float(mc), args.targets, args.decluster)
    progress = TqdmProgress()
    extra = {}
    if folder is not None:
        check_compatible(model, data)
        model.meta["name"] = folder.name
    else:
        fit_model(model, data, final=args.period == "test", progress=progress)
        extra["fit_seconds"] = model.meta["fit_seconds"]
    scorer, extra["scored_by"] = scorer_for(model, data, args.period)
    t0 = time.perf_counter()
    blocks = BlockHistograms(data, args.period, (args.mask,))
    curves = evaluate(
        scorer, data, args.period, (args.mask,), on_progress=progress, observers=[blocks]
    )
    extra["eval_seconds"] = round(time.perf_counter() - t0, 2)
    progress.close()
    summary = score_model(curves, data, args.period)[args.mask]
    fine = {k: summary[k] for k in ("roc_auc", "pr_auc")}  # centres the coarse-bin intervals
    boot = intervals(blocks.hist[args.mask], point=fine)
    extra["roc_auc_ci"] = boot["roc_auc_ci"]
    extra["pr_auc_ci"] = boot["pr_auc_ci"]
    extra["bootstrap"] = {k: boot[k] for k in ("n_blocks", "n_resamples", "seed", "level")} | {
        "block_days": blocks.block_days,
        "bins": blocks.design.n_bins,
    }
    if "note" in boot:  # a period shorter than two blocks: the intervals are null
        extra["bootstrap"]["note"] = boot["note"]
        print(f"note: {boot['note']}", file=sys.stderr)
    out = result_json(model, data, args.period, args.mask, summary, extra)
    text = json_text(out, indent=1)  # an undefined score is null, never a bare NaN
    if args.json:
        write_out(args.json, "--json", text + "\n")
    print(text)
    if not (is_defined(summary["roc_auc"]) and is_defined(summary["pr_auc"])):
        print(
            f"note: ROC/PR AUC are undefined (null) at Mc {fmt_mag(data.mc)}, mask {args.mask}: "
            f"{undefined_reason(args.period, summary)}",
            file=sys.stderr,
        )
    return 0
