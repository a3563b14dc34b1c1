"""Host arrays onto the net's device without making the host wait for the device.

``torch.from_numpy(a).to("cuda")`` copies from pageable memory: torch then waits for the
copy, and with it for every kernel queued before it on the stream. A training step that
starts with its inputs' copy therefore cannot be queued while the previous step still
runs, and the GPU idles while the host builds the next batch (the H200 profile of stop 28:
the host's launches set the pace, docs/NEURAL.md). `to_device` stages the array in pinned
memory (torch's caching host allocator, which keeps the buffer until the copy is done) and
copies it asynchronously: the host goes on to build and launch the next step.

On a CPU (or any other device) it is ``torch.from_numpy(a).to(dev)``: the same tensor as
before, bit for bit.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

__all__ = ["to_device"]


def to_device(a: np.ndarray | Tensor, dev: torch.device | str) -> Tensor:
    """``a`` (a numpy array or a CPU tensor) as a tensor on ``dev``; on CUDA the copy is
    queued on the current stream and the host does not wait for it."""
    t = torch.from_numpy(a) if isinstance(a, np.ndarray) else a
    dev = torch.device(dev)
    if dev.type != "cuda" or t.device.type != "cpu":
        return t.to(dev)
    return t.pin_memory().to(dev, non_blocking=True)
