"""Training on several processes (GPUs or machines) with `torch.distributed`, as set up by
``torchrun``: the ranks, the process group, and the few collectives the trainer needs.

One run of ``torchrun --nproc-per-node N [--nnodes M ...] -m quake train ...`` starts
``N x M`` processes; each reads ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` from its
environment (`Ranks.from_env`). The trainer (`quake.models.training.fit_network`) then

- splits the training streams across the ranks (`shard`: rank r runs a contiguous block of
  ``streams / world`` streams), wraps the net in ``DistributedDataParallel`` (gradients
  averaged over the ranks; each rank's loss is scaled so that the average equals the
  one-process loss of the whole global batch);
- gathers the streams' recurrent states after each epoch (`gather_streams`), so the next
  epoch's hand-over (stream s starts from where s - 1 ended) crosses ranks, and rank 0
  can validate from the last stream and checkpoint every stream;
- scores validation on rank 0 only and broadcasts its numbers and the epoch plan
  (`broadcast`, a tensor: nothing is pickled): every rank keeps the same best epoch and
  stops at the same epoch;
- sums each step's loss over the ranks together with their cancel flags, in one
  all-reduce started after the step and read later (`StepTotals`): every rank stops at the
  same step when any asks, and on a GPU no rank waits for the collective before queueing
  its next step.

The backend is gloo on a CPU and NCCL on CUDA devices (`backend_for`). Without
``WORLD_SIZE`` (or with 1) nothing here is used and training is one process.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from quake.errors import ModelError

__all__ = [
    "Ranks",
    "StepTotals",
    "backend_for",
    "barrier",
    "broadcast",
    "finish",
    "gather_streams",
    "shard",
    "start",
]


@dataclass(frozen=True)
class Ranks:
    """This process's place: ``rank`` of ``world`` processes, ``local`` on its machine."""

    rank: int = 0
    world: int = 1
    local: int = 0

    @property
    def main(self) -> bool:
        """Rank 0: the one that validates, writes checkpoints and saves the model."""
        return self.rank == 0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Ranks:
        """The ranks torchrun sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``); one process
        without them. A `ModelError` for values that are not consistent integers."""
        env = dict(os.environ if env is None else env)
        try:
            world = int(env.get("WORLD_SIZE", "1"))
            rank = int(env.get("RANK", "0"))
            local = int(env.get("LOCAL_RANK", str(rank)))
        except ValueError:
            raise ModelError(
                "RANK, WORLD_SIZE and LOCAL_RANK must be integers (as torchrun sets them)"
            ) from None
        if world < 1 or not 0 <= rank < world or local < 0:
            raise ModelError(f"inconsistent ranks: RANK={rank}, WORLD_SIZE={world}")
        return cls(rank, world, local)


def current() -> Ranks:
    """The ranks of the initialised process group (one process when there is none)."""
    if not (dist.is_available() and dist.is_initialized()):
        return Ranks()
    return Ranks(dist.get_rank(), dist.get_world_size(), Ranks.from_env().local)


def backend_for(device: str | torch.device) -> str:
    """``nccl`` for CUDA devices, ``gloo`` otherwise."""
    return "nccl" if torch.device(device).type == "cuda" else "gloo"


def device_for(device: str, ranks: Ranks) -> str:
    """A rank's own device: ``cuda`` becomes ``cuda:<local rank>``; others are kept."""
    dev = torch.device(device)
    if dev.type == "cuda" and dev.index is None and ranks.world > 1:
        return f"cuda:{ranks.local}"
    return device


