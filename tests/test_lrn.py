"""Local response normalisation: fast kernels equal the channel loops, gradients pass a
float64 gradient check and equal PyTorch's ``LocalResponseNorm``.

Tolerances: naive vs fast rtol 1e-12 (float64, same sums in another order);
gradient checks relative error < 1e-7 (float64, eps 1e-6);
PyTorch comparisons rtol 1e-6, atol 1e-12 (float64).
"""
from __future__ import annotations

import numpy as np
import pytest

from cnnlab.gradcheck import gradcheck, module_gradcheck
from cnnlab.norm import (
    LocalResponseNorm,
    local_response_norm_backward,
    local_response_norm_backward_naive,
    local_response_norm_forward,
    local_response_norm_naive,
)

GRAD_TOL = 1e-7

# (input shape, size): odd and even sizes, size 1, size > C, C = 1, (N, C, L) and 5-D input
CASES = [((2, 7, 3, 4), 5), ((2, 7, 3, 4), 4), ((3, 5, 6), 3), ((3, 5, 6), 2),
         ((1, 4, 2, 3), 1), ((2, 3, 2, 2), 8), ((2, 1, 3, 3), 3), ((1, 6, 2, 2, 3), 4)]
IDS = [f"{'x'.join(map(str, s))}_size{n}" for s, n in CASES]
# (alpha, beta, k): torch's defaults, and a strong normalisation where every term matters
SETTINGS = [(1e-4, 0.75, 1.0), (0.8, 0.75, 2.0), (2.0, 1.5, 0.5)]


def close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("alpha, beta, k", SETTINGS)
@pytest.mark.parametrize("shape, size", CASES, ids=IDS)
def test_fast_equals_naive_forward_and_backward(shape, size, alpha, beta, k, rng):
    x = rng.standard_normal(shape) * 2
    out, cache = local_response_norm_forward(x, size, alpha, beta, k)
    np.testing.assert_allclose(out, local_response_norm_naive(x, size, alpha, beta, k),
                               rtol=1e-12, atol=1e-15)
    g = rng.standard_normal(shape)
    np.testing.assert_allclose(local_response_norm_backward(g, cache),
                               local_response_norm_backward_naive(g, x, size, alpha, beta, k),
                               rtol=1e-12, atol=1e-15)


def test_naive_matches_the_formula_by_hand():
    """Channel 1 of 4 with size 4: window is channels -1..2 (2 before, 1 after)."""
    x = np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 4, 1, 1)
    out = local_response_norm_naive(x, 4, alpha=0.4, beta=0.5, k=1.0)
    assert out[0, 1, 0, 0] == pytest.approx(2.0 / np.sqrt(1.0 + 0.4 / 4 * (1 + 4 + 9)))
    assert out[0, 0, 0, 0] == pytest.approx(1.0 / np.sqrt(1.0 + 0.1 * (1 + 4)))  # 0..1
    assert out[0, 3, 0, 0] == pytest.approx(4.0 / np.sqrt(1.0 + 0.1 * (4 + 9 + 16)))  # 1..3


@pytest.mark.parametrize("shape, size", CASES, ids=IDS)
def test_fast_backward_passes_gradcheck(shape, size, rng):
    saved = {}

    def forward(x):
        out, saved["cache"] = local_response_norm_forward(x, size, 0.8, 0.75, 2.0)
        return out

    def backward(g):
        return {"x": local_response_norm_backward(g, saved["cache"])}

    errors = gradcheck(forward, backward, {"x": rng.standard_normal(shape) * 2}, tol=GRAD_TOL)
    assert errors["x"] < GRAD_TOL


def test_layer_gradcheck_and_no_parameters(rng):
    layer = LocalResponseNorm(3, alpha=0.5, beta=0.75, k=1.5)
    assert layer.num_parameters() == 0 and list(layer.parameters()) == []
    errors = module_gradcheck(layer, rng.standard_normal((2, 5, 3, 3)), tol=GRAD_TOL)
    assert set(errors) == {"x"} and errors["x"] < GRAD_TOL


