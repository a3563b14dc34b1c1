"""``python -m quake compare --model A --model B [--mc 5] [--json OUT]``: paired results of
two saved models from their stored scoring summaries (no forecasting).

Gain per target of A over B (Rhoades et al. 2011 T-test with interval and p, W-test p),
log-likelihood and Brier differences, N-test counts, and the paired block-bootstrap
interval of the ROC/PR AUC differences. A name that is no folder is tried as
``NAME-m<mc>`` (``naive`` with ``--mc 5`` is ``naive-m5``).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from quake.commands._common import MC_RANGE, fmt_mag, is_model_folder, magnitude
from quake.commands._paths import check_out_file, json_text, out_file, write_out
from quake.errors import ModelError
from quake.models.store.summaries import load_summary
from quake.scoring.compare import compare

NAME = "compare"
HELP = "paired comparison of two saved models (information gain T/W-tests, LL, Brier, AUC diffs)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", action="append", required=True, help="a saved model (twice: A, B)")
    p.add_argument(
        "--mc",
        type=magnitude,
        default=5.0,
        help=f"Mc of both models, in [{MC_RANGE[0]:g}, {MC_RANGE[1]:g}] (5.0)",
    )
    p.add_argument("--mask", choices=("all", "active"), default="all", help="for the AUCs")
    p.add_argument("--json", type=out_file, default=None, help="also write the JSON to this file")


def find_model(name: str, mc: float) -> Path:
    """The folder of a saved model named ``name`` (or ``name-m<mc>``); a `ModelError` else."""
    folder = is_model_folder(name)
    if folder is None and "/" not in name and math.isfinite(mc):
        folder = is_model_folder(f"{name}-m{mc:g}")
    if folder is None:
        also = f" (nor is {name[:80]}-m{mc:g})" if math.isfinite(mc) and "/" not in name else ""
        raise ModelError(
            f"{name[:80]!r} is not a saved model folder{also}; "
            "give a model name from the models folder or a path to a folder with a model.json"
        )
    return folder


def _p(p: float, n: int) -> str:
    """A bootstrap p-value; 0 means no resample changed the sign: below 2 / n."""
    return f"<{2 / n:.2g}" if p == 0 else f"{p:.3g}"


def render(a: str, b: str, res: dict) -> str:
    t, w, boot = res["t_test"], res["w_test"], res["bootstrap"]
    n = res["n_test"]
    return "\n".join(
        [
            f"{a} vs {b}: {res['n_targets']} targets in {res['n_windows']} windows",
            f"  gain per target (A over B)    {t['gain']:+.4f}  95% [{t['lower']:+.4f}, "
            f"{t['upper']:+.4f}]  T-test p {t['p_value']:.3g}  W-test p {w['p_value']:.3g}",
            f"  log-likelihood A - B          {res['log_likelihood_diff']:+.2f}",
            f"  Brier A - B                   {res['brier_diff']:+.3e}",
            f"  N-test windows rejected       A {n['a_windows_rejected']}, B "
            f"{n['b_windows_rejected']} of {res['n_windows']} (observed {n['observed']}, "
            f"expected A {n['a_expected']:.1f}, B {n['b_expected']:.1f})",
            f"  ROC AUC A - B ({res['mask']})         {boot['roc_auc_diff']:+.4f}  "
            + _interval(boot, "roc_auc", 4),
            f"  PR AUC A - B ({res['mask']})          {boot['pr_auc_diff']:+.5f}  "
            + _interval(boot, "pr_auc", 5),
        ]
    )


def _interval(boot: dict, key: str, digits: int) -> str:
    """``95% [lo, hi]  p P`` of a paired bootstrap difference, or why there is none."""
    lo, hi = boot[f"{key}_diff_ci"]
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "(no interval: the period is shorter than two blocks of forecast days)"
    p = _p(boot[f"{key}_p"], boot["n_resamples"])
    return f"95% [{lo:+.{digits}f}, {hi:+.{digits}f}]  p {p}"


def run(args: argparse.Namespace) -> int:
    if len(args.model) != 2:
        raise ModelError(f"give exactly two models (--model A --model B), got {len(args.model)}")
    if args.json:
        check_out_file(args.json, "--json")
    folders = [find_model(n, args.mc) for n in args.model]
    summaries = [load_summary(f) for f in folders]
    for f, s in zip(folders, summaries, strict=True):
        if not math.isclose(s.mc, args.mc):
            raise ModelError(
                f"{f.name} was scored at Mc {fmt_mag(s.mc)}, not --mc {fmt_mag(args.mc)}"
            )
    res = compare(summaries[0], summaries[1], args.mask)
    out = {"a": folders[0].name, "b": folders[1].name, "mc": args.mc, **res}
    if args.json:  # strict JSON: an undefined number is null
        write_out(args.json, "--json", json_text(out, indent=1) + "\n")
    print(render(folders[0].name, folders[1].name, res))
    return 0
