"""Model folder names and safe writes into the models folder.

Every model is a folder directly inside the models folder (`quake.settings.models_dir`),
named by one grammar (`NAME_PATTERN`): no separators, no leading dot, at most 64
characters. A name typed by a person never becomes a path by itself: `model_folder`
checks it and proves that the folder resolves strictly inside the models folder.

Writing a model goes through a `FolderClaim`:

1. `claim` takes an exclusive lock on the name (``flock`` on ``.claims/NAME.lock``,
   released by the kernel even when the process dies), so two jobs never write the
   same name, and refuses a name that exists unless ``force``;
2. the job writes into a private temporary folder ``.tmp-NAME-XXXX`` inside the models
   folder (made by `tempfile.mkdtemp`, so it cannot exist before);
3. `FolderClaim.commit` renames it into place in one step; `FolderClaim.abort` (cancel,
   failure) removes only that temporary folder — never a path built from what a person
   typed.

Folders whose names start with a dot are never models: listings skip them.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import re
import secrets
import shutil
import tempfile
import time
from pathlib import Path

from quake.errors import ModelError
from quake.models.store import MODEL_FILE
from quake.models.store.files import NAME_RE, NAME_RULE
from quake.settings import models_dir

log = logging.getLogger(__name__)

CLAIMS = ".claims"
TMP_PREFIX = ".tmp-"
OLD_PREFIX = ".old-"


def check_name(name: object) -> str:
    """``name`` if it is a valid model name, else a `ModelError` that says the rule."""
    if not isinstance(name, str) or NAME_RE.fullmatch(name) is None:
        shown = repr(name) if not isinstance(name, str) or len(name) <= 80 else repr(name[:80])
        raise ModelError(f"invalid model name {shown}: use {NAME_RULE}")
    if name in (".", ".."):  # unreachable with the pattern; kept as the rule's statement
        raise ModelError(f"invalid model name {name!r}")
    return name


def _root(root: str | Path | None) -> Path:
    base = Path(root) if root is not None else models_dir()
    return base.resolve()


def model_folder(name: str, root: str | Path | None = None) -> Path:
    """The folder of model ``name`` in the models folder (it need not exist yet).

    Raises `ModelError` for an invalid name or one that would resolve outside ``root``
    (a symlink planted in the models folder, say).
    """
    base = _root(root)
    folder = base / check_name(name)
    real = folder.resolve()
    if real.parent != base:
        raise ModelError(f"model {name!r} does not resolve inside the models folder {base}")
    return folder


def is_model_name(name: str) -> bool:
    """Whether ``name`` is a bare model name (no separator), as opposed to a path."""
    return os.sep not in name and (os.altsep is None or os.altsep not in name)


def new_model_name(kind: str, mc: float, root: str | Path | None = None) -> str:
    """A fresh, unique name such as ``cnn-m5.0-20261128-193412-3fa9c2e1`` (seconds and a random
    suffix: two people asking at the same moment get different names)."""
    base = _root(root)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", kind).strip("-.") or "model"
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    for _ in range(100):
        name = f"{safe[:32]}-m{mc:.1f}-{stamp}-{secrets.token_hex(4)}"
        if not (base / name).exists():
            return check_name(name)
    raise ModelError(f"no free model name in {base}")  # pragma: no cover - 65,536 suffixes


class FolderClaim:
    """An exclusive right to write model ``name``: a lock plus a private temporary folder.

    ``tmp`` is where the job writes; `commit` moves it to ``final``; `abort` deletes
    ``tmp`` only. Both release the lock; either may be called once.
    """

    def __init__(
        self, name: str, final: Path, tmp: Path, lock: Path, lock_fd: int, force: bool
    ) -> None:
        self.name, self.final, self.tmp, self.force = name, final, tmp, force
        self._lock, self._lock_fd = lock, lock_fd

    @property
    def open(self) -> bool:
        return self._lock_fd is not None

    def _release(self) -> None:
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                self._lock.unlink()  # while still holding it: see `_lock_name`
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)  # closing drops the flock
            with contextlib.suppress(OSError):
                self._lock.parent.rmdir()  # no .claims left beside an --out path (if empty)
            self._lock_fd = None

    def commit(self) -> Path:
        """Rename the finished temporary folder into place (replacing an old model only when
        the claim was made with ``force``; never anything that is not a model folder)."""
        if not self.open:
            raise ModelError(f"the claim on {self.name!r} was already released")
        try:
            if not (self.tmp / MODEL_FILE).is_file():
                raise ModelError(f"{self.name}: the job wrote no model.json; nothing saved")
            _readable_by_all(self.tmp)
            old = None
            if self.final.exists() or self.final.is_symlink():
                if not self.force:
                    raise ModelError(f"model {self.name!r} exists; nothing overwritten")
                _check_replaceable(self.final)
                old = self.final.parent / f"{OLD_PREFIX}{self.name}-{secrets.token_hex(4)}"
                os.rename(self.final, old)
            os.rename(self.tmp, self.final)
            if old is not None:
                _remove(old)
            return self.final
        except BaseException:
            _remove(self.tmp)
            raise
        finally:
            self._release()

    def abort(self) -> None:
        """Remove the temporary folder (and nothing else); release the name."""
        try:
            _remove(self.tmp)
        finally:
            self._release()

    def __enter__(self) -> FolderClaim:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.open:
            if exc_type is None:
                self.commit()
            else:
                self.abort()


def is_model_folder(path: Path) -> bool:
    """Whether ``path`` is a saved model's folder: a real folder (not a link) that holds a
    regular model.json. Only such a folder is ever replaced with ``force``."""
    return (
        not path.is_symlink()
        and path.is_dir()
        and (path / MODEL_FILE).is_file()
        and not (path / MODEL_FILE).is_symlink()
    )


def _check_replaceable(final: Path) -> None:
    if not is_model_folder(final):
        raise ModelError(
            f"{final.name!r} exists and is not a saved model folder (no model.json): "
            "nothing replaced; choose another name"
        )


def _umask() -> int:
    """The process's umask, read without changing it (``os.umask`` sets it for every
    thread while it is read)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def _readable_by_all(folder: Path) -> None:
    """Give a finished model folder the modes of an ordinary folder (``mkdtemp`` makes it
    0700 and temporary files are 0600), so a dashboard run as another user can read it."""
    mask = _umask()
    with contextlib.suppress(OSError):
        for f in folder.iterdir():
            if f.is_file() and not f.is_symlink():
                os.chmod(f, 0o666 & ~mask)
        os.chmod(folder, 0o777 & ~mask)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


