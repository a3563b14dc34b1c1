"""An ensemble: the mean of saved models' probabilities (e.g. one network trained with
several seeds), itself a `Forecaster` that is saved, scored and mapped like any model.

model.json lists the members by folder name (``model_args.members``); the members live in
the same models folder as the ensemble and are loaded from there, each through
`Forecaster.load` with all its checks. Before anything is loaded the member graph is read
from the model.json files alone (`member_graph`): a missing member, an ensemble that
contains itself (directly or through other ensembles), or members fitted on a different
protocol, grid or Mc are a `ModelError` that names the member. Nothing is copied: the
ensemble folder holds only model.json (and curves.json once scored).

The average is of probabilities, ``p = mean_k p_k`` (a linear pool; Lakshminarayanan et
al. 2017's deep ensembles average the members' predictive distributions the same way).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from quake import settings
from quake.data.forecast_data import ForecastData
from quake.errors import ModelError
from quake.models import store as v
from quake.models.base import Forecaster, ModelConfig
from quake.models.store.files import NAME_RE
from quake.progress import OnProgress, emit

MAX_MEMBERS = 64
MAX_DEPTH = 4  # ensembles of ensembles, at most this deep
MAX_LEAVES = 64  # models one ensemble loads in all, nested ensembles' members included


@dataclass
class EnsembleConfig(ModelConfig):
    """``members``: model folder names in the ensemble's own models folder (2 to 64)."""

    members: list[str] = field(default_factory=list)

    def check(self) -> None:
        if isinstance(self.members, list | tuple) and len(self.members) < 2:
            raise ModelError(
                f"model_args.members: an ensemble needs at least two member models, got "
                f'{len(self.members)}: {{"members": ["NAME-s0", "NAME-s1", ...]}} (folders in '
                "the models folder)"
            )
        names = v.check_list(self.members, "model_args.members", _member_name, 2, MAX_MEMBERS)
        if len(set(names)) != len(names):
            raise ModelError("model_args.members: a member is listed twice")
        self.members = list(names)


def _member_name(x: object, where: str) -> str:
    if not isinstance(x, str) or not NAME_RE.fullmatch(x):  # members are model folders
        shown = repr(x)[:40]
        raise ModelError(
            f"{where}: {shown} is not a model folder name (letters, digits, '.', '_', '-'; "
            "no path separators, at most 64 characters)"
        )
    return x


def member_graph(folder: Path, members: Sequence[str]) -> int:
    """Check the member folders of an ensemble in ``folder.parent`` from their model.json
    alone: each exists and is readable, none leads back to an ensemble on the way (a
    cycle), nesting stays within `MAX_DEPTH`, all share one protocol and Mc, and loading
    it reaches at most `MAX_LEAVES` models. Returns that number (a model reached twice,
    through two nested ensembles, is loaded twice). Each folder is read once, so ensembles
    that share members cost their distinct folders, not their paths."""
    return _walk(folder, members, 0, (folder.name,), {})[0]


def _walk(folder: Path, members: Sequence[str], depth: int, path: tuple, seen: dict):
    """``(models reached, levels of ensembles)`` below the ensemble ``folder`` at
    ``depth``; ``seen``: what `_member` found for each folder already read."""
    root = folder.parent
    ref, leaves, levels = None, 0, 1
    for name in members:
        if name in path:
            chain = " -> ".join((*path, name))
            raise ModelError(f"ensemble {folder.name!r}: a cycle of members ({chain})")
        if name not in seen:  # a folder finished once cannot lead back onto ``path``
            seen[name] = _member(root, name, path, depth, seen)
        key, n, below = seen[name]
        if depth + below > MAX_DEPTH:
            raise ModelError(f"ensemble {path[0]!r}: nested more than {MAX_DEPTH} deep")
        if ref is None:
            ref = (name, key)
        elif key[0] != ref[1][0] or not math.isclose(key[1], ref[1][1]):
            raise ModelError(
                f"ensemble {folder.name!r}: member {name!r} was fitted on another protocol, "
                f"grid or Mc than {ref[0]!r} (Mc {key[1]:g} vs {ref[1][1]:g})"
            )
        leaves, levels = leaves + n, max(levels, 1 + below)
        if leaves > MAX_LEAVES:
            raise ModelError(
                f"ensemble {path[0]!r}: its members and their members reach more than "
                f"{MAX_LEAVES} models in all (a model counted once per ensemble that lists it)"
            )
    return leaves, levels


