"""conv2d: fast kernel == loop oracle, gradient checks, PyTorch float64 cross-checks."""
from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import cnnlab.conv
from cnnlab import _im2col
from cnnlab._validate import as_pair
from cnnlab.conv import (
    conv2d,
    conv2d_backward,
    conv2d_backward_naive,
    conv2d_forward,
    conv2d_naive,
    convolve2d,
)
from cnnlab.gradcheck import gradcheck
from cnnlab.shapes import conv2d_output_shape

# naive vs fast: float32 sums are reordered (matmul vs np.sum), so compare with
# rtol 1e-5 and an atol of 1e-5 (outputs are O(1)-O(10)); float64 with 1e-12 / 1e-12.
TOL = {np.float32: {"rtol": 1e-5, "atol": 1e-5}, np.float64: {"rtol": 1e-12, "atol": 1e-12}}
TORCH_TOL = {"rtol": 1e-6, "atol": 1e-12}

# (x shape, weight shape, stride, padding, with bias)
CASES = {
    "N1-C1": ((1, 1, 5, 5), (1, 1, 3, 3), 1, 0, True),
    "odd-sizes": ((2, 3, 7, 5), (4, 3, 3, 3), 1, 1, True),
    "1x1-kernel": ((2, 3, 4, 6), (5, 3, 1, 1), 1, 0, True),
    "kernel-equals-padded-input": ((2, 2, 3, 4), (3, 2, 5, 6), 1, 1, True),
    "kernel-equals-input": ((1, 2, 4, 3), (2, 2, 4, 3), 1, 0, False),
    "stride-gt-kernel": ((2, 2, 9, 8), (3, 2, 2, 2), 3, 0, True),
    "1x1-stride-2": ((1, 2, 5, 5), (2, 2, 1, 1), 2, 0, False),
    "non-square": ((2, 3, 6, 9), (2, 3, 2, 4), (2, 3), (1, 2), True),
    "floor-drops-last-row": ((1, 2, 8, 8), (2, 2, 3, 3), 2, 0, True),
    "same-odd": ((2, 2, 5, 6), (3, 2, 3, 3), 1, "same", True),
    "same-even": ((2, 2, 5, 6), (3, 2, 4, 2), 1, "same", True),
    "same-mixed": ((1, 3, 4, 7), (2, 3, 2, 5), (1, 1), "same", False),
    "valid": ((1, 3, 6, 6), (2, 3, 3, 3), 1, "valid", True),
    "pad-only-width": ((2, 1, 5, 4), (3, 1, 3, 3), (1, 2), (0, 2), False),
}


# The fast kernel orders its im2col columns in one of three ways (cnnlab._im2col);
# "auto" lets make_plan choose, the others force one where it applies (wide needs
# stride 1), so every sweep below runs through every order.
ORDERS = {"batch_last": {"batch_last": True, "wide": False},
          "wide": {"batch_last": False, "wide": True},
          "plain": {"batch_last": False, "wide": False}}


def applies(order, stride):
    return order != "wide" or as_pair(stride, "stride") == (1, 1)


def order_cases(names):
    return [pytest.param(order, name, id=f"{name}-{order}") for name in names
            for order in ("auto", *ORDERS) if applies(order, CASES[name][2])]


def force_order(monkeypatch, order):
    """Make conv2d_forward use the column order ``order`` ("auto": its own choice)."""
    if order != "auto":
        monkeypatch.setattr(cnnlab.conv, "make_plan",
                            lambda *args: _im2col.make_plan(*args)._replace(**ORDERS[order]))


def make(rng, x_shape, w_shape, with_bias, dtype=np.float64):
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype) if with_bias else None
    return x, w, b


