"""The config of the neural forecasters (`quake.models.neural`), without torch.

Kept apart from the torch modules so that a model card can be checked (and the CLI parse
its arguments) without importing torch; `quake.models.neural` re-exports it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from quake.errors import ModelError
from quake.models import store as v
from quake.models.base import ModelConfig

TRANSFORMS = ("raw", "energy")
MAX_POOL = 64
MAX_WIDTH = 256  # channels of any layer: the largest net stays at a few tens of MB


@dataclass
class NeuralConfig(ModelConfig):
    """Architecture and loss of one neural forecaster (saved as ``model_args``).

    pool: coarse cells of ``pool`` x ``pool`` protocol cells (1 = 10 km, 4 = 40 km).
    input_transform: ``raw`` magnitude (0 = no event) or ``energy``,
        ``log10(1 + 10^(1.5 (m - 4))) / 1.5`` (about ``m - 4`` above M4, about 0 below:
        a log-energy-like scale that damps the small events). Never ``m / 10`` (NOTES.md).
    embed, hidden, head: ConvLSTM channels (paper: 16, 32, head 16).
    memory_days: upper end of the chrono initialisation of the forget gates.
    out_scale: fixed factor on the head's logit difference (10: under Adam the same as a
        10x learning rate on the output layer, so boosts of several log-odds units are
        reachable in the few hundred steps of a CPU run; docs/NEURAL.md).
    days, channels, layers: CNN input days, channels and conv layers.
    class_weight: weight ``w`` of the minority class in the cross-entropy.
    prior_shift: ``c``; None means ``log(class_weight)``.
    calibrate: predict ``sigmoid(z - log w)`` (True) or ``sigmoid(z)`` (False).
    alpha: smoothing of the prior, as in the naive baseline.

    Every size is bounded (`check`), so a hostile ``model_args`` is refused before a
    network is built from it.
    """

    pool: int = 1
    input_transform: str = "raw"
    embed: int = 16
    hidden: int = 32
    head: int = 16
    memory_days: float = 1000.0
    out_scale: float = 10.0
    days: int = 30
    channels: int = 32
    layers: int = 3
    class_weight: float = 1000.0
    prior_shift: float | None = None
    calibrate: bool = True
    alpha: float = 0.5

    def check(self) -> None:
        f = "model_args."
        self.pool = v.check_int(self.pool, f + "pool", 1, MAX_POOL)
        self.input_transform = v.check_choice(
            self.input_transform, f + "input_transform", TRANSFORMS
        )
        self.embed = v.check_int(self.embed, f + "embed", 1, MAX_WIDTH)
        self.hidden = v.check_int(self.hidden, f + "hidden", 1, MAX_WIDTH)
        self.head = v.check_int(self.head, f + "head", 1, MAX_WIDTH)
        self.memory_days = v.check_float(self.memory_days, f + "memory_days", 1.0, 1e6)
        self.out_scale = v.check_float(self.out_scale, f + "out_scale", 0.0, 1e4, lo_open=True)
        self.days = v.check_int(self.days, f + "days", 1, 366)
        self.channels = v.check_int(self.channels, f + "channels", 1, MAX_WIDTH)
        self.layers = v.check_int(self.layers, f + "layers", 1, 16)
        self.class_weight = v.check_float(
            self.class_weight, f + "class_weight", 0.0, 1e9, lo_open=True
        )
        self.prior_shift = v.optional(
            v.check_float, self.prior_shift, f + "prior_shift", -100.0, 100.0
        )
        self.calibrate = v.check_bool(self.calibrate, f + "calibrate")
        self.alpha = v.check_float(self.alpha, f + "alpha", 0.0, 1000.0)

    def check_grid(self, ny: int, nx: int) -> None:
        if self.pool > max(ny, nx):
            raise ModelError(f"model_args.pool: {self.pool} exceeds the grid ({ny} x {nx} cells)")

    @property
    def shift(self) -> float:
        """``c``, the constant added to the base logit."""
        return math.log(self.class_weight) if self.prior_shift is None else self.prior_shift

    @property
    def out_offset(self) -> float:
        """Added to ``z`` for the reported probability (exactly 0.0 for the default c)."""
        return self.shift - (math.log(self.class_weight) if self.calibrate else 0.0)
