"""Output-size calculators: worked numbers, PyTorch rules, agreement with real passes."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlab.conv import conv2d_forward
from cnnlab.pool import avg_pool2d_forward, max_pool2d_forward
from cnnlab.shapes import (
    conv2d_output_shape,
    conv_output_size,
    pool2d_output_shape,
    pool_output_size,
    resolve_padding,
)


@pytest.mark.parametrize("args, kwargs, expected", [
    ((5, 3), {}, 3),                                  # the seed's 3x3 filter on 5x5
    ((224, 3, 1, 1), {}, 224),                        # "same" conv in the 224 walk-through
    ((7, 3), {"stride": 2}, 3),                       # (7 - 3) / 2 + 1 = 3 exactly
    ((8, 3), {"stride": 2}, 3),                       # floor: the last row is never reached
    ((32, 5), {"padding": 2}, 32),
    ((28, 5), {}, 24),
    ((7, 3), {"dilation": 2}, 3),                     # effective kernel 5
    ((5, 5), {}, 1),                                  # kernel equal to the input
    ((5, 1), {"stride": 3}, 2),                       # stride larger than the kernel
])
def test_conv_output_size_worked_numbers(args, kwargs, expected):
    assert conv_output_size(*args, **kwargs) == expected


@pytest.mark.parametrize("args, expected", [
    ((224, 2, 2), 112), ((224, 2), 112), ((7, 2), 3), ((5, 3, 1, 1), 5), ((6, 3, 2, 1), 3),
])
def test_pool_output_size_worked_numbers(args, expected):
    assert pool_output_size(*args) == expected


def test_output_sizes_are_python_ints():
    assert type(conv_output_size(np.int64(9), 3)) is int
    assert type(pool_output_size(9, 2)) is int


@pytest.mark.parametrize("padding, kernel, stride, expected", [
    (0, (3, 3), (1, 1), (0, 0, 0, 0)),
    (2, (3, 3), (2, 2), (2, 2, 2, 2)),
    ((1, 3), (3, 3), (1, 1), (1, 1, 3, 3)),
    ("valid", (4, 4), (3, 2), (0, 0, 0, 0)),
    ("same", (3, 3), (1, 1), (1, 1, 1, 1)),
    ("same", (4, 4), (1, 1), (1, 2, 1, 2)),          # even: extra row at the bottom/right
    ("same", (2, 5), (1, 1), (0, 1, 2, 2)),
    ("same", (1, 1), (1, 1), (0, 0, 0, 0)),
    ("same", 6, 1, (2, 3, 2, 3)),                     # ints are accepted as pairs
])
def test_resolve_padding(padding, kernel, stride, expected):
    assert resolve_padding(padding, kernel, stride) == expected


@pytest.mark.parametrize("input_shape, c_out, kernel, stride, padding, expected", [
    ((1, 3, 224, 224), 64, 3, 1, 1, (1, 64, 224, 224)),
    ((3, 224, 224), 64, 3, 1, 1, (64, 224, 224)),
    ((2, 1, 28, 28), 6, 5, 1, 2, (2, 6, 28, 28)),
    ((2, 3, 7, 8), 4, (3, 2), (2, 3), (1, 0), (2, 4, 4, 3)),
    ((1, 1, 5, 6), 2, (4, 2), 1, "same", (1, 2, 5, 6)),
    ((1, 1, 5, 6), 2, 3, 1, "valid", (1, 2, 3, 4)),
])
def test_conv2d_output_shape_worked(input_shape, c_out, kernel, stride, padding, expected):
    assert conv2d_output_shape(input_shape, c_out, kernel, stride, padding) == expected


@pytest.mark.parametrize("input_shape, kernel, stride, padding, expected", [
    ((1, 64, 224, 224), 2, None, 0, (1, 64, 112, 112)),
    ((64, 224, 224), 2, 2, 0, (64, 112, 112)),
    ((2, 3, 7, 9), (3, 2), (2, 1), (1, 1), (2, 3, 4, 10)),
])
def test_pool2d_output_shape_worked(input_shape, kernel, stride, padding, expected):
    assert pool2d_output_shape(input_shape, kernel, stride, padding) == expected


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 2), c=st.integers(1, 3), c_out=st.integers(1, 3),
       h=st.integers(1, 9), w=st.integers(1, 9), kh=st.integers(1, 4), kw=st.integers(1, 4),
       sh=st.integers(1, 3), sw=st.integers(1, 3), ph=st.integers(0, 2), pw=st.integers(0, 2),
       same=st.booleans())
def test_conv2d_output_shape_matches_forward(n, c, c_out, h, w, kh, kw, sh, sw, ph, pw, same):
    padding = "same" if same else (ph, pw)
    stride = (1, 1) if same else (sh, sw)
    top, bottom, left, right = resolve_padding(padding, (kh, kw), stride)
    if kh > h + top + bottom or kw > w + left + right:
        with pytest.raises(ValueError, match="kernel_size"):
            conv2d_output_shape((n, c, h, w), c_out, (kh, kw), stride, padding)
        return
    x = np.zeros((n, c, h, w))
    out, _ = conv2d_forward(x, np.zeros((c_out, c, kh, kw)), None, stride, padding)
    assert conv2d_output_shape((n, c, h, w), c_out, (kh, kw), stride, padding) == out.shape
    if not same:
        assert out.shape[2:] == (conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw))


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 9), w=st.integers(1, 9), kh=st.integers(1, 4), kw=st.integers(1, 4),
       sh=st.integers(1, 3), sw=st.integers(1, 3), ph=st.integers(0, 2), pw=st.integers(0, 2))
def test_pool2d_output_shape_matches_forward(h, w, kh, kw, sh, sw, ph, pw):
    if ph > kh // 2 or pw > kw // 2 or kh > h + 2 * ph or kw > w + 2 * pw:
        with pytest.raises(ValueError, match="padding|kernel_size"):
            pool2d_output_shape((1, 2, h, w), (kh, kw), (sh, sw), (ph, pw))
        return
    x = np.zeros((1, 2, h, w))
    expected = pool2d_output_shape((1, 2, h, w), (kh, kw), (sh, sw), (ph, pw))
    assert max_pool2d_forward(x, (kh, kw), (sh, sw), (ph, pw))[0].shape == expected
    assert avg_pool2d_forward(x, (kh, kw), (sh, sw), (ph, pw))[0].shape == expected
    assert expected[2:] == (pool_output_size(h, kh, sh, ph), pool_output_size(w, kw, sw, pw))


@pytest.mark.parametrize("size, kernel, stride, padding, dilation", [
    (7, 3, 2, 0, 1), (8, 3, 2, 1, 1), (9, 3, 1, 0, 2), (10, 4, 3, 2, 2), (5, 5, 1, 0, 1),
    (1, 1, 1, 0, 1), (6, 2, 4, 1, 3),
])
def test_conv_output_size_matches_torch(torch, size, kernel, stride, padding, dilation):
    x = torch.zeros(1, 1, size, size, dtype=torch.float64)
    w = torch.zeros(1, 1, kernel, kernel, dtype=torch.float64)
    out = torch.nn.functional.conv2d(x, w, stride=stride, padding=padding, dilation=dilation)
    assert conv_output_size(size, kernel, stride, padding, dilation) == out.shape[-1]


def test_pool_padding_limit_follows_torch(torch):
    x = torch.zeros(1, 1, 8, 8, dtype=torch.float64)
    assert pool_output_size(8, 4, 1, 2) == torch.nn.functional.max_pool2d(x, 4, 1, 2).shape[-1]
    with pytest.raises(RuntimeError):
        torch.nn.functional.max_pool2d(x, 4, 1, 3)
    with pytest.raises(ValueError, match="padding"):
        pool_output_size(8, 4, 1, 3)
