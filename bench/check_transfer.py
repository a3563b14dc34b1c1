"""`quake.models.transfer.to_device` on a GPU: the copy is right and the host does not wait.

A CPU test can only check the CPU path (a plain copy). On CUDA this queues a long kernel
(``torch.cuda._sleep``), then copies a training step's inputs (2 streams x 30 days of the
paper grid, float32) with `to_device` and, for comparison, with a plain ``.to(device)``,
and prints JSON: the host's seconds for each copy (``to_device`` should return long
before the queued kernel ends, the plain copy only after it), and whether the copied
values equal the source after a synchronize, also when the source array is overwritten
right after the call (the pinned staging copy must have been taken).

Usage: ``python bench/check_transfer.py --device cuda``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--sleep-cycles", type=int, default=2_000_000_000)
    args = ap.parse_args()

    import numpy as np
    import torch

    from quake.models.transfer import to_device

    dev = torch.device(args.device)
    rng = np.random.default_rng(0)
    src = rng.random((2, 30, 200, 250), dtype=np.float32)
    out: dict = {"device": str(dev)}
    cuda = dev.type == "cuda"
    if cuda:
        out["gpu"] = torch.cuda.get_device_name(dev)
        torch.cuda.synchronize(dev)

    def timed(copy) -> tuple[float, float, object]:
        if cuda:
            torch.cuda._sleep(args.sleep_cycles)  # ~1 s of queued GPU work
        t0 = time.perf_counter()
        t = copy()
        host = time.perf_counter() - t0
        if cuda:
            torch.cuda.synchronize(dev)
        return host, time.perf_counter() - t0, t

    want = src.copy()
    host, total, t = timed(lambda: to_device(src, dev))
    if cuda:  # overwritten at once: the copy must hold the old values (a CPU shares them)
        src[:] = -1.0
    out["to_device_host_s"], out["to_device_total_s"] = round(host, 4), round(total, 4)
    out["to_device_values_equal"] = bool(np.array_equal(t.cpu().numpy(), want))
    src[:] = want
    host, total, t = timed(lambda: torch.from_numpy(src).to(dev))
    out["plain_host_s"], out["plain_total_s"] = round(host, 4), round(total, 4)
    out["plain_values_equal"] = bool(np.array_equal(t.cpu().numpy(), want))
    out["host_did_not_wait"] = out["to_device_host_s"] < 0.5 * out["to_device_total_s"]
    print(json.dumps(out, indent=1))
    return 0 if out["to_device_values_equal"] and out["plain_values_equal"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
