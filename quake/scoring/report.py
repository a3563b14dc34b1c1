"""docs/RESULTS.md from the saved model folders: every number read from a file.

Sources: each ``models/*/model.json`` (``scores``, ``fit_seconds``, ``eval_seconds``,
``params``/``selection``, protocol, Mc), its scoring summary if stored (intervals, CSEP
scores: `quake.scoring.report_csep`), the folder sizes, ``docs/table1.json`` if the
class-weight sweep wrote it, and the paper's Table II parsed from ``paper.md`` (JMA
catalog; shown for orientation only).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from quake import settings
from quake.atomic import atomic_open
from quake.errors import ModelError
from quake.models.registry import PAPER_METHOD
from quake.models.store import model_folders, read_model
from quake.models.store.summaries import has_summary, load_summary
from quake.scoring.report_csep import sections
from quake.scoring.report_inputs import MAX_PAPER_BYTES, read_table1, read_text
from quake.scoring.seeds import format_mean_sd, mean_sd
from quake.scoring.sweeps import by_first, seed_members, seed_sweeps

ROW_ORDER = ("naive", "ri", "xgb-rtl", "xgb-indicator", "etas", *PAPER_METHOD)
"""Table II rows in the paper's order: baselines, boosting, then the networks."""


def _kind_rank(kind: Any) -> int:
    return ROW_ORDER.index(kind) if kind in ROW_ORDER else len(ROW_ORDER)


def collect(models_dir: str | Path) -> list[dict[str, Any]]:
    """One record per saved model folder that has scores, sorted by (kind, row name, Mc).

    The folders are the model store's (`quake.models.store.model_folders`: dot-folders of
    running jobs skipped); each model.json passes the loader's checks first
    (`quake.models.store.read_model`); a bad folder stops the report with a `ModelError`
    naming the file and the field (a report that silently left a model out would mislead).
    """
    out = []
    for folder in model_folders(models_dir):
        doc = read_model(folder).doc
        if not doc.get("scores"):
            continue
        doc["name"] = folder.name
        doc["row"] = re.sub(r"-m\d+(\.\d+)?$", "", folder.name)
        doc["size_bytes"] = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
        doc["summary"] = load_summary(folder) if has_summary(folder) else None
        out.append(doc)
    return sorted(out, key=lambda d: (_kind_rank(d.get("kind")), d["row"], -float(d.get("mc", 0))))


def paper_table2(path: str | Path | None = None) -> dict[str, dict[str, float]]:
    """The paper's Table II: ``{method: {"roc_3.5", "pr_3.5", "roc_5", "pr_5"}}`` ({} if no
    candidate file exists or it has no Table II). A ``path`` given must be a readable UTF-8
    text file: a `ModelError` naming it otherwise."""
    paths = [Path(path)] if path else settings.paper_candidates()
    found = next((p for p in paths if path or p.is_file()), None)
    if found is None:
        return {}
    text = read_text(found, "paper text", MAX_PAPER_BYTES)
    end = text.find("TABLE II")
    start = text.rfind("Method", 0, end)
    if start < 0 or end < 0:
        return {}
    table = {}
    for line in text[start:end].splitlines()[1:]:
        cells = [c.strip() for c in line.split("\t") if c.strip()]
        if len(cells) == 5:
            try:
                nums = [float(c) for c in cells[1:]]
            except ValueError:
                continue
            table[cells[0]] = dict(zip(("roc_3.5", "pr_3.5", "roc_5", "pr_5"), nums, strict=True))
    return table


def _f(x: Any, digits: int) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.{digits}f}"


def _score(doc: dict, mask: str) -> dict:
    return doc.get("scores", {}).get("test", {}).get(mask, {})


def _sweeps(models: list[dict]) -> dict[str, list[str]]:
    return seed_sweeps((d["name"], d.get("kind"), d.get("mc"), d.get("preset")) for d in models)


def _mean_sd_cell(docs: list[dict], mask: str, key: str, digits: int) -> str:
    """``mean ± sd`` of a score over a sweep's members (``–`` without values)."""
    mean, sd, _ = mean_sd([_score(d, mask).get(key) for d in docs])
    return format_mean_sd(mean, sd, digits)


