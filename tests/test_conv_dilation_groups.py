"""Dilated and grouped 2-D convolution, and 1-D convolution: oracle, gradcheck, PyTorch."""
from __future__ import annotations

import numpy as np
import pytest

from cnnlab.conv import (
    conv1d,
    conv1d_backward,
    conv1d_backward_naive,
    conv1d_forward,
    conv1d_naive,
    conv2d,
    conv2d_backward,
    conv2d_backward_naive,
    conv2d_forward,
    conv2d_naive,
)
from cnnlab.gradcheck import gradcheck
from cnnlab.shapes import conv2d_output_shape, conv_output_size
from test_conv import ORDERS, TOL, TORCH_TOL, applies, force_order, make

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")

# (x shape, weight shape, stride, padding, dilation, groups, with bias)
CASES_2D = {
    "dilation-2": ((2, 3, 9, 8), (4, 3, 3, 3), 1, 0, 2, 1, True),
    "dilation-2-pad-2": ((2, 2, 7, 7), (3, 2, 3, 3), 1, 2, 2, 1, False),
    "dilation-rect": ((1, 2, 10, 9), (2, 2, 3, 2), (2, 1), (1, 0), (3, 2), 1, True),
    "dilation-same-even": ((2, 2, 6, 7), (2, 2, 4, 2), 1, "same", (1, 3), 1, True),
    "groups-2": ((2, 4, 6, 6), (6, 2, 3, 3), 1, 1, 1, 2, True),
    "depthwise": ((3, 5, 7, 6), (5, 1, 3, 3), 1, 1, 1, 5, True),
    "depthwise-multiplier-2": ((2, 3, 6, 6), (6, 1, 3, 3), 2, 1, 1, 3, False),
    "depthwise-stride-2": ((2, 4, 9, 9), (4, 1, 3, 3), 2, 1, 1, 4, True),
    "groups-dilation-stride": ((2, 6, 11, 10), (3, 2, 3, 3), 2, 2, 2, 3, True),
    "alexnet-like-groups": ((1, 4, 7, 7), (8, 2, 5, 5), 1, 2, 1, 2, True),
}

# (x shape, weight shape, stride, padding, dilation, groups, with bias)
CASES_1D = {
    "plain": ((2, 3, 12), (4, 3, 3), 1, 0, 1, 1, True),
    "stride-pad": ((3, 2, 15), (2, 2, 4), 2, 1, 1, 1, False),
    "dilation-4": ((2, 1, 20), (2, 1, 3), 1, 4, 4, 1, True),
    "same-even": ((1, 2, 9), (3, 2, 4), 1, "same", 1, 1, True),
    "same-dilated": ((2, 2, 16), (2, 2, 3), 1, "same", 3, 1, True),
    "valid": ((2, 3, 8), (2, 3, 8), 1, "valid", 1, 1, True),
    "depthwise": ((2, 4, 11), (4, 1, 5), 1, 2, 1, 4, True),
    "groups-dilation-stride": ((2, 4, 23), (6, 2, 3), 3, 2, 2, 2, True),
}


def order_cases():
    return [pytest.param(order, name, id=f"{name}-{order}") for name in CASES_2D
            for order in ("auto", *ORDERS) if applies(order, CASES_2D[name][2])]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order, case", order_cases())
def test_conv2d_fast_equals_naive(order, case, dtype, rng, monkeypatch):
    force_order(monkeypatch, order)
    x_shape, w_shape, stride, padding, dilation, groups, with_bias = CASES_2D[case]
    x, w, b = make(rng, x_shape, w_shape, with_bias, dtype)
    out, cache = conv2d_forward(x, w, b, stride, padding, dilation, groups)
    expected = conv2d_naive(x, w, b, stride, padding, dilation, groups)
    assert out.shape == conv2d_output_shape(x_shape, w_shape[0], w_shape[2:], stride, padding,
                                            dilation)
    np.testing.assert_allclose(out, expected, **TOL[dtype])
    np.testing.assert_array_equal(conv2d(x, w, b, stride, padding, dilation, groups), out)
    dout = rng.standard_normal(out.shape).astype(dtype)
    fast = conv2d_backward(dout, cache)
    slow = conv2d_backward_naive(dout, x, w, b, stride, padding, dilation, groups)
    for name, got, want in zip(("dx", "dweight", "dbias"), fast, slow, strict=True):
        if want is None:
            assert got is None
        else:
            assert got.dtype == dtype
            np.testing.assert_allclose(got, want, **TOL[dtype], err_msg=name)


