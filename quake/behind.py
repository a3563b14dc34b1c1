"""Host work one block behind the forecasts, in one background thread.

A scoring run alternates two kinds of work per block of forecast days: the model makes the
block (a net on a GPU, or torch's convolutions on the CPU), then the host bins its scores
into the operating curves (numpy, one thread). Done one after the other, a run takes the
sum of both; `Behind` runs the host's part of block ``i`` while the model makes block
``i + 1``, so it takes about the longer of the two.

Order and results do not change: one worker runs the submitted calls in the order given,
so every curve sees its blocks in the same order and its floating-point sums are the
same to the last bit (tests/test_counting.py). Submitting waits while ``depth`` calls are
still queued, so memory stays at a few blocks. An exception in the worker is raised in
the caller's thread at its next `submit` or at `finish`; leaving the ``with`` block on an
exception (a cancel, Ctrl-C) drops the calls not yet started and waits for the running
one. Progress events, cancels and signals stay in the caller's thread: the worker only
runs the given functions, which must not touch what the caller changes meanwhile (the
blocks handed over are new arrays; `quake.models.base.Forecaster.predict_days` says so).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any

__all__ = ["Behind"]


class Behind:
    """Calls run in order in one worker thread, at most ``depth`` waiting.

    ``enabled=False`` runs each call at once in the caller's thread (the same results;
    a benchmark's "before")."""

    def __init__(self, depth: int = 2, enabled: bool = True, name: str = "quake-behind") -> None:
        if depth < 1:
            raise ValueError("depth must be at least 1")
        self.depth = depth
        self.enabled = enabled
        self._name = name
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[Future] = deque()

    def __enter__(self) -> Behind:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if kind is None:
            self.finish()
        else:
            self.abandon()

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` after the calls submitted before it."""
        if not self.enabled:
            fn(*args)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self._name)
        while len(self._pending) >= self.depth:
            self._pending.popleft().result()  # re-raises the worker's exception here
        self._pending.append(self._pool.submit(fn, *args))

    def finish(self) -> None:
        """Wait for every call; raise the first exception one of them raised."""
        try:
            while self._pending:
                self._pending.popleft().result()
        except BaseException:
            self.abandon()
            raise
        self._close()

    def abandon(self) -> None:
        """Drop the calls not started, wait for the running one, ignore their results."""
        for f in self._pending:
            f.cancel()
        self._pending.clear()
        self._close()

    def _close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
