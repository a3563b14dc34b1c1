"""Training presets of the neural models as plain data (no torch import: the CLI parser
and the dashboard read them cheaply). Used by `quake.models.training`; documented in docs/NEURAL.md.
"""

from __future__ import annotations

from typing import Any

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    # 40 km cells, 8 hidden channels, 3 epochs: about 3 minutes on a 2-core CPU (validation
    # PR AUC at Mc 5 as with 16 hidden channels, at 1/3 of the cost; docs/NEURAL.md). One
    # thread: the convolutions are too small to gain from a second one, and on a shared CPU
    # two threads were measured 2-100 times slower than one.
    "quick": {
        "model": {"pool": 4, "embed": 8, "hidden": 8, "head": 16, "channels": 16, "days": 30},
        "train": {"epochs": 3, "bptt": 30, "streams": 4, "lr": 3e-3, "patience": 2, "threads": 1},
    },
    # The paper's sizes on the full 200 x 250 grid: for a GPU.
    "paper": {
        "model": {"pool": 1, "embed": 16, "hidden": 32, "head": 16, "channels": 32, "days": 30},
        "train": {"epochs": 40, "bptt": 30, "streams": 2, "lr": 1e-3, "patience": 8},
    },
}