def test_seed_worked_example():
    image = np.array([[1, 0, 2, 1, 0], [0, 1, 0, 1, 1], [1, 0, 1, 0, 0],
                      [0, 0, 1, 1, 0], [1, 1, 0, 0, 1]], dtype=np.float64)
    kernel = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], dtype=np.float64)
    expected = np.array([[6, 1, 4], [1, 4, 2], [3, 2, 3]], dtype=np.float64)
    x, w = image[None, None], kernel[None, None]
    np.testing.assert_array_equal(conv2d_naive(x, w)[0, 0], expected)
    np.testing.assert_array_equal(conv2d_forward(x, w)[0][0, 0], expected)
    np.testing.assert_array_equal(conv2d(x.astype(np.float32), w.astype(np.float32))[0, 0],
                                  expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order, case_id", order_cases(CASES))
def test_fast_equals_naive(order, case_id, dtype, rng, monkeypatch):
    force_order(monkeypatch, order)
    x_shape, w_shape, stride, padding, with_bias = CASES[case_id]
    x, w, b = make(rng, x_shape, w_shape, with_bias, dtype)
    out, cache = conv2d_forward(x, w, b, stride, padding)
    if order != "auto":
        assert {k: getattr(cache["plan"], k) for k in ORDERS[order]} == ORDERS[order]
    expected = conv2d_naive(x, w, b, stride, padding)
    assert out.dtype == dtype and out.shape == expected.shape
    assert out.shape == conv2d_output_shape(x_shape, w_shape[0], w_shape[2:], stride, padding)
    np.testing.assert_allclose(out, expected, **TOL[dtype])
    np.testing.assert_array_equal(conv2d(x, w, b, stride, padding), out)

    dout = rng.standard_normal(out.shape).astype(dtype)
    fast = conv2d_backward(dout, cache)
    slow = conv2d_backward_naive(dout, x, w, b, stride, padding)
    for name, got, want, like in zip(("dx", "dweight"), fast[:2], slow[:2], (x, w),
                                     strict=True):  # dbias below
        assert got.shape == like.shape and got.dtype == dtype, name
        np.testing.assert_allclose(got, want, **TOL[dtype], err_msg=name)
    if with_bias:
        assert fast[2].dtype == dtype
        np.testing.assert_allclose(fast[2], slow[2], **TOL[dtype])
    else:
        assert fast[2] is None and slow[2] is None


@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 2), c_in=st.integers(1, 3), c_out=st.integers(1, 3),
       h=st.integers(1, 7), w=st.integers(1, 7), kh=st.integers(1, 4), kw=st.integers(1, 4),
       sh=st.integers(1, 3), sw=st.integers(1, 3), ph=st.integers(0, 2), pw=st.integers(0, 2),
       with_bias=st.booleans(), seed=st.integers(0, 2**32 - 1),
       order=st.sampled_from(["auto", *ORDERS]))
def test_fast_equals_naive_random_shapes(n, c_in, c_out, h, w, kh, kw, sh, sw, ph, pw,
                                         with_bias, seed, order):
    assume(kh <= h + 2 * ph and kw <= w + 2 * pw and applies(order, (sh, sw)))
    original = cnnlab.conv.make_plan
    if order != "auto":  # hypothesis and function-scoped fixtures do not mix: patch by hand
        cnnlab.conv.make_plan = lambda *args: original(*args)._replace(**ORDERS[order])
    try:
        check_random_shape(n, c_in, c_out, h, w, kh, kw, sh, sw, ph, pw, with_bias, seed)
    finally:
        cnnlab.conv.make_plan = original


def check_random_shape(n, c_in, c_out, h, w, kh, kw, sh, sw, ph, pw, with_bias, seed):
    rng = np.random.default_rng(seed)
    x, weight, b = make(rng, (n, c_in, h, w), (c_out, c_in, kh, kw), with_bias)
    out, cache = conv2d_forward(x, weight, b, (sh, sw), (ph, pw))
    np.testing.assert_allclose(out, conv2d_naive(x, weight, b, (sh, sw), (ph, pw)),
                               **TOL[np.float64])
    dout = rng.standard_normal(out.shape)
    fast = conv2d_backward(dout, cache)
    slow = conv2d_backward_naive(dout, x, weight, b, (sh, sw), (ph, pw))
    for got, want in zip(fast, slow, strict=True):
        if want is None:
            assert got is None
        else:
            np.testing.assert_allclose(got, want, **TOL[np.float64])