def _member(root: Path, name: str, path: tuple, depth: int, seen: dict) -> tuple:
    """``((protocol, mc), models reached, levels of ensembles)`` of the member ``name``
    (a model: 1 and 0)."""
    member = root / name
    if not (member / v.MODEL_FILE).is_file():
        raise ModelError(
            f"ensemble {path[-1]!r}: member {name!r} is missing (no {v.MODEL_FILE} in its "
            "folder); train or restore it, or rebuild the ensemble without it"
        )
    checked = v.read_model(member)
    key = (checked.protocol.to_dict(), checked.mc)
    if checked.kind != EnsembleModel.kind:
        return key, 1, 0
    if depth + 1 > MAX_DEPTH:  # before descending: a long chain never nears the stack limit
        raise ModelError(f"ensemble {path[0]!r}: nested more than {MAX_DEPTH} deep")
    return (key, *_walk(member, checked.config.members, depth + 1, (*path, name), seen))


def model_files(folder: str | Path) -> list[Path]:
    """``folder``'s model.json and, for an ensemble, those of every folder it reaches (each
    once, at most `MAX_LEAVES` more): what a cache of its forecasts depends on. Read from
    the files alone; a member that cannot be read is left out (loading reports it)."""
    folder = Path(folder)
    out, todo, seen = [], [folder], set()
    while todo and len(out) <= MAX_LEAVES:
        f = todo.pop()
        if f.name in seen:
            continue
        seen.add(f.name)
        out.append(f / v.MODEL_FILE)
        try:
            if b"ensemble" not in (f / v.MODEL_FILE).read_bytes():  # most models: one read
                continue
            checked = v.read_model(f)
        except (ModelError, OSError):
            continue
        if checked.kind == EnsembleModel.kind:
            todo.extend(folder.parent / name for name in checked.config.members)
    return out


