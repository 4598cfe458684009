"""Linear layer and flatten: loop oracle, gradient checks, PyTorch float64."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from cnnlab.gradcheck import gradcheck
from cnnlab.linear import flatten_backward, flatten_forward, linear, linear_backward, linear_forward

TOL = {np.float32: {"rtol": 1e-5, "atol": 1e-5}, np.float64: {"rtol": 1e-12, "atol": 1e-12}}
TORCH_TOL = {"rtol": 1e-6, "atol": 1e-12}
SHAPES = [(1, 1, 1), (1, 5, 3), (4, 7, 2), (3, 2, 6)]  # (N, in_features, out_features)


def linear_loops(x, weight, bias):
    """y[n, k] = b[k] + sum_j x[n, j] W[k, j], one term at a time."""
    out = np.zeros((x.shape[0], weight.shape[0]), dtype=x.dtype)
    for n in range(x.shape[0]):
        for k in range(weight.shape[0]):
            out[n, k] = sum(x[n, j] * weight[k, j] for j in range(x.shape[1]))
            if bias is not None:
                out[n, k] += bias[k]
    return out


def make(rng, n, fin, fout, with_bias=True, dtype=np.float64):
    x = rng.standard_normal((n, fin)).astype(dtype)
    w = rng.standard_normal((fout, fin)).astype(dtype)
    b = rng.standard_normal(fout).astype(dtype) if with_bias else None
    return x, w, b


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("n, fin, fout", SHAPES)
def test_forward_equals_loops(n, fin, fout, with_bias, dtype, rng):
    x, w, b = make(rng, n, fin, fout, with_bias, dtype)
    out, cache = linear_forward(x, w, b)
    assert out.shape == (n, fout) and out.dtype == dtype
    np.testing.assert_allclose(out, linear_loops(x, w, b), **TOL[dtype])
    np.testing.assert_array_equal(linear(x, w, b), out)
    dx, dw, db = linear_backward(np.ones((n, fout), dtype=dtype), cache)
    assert dx.shape == x.shape and dw.shape == w.shape and dx.dtype == dw.dtype == dtype
    assert (db is None) == (not with_bias)
    # with dout = 1: dx[n, j] = sum_k W[k, j], dW[k, j] = sum_n x[n, j], db = N
    np.testing.assert_allclose(dx, np.broadcast_to(w.sum(axis=0), x.shape), **TOL[dtype])
    np.testing.assert_allclose(dw, np.broadcast_to(x.sum(axis=0), w.shape), **TOL[dtype])
    if with_bias:
        np.testing.assert_array_equal(db, np.full(fout, n, dtype=dtype))


@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("n, fin, fout", SHAPES)
def test_gradcheck(n, fin, fout, with_bias, rng):
    x, w, b = make(rng, n, fin, fout, with_bias)
    saved = {}

    def forward(x, weight, bias=None):
        out, saved["cache"] = linear_forward(x, weight, bias)
        return out

    def backward(dout):
        dx, dw, db = linear_backward(dout, saved["cache"])
        return {"x": dx, "weight": dw} | ({"bias": db} if with_bias else {})

    inputs = {"x": x, "weight": w} | ({"bias": b} if with_bias else {})
    errors = gradcheck(forward, backward, inputs, rng=4)
    assert set(errors) == set(inputs) and max(errors.values()) < 1e-7, errors


@pytest.mark.parametrize("with_bias", [True, False])
def test_matches_torch(torch, with_bias, rng):
    x, w, b = make(rng, 5, 7, 3, with_bias)
    out, cache = linear_forward(x, w, b)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = linear_backward(dout, cache)
    xt, wt = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, w))
    bt = torch.tensor(b, dtype=torch.float64, requires_grad=True) if with_bias else None
    out_t = torch.nn.functional.linear(xt, wt, bt)
    out_t.backward(torch.tensor(dout, dtype=torch.float64))
    np.testing.assert_allclose(out, out_t.detach().numpy(), **TORCH_TOL)
    np.testing.assert_allclose(dx, xt.grad.numpy(), **TORCH_TOL)
    np.testing.assert_allclose(dw, wt.grad.numpy(), **TORCH_TOL)
    if with_bias:
        np.testing.assert_allclose(db, bt.grad.numpy(), **TORCH_TOL)
    else:
        assert db is None


def test_backward_does_not_mutate_dout_or_cache(rng):
    x, w, b = make(rng, 3, 4, 2)
    out, cache = linear_forward(x, w, b)
    dout = rng.standard_normal(out.shape)
    dout0, cache0 = dout.copy(), copy.deepcopy(cache)
    first = linear_backward(dout, cache)
    np.testing.assert_array_equal(dout, dout0)
    for key in cache:
        np.testing.assert_array_equal(cache[key], cache0[key], err_msg=key)
    for a, c in zip(first, linear_backward(dout, cache), strict=True):
        np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("shape, start_dim, expected", [
    ((2, 3, 4, 5), 1, (2, 60)), ((2, 3, 4, 5), 0, (120,)), ((2, 3, 4, 5), 2, (2, 3, 20)),
    ((2, 3, 4, 5), -1, (2, 3, 4, 5)), ((2, 3, 4, 5), -2, (2, 3, 20)), ((7,), 0, (7,)),
    ((1, 1, 1, 1), 1, (1, 1)),
])
def test_flatten_shapes_and_roundtrip(shape, start_dim, expected, rng):
    x = rng.standard_normal(shape)
    out, cache = flatten_forward(x, start_dim)
    assert out.shape == expected
    np.testing.assert_array_equal(out.ravel(), x.ravel())  # row-major order kept
    dout = rng.standard_normal(expected)
    dout0 = dout.copy()
    dx = flatten_backward(dout, cache)
    assert dx.shape == shape
    np.testing.assert_array_equal(dx.ravel(), dout.ravel())
    np.testing.assert_array_equal(dout, dout0)


@pytest.mark.parametrize("start_dim", [0, 1, 2, -1])
def test_flatten_matches_torch(torch, start_dim, rng):
    x = rng.standard_normal((2, 3, 4, 5))
    out, cache = flatten_forward(x, start_dim)
    dout = rng.standard_normal(out.shape)
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    out_t = torch.flatten(xt, start_dim)
    out_t.backward(torch.tensor(dout, dtype=torch.float64))
    assert tuple(out_t.shape) == out.shape
    np.testing.assert_allclose(out, out_t.detach().numpy(), **TORCH_TOL)
    np.testing.assert_allclose(flatten_backward(dout, cache), xt.grad.numpy(), **TORCH_TOL)


def test_flatten_gradcheck(rng):
    saved = {}

    def forward(x):
        out, saved["cache"] = flatten_forward(x)
        return out

    errors = gradcheck(forward, lambda g: {"x": flatten_backward(g, saved["cache"])},
                       {"x": rng.standard_normal((2, 3, 2, 2))})
    assert errors["x"] < 1e-7


def test_flatten_of_an_empty_batch():
    """Issue 15, item 13: reshape(0, -1) cannot infer the -1 of an empty batch."""
    from cnnlab.layers import Flatten
    from cnnlab.linear import flatten_backward, flatten_forward
    x = np.zeros((0, 3, 4, 5), np.float32)
    out, cache = flatten_forward(x)
    assert out.shape == (0, 60) and flatten_backward(out, cache).shape == x.shape
    assert flatten_forward(x, 2)[0].shape == (0, 3, 20)
    layer = Flatten()
    assert layer(x).shape == (0, 60) == layer.output_shape((1, 3, 4, 5))[:0] + (0, 60)
    assert layer.backward(np.zeros((0, 60), np.float32)).shape == x.shape
