"""Max and average pooling: fast == loop oracle, tie rule, gradient checks, PyTorch."""
from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cnnlab.gradcheck import gradcheck
from cnnlab.pool import (
    _tiling,
    avg_pool2d,
    avg_pool2d_backward,
    avg_pool2d_backward_naive,
    avg_pool2d_forward,
    avg_pool2d_naive,
    max_pool2d,
    max_pool2d_backward,
    max_pool2d_backward_naive,
    max_pool2d_forward,
    max_pool2d_naive,
)
from cnnlab.shapes import pool2d_output_shape

# Max pooling selects entries; averages (and overlapping gradients) are summed in
# another order than the loops: float32 rtol/atol 1e-5, float64 rtol/atol 1e-12.
TOL = {np.float32: {"rtol": 1e-5, "atol": 1e-5}, np.float64: {"rtol": 1e-12, "atol": 1e-12}}
TORCH_TOL = {"rtol": 1e-6, "atol": 1e-12}

KINDS = {
    "max": (max_pool2d_forward, max_pool2d_backward, max_pool2d_naive,
            max_pool2d_backward_naive, max_pool2d),
    "avg": (avg_pool2d_forward, avg_pool2d_backward, avg_pool2d_naive,
            avg_pool2d_backward_naive, avg_pool2d),
}

# (x shape, kernel_size, stride, padding)
CASES = {
    "N1-C1-2x2": ((1, 1, 4, 4), 2, None, 0),
    "odd-sizes-tiling-crop": ((2, 3, 5, 7), 2, None, 0),
    "tiling-3x3": ((2, 3, 6, 6), 3, 3, 0),
    "non-square-tiling": ((2, 2, 8, 8), (2, 4), (2, 4), 0),
    "overlap-padded": ((2, 2, 5, 5), 3, 1, 1),
    "overlap-stride-2": ((2, 2, 7, 9), 3, 2, (1, 0)),
    "non-square-all": ((2, 2, 6, 7), (3, 2), (2, 1), (1, 1)),
    "1x1-stride-2": ((1, 2, 5, 5), 1, 2, 0),
    "stride-gt-kernel": ((2, 1, 7, 6), 2, 3, 0),
    "kernel-equals-padded-input": ((1, 2, 2, 2), 4, None, 1),
    "kernel-equals-input": ((2, 1, 3, 5), (3, 5), None, 0),
    "17x17-windows-uint16-argmax": ((1, 2, 18, 17), 17, 1, 0),
}


def test_cases_cover_every_backward_path():
    """Backward writes an exact tiling into an uninitialised buffer, assigns disjoint
    windows into zeros, and adds overlapping ones: the sweep must hold all three."""
    paths = set()
    for x_shape, kernel, stride, padding in CASES.values():
        k = (kernel, kernel) if isinstance(kernel, int) else tuple(kernel)
        s = k if stride is None else (stride, stride) if isinstance(stride, int) else stride
        p = (padding, padding) if isinstance(padding, int) else padding
        out = pool2d_output_shape(x_shape, kernel, stride, padding)
        paths.add(_tiling(k, s, (p[0], p[0], p[1], p[1]), x_shape, out))
    assert paths == {(True, True), (True, False), (False, False)}


def distinct(rng, shape, spacing=0.1):
    """Values far apart (no ties within eps), in random order."""
    return (rng.permutation(int(np.prod(shape))) * spacing - 1.0).reshape(shape)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_fast_equals_naive(case, kind, dtype, rng):
    forward, backward, naive, backward_naive, plain = KINDS[kind]
    x_shape, kernel, stride, padding = case
    x = rng.standard_normal(x_shape).astype(dtype)
    out, cache = forward(x, kernel, stride, padding)
    assert out.dtype == dtype
    assert out.shape == pool2d_output_shape(x_shape, kernel, stride, padding)
    np.testing.assert_allclose(out, naive(x, kernel, stride, padding), **TOL[dtype])
    np.testing.assert_array_equal(plain(x, kernel, stride, padding), out)
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx = backward(dout, cache)
    assert dx.shape == x.shape and dx.dtype == dtype
    np.testing.assert_allclose(dx, backward_naive(dout, x, kernel, stride, padding), **TOL[dtype])


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_max_pool_ties_match_naive(case, rng):
    """Small integers make many ties: both versions must pick the same (first) maximum."""
    x_shape, kernel, stride, padding = case
    x = rng.integers(0, 3, x_shape).astype(np.float64)
    out, cache = max_pool2d_forward(x, kernel, stride, padding)
    np.testing.assert_array_equal(out, max_pool2d_naive(x, kernel, stride, padding))
    dout = rng.standard_normal(out.shape)
    # overlapping windows add gradients in another order: not bitwise equal
    np.testing.assert_allclose(max_pool2d_backward(dout, cache),
                               max_pool2d_backward_naive(dout, x, kernel, stride, padding),
                               **TOL[np.float64])


