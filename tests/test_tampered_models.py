"""Hostile model folders: every tampered copy of a real saved model is refused with a
`ModelError` naming the file and the field, the model card is an error card (or a card
whose load fails cleanly), the CLI says ``error: ...`` and exits 2, and every dashboard
page keeps working.

Each case copies a small committed model from ``models/`` into ``tmp_path`` and breaks
one thing in it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from quake.errors import ModelError
from quake.models import load_model
from quake.models.registry import config_class, kinds, model_class
from quake.models.store import (
    MAX_JSON_BYTES,
    check_array,
    check_booster_doc,
    json_depth,
    load_curves,
    read_card,
    read_json,
)
from quake.service.workspace import list_models
from tests.helpers import model_box, run_cli, run_python

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
NAIVE, XGB, NET = "naive-m5", "xgb-rtl-m5", "cnn-resid-quick-m5"
DELETE = object()


# -- tampering helpers ----------------------------------------------------------------------
def copy_model(name: str, dest: Path) -> Path:
    return Path(shutil.copytree(MODELS / name, dest / name))


def json_edit(**changes: object) -> Callable[[Path], None]:
    """Set (or, with DELETE, remove) dotted keys of model.json; ``model_args__pool`` means
    ``model_args.pool``."""

    def tamper(folder: Path) -> None:
        path = folder / "model.json"
        doc = json.loads(path.read_text())
        for dotted, value in changes.items():
            *parents, last = dotted.split("__")
            d = doc
            for key in parents:
                d = d[key]
            if value is DELETE:
                del d[last]
            else:
                d[last] = value
        path.write_text(json.dumps(doc))

    return tamper


def summary_edit(change: Callable[[dict], object]) -> Callable[[Path], None]:
    """Apply ``change`` to model.json's ``scores.test.all`` summary (json.dumps writes
    ``Infinity`` and ``NaN`` as Python's json reads them)."""

    def tamper(folder: Path) -> None:
        path = folder / "model.json"
        doc = json.loads(path.read_text())
        change(doc["scores"]["test"]["all"])
        path.write_text(json.dumps(doc))

    return tamper


def row_edit(row: str, **changes: object) -> Callable[[Path], None]:
    """Set keys of one operating point of ``scores.test.all``: ``"thresholds.0"``,
    ``"best_f1"`` or ``"matched_tp"``."""

    def change(s: dict) -> None:
        key, _, index = row.partition(".")
        (s[key][int(index)] if index else s[key]).update(changes)

    return summary_edit(change)


def write_text(text: str) -> Callable[[Path], None]:
    return lambda folder: (folder / "model.json").write_text(text)


def array_edit(file: str, change: Callable[[dict[str, np.ndarray]], None]):
    """Rewrite a safetensors file after ``change(arrays)`` (arrays are writable copies)."""

    def tamper(folder: Path) -> None:
        path = folder / file
        arrays = {k: np.array(v) for k, v in load_file(str(path)).items()}
        change(arrays)
        save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(path))

    return tamper


def set_item(file: str, name: str, index, value) -> Callable[[Path], None]:
    """Set one element of an array (``name`` None: the first net weight)."""

    def change(a):
        a[name or first_net_key(a)][index] = value

    return array_edit(file, change)


def set_prior(value: float) -> Callable[[Path], None]:
    return set_item("prior.safetensors", "prior", (10, 10), value)


def replace_array(file: str, name: str | None, make) -> Callable[[Path], None]:
    """``arrays[name] = make(arrays[name])``; ``name`` None: the first net weight."""

    def change(a):
        key = name or first_net_key(a)
        a[key] = make(a[key])

    return array_edit(file, change)


def drop_array(file: str, name: str | None, rename: str | None = None):
    """Remove an array (``name`` None: the first net weight), or store it as ``rename``."""

    def change(a):
        arr = a.pop(name or first_net_key(a))
        if rename:
            a[rename] = arr

    return array_edit(file, change)


def add_array(file: str, name: str) -> Callable[[Path], None]:
    return array_edit(file, lambda a: a.update({name: np.zeros(1, np.float32)}))


def first_net_key(a: dict) -> str:
    return next(k for k in sorted(a) if k.startswith("net.") and k.endswith("weight"))


def cast_net(dtype) -> Callable[[Path], None]:
    return replace_array("weights.safetensors", None, lambda x: x.astype(dtype))


