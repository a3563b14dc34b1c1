"""The compiled ConvLSTM cell update against the eager one on a device (issue #14).

`tests/test_fused_cell.py` checks the two on this CPU with a small net; a GPU compiles the
update with Triton, under bf16 autocast, which only a GPU can check. This runs the paper
preset's net (``--hidden`` 32 channels on the 200 x 250 grid) over ``--days`` days of two
streams with sparse random events, forward and backward, both ways, in the training's
autocast, and prints JSON: the largest difference of the output, the end state and the
gradients, each relative to the largest value, and the time of each way.

Usage: ``python bench/check_fused_cell.py --device cuda [--days 30]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    import torch

    from quake import settings
    from quake.models import nets
    from quake.models.training import autocast

    dev = torch.device(args.device)
    torch.manual_seed(0)
    net = nets.ConvLSTMNet(embed=16, hidden=args.hidden, head=16)
    with torch.no_grad():  # the head starts at zero (an untrained net's output is its prior)
        nets.output_layer(net).weight.normal_(0.0, 0.1)
    net = net.to(dev)
    if dev.type == "cuda":
        net = net.to(memory_format=torch.channels_last)
    x = torch.zeros(2, args.days, 200, 250, device=dev)
    hit = torch.rand(x.shape, device=dev) < 2e-4  # a few events a day, as in the catalog
    x[hit] = 1.0 + 4.0 * torch.rand(int(hit.sum()), device=dev)

    def run() -> tuple[list, float]:
        times = []
        for _ in range(args.repeats):
            net.zero_grad(set_to_none=True)
            a = time.perf_counter()
            with autocast(dev):
                delta, (h, c) = net(x)
            (delta.float().square().mean() + c.square().mean()).backward()
            if dev.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - a)
        out = [delta.float(), h, c] + [p.grad for p in net.parameters()]
        return [t.detach().float().clone() for t in out], min(times[1:] or times)

    os.environ[settings.FUSED_CELL_ENV] = "off"
    eager, t_eager = run()
    os.environ[settings.FUSED_CELL_ENV] = "on"
    a = time.perf_counter()
    net.zero_grad(set_to_none=True)
    with autocast(dev):
        d, _ = net(x[:, :2])
    d.float().sum().backward()  # compiles forward and backward
    compile_s = time.perf_counter() - a
    fused, t_fused = run()
    names = ["delta", "h", "c"] + [n for n, _ in net.named_parameters()]
    rel = {
        n: float((f - e).abs().max() / e.abs().max().clamp(min=1e-30))
        for n, e, f in zip(names, eager, fused, strict=True)
    }
    print(
        json.dumps(
            {
                "device": torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu",
                "torch": torch.__version__,
                "days": args.days,
                "largest_relative_difference": max(rel.values()),
                "relative_difference": rel,
                "forward_backward_s": {"eager": round(t_eager, 4), "fused": round(t_fused, 4)},
                "compile_s": round(compile_s, 1),
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