def test_max_pool_tie_goes_to_first_in_row_major_order():
    x = np.ones((1, 1, 4, 4))
    x[0, 0, 2:, 2:] = [[0.0, 5.0], [5.0, 5.0]]
    _, cache = max_pool2d_forward(x, 2)
    dx = max_pool2d_backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), cache)
    expected = np.array([[1, 0, 2, 0], [0, 0, 0, 0], [3, 0, 0, 4], [0, 0, 0, 0]], dtype=float)
    np.testing.assert_array_equal(dx[0, 0], expected)


def test_overlapping_max_windows_accumulate():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 1.0  # the centre wins all four 2x2 windows
    out, cache = max_pool2d_forward(x, 2, 1)
    np.testing.assert_array_equal(out, np.ones((1, 1, 2, 2)))
    dx = max_pool2d_backward(np.full((1, 1, 2, 2), 0.5), cache)
    assert dx[0, 0, 1, 1] == 2.0 and dx.sum() == 2.0


def test_avg_pool_counts_padding():
    out = avg_pool2d(np.ones((1, 1, 2, 2)), 2, 2, 1)
    np.testing.assert_array_equal(out[0, 0], np.full((2, 2), 0.25))


@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(1, 8), w=st.integers(1, 8),
       kh=st.integers(1, 4), kw=st.integers(1, 4), sh=st.integers(1, 4), sw=st.integers(1, 4),
       ph=st.integers(0, 2), pw=st.integers(0, 2), kind=st.sampled_from(sorted(KINDS)),
       seed=st.integers(0, 2**32 - 1))
def test_fast_equals_naive_random_shapes(n, c, h, w, kh, kw, sh, sw, ph, pw, kind, seed):
    assume(ph <= kh // 2 and pw <= kw // 2 and kh <= h + 2 * ph and kw <= w + 2 * pw)
    forward, backward, naive, backward_naive, _ = KINDS[kind]
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 4, (n, c, h, w)).astype(np.float64)  # ties included on purpose
    out, cache = forward(x, (kh, kw), (sh, sw), (ph, pw))
    np.testing.assert_allclose(out, naive(x, (kh, kw), (sh, sw), (ph, pw)), **TOL[np.float64])
    dout = rng.standard_normal(out.shape)
    np.testing.assert_allclose(backward(dout, cache),
                               backward_naive(dout, x, (kh, kw), (sh, sw), (ph, pw)),
                               **TOL[np.float64])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", ["odd-sizes-tiling-crop", "overlap-padded", "overlap-stride-2",
                                  "non-square-all", "stride-gt-kernel"])
def test_gradcheck(case, kind, rng):
    forward, backward, *_ = KINDS[kind]
    x_shape, kernel, stride, padding = case_args = CASES[case]
    saved = {}

    def fwd(x):
        out, saved["cache"] = forward(x, kernel, stride, padding)
        return out

    def bwd(dout):
        return {"x": backward(dout, saved["cache"])}

    errors = gradcheck(fwd, bwd, {"x": distinct(rng, x_shape)}, rng=2)
    assert errors["x"] < 1e-7, (case_args, errors)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_matches_torch(torch, case, kind, rng):
    forward, backward, *_ = KINDS[kind]
    x_shape, kernel, stride, padding = case
    x = rng.standard_normal(x_shape)
    out, cache = forward(x, kernel, stride, padding)
    dout = rng.standard_normal(out.shape)
    dx = backward(dout, cache)
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    fn = torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d
    out_t = fn(xt, kernel, stride, padding)
    out_t.backward(torch.tensor(dout, dtype=torch.float64))
    np.testing.assert_allclose(out, out_t.detach().numpy(), **TORCH_TOL)
    np.testing.assert_allclose(dx, xt.grad.numpy(), **TORCH_TOL)