def remove(file: str) -> Callable[[Path], None]:
    return lambda folder: (folder / file).unlink()


def write_bytes(file: str, data: bytes) -> Callable[[Path], None]:
    return lambda folder: (folder / file).write_bytes(data)


def truncate(file: str) -> Callable[[Path], None]:
    def tamper(folder: Path) -> None:
        path = folder / file
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    return tamper


def flip_bytes(file: str, seed: int, n: int = 20) -> Callable[[Path], None]:
    """Overwrite ``n`` random bytes (with seed 2 the committed xgb-rtl-m5 booster makes
    xgboost 3.2 segfault when it parses it: here in a child process)."""

    def tamper(folder: Path) -> None:
        path = folder / file
        data = np.frombuffer(path.read_bytes(), np.uint8).copy()
        rng = np.random.default_rng(seed)
        data[rng.integers(0, len(data), n)] = rng.integers(0, 256, n)
        path.write_bytes(data.tobytes())

    return tamper


def other_booster(folder: Path) -> None:
    shutil.copy(MODELS / "xgb-indicator-m5" / "booster.ubj", folder / "booster.ubj")


def huge_file(folder: Path) -> None:
    path = folder / "model.json"
    doc = json.loads(path.read_text())
    doc["padding"] = "x" * (MAX_JSON_BYTES + 10)
    path.write_text(json.dumps(doc))


def nested(folder: Path) -> None:
    path = folder / "model.json"
    text = path.read_text().rstrip().rstrip("}")
    path.write_text(text + ', "deep": ' + "[" * 100_000 + "]" * 100_000 + "}")


def replace_text(old: str, new: str) -> Callable[[Path], None]:
    def tamper(folder: Path) -> None:
        path = folder / "model.json"
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new, 1))

    return tamper


huge_int = replace_text('"mc": 5.0', '"mc": 1' + "0" * 5000)


P, S, W = "prior.safetensors", "statics.safetensors", "weights.safetensors"
G = "model.json"
SA = "scores.test.all.roc_auc"
INF, NAN = float("inf"), float("nan")

