"""Torch modules of the paper's neural forecasters (Kail, Zaytsev & Burnaev, III-D, Fig. 3).

Every net maps a window of daily heat maps to one logit difference per day and cell::

    x      float (B, T + lag, h, w)   transformed heat maps (see `quake.models.neural`)
    delta  float (B, T, h, w)         class-1 logit minus class-0 logit of the 2-class head

``lag`` is the number of extra leading days a net needs (``days - 1`` for the CNN, 0 for
the recurrent net, which carries a state instead). A 2-class softmax equals the sigmoid of
the logit difference, so the heads have 2 output channels like the paper's and the nets
return ``logit_1 - logit_0``: the residual prior (paper III-E) and the weighted loss are
then well-posed in one logit (`quake.models.neural`).

Activations are ELU, never ReLU: with ReLU in the head the units died and the model stayed
at the prior (docs NOTES.md).

References: Shi, X. et al. (2015), Convolutional LSTM network: a machine learning approach
for precipitation nowcasting, NeurIPS. Tallec, C. & Ollivier, Y. (2018), Can recurrent
neural networks warp time?, ICLR ("chrono" initialisation of the gate biases).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import numpy as np
import torch
from scipy import ndimage
from torch import Tensor, nn

from quake import settings

log = logging.getLogger(__name__)

State = tuple[Tensor, Tensor] | None
"""ConvLSTM state ``(hidden, cell)``, each float (B, hidden, h, w); None for a fresh start."""

SPARSE_MIN_CELLS = 10_000
"""Grids from this many cells compute a day's input gates near its events only on a CPU
(`ConvLSTMNet._input_gates_sparse`): 1.9x faster for the paper preset's 200 x 250 cells,
0.93x for the quick preset's 50 x 63 (docs/FORECAST_SPEED.md)."""