def test_dilated_kernel_is_a_zero_stuffed_kernel(rng):
    """Dilation d = the undilated conv with d-1 zeros between the taps."""
    x, w, b = make(rng, (2, 2, 11, 10), (3, 2, 3, 3), True)
    stuffed = np.zeros((3, 2, 7, 7))
    stuffed[:, :, ::3, ::3] = w
    np.testing.assert_allclose(conv2d_naive(x, w, b, dilation=3), conv2d_naive(x, stuffed, b),
                               rtol=1e-12, atol=1e-12)


def test_groups_are_independent_convolutions(rng):
    """groups=G = G separate convolutions on channel slices, stacked."""
    x, w, b = make(rng, (2, 6, 5, 5), (4, 3, 3, 3), True)
    parts = [conv2d_naive(x[:, 3 * g:3 * g + 3], w[2 * g:2 * g + 2], b[2 * g:2 * g + 2],
                          padding=1) for g in range(2)]
    np.testing.assert_allclose(conv2d(x, w, b, padding=1, groups=2),
                               np.concatenate(parts, axis=1), rtol=1e-12, atol=1e-12)


def checker(forward_fn, backward_fn, args, with_bias):
    saved = {}

    def forward(x, weight, bias=None):
        out, saved["cache"] = forward_fn(x, weight, bias, *args)
        return out

    def backward(dout):
        dx, dw, db = backward_fn(dout, saved["cache"])
        return {"x": dx, "weight": dw} | ({"bias": db} if with_bias else {})
    return forward, backward


# (dimensions, case): the kernels and the case table of each
KERNELS = {"2d": (conv2d_forward, conv2d_backward, CASES_2D),
           "1d": (conv1d_forward, conv1d_backward, CASES_1D)}
GRADCHECK_CASES = [("2d", c) for c in ("dilation-rect", "depthwise-stride-2",
                                       "groups-dilation-stride", "dilation-same-even")] + \
                  [("1d", c) for c in ("stride-pad", "dilation-4", "same-even", "depthwise",
                                       "groups-dilation-stride")]


@pytest.mark.parametrize("dims, case", GRADCHECK_CASES,
                         ids=[f"{d}-{c}" for d, c in GRADCHECK_CASES])
def test_gradcheck(dims, case, rng):
    forward_fn, backward_fn, cases = KERNELS[dims]
    x_shape, w_shape, stride, padding, dilation, groups, with_bias = cases[case]
    x, w, b = make(rng, x_shape, w_shape, with_bias)
    inputs = {"x": x, "weight": w} | ({"bias": b} if with_bias else {})
    fns = checker(forward_fn, backward_fn, (stride, padding, dilation, groups), with_bias)
    errors = gradcheck(*fns, inputs, rng=1)
    assert set(errors) == set(inputs) and max(errors.values()) < 1e-7, errors


def torch_check(torch, fn, x, w, b, out, grads, dout, stride, padding, dilation, groups):
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    bt = None if b is None else torch.tensor(b, requires_grad=True)

    def tup(v):
        return v if isinstance(v, (int, str)) else tuple(v)

    out_t = fn(xt, wt, bt, stride=tup(stride), padding=tup(padding), dilation=tup(dilation),
               groups=groups)
    out_t.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, out_t.detach().numpy(), **TORCH_TOL)
    for got, t in zip(grads, (xt, wt, bt), strict=True):
        if t is None:
            assert got is None
        else:
            np.testing.assert_allclose(got, t.grad.numpy(), **TORCH_TOL)


@pytest.mark.parametrize("order, case", order_cases())
def test_conv2d_matches_torch(torch, order, case, rng, monkeypatch):
    force_order(monkeypatch, order)
    x_shape, w_shape, stride, padding, dilation, groups, with_bias = CASES_2D[case]
    x, w, b = make(rng, x_shape, w_shape, with_bias)
    out, cache = conv2d_forward(x, w, b, stride, padding, dilation, groups)
    dout = rng.standard_normal(out.shape)
    torch_check(torch, torch.nn.functional.conv2d, x, w, b, out, conv2d_backward(dout, cache),
                dout, stride, padding, dilation, groups)