@pytest.mark.parametrize("alpha, beta, k", SETTINGS)
@pytest.mark.parametrize("shape, size", CASES, ids=IDS)
def test_forward_and_backward_equal_torch(shape, size, alpha, beta, k, rng, torch):
    x = rng.standard_normal(shape) * 2
    layer = LocalResponseNorm(size, alpha, beta, k)
    out = layer(x)
    g = rng.standard_normal(out.shape)
    dx = layer.backward(g)
    tx = torch.tensor(x, requires_grad=True)
    tout = torch.nn.LocalResponseNorm(size, alpha, beta, k)(tx)
    tout.backward(torch.from_numpy(g))
    close(out, tout.detach().numpy())
    close(dx, tx.grad.numpy())


def test_repr_equals_torch(torch):
    assert repr(LocalResponseNorm(5)) == repr(torch.nn.LocalResponseNorm(5))
    assert repr(LocalResponseNorm(2, 1e-3, 0.5, 2)) == repr(
        torch.nn.LocalResponseNorm(2, 1e-3, 0.5, 2.0))


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (1, 6, 7), (1, 2, 2, 2, 2)])
def test_output_shape_matches_forward(shape, rng):
    layer = LocalResponseNorm(3)
    assert layer.output_shape(shape) == layer(rng.standard_normal(shape)).shape == shape


def test_float32_works_and_agrees_with_float64(rng):
    x = rng.standard_normal((2, 6, 4, 4))
    layer = LocalResponseNorm(5, alpha=0.5, k=2.0)
    out32 = layer(x.astype(np.float32))
    g = rng.standard_normal(out32.shape)
    dx32 = layer.backward(g.astype(np.float32))
    assert out32.dtype == np.float32 and dx32.dtype == np.float32
    out64 = layer(x)
    dx64 = layer.backward(g)
    # float32 rounding (eps 6e-8) through a handful of operations
    np.testing.assert_allclose(out32, out64, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dx32, dx64, rtol=1e-5, atol=1e-6)


def test_backward_mutates_nothing_and_checks_order(rng):
    layer = LocalResponseNorm(3, alpha=0.5)
    with pytest.raises(RuntimeError, match="backward called before forward"):
        layer.backward(np.ones((1, 3, 2, 2)))
    x = rng.standard_normal((1, 3, 2, 2))
    x0 = x.copy()
    g = rng.standard_normal(x.shape)
    g0 = g.copy()
    layer(x)
    layer.backward(g)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(g, g0)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"size": 0}, ValueError, "size must be >= 1, got 0"),
    ({"size": 2.5}, TypeError, "size must be an integer"),
    ({"size": True}, TypeError, "size must be an integer"),
    ({"size": 3, "alpha": -1e-4}, ValueError, "alpha must be >= 0"),
    ({"size": 3, "alpha": "1e-4"}, TypeError, "alpha must be a real number"),
    ({"size": 3, "beta": -0.5}, ValueError, "beta must be >= 0"),
    ({"size": 3, "k": 0.0}, ValueError, "k must be > 0"),
    ({"size": 3, "k": float("nan")}, ValueError, "k must be finite"),
])
def test_bad_arguments_name_the_argument(kwargs, error, match, rng):
    with pytest.raises(error, match=match):
        LocalResponseNorm(**kwargs)
    with pytest.raises(error, match=match):
        local_response_norm_forward(rng.standard_normal((1, 3, 2, 2)), **kwargs)
    with pytest.raises(error, match=match):
        local_response_norm_naive(rng.standard_normal((1, 3, 2, 2)), **kwargs)


def test_bad_inputs_name_the_argument(rng):
    layer = LocalResponseNorm(3)
    with pytest.raises(ValueError, match=r"x must have at least 3 dimensions .* shape \(4, 3\)"):
        layer(rng.standard_normal((4, 3)))
    with pytest.raises(TypeError, match="x must have dtype float32 or float64, got int64"):
        layer(np.ones((1, 3, 2, 2), dtype=np.int64))
    with pytest.raises(TypeError, match="x must be a numpy.ndarray, got list"):
        local_response_norm_naive([[[1.0]]], 3)
    out = layer(rng.standard_normal((1, 3, 2, 2)))
    with pytest.raises(ValueError, match="dout must have shape"):
        layer.backward(np.ones((1, 3, 2, 3)))
    with pytest.raises(TypeError, match="dout must have the same dtype as x"):
        local_response_norm_backward(out.astype(np.float32), layer._cache)
    with pytest.raises(ValueError, match="input_shape: LocalResponseNorm expects at least 3"):
        layer.output_shape((4, 3))
    with pytest.raises(TypeError, match="input_shape must be a tuple"):
        layer.output_shape("1, 3, 2, 2")