def _table2(
    models: list[dict], mcs: list[float], paper: dict, sweeps: dict[str, list[str]]
) -> list[str]:
    sweeps = by_first(sweeps)
    by_name = {d["name"]: d for d in models}
    members = seed_members(sweeps)
    models = [d for d in models if d["name"] not in members]
    head = "| model |"
    rule = "|---|"
    for mc in mcs:
        for mask in ("all", "active"):
            head += f" Mc {mc:g} {mask} ROC | PR |"
            rule += "---:|---:|"
    if paper:
        head += " paper Mc 5 ROC (JMA) | PR (JMA) |"
        rule += "---:|---:|"
    lines = [head, rule]
    for row in dict.fromkeys(d["row"] for d in models):
        docs = {float(d["mc"]): d for d in models if d["row"] == row}
        kind = next(iter(docs.values()))["kind"]
        line = f"| {row} |" if row == kind else f"| {row} ({kind}) |"
        for mc in mcs:
            for mask in ("all", "active"):
                sweep = sweeps.get(docs[mc]["name"]) if mc in docs else None
                if sweep:
                    runs = [by_name[n] for n in sweep]
                    line += (
                        f" {_mean_sd_cell(runs, mask, 'roc_auc', 3)} |"
                        f" {_mean_sd_cell(runs, mask, 'pr_auc', 5)} |"
                    )
                    continue
                s = _score(docs[mc], mask) if mc in docs else {}
                line += f" {_f(s.get('roc_auc'), 3)} | {_f(s.get('pr_auc'), 5)} |"
        if paper:
            p = paper.get(PAPER_METHOD.get(kind, ""), {})
            line += f" {_f(p.get('roc_5'), 3)} | {_f(p.get('pr_5'), 5)} |"
        lines.append(line)
    return lines