# --------------------------------------------------------------------------- 1-D
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES_1D)
def test_conv1d_fast_equals_naive(case, dtype, rng):
    x_shape, w_shape, stride, padding, dilation, groups, with_bias = CASES_1D[case]
    x, w, b = make(rng, x_shape, w_shape, with_bias, dtype)
    out, cache = conv1d_forward(x, w, b, stride, padding, dilation, groups)
    expected = conv1d_naive(x, w, b, stride, padding, dilation, groups)
    assert out.ndim == 3 and out.dtype == dtype
    if not isinstance(padding, str):
        assert out.shape[2] == conv_output_size(x_shape[2], w_shape[2], stride, padding,
                                                dilation)
    np.testing.assert_allclose(out, expected, **TOL[dtype])
    np.testing.assert_array_equal(conv1d(x, w, b, stride, padding, dilation, groups), out)
    dout = rng.standard_normal(out.shape).astype(dtype)
    fast = conv1d_backward(dout, cache)
    slow = conv1d_backward_naive(dout, x, w, b, stride, padding, dilation, groups)
    for name, got, want, like in zip(("dx", "dweight", "dbias"), fast, slow, (x, w, b),
                                     strict=True):
        if want is None:
            assert got is None
        else:
            assert got.shape == like.shape and got.dtype == dtype
            np.testing.assert_allclose(got, want, **TOL[dtype], err_msg=name)


def test_conv1d_equals_np_correlate(rng):
    x, w = rng.standard_normal(30), rng.standard_normal(5)
    np.testing.assert_allclose(conv1d(x[None, None], w[None, None])[0, 0],
                               np.correlate(x, w, mode="valid"), rtol=1e-12)


@pytest.mark.parametrize("case", CASES_1D)
def test_conv1d_matches_torch(torch, case, rng):
    x_shape, w_shape, stride, padding, dilation, groups, with_bias = CASES_1D[case]
    x, w, b = make(rng, x_shape, w_shape, with_bias)
    out, cache = conv1d_forward(x, w, b, stride, padding, dilation, groups)
    dout = rng.standard_normal(out.shape)
    torch_check(torch, torch.nn.functional.conv1d, x, w, b, out, conv1d_backward(dout, cache),
                dout, stride, padding, dilation, groups)


# --------------------------------------------------------------------------- bad input
X, W = np.ones((2, 4, 6, 6)), np.ones((6, 2, 3, 3))


@pytest.mark.parametrize("call, exc, match", [
    (lambda: conv2d(X, W, groups=4), ValueError, r"^groups: out_channels 6 .* not divisible "
                                                 r"by groups 4"),
    (lambda: conv2d(X, W, groups=0), ValueError, r"^groups must be >= 1, got 0"),
    (lambda: conv2d(X, W, groups=1.5), TypeError, r"^groups must be an integer"),
    (lambda: conv2d(X, W), ValueError, r"^weight: in_channels 2 does not match the 4 channels"),
    (lambda: conv2d(X, np.ones((6, 1, 3, 3)), groups=2), ValueError,
     r"^weight: in_channels 1 x groups 2 does not match the 4 channels"),
    (lambda: conv2d(X, W, groups=2, dilation=0), ValueError, r"^dilation must be >= 1, got 0"),
    (lambda: conv2d(X, W, groups=2, dilation=3), ValueError,
     r"^weight: kernel height 3 \(dilated to 7\) is larger than the padded input height 6"),
    (lambda: conv1d(np.ones((2, 3, 5)), np.ones((2, 3, 3, 3))), ValueError,
     r"^weight must have 3 dimensions"),
    (lambda: conv1d(np.ones((2, 3, 5)), np.ones((2, 3, 3)), padding=(1, 1)), TypeError,
     r"^padding must be an integer"),
    (lambda: conv1d(np.ones((2, 3, 5)), np.ones((2, 3, 3)), stride=2, padding="same"),
     ValueError, r"^padding='same' needs stride 1"),
    (lambda: conv1d(np.ones((2, 3, 5)), np.ones((2, 3, 3)), dilation=3), ValueError,
     r"dilated to 7\) is larger than the padded input width 5"),
], ids=["groups-out", "groups-zero", "groups-float", "in-channels", "in-channels-groups",
        "dilation-zero", "dilated-too-big", "conv1d-rank", "conv1d-pair-padding",
        "conv1d-same-stride", "conv1d-dilated-too-big"])
def test_bad_input_names_argument(call, exc, match):
    before = (X.copy(), W.copy())
    with pytest.raises(exc, match=match):
        call()
    np.testing.assert_array_equal(X, before[0])
    np.testing.assert_array_equal(W, before[1])
