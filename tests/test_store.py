"""The model store: one reader and writer of a model folder (model.json, curves.json).

A save -> card -> load round trip, model.json written atomically, the folders of a root,
and the card of every committed model agreeing with what the report reads.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from quake.data.forecast_data import ForecastData
from quake.models import create, load_model
from quake.models.store import (
    CURVES_FILE,
    FORMAT_VERSION,
    MODEL_FILE,
    load_curves,
    model_folders,
    read_card,
    read_cards,
    write_model_json,
)
from quake.scoring.evaluate import fit_score_save
from quake.scoring.report import collect

MODELS = Path(__file__).resolve().parent.parent / "models"


@pytest.fixture
def tiny_data(aftershock_catalog, tiny_protocol) -> ForecastData:
    return ForecastData.build(aftershock_catalog, 4.0, tiny_protocol)


def test_save_card_load_round_trip(tiny_data, tmp_path):
    model = create("naive", alpha=0.5).fit(tiny_data, final=True)
    model.meta.update(
        preset="quick",
        train_seconds=3,
        train_args={"device": "cuda", "epochs": 4},
        best_epoch=2,
        stopped_by="patience",
    )
    folder = model.save(tmp_path / "naive-m4")
    assert sorted(p.name for p in folder.iterdir()) == [MODEL_FILE, "prior.safetensors"]

    card = read_card(folder)
    assert card.error is None, card.error
    assert (card.name, card.folder, card.kind, card.label) == (
        "naive-m4",
        folder,
        "naive",
        model.label,
    )
    assert card.mc == 4.0 and card.protocol == tiny_data.protocol.name
    assert card.fingerprint == tiny_data.fingerprint and card.final is True
    assert card.model_args == model.config.to_dict() and card.model_args["alpha"] == 0.5
    assert card.scores == {} and not card.has_curves
    assert card.preset == "quick" and card.device == "cuda" and card.trained_on == "on a GPU"
    assert card.train_args == {"device": "cuda", "epochs": 4}
    assert card.fit_seconds == card.train_seconds == 3.0  # no fit_seconds: the training's
    assert card.best_epoch == 2 and card.stopped_by == "patience"
    assert card.format == FORMAT_VERSION and "numpy" in card.versions
    assert card.saved and card.saved.endswith("Z")

    loaded = load_model(folder)
    assert loaded.config == model.config and loaded.meta["preset"] == "quick"
    start, stop = tiny_data.days("test")
    np.testing.assert_array_equal(
        loaded.predict(tiny_data, start, stop), model.predict(tiny_data, start, stop)
    )
    # A loaded model saved again gives the same card (new save time aside).
    again = read_card(loaded.save(tmp_path / "again"))
    assert {**again.__dict__, "saved": None, "name": None, "folder": None} == {
        **card.__dict__,
        "saved": None,
        "name": None,
        "folder": None,
    }


def test_scores_and_curves_go_through_the_store(tiny_data, tmp_path):
    model = create("naive")
    scores = fit_score_save(model, tiny_data, tmp_path / "m", periods=("test",))
    card = read_card(tmp_path / "m")
    assert card.has_curves and card.scores == json.loads(json.dumps(scores))
    assert card.fit_seconds is not None and card.train_seconds is None
    curves = load_curves(tmp_path / "m")
    assert set(curves) == {"test"} and set(curves["test"]) == {"all", "active"}
    assert curves["test"]["all"].pr_auc() == pytest.approx(card.score("pr_auc"))
    assert load_curves(tmp_path) == {}  # a folder without curves.json


def test_model_json_is_written_atomically(tmp_path, monkeypatch):
    folder = tmp_path / "m"
    folder.mkdir()
    write_model_json(folder, {"kind": "naive", "x": np.float32(0.5), "a": np.arange(2)})
    first = (folder / MODEL_FILE).read_text()
    assert json.loads(first) == {"kind": "naive", "x": 0.5, "a": [0, 1]}

    renames = []
    real_replace = os.replace

    def replace(src, dst):  # the new text is complete in a temporary file before the rename
        renames.append((Path(src).name, Path(dst).name, Path(src).read_text()))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    write_model_json(folder, {"kind": "ri"})
    ((src, dst, text),) = renames
    assert src.startswith(f".{MODEL_FILE}.") and dst == MODEL_FILE
    assert json.loads(text) == {"kind": "ri"} == json.loads((folder / MODEL_FILE).read_text())

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        write_model_json(folder, {"kind": "cnn"})
    with pytest.raises(TypeError, match="not JSON serialisable"):
        write_model_json(folder, {"kind": object()})
    # Neither failure touched model.json or left a temporary file behind.
    assert json.loads((folder / MODEL_FILE).read_text()) == {"kind": "ri"}
    assert [p.name for p in folder.iterdir()] == [MODEL_FILE]


def test_model_folders_skip_dot_folders_and_folders_without_model_json(tiny_data, tmp_path):
    model = create("naive").fit(tiny_data, final=True)
    for name in ("b", "a", ".claim-c"):
        model.save(tmp_path / name)
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / MODEL_FILE).write_text("{not json")
    assert [p.name for p in model_folders(tmp_path)] == ["a", "b", "broken"]
    cards = read_cards(tmp_path)
    assert [c.error is None for c in cards] == [True, True, False]
    assert cards[2].error.startswith(f"cannot read broken/{MODEL_FILE}: not valid JSON")
    assert str(tmp_path) not in cards[2].error
    assert read_card(tmp_path / "nope").error  # never raises
    assert model_folders(tmp_path / "nope") == [] and read_cards(tmp_path / "nope") == []


def test_every_committed_card_matches_what_the_report_reads():
    records = collect(MODELS)
    assert {d["name"] for d in records} == {p.name for p in model_folders(MODELS)}
    for d in records:
        card = read_card(MODELS / d["name"])
        assert card.error is None, card.error
        assert (card.kind, card.label, card.mc) == (d["kind"], d.get("label"), d["mc"])
        assert (card.protocol, card.fingerprint) == (d["protocol"]["name"], d.get("fingerprint"))
        assert card.scores == d["scores"] and card.has_curves
        assert card.model_args == d["model_args"]
        fit = d.get("fit_seconds", d.get("train_seconds"))
        assert card.fit_seconds == fit and card.train_seconds == d.get("train_seconds")
        targs = d.get("train_args") or {}
        assert (card.preset, card.device, card.train_args) == (
            d.get("preset"),
            targs.get("device"),
            targs,
        )
        assert (card.best_epoch, card.stopped_by) == (d.get("best_epoch"), d.get("stopped_by"))
        assert (card.saved, card.versions, card.final) == (
            d.get("saved"),
            d.get("versions", {}),
            d.get("final"),
        )
        assert card.format == d.get("format", FORMAT_VERSION)
    assert (MODELS / records[0]["name"] / CURVES_FILE).is_file()


def test_an_atomic_write_never_replaces_a_device_pipe_or_folder(tmp_path):
    """A hostile path (``/dev/null`` for a server run as root) must not be renamed over: a
    FIFO stands in for the device here. A link is replaced itself, its target untouched."""
    import stat

    from quake.atomic import atomic_open

    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    for target in (fifo, folder):
        with pytest.raises(FileExistsError, match="not a regular file"), atomic_open(target) as fh:
            fh.write("x")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and folder.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.csv", "pipe.csv"]  # no temp
    target, link = tmp_path / "target.txt", tmp_path / "link.txt"
    target.write_text("keep")
    link.symlink_to(target)
    with atomic_open(link, "w") as fh:
        fh.write("new")
    assert not link.is_symlink() and link.read_text() == "new" and target.read_text() == "keep"
