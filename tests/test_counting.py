"""Counting a scoring run's pairs: one binning per block for every mask and observer
(`quake.metrics.groups`, `BinDesign.coarser`), done one block behind the model in a
worker thread (`quake.behind`). The counts must be those of counting each mask alone."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from quake.behind import Behind
from quake.data.forecast_data import ForecastData
from quake.errors import MetricsError
from quake.metrics.bins import DEFAULT_DESIGN, BinDesign
from quake.metrics.curves import OperatingCurve
from quake.metrics.groups import CellGroups
from quake.scoring.evaluate import evaluate, prior_for
from quake.scoring.scorepass import COARSE_DESIGN, BlockHistograms, score_pass

MC = 3.5


@pytest.fixture
def tiny_data(aftershock_catalog, tiny_protocol) -> ForecastData:
    return ForecastData.build(aftershock_catalog, MC, tiny_protocol)


class Random:
    """Forecasts drawn afresh for every block (seeded): log-uniform over 1e-9 .. 0.9, in
    ``dtype``, with some exact bin edges, 0 and 1 among them."""

    kind = "random"

    def __init__(self, dtype=np.float32, seed: int = 0, nan_day: int | None = None) -> None:
        self.dtype, self.seed, self.nan_day = dtype, seed, nan_day

    def predict_days(self, data, start, stop, chunk=64, **kw):
        rng = np.random.default_rng(self.seed)
        edges = np.concatenate([DEFAULT_DESIGN.edges[1:-1], COARSE_DESIGN.edges[1:-1], [0, 1]])
        for a in range(start, stop, chunk):
            n = min(chunk, stop - a)
            p = 10 ** rng.uniform(-9, np.log10(0.9), (n, *data.grid.shape))
            pick = rng.random(p.shape) < 0.05
            p[pick] = rng.choice(edges, int(pick.sum()))
            p = p.astype(self.dtype)
            if self.nan_day is not None and a <= self.nan_day < a + n:
                p[self.nan_day - a, 0, 0] = np.nan
            yield a, p


def _mask_by_mask(data: ForecastData, model, period: str) -> dict[str, OperatingCurve]:
    """The reference: every mask's pairs copied out and counted on their own."""
    start, stop = data.days(period)
    weight = prior_for(data, period).astype(np.float64)
    curves = {m: OperatingCurve.empty() for m in ("all", "active")}
    for a, p in model.predict_days(data, start, stop, 7):
        y = data.targets.dense(a, a + len(p)).astype(bool)
        for m, c in curves.items():
            k = data.mask(m)
            c.update(y[:, k], p[:, k], np.broadcast_to(weight[k], p[:, k].shape))
    return curves


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("behind", [True, False])
def test_evaluate_counts_what_each_mask_alone_counts(tiny_data, dtype, behind):
    assert 0 < tiny_data.mask("active").sum() < tiny_data.mask("all").sum()
    got = evaluate(Random(dtype), tiny_data, "test", chunk=7, behind=behind)
    want = _mask_by_mask(tiny_data, Random(dtype), "test")
    for m in want:
        assert got[m].n_pairs > 0
        np.testing.assert_array_equal(got[m].hist, want[m].hist)
        np.testing.assert_allclose(got[m].whist, want[m].whist, rtol=1e-12, atol=0)


def test_the_worker_changes_nothing_to_the_last_bit(tiny_data):
    before = threading.active_count()
    a = evaluate(Random(), tiny_data, "validation", chunk=5, behind=True)
    assert threading.active_count() == before  # the worker is gone
    b = evaluate(Random(), tiny_data, "validation", chunk=5, behind=False)
    for m in a:
        assert a[m].hist.tobytes() == b[m].hist.tobytes()
        assert a[m].whist.tobytes() == b[m].whist.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_block_histograms_from_the_fine_bins_equal_binning_each_block(tiny_data, dtype):
    blocks = BlockHistograms(tiny_data, "test", block_days=6)
    evaluate(Random(dtype), tiny_data, "test", chunk=4, observers=[blocks])
    want = {m: np.zeros_like(h) for m, h in blocks.hist.items()}
    start, stop = tiny_data.days("test")
    for a, p in Random(dtype).predict_days(tiny_data, start, stop, 4):
        y = tiny_data.targets.dense(a, a + len(p)).astype(bool)
        for d in range(len(p)):
            b = blocks.block_of(a + d)
            for m in want:
                k = tiny_data.mask(m)
                c = OperatingCurve.empty(COARSE_DESIGN).update(y[d][k], p[d][k])
                want[m][b] += c.hist
    for m in want:
        np.testing.assert_array_equal(blocks.hist[m], want[m])
    assert blocks.n_blocks > 2 and all(blocks.hist[m].sum() > 0 for m in want)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_coarse_bins_are_unions_of_fine_bins(dtype):
    to_coarse = DEFAULT_DESIGN.coarser(COARSE_DESIGN, dtype)
    assert to_coarse is not None
    rng = np.random.default_rng(3)
    edges = np.concatenate([DEFAULT_DESIGN.edges[:-1], COARSE_DESIGN.edges[:-1]]).astype(dtype)
    big = np.finfo(dtype).max
    p = np.concatenate(
        [
            edges,
            np.nextafter(edges, dtype(0)),
            np.nextafter(edges, dtype(big)),
            1 / (1 + np.exp(-rng.normal(0, 15, 200_000))),
            [0.0, 1.0],
        ]
    ).astype(dtype)
    p = np.clip(p, 0, 1)
    np.testing.assert_array_equal(
        COARSE_DESIGN.bin_index(p), to_coarse[DEFAULT_DESIGN.bin_index(p)]
    )


