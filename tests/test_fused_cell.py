"""The ConvLSTM cell update compiled into one kernel (`quake.models.nets.fused_cell_update`,
issue #14): the same numbers as the eager update, forward and backward; used where
``QUAKE_FUSED_CELL`` asks for it; a failed compilation in ``auto`` falls back, in ``on`` raises.

The compiled update is meant for a GPU (``auto``; off by default until measured on one); here
it is compiled for the CPU (``on``, through torch's C++ backend: about 5-20 s of compilation
on this 2-core machine)."""

from __future__ import annotations

import pytest
import torch

from quake import settings
from quake.errors import ModelError
from quake.models import nets
from quake.models.nets import ConvLSTMNet, cell_update
from quake.models.training import TrainConfig, fit_network


def _net() -> ConvLSTMNet:
    torch.manual_seed(0)
    net = ConvLSTMNet(embed=4, hidden=6, head=4, memory_days=50.0)
    with torch.no_grad():
        for prm in net.parameters():
            prm.add_(0.3 * torch.randn_like(prm))
    return net


def _run(net: ConvLSTMNet, x: torch.Tensor, state) -> tuple[torch.Tensor, ...]:
    """Output, end state and every parameter's gradient of a loss on both."""
    net.zero_grad()
    delta, (h, c) = net(x, state)
    (delta.square().mean() + h.mean() + c.square().mean()).backward()
    grads = [p.grad.detach().clone() for p in net.parameters()]
    return delta.detach(), h.detach(), c.detach(), *grads


def test_the_compiled_cell_update_equals_the_eager_one(monkeypatch):
    """Forward and backward of a small net through 12 days with events, a warm state and
    two streams: the compiled update gives the eager numbers to float32 rounding."""
    nets._FUSED.clear()
    net = _net()
    x = torch.zeros(2, 12, 9, 11)
    x[0, 0, 4, 5] = 3.0
    x[1, 3, 0, 0] = 2.0
    x[:, 6] = torch.rand(2, 9, 11)
    state = tuple(s + 0.1 * torch.randn_like(s) for s in net.zero_state(2, 9, 11, x))
    monkeypatch.setenv(settings.FUSED_CELL_ENV, "off")
    assert nets.fused_cell_update(x.device) is None
    eager = _run(net, x, state)
    monkeypatch.setenv(settings.FUSED_CELL_ENV, "on")
    calls = []
    real = nets._run_cell
    monkeypatch.setattr(nets, "_run_cell", lambda f, *a: calls.append(f) or real(f, *a))
    fused = _run(net, x, state)
    assert len(calls) == 12 and all(f is not None for f in calls), "the compiled update ran"
    assert nets._FUSED["cell"] is not None
    for e, f in zip(eager, fused, strict=True):
        torch.testing.assert_close(f, e, rtol=1e-5, atol=1e-6)
    assert eager[0].abs().max() > 0.01  # a real output, not zeros on both sides


def test_the_cell_update_casts_only_at_its_edges():
    """Under bf16 inputs (a GPU's autocast) the states are float32 and the third output,
    which the next convolution takes, is bf16; in float32 it is the hidden state itself."""
    gx = torch.randn(1, 8, 3, 3).bfloat16()
    h, c, h_conv = cell_update(gx, torch.randn(1, 8, 3, 3).bfloat16(), torch.zeros(1, 2, 3, 3))
    assert h.dtype == c.dtype == torch.float32 and h_conv.dtype == torch.bfloat16
    h, c, h_conv = cell_update(torch.randn(1, 8, 3, 3), torch.randn(1, 8, 3, 3), c)
    assert h_conv is h