def _lock_name(base: Path, name: str) -> tuple[Path, int]:
    """Lock ``.claims/NAME.lock`` (created if needed): ``(path, fd)``.

    The holder deletes the file before it lets go, so the claims folder does not grow
    with every name ever tried; a job that locked a file just deleted by its holder
    sees that the path no longer names its file and counts the name as busy.
    """
    lock = base / CLAIMS / f"{name}.lock"
    for attempt in range(5):  # another job may remove the empty claims folder meanwhile
        try:
            base.mkdir(parents=True, exist_ok=True)
            lock.parent.mkdir(exist_ok=True)
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            break
        except FileNotFoundError:
            if attempt == 4:
                raise ModelError(f"cannot write in the models folder {base}") from None
        except OSError as err:
            raise ModelError(f"cannot write in the models folder {base}: {err.strerror}") from None
    busy = ModelError(f"model {name!r} is being written by another job; choose another name")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        os.close(fd)
        if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise busy from None
        raise ModelError(f"cannot lock model {name!r}: {err.strerror}") from None
    try:
        same = os.path.samestat(os.fstat(fd), os.stat(lock, follow_symlinks=False))
    except OSError:
        same = False
    if not same:
        os.close(fd)
        raise busy
    return lock, fd


def claim(name: str, root: str | Path | None = None, force: bool = False) -> FolderClaim:
    """Claim model ``name`` for writing (see `FolderClaim`).

    Raises `ModelError` when the name is invalid, exists (without ``force``), or another
    job holds it. Leftover temporary folders of this name (a crash) are removed first:
    holding the lock proves nobody writes them.
    """
    base = _root(root)
    final = model_folder(name, base)
    lock, fd = _lock_name(base, name)
    prefix = f"{TMP_PREFIX}{name}-"
    try:
        if final.exists() or final.is_symlink():
            if not is_model_folder(final):
                _check_replaceable(final)
            if not force:
                raise ModelError(f"model {name!r} exists already; choose another name")
        for stale in base.glob(f"{prefix}*"):
            # mkdtemp's suffix has no '-' or '.': ".tmp-a-b-x1y2" belongs to "a-b", not "a"
            rest = stale.name[len(prefix) :]
            if "-" not in rest and "." not in rest:
                _remove(stale)
        tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    except (ModelError, OSError) as err:
        with contextlib.suppress(OSError):
            lock.unlink()
        os.close(fd)
        with contextlib.suppress(OSError):
            lock.parent.rmdir()  # if empty
        if isinstance(err, ModelError):
            raise
        raise ModelError(f"cannot write in the models folder {base}: {err.strerror}") from None
    return FolderClaim(name, final, tmp, lock, fd, force)


def claim_out(out: str | Path, force: bool = False) -> FolderClaim:
    """The CLI's ``--out``: a bare name is a model in the models folder of the settings; a
    path (with a separator) is that folder, whose last part must still be a valid name."""
    text = str(out)
    if is_model_name(text):
        return claim(text, force=force)
    if text.endswith((os.sep, os.altsep or os.sep)):
        raise ModelError(
            f"--out {text!r} ends with a separator: name the model's own folder "
            f"(e.g. {text.rstrip(os.sep)}{os.sep}NAME), not the folder it goes in"
        )
    path = Path(text).expanduser()
    return claim(path.name, path.parent, force=force)


def delete_model(folder: str | Path, root: str | Path | None = None) -> None:
    """Delete a saved model folder; refuses anything that is not a model folder in ``root``
    (by name grammar, by resolved location and by its model.json)."""
    base = _root(root)
    folder = Path(folder)
    # Named, not shown with the server's path: the dashboard shows this to a visitor.
    gone = ModelError(f"{folder.name!r} is not a saved model folder (any more); nothing deleted")
    try:
        target = model_folder(folder.name, base)
    except ModelError:
        raise gone from None
    if (
        folder.resolve() != target.resolve()
        or target.is_symlink()
        or not (target / MODEL_FILE).is_file()
    ):
        raise gone
    trash = base / f"{OLD_PREFIX}{target.name}-{secrets.token_hex(4)}"
    try:
        os.rename(target, trash)  # one step: a half-deleted model is never listed
    except OSError as err:
        raise ModelError(f"{target.name}: cannot delete ({err.strerror})") from None
    _remove(trash)
    log.info("deleted model %s", target.name)