def conv_check(stride, padding, with_bias=True):
    """forward/backward closures for gradcheck."""
    saved = {}

    def forward(x, weight, bias=None):
        out, saved["cache"] = conv2d_forward(x, weight, bias, stride, padding)
        return out

    def backward(dout):
        dx, dw, db = conv2d_backward(dout, saved["cache"])
        grads = {"x": dx, "weight": dw}
        if with_bias:
            grads["bias"] = db
        return grads
    return forward, backward


@pytest.mark.parametrize("order, case", order_cases(
    ["odd-sizes", "non-square", "same-even", "stride-gt-kernel", "1x1-stride-2",
     "floor-drops-last-row"]))
def test_gradcheck(order, case, rng, monkeypatch):
    force_order(monkeypatch, order)
    x_shape, w_shape, stride, padding, with_bias = CASES[case]
    x, w, b = make(rng, x_shape, w_shape, with_bias)
    inputs = {"x": x, "weight": w} | ({"bias": b} if with_bias else {})
    errors = gradcheck(*conv_check(stride, padding, with_bias), inputs, rng=1)
    assert set(errors) == set(inputs)
    assert max(errors.values()) < 1e-7, errors


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("order, case", order_cases(
    ["N1-C1", "odd-sizes", "kernel-equals-padded-input", "stride-gt-kernel", "non-square",
     "floor-drops-last-row", "same-odd", "same-even", "same-mixed", "valid", "pad-only-width"]))
def test_matches_torch(torch, order, case, rng, monkeypatch):
    force_order(monkeypatch, order)
    x_shape, w_shape, stride, padding, with_bias = CASES[case]
    x, w, b = make(rng, x_shape, w_shape, with_bias)
    out, cache = conv2d_forward(x, w, b, stride, padding)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = conv2d_backward(dout, cache)

    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    bt = torch.tensor(b, dtype=torch.float64, requires_grad=True) if with_bias else None
    stride_t = stride if isinstance(stride, int) else tuple(stride)
    padding_t = padding if isinstance(padding, (int, str)) else tuple(padding)
    out_t = torch.nn.functional.conv2d(xt, wt, bt, stride=stride_t, padding=padding_t)
    out_t.backward(torch.tensor(dout, dtype=torch.float64))
    np.testing.assert_allclose(out, out_t.detach().numpy(), **TORCH_TOL)
    np.testing.assert_allclose(dx, xt.grad.numpy(), **TORCH_TOL)
    np.testing.assert_allclose(dw, wt.grad.numpy(), **TORCH_TOL)
    if with_bias:
        np.testing.assert_allclose(db, bt.grad.numpy(), **TORCH_TOL)


def test_backward_does_not_mutate_dout_or_cache(rng):
    x, w, b = make(rng, (2, 3, 6, 5), (4, 3, 3, 2), True)
    x0, w0, b0 = x.copy(), w.copy(), b.copy()
    out, cache = conv2d_forward(x, w, b, (2, 1), "valid")
    for arr, orig in ((x, x0), (w, w0), (b, b0)):
        np.testing.assert_array_equal(arr, orig)
    dout = rng.standard_normal(out.shape)
    space = cache["workspace"]  # scratch memory, shared by design: compared by identity
    arrays = {k: v for k, v in cache.items() if k != "workspace"}
    dout0, cache0 = dout.copy(), copy.deepcopy(arrays)
    first = conv2d_backward(dout, cache)
    np.testing.assert_array_equal(dout, dout0)
    assert cache.keys() == {*cache0, "workspace"} and cache["workspace"] is space
    for key in cache0:
        np.testing.assert_array_equal(cache[key], cache0[key], err_msg=key)
    second = conv2d_backward(dout, cache)  # a second call gives the same result
    for a, c in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, c)
    conv2d_backward_naive(dout, x, w, b, (2, 1), "valid")
    np.testing.assert_array_equal(dout, dout0)
    np.testing.assert_array_equal(x, x0)


