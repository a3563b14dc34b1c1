"""Snapshots of a recurrent net's state made on first use, kept in the cache folder.

A recurrent model's folder may hold states at the test period's start and a few days after
it (`quake.models.states`). A forecast of one day runs from the latest of them before that
day; on its way it records a state every `quake.models.states.CACHE_EVERY` days, and
these are written under ``<cache>/states/`` so that the next day asked for, in this
session or after a restart, starts at most that many days before it.

The file name holds the model folder's name and a key of (folder path, model.json bytes,
data fingerprint), like the forecast cache: a retrained model or another catalog never
reads these states (each snapshot also carries the digest of the events it was made from,
checked before use). A file that cannot be read is removed; one that cannot be written is
logged and skipped: states only save time.
"""

from __future__ import annotations

import logging
from pathlib import Path

from quake import settings
from quake.data.forecast_data import ForecastData
from quake.errors import ModelError
from quake.models.states import Snapshots, load_snapshots, save_snapshots, weights_digest
from quake.service.cache_files import cache_key, touch, trim_cache

log = logging.getLogger(__name__)

STATES_DIR = "states"


def states_path(model_folder: str | Path, data: ForecastData, root: Path | None = None) -> Path:
    """Where the snapshots of this model (folder) and data are kept."""
    root = Path(root) if root else settings.cache_dir()
    key = cache_key(model_folder, data.fingerprint, "states")
    return root / STATES_DIR / f"{Path(model_folder).resolve().name}-{key}.safetensors"


class StateCache:
    """The cached snapshots of one (model, folder, data): `attach` merges them into the
    model's own, `persist` writes those the model has made since."""

    def __init__(
        self, model, model_folder: str | Path, data: ForecastData, root: Path | None = None
    ) -> None:
        self.model = model
        self.path = states_path(model_folder, data, root)
        self._known: set[int] = set(model.snapshots.days)  # what needs no writing

    def _weights(self) -> str:
        return weights_digest(self.model.state_arrays())

    def attach(self) -> None:
        """Add the cached snapshots to ``model.snapshots`` (a damaged file is removed)."""
        if not self.path.is_file():
            return
        try:
            cached = load_snapshots(self.path, self.model.state_shape(), self._weights())
        except (ModelError, OSError) as err:
            log.warning("cached states %s: %s; removed", self.path.name, err)
            self.path.unlink(missing_ok=True)
            return
        touch(self.path)
        for snap in cached:
            if snap.day not in self.model.snapshots.days:
                self.model.snapshots.add(snap)
        self._known |= set(self.model.snapshots.days)

    def persist(self) -> int:
        """Write the snapshots that are not in the model's folder file; returns how many
        the cache file holds (0 when there is nothing to write or it failed)."""
        own = getattr(self.model, "folder_snapshot_days", set())
        keep = Snapshots(s for s in self.model.snapshots if s.day not in own)
        if not len(keep) or set(keep.days) <= self._known:
            return 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            save_snapshots(self.path, keep, self._weights())
        except (ModelError, OSError) as err:
            log.warning("cannot cache the states in %s: %s", self.path.parent, err)
            return 0
        self._known |= set(keep.days)
        trim_cache(self.path.parent.parent, settings.cache_budget_bytes(), keep=(self.path,))
        return len(keep)


def drop_states(model_folder: str | Path, root: Path | None = None) -> int:
    """Remove the cached snapshots of a model folder (any data); returns files removed."""
    root = Path(root) if root else settings.cache_dir()
    folder = root / STATES_DIR
    if not folder.is_dir():
        return 0
    name = Path(model_folder).resolve().name
    removed = 0
    for f in folder.glob(f"{name}-*.safetensors"):
        rest = f.name[len(name) + 1 : -len(".safetensors")]
        if len(rest) == 20 and all(c in "0123456789abcdef" for c in rest):
            f.unlink(missing_ok=True)
            removed += 1
    return removed