def cell_update(gx: Tensor, gh: Tensor, c: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """One day of the ConvLSTM cell from its gate pre-activations ``gx + gh`` (B, 4 hidden,
    h, w) and the cell state c (float32): ``(h, c, h in gx's dtype)``.

    The update is float32 even under bf16 autocast: a forget gate of 0.999 is 1.0 in bf16,
    which would turn a long memory into an unbounded sum. The third output is the hidden
    state in the dtype of the convolutions (bf16 under autocast, else h itself): the next
    day's ``gates_h`` and the head take it without a cast of their own. Compiled
    (`fused_cell_update`), the casts, the four gates and both states are one kernel
    forward and one backward instead of about a dozen."""
    g = gx.float() + gh.float()
    i, f, o, n = g.chunk(4, 1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(n)
    h = torch.sigmoid(o) * torch.tanh(c)
    return h, c, h.to(gx.dtype)


_FUSED: dict[str, Callable | None] = {}
"""The compiled `cell_update` (key ``"cell"``), None after compiling failed in ``auto``."""


def fused_cell_update(device: torch.device) -> Callable | None:
    """`cell_update` compiled by ``torch.compile`` where ``$QUAKE_FUSED_CELL`` asks for it
    on ``device`` (``auto``: CUDA only; ``on``: every device; ``off``, the default: never),
    else None (run it eagerly).

    The profile of the paper preset on an H200 found the GPU idle most of a training step,
    waiting for the host to launch each day's small kernels, and a third of its work in
    dtype casts (docs/NEURAL.md); this makes each day's update one kernel. Shapes are
    static (one compilation per batch size, dtype and grad mode). Not yet measured on a
    GPU (`scripts/gpu_speed.sh` does that), hence off by default."""
    mode = settings.fused_cell()
    if mode == "off" or (mode == "auto" and device.type != "cuda"):
        return None
    if "cell" not in _FUSED:
        from torch._functorch import config as cfg

        if hasattr(cfg, "force_non_lazy_backward_lowering"):
            # The backward compiled with the forward, under dynamo's compile lock: the
            # dashboard runs trainings in threads, and a lazily compiled backward has no
            # lock of its own (two threads could compile it at once).
            cfg.force_non_lazy_backward_lowering = True
        _FUSED["cell"] = torch.compile(cell_update, dynamic=False, fullgraph=True)
    return _FUSED["cell"]


def _run_cell(fused: Callable | None, gx: Tensor, gh: Tensor, c: Tensor):
    """`cell_update` through ``fused`` when given; in ``auto`` mode a failed compilation
    (no Triton, no C compiler) is logged once and the eager update used from then on."""
    if fused is not None and _FUSED.get("cell") is not None:
        try:
            return fused(gx, gh, c)
        except Exception as exc:  # noqa: BLE001 - any backend failure: fall back, once
            if settings.fused_cell() == "on":
                raise
            log.warning("compiled ConvLSTM cell unavailable (%s); running it eagerly", exc)
            _FUSED["cell"] = None
    return cell_update(gx, gh, c)


def _head(c_in: int, c_mid: int) -> nn.Sequential:
    """3x3 conv + ELU + 1x1 conv to the two class logits.

    The last conv starts at zero: an untrained net outputs delta = 0, so a residual model
    starts exactly at its prior (the gradient of that layer is not zero, so it learns).
    """
    out = nn.Conv2d(c_mid, 2, 1)
    nn.init.zeros_(out.weight)
    nn.init.zeros_(out.bias)
    return nn.Sequential(nn.Conv2d(c_in, c_mid, 3, padding=1), nn.ELU(), out)


def _diff(logits: Tensor) -> Tensor:
    """(N, 2, h, w) class logits -> (N, h, w) class-1 minus class-0."""
    return logits[:, 1] - logits[:, 0]


class CNNNet(nn.Module):
    """A stack of 3x3 convolutions over the last ``days`` heat maps (channels = days).

    The paper's "CNN": no state; each forecast day sees ``days`` maps ending on that day.
    """

    def __init__(
        self,
        days: int = 30,
        channels: int = 32,
        layers: int = 3,
        head: int = 16,
        out_scale: float = 1.0,
    ):
        super().__init__()
        self.out_scale = out_scale
        self.lag = days - 1
        self.days = days
        convs: list[nn.Module] = []
        c_in = days
        for _ in range(layers):
            convs += [nn.Conv2d(c_in, channels, 3, padding=1), nn.ELU()]
            c_in = channels
        self.body = nn.Sequential(*convs)
        self.head = _head(channels, head)

    def forward(self, x: Tensor, state: State = None) -> tuple[Tensor, State]:
        """x (B, T + days - 1, h, w) -> delta (B, T, h, w); the state passes through (None)."""
        b, n, h, w = x.shape
        t = n - self.lag
        win = x.unfold(1, self.days, 1)  # (B, T, h, w, days): day k's window ends at k + lag
        win = win.permute(0, 1, 4, 2, 3).reshape(b * t, self.days, h, w)
        out = _diff(self.head(self.body(win.contiguous()))) * self.out_scale
        return out.reshape(b, t, h, w), None


class ConvLSTMNet(nn.Module):
    """Conv embedding -> ConvLSTM cell -> conv head (paper Fig. 3; Shi et al. 2015).

    Per day t: ``e_t = embed(x_t)`` (``embed`` channels), gates
    ``[i, f, o, g] = W_x * e_t + W_h * h_{t-1} + b`` with 3x3 convolutions (the conv over
    the concatenation ``[e_t, h_{t-1}]`` split in two, which is the same linear map but lets
    ``W_x * e`` run for all T days at once), ``c_t = f c_{t-1} + i g``,
    ``h_t = o tanh(c_t)``; ``delta_t = head(h_t)``. Hidden and cell state: ``hidden``
    channels at the (coarse) grid size.

    The forget-gate biases get a chrono initialisation (Tallec & Ollivier 2018): bias
    ``log u`` with u log-uniform in [1, memory_days - 1] per channel, so channels start with
    memories from a day to ``memory_days`` (aftershock rates decay over years). Unlike
    chrono, the input gate starts half open (bias 0), not at ``-log u``: the input is a
    sparse train of events, not a steady signal, and each event should enter the state.
    ``out_scale`` multiplies the head's output (see `quake.models.neural.NeuralConfig`).
    """

    sparse_inference = True
    """Inference on a CPU computes each day's input gates near its events only
    (`_input_gates_sparse`, grids of `SPARSE_MIN_CELLS` or more); False: one batched
    convolution, as in training (a benchmark's "before")."""

    def __init__(
        self,
        embed: int = 16,
        hidden: int = 32,
        head: int = 16,
        memory_days: float = 1000.0,
        out_scale: float = 1.0,
    ):
        super().__init__()
        self.out_scale = out_scale
        self.lag = 0
        self.hidden = hidden
        # No biases in the embedding and zero gate biases (but the forget gate's): a day
        # without events embeds to exactly 0, so a quiet region keeps a zero state and the
        # state holds only what events put there (no constant drift to saturate the cell).
        self.embed = nn.Sequential(
            nn.Conv2d(1, embed, 3, padding=1, bias=False),
            nn.ELU(),
            nn.Conv2d(embed, embed, 3, padding=1, bias=False),
            nn.ELU(),
        )
        self.gates_x = nn.Conv2d(embed, 4 * hidden, 3, padding=1)
        self.gates_h = nn.Conv2d(hidden, 4 * hidden, 3, padding=1, bias=False)
        self.head = _head(hidden, head)
        self._chrono(memory_days)

    @torch.no_grad()
    def _chrono(self, memory_days: float) -> None:
        hd = self.hidden
        b = self.gates_x.bias
        b.zero_()
        if memory_days > 2:
            # log-uniform memories: as many channels per decade of days
            u = torch.exp(torch.empty(hd).uniform_(0.0, math.log(memory_days - 1.0)))
            b[hd : 2 * hd] = torch.log(u)  # forget gate

    def zero_state(self, b: int, h: int, w: int, like: Tensor) -> tuple[Tensor, Tensor]:
        z = like.new_zeros((b, self.hidden, h, w))
        return z, z.clone()

    def forward(self, x: Tensor, state: State = None) -> tuple[Tensor, State]:
        """x (B, T, h, w) -> delta (B, T, h, w) and the state after the last day."""
        b, t, h, w = x.shape
        outs: list[Tensor] = []
        hs, cs = self._steps(x, state, outs)
        if self._sparse(x):  # one day at a time: a (T, 32, h, w) batch is memory-bound here
            delta = torch.stack([_diff(self.head(o)) for o in outs], 1) * self.out_scale
            return delta, (hs, cs)
        seq = torch.stack(outs, 1).reshape(b * t, self.hidden, h, w)
        delta = _diff(self.head(seq)) * self.out_scale
        return delta.reshape(b, t, h, w), (hs, cs)

    def _sparse(self, x: Tensor) -> bool:
        """Whether `sparse_inference` applies: no gradients, a CPU, a large grid."""
        return (
            self.sparse_inference
            and not torch.is_grad_enabled()
            and x.device.type == "cpu"
            and x.shape[-2] * x.shape[-1] >= SPARSE_MIN_CELLS
        )

    def advance(self, x: Tensor, state: State = None) -> tuple[Tensor, Tensor]:
        """The state after days x (B, T, h, w), without the head (a warm-up run)."""
        return self._steps(x, state, None)

    def _steps(self, x: Tensor, state: State, outs: list[Tensor] | None) -> tuple[Tensor, Tensor]:
        b, t, h, w = x.shape
        hs, cs = state if state is not None else self.zero_state(b, h, w, x)
        sparse = self._sparse(x)
        if sparse:
            # channels-last: oneDNN's 3x3 convolution of the state without a reorder each day
            hs, cs = (s.contiguous(memory_format=torch.channels_last) for s in (hs, cs))
            days = (self._input_gates_sparse(x[:, k]) for k in range(t))
        else:  # training, or a GPU: every day's input gates in one batched convolution
            # day-major (T, B): each day's gates are one contiguous block whose strides do
            # not depend on T (a compiled cell update is compiled once, not per chunk length)
            xt = x.transpose(0, 1).reshape(t * b, 1, h, w)
            gx = self.gates_x(self.embed(xt))
            # unbind, not gx[k]: the backward of T selects would fill T full-size zeros.
            days = ((gk, None) for gk in gx.reshape(t, b, 4 * self.hidden, h, w).unbind(0))
        fused = None if sparse else fused_cell_update(x.device)
        h_conv = hs  # the hidden state as the convolutions take it (`cell_update`)
        for gk, pieces in days:
            if pieces is None:
                hs, cs, h_conv = _run_cell(fused, gk, self.gates_h(h_conv), cs)
            else:
                hs, cs = self._update_in_place(hs, cs, gk, pieces)
                h_conv = hs
            if outs is not None:
                outs.append(h_conv)
        if sparse:
            hs, cs = hs.contiguous(), cs.contiguous()
        return hs, cs

    def _update_in_place(
        self, hs: Tensor, cs: Tensor, bias: Tensor, pieces: list
    ) -> tuple[Tensor, Tensor]:
        """One day's cell update without gradients: the same arithmetic as the batched path
        (to float rounding), on one gates tensor updated in place (fewer 25 MB temporaries,
        one sigmoid over all four gates). ``tanh(x) = 2 sigmoid(2x) - 1``: torch's CPU tanh
        is ~4x slower than its sigmoid; the identity differs from it by ~1e-7 (absolute).
        ``hs`` and ``cs`` are not changed."""
        hd = self.hidden
        g = self.gates_h(hs).float()
        near = [((ys, xs), v + g[:, :, ys, xs]) for (ys, xs), v in pieces]
        g.add_(bias)
        for (ys, xs), v in near:
            g[:, :, ys, xs] = v
        g[:, 3 * hd :].mul_(2.0)
        g.sigmoid_()
        i, f, o, c_new = torch.split(g, hd, dim=1)
        c_new.mul_(2.0).sub_(1.0)  # tanh(x) = 2 sigmoid(2x) - 1
        cs = (f * cs).addcmul_(i, c_new)
        t = (2.0 * cs).sigmoid_().mul_(2.0).sub_(1.0)
        return t.mul_(o), cs

    def _input_gates_sparse(self, x: Tensor) -> tuple[Tensor, list]:
        """One day's input gates ``W_x * embed(x) + b`` for x (B, h, w), computed only
        where they are not the bias: a cell without events within 3 cells embeds to 0
        (three 3x3 convolutions, no biases before the gates). Returns the bias
        (1, 4 hidden, 1, 1) and ``[((rows, cols), gates of those cells)]``, each piece
        computed on its box widened by 3 cells, so exactly as on the whole grid.

        Inference on a CPU only (`_sparse`): one batched convolution of every day's input
        gates is memory-bound there (a (T, 128, h, w) tensor), and most of a day's grid has
        no event near it; with `_update_in_place` a paper-preset day runs 2.4-2.6x faster
        (`bench/bench_recurrent_step.py`, docs/FORECAST_SPEED.md)."""
        bias = self.gates_x.bias.view(1, -1, 1, 1).float()
        active = (x != 0).any(0).cpu().numpy()
        if not active.any():
            return bias, []
        h, w = active.shape
        rows, cols = np.nonzero(active)
        if len(rows) > 256:  # a dense input
            near = ndimage.binary_dilation(active, np.ones((7, 7), bool))
        else:  # a few events: mark the 7 x 7 around each
            near = np.zeros_like(active)
            for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
                near[max(r - 3, 0) : r + 4, max(c - 3, 0) : c + 4] = True
        labels, _ = ndimage.label(near, np.ones((3, 3), int))
        pieces = []
        for ys, xs in ndimage.find_objects(labels):
            y0, y1 = max(ys.start - 3, 0), min(ys.stop + 3, h)
            x0, x1 = max(xs.start - 3, 0), min(xs.stop + 3, w)
            crop = x[:, None, y0:y1, x0:x1]
            v = self.gates_x(self.embed(crop)).float()
            v = v[:, :, ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0]
            pieces.append(((ys, xs), v))
        return bias, pieces


def output_layer(net: nn.Module) -> nn.Conv2d:
    """The last convolution (the 2-class logits): its biases start the model at its base."""
    layer = net.head[-1]
    assert isinstance(layer, nn.Conv2d)
    return layer
