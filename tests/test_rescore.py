"""`quake.scoring.rescore`: one scoring run, and every number of the folder describes it.

A folder whose model.json and curves.json were scored by an older forecast (Table II read
one ROC AUC, its interval another) gets its card and curves from the same run as its
scoring summary."""

from __future__ import annotations

import json
import shutil

import pytest

from quake.models.store import load_curves
from quake.models.store.summaries import load_summary
from quake.scoring.rescore import DataCache, rescore
from tests.helpers import ROOT


def test_rescore_writes_the_runs_scores_and_curves_beside_its_summary(tmp_path, reference_catalog):
    src = ROOT / "models" / "naive-m5"
    if not (src / "model.json").is_file():
        pytest.fail(f"the saved model {src} is missing: this test rescores a copy of it")
    folder = tmp_path / "naive-m5"
    shutil.copytree(src, folder)
    card = json.loads((folder / "model.json").read_text())
    saved, history = card["saved"], card.get("fit_seconds")
    card["scores"]["test"]["all"]["roc_auc"] = 0.5  # a stale card
    (folder / "model.json").write_text(json.dumps(card))
    curves = json.loads((folder / "curves.json").read_text())
    curves["test"]["all"] = curves["validation"]["all"]  # stale curves
    (folder / "curves.json").write_text(json.dumps(curves))

    summary, _ = rescore(folder, DataCache(reference_catalog), mainshocks=False)
    fine = summary.fine["all"]["roc_auc"]
    card = json.loads((folder / "model.json").read_text())
    assert card["scores"]["test"]["all"]["roc_auc"] == pytest.approx(fine, abs=1e-12)
    assert load_curves(folder)["test"]["all"].roc_auc() == pytest.approx(fine, abs=1e-12)
    assert load_summary(folder).fine["all"]["roc_auc"] == pytest.approx(fine, abs=1e-12)
    assert 0.55 < fine < 0.7  # naive-m5's test ROC AUC (0.6135), not the tampered 0.5
    # the rest of the card stays: the validation scores, when it was saved, its fit
    assert card["saved"] == saved and card.get("fit_seconds") == history
    assert (
        card["scores"]["validation"]
        == json.loads((src / "model.json").read_text())["scores"]["validation"]
    )