# (id, source model, tamper, file named in the error, field named, model.json itself bad)
CASES = [
    ("model-json-is-a-list", NAIVE, write_text("[1, 2, 3]"), G, "JSON object", True),
    ("model-json-not-json", NAIVE, write_text("{'kind': 1"), G, "JSON", True),
    ("model-json-empty", NAIVE, write_text(""), G, "JSON", True),
    ("model-args-int", NAIVE, json_edit(model_args=3), G, "model_args", True),
    ("model-args-list", NAIVE, json_edit(model_args=[0.5]), G, "model_args", True),
    ("model-args-null", NAIVE, json_edit(model_args=None), G, "model_args", True),
    ("model-args-missing", NAIVE, json_edit(model_args=DELETE), G, "model_args", True),
    ("model-args-unknown", NAIVE, json_edit(model_args__evil=1), G, "model_args", True),
    ("alpha-string", NAIVE, json_edit(model_args__alpha="0.5"), G, "alpha", True),
    ("kind-list", NAIVE, json_edit(kind=["naive"]), G, "kind", True),
    ("kind-unknown", NAIVE, json_edit(kind="evil"), G, "kind", True),
    ("kind-null", NAIVE, json_edit(kind=None), G, "kind", True),
    ("deep-nesting", NAIVE, nested, G, "nested", True),
    ("huge-file", NAIVE, huge_file, G, "larger than", True),
    ("huge-integer", NAIVE, huge_int, G, "JSON", True),
    ("mc-infinite", NAIVE, replace_text('"mc": 5.0', '"mc": 1e400'), G, "mc", True),
    ("mc-too-large", NAIVE, json_edit(mc=1e300), G, "mc", True),
    ("mc-string", NAIVE, json_edit(mc="5"), G, "mc", True),
    ("protocol-no-epoch", NAIVE, json_edit(protocol__epoch=DELETE), G, "epoch", True),
    ("protocol-bad-date", NAIVE, json_edit(protocol__epoch="1990-13-45"), G, "epoch", True),
    ("protocol-list", NAIVE, json_edit(protocol=[1]), G, "protocol", True),
    ("grid-huge", NAIVE, json_edit(protocol__grid__nx=10**9), G, "grid.nx", True),
    ("grid-string", NAIVE, json_edit(protocol__grid__ny="250"), G, "grid.ny", True),
    ("no-test-period", NAIVE, json_edit(protocol__periods=[]), G, "periods", True),
    ("format-newer", NAIVE, json_edit(format=99), G, "format", True),
    ("scores-wrong-type", NAIVE, json_edit(scores={"test": [1]}), G, "scores.test", True),
    ("label-html", NAIVE, json_edit(label="<img src=x onerror=alert(1)>"), G, "label", True),
    ("device-list", NET, json_edit(train_args__device=["cuda"]), G, "device", True),
    (
        "stopped-by-html",
        NET,
        json_edit(stopped_by="<img src=x onerror=alert(1)>"),
        G,
        "stopped_by",
        True,
    ),
    ("fit-days-outside", XGB, json_edit(fit_days=[0, 10**8]), G, "fit_days", True),
    # scores: fractions in [0, 1], counts bounded and adding up, gains within 1 / tau
    ("roc-auc-infinite", NAIVE, summary_edit(lambda s: s.update(roc_auc=INF)), G, SA, True),
    ("roc-auc-1e308", NAIVE, summary_edit(lambda s: s.update(roc_auc=1e308)), G, SA, True),
    ("roc-auc-above-one", NAIVE, summary_edit(lambda s: s.update(roc_auc=1.5)), G, SA, True),
    (
        "pr-auc-minus-1e308",
        NAIVE,
        summary_edit(lambda s: s.update(pr_auc=-1e308)),
        G,
        "pr_auc",
        True,
    ),
    (
        "molchan-area-nan",
        NAIVE,
        summary_edit(lambda s: s.update(molchan_area=NAN)),
        G,
        "molchan_area",
        True,
    ),
    (
        "area-skill-weighted-above-one",
        NAIVE,
        summary_edit(lambda s: s.update(molchan_area_skill_weighted=1.01)),
        G,
        "scores.test.all.molchan_area_skill_weighted",
        True,
    ),
    ("n-pairs-1e18", NAIVE, summary_edit(lambda s: s.update(n_pairs=10**18)), G, "n_pairs", True),
    (
        "n-positive-above-n-pairs",
        NAIVE,
        summary_edit(lambda s: s.update(n_positive=s["n_pairs"] + 1)),
        G,
        "scores.test.all.n_positive",
        True,
    ),
    ("row-tp-1e18", NAIVE, row_edit("thresholds.0", tp=10**18), G, "thresholds[0].tp", True),
    ("row-tn-off-by-one", NAIVE, row_edit("thresholds.1", tn=1), G, "thresholds[1]", True),
    (
        "row-alarm-fraction-2",
        NAIVE,
        row_edit("thresholds.2", alarm_fraction=2.0),
        G,
        "alarm_fraction",
        True,
    ),
    ("best-f1-edge-infinite", NAIVE, row_edit("best_f1", edge=INF), G, "best_f1.edge", True),
    ("baseline-tp-1e18", NAIVE, row_edit("matched_tp", baseline_tp=10**18), G, "baseline_tp", True),
    (
        "baseline-threshold-nan",
        NAIVE,
        row_edit("matched_tp", baseline_threshold=NAN),
        G,
        "baseline_threshold",
        True,
    ),
    (
        "gain-infinite",
        NAIVE,
        summary_edit(lambda s: s["probability_gain"].update({"0.01": INF})),
        G,
        "probability_gain.0.01",
        True,
    ),
    (
        "gain-negative",
        NAIVE,
        summary_edit(lambda s: s["probability_gain_weighted"].update({"0.1": -1.0})),
        G,
        "probability_gain_weighted.0.1",
        True,
    ),
    (
        "gain-above-one-over-tau",
        NAIVE,
        summary_edit(lambda s: s["probability_gain"].update({"0.1": 10.5})),
        G,
        "probability_gain.0.1",
        True,
    ),
    (
        "gain-key-not-a-fraction",
        NAIVE,
        summary_edit(lambda s: s["probability_gain"].update({"x": 1.0})),
        G,
        "probability_gain.x",
        True,
    ),
    (
        "logloss-infinite",
        XGB,
        json_edit(selection__validation_logloss=INF),
        G,
        "selection.validation_logloss",
        True,
    ),
    (
        "selection-rows-1e18",
        XGB,
        json_edit(selection__train_rows=10**18),
        G,
        "selection.train_rows",
        True,
    ),
    # arrays
    ("prior-file-missing", NAIVE, remove(P), P, "missing", False),
    ("prior-key-missing", NAIVE, drop_array(P, "prior", rename="other"), P, "'prior'", False),
    ("prior-extra-array", NAIVE, add_array(P, "extra"), P, "unexpected", False),
    ("prior-nan", NAIVE, set_prior(np.nan), P, "NaN", False),
    ("prior-inf", NAIVE, set_prior(np.inf), P, "NaN or infinite", False),
    ("prior-negative", NAIVE, set_prior(-0.5), P, "probability", False),
    ("prior-above-one", NAIVE, set_prior(1.5), P, "probability", False),
    ("prior-3x3", NAIVE, replace_array(P, "prior", lambda x: x[:3, :3]), P, "shape", False),
    (
        "prior-int64",
        NAIVE,
        replace_array(P, "prior", lambda x: x.astype(np.int64)),
        P,
        "dtype",
        False,
    ),
    ("prior-pickle", NAIVE, write_bytes(P, b"\x80\x04K\x01."), P, "safetensors", False),
    ("statics-zero-prior", XGB, set_item(S, "prior", 3, 0.0), S, "zeros", False),
    (
        "booster-garbage",
        XGB,
        write_bytes("booster.ubj", os.urandom(5000)),
        "booster.ubj",
        "xgboost",
        False,
    ),
    ("booster-empty", XGB, write_bytes("booster.ubj", b""), "booster.ubj", "xgboost", False),
    ("booster-truncated", XGB, truncate("booster.ubj"), "booster.ubj", "xgboost", False),
    ("booster-missing", XGB, remove("booster.ubj"), "booster.ubj", "missing", False),
    ("booster-bytes-flipped", XGB, flip_bytes("booster.ubj", 2), "booster.ubj", "xgboost", False),
    ("booster-other-features", XGB, other_booster, "booster.ubj", "features", False),
    ("net-int64", NET, cast_net(np.int64), W, "dtype int64", False),
    ("net-float16", NET, cast_net(np.float16), W, "dtype float16", False),
    ("net-nan", NET, set_item(W, None, (0, 0, 0, 0), np.nan), W, "NaN", False),
    ("net-base-missing", NET, drop_array(W, "base"), W, "'base'", False),
    ("net-base-above-one", NET, set_item(W, "base", (0, 0), 2.0), W, "probability", False),
    ("net-weight-missing", NET, drop_array(W, None), W, "do not fit", False),
    # config bounds: refused before any network is built
    ("pool-string", NET, json_edit(model_args__pool="4"), G, "model_args.pool", True),
    ("pool-float", NET, json_edit(model_args__pool=4.0), G, "model_args.pool", True),
    (
        "pool-above-grid",
        NET,
        json_edit(model_args__pool=64, protocol__grid__nx=9, protocol__grid__ny=9),
        G,
        "pool",
        True,
    ),
    ("channels-200000", NET, json_edit(model_args__channels=200_000), G, "args.channels", True),
    ("hidden-negative", NET, json_edit(model_args__hidden=-1), G, "model_args.hidden", True),
    ("layers-huge", NET, json_edit(model_args__layers=10**6), G, "model_args.layers", True),
    ("days-bool", NET, json_edit(model_args__days=True), G, "model_args.days", True),
    ("class-weight-zero", NET, json_edit(model_args__class_weight=0), G, "class_weight", True),
    ("calibrate-string", NET, json_edit(model_args__calibrate="yes"), G, "calibrate", True),
    ("transform-unknown", NET, json_edit(model_args__input_transform="x"), G, "transform", True),
    ("threads-huge", XGB, json_edit(model_args__n_threads=10**6), G, "n_threads", True),
    ("r0-list-huge", XGB, json_edit(model_args__r0_km=[25.0] * 1000), G, "r0_km", True),
]


