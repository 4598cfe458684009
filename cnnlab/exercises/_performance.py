"""Checkers of performance (the im2col kernel: column sizes, GEMM shapes and counts, layouts)."""
from __future__ import annotations

import numpy as np

from .._im2col import make_plan
from ..shapes import conv2d_output_shape
from ._core import _add

PF = "performance"
_F32 = 4  # bytes per float32 value


def gemm_shapes(x_shape, weight_shape, stride=1, padding=0):
    """``(rows, inner, cols)`` of the forward GEMM and of the two backward GEMMs of im2col.

    forward ``W_mat (C_out, K) @ cols (K, M)``; weight gradient ``G (C_out, M) @ cols^T (M, K)``;
    column gradient ``W_mat^T (K, C_out) @ G (C_out, M)``; ``K = C_in kH kW``,
    ``M = N H_out W_out`` (the textbook column matrix, without cnnlab's extra wide columns).
    """
    c_out, c_in, kh, kw = weight_shape
    n, _, ho, wo = conv2d_output_shape(x_shape, c_out, (kh, kw), stride, padding)
    k, m = c_in * kh * kw, n * ho * wo
    return np.array([(c_out, k, m), (c_out, m, k), (k, c_out, m)])


def _madds(x_shape, weight_shape, stride=1, padding=0) -> int:
    """Multiply-adds of one of the three GEMMs (they all have the same count)."""
    rows, inner, cols = gemm_shapes(x_shape, weight_shape, stride, padding)[0]
    return int(rows) * int(inner) * int(cols)


def _intensity(x_shape, weight_shape, stride=1, padding=0, flops_per_madd=2, itemsize=_F32,
               write_output=True) -> float:
    """Flops per byte of the forward GEMM, reading both factors and writing the product once."""
    m_rows, inner, n_cols = (int(v) for v in gemm_shapes(x_shape, weight_shape, stride,
                                                         padding)[0])
    values = m_rows * inner + inner * n_cols + (m_rows * n_cols if write_output else 0)
    return flops_per_madd * m_rows * inner * n_cols / (itemsize * values)


# ex-perf-columns: the size of the column matrix ---------------------------------------------------
_BIG_X, _BIG_W = (16, 64, 56, 56), (64, 64, 3, 3)          # stride 1, padding 1
_STRIDED_X, _STRIDED_W = (32, 64, 32, 32), (128, 64, 3, 3)  # stride 2, padding 1


def _cols_bytes(x_shape, weight_shape, stride=1, padding=1, itemsize=_F32) -> int:
    rows, inner, cols = gemm_shapes(x_shape, weight_shape, stride, padding)[0]
    return int(inner) * int(cols) * itemsize


def _x_bytes(x_shape, itemsize=_F32) -> int:
    return int(np.prod(x_shape)) * itemsize


_COLS = ("the column matrix has K = C_in·kH·kW rows and one column per output position of the "
         "whole batch, M = N·H_out·W_out; each float32 value takes 4 bytes")