def start(device: str = "cpu", ranks: Ranks | None = None) -> Ranks:
    """Join the process group torchrun describes (env:// rendezvous); a no-op for one process.

    ``MASTER_ADDR``/``MASTER_PORT`` come from torchrun. Returns this process's ranks.
    """
    ranks = ranks or Ranks.from_env()
    if ranks.world == 1 or dist.is_initialized():
        return ranks if ranks.world > 1 else Ranks()
    if not dist.is_available():
        raise ModelError("this torch build has no torch.distributed")
    backend = backend_for(device)
    if backend == "nccl":
        torch.cuda.set_device(ranks.local)
    try:
        dist.init_process_group(backend, rank=ranks.rank, world_size=ranks.world)
    except (RuntimeError, ValueError) as err:
        raise ModelError(f"could not join the process group ({backend}): {err}") from None
    return ranks


def finish() -> None:
    """Leave the process group (if one was joined), all ranks together: a gloo rank that
    tore its group down while rank 0 was still writing the model once aborted ("terminate
    called without an active exception", one CI run of `tests/test_distributed.py`), and
    it happened once more with the barrier (stop 24). The DistributedDataParallel wrapper
    holds the group in reference cycles, so it was freed only while the interpreter shut
    down, with gloo's threads still holding work: collected here, while it is alive."""
    if dist.is_available() and dist.is_initialized():
        gc.collect()
        dist.barrier()
        dist.destroy_process_group()
        gc.collect()


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def shard(n: int, ranks: Ranks) -> range:
    """The contiguous block of ``n`` items (streams, seeds' turns) that ``ranks.rank`` runs.

    ``n`` must be a multiple of the world size, so every rank's batch has the same size.
    """
    if n % ranks.world:
        raise ModelError(
            f"{n} training streams cannot be split evenly over {ranks.world} processes; "
            f"set --train-args '{{\"streams\": {ranks.world * max(1, n // ranks.world)}}}' "
            "(a multiple of the number of processes)"
        )
    k = n // ranks.world
    return range(ranks.rank * k, (ranks.rank + 1) * k)


def gather_streams(
    state: tuple[torch.Tensor, ...] | None, ranks: Ranks
) -> tuple[torch.Tensor, ...] | None:
    """Every rank's streams of a recurrent state, concatenated in rank order (dim 0)."""
    if state is None or ranks.world == 1:
        return state
    out = []
    for s in state:
        parts = [torch.empty_like(s) for _ in range(ranks.world)]
        dist.all_gather(parts, s.contiguous())
        out.append(torch.cat(parts))
    return tuple(out)


def broadcast(values: list[float], ranks: Ranks, device: torch.device, src: int = 0) -> list[float]:
    """Rank ``src``'s numbers on every rank (float64; a tensor, never a pickled object)."""
    if ranks.world == 1:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.broadcast(t, src=src)
    return [float(x) for x in t.cpu().tolist()]


class StepTotals:
    """One training step's loss of the whole global batch and whether any rank asked to
    stop, summed over the ranks by a single all-reduce that starts at once and is read
    later (`result`).

    Started right after a step is queued, the collective runs behind it (NCCL on the
    device's own stream order, gloo on its own thread); reading it is the only wait. The
    trainer reads it once the next step is queued on a GPU (the host never idles the
    device), at once elsewhere. Every rank starts the same collectives in the same order
    (DDP's gradient buckets, then this), as a process group requires. With one process
    there is no collective: the loss and the flag are read as they are.

    ``loss`` is this rank's scaled part (`fit_network` multiplies by the world size so that
    DDP's averaged gradient is the global batch's); ``/ world`` undoes that before the sum.
    """

    def __init__(self, loss: torch.Tensor, stop: bool, ranks: Ranks):
        part = loss.detach().float().reshape(()) / ranks.world
        flag = torch.full((), float(stop), dtype=part.dtype, device=part.device)  # no copy
        self._values = torch.stack([part, flag])
        self._work = dist.all_reduce(self._values, async_op=True) if ranks.world > 1 else None

    def result(self) -> tuple[float, bool]:
        """``(global loss, any rank asked to stop)``; waits for the collective and the step."""
        if self._work is not None:
            self._work.wait()
        loss, stops = self._values.cpu().tolist()
        return float(loss), stops > 0