# (N, C_in, H, W, C_out, k, stride, pad), item size and the order make_plan picks:
# batch-last for small images with a big batch (and strided float64 with N >= 16),
# wide when the padded width adds at most a quarter, plain for whatever is left.
PLAN_CHOICES = [((128, 1, 28, 28, 6, 5, 1, 2), 4, "batch_last"),
                ((128, 6, 14, 14, 16, 5, 1, 0), 8, "batch_last"),
                ((64, 32, 16, 16, 64, 3, 1, 1), 4, "batch_last"),
                ((16, 64, 56, 56, 64, 3, 1, 1), 4, "wide"),
                ((32, 64, 32, 32, 128, 3, 2, 1), 4, "plain"),
                ((32, 64, 32, 32, 128, 3, 2, 1), 8, "batch_last"),
                ((8, 64, 32, 32, 128, 3, 2, 1), 8, "plain"),
                ((1, 3, 10, 10, 4, 5, 1, 0), 4, "plain"), ((1, 3, 224, 224, 8, 3, 1, 1), 8, "wide")]


@pytest.mark.parametrize("shape, itemsize, order", PLAN_CHOICES)
def test_make_plan_choice(shape, itemsize, order):
    n, c, h, w, c_out, k, s, p = shape
    out = conv2d_output_shape((n, c, h, w), c_out, k, s, p)[2:]
    plan = _im2col.make_plan((n, c, h, w), (k, k), (s, s), (p, p, p, p), out, itemsize)
    assert (plan.batch_last, plan.wide) == (order == "batch_last", order == "wide")
    columns = int(np.prod(plan.grid))
    assert columns == n * out[0] * (w + 2 * p if plan.wide else out[1])


@pytest.mark.parametrize("order", ORDERS)
def test_results_never_alias_the_reused_buffers(order, rng, monkeypatch):
    """A second call with the same shapes reuses every scratch buffer: nothing the first
    call returned (output, gradients, cache) may change."""
    force_order(monkeypatch, order)
    x, w, b = make(rng, (3, 2, 6, 5), (4, 2, 3, 3), True, np.float32)
    out, cache = conv2d_forward(x, w, b, 1, 1)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    grads = conv2d_backward(dout, cache)
    kept = [a.copy() for a in (out, cache["cols"], *grads)]
    x2, w2, b2 = make(rng, (3, 2, 6, 5), (4, 2, 3, 3), True, np.float32)
    out2, cache2 = conv2d_forward(x2, w2, b2, 1, 1)
    conv2d_backward(rng.standard_normal(out.shape).astype(np.float32), cache2)
    for now, before in zip((out, cache["cols"], *grads), kept, strict=True):
        np.testing.assert_array_equal(now, before)
    for again, before in zip(conv2d_backward(dout, cache), kept[2:], strict=True):
        np.testing.assert_array_equal(again, before)
    scratch = list(cache["workspace"].buffers.values())
    assert scratch and not any(np.shares_memory(a, buf) for a in (out, cache["cols"], *grads)
                               for buf in scratch)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x_shape, w_shape, staged", [
    ((16, 4, 16, 16), (4, 4, 3, 3), (16, 4, 16, 16)),   # samples 4 (8) KiB apart in x and dout
    ((128, 1, 8, 8), (2, 1, 3, 3), (2, 8, 8, 128))])     # N items 512 (1024) bytes in the grid