def _seed_section(models: list[dict], sweeps: dict[str, list[str]]) -> list[str]:
    """Every seed sweep: each member's scores and their mean ± sample sd."""
    if not sweeps:
        return []
    by_name = {d["name"]: d for d in models}
    lines = [
        "## Seed spread of the networks",
        "",
        "The same training command with another `--seed` (`NAME-s1`, `NAME-s2`, ... beside "
        "`NAME`, seed 0; or `NAME-s0`, ... from `train --seeds N`): Table II shows these rows "
        "as mean ± sample sd over the seeds. The other sections show the sweep's first model "
        "only.",
        "",
        "| sweep | Mc | seeds | all: ROC AUC | PR AUC | active: ROC AUC | PR AUC | "
        "each seed, all: ROC / PR |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for base, names in sweeps.items():
        runs = [by_name[n] for n in names]
        each = "; ".join(
            f"{_f(_score(d, 'all').get('roc_auc'), 4)} / {_f(_score(d, 'all').get('pr_auc'), 5)}"
            for d in runs
        )
        lines.append(
            f"| {base} | {float(runs[0]['mc']):g} | {len(runs)} | "
            f"{_mean_sd_cell(runs, 'all', 'roc_auc', 4)} | "
            f"{_mean_sd_cell(runs, 'all', 'pr_auc', 5)} | "
            f"{_mean_sd_cell(runs, 'active', 'roc_auc', 4)} | "
            f"{_mean_sd_cell(runs, 'active', 'pr_auc', 5)} | {each} |"
        )
    return lines


def _table3(models: list[dict], mc: float) -> list[str]:
    lines = [
        "| model | threshold | TP | FN | FP | alarm fraction |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for d in (d for d in models if float(d["mc"]) == mc):
        s = _score(d, "all")
        rows = list(s.get("thresholds", []))
        m = s.get("matched_tp")
        if m and m.get("tp") is not None:
            rows.append({**m, "label": f"{_g(m['threshold'])} (naive-TP match)"})
        for r in rows:
            label = r.get("label", _g(r["threshold"]))
            frac = r.get("alarm_fraction")
            lines.append(
                f"| {d['name']} | {label} | {r['tp']:,} | {r['fn']:,} | {r['fp']:,} | "
                f"{_f(frac, 5)} |"
            )
    return lines


def _g(x: float | None) -> str:
    return "–" if x is None else f"{x:.3g}"


def _cell(key: str, v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        if "pr_auc" in key:
            return _f(v, 5)
        if "roc_auc" in key:
            return _f(v, 3)
        return f"{v:g}"
    return str(v)


def _table1(path: Path) -> list[str]:
    doc = read_table1(path)
    rows = doc.get("rows", doc) if isinstance(doc, dict) else doc
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        return [f"(`{path}` is not a list of records; not shown)"]
    keys = list(dict.fromkeys(k for r in rows for k in r))
    lines = []
    if isinstance(doc, dict):
        what = ", ".join(f"{k} {doc[k]}" for k in ("protocol", "period") if k in doc)
        lines += [f"From `{path.name}` ({what}). {doc.get('note', '')}".strip(), ""]
    lines += ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for r in rows:
        lines.append("| " + " | ".join(_cell(k, r.get(k)) for k in keys) + " |")
    return lines


def _timings(models: list[dict]) -> list[str]:
    lines = [
        "| model | Mc | fit s | eval test s | eval validation s | folder size | fitted |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for d in models:
        ev = d.get("eval_seconds") or {}
        fitted = _fitted(d)
        lines.append(
            f"| {d['name']} | {float(d['mc']):g} | {_f(d.get('fit_seconds'), 1)} | "
            f"{_f(ev.get('test'), 1)} | {_f(ev.get('validation'), 1)} | "
            f"{d['size_bytes'] / 1e6:.2f} MB | {fitted or '–'} |"
        )
    return lines


def _fitted(d: dict) -> str:
    """What the fit chose: ri's (tau, r, beta), boosting's number of trees, a network's
    best epoch (preset, device, why training stopped)."""
    p = d.get("params") or {}
    if "mu" in p:  # ETAS (checked by the model store)
        se = d.get("standard_errors") or {}

        def v(k: str, unit: str = "") -> str:
            err = se.get(k)
            return f"{k} {p[k]:.4g}" + (f" ± {err:.2g}" if isinstance(err, float) else "") + unit

        return ", ".join(
            [v("mu", "/d"), v("A"), v("alpha"), v("c", " d"), v("p"), v("D", " km²"), v("q")]
            + [v("gamma"), f"b {p['b']:.3g}", f"m0 {p['m0']:g}", v("branching_ratio")]
        )
    if p:
        return f"tau {p['tau_days']:g} d, r {p['radius']} cells, beta {p['beta']:g}"
    sel = d.get("selection") or {}
    if "n_trees" in sel:
        return f"{sel['n_trees']} trees (validation logloss {sel.get('validation_logloss')})"
    if d.get("train_history"):
        targs = d.get("train_args") or {}
        stop = f", stopped by {d['stopped_by']}" if d.get("stopped_by") else ""
        return (
            f"{d.get('preset', '?')} preset on {targs.get('device', 'cpu')}: best epoch "
            f"{d.get('best_epoch')} of {len(d['train_history'])}{stop}"
        )
    return ""


def _paper_block(paper: dict) -> list[str]:
    lines = [
        "The paper's Table II at Mc = 5 (**JMA catalog**, 1990–2016, 247,204 events; a "
        "different catalog, for orientation only, not comparable digit by digit):",
        "",
        "| method (paper) | ROC AUC | PR AUC |",
        "|---|---:|---:|",
    ]
    for method, v in paper.items():
        lines.append(f"| {method} | {_f(v['roc_5'], 3)} | {_f(v['pr_5'], 5)} |")
    return lines


def render(
    models: list[dict],
    paper: dict | None = None,
    table1: Path | None = None,
) -> str:
    """The RESULTS.md text."""
    if not models:
        raise ModelError("no saved model folder with scores; run `python -m quake fit` first")
    protocols = {d["protocol"]["name"]: d["protocol"] for d in models}
    proto = next(iter(protocols.values()))
    test = next(p for p in proto["periods"] if p["name"] == "test")
    sweeps = _sweeps(models)
    mcs = sorted({float(d["mc"]) for d in models}, reverse=True)
    out = [
        "# Results",
        "",
        "Generated by `python -m quake report` from the saved model folders; do not edit by hand.",
        "",
        f"Protocol **{', '.join(protocols)}**: test forecast days {test['start']} … {test['end']}"
        f" (every day, every cell), target window T + {proto['lead_days']} … "
        f"T + {proto['horizon_days']} days. Masks: `all` = every grid cell, `active` = cells "
        "with an event before the test period. Scores are on the test period.",
        "",
        "## Table II: ROC AUC and PR AUC",
        "",
        *_table2(models, mcs, paper or {}, sweeps),
        "",
    ]
    if sweeps:
        out += [
            "A score written `mean ± sd` is the mean and sample standard deviation over the "
            "seeds of that network (the section 'Seed spread of the networks').",
            "",
        ]
    if paper:
        out += [*_paper_block(paper), ""]
    if sweeps:
        out += [*_seed_section(models, sweeps), ""]
    members = seed_members(sweeps)
    timed = models
    models = [d for d in models if d["name"] not in members]
    summaries = {d["name"]: d["summary"] for d in models if d.get("summary") is not None}
    kinds = {d["name"]: d["kind"] for d in models}
    missing = [d["name"] for d in models if d.get("summary") is None]
    out += sections(summaries, kinds, missing)
    for mc in mcs:
        out += [
            f"## Table III: confusion counts, Mc {mc:g} (test, all cells)",
            "",
            "Alarm = p ≥ threshold. The last row of each model is the threshold where it "
            "catches as many targets (TP) as the naive baseline at its best-F1 threshold.",
            "",
            *_table3(models, mc),
            "",
        ]
    if table1 is not None and table1.is_file():
        out += ["## Table I: class-weight sweep", "", *_table1(table1), ""]
    out += ["## Timings, sizes and fitted parameters", "", *_timings(timed), ""]
    return "\n".join(out)


def write_report(
    models_dir: str | Path | None = None,
    out: str | Path = settings.DOCS_DIR / "RESULTS.md",
    table1: str | Path = settings.DOCS_DIR / "table1.json",
    paper: str | Path | None = None,
) -> Path:
    """Regenerate the report; returns its path."""
    models = models_dir if models_dir is not None else settings.models_dir()
    text = render(collect(models), paper_table2(paper), Path(table1))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(out, "w", encoding="utf-8") as fh:
        fh.write(text)
    return out
