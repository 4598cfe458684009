"""Optimisers: several steps equal torch.optim exactly (float64, rtol 1e-6, atol 1e-12)."""
from __future__ import annotations

import numpy as np
import pytest

from cnnlab.layers import Linear, Tanh
from cnnlab.losses import CrossEntropyLoss
from cnnlab.module import Parameter, Sequential
from cnnlab.optim import SGD, Adam

SHAPES = [(3, 4), (5,), (2, 3, 2, 2)]
N_STEPS = 5


def run_both(torch, make_ours, make_theirs, rng):
    """Take N_STEPS with identical gradients in both libraries; compare after each."""
    init = [rng.standard_normal(s) for s in SHAPES]
    ours = [Parameter(a.copy()) for a in init]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt, topt = make_ours(ours), make_theirs(theirs)
    for _ in range(N_STEPS):
        opt.zero_grad()
        topt.zero_grad()
        for p, t in zip(ours, theirs, strict=True):
            g = 2 * p.data + rng.standard_normal(p.data.shape)  # depends on p, as real grads do
            p.accumulate(g)
            t.grad = torch.from_numpy(g.copy())
        opt.step()
        topt.step()
        for p, t in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-6, atol=1e-12)
    return ours, init


SGD_CONFIGS = [dict(lr=0.1), dict(lr=0.1, momentum=0.9), dict(lr=0.1, momentum=0.9, nesterov=True),
               dict(lr=0.05, weight_decay=0.01),
               dict(lr=0.05, momentum=0.5, weight_decay=0.1, nesterov=True)]


@pytest.mark.parametrize("kwargs", SGD_CONFIGS, ids=lambda k: ",".join(map(str, k.items())))
def test_sgd_equals_torch(kwargs, rng, torch):
    ours, init = run_both(torch, lambda ps: SGD(ps, **kwargs),
                          lambda ts: torch.optim.SGD(ts, **kwargs), rng)
    assert not np.allclose(ours[0].data, init[0])  # the parameters did move


ADAM_CONFIGS = [dict(), dict(lr=0.01, weight_decay=0.1), dict(lr=0.02, betas=(0.8, 0.9), eps=1e-6),
                dict(lr=0.01, betas=(0.0, 0.5))]


@pytest.mark.parametrize("kwargs", ADAM_CONFIGS, ids=lambda k: ",".join(map(str, k.items())))
def test_adam_equals_torch(kwargs, rng, torch):
    ours, init = run_both(torch, lambda ps: Adam(ps, **kwargs),
                          lambda ts: torch.optim.Adam(ts, **kwargs), rng)
    assert not np.allclose(ours[0].data, init[0])


def test_plain_sgd_step_by_hand():
    p = Parameter(np.array([1.0, -2.0]))
    p.accumulate(np.array([0.5, 0.25]))
    data_before = p.data
    SGD([p], lr=0.1).step()
    np.testing.assert_allclose(p.data, [0.95, -2.025], rtol=1e-15)
    assert p.data is data_before  # updated in place


def test_frozen_parameter_is_skipped_and_zero_grad_resets():
    a, b = Parameter(np.ones(3)), Parameter(np.ones(3), requires_grad=False)
    opt = Adam([a, b], lr=0.1)
    for p in (a, b):
        p.accumulate(np.ones(3))
    opt.step()
    np.testing.assert_array_equal(b.data, 1.0)
    assert (a.data < 1.0).all()
    opt.zero_grad()
    assert not a.grad.any() and not b.grad.any()


@pytest.mark.parametrize("make_opt", [lambda ps: SGD(ps, lr=0.1, momentum=0.9),
                                      lambda ps: Adam(ps, lr=0.02)], ids=["sgd", "adam"])
def test_tiny_model_training_reduces_loss(make_opt):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 4))
    y = (x[:, 0] + x[:, 1] > 0).astype(int) + (x[:, 2] > 1).astype(int)
    model = Sequential(Linear(4, 16, rng=1, dtype=np.float64), Tanh(),
                       Linear(16, 3, rng=2, dtype=np.float64))
    loss_fn, opt = CrossEntropyLoss(), make_opt(model.parameters())
    losses = []
    for _ in range(30):
        opt.zero_grad()
        losses.append(loss_fn(model(x), y))
        model.backward(loss_fn.backward())
        opt.step()
    assert losses[-1] < 0.5 * losses[0]
    assert all(np.isfinite(losses))


@pytest.mark.parametrize("make_opt", [
    lambda ps: SGD(ps, lr=0.1, momentum=0.9),
    lambda ps: SGD(ps, lr=0.1, momentum=0.5, nesterov=True, weight_decay=0.1),
    lambda ps: Adam(ps, lr=0.01, weight_decay=0.1)], ids=["sgd-momentum", "sgd-nesterov", "adam"])
def test_updates_in_place_and_never_touch_the_gradient(make_opt, rng):
    p = Parameter(rng.standard_normal((3, 4)).astype(np.float32))
    opt = make_opt([p])
    data = p.data
    for step in range(3):
        p.zero_grad()
        p.accumulate(rng.standard_normal((3, 4)).astype(np.float32))
        grad = p.grad.copy()
        state = [v for v in opt.state[0].values() if isinstance(v, np.ndarray)]
        opt.step()
        np.testing.assert_array_equal(p.grad, grad)
        assert p.data is data and p.data.dtype == np.float32
        if step:  # after the first step the state arrays are updated, not replaced
            assert state and all(a is b for a, b in zip(state, (v for v in opt.state[0].values()
                                                      if isinstance(v, np.ndarray)), strict=True))
        assert all(v.dtype == np.float32 for v in opt.state[0].values()
                   if isinstance(v, np.ndarray))
