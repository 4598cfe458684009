"""Transposed convolution: fast kernel == loop oracle, gradient checks, PyTorch float64
cross-checks, the adjoint identity with conv2d, the output-size formula and the layer.

The sweeps mirror tests/test_conv.py and tests/test_conv_dilation_groups.py (N=1, C=1, odd
sizes, 1x1 kernels, stride larger than the kernel, non-square settings, dilation, groups,
depthwise), plus what only a transposed convolution has: output_padding, including
output_padding >= stride where the dilation allows it, and output_padding > padding.
Tolerances are those of test_conv: naive vs fast 1e-12 (float64) and 1e-5 (float32),
PyTorch rtol 1e-6 with atol 1e-12, gradient checks below 1e-7.
"""
from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cnnlab import _im2col
from cnnlab.analysis import summary
from cnnlab.conv import conv2d, conv2d_backward, conv2d_forward
from cnnlab.conv_transpose import (
    ConvTranspose2d,
    conv_transpose2d,
    conv_transpose2d_backward,
    conv_transpose2d_backward_naive,
    conv_transpose2d_forward,
    conv_transpose2d_naive,
)
from cnnlab.gradcheck import gradcheck, module_gradcheck
from cnnlab.init import meta
from cnnlab.layers import Conv2d, ReLU
from cnnlab.module import Sequential
from cnnlab.shapes import (
    conv_output_size,
    conv_transpose2d_output_shape,
    conv_transpose_output_size,
)
from test_conv import ORDERS, TOL, TORCH_TOL, applies

# (x shape, weight shape (C_in, C_out // groups, kH, kW), stride, padding, output_padding,
#  groups, dilation, with bias)
CASES = {
    "N1-C1": ((1, 1, 5, 5), (1, 1, 3, 3), 1, 0, 0, 1, 1, True),
    "odd-sizes": ((2, 3, 7, 5), (3, 4, 3, 3), 1, 1, 0, 1, 1, True),
    "1x1-kernel": ((2, 3, 4, 6), (3, 5, 1, 1), 1, 0, 0, 1, 1, True),
    "1x1-stride-2": ((1, 2, 5, 5), (2, 2, 1, 1), 2, 0, 1, 1, 1, False),
    "input-1x1": ((2, 2, 1, 1), (2, 3, 4, 4), 1, 0, 0, 1, 1, True),
    "stride-gt-kernel": ((2, 2, 4, 3), (2, 3, 2, 2), 3, 0, 0, 1, 1, True),
    "stride-2-k4-p1": ((2, 3, 5, 6), (3, 2, 4, 4), 2, 1, 0, 1, 1, True),
    "stride-2-k3-p1-op1": ((1, 2, 4, 4), (2, 3, 3, 3), 2, 1, 1, 1, 1, True),
    "padding-crops-kernel": ((2, 2, 3, 4), (2, 2, 5, 6), 1, 2, 0, 1, 1, True),
    "output-padding-gt-padding": ((2, 2, 3, 3), (2, 2, 3, 3), 3, 0, 2, 1, 1, True),
    "non-square": ((2, 3, 6, 4), (3, 2, 2, 4), (2, 3), (1, 2), (1, 0), 1, 1, True),
    "dilation-2": ((2, 3, 5, 4), (3, 4, 3, 3), 1, 0, 0, 1, 2, True),
    "dilation-op-ge-stride": ((1, 2, 4, 5), (2, 2, 3, 3), 1, 1, 1, 1, 2, False),
    "dilation-rect-stride": ((1, 2, 5, 4), (2, 2, 3, 2), (2, 1), (1, 0), (0, 2), 1, (3, 3), True),
    "groups-2": ((2, 4, 5, 5), (4, 3, 3, 3), 1, 1, 0, 2, 1, True),
    "depthwise": ((3, 5, 4, 5), (5, 1, 3, 3), 2, 1, 1, 5, 1, True),
    "depthwise-multiplier-2": ((2, 3, 4, 4), (3, 2, 3, 3), 2, 1, 0, 3, 1, False),
    "groups-dilation-stride": ((2, 6, 5, 4), (6, 1, 3, 3), 2, 2, 1, 3, 2, True),
}


def make(rng, x_shape, w_shape, groups, with_bias, dtype=np.float64):
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[1] * groups).astype(dtype) if with_bias else None
    return x, w, b