def test_auto_compiles_on_cuda_only_and_falls_back_when_compiling_fails(monkeypatch):
    monkeypatch.setenv(settings.FUSED_CELL_ENV, "auto")
    nets._FUSED.clear()
    assert nets.fused_cell_update(torch.device("cpu")) is None
    assert nets.fused_cell_update(torch.device("cuda")) is not None  # compiled lazily

    def broken(*_):
        raise RuntimeError("no triton here")

    gx, gh, c = torch.randn(1, 8, 2, 2), torch.randn(1, 8, 2, 2), torch.randn(1, 2, 2, 2)
    nets._FUSED["cell"] = broken
    got = nets._run_cell(broken, gx, gh, c)
    for a, b in zip(got, cell_update(gx, gh, c), strict=True):
        torch.testing.assert_close(a, b)
    assert nets._FUSED["cell"] is None  # given up once, not retried every day
    assert nets.fused_cell_update(torch.device("cuda")) is None
    monkeypatch.setenv(settings.FUSED_CELL_ENV, "on")
    nets._FUSED["cell"] = broken
    with pytest.raises(RuntimeError, match="no triton"):
        nets._run_cell(broken, gx, gh, c)
    nets._FUSED.clear()


@pytest.mark.parametrize(
    ("value", "mode"),
    [("", "off"), ("auto", "auto"), ("1", "on"), ("ON", "on"), ("0", "off"), ("bogus", "off")],
)
def test_the_fused_cell_setting(monkeypatch, value, mode):
    monkeypatch.setenv(settings.FUSED_CELL_ENV, value)
    assert settings.fused_cell() == mode


def test_the_deterministic_option_is_a_boolean():
    assert TrainConfig.from_dict({"deterministic": False}).deterministic is False
    with pytest.raises(ModelError, match="'deterministic' must be true or false"):
        TrainConfig.from_dict({"deterministic": 1})


def test_a_training_with_the_compiled_cell_ends_with_the_eager_weights(monkeypatch):
    """The whole loop (`fit_network`: BPTT chunks with the state carried, Adam, validation
    after each epoch) with the compiled update: the same weights and validation scores as
    the eager loop to float rounding, so the switch changes speed, not the model."""
    from tests.test_neural import _data, _model

    data = _data()
    runs = {}
    for mode in ("off", "on"):
        monkeypatch.setenv(settings.FUSED_CELL_ENV, mode)
        model = _model("convlstm-resid", epochs=2)
        res = fit_network(model, data, model.train_config)
        runs[mode] = (model.net.state_dict(), res.history)
    (w_off, h_off), (w_on, h_on) = runs["off"], runs["on"]
    for k, v in w_off.items():
        torch.testing.assert_close(w_on[k], v, rtol=1e-4, atol=1e-6, msg=k)
    assert any((v.abs() > 0).any() for k, v in w_off.items() if k.startswith("head.2"))
    for a, b in zip(h_off, h_on, strict=True):
        assert b["val_pr_auc_all"] == pytest.approx(a["val_pr_auc_all"], rel=1e-3)


def test_two_threads_compile_and_run_the_update_at_once(monkeypatch):
    """The dashboard trains in threads (two at once by default): both compile the update
    (forward and, with it, backward) from an empty cache at the same time and get the
    eager numbers."""
    import threading

    x = torch.zeros(2, 6, 7, 5)
    x[0, 1, 3, 2] = 2.0
    x[1, 4] = torch.rand(7, 5)
    monkeypatch.setenv(settings.FUSED_CELL_ENV, "off")
    eager = _run(_net(), x, None)
    monkeypatch.setenv(settings.FUSED_CELL_ENV, "on")
    nets._FUSED.clear()
    torch._dynamo.reset()  # nothing compiled before: both threads start from scratch
    got: dict[int, tuple] = {}
    errors: list[BaseException] = []

    made = [_net(), _net()]  # here: the seeded initialisation is not thread-safe

    def work(i: int) -> None:
        try:
            got[i] = _run(made[i], x, None)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    assert sorted(got) == [0, 1]
    for run in got.values():
        for e, f in zip(eager, run, strict=True):
            torch.testing.assert_close(f, e, rtol=1e-5, atol=1e-6)
