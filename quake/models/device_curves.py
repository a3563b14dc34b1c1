"""Operating-curve histograms counted where the scores are: on the GPU during training.

`quake.metrics.curves.OperatingCurve.update` bins numpy scores on the host. Validation after
each training epoch scores ~1,400 days x 50,000 cells x 2 masks; binned on the host, that
copies every probability off the device and costs ~47 ms of CPU per 64 days and mask
(measured on this 2-core machine), several times the net's own time per day on a GPU.
`DeviceCurve` bins on the scores' device with the same `quake.metrics.bins.BinDesign` and
keeps the counts there; only the (2, n_bins) counts come back, once, in `curve`.

The bins are exactly those of `BinDesign.bin_index` for float32 scores: the same float32
logit estimate of the bin, then the same exact comparisons with the float32-rounded edges,
which move it by at most one bin (so a last-ulp difference between the device's ``log``
and numpy's cannot change a bin). tests/test_device_curves.py compares both on edge values,
tails, 0, 1 and random scores.
"""

from __future__ import annotations

import torch
from torch import Tensor

from quake.errors import MetricsError
from quake.metrics.bins import DEFAULT_DESIGN, BinDesign
from quake.metrics.curves import OperatingCurve

__all__ = ["DeviceCurve", "bin_index"]

_TABLES: dict[tuple[BinDesign, torch.device], tuple[Tensor, Tensor]] = {}


def _tables(design: BinDesign, device: torch.device) -> tuple[Tensor, Tensor]:
    """The float32 lower and upper bin edges (rounded up, as the numpy path) on ``device``."""
    key = (design, device)
    if key not in _TABLES:
        t = design._tables
        _TABLES[key] = (
            torch.from_numpy(t["lo32"]).to(device),
            torch.from_numpy(t["hi32"]).to(device),
        )
    return _TABLES[key]


def bin_index(p: Tensor, design: BinDesign = DEFAULT_DESIGN) -> Tensor:
    """Bin of each score of ``p`` (any shape; compared as float32): flat int64 on p's device.

    NaN scores are not checked here (a check would wait for the device); `DeviceCurve`
    counts them and refuses them when the counts are read."""
    pc = p.detach().reshape(-1).to(torch.float32).clamp(0.0, 1.0)
    lo, hi = _tables(design, pc.device)
    z = torch.log(pc / (1.0 - pc))  # logit(p); -inf at 0, +inf at 1 (as numpy's)
    z = z * (1.0 / design.width) + (design.logit_max / design.width + 1.0)
    k = torch.nan_to_num(z, nan=0.0).clamp_(0.0, design.n_bins - 1).to(torch.int64)
    k -= (pc < lo[k]).to(torch.int64)
    k += (pc >= hi[k]).to(torch.int64)
    return k


class DeviceCurve:
    """Counts of negative and positive scores per bin, kept on one device.

    ``update(y, p)`` queues the work on the device (no wait); ``curve()`` brings the counts
    back as an `OperatingCurve` (and refuses NaN scores then)."""

    def __init__(self, device: torch.device | str, design: BinDesign = DEFAULT_DESIGN) -> None:
        self.design = design
        self.device = torch.device(device)
        self.counts = torch.zeros(2 * design.n_bins, dtype=torch.int64, device=self.device)
        self.nans = torch.zeros((), dtype=torch.int64, device=self.device)

    def update(self, y: Tensor, p: Tensor) -> DeviceCurve:
        """Add pairs: labels ``y`` (bool or 0/1) and probabilities ``p`` of the same size."""
        if y.numel() != p.numel():
            raise MetricsError(f"labels ({y.numel()}) and scores ({p.numel()}) differ in size")
        k = bin_index(p, self.design)
        positive = y.reshape(-1).to(device=k.device, dtype=torch.bool)
        k += positive.to(torch.int64) * self.design.n_bins
        self.counts += torch.bincount(k, minlength=2 * self.design.n_bins)
        self.nans += torch.isnan(p).sum()
        return self

    def curve(self) -> OperatingCurve:
        """The counts so far as an `OperatingCurve` (one copy off the device)."""
        if int(self.nans):
            raise MetricsError("scores contain NaN; a forecast needs a probability for every pair")
        out = OperatingCurve.empty(self.design)
        out.hist = self.counts.cpu().numpy().reshape(2, self.design.n_bins).copy()
        return out
