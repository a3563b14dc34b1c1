"""Training checkpoints without pickle: tensors in safetensors, everything else in JSON.

A checkpoint folder holds::

    last.safetensors   net.* (current weights), best.* (best-on-validation weights),
                       opt.<i>.<name> (Adam moments and step counts), state.<j> (the
                       recurrent state of every training stream: under torchrun all
                       ranks' streams, gathered, so a run resumes on any number of
                       processes that divides the streams)
    last.json          kind, model_args, train_config, epoch (completed), step, history,
                       best score and epoch, epochs since the best

Both files are written to a temporary name and renamed, so a crash never leaves half a
checkpoint; under torchrun only rank 0 writes. Reading uses `safetensors` and `json` only:
nothing in the folder can run code, and both files are checked (`quake.models.store`)
before training resumes from them.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.numpy import load_file, save_file

from quake.atomic import check_replaceable
from quake.errors import ModelError
from quake.models import store as validate

TENSORS = "last.safetensors"
STATE = "last.json"
_ARRAY_NAME = re.compile(r"(net|best)\.[A-Za-z0-9_.]+|opt\.\d+\.[A-Za-z0-9_]+|state\.\d+")


def _atomic_write(path: Path, write) -> None:
    check_replaceable(path)
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def optimizer_arrays(opt: torch.optim.Optimizer) -> dict[str, np.ndarray]:
    """Adam's per-parameter state as ``opt.<index>.<name>`` float32/int arrays."""
    out = {}
    for i, st in opt.state_dict()["state"].items():
        for name, v in st.items():
            out[f"opt.{i}.{name}"] = torch.as_tensor(v).detach().cpu().numpy()
    return out


def load_optimizer(opt: torch.optim.Optimizer, arrays: dict[str, np.ndarray]) -> None:
    """Restore what `optimizer_arrays` saved (the param groups are the live ones)."""
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, v in arrays.items():
        if key.startswith("opt."):
            _, i, name = key.split(".", 2)
            state.setdefault(int(i), {})[name] = torch.from_numpy(np.array(v))
    sd = opt.state_dict()
    sd["state"] = state
    opt.load_state_dict(sd)


def save_checkpoint(folder: Path, arrays: dict[str, np.ndarray], doc: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    _atomic_write(folder / TENSORS, lambda p: save_file(arrays, str(p)))
    _atomic_write(folder / STATE, lambda p: p.write_text(json.dumps(doc, indent=1)))


def load_checkpoint(folder: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """``(arrays, doc)`` of a checkpoint folder; a `ModelError` for anything else."""
    folder = Path(folder)
    if not (folder / STATE).is_file() or not (folder / TENSORS).is_file():
        raise ModelError(f"{folder}: not a training checkpoint (needs {STATE} and {TENSORS})")
    doc = validate.read_json(folder / STATE)
    _check_state(doc, folder / STATE)
    if (folder / TENSORS).stat().st_size > validate.MAX_WEIGHTS_BYTES:
        raise ModelError(f"{folder / TENSORS}: larger than {validate.MAX_WEIGHTS_BYTES:,} bytes")
    try:
        arrays = load_file(str(folder / TENSORS))
    except Exception as err:  # safetensors errors: refuse, never fall back to pickle
        raise ModelError(f"{folder}: unreadable checkpoint ({err})") from None
    _check_arrays(arrays, folder / TENSORS)
    return arrays, doc


def _check_state(doc: dict[str, Any], path: Path) -> None:
    """The keys `quake.models.training` reads, with their types; a `ModelError` naming the field."""
    try:
        for key in ("kind", "model_args", "epoch", "step", "history", "since_best"):
            if key not in doc:
                raise ModelError(f"missing key {key!r}; not a training state")
        validate.check_str(doc["kind"], "kind", 64)
        if not isinstance(doc["model_args"], dict):
            raise ModelError("model_args: must be a JSON object")
        for key in ("epoch", "step", "since_best"):
            validate.check_int(doc[key], key, 0, 10**9)
        validate.check_list(doc["history"], "history", _is_row, 0, 100_000)
        validate.optional(validate.check_int, doc.get("best_epoch"), "best_epoch", 0, 10**9)
        validate.optional(validate.check_int, doc.get("planned_epochs"), "planned_epochs", 0, 10**9)
        best = doc.get("best_score")
        if best is not None:
            validate.check_float(best, "best_score", -1e300, 1e300)
    except ModelError as err:
        raise ModelError(f"{path}: {err}") from None


def _is_row(row: Any, field: str) -> dict:
    if not isinstance(row, dict):
        raise ModelError(f"{field}: must be a JSON object")
    return row


def _check_arrays(arrays: dict[str, np.ndarray], path: Path) -> None:
    """Names the checkpoint writes, float32 (Adam's step counts may be integers), finite."""
    for name in arrays:
        if not _ARRAY_NAME.fullmatch(name):
            raise ModelError(f"{path}: unexpected array {name[:60]!r}")
        dtypes = (np.float32, np.int64) if name.startswith("opt.") else np.float32
        validate.check_array(arrays, name, file=path, dtype=dtypes)


def state_arrays(state: tuple[torch.Tensor, ...] | None) -> dict[str, np.ndarray]:
    if state is None:
        return {}
    return {f"state.{j}": s.detach().float().cpu().numpy() for j, s in enumerate(state)}


def arrays_state(arrays: dict[str, np.ndarray], device: torch.device) -> tuple | None:
    keys = sorted((k for k in arrays if k.startswith("state.")), key=lambda k: int(k[6:]))
    if not keys:
        return None
    return tuple(torch.from_numpy(np.array(arrays[k])).to(device) for k in keys)
