"""Training checkpoints without pickle: tensors in safetensors, everything else in JSON.

A checkpoint folder holds::

    last.safetensors   net.* (current weights), best.* (best-on-validation weights),
                       opt.<i>.<name> (Adam moments and step counts), state.<j> (the
                       recurrent state of each training stream)
    last.json          kind, model_args, train_config, epoch (completed), step, history,
                       best score and epoch, epochs since the best

Both files are written to a temporary name and renamed, so a crash never leaves half a
checkpoint. Reading uses `safetensors` and `json` only: nothing in the folder can run code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.numpy import load_file, save_file

from quake.errors import ModelError

TENSORS = "last.safetensors"
STATE = "last.json"


def _atomic_write(path: Path, write) -> None:
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
    try:
        doc = json.loads((folder / STATE).read_text())
        arrays = load_file(str(folder / TENSORS))
    except Exception as err:  # JSON or safetensors errors: refuse, never fall back to pickle
        raise ModelError(f"{folder}: unreadable checkpoint ({err})") from None
    if not isinstance(doc, dict) or "epoch" not in doc:
        raise ModelError(f"{folder}/{STATE}: not a training state")
    return arrays, doc


def state_arrays(state: tuple[torch.Tensor, ...] | None) -> dict[str, np.ndarray]:
    if state is None:
        return {}
    return {f"state.{j}": s.detach().float().cpu().numpy() for j, s in enumerate(state)}


def arrays_state(arrays: dict[str, np.ndarray], device: torch.device) -> tuple | None:
    keys = sorted((k for k in arrays if k.startswith("state.")), key=lambda k: int(k[6:]))
    if not keys:
        return None
    return tuple(torch.from_numpy(np.array(arrays[k])).to(device) for k in keys)
