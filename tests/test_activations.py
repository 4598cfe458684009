"""ReLU, sigmoid, tanh: values, stability, gradient checks, PyTorch float64."""
from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest

from cnnlab.activations import (
    relu,
    relu_backward,
    relu_forward,
    sigmoid,
    sigmoid_backward,
    sigmoid_forward,
    tanh,
    tanh_backward,
    tanh_forward,
)
from cnnlab.gradcheck import gradcheck

KINDS = {
    "relu": (relu_forward, relu_backward, relu, "relu"),
    "sigmoid": (sigmoid_forward, sigmoid_backward, sigmoid, "sigmoid"),
    "tanh": (tanh_forward, tanh_backward, tanh, "tanh"),
}
TORCH_TOL = {"rtol": 1e-6, "atol": 1e-12}


def away_from_zero(rng, shape):
    """Inputs with |x| >= 0.1, so ReLU's kink at 0 is never within eps."""
    x = rng.standard_normal(shape)
    return np.where(x >= 0, x + 0.1, x - 0.1)


def test_relu_values_and_gradient_at_zero():
    x = np.array([-2.0, -0.0, 0.0, 1e-300, 3.0])
    out, cache = relu_forward(x)
    np.testing.assert_array_equal(out, [0.0, 0.0, 0.0, 1e-300, 3.0])
    dx = relu_backward(np.full(5, 7.0), cache)
    np.testing.assert_array_equal(dx, [0.0, 0.0, 0.0, 7.0, 7.0])  # d relu / dx at 0 is 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_stable_for_large_inputs(dtype):
    x = np.array([-1e4, -1000.0, -100.0, -30.0, 0.0, 30.0, 100.0, 1000.0, 1e4], dtype=dtype)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        out, cache = sigmoid_forward(x)
        dx = sigmoid_backward(np.ones_like(x), cache)
    assert out.dtype == dtype and np.all(np.isfinite(out)) and np.all(np.isfinite(dx))
    assert out[0] == 0.0 and out[-1] == 1.0 and out[4] == 0.5
    assert np.all(np.diff(out) >= 0)
    moderate = np.linspace(-20, 20, 41)
    np.testing.assert_allclose(sigmoid(moderate), 1 / (1 + np.exp(-moderate)), rtol=1e-14)


def test_tanh_saturates_without_warnings():
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        out = tanh(np.array([-1e4, 0.0, 1e4], dtype=np.float32))
    np.testing.assert_array_equal(out, np.array([-1.0, 0.0, 1.0], dtype=np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", KINDS)
def test_shapes_dtypes_and_plain_function(kind, dtype, rng):
    forward, backward, plain, _ = KINDS[kind]
    x = rng.standard_normal((2, 3, 4, 5)).astype(dtype)
    out, cache = forward(x)
    assert out.shape == x.shape and out.dtype == dtype
    np.testing.assert_array_equal(plain(x), out)
    dx = backward(np.ones_like(x), cache)
    assert dx.shape == x.shape and dx.dtype == dtype


@pytest.mark.parametrize("kind", KINDS)
def test_gradcheck(kind, rng):
    forward, backward, _, _ = KINDS[kind]
    saved = {}

    def fwd(x):
        out, saved["cache"] = forward(x)
        return out

    errors = gradcheck(fwd, lambda g: {"x": backward(g, saved["cache"])},
                       {"x": 2 * away_from_zero(rng, (3, 4, 5))}, rng=3)
    assert errors["x"] < 1e-7, errors


@pytest.mark.parametrize("kind", KINDS)
def test_matches_torch(torch, kind, rng):
    forward, backward, _, torch_name = KINDS[kind]
    x = 3 * away_from_zero(rng, (4, 3, 5))
    x[0, 0, :3] = [-40.0, 40.0, 0.0]  # saturated sigmoid/tanh, and ReLU exactly at 0
    out, cache = forward(x)
    dout = rng.standard_normal(out.shape)
    dx = backward(dout, cache)
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    out_t = getattr(torch, torch_name)(xt)
    out_t.backward(torch.tensor(dout, dtype=torch.float64))
    np.testing.assert_allclose(out, out_t.detach().numpy(), **TORCH_TOL)
    np.testing.assert_allclose(dx, xt.grad.numpy(), **TORCH_TOL)


@pytest.mark.parametrize("kind", KINDS)
def test_backward_does_not_mutate_dout_or_cache(kind, rng):
    forward, backward, _, _ = KINDS[kind]
    x = rng.standard_normal((3, 4))
    x0 = x.copy()
    out, cache = forward(x)
    np.testing.assert_array_equal(x, x0)
    dout = rng.standard_normal(out.shape)
    dout0, cache0 = dout.copy(), copy.deepcopy(cache)
    first = backward(dout, cache)
    np.testing.assert_array_equal(dout, dout0)
    np.testing.assert_array_equal(cache, cache0)
    np.testing.assert_array_equal(backward(dout, cache), first)