class EnsembleModel(Forecaster):
    """The mean of its members' probabilities per (day, cell)."""

    kind = "ensemble"
    label = "Ensemble (mean of members)"
    config_cls = EnsembleConfig

    def __init__(self, config: EnsembleConfig | None = None) -> None:
        super().__init__(config)
        self.members: list[Forecaster] = []
        self.home: Path | None = None  # the folder it will be saved as (`fit` reads members
        # beside it, as loading does; None: the models folder of the settings)

    @classmethod
    def of(cls, folders: Sequence[str | Path]) -> EnsembleModel:
        """An ensemble of the saved models in ``folders`` (one models folder, 2 or more)."""
        folders = [Path(f) for f in folders]
        if len(folders) < 2:
            raise ModelError("an ensemble needs at least two member models")
        if len({f.resolve().parent for f in folders}) != 1:
            raise ModelError("the members of an ensemble must be in one models folder")
        model = cls(EnsembleConfig([f.name for f in folders]))
        member_graph(folders[0].parent / "new ensemble", model.config.members)
        model.members = [Forecaster.load(f) for f in folders]
        first = model.members[0]
        model.meta.update(
            protocol=first.meta["protocol"],
            mc=first.mc,
            fingerprint=first.meta.get("fingerprint"),
            final=all(bool(m.meta.get("final")) for m in model.members),
            members_saved=model._stamps(),
        )
        return model

    def fit(self, data: ForecastData, final: bool = False, on_progress: OnProgress | None = None):
        """Nothing to train: check that every member was fitted on ``data`` (protocol, Mc,
        catalog) for the same period (``final``) and record it."""
        if not self.members:  # `python -m quake fit --model ensemble --args '{"members": ...}'`
            # Members are read beside the ensemble's own folder, where loading reads them,
            # and the cycle check knows its name (itself as a member, with --force).
            home = self.home if self.home is not None else settings.models_dir() / "new ensemble"
            member_graph(home, self.config.members)
            self.members = [Forecaster.load(home.parent / n) for n in self.config.members]
        for name, m in zip(self.config.members, self.members, strict=True):
            if m.protocol is None or m.protocol.to_dict() != data.protocol.to_dict():
                raise ModelError(f"ensemble member {name!r}: fitted on another protocol")
            if m.mc is None or not math.isclose(float(m.mc), data.mc):
                raise ModelError(f"ensemble member {name!r}: Mc {m.mc} (data: {data.mc:g})")
            if m.meta.get("fingerprint") != data.fingerprint:
                raise ModelError(f"ensemble member {name!r}: fitted on another catalog")
            if bool(m.meta.get("final")) != bool(final):
                raise ModelError(f"ensemble member {name!r}: final={m.meta.get('final')}")
        self.bind(data)
        self.meta["final"] = bool(final)
        self.meta["members_saved"] = self._stamps()
        emit(on_progress, "fit", 1, 1)
        return self

    def _stamps(self) -> dict[str, str]:
        """When each member was saved: a member saved again later (refitted with other
        settings, on the same catalog) is refused at load (`_load_arrays`)."""
        pairs = zip(self.config.members, self.members, strict=True)
        return {name: str(m.meta.get("saved", "")) for name, m in pairs}

    def validation_twin(self, data: ForecastData) -> EnsembleModel:
        """The ensemble of its members' train-only twins (`quake.scoring.evaluate.scorer_for`),
        so that its validation scores are out of sample like theirs. A `ModelError` when a
        final member has no twin: the ensemble is then scored as saved, and said so."""
        if not self.members:
            raise ModelError("ensemble: no members loaded")
        twins = []
        for name, m in zip(self.config.members, self.members, strict=True):
            twin = getattr(m, "validation_twin", None)
            if not m.meta.get("final"):
                twins.append(m)
            elif twin is None:
                raise ModelError(f"ensemble member {name!r}: no train-only twin")
            else:
                twins.append(twin(data))
        out = EnsembleModel(EnsembleConfig(list(self.config.members)))
        out.members = twins
        out.meta = {**self.meta, "final": False}
        return out

    def warmup_days(self, start: int, data: ForecastData | None = None) -> int:
        """The members warm up one after the other: the sum of their warm-ups."""
        return sum(m.warmup_days(start, data=data) for m in self.members)

    def predict_days(
        self,
        data: ForecastData,
        start: int,
        stop: int,
        chunk: int = 64,
        on_warmup: Callable[[int, int], None] | None = None,
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Blocks of ``chunk`` days: the members' mean probability, float32 (n, ny, nx)."""
        if not self.members:
            raise ModelError("ensemble: no members loaded")
        total = self.warmup_days(start, data=data)
        feeds = []
        done = 0
        for m in self.members:
            kw = {}
            warm = m.warmup_days(start, data=data)
            if warm and on_warmup is not None:
                kw["on_warmup"] = _offset(on_warmup, done, total)
            done += warm
            feeds.append(_Aligned(m.predict_days(data, start, stop, chunk, **kw), start))
        for a in range(start, stop, chunk):
            b = min(a + chunk, stop)
            acc = np.zeros((b - a, *data.grid.shape), dtype=np.float64)
            for f in feeds:
                acc += f.take(b)
            yield a, (acc / len(feeds)).astype(np.float32)

    # -- persistence: model.json only ----------------------------------------------------
    def _save_arrays(self, folder: Path) -> None:
        if not self.members:
            raise ModelError("nothing to save: the ensemble has no members")

    def _load_arrays(self, folder: Path) -> None:
        member_graph(folder, self.config.members)  # the config has 2 or more (`check`)
        self.members = [Forecaster.load(folder.parent / name) for name in self.config.members]
        for name, m in zip(self.config.members, self.members, strict=True):
            if m.protocol is None or m.protocol.to_dict() != self.meta.get("protocol"):
                raise ModelError(f"{folder}: member {name!r} has another protocol or grid")
            if m.mc is None or not math.isclose(float(m.mc), float(self.meta["mc"])):
                raise ModelError(f"{folder}: member {name!r} has Mc {m.mc}, not {self.mc}")
            # A member refitted since (on another catalog, or on other periods) would make
            # the ensemble forecast something its stored scores do not describe.
            if m.meta.get("fingerprint") != self.meta.get("fingerprint"):
                raise ModelError(
                    f"{folder}: member {name!r} was fitted on another catalog than the "
                    "ensemble (refitted since it was saved?); rebuild the ensemble"
                )
            if bool(m.meta.get("final")) != bool(self.meta.get("final")):
                raise ModelError(
                    f"{folder}: member {name!r} was fitted on other periods than the ensemble "
                    f"(final={bool(m.meta.get('final'))}); rebuild the ensemble"
                )
            stamps = self.meta.get("members_saved") or {}  # older ensembles have none
            if name in stamps and stamps[name] != str(m.meta.get("saved", "")):
                raise ModelError(
                    f"{folder}: member {name!r} was saved again ({m.meta.get('saved')}) after "
                    f"the ensemble was built from it ({stamps[name]}); its scores describe "
                    "the old member: rebuild the ensemble"
                )


def _offset(report: Callable[[int, int], None], before: int, total: int):
    return lambda done, _n: report(before + done, total)


class _Aligned:
    """A member's blocks, re-cut to the ensemble's: ``take(b)`` gives days up to ``b``."""

    def __init__(self, blocks: Iterator[tuple[int, np.ndarray]], start: int) -> None:
        self.blocks, self.next_day = blocks, start
        self.buf: list[np.ndarray] = []
        self.buf_end = start

    def take(self, b: int) -> np.ndarray:
        while self.buf_end < b:
            first, block = next(self.blocks)
            if first != self.buf_end:
                raise ModelError(f"a member's forecast skipped from day {self.buf_end} to {first}")
            self.buf.append(block)
            self.buf_end += len(block)
        joined = np.concatenate(self.buf) if len(self.buf) > 1 else self.buf[0]
        n = b - self.next_day
        out, rest = joined[:n], joined[n:]
        self.buf = [rest] if len(rest) else []
        self.next_day = b
        return out