def test_batch_last_with_power_of_two_strides(x_shape, w_shape, staged, dtype, rng,
                                               monkeypatch):
    """Reordering to and from the batch-last order goes through padded rows when the
    copy would walk a multiple of 512 bytes: same numbers."""
    force_order(monkeypatch, "batch_last")
    _im2col.release()
    x, w, b = make(rng, x_shape, w_shape, True, dtype)
    out, cache = conv2d_forward(x, w, b, 1, 1)
    dout = rng.standard_normal(out.shape).astype(dtype)
    got = (out, *conv2d_backward(dout, cache))
    assert cache["plan"].batch_last
    # a staging buffer (*staged[:a+1], padded row) was used for an array of shape `staged`
    rows = [key[1] for key in cache["workspace"].buffers if key[0] == "staging"]
    assert any(r[:-1] == staged[:len(r) - 1] and r[-1] > np.prod(staged[len(r) - 1:])
               for r in rows), rows
    want = (conv2d_naive(x, w, b, 1, 1), *conv2d_backward_naive(dout, x, w, b, 1, 1))
    # dweight sums thousands of products: error vs the largest
    for g, e in zip(got, want, strict=True):
        np.testing.assert_allclose(g, e, rtol=TOL[dtype]["rtol"],
                                   atol=TOL[dtype]["atol"] * np.abs(e).max())


# ----------------------------------------------------------- true convolution


def test_convolve2d_hand_computed():
    image = np.array([[1.0, 2.0], [3.0, 4.0]])
    kernel = np.array([[1.0, 0.0], [0.0, -1.0]])
    # S(i, j) = sum_m sum_n I(m, n) K(i - m, j - n), worked by hand
    expected_full = np.array([[1, 2, 0], [3, 3, -2], [0, -3, -4]], dtype=np.float64)
    np.testing.assert_array_equal(convolve2d(image, kernel), expected_full)
    np.testing.assert_array_equal(convolve2d(image, kernel, "valid"), [[3.0]])


@pytest.mark.parametrize("image_shape, kernel_shape", [((5, 6), (3, 2)), ((4, 4), (1, 1)),
                                                      ((3, 7), (3, 3)), ((6, 5), (2, 4))])
def test_convolve2d_is_cross_correlation_with_flipped_kernel(image_shape, kernel_shape, rng):
    image = rng.standard_normal(image_shape)
    kernel = rng.standard_normal(kernel_shape)
    flipped = kernel[::-1, ::-1].copy()[None, None]
    kh, kw = kernel_shape
    valid = convolve2d(image, kernel, mode="valid")
    full = convolve2d(image, kernel, mode="full")
    assert valid.shape == (image_shape[0] - kh + 1, image_shape[1] - kw + 1)
    assert full.shape == (image_shape[0] + kh - 1, image_shape[1] + kw - 1)
    np.testing.assert_allclose(valid, conv2d(image[None, None], flipped)[0, 0],
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(full, conv2d(image[None, None], flipped,
                                            padding=(kh - 1, kw - 1))[0, 0],
                               rtol=1e-12, atol=1e-12)
    # convolution commutes; cross-correlation does not
    np.testing.assert_allclose(full, convolve2d(kernel, image), rtol=1e-12, atol=1e-12)
    if kernel_shape != (1, 1):
        assert not np.allclose(valid, conv2d(image[None, None], kernel[None, None])[0, 0])


@pytest.mark.parametrize("n, k", [(6, 3), (5, 1), (4, 4), (7, 2)])
def test_convolve2d_one_row_equals_np_convolve(n, k, rng):
    a = rng.standard_normal(n)
    v = rng.standard_normal(k)
    np.testing.assert_allclose(convolve2d(a[None], v[None])[0], np.convolve(a, v, "full"),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(convolve2d(a[None], v[None], "valid")[0],
                               np.convolve(a, v, "valid"), rtol=1e-12, atol=1e-12)


def test_convolve2d_keeps_float32():
    image = np.ones((3, 3), dtype=np.float32)
    assert convolve2d(image, np.ones((2, 2), dtype=np.float32)).dtype == np.float32