@pytest.mark.parametrize("case", ["N1-C1-2x2", "overlap-padded", "non-square-all"])
def test_max_pool_ties_match_torch(torch, case, rng):
    x_shape, kernel, stride, padding = CASES[case]
    x = rng.integers(0, 2, x_shape).astype(np.float64)
    out, cache = max_pool2d_forward(x, kernel, stride, padding)
    dout = rng.standard_normal(out.shape)
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    torch.nn.functional.max_pool2d(xt, kernel, stride, padding).backward(
        torch.tensor(dout, dtype=torch.float64))
    np.testing.assert_allclose(max_pool2d_backward(dout, cache), xt.grad.numpy(), **TORCH_TOL)


@pytest.mark.parametrize("kind", KINDS)
def test_backward_does_not_mutate_dout_or_cache(kind, rng):
    forward, backward, _, backward_naive, _ = KINDS[kind]
    x = rng.standard_normal((2, 3, 7, 6))
    x0 = x.copy()
    out, cache = forward(x, 3, 2, 1)
    np.testing.assert_array_equal(x, x0)
    dout = rng.standard_normal(out.shape)
    dout0, cache0 = dout.copy(), copy.deepcopy(cache)
    first = backward(dout, cache)
    np.testing.assert_array_equal(dout, dout0)
    assert cache.keys() == cache0.keys()
    for key in cache:
        np.testing.assert_array_equal(cache[key], cache0[key], err_msg=key)
    np.testing.assert_array_equal(backward(dout, cache), first)
    backward_naive(dout, x, 3, 2, 1)
    np.testing.assert_array_equal(dout, dout0)
    np.testing.assert_array_equal(x, x0)


def test_max_pool_backward_has_no_negative_zeros():
    """Losers get +0.0 like in PyTorch, not -0.0 (a negative gradient times False)."""
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    for stride in (2, 3):  # exact tiling, and disjoint windows with gaps
        out, cache = max_pool2d_forward(x, 2, stride)
        dx = max_pool2d_backward(-np.ones_like(out), cache)
        assert not np.signbit(dx[dx == 0]).any()


# --- NaN (issue 15, item 14): NaN wins its window, and so does its gradient ------------------

NAN_CASES = [((1, 1, 1, 4), (1, 4), None, [1.0, np.nan, 3.0, np.nan]),   # two NaN: the last
             ((1, 1, 1, 4), (1, 2), 1, [5.0, np.nan, 3.0, 1.0]),          # overlapping windows
             ((1, 1, 2, 2), 2, None, [np.nan, 9.0, 8.0, 7.0])]            # NaN first, bigger later


@pytest.mark.parametrize("shape, kernel, stride, values", NAN_CASES)
def test_max_pool_with_nan_routes_the_gradient_to_the_nan(shape, kernel, stride, values, torch):
    x = np.array(values).reshape(shape)
    out, cache = max_pool2d_forward(x, kernel, stride)
    dout = np.arange(1.0, out.size + 1).reshape(out.shape)
    dx = max_pool2d_backward(dout, cache)
    np.testing.assert_array_equal(out, max_pool2d_naive(x, kernel, stride))
    np.testing.assert_array_equal(dx, max_pool2d_backward_naive(dout, x, kernel, stride))
    assert np.isnan(out).any()
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.max_pool2d(xt, kernel, stride)
    yt.backward(torch.tensor(dout))
    np.testing.assert_array_equal(out, yt.detach().numpy())
    np.testing.assert_array_equal(dx, xt.grad.numpy())


def test_max_pool_without_nan_is_unchanged_by_the_nan_rule(rng):
    x = rng.standard_normal((2, 3, 6, 6))
    x[0, 0, 0, 0] = np.inf
    out, cache = max_pool2d_forward(x, 3, 1, 1)
    dout = rng.standard_normal(out.shape)
    np.testing.assert_allclose(max_pool2d_backward(dout, cache),
                               max_pool2d_backward_naive(dout, x, 3, 1, 1), **TOL[np.float64])