def test_a_design_that_does_not_refine_another_has_no_map():
    assert DEFAULT_DESIGN.coarser(BinDesign(logit_max=20.0, n_cells=641), np.float32) is None


def test_cell_groups_split_nested_and_crossing_masks():
    rng = np.random.default_rng(5)
    a = rng.random(500) < 0.6
    b = rng.random(500) < 0.3  # crosses a: four groups
    groups = CellGroups({"a": a, "b": b, "all": np.ones(500, bool)})
    assert groups.n_groups == 4
    bins = rng.integers(0, 10, (6, 500))
    y = rng.random((6, 500)) < 0.1
    w = rng.random(500)
    rows = np.array([0, 0, 1, 1, 1, 2])
    hist, whist = groups.count(bins, y, 10, w, rows=rows, n_rows=3)
    for m, h in groups.per_mask(hist).items():
        k = {"a": a, "b": b, "all": np.ones(500, bool)}[m]
        wh = groups.per_mask(whist)[m]
        for r in range(3):
            sel = rows == r
            kk = bins[sel][:, k].ravel() + 10 * y[sel][:, k].ravel()
            np.testing.assert_array_equal(h[r].ravel(), np.bincount(kk, minlength=20))
            ww = np.broadcast_to(w[k], (sel.sum(), k.sum())).ravel()
            np.testing.assert_allclose(wh[r].ravel(), np.bincount(kk, ww, minlength=20))


def test_a_nan_found_by_the_worker_is_raised_by_evaluate(tiny_data):
    start, _ = tiny_data.days("test")
    before = threading.active_count()
    with pytest.raises(MetricsError, match="NaN"):
        evaluate(Random(nan_day=start + 10), tiny_data, "test", chunk=4)
    assert threading.active_count() == before


def test_a_cancel_stops_the_run_and_its_worker(tiny_data):
    class Cancelled(Exception):
        pass

    seen = []

    def on_progress(event):
        seen.append(event)
        if len(seen) == 3:
            raise Cancelled

    before = threading.active_count()
    with pytest.raises(Cancelled):
        evaluate(Random(), tiny_data, "test", chunk=4, on_progress=on_progress)
    assert threading.active_count() == before


def test_behind_keeps_order_bounds_the_queue_and_raises_in_the_caller():
    done: list[int] = []
    gate = threading.Event()

    def slow(i: int) -> None:
        gate.wait(5)
        done.append(i)

    lane = Behind(depth=2)
    lane.submit(slow, 0)
    lane.submit(slow, 1)
    t0 = time.perf_counter()
    threading.Timer(0.3, gate.set).start()
    lane.submit(slow, 2)  # waits until call 0 is done: at most 2 queued
    assert time.perf_counter() - t0 >= 0.25
    lane.finish()
    assert done == [0, 1, 2]

    def boom(i: int) -> None:
        if i == 1:
            raise ValueError("worker failed")
        done.append(i)

    with pytest.raises(ValueError, match="worker failed"), Behind(depth=1) as lane:
        for i in range(5):
            lane.submit(boom, i)
    assert done[3:] == [0]  # the calls after the failure never ran


def test_behind_disabled_runs_in_the_callers_thread():
    names = []
    with Behind(enabled=False) as lane:
        lane.submit(lambda: names.append(threading.current_thread().name))
    assert names == [threading.current_thread().name]


def test_score_pass_is_unchanged_by_the_worker(tiny_data, monkeypatch):
    import quake.scoring.scorepass as sp

    a_curves, a = score_pass(Random(), tiny_data, "test")
    plain = sp.evaluate
    monkeypatch.setattr(sp, "evaluate", lambda *x, **k: plain(*x, behind=False, **k))
    b_curves, b = score_pass(Random(), tiny_data, "test")
    for m in a.block_hist:
        np.testing.assert_array_equal(a.block_hist[m], b.block_hist[m])
        assert a_curves[m].whist.tobytes() == b_curves[m].whist.tobytes()
    np.testing.assert_array_equal(a.target_p, b.target_p)
    for k in a.window:
        np.testing.assert_array_equal(a.window[k], b.window[k])
