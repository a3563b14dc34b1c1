"""Benchmark of the streaming operating curve (quake.metrics.curves.OperatingCurve).

A seeded synthetic test set of N pairs (default 50 M, float32 logit-normal probabilities,
~1:1000 positives drawn from them, float64 reference weights) is built first (not timed).
Then:

  update      fill a curve from chunks of 4 M pairs (unweighted, then weighted)
  counts_at   one threshold query on the filled curve (timeit over many calls)
  raw recount the same confusion counts from the raw arrays: (p >= t) & y on all N pairs
  areas       roc_auc() + pr_auc() from the curve; sklearn on the first 5 M raw pairs

Goals: update <= 50 ns per pair, one counts_at query < 1 ms. Runs in well under a minute
on 2 cores with ~1.2 GB of memory at N = 50 M.

Usage: ``.venv/bin/python bench/bench_metrics.py [--pairs N]`` (exit code 1 when a goal is missed).
"""

from __future__ import annotations

import argparse
import sys
import time
import timeit
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from quake.metrics.scores import OperatingCurve, exact_scores  # noqa: E402

CHUNK = 4_000_000
GOAL_NS_PER_PAIR = 50.0
GOAL_QUERY_MS = 1.0


def synthetic(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(y, p, w): bool labels, float32 probabilities, float64 weights; each shape (n,)."""
    rng = np.random.default_rng(seed)
    y = np.empty(n, dtype=bool)
    p = np.empty(n, dtype=np.float32)
    w = np.empty(n, dtype=np.float64)
    for a in range(0, n, CHUNK):
        b = min(a + CHUNK, n)
        z = rng.normal(-9.0, 2.0, b - a)
        q = 1.0 / (1.0 + np.exp(-z))
        p[a:b] = q
        y[a:b] = rng.random(b - a) < q
        w[a:b] = 1.0 / (1.0 + np.exp(-(z + rng.normal(0.0, 1.0, b - a))))
    return y, p, w


def fill(y: np.ndarray, p: np.ndarray, w: np.ndarray | None) -> tuple[OperatingCurve, float]:
    """A curve filled chunk by chunk, and the seconds it took."""
    t0 = time.perf_counter()
    curve = OperatingCurve.empty()
    for a in range(0, len(y), CHUNK):
        curve.update(y[a : a + CHUNK], p[a : a + CHUNK], None if w is None else w[a : a + CHUNK])
    return curve, time.perf_counter() - t0


def raw_counts(y: np.ndarray, p: np.ndarray, t: float) -> tuple[int, int, int, int]:
    """TP, FN, FP, TN of "alarm = p >= t" straight from the arrays."""
    alarm = p >= np.float32(t)
    tp = int(np.count_nonzero(alarm & y))
    n_alarm = int(np.count_nonzero(alarm))
    n_pos = int(np.count_nonzero(y))
    return tp, n_pos - tp, n_alarm - tp, len(y) - n_pos - (n_alarm - tp)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=50_000_000)
    n = ap.parse_args().pairs

    t0 = time.perf_counter()
    y, p, w = synthetic(n)
    print(
        f"synthetic set: {n:,} pairs, {int(y.sum()):,} positive "
        f"(built in {time.perf_counter() - t0:.1f} s, not timed below)"
    )

    curve, t_fill = fill(y, p, None)
    wcurve, t_wfill = fill(y, p, w)

    t = 0.1  # a protocol threshold, hence an exact bin edge
    c = curve.counts_at(t)
    assert (c["tp"], c["fn"], c["fp"], c["tn"]) == raw_counts(y, p, t), "curve and raw disagree"
    n_q = 20_000
    q_s = timeit.timeit(lambda: curve.counts_at(t), number=n_q) / n_q
    many = np.linspace(1e-5, 0.5, 1000)
    qv_s = timeit.timeit(lambda: curve.counts_at(many), number=200) / 200
    raw_s = min(timeit.repeat(lambda: raw_counts(y, p, t), number=1, repeat=3))

    t_areas = timeit.timeit(lambda: (curve.roc_auc(), curve.pr_auc()), number=100) / 100
    m = min(n, 5_000_000)
    t1 = time.perf_counter()
    exact_scores(y[:m], p[:m])
    t_skl = time.perf_counter() - t1

    rows = [
        ("update, unweighted", f"{t_fill:8.2f} s", f"{t_fill / n * 1e9:6.1f} ns/pair"),
        ("update, weighted", f"{t_wfill:8.2f} s", f"{t_wfill / n * 1e9:6.1f} ns/pair"),
        ("counts_at(0.1), one query", f"{q_s * 1e6:8.1f} us", ""),
        ("counts_at, 1000 thresholds", f"{qv_s * 1e6:8.1f} us", ""),
        (
            f"raw recount (p >= t) on {n // 10**6} M",
            f"{raw_s * 1e3:8.1f} ms",
            f"x{raw_s / q_s:,.0f} slower than counts_at",
        ),
        ("roc_auc + pr_auc from curve", f"{t_areas * 1e3:8.2f} ms", ""),
        (f"sklearn exact on first {m // 10**6} M", f"{t_skl:8.2f} s", ""),
    ]
    print(f"{'step':<34}{'time':>12}  note")
    for name, tm, note in rows:
        print(f"{name:<34}{tm:>12}  {note}")
    print(
        f"curve roc_auc {curve.roc_auc():.5f}, pr_auc {curve.pr_auc():.5f}; "
        f"to_dict nonzero bins: {len(curve.to_dict()['negative']['bin'])} negative"
    )

    ok = t_fill / n * 1e9 <= GOAL_NS_PER_PAIR and q_s * 1e3 < GOAL_QUERY_MS
    print("goals met" if ok else "GOAL MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
