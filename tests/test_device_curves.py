"""Scores binned on the torch device (`quake.models.device_curves`) and probabilities made
there (`NeuralForecaster.predict_days`): the same numbers as the host's numpy path.

The device path is what a GPU uses (issue #14); here it runs on the CPU, which is enough to
check that it counts every score into the same bin as `BinDesign.bin_index`."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from quake.errors import MetricsError
from quake.metrics.bins import DEFAULT_DESIGN, BinDesign
from quake.metrics.curves import OperatingCurve
from quake.models import create
from quake.models.device_curves import DeviceCurve, bin_index
from quake.models.nets import output_layer
from quake.models.training import validate
from tests.test_neural import TINY, _data

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _hard_scores(design: BinDesign, n_random: int = 200_000) -> np.ndarray:
    """float32 scores on, just below and just above every edge, the tails, 0, 1, and
    random logits over a wider range than the bins cover."""
    e = design.edges[1:-1].astype(np.float32)
    rng = np.random.default_rng(3)
    z = rng.uniform(-1.3 * design.logit_max, 1.3 * design.logit_max, n_random)
    special = [0.0, 1.0, 1e-45, 1e-30, 1e-12, 0.5, 1e-4, 0.1, 0.99, 1 - 2**-24, -0.5, 1.5]
    return np.concatenate(
        [e, np.nextafter(e, 0), np.nextafter(e, 1), special, 1 / (1 + np.exp(-z))]
    ).astype(np.float32)


SMALL = BinDesign(6.0, 40, snap=(0.1, 0.5))


@pytest.mark.parametrize("design", [DEFAULT_DESIGN, SMALL], ids=["default", "small"])
def test_device_bins_are_the_numpy_bins(design):
    p = _hard_scores(design)
    want = design.bin_index(p)
    got = bin_index(torch.from_numpy(p), design).numpy()
    bad = np.flatnonzero(got != want)
    assert not len(bad), f"{len(bad)} scores binned differently, e.g. p={p[bad[:3]]}"
    # float16 and float64 scores bin as the float32 value, as on the host (float16 exactly)
    h = p[np.isfinite(p.astype(np.float16))].astype(np.float16)
    np.testing.assert_array_equal(bin_index(torch.from_numpy(h), design), design.bin_index(h))


def test_a_device_curve_counts_what_an_operating_curve_counts():
    rng = np.random.default_rng(5)
    host, dev = OperatingCurve.empty(), DeviceCurve("cpu")
    for n in (1, 999, 20_000):
        p = (rng.random(n) ** 6).astype(np.float32)
        y = rng.random(n) < p  # labels as bool, then as 0/1 bytes
        for labels in (y, y.astype(np.uint8)):
            host.update(labels, p)
            dev.update(torch.from_numpy(labels), torch.from_numpy(p))
    got = dev.curve()
    np.testing.assert_array_equal(got.hist, host.hist)
    assert (got.roc_auc(), got.pr_auc()) == (host.roc_auc(), host.pr_auc())
    assert got.n_pairs == 2 * (1 + 999 + 20_000)


def test_a_device_curve_refuses_nan_and_mismatched_sizes():
    curve = DeviceCurve("cpu").update(
        torch.zeros(3, dtype=torch.bool), torch.tensor([0.1, 0.2, 0.3])
    )
    with pytest.raises(MetricsError, match="differ in size"):
        curve.update(torch.zeros(2, dtype=torch.bool), torch.zeros(3))
    curve.update(torch.zeros(2, dtype=torch.bool), torch.tensor([0.5, float("nan")]))
    with pytest.raises(MetricsError, match="NaN"):
        curve.curve()


@pytest.mark.parametrize("kind", ["cnn-resid", "convlstm-resid"])
def test_validation_scores_the_same_binned_on_the_device(kind):
    data = _data()
    model = create(kind, **TINY)
    model.set_base(data, final=False)
    torch.manual_seed(0)
    with torch.no_grad():  # a net whose output moves the scores of every cell
        torch.nn.init.normal_(output_layer(model.net).weight, std=0.3)
    events = model.coarse_events(data)
    host = validate(model, data, events, None, torch.device("cpu"), on_device=False)
    dev = validate(model, data, events, None, torch.device("cpu"), on_device=True)
    assert host == dev
    assert 0.0 < host["val_roc_auc_all"] < 1.0 and host["val_roc_auc_all"] != 0.5


def test_probabilities_made_on_the_device_equal_the_host_formula():
    """predict_days makes the 10 km probabilities with torch (float64 logits, then
    float32) where the net runs; the host's formula gave the same float32 values."""
    data = _data()
    model = create("cnn-resid", **TINY)
    model.set_base(data, final=False)
    with torch.no_grad():
        torch.nn.init.normal_(output_layer(model.net).weight, std=2.0)
        output_layer(model.net).bias.fill_(-5.0)
    got = model.predict(data, 700, 760)
    with torch.no_grad():
        model.net.eval()
        delta, _ = model.run_days(model.coarse_events(data), 700, 760, None, torch.device("cpu"))
    z = (
        model.base_logit()
        + model.config.out_offset
        + model.upsample(delta, data.grid.shape).numpy()
    )
    e = np.exp(-np.abs(z))
    want = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(np.float32)
    np.testing.assert_array_equal(got, want)
    assert got.min() < 1e-3 < got.max()  # the net moved the probabilities both ways