_add("ex-perf-columns", "bytes", "bytes of the float32 column matrix, 16×64×56×56 input, 3×3, "
     "padding 1", PF, "number", _COLS, lambda: _cols_bytes(_BIG_X, _BIG_W), integer=True,
     mistakes=lambda: [
         (_cols_bytes(_BIG_X, _BIG_W) // _F32, "that counts values: give bytes"),
         (_cols_bytes(_BIG_X, _BIG_W, itemsize=8), "float32 values take 4 bytes, not 8"),
         (_x_bytes(_BIG_X), "that is the size of the input: every receptive field is copied into "
                            "its own column"),
         (_cols_bytes(_BIG_X, (64, 1, 3, 3)), "a column holds the window of every input channel: "
                                              "K includes C_in"),
         (_cols_bytes(_BIG_X, _BIG_W, padding=0), "with padding 1 the output keeps the input's "
                                                  "size: did you forget the padding?")])
_RATIO = ("count how many columns each input pixel is copied into: divide the column matrix's "
          "size by the input's")
_add("ex-perf-columns", "ratio", "column matrix / input size (stride 1, padding 1)", PF, "number",
     _RATIO, lambda: _cols_bytes(_BIG_X, _BIG_W) / _x_bytes(_BIG_X),
     mistakes=lambda: [(_x_bytes(_BIG_X) / _cols_bytes(_BIG_X, _BIG_W),
                        "column matrix divided by input: the ratio is above one"),
                       (3, "a window has kH·kW pixels, not kW"),
                       (_cols_bytes(_BIG_X, _BIG_W, padding=0) / _x_bytes(_BIG_X),
                        "with padding 1 there is one output position per input pixel")])
_add("ex-perf-columns", "strided_ratio", "column matrix / input size for stride 2 "
     "(32×64×32×32 input, 3×3, padding 1)", PF, "number",
     _RATIO + "; a stride S keeps one output position in S along each axis",
     lambda: _cols_bytes(_STRIDED_X, _STRIDED_W, stride=2) / _x_bytes(_STRIDED_X),
     mistakes=lambda: [(_cols_bytes(_STRIDED_X, _STRIDED_W) / _x_bytes(_STRIDED_X),
                        "the stride divides the number of output positions"),
                       (_cols_bytes(_STRIDED_X, _STRIDED_W, stride=2) / _x_bytes(_STRIDED_X) * 2,
                        "the stride applies to both height and width"),
                       (_x_bytes(_STRIDED_X) / _cols_bytes(_STRIDED_X, _STRIDED_W, stride=2),
                        "column matrix divided by input, not the other way round")])

# ex-perf-madds: multiply-adds of the three GEMMs --------------------------------------------------
_L2_X, _L2_W = (128, 6, 14, 14), (16, 6, 5, 5)  # LeNet-5's second convolution, no padding
_MADDS = ("a product (a, b) @ (b, c) takes a·b·c multiply-adds; K = C_in·kH·kW and "
          "M = N·H_out·W_out")
_add("ex-perf-madds", "forward", "multiply-adds of the forward GEMM of LeNet-5's conv2", PF,
     "number", _MADDS, lambda: _madds(_L2_X, _L2_W), integer=True,
     mistakes=lambda: [(_madds(_L2_X, (16, 1, 5, 5)), "each output sums over all input channels: "
                                                      "K includes C_in"),
                       (_madds(_L2_X, _L2_W, padding=2), "there is no padding: the output is "
                                                         "smaller than the input"),
                       (_madds((1,) + _L2_X[1:], _L2_W), "one product covers the whole batch"),
                       (2 * _madds(_L2_X, _L2_W), "count multiply-adds, not flops")])
_add("ex-perf-madds", "backward", "multiply-adds of the two backward GEMMs together", PF, "number",
     _MADDS + "; write down the shapes of the weight-gradient and the column-gradient products",
     lambda: 2 * _madds(_L2_X, _L2_W), integer=True,
     mistakes=lambda: [(_madds(_L2_X, _L2_W), "there are two backward products: one for the "
                                              "weight gradient, one for the input's columns"),
                       (4 * _madds(_L2_X, _L2_W), "count multiply-adds, not flops")])
_add("ex-perf-madds", "flops", "flops of forward plus backward (2 flops per multiply-add)", PF,
     "number", "add the three products and count a multiply-add as two flops",
     lambda: 2 * 3 * _madds(_L2_X, _L2_W), integer=True,
     mistakes=lambda: [(3 * _madds(_L2_X, _L2_W), "a multiply-add is two flops"),
                       (2 * _madds(_L2_X, _L2_W), "add the two backward products"),
                       (2 * 2 * _madds(_L2_X, _L2_W), "three products: forward and two "
                                                      "backward")])

# ex-perf-layout: the column order make_plan chooses ---------------------------------------------
_LAYOUT_CASES = [((8, 16, 32, 32), 3, 1), ((64, 16, 8, 8), 3, 1), ((8, 16, 12, 12), 5, 0)]


def _columns(x_shape, k, pad, rule="plan") -> int:
    n, _, h, w = x_shape
    _, _, ho, wo = conv2d_output_shape(x_shape, 1, k, 1, pad)
    if rule == "plain":
        return n * ho * wo
    if rule == "wide":
        return n * ho * (w + 2 * pad)
    plan = make_plan(x_shape, (k, k), (1, 1), (pad,) * 4, (ho, wo), _F32)
    return int(np.prod(plan.grid))


_LAYOUT = ("decide the order first: batch-last when N ≥ 2·W_out; otherwise wide when the padded "
           "width is at most 5/4 of W_out; otherwise plain. Only the wide order adds columns")
_add("ex-perf-layout", "columns", "columns of cnnlab's column matrix for the three convolutions",
     PF, "array", _LAYOUT, lambda: [_columns(*case) for case in _LAYOUT_CASES],
     mistakes=lambda: [([_columns(*case, rule="plain") for case in _LAYOUT_CASES],
                        "that is N·H_out·W_out for every case: one of them uses the wide order, "
                        "which runs over the padded width"),
                       ([_columns(*case, rule="wide") for case in _LAYOUT_CASES],
                        "not every case uses the wide order: check the batch size against the "
                        "output width, and the padded width against 5/4 of W_out")])


def _extra(case=_LAYOUT_CASES[0]) -> float:
    return _columns(*case) / _columns(*case, rule="plain") - 1


_add("ex-perf-layout", "extra", "extra GEMM work of the wide order in the first case (a fraction)",
     PF, "number", "the wide order computes W_pad outputs per row where W_out are kept; give the "
                   "extra work relative to the useful work",
     _extra, rtol=1e-3, normalize=lambda a: a / 100 if a > 1 else a,
     mistakes=lambda: [(1 - _columns(*_LAYOUT_CASES[0], rule="plain")
                        / _columns(*_LAYOUT_CASES[0]),
                        "relative to the useful work (the W_out kept columns), not to the total"),
                       (_extra() + 1, "give the extra work, not the total")])

# ex-perf-gemm-shapes: a function, and the arithmetic intensity ----------------------------------
_L1_X, _L1_W = (128, 1, 28, 28), (6, 1, 5, 5)  # LeNet-5's first convolution, padding 2
_SHAPES = ("K = C_in·kH·kW and M = N·H_out·W_out with H_out = ⌊(H + 2P − kH)/S⌋ + 1; forward "
           "(C_out, K) @ (K, M), weight gradient (C_out, M) @ (M, K), column gradient "
           "(K, C_out) @ (C_out, M)")


def _shape_hint(args) -> str | None:
    x_shape, weight_shape, stride, padding = args
    if stride > 1:
        return "with a stride S only every S-th window is kept: H_out = ⌊(H + 2P − kH)/S⌋ + 1"
    if weight_shape[2] != weight_shape[3]:
        return "the kernel is not square here: use kH for the height and kW for the width"
    return None


_add("ex-perf-gemm-shapes", "shapes", "a function: the three GEMM shapes of a convolution", PF,
     "function", _SHAPES, lambda: gemm_shapes,
     inputs=[(_L1_X, _L1_W, 1, 2), (_L2_X, _L2_W, 1, 0), (_STRIDED_X, _STRIDED_W, 2, 1),
             ((2, 3, 7, 9), (4, 3, 3, 1), 2, 0), ((1, 2, 5, 5), (3, 2, 2, 3), 1, 1)],
     arg_names=("x_shape", "weight_shape", "stride", "padding"), input_hints=_shape_hint)
_INTENSITY = ("flops = 2 per multiply-add; bytes = 4 per float32 value of the two factors and of "
              "the product")


def _intensity_mistakes(x, w, padding):
    """The usual slips in an arithmetic-intensity estimate, as (value, hint) pairs."""
    return lambda: [(_intensity(x, w, padding=padding, flops_per_madd=1),
                     "a multiply-add is two flops"),
                    (_intensity(x, w, padding=padding, itemsize=1),
                     "divide by bytes, not by values: 4 bytes per float32"),
                    (_intensity(x, w, padding=padding, write_output=False),
                     "the product has to be written too: count its bytes")]


_add("ex-perf-gemm-shapes", "intensity_thin", "flops per byte of LeNet-5 conv1's forward GEMM", PF,
     "number", _INTENSITY, lambda: _intensity(_L1_X, _L1_W, padding=2), rtol=5e-3,
     mistakes=_intensity_mistakes(_L1_X, _L1_W, 2))
_add("ex-perf-gemm-shapes", "intensity_large", "flops per byte of the 16×64×56×56 → 64 forward "
     "GEMM", PF, "number", _INTENSITY, lambda: _intensity(_BIG_X, _BIG_W, padding=1), rtol=5e-3,
     mistakes=_intensity_mistakes(_BIG_X, _BIG_W, 1))