def args(case):
    return CASES[case][2:7]  # stride, padding, output_padding, groups, dilation


def order_cases(names=CASES):
    return [pytest.param(order, name, id=f"{name}-{order}") for name in names
            for order in ("auto", *ORDERS) if applies(order, CASES[name][2])]


def force_order(monkeypatch, order):
    """Make conv_transpose2d_forward use the column order ``order`` ("auto": its own choice)."""
    if order != "auto":
        original = _im2col.make_plan
        monkeypatch.setattr(_im2col, "make_plan",
                            lambda *a: original(*a)._replace(**ORDERS[order]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order, case", order_cases())
def test_fast_equals_naive(order, case, dtype, rng, monkeypatch):
    force_order(monkeypatch, order)
    x_shape, w_shape, stride, padding, out_pad, groups, dilation, with_bias = CASES[case]
    x, w, b = make(rng, x_shape, w_shape, groups, with_bias, dtype)
    out, cache = conv_transpose2d_forward(x, w, b, *args(case))
    if order != "auto":
        assert {k: getattr(cache["plan"], k) for k in ORDERS[order]} == ORDERS[order]
    expected = conv_transpose2d_naive(x, w, b, *args(case))
    assert out.dtype == dtype and expected.dtype == dtype
    assert out.shape == conv_transpose2d_output_shape(x_shape, w_shape[1] * groups,
                                                      w_shape[2:], stride, padding, out_pad,
                                                      dilation)
    np.testing.assert_allclose(out, expected, **TOL[dtype])
    np.testing.assert_array_equal(conv_transpose2d(x, w, b, *args(case)), out)

    dout = rng.standard_normal(out.shape).astype(dtype)
    fast = conv_transpose2d_backward(dout, cache)
    slow = conv_transpose2d_backward_naive(dout, x, w, b, *args(case))
    for name, got, want, like in zip(("dx", "dweight", "dbias"), fast, slow, (x, w, b),
                                     strict=True):
        if like is None:
            assert got is None and want is None
        else:
            assert got.shape == like.shape and got.dtype == dtype, name
            np.testing.assert_allclose(got, want, **TOL[dtype], err_msg=name)


@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 2), groups=st.integers(1, 3), c_in_g=st.integers(1, 2),
       c_out_g=st.integers(1, 2), h=st.integers(1, 5), w=st.integers(1, 5),
       kh=st.integers(1, 4), kw=st.integers(1, 4), sh=st.integers(1, 3), sw=st.integers(1, 3),
       ph=st.integers(0, 2), pw=st.integers(0, 2), dh=st.integers(1, 3), dw=st.integers(1, 3),
       oph=st.integers(0, 2), opw=st.integers(0, 2), with_bias=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_fast_equals_naive_random_shapes(n, groups, c_in_g, c_out_g, h, w, kh, kw, sh, sw, ph,
                                         pw, dh, dw, oph, opw, with_bias, seed):
    assume(oph < max(sh, dh) and opw < max(sw, dw))
    assume((h - 1) * sh + dh * (kh - 1) + 1 + oph > 2 * ph)
    assume((w - 1) * sw + dw * (kw - 1) + 1 + opw > 2 * pw)
    rng = np.random.default_rng(seed)
    x, wt, b = make(rng, (n, groups * c_in_g, h, w), (groups * c_in_g, c_out_g, kh, kw), groups,
                    with_bias)
    a = ((sh, sw), (ph, pw), (oph, opw), groups, (dh, dw))
    out, cache = conv_transpose2d_forward(x, wt, b, *a)
    np.testing.assert_allclose(out, conv_transpose2d_naive(x, wt, b, *a), **TOL[np.float64])
    dout = rng.standard_normal(out.shape)
    for got, want in zip(conv_transpose2d_backward(dout, cache),
                         conv_transpose2d_backward_naive(dout, x, wt, b, *a), strict=True):
        if want is None:
            assert got is None
        else:
            np.testing.assert_allclose(got, want, **TOL[np.float64])


def checker(with_bias, a):
    saved = {}

    def forward(x, weight, bias=None):
        out, saved["cache"] = conv_transpose2d_forward(x, weight, bias, *a)
        return out

    def backward(dout):
        dx, dw, db = conv_transpose2d_backward(dout, saved["cache"])
        return {"x": dx, "weight": dw} | ({"bias": db} if with_bias else {})
    return forward, backward


@pytest.mark.parametrize("order, case", order_cases(
    ["odd-sizes", "stride-gt-kernel", "stride-2-k3-p1-op1", "output-padding-gt-padding",
     "non-square", "dilation-rect-stride", "dilation-op-ge-stride", "depthwise",
     "groups-dilation-stride"]))
def test_gradcheck(order, case, rng, monkeypatch):
    force_order(monkeypatch, order)
    x_shape, w_shape, *_, groups, _, with_bias = CASES[case]
    x, w, b = make(rng, x_shape, w_shape, groups, with_bias)
    inputs = {"x": x, "weight": w} | ({"bias": b} if with_bias else {})
    errors = gradcheck(*checker(with_bias, args(case)), inputs, rng=1)
    assert set(errors) == set(inputs) and max(errors.values()) < 1e-7, errors


def torch_check(torch, x, w, b, a, rng):
    """Forward and every gradient of cnnlab against torch.nn.functional.conv_transpose2d."""
    stride, padding, out_pad, groups, dilation = a

    def tup(v):
        return v if isinstance(v, int) else tuple(v)

    out, cache = conv_transpose2d_forward(x, w, b, *a)
    dout = rng.standard_normal(out.shape)
    grads = conv_transpose2d_backward(dout, cache)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    bt = None if b is None else torch.tensor(b, requires_grad=True)
    out_t = torch.nn.functional.conv_transpose2d(xt, wt, bt, stride=tup(stride),
                                                 padding=tup(padding),
                                                 output_padding=tup(out_pad), groups=groups,
                                                 dilation=tup(dilation))
    out_t.backward(torch.tensor(dout))
    assert out.shape == tuple(out_t.shape)
    np.testing.assert_allclose(out, out_t.detach().numpy(), **TORCH_TOL)
    for name, got, t in zip(("dx", "dweight", "dbias"), grads, (xt, wt, bt), strict=True):
        if t is None:
            assert got is None
        else:
            np.testing.assert_allclose(got, t.grad.numpy(), **TORCH_TOL, err_msg=name)


@pytest.mark.parametrize("order, case", order_cases())
def test_matches_torch(torch, order, case, rng, monkeypatch):
    force_order(monkeypatch, order)
    x_shape, w_shape, *_, groups, _, with_bias = CASES[case]
    torch_check(torch, *make(rng, x_shape, w_shape, groups, with_bias), args(case), rng)


def random_setting(rng):
    """A random valid geometry: N, C and sizes down to 1, kernels 1..4, every option."""
    groups = int(rng.integers(1, 4))
    c_in, c_out_g = groups * int(rng.integers(1, 3)), int(rng.integers(1, 3))
    stride, dilation = rng.integers(1, 4, 2), rng.integers(1, 4, 2)
    kernel, size = rng.integers(1, 5, 2), rng.integers(1, 7, 2)
    out_pad = [int(rng.integers(0, max(s, d))) for s, d in zip(stride, dilation, strict=True)]
    full = (size - 1) * stride + dilation * (kernel - 1) + 1 + np.array(out_pad)
    padding = [int(rng.integers(0, min(3, (f - 1) // 2 + 1))) for f in full]
    x_shape = (int(rng.integers(1, 4)), c_in, *map(int, size))
    w_shape = (c_in, c_out_g, *map(int, kernel))
    a = (tuple(map(int, stride)), tuple(padding), tuple(out_pad), groups,
         tuple(map(int, dilation)))
    return x_shape, w_shape, a, bool(rng.integers(0, 2))


@pytest.mark.parametrize("seed", range(40))
def test_random_sweep_matches_torch(torch, seed):
    """The issue's "random sweep": 40 seeded geometries, each with every option drawn."""
    rng = np.random.default_rng(seed)
    x_shape, w_shape, a, with_bias = random_setting(rng)
    x, w, b = make(rng, x_shape, w_shape, a[3], with_bias)
    torch_check(torch, x, w, b, a, rng)
    np.testing.assert_allclose(conv_transpose2d_naive(x, w, b, *a),
                               conv_transpose2d(x, w, b, *a), **TOL[np.float64])


# ------------------------------------------------------------------ the adjoint of conv2d
@pytest.mark.parametrize("case", CASES)
def test_adjoint_of_conv2d(case, rng):
    """<conv2d(z, W), x> == <z, conv_transpose2d(x, W)>, and the transposed convolution is
    conv2d's input gradient: same weight, stride, padding, dilation and groups."""
    x_shape, w_shape, stride, padding, out_pad, groups, dilation, _ = CASES[case]
    x, w, _ = make(rng, x_shape, w_shape, groups, False)
    y = conv_transpose2d(x, w, None, *args(case))
    z = rng.standard_normal(y.shape)
    conv_z, cache = conv2d_forward(z, w, None, stride, padding, dilation, groups)
    # the convolution may see one more window than x has (output_padding >= stride)
    conv_z = conv_z[:, :, :x_shape[2], :x_shape[3]]
    assert conv_z.shape == x.shape
    lhs, rhs = np.sum(conv_z * x), np.sum(z * y)
    assert np.isclose(lhs, rhs, rtol=1e-12, atol=1e-12), (lhs, rhs)
    dout = np.zeros(cache["out_shape"])
    dout[:, :, :x_shape[2], :x_shape[3]] = x
    np.testing.assert_allclose(conv2d_backward(dout, cache)[0], y, rtol=1e-12, atol=1e-12)


def test_matrix_of_transposed_convolution_is_the_transposed_matrix(rng):
    """Column by column: the matrix C of conv2d and the matrix of conv_transpose2d are
    transposes of each other (4x5 image, 3x3 kernel, stride 2, padding 1)."""
    w = rng.standard_normal((1, 1, 3, 3))
    basis_in = np.eye(20).reshape(20, 1, 4, 5)
    c = conv2d(basis_in, w, stride=2, padding=1).reshape(20, -1).T  # (outputs, 20)
    basis_out = np.eye(c.shape[0]).reshape(c.shape[0], 1, 2, 3)
    ct = conv_transpose2d(basis_out, w, stride=2, padding=1, output_padding=(1, 0))
    assert ct.shape[2:] == (4, 5)
    np.testing.assert_array_equal(ct.reshape(c.shape[0], 20).T, c.T)


# ------------------------------------------------------------------ output size
@pytest.mark.parametrize("size, k, s, p, op, d, expected", [
    (4, 3, 2, 1, 0, 1, 7), (4, 3, 2, 1, 1, 1, 8), (14, 4, 2, 1, 0, 1, 28), (1, 1, 1, 0, 0, 1, 1),
    (5, 3, 1, 1, 0, 1, 5), (3, 2, 3, 0, 2, 1, 10), (4, 3, 1, 0, 1, 2, 9), (2, 5, 1, 2, 0, 1, 2)])
def test_output_size_formula(size, k, s, p, op, d, expected):
    assert conv_transpose_output_size(size, k, s, p, op, d) == expected
    assert expected == (size - 1) * s - 2 * p + d * (k - 1) + op + 1
    if op < s:  # a convolution with the same settings maps it back
        assert conv_output_size(expected, k, s, p, d) == size


@pytest.mark.parametrize("size, k, s, p", [(n, k, s, p) for n in range(1, 8) for k in (1, 2, 3, 4)
                                           for s in (1, 2, 3) for p in range(3)
                                           if (n - 1) * s + k - 2 * p >= 1])
def test_output_padding_picks_among_the_sizes_a_convolution_merges(size, k, s, p):
    """conv_output_size maps s neighbouring sizes to one; output_padding 0..s-1 gives each."""
    sizes = [conv_transpose_output_size(size, k, s, p, op) for op in range(s)]
    assert sizes == list(range(sizes[0], sizes[0] + s))
    assert all(conv_output_size(n, k, s, p) == size for n in sizes)


def test_output_shape_of_both_ranks():
    assert conv_transpose2d_output_shape((2, 8, 5, 7), 4, (3, 2), (2, 3), (1, 0), (1, 2)) == \
        (2, 4, 10, 22)
    assert conv_transpose2d_output_shape((8, 5, 7), 4, 3) == (4, 7, 9)


# ------------------------------------------------------------------ cache and buffers
def test_backward_does_not_mutate_dout_or_cache(rng):
    x, w, b = make(rng, (2, 4, 5, 4), (4, 1, 3, 2), 2, True)
    x0, w0 = x.copy(), w.copy()
    out, cache = conv_transpose2d_forward(x, w, b, 2, 1, 1, 2)
    dout = rng.standard_normal(out.shape)
    space = cache["workspace"]
    arrays = {k: v for k, v in cache.items() if k != "workspace"}
    dout0, cache0 = dout.copy(), copy.deepcopy(arrays)
    first = conv_transpose2d_backward(dout, cache)
    np.testing.assert_array_equal(dout, dout0)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(w, w0)
    assert cache.keys() == {*cache0, "workspace"} and cache["workspace"] is space
    for key in cache0:
        np.testing.assert_array_equal(cache[key], cache0[key], err_msg=key)
    for again, before in zip(conv_transpose2d_backward(dout, cache), first, strict=True):
        np.testing.assert_array_equal(again, before)


@pytest.mark.parametrize("order", ORDERS)
def test_results_never_alias_the_reused_buffers(order, rng, monkeypatch):
    force_order(monkeypatch, order)
    x, w, b = make(rng, (3, 2, 5, 6), (2, 3, 3, 3), 1, True, np.float32)
    out, cache = conv_transpose2d_forward(x, w, b, 1, 1)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    grads = conv_transpose2d_backward(dout, cache)
    kept = [a.copy() for a in (out, *grads)]
    x2, w2, b2 = make(rng, (3, 2, 5, 6), (2, 3, 3, 3), 1, True, np.float32)
    _, cache2 = conv_transpose2d_forward(x2, w2, b2, 1, 1)
    conv_transpose2d_backward(rng.standard_normal(out.shape).astype(np.float32), cache2)
    for now, before in zip((out, *grads), kept, strict=True):
        np.testing.assert_array_equal(now, before)
    scratch = list(cache["workspace"].buffers.values())
    assert scratch and not any(np.shares_memory(a, buf) for a in (out, *grads)
                               for buf in scratch)


# ------------------------------------------------------------------ the layer
LAYERS = {  # id: (constructor args, input shape)
    "k3-s1-p1": ((3, 4, 3, 1, 1), (2, 3, 5, 4)),
    "k4-s2-p1": ((2, 3, 4, 2, 1), (2, 2, 4, 5)),
    "k3-s2-p1-op1-nobias": ((2, 2, 3, 2, 1, 1, 1, False), (1, 2, 3, 3)),
    "rect-dilated": ((2, 3, (3, 2), (2, 1), (1, 0), (1, 0), 1, True, (1, 2)), (2, 2, 4, 3)),
    "grouped": ((4, 6, 3, 2, 0, 1, 2), (2, 4, 3, 3)),
}


def build(case, rng):
    ctor, shape = LAYERS[case]
    layer = ConvTranspose2d(*ctor, rng=0, dtype=np.float64)
    for p in layer.parameters():  # non-zero biases, so a bias bug cannot hide
        p.data = rng.standard_normal(p.data.shape) * 0.5
    return layer, ctor, rng.standard_normal(shape)


@pytest.mark.parametrize("case", LAYERS)
def test_layer_equals_torch_with_copied_weights(case, rng, torch):
    layer, ctor, x = build(case, rng)
    tmod = torch.nn.ConvTranspose2d(*ctor, dtype=torch.float64)
    tparams = dict(tmod.named_parameters())
    assert set(tparams) == {n for n, _ in layer.named_parameters()}
    with torch.no_grad():
        for name, p in layer.named_parameters():
            assert tuple(tparams[name].shape) == p.shape
            tparams[name].copy_(torch.from_numpy(p.data))
    out = layer(x)
    g = rng.standard_normal(out.shape)
    dx = layer.backward(g)
    tx = torch.tensor(x, requires_grad=True)
    tout = tmod(tx)
    tout.backward(torch.from_numpy(g))
    np.testing.assert_allclose(out, tout.detach().numpy(), **TORCH_TOL)
    np.testing.assert_allclose(dx, tx.grad.numpy(), **TORCH_TOL)
    for name, p in layer.named_parameters():
        np.testing.assert_allclose(p.grad, tparams[name].grad.numpy(), **TORCH_TOL)
    assert layer.output_shape(x.shape) == out.shape == tuple(tout.shape)


@pytest.mark.parametrize("case", LAYERS)
def test_layer_gradcheck_and_kernel(case, rng):
    layer, _, x = build(case, rng)
    b = None if layer.bias is None else layer.bias.data
    np.testing.assert_array_equal(layer(x), conv_transpose2d_forward(x, layer.weight.data, b,
                                                                      *layer._args())[0])
    errors = module_gradcheck(layer, x, rng=0, tol=1e-7)
    assert set(errors) == {"x"} | {n for n, _ in layer.named_parameters()}
    assert max(errors.values()) < 1e-7, errors


@pytest.mark.parametrize("case", LAYERS)
def test_macs_equal_torch_flop_counter(case, rng, torch):
    """macs() against an independent count: PyTorch's FlopCounterMode (2 FLOPs per MAC)."""
    from torch.utils.flop_counter import FlopCounterMode
    layer, ctor, x = build(case, rng)
    tmod = torch.nn.ConvTranspose2d(*ctor, dtype=torch.float64)
    counter = FlopCounterMode(display=False)
    with counter:
        tmod(torch.from_numpy(x))
    assert 2 * layer.macs(x.shape) == counter.get_total_flops()
    n, c_in, h, w = x.shape
    k = layer.kernel_size[0] * layer.kernel_size[1]
    assert layer.macs(x.shape) == n * c_in * h * w * layer.out_channels // layer.groups * k


def test_layer_defaults_shapes_repr_and_init():
    layer = ConvTranspose2d(64, 32, 4, stride=2, padding=1, rng=0)
    assert layer.weight.shape == (64, 32, 4, 4) and layer.weight.data.dtype == np.float32
    assert layer.bias.shape == (32,) and not layer.bias.data.any()
    assert layer.output_shape((1, 64, 14, 14)) == (1, 32, 28, 28)
    assert layer.macs((1, 64, 14, 14)) == 14 * 14 * 64 * 32 * 16
    # He normal with PyTorch's fan-in for this layout: weight.shape[1] * kH * kW = 512
    assert abs(layer.weight.data.std() / np.sqrt(2 / 512) - 1) < 0.02
    assert repr(layer) == "ConvTranspose2d(64, 32, kernel_size=(4, 4), stride=(2, 2), " \
                          "padding=(1, 1))"
    assert repr(ConvTranspose2d(4, 2, 3, 2, 1, 1, 2, False, 2, rng=0)) == (
        "ConvTranspose2d(4, 2, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), "
        "output_padding=(1, 1), dilation=(2, 2), groups=2, bias=False)")
    a, b = ConvTranspose2d(3, 2, 3, rng=7), ConvTranspose2d(3, 2, 3, rng=7)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)


def test_summary_walks_the_layer():
    """summary() follows a small encoder-decoder through the transposed convolutions."""
    model = Sequential(Conv2d(1, 8, 3, stride=2, padding=1, rng=0), ReLU(),
                       Conv2d(8, 16, 3, stride=2, padding=1, rng=0), ReLU(),
                       ConvTranspose2d(16, 8, 4, stride=2, padding=1, rng=0), ReLU(),
                       ConvTranspose2d(8, 1, 4, stride=2, padding=1, rng=0))
    table = summary(model, (1, 1, 28, 28))
    assert [r.layer for r in table.rows][-3:] == ["ConvTranspose2d", "ReLU", "ConvTranspose2d"]
    assert [r.output_shape for r in table.rows][-3:] == [(1, 8, 14, 14), (1, 8, 14, 14),
                                                         (1, 1, 28, 28)]
    assert table.rows[4].params == 16 * 8 * 16 + 8 and table.rows[6].params == 8 * 16 + 1
    assert table.output_shape == (1, 1, 28, 28) == model(np.zeros((1, 1, 28, 28),
                                                                  np.float32)).shape
    assert "ConvTranspose2d" in str(table)
    with meta():
        big = Sequential(ConvTranspose2d(512, 256, 4, stride=2, padding=1))
    assert summary(big, (1, 512, 7, 7)).output_shape == (1, 256, 14, 14)
    assert big[0].macs((1, 512, 7, 7)) == 49 * 512 * 256 * 16