@pytest.mark.parametrize(
    ("source", "tamper", "file", "field", "json_bad"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_tampered_folder_is_refused_with_file_and_field(
    tmp_path, source, tamper, file, field, json_bad
):
    folder = copy_model(source, tmp_path)
    tamper(folder)
    with pytest.raises(ModelError) as caught:
        load_model(folder)
    message = str(caught.value)
    assert file in message and field in message, message
    assert "\n" not in message.strip() and len(message) < 2000, message
    card = read_card(folder)
    if json_bad:  # the card reader runs the same model.json checks
        assert card.error is not None and card.kind is None, card
        assert "model.json" in card.error and field in card.error, card.error
        assert str(tmp_path) not in card.error  # shown relative to the models folder
    else:  # model.json is fine: a good card whose load fails cleanly (above)
        assert (
            card.error is None
            and card.kind == json.loads((MODELS / source / "model.json").read_text())["kind"]
        )


def test_untampered_copies_load(tmp_path):
    """The tampering table's sources, copied as they are, load: the refusals above are the
    tampering's doing."""
    for name in (NAIVE, XGB, NET):
        model = load_model(copy_model(name, tmp_path))
        assert model.mc == 5.0 and model.protocol.grid.shape == (250, 200)
        assert read_card(tmp_path / name).error is None


def test_config_bounds_refuse_before_building_a_net():
    from quake.models import create

    with pytest.raises(ModelError, match="model_args.channels"):
        create("cnn", channels=200_000)
    with pytest.raises(ModelError, match="model_args.pool"):
        create("cnn-resid", pool="4")
    # The presets' sizes and the tests' tiny nets stay inside the bounds.
    assert create("cnn", pool=2, embed=2, hidden=2, head=2, channels=8, days=5).config.pool == 2


def test_every_kind_has_a_torch_free_config_class():
    for kind in kinds():
        assert config_class(kind) is model_class(kind).config_cls
    code = (
        "import sys; from quake.service.workspace import list_models; "
        f"cards = list_models({str(MODELS)!r}); "
        "assert all(c.error is None for c in cards), [c.error for c in cards]; "
        "assert 'torch' not in sys.modules and 'xgboost' not in sys.modules"
    )
    proc = run_python("-c", code)
    assert proc.returncode == 0, proc.stderr


def test_json_depth_is_counted_without_recursion():
    assert json_depth(b'{"a": [1, {"b": "[[[["}]}') == 3
    assert json_depth(b'"\\"[[[" ' + b"[" * 200_000) == 200_000
    assert json_depth(b"") == 0


def _depth_by_hand(raw: bytes) -> int:
    """The nesting depth by a plain state machine (strings and their escapes skipped)."""
    depth = best = 0
    in_string = escaped = False
    for ch in raw.decode("latin-1"):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            best = max(best, depth)
        elif ch in "]}":
            depth -= 1
    return best


def test_json_depth_matches_a_state_machine_on_random_text():
    rng = np.random.default_rng(7)
    alphabet = np.frombuffer(b'[]{}"\\a ,', dtype=np.uint8)
    for _ in range(3000):
        raw = alphabet[rng.integers(0, len(alphabet), rng.integers(0, 40))].tobytes()
        assert json_depth(raw) == _depth_by_hand(raw), raw


def test_json_depth_of_an_unterminated_string_of_escaped_quotes():
    """``"kind": "\\"\\"\\"…`` with no closing quote: the old pattern retried the string from
    every quote (quadratic: 40 s for 80 kB, about a day for a 4 MB model.json)."""
    raw = b'{"kind": "' + b'\\"' * 2_000_000
    assert json_depth(raw) == 1
    assert json_depth(raw + b"\\") == 1


def test_read_json_refuses_special_files(tmp_path):
    fifo = tmp_path / "model.json"
    os.mkfifo(fifo)  # reading a FIFO would block forever
    with pytest.raises(ModelError, match="is not a regular file"):
        read_json(fifo)
    (tmp_path / "nan.json").write_text('{"x": NaN, "y": -Infinity}')  # stored scores may be NaN
    doc = read_json(tmp_path / "nan.json")
    assert np.isnan(doc["x"]) and doc["y"] == -np.inf


def test_check_array_names_file_and_array():
    arrays = {"p": np.array([0.1, 0.2], np.float32)}
    assert check_array(arrays, "p", file="f.safetensors", shape=(2,), prob=True) is arrays["p"]
    with pytest.raises(ModelError, match=r"f\.safetensors: 'p' has shape \(2,\), expected \(3,\)"):
        check_array(arrays, "p", file="f.safetensors", shape=(3,))
    with pytest.raises(ModelError, match="dtype float32, expected float64"):
        check_array(arrays, "p", file="f.safetensors", dtype=np.float64)


def test_booster_trees_must_be_well_formed():
    import xgboost as xgb

    booster = xgb.Booster(model_file=str(MODELS / XGB / "booster.ubj"))  # a trusted file
    doc = json.loads(booster.save_raw("json"))
    check_booster_doc(doc, 10, "b.ubj")
    tree = doc["learner"]["gradient_booster"]["model"]["trees"][0]
    for key, index, value, match in [
        ("left_children", 1, 0, "tree 0: node 1 has children 0"),  # a cycle to the root
        ("right_children", 0, 10**6, "tree 0: node 0 has children"),  # past the arrays
        ("split_indices", 0, 10, "splits on feature 10"),
        ("split_type", 0, 1, "splits on feature"),  # categorical
    ]:
        saved = tree[key][index]
        tree[key][index] = value
        with pytest.raises(ModelError, match=match):
            check_booster_doc(doc, 10, "b.ubj")
        tree[key][index] = saved
    tree["split_conditions"].pop()
    with pytest.raises(ModelError, match="different lengths"):
        check_booster_doc(doc, 10, "b.ubj")
    doc["learner"]["learner_model_param"]["num_target"] = "2"
    with pytest.raises(ModelError, match="b.ubj: a multi-output booster"):
        check_booster_doc(doc, 10, "b.ubj")


def test_tampered_training_checkpoint_is_refused(tmp_path):
    from quake.models.checkpoint import STATE, load_checkpoint, save_checkpoint

    arrays = {"net.w": np.zeros((2, 2), np.float32), "opt.0.step": np.array(3.0, np.float32)}
    doc = {"kind": "cnn", "model_args": {}, "epoch": 1, "step": 5, "history": [], "since_best": 0}
    save_checkpoint(tmp_path, arrays, doc)
    assert load_checkpoint(tmp_path)[1]["epoch"] == 1
    for bad, match in [
        ({**doc, "epoch": "1"}, "epoch: must be an integer"),
        ({k: v for k, v in doc.items() if k != "epoch"}, "missing key 'epoch'"),
        ({**doc, "history": {"a": 1}}, "history: must be a list"),
        ({**doc, "best_score": "high"}, "best_score"),
    ]:
        save_checkpoint(tmp_path, arrays, bad)
        with pytest.raises(ModelError, match=match):
            load_checkpoint(tmp_path)
    for bad, match in [
        ({**arrays, "evil": np.zeros(1, np.float32)}, "unexpected array 'evil'"),
        ({**arrays, "net.w": np.zeros((2, 2), np.float16)}, "dtype float16"),
        ({**arrays, "net.w": np.full((2, 2), np.nan, np.float32)}, "NaN"),
    ]:
        save_checkpoint(tmp_path, bad, doc)
        with pytest.raises(ModelError, match=match):
            load_checkpoint(tmp_path)
    (tmp_path / STATE).write_text("[" * 100_000)
    with pytest.raises(ModelError, match="nested"):
        load_checkpoint(tmp_path)


# -- curves.json ------------------------------------------------------------------------------
def _curves_edit(change: Callable[[dict], object]) -> Callable[[Path], None]:
    def tamper(folder: Path) -> None:
        path = folder / "curves.json"
        doc = json.loads(path.read_text())
        new = change(doc)
        path.write_text(json.dumps(doc if new is None else new))

    return tamper


def curve_item(part: str, key: str, value) -> Callable[[Path], None]:
    """Set the first element of ``test.all.<part>.<key>``."""
    return _curves_edit(lambda d: d["test"]["all"][part][key].__setitem__(0, value))


def curve_edit(change: Callable[[dict], object]) -> Callable[[Path], None]:
    """Apply ``change`` to the curve ``test.all``."""
    return _curves_edit(lambda d: change(d["test"]["all"]) and None)


def set_counts(**values: int) -> Callable[[dict], None]:
    """Every count of the curve's ``part`` histogram set to ``values[part]``."""

    def change(c: dict) -> None:
        for part, value in values.items():
            c[part]["count"] = [value] * len(c[part]["count"])

    return change


def duplicate_bin(c: dict) -> None:
    c["positive"]["bin"][1] = c["positive"]["bin"][0]


def reverse_bins(c: dict) -> None:
    for key in ("bin", "count"):
        c["positive"][key].reverse()


def weight_without_pairs(c: dict) -> None:
    assert c["positive"]["bin"][0] > 0
    c["weighted_positive"]["bin"].insert(0, 0)
    c["weighted_positive"]["weight"].insert(0, 0.5)


def curves_text(text: Callable[[str], str]) -> Callable[[Path], None]:
    def tamper(folder: Path) -> None:
        path = folder / "curves.json"
        path.write_text(text(path.read_text()))

    return tamper


def curves_folder(folder: Path) -> None:
    (folder / "curves.json").unlink()
    (folder / "curves.json").mkdir()


CURVE_CASES = [
    ("a-list", _curves_edit(lambda d: [1, 2]), "JSON object"),
    ("mask-not-object", _curves_edit(lambda d: d.update(test=[1])), "test"),
    ("snap-null", curve_item("design", "snap", None), "snap"),
    (
        "huge-n-cells",
        _curves_edit(lambda d: d["test"]["all"]["design"].update(n_cells=10**9)),
        "n_cells",
    ),
    ("bin-outside", curve_item("positive", "bin", 10**7), "bin"),
    ("negative-count", curve_item("negative", "count", -5), "negative.count"),
    ("nan-weight", curves_text(lambda t: t.replace('"weight":[', '"weight":[NaN,', 1)), "weight"),
    ("wrong-format", _curves_edit(lambda d: d["test"]["all"].update(format="x")), "test.all"),
    ("deep", curves_text(lambda t: "[" * 100_000), "nested"),
    ("a-directory", curves_folder, "curves.json"),
    # 9e18 fits int64; two of them overflowed the sums (ROC AUC -0.094, PR AUC 50.66)
    ("counts-9e18", curve_edit(set_counts(negative=9 * 10**18, positive=9 * 10**18)), "count"),
    ("row-total-2e13", curve_edit(set_counts(negative=10**12)), "test.all.negative"),
    ("pairs-total-2e13", curve_edit(set_counts(negative=9 * 10**10, positive=3 * 10**11)), "pairs"),
    ("duplicate-bin", curve_edit(duplicate_bin), "test.all.positive.bin"),
    ("bins-decreasing", curve_edit(reverse_bins), "test.all.positive.bin"),
    (
        "weights-1e308",
        curve_edit(
            lambda c: c["weighted_negative"].update(
                weight=[1e308] * len(c["weighted_negative"]["weight"])
            )
        ),
        "weighted_negative",
    ),
    ("weight-without-pairs", curve_edit(weight_without_pairs), "test.all.weighted_positive"),
]


@pytest.mark.parametrize(
    ("tamper", "field"), [c[1:] for c in CURVE_CASES], ids=[c[0] for c in CURVE_CASES]
)
def test_broken_curves_are_a_model_error(tmp_path, tamper, field):
    folder = copy_model(NAIVE, tmp_path)
    assert load_curves(folder)["test"]["all"].n_pairs > 0  # the copy as it is
    tamper(folder)
    with pytest.raises(ModelError) as caught:
        load_curves(folder)
    assert "curves.json" in str(caught.value) and field in str(caught.value)


# -- the command line -------------------------------------------------------------------------
def _cli(*args: str) -> subprocess.CompletedProcess:
    return run_cli(*args)


CLI_CASES = ["kind-list", "deep-nesting", "booster-garbage", "channels-200000", "net-float16"]


@pytest.mark.parametrize("case", CLI_CASES)
def test_cli_evaluate_says_error_and_exits_2(tmp_path, case):
    _, source, tamper, file, field, _ = next(c for c in CASES if c[0] == case)
    folder = copy_model(source, tmp_path)
    tamper(folder)
    proc = _cli("evaluate", "--model", str(folder), "--mc", "5")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert file in proc.stderr and field in proc.stderr


def test_cli_report_names_the_bad_folder(tmp_path):
    models = tmp_path / "models"
    copy_model(NAIVE, models)
    bad = copy_model(XGB, models)
    json_edit(scores={"test": {"all": {"roc_auc": "high"}}})(bad)
    proc = _cli("report", "--models-dir", str(models), "--out", str(tmp_path / "R.md"))
    assert proc.returncode == 2 and proc.stderr.startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr and "roc_auc" in proc.stderr and XGB in proc.stderr
    assert not (tmp_path / "R.md").exists()


@pytest.mark.parametrize(
    "name",
    ['<b>BIG<span style="font-size:60px">', '<a href="http:e">x', "\u202egnp.exe", "a b", "-x"],
)
def test_a_folder_not_named_by_the_grammar_is_an_error_card(tmp_path, name):
    # Names reach charts, file names and messages: a folder copied in by hand under any
    # other name is listed as unusable, with the rule, and never offered as a model.
    copy_model(NAIVE, tmp_path)
    shutil.copytree(MODELS / NAIVE, tmp_path / name)
    cards = {c.name: c for c in list_models(tmp_path)}
    assert cards[NAIVE].error is None
    assert "not a model name" in cards[name].error and "letters, digits" in cards[name].error


# -- the dashboard ------------------------------------------------------------------------------
DASHBOARD_BAD = {  # folder name -> tampering; the first six give error cards
    "kind-list": json_edit(kind=["naive"]),
    "deep-nesting": nested,
    "model-json-list": write_text("[1, 2]"),
    "model-args-null": json_edit(model_args=None),
    "scores-wrong-type": json_edit(scores={"test": [1]}),
    "label-html": json_edit(label="<b>x</b>"),
    "prior-nan": set_prior(np.nan),  # a good card; loading it fails
    "curves-broken": _curves_edit(lambda d: d.update(test=[1])),  # a good card; bad curves
}


@pytest.fixture
def hostile_models(monkeypatch, tmp_path) -> Path:
    root = tmp_path / "models"
    copy_model(NAIVE, root)
    for name, tamper in DASHBOARD_BAD.items():
        folder = Path(shutil.copytree(MODELS / NAIVE, root / name))
        tamper(folder)
    monkeypatch.setenv("QUAKE_MODELS_DIR", str(root))
    monkeypatch.setenv("QUAKE_CACHE_DIR", str(tmp_path / "cache"))
    return root


def test_every_page_works_beside_hostile_folders(hostile_models):
    from streamlit.testing.v1 import AppTest

    from app_pages.ui.nav import PATHS as PAGES

    cards = {c.name: c for c in list_models(hostile_models)}
    assert {n for n, c in cards.items() if c.error} == set(list(DASHBOARD_BAD)[:6])
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    for page in PAGES.values():
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        if page == PAGES["models"]:
            shown = [e.value.replace("\\", "") for e in at.error]  # markdown escapes
            for name in list(DASHBOARD_BAD)[:6]:  # one error card each, naming the field
                assert any(f"{name}/model.json" in e for e in shown), (name, shown)
            assert any("kind" in e for e in shown) and any("nested" in e for e in shown)
            assert not any(str(hostile_models) in e for e in shown)
    # Picking the model whose prior is NaN shows an error on the map, not an exception.
    at.switch_page(PAGES["map"]).run()
    model_box(at, "Model").set_value("prior-nan").run()
    assert not at.exception, [e.value for e in at.exception]
    shown = [e.value.replace("\\", "") for e in at.error]
    assert any("prior-nan" in e and "NaN" in e for e in shown), shown


@pytest.mark.parametrize(
    ("make", "said"), [("folder", "is a folder"), ("fifo", "is not a regular file")]
)
def test_a_weights_file_that_is_no_file_says_what_it_is(tmp_path, make, said):
    folder = copy_model(NAIVE, tmp_path)
    weights = folder / "prior.safetensors"
    weights.unlink()
    weights.mkdir() if make == "folder" else os.mkfifo(weights)
    with pytest.raises(ModelError, match=f"weights file {said}"):
        load_model(folder)


def test_a_folder_not_named_as_a_model_offers_no_delete(hostile_models):
    from streamlit.testing.v1 import AppTest

    from app_pages.ui.nav import PATHS as PAGES

    shutil.copytree(MODELS / NAIVE, hostile_models / "<b>x</b>")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    at.switch_page(PAGES["models"]).run()
    assert not at.exception
    keys = {b.key for b in at.button}
    assert f"del_{NAIVE}" in keys and "del_<b>x</b>" not in keys  # delete would be refused
