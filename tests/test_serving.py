"""Safe to serve: hostile model names, concurrent trainings, server paths, read-only mode,
user text on the page and in CSV downloads.

Each test tries what a visitor of a LAN-served dashboard could type, through the same
code path as the page or the CLI, and checks that nothing outside the models folder was
created or deleted.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from app_pages.ui.nav import PATHS
from quake.cli import main as cli
from quake.data.catalog.paths import allowed_path, read_catalog_file
from quake.data.synthetic import synthetic_catalog, to_reference_csv
from quake.errors import CatalogError, ModelError
from quake.progress import Progress
from quake.service.folders import (
    check_name,
    claim,
    claim_out,
    delete_model,
    model_folder,
    new_model_name,
)
from quake.service.jobs import TrainingJob
from quake.viz.text import csv_safe, plain
from tests.helpers import ROOT, app, goto

HOSTILE_NAMES = [
    "x/../..",
    "../escaped",
    "/tmp/abs",
    "a/../../b",
    "x/../cnn-resid-quick-m5",
    "y/..",
    "a" * 300,
    "a" * 65,
    "",
    " ",
    ".",
    "..",
    ".hidden",
    "-rf",
    "_x",
    "a b",
    "a\\b",
    "a\x00b",
    "a\nb",
    "~",
    "~root",
    "$HOME",
    "<style>",
    "naïve",
    "C:",
    "a/b",
    "cnn-resid-quick-m5",  # exists: never overwritten without --force
]


def tree(root: Path) -> set[str]:
    """Every path below ``root`` (names relative to it)."""
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture
def sandbox(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """``(outside, models)``: a models folder inside a folder that must stay untouched."""
    outside = tmp_path / "outside"
    models = outside / "models"
    models.mkdir(parents=True)
    (outside / "keep.txt").write_text("precious")
    (models / "cnn-resid-quick-m5").mkdir()
    (models / "cnn-resid-quick-m5" / "model.json").write_text('{"kind": "naive"}')
    monkeypatch.setenv("QUAKE_MODELS_DIR", str(models))
    monkeypatch.chdir(tmp_path)
    return outside, models


# -- names -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_are_refused_and_touch_nothing(name, sandbox):
    outside, models = sandbox
    before = tree(outside.parent)
    with pytest.raises(ModelError, match="invalid model name|exists"):
        claim(name, models)
    if name != "cnn-resid-quick-m5":  # the one that exists: refused by claim alone
        with pytest.raises(ModelError, match="invalid model name"):
            model_folder(name, models)
    assert tree(outside.parent) - before <= {"outside/models/.claims"}
    assert (outside / "keep.txt").read_text() == "precious"


@pytest.mark.parametrize("name", ["a", "naive-m5.0", "A.b_c-9", "x" * 64, "1"])
def test_valid_names_resolve_inside_the_models_folder(name, sandbox):
    _, models = sandbox
    assert check_name(name) == name
    assert model_folder(name, models) == models.resolve() / name


def test_a_symlink_planted_in_the_models_folder_is_not_followed(sandbox, tmp_path):
    outside, models = sandbox
    (models / "link").symlink_to(outside)
    with pytest.raises(ModelError, match="does not resolve inside"):
        model_folder("link", models)
    with pytest.raises(ModelError):
        claim("link", models, force=True)
    with pytest.raises(ModelError):
        delete_model(models / "link", models)
    assert (outside / "keep.txt").is_file()


def test_delete_refuses_anything_but_a_model_folder(sandbox):
    outside, models = sandbox
    for target in (outside, models, models / ".." / "models", models / ".claims", outside / "x"):
        with pytest.raises(ModelError, match="nothing deleted") as err:
            delete_model(target, models)
        assert str(outside) not in str(err.value)  # a visitor never sees the server's path
    assert (outside / "keep.txt").is_file()
    delete_model(models / "cnn-resid-quick-m5", models)
    assert not (models / "cnn-resid-quick-m5").exists()
    assert not [p for p in models.iterdir() if p.name.startswith(".old-")]


def test_default_names_are_unique_and_valid(sandbox):
    _, models = sandbox
    names = {new_model_name("convlstm-resid", 5.0, models) for _ in range(200)}
    assert len(names) == 200
    assert all(check_name(n) for n in names)
    assert check_name(new_model_name("../../<evil kind>", 4.5, models))


# -- claims ------------------------------------------------------------------------------
def test_one_name_is_claimed_by_one_job_only(sandbox):
    _, models = sandbox
    won, lost = [], []
    barrier = threading.Barrier(8)

    def race() -> None:
        barrier.wait()
        try:
            won.append(claim("same", models))
        except ModelError as err:
            lost.append(str(err))

    threads = [threading.Thread(target=race) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(won) == 1 and len(lost) == 7
    assert all("another job" in m for m in lost)
    won[0].abort()
    claim("same", models).abort()  # released: free again


def _job(held, gate: threading.Event, started: threading.Event) -> TrainingJob:
    def runner(on_progress, should_stop):
        (held.tmp / "model.json").write_text('{"kind": "naive"}')
        started.set()
        for i in range(10_000):
            if gate.wait(0.01):
                return None
            on_progress(Progress("train", i, 10_000, {"loss": 1.0}))
        return None

    return TrainingJob(held.name, held, runner).start()


def test_two_trainings_to_one_name_with_a_cancel(sandbox):
    outside, models = sandbox
    before = tree(outside)
    gate_a, started_a = threading.Event(), threading.Event()
    job_a = _job(claim("shared", models), gate_a, started_a)
    assert started_a.wait(10)
    with pytest.raises(ModelError, match="another job"):
        claim("shared", models)  # the second person is refused while A runs
    job_a.cancel()
    job_a.wait(10)
    assert job_a.status == "cancelled"
    assert not (models / "shared").exists() and not job_a.claim.tmp.exists()

    gate_b, started_b = threading.Event(), threading.Event()
    job_b = _job(claim("shared", models), gate_b, started_b)
    assert started_b.wait(10)
    gate_b.set()
    job_b.wait(10)
    assert job_b.status == "done" and (models / "shared" / "model.json").is_file()
    # A finished model is never overwritten from the page, and a later cancel of another
    # job cannot touch it.
    with pytest.raises(ModelError, match="exists"):
        claim("shared", models)
    gate_c, started_c = threading.Event(), threading.Event()
    job_c = _job(claim("other", models), gate_c, started_c)
    assert started_c.wait(10)
    job_c.cancel()
    job_c.wait(10)
    assert (models / "shared" / "model.json").is_file()
    after = {p for p in tree(outside) if not Path(p).name.startswith(".")}
    assert after - before == {"models/shared", "models/shared/model.json"}


def test_a_crash_leaves_no_model_and_the_next_claim_cleans_up(sandbox):
    _, models = sandbox
    held = claim("crashy", models)
    (held.tmp / "model.json").write_text("{}")
    held._release()  # the process died: the kernel dropped the lock, the folder stayed
    assert held.tmp.exists() and not (models / "crashy").exists()
    again = claim("crashy", models)
    assert not held.tmp.exists()
    again.abort()


def test_cli_out_bare_names_are_checked_and_force_is_needed(sandbox, reference_catalog, capsys):
    outside, models = sandbox
    before = tree(outside.parent)
    for bad in ("..", ".", "a" * 300, ".hidden", "a b", "<x>", "x/../..", "y/.."):
        assert cli(["fit", "--model", "naive", "--out", bad]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "invalid model name" in err, (bad, err)
    assert tree(outside.parent) - before <= {"outside/models/.claims"}

    assert cli(["fit", "--model", "naive", "--out", "fresh"]) == 0
    assert (models / "fresh" / "model.json").is_file()
    first = (models / "fresh" / "model.json").read_bytes()
    assert cli(["fit", "--model", "naive", "--out", "fresh"]) == 2
    assert "exists" in capsys.readouterr().err
    assert (models / "fresh" / "model.json").read_bytes() == first
    time.sleep(1.1)  # model.json records the save time to the second
    assert cli(["fit", "--model", "naive", "--out", "fresh", "--force"]) == 0
    assert (models / "fresh" / "model.json").read_bytes() != first
    assert not [p for p in models.iterdir() if p.name.startswith((".tmp-", ".old-"))]


def test_claim_out_takes_a_path_with_a_separator(tmp_path):
    held = claim_out(str(tmp_path / "elsewhere" / "m1"))
    assert held.final == (tmp_path / "elsewhere" / "m1").resolve()
    held.abort()
    with pytest.raises(ModelError, match="invalid model name"):
        claim_out(str(tmp_path / ".."))


def _commit_with_model(held) -> Path:
    (held.tmp / "model.json").write_text("{}")
    (held.tmp / "prior.safetensors").write_bytes(b"x")
    return held.commit()


def test_force_replaces_a_saved_model_and_nothing_else(tmp_path):
    # Stop 24's audit: `--out DIR --force` deleted any folder or file named, and
    # `--out models/ --force` a whole models folder.
    work = tmp_path / "work"
    (work / "notes" / "sub").mkdir(parents=True)
    (work / "notes" / "sub" / "thesis.txt").write_text("precious")
    (work / "paper.txt").write_text("precious")
    (work / "models" / "m1").mkdir(parents=True)
    (work / "models" / "m1" / "model.json").write_text("{}")
    (work / "linked").symlink_to(work / "models" / "m1")
    before = tree(work)
    for out in ("notes", "paper.txt"):
        with pytest.raises(ModelError, match="exists and is not a saved model folder"):
            claim_out(str(work / out), force=True)
    with pytest.raises(ModelError, match="does not resolve inside"):
        claim_out(str(work / "linked"), force=True)
    for out in ("models/", "models//"):
        with pytest.raises(ModelError, match="ends with a separator"):
            claim_out(f"{work}{os.sep}{out}", force=True)
    assert tree(work) == before  # nothing replaced, no .claims left behind
    assert _commit_with_model(claim_out(str(work / "models" / "m1"), force=True)).is_dir()
    assert (work / "models" / "m1" / "prior.safetensors").is_file()
    assert not (work / "models" / ".claims").exists()


def test_a_saved_model_folder_gets_ordinary_modes(tmp_path):
    old = os.umask(0o022)
    try:
        final = _commit_with_model(claim_out(str(tmp_path / "m2")))
    finally:
        os.umask(old)
    assert stat.S_IMODE(final.stat().st_mode) == 0o755
    assert stat.S_IMODE((final / "prior.safetensors").stat().st_mode) == 0o644


# -- server paths --------------------------------------------------------------------------
@pytest.fixture
def roots(tmp_path) -> tuple[Path, Path]:
    """``(allowed, secret)``: a catalog folder and a secret file outside it."""
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    csv = to_reference_csv(synthetic_catalog(n_background=60, n_days=400, seed=1))
    (allowed / "ok.csv").write_text(csv)
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$SECRETHASH:19000:0:99999:7:::\n")
    return allowed, secret


def test_a_catalog_inside_the_roots_is_read(roots):
    allowed, _ = roots
    cat = read_catalog_file(allowed / "ok.csv", roots=[allowed])
    assert len(cat) > 0
    (allowed / "inner-link.csv").symlink_to(allowed / "ok.csv")
    assert len(read_catalog_file(allowed / "inner-link.csv", roots=[allowed])) == len(cat)


@pytest.mark.parametrize("case", ["outside", "symlink-out", "dotdot", "dev-zero", "link-zero"])
def test_paths_outside_the_roots_are_refused_unread(case, roots):
    allowed, secret = roots
    path = {
        "outside": secret,
        "symlink-out": allowed / "innocent.csv",
        "dotdot": allowed / ".." / "shadow",
        "dev-zero": Path("/dev/zero"),
        "link-zero": allowed / "zero.csv",
    }[case]
    if case == "symlink-out":
        path.symlink_to(secret)
    if case == "link-zero":
        path.symlink_to("/dev/zero")
    with pytest.raises(CatalogError, match="not inside the folders") as err:
        read_catalog_file(path, roots=[allowed])
    assert "SECRET" not in str(err.value) and "root:" not in str(err.value)


def test_a_fifo_a_folder_and_a_huge_file_are_refused_without_hanging(roots):
    allowed, _ = roots
    fifo = allowed / "pipe.csv"
    os.mkfifo(fifo)
    result: list[BaseException] = []

    def read() -> None:
        try:
            read_catalog_file(fifo, roots=[allowed])
        except CatalogError as err:
            result.append(err)

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(5)
    assert not t.is_alive(), "reading a FIFO must not block"
    assert result and "not a regular file" in str(result[0])
    (allowed / "sub").mkdir()
    with pytest.raises(CatalogError, match="folder"):
        read_catalog_file(allowed / "sub", roots=[allowed])
    with pytest.raises(CatalogError, match="at most"):
        read_catalog_file(allowed / "ok.csv", roots=[allowed], max_bytes=100)
    with pytest.raises(CatalogError):
        allowed_path("\x00", roots=[allowed])


def test_the_default_roots_hold_the_reference_and_extra_folders(roots, monkeypatch):
    from quake.settings import catalog_roots

    allowed, secret = roots
    monkeypatch.setenv("QUAKE_CATALOG_DIRS", str(allowed))
    got = catalog_roots()
    assert allowed.resolve() in got and secret.parent.resolve() not in got
    assert read_catalog_file(allowed / "ok.csv")
    with pytest.raises(CatalogError, match="not inside"):
        read_catalog_file("/etc/passwd")


# -- the dashboard -------------------------------------------------------------------------
def _texts(at: AppTest) -> str:
    parts = []
    for kind in ("markdown", "caption", "error", "warning", "info", "success", "exception"):
        parts += [str(getattr(e, "value", "")) for e in at.get(kind)]
    return "\n".join(parts)


def test_models_page_refuses_hostile_names(dashboard_env):
    outside = dashboard_env.parent
    before = tree(outside)
    at = goto(app(), PATHS["models"])
    at.selectbox(key="w_train_kind").set_value("naive").run()
    name_box = next(t for t in at.text_input if t.label == "Model name")
    for bad in ("x/../..", "../escaped", "/tmp/abs", "y/..", "naive-m5.0", ".hidden"):
        name_box.set_value(bad).run()
        next(b for b in at.button if b.label == "Train").click().run()
        assert not at.exception
        assert "train_job" not in at.session_state, bad
        assert any("Cannot start training" in e.value for e in at.error), bad
    after = {p for p in tree(outside) if "/." not in f"/{p}"}
    assert after == {p for p in before if "/." not in f"/{p}"}


def test_path_field_refuses_files_outside_the_roots(dashboard_env):
    at = goto(app(), PATHS["catalog"])
    at.radio(key="w_catalog_choice").set_value("File path").run()
    at.text_input[0].set_value("/etc/passwd")
    next(b for b in at.button if b.label == "Load").click().run()
    assert not at.exception
    shown = _texts(at)
    assert "not inside the folders" in shown and "root:" not in shown


def test_read_only_mode_offers_no_training_no_delete_no_path(dashboard_env, monkeypatch):
    monkeypatch.setenv("QUAKE_READONLY", "1")
    at = goto(app(), PATHS["catalog"])
    options = at.radio(key="w_catalog_choice").options
    assert "File path" not in options and "Upload a CSV" in options
    goto(at, PATHS["models"])
    labels = [b.label for b in at.button]
    assert "Train" not in labels and not any(lbl.startswith("Delete") for lbl in labels)
    assert any("read-only" in i.value for i in at.info)


def test_path_field_can_be_turned_off(dashboard_env, monkeypatch):
    monkeypatch.setenv("QUAKE_PATH_FIELD", "0")
    at = goto(app(), PATHS["catalog"])
    assert "File path" not in at.radio(key="w_catalog_choice").options


INJECTION = '<style>*{display:none}</style><img src=x onerror="alert(1)">**bold** [x](http://e)'


def test_user_text_from_a_model_folder_is_shown_escaped(dashboard_env):
    import json

    folder = dashboard_env / "naive-m5.0"
    doc = json.loads((folder / "model.json").read_text())
    doc["label"] = INJECTION
    (folder / "model.json").write_text(json.dumps(doc))
    evil = dashboard_env / "<b onmouseover=alert(1)>evil"
    evil.mkdir()
    (evil / "model.json").write_text("[1, 2]")
    at = goto(app(), PATHS["models"])
    html_blocks = [m.value for m in at.markdown if "<span" in m.value]
    assert html_blocks, "the model cards' headers"
    for block in html_blocks:
        body = block.split("</span>", 1)[1]  # after the colour dot we draw ourselves
        assert "<" not in body and "&lt;style&gt;" in body or "naive" in body
    shown = _texts(at)
    assert "<style>" not in shown and "<img" not in shown and "<b onmouseover" not in shown
    assert "&lt;b onmouseover=alert\\(1\\)&gt;evil" in shown


def test_plain_text_and_csv_cells_are_neutralised():
    assert "<" not in plain(INJECTION) and "\\[x\\]\\(http\\://e\\)" in plain(INJECTION)
    assert plain("a\nb\tc") == "a b c" and len(plain("x" * 1000)) <= 120
    # A right-to-left override would show "\u202egnp.exe" as "exe.png": shown as an escape.
    assert plain("\u202egnp.exe") == "\\\\u202egnp\\.exe" and "\x07" not in plain("a\x07b")
    frame = pd.DataFrame(
        {"model": ['=HYPERLINK("http://e")', "+1", "-cmd", "@SUM(A1)", "ok"], "PR": [1, 2, 3, 4, 5]}
    )
    safe = csv_safe(frame).to_csv(index=False)
    for line in safe.splitlines()[1:5]:
        assert line.startswith(("'", "\"'")), line
    assert "ok,5" in safe and csv_safe(frame)["PR"].tolist() == [1, 2, 3, 4, 5]


def test_trainings_are_capped_for_the_whole_server(monkeypatch):
    # Each session may run one training; the cap is for all sessions together.
    import threading

    from quake.errors import QuakeError
    from quake.service.background import training_board
    from quake.settings import max_trainings

    release = threading.Event()
    slots = training_board(1)
    first = slots.start("a", "a", lambda on_progress, should_stop: release.wait(10))
    with pytest.raises(QuakeError, match=r"1 training\(s\) already run on this server \(a\)"):
        slots.start("b", "b", lambda on_progress, should_stop: None)
    release.set()
    first.wait(10)
    assert first.status == "done"
    assert slots.start("b", "b", lambda on_progress, should_stop: None).wait(10).status == "done"
    for value, n in (("", 2), ("1", 1), ("0", 1), ("x", 2), ("1000", 64)):
        monkeypatch.setenv("QUAKE_MAX_TRAININGS", value)
        assert max_trainings() == n, value


def test_a_lost_sigterm_interrupt_is_raised_again_by_the_next_progress_event():
    """The SIGTERM handler's KeyboardInterrupt is lost when the signal lands in a finalizer
    (``__del__``): the handler also sets `TERMINATED`, and the CLI's next progress event
    raises it again, so the run stops and cleans up as after Ctrl-C."""
    import signal

    from quake import cli
    from quake.commands._common import TERMINATED, TqdmProgress
    from quake.progress import Progress

    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL, "the test needs the default"
    restore = cli._terminate_as_interrupt()
    progress = TqdmProgress()
    try:
        progress(Progress("fit", 1, 10))  # no signal: nothing raised
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGTERM)
        assert TERMINATED.is_set()
        with pytest.raises(KeyboardInterrupt):  # as if the first raise had been swallowed
            progress(Progress("fit", 2, 10))
    finally:
        restore()
        progress.close()
        TERMINATED.clear()
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    TERMINATED.set()  # left over from an earlier run in this process (the CLI tests')
    cli._terminate_as_interrupt()()
    assert not TERMINATED.is_set()  # a new run starts with the flag down


def test_sigterm_cleans_up_like_ctrl_c(tmp_path):
    # `timeout` and `kill` send SIGTERM: it left .tmp-NAME-* and .claims/NAME.lock behind.
    import signal
    import subprocess
    import sys

    models = tmp_path / "models"
    env = {**os.environ, "QUAKE_MODELS_DIR": str(models), "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "quake", "fit", "--model", "ri", "--mc", "5", "--out", "ri-x"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not list(models.glob(".tmp-ri-x-*")) and time.time() < deadline:
        time.sleep(0.05)  # the claim is made: the run is under way
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err, (proc.returncode, err[-300:])
    assert not [p.name for p in models.iterdir()], "nothing left behind"
