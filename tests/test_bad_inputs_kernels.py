"""Catalogue of bad inputs to the functional kernels and calculators.

Each row calls one function with one bad argument and asserts the exception type
(``TypeError`` for a wrong type, ``ValueError`` for a wrong value or shape), that
the message names the argument (and shows the offending value or shape where
there is one), and that no array passed in was modified.
"""
from __future__ import annotations

import copy

import numpy as np
import pytest

from cnnlab import activations as act
from cnnlab import conv, conv_transpose, gradcheck, linear, losses, norm, pool, shapes


def a(*shape, dtype=np.float64):
    """A deterministic array of the given shape and dtype."""
    return (np.arange(int(np.prod(shape))) * 0.1 - 1.0).reshape(shape).astype(dtype)


X4, W4, B2 = a(2, 3, 5, 5), a(2, 3, 3, 3), a(2)
_, CONV_CACHE = conv.conv2d_forward(X4, W4, B2)            # output (2, 2, 3, 3)
WT = a(3, 2, 3, 3)                                           # transposed: (C_in, C_out, kH, kW)
_, CONVT_CACHE = conv_transpose.conv_transpose2d_forward(X4, WT, B2, 2, 1)  # (2, 2, 9, 9)
_, MAXP_CACHE = pool.max_pool2d_forward(X4, 2)               # output (2, 3, 2, 2)
_, AVGP_CACHE = pool.avg_pool2d_forward(X4, 3, 1, 1)         # output (2, 3, 5, 5)
_, RELU_CACHE = act.relu_forward(a(2, 3))
_, TANH_CACHE = act.tanh_forward(a(2, 3))
_, LIN_CACHE = linear.linear_forward(a(4, 3), a(5, 3), a(5))  # output (4, 5)
_, FLAT_CACHE = linear.flatten_forward(a(2, 3, 4))           # output (2, 12)
_, CE_CACHE = losses.cross_entropy_forward(a(3, 4), np.array([0, 1, 3]))
_, MSE_CACHE = losses.mse_forward(a(2, 3), a(2, 3))
_, BN_CACHE, _, _ = norm.batch_norm_forward(X4, None, None, a(3), a(3) + 2, True)
_, LRN_CACHE = norm.local_response_norm_forward(X4, 3)
NAN_X4 = X4.copy()
NAN_X4[1, 2, 3, 4] = np.nan
HUGE_X4 = np.full((2, 3, 5, 5), 1e30, np.float32)
HUGE_X4[0, 0, 0, 0] = -1e30
LABELS = np.array([0, 2, 1])
NAN_LOGITS = a(3, 3)
NAN_LOGITS[1, 2] = np.nan
INF_TARGET = a(2, 2)
INF_TARGET[0, 1] = np.inf
READONLY = a(3)
READONLY.flags.writeable = False


def case(id_, exc, match, func, *args, **kwargs):
    return pytest.param(func, args, kwargs, exc, match, id=id_)


CASES = [
    # ------------------------------------------------------------- calculators
    case("size-float", TypeError, r"^size must be an integer, got 2\.5", shapes.conv_output_size,
         2.5, 3),
    case("size-bool", TypeError, r"^size must be an integer, got True", shapes.conv_output_size,
         True, 3),
    case("size-zero", ValueError, r"^size must be >= 1, got 0", shapes.conv_output_size, 0, 1),
    case("kernel-too-large", ValueError,
         r"^kernel_size: effective kernel 7 is larger than the padded input 5 "
         r"\(size 5 \+ 2\*padding 0\)", shapes.conv_output_size, 5, 7),
    case("dilated-kernel-too-large", ValueError, r"^kernel_size: effective kernel 9",
         shapes.conv_output_size, 8, 3, dilation=4),
    case("kernel-zero", ValueError, r"^kernel_size must be >= 1, got 0",
         shapes.conv_output_size, 5, 0),
    case("stride-zero", ValueError, r"^stride must be >= 1, got 0", shapes.conv_output_size,
         5, 3, stride=0),
    case("padding-negative", ValueError, r"^padding must be >= 0, got -1",
         shapes.conv_output_size, 5, 3, padding=-1),
    case("dilation-zero", ValueError, r"^dilation must be >= 1, got 0", shapes.conv_output_size,
         5, 3, dilation=0),
    case("poolsize-padding-over-half", ValueError,
         r"^padding must be at most kernel_size // 2 = 2, got 3",
         shapes.pool_output_size, 8, 4, 1, 3),
    case("poolsize-kernel-float", TypeError, r"^kernel_size must be an integer, got 2\.0",
         shapes.pool_output_size, 8, 2.0),
    case("padding-string-unknown", ValueError, r"^padding must be .*'same' or 'valid', "
         r"got 'full'", shapes.resolve_padding, "full", (3, 3), (1, 1)),
    case("padding-same-stride-2", ValueError, r"^padding='same' needs stride 1.*\(2, 1\)",
         shapes.resolve_padding, "same", (3, 3), (2, 1)),
    case("padding-triple", ValueError,
         r"^padding must be an int or a pair of ints, got \(1, 2, 3\)",
         shapes.resolve_padding, (1, 2, 3), 3, 1),
    case("padding-none", TypeError, r"^padding must be an integer, got None",
         shapes.resolve_padding, None, 3, 1),
    case("input-shape-2d", ValueError, r"^input_shape must be a tuple .*got \(5, 5\)",
         shapes.conv2d_output_shape, (5, 5), 2, 3),
    case("out-channels-zero", ValueError, r"^out_channels must be >= 1, got 0",
         shapes.conv2d_output_shape, (1, 1, 5, 5), 0, 3),
    case("pool2d-padding-over-half", ValueError, r"^padding must be at most half the kernel",
         shapes.pool2d_output_shape, (1, 1, 5, 5), 3, None, 2),
    # -------------------------------------------------------------------- conv
    case("conv-x-3d", ValueError, r"^x must have 4 dimensions, got shape \(3, 5, 5\)",
         conv.conv2d_forward, a(3, 5, 5), W4),
    case("conv-channel-mismatch", ValueError, r"^weight: in_channels 2 does not match the 3 "
         r"channels of x", conv.conv2d_forward, X4, a(2, 2, 3, 3)),
    case("conv-kernel-larger-than-padded-input", ValueError,
         r"^weight: kernel height 8 is larger than the padded input height 7 "
         r"\(x height 5 \+ padding 1\+1\)",
         conv.conv2d_forward, X4, a(2, 3, 8, 3), None, 1, 1),
    case("conv-stride-zero", ValueError, r"^stride must be >= 1, got 0", conv.conv2d_forward,
         X4, W4, None, 0),
    case("conv-stride-negative-pair", ValueError, r"^stride must be >= 1, got -2",
         conv.conv2d_forward, X4, W4, None, (1, -2)),
    case("conv-padding-negative", ValueError, r"^padding must be >= 0, got -1",
         conv.conv2d_forward, X4, W4, None, 1, -1),
    case("conv-padding-float", TypeError, r"^padding must be an integer, got 1\.5",
         conv.conv2d_forward, X4, W4, None, 1, 1.5),
    case("conv-padding-bad-string", ValueError, r"^padding must be .*got 'SAME'",
         conv.conv2d_forward, X4, W4, None, 1, "SAME"),
    case("conv-same-stride-2", ValueError, r"^padding='same' needs stride 1",
         conv.conv2d_forward, X4, W4, None, 2, "same"),
    case("conv-dtype-mismatch", TypeError, r"^weight must have the same dtype as x \(float64\), "
         r"got float32", conv.conv2d_forward, X4, a(2, 3, 3, 3, dtype=np.float32)),
    case("conv-bias-dtype-mismatch", TypeError, r"^bias must have the same dtype as x",
         conv.conv2d_forward, X4, W4, a(2, dtype=np.float32)),
    case("conv-int-array", TypeError, r"^x must have dtype float32 or float64, got int64",
         conv.conv2d_forward, np.ones((2, 3, 5, 5), dtype=np.int64), W4),
    case("conv-float16", TypeError, r"^x must have dtype float32 or float64, got float16",
         conv.conv2d_naive, a(2, 3, 5, 5, dtype=np.float16), W4),
    case("conv-list-input", TypeError, r"^x must be a numpy.ndarray, got list",
         conv.conv2d_forward, X4.tolist(), W4),
    case("conv-bias-wrong-shape", ValueError, r"^bias must have shape \(2,\), got \(3,\)",
         conv.conv2d_forward, X4, W4, a(3)),
    case("conv-bias-2d", ValueError, r"^bias must have 1 dimensions, got shape \(2, 1\)",
         conv.conv2d_forward, X4, W4, a(2, 1)),
    case("conv-empty-batch", ValueError, r"^x must not have an empty dimension, got shape "
         r"\(0, 3, 5, 5\)", conv.conv2d_forward, np.zeros((0, 3, 5, 5)), W4),
    case("conv-dout-shape", ValueError, r"^dout must have the forward output's shape "
         r"\(2, 2, 3, 3\), got \(2, 2, 3, 4\)", conv.conv2d_backward, a(2, 2, 3, 4), CONV_CACHE),
    case("conv-dout-dtype", TypeError, r"^dout must have the same dtype",
         conv.conv2d_backward, a(2, 2, 3, 3, dtype=np.float32), CONV_CACHE),
    case("conv-naive-dout-shape", ValueError, r"^dout must have shape \(2, 2, 3, 3\), got "
         r"\(2, 2, 2, 2\)", conv.conv2d_backward_naive, a(2, 2, 2, 2), X4, W4, B2),
    case("conv-naive-channel-mismatch", ValueError, r"^weight: in_channels",
         conv.conv2d_naive, X4, a(2, 1, 3, 3)),
    case("convolve-bad-mode", ValueError, r"^mode must be one of \('full', 'valid'\), "
         r"got 'same'", conv.convolve2d, a(4, 4), a(2, 2), "same"),
    case("convolve-kernel-too-big", ValueError, r"^kernel of shape \(3, 5\) does not fit",
         conv.convolve2d, a(4, 4), a(3, 5), "valid"),
    case("convolve-image-3d", ValueError, r"^image must have 2 dimensions",
         conv.convolve2d, a(1, 4, 4), a(2, 2)),
    # ---------------------------------------------------- transposed convolution (issue 12)
    case("convT-x-3d", ValueError, r"^x must have 4 dimensions, got shape \(3, 5, 5\)",
         conv_transpose.conv_transpose2d_forward, a(3, 5, 5), WT),
    case("convT-conv-weight-layout", ValueError, r"^weight: in_channels 2 \(weight shape "
         r"\(2, 3, 3, 3\), laid out \(C_in, C_out // groups, kH, kW\)\) does not match the 3 "
         r"channels of x", conv_transpose.conv_transpose2d_forward, X4, W4),
    case("convT-groups-not-divisor", ValueError, r"^groups: in_channels 3 is not divisible by "
         r"groups 2", conv_transpose.conv_transpose2d_forward, X4, WT, None, 1, 0, 0, 2),
    case("convT-groups-zero", ValueError, r"^groups must be >= 1, got 0",
         conv_transpose.conv_transpose2d, X4, WT, None, 1, 0, 0, 0),
    case("convT-output-padding-too-large", ValueError, r"^output_padding must be smaller than "
         r"stride or dilation \(height\): got output_padding 2 with stride 2 and dilation 1",
         conv_transpose.conv_transpose2d_forward, X4, WT, None, 2, 1, 2),
    case("convT-output-padding-stride-1", ValueError, r"^output_padding must be smaller than "
         r"stride or dilation \(width\)", conv_transpose.conv_transpose2d_naive, X4, WT, None,
         1, 0, (0, 1)),
    case("convT-output-padding-negative", ValueError, r"^output_padding must be >= 0, got -1",
         conv_transpose.conv_transpose2d_forward, X4, WT, None, 2, 0, -1),
    case("convT-padding-same", TypeError, r"^padding must be an int or a pair of ints \(a "
         r"transposed convolution has no 'same' or 'valid'\), got 'same'",
         conv_transpose.conv_transpose2d_forward, X4, WT, None, 1, "same"),
    case("convT-padding-crops-everything", ValueError, r"^padding: 2\*padding 4 crops the whole "
         r"output \(height\)", conv_transpose.conv_transpose2d_forward, a(1, 3, 1, 1), WT, None,
         1, 2),
    case("convT-dilation-zero", ValueError, r"^dilation must be >= 1, got 0",
         conv_transpose.conv_transpose2d_forward, X4, WT, None, 1, 0, 0, 1, 0),
    case("convT-bias-shape", ValueError, r"^bias must have shape \(2,\), got \(3,\)",
         conv_transpose.conv_transpose2d_forward, X4, WT, a(3)),
    case("convT-weight-dtype", TypeError, r"^weight must have the same dtype as x \(float64\), "
         r"got float32", conv_transpose.conv_transpose2d_forward, X4,
         a(3, 2, 3, 3, dtype=np.float32)),
    case("convT-empty-weight", ValueError, r"^weight must not have an empty dimension, got "
         r"shape \(3, 0, 3, 3\)", conv_transpose.conv_transpose2d_forward, X4,
         np.zeros((3, 0, 3, 3))),
    case("convT-dout-shape", ValueError, r"^dout must have the forward output's shape "
         r"\(2, 2, 9, 9\), got \(2, 2, 9, 8\)", conv_transpose.conv_transpose2d_backward,
         a(2, 2, 9, 8), CONVT_CACHE),
    case("convT-dout-dtype", TypeError, r"^dout must have the same dtype as the forward input",
         conv_transpose.conv_transpose2d_backward, a(2, 2, 9, 9, dtype=np.float32),
         CONVT_CACHE),
    case("convT-naive-dout-shape", ValueError, r"^dout must have shape \(2, 2, 7, 7\), got "
         r"\(2, 2, 9, 9\)", conv_transpose.conv_transpose2d_backward_naive, a(2, 2, 9, 9), X4,
         WT),
    case("convT-cache-of-conv", TypeError, r"^cache must be the cache returned by "
         r"conv_transpose2d_forward, got the cache of conv2d_forward",
         conv_transpose.conv_transpose2d_backward, a(2, 2, 3, 3), CONV_CACHE),
    case("conv-cache-of-convT", TypeError, r"^cache must be the cache returned by "
         r"conv2d_forward, got the cache of conv_transpose2d_forward", conv.conv2d_backward,
         a(2, 2, 9, 9), CONVT_CACHE),
    case("convT-size-output-padding", ValueError, r"^output_padding must be smaller than "
         r"stride or dilation: got output_padding 1 with stride 1 and dilation 1",
         shapes.conv_transpose_output_size, 4, 3, 1, 0, 1),
    case("convT-size-float", TypeError, r"^output_padding must be an integer, got 1\.0",
         shapes.conv_transpose_output_size, 4, 3, 2, 1, 1.0),
    case("convT-shape-rank", ValueError, r"^input_shape must be a tuple \(N, C, H, W\) or "
         r"\(C, H, W\), got \(5, 5\)", shapes.conv_transpose2d_output_shape, (5, 5), 2, 3),
    # -------------------------------------------------------------------- pool
    case("pool-x-3d", ValueError, r"^x must have 4 dimensions, got shape \(3, 5, 5\)",
         pool.max_pool2d_forward, a(3, 5, 5), 2),
    case("pool-kernel-zero", ValueError, r"^kernel_size must be >= 1, got 0",
         pool.max_pool2d_forward, X4, 0),
    case("pool-kernel-float", TypeError, r"^kernel_size must be an integer, got 2\.5",
         pool.avg_pool2d_forward, X4, 2.5),
    case("pool-kernel-bool", TypeError, r"^kernel_size must be an integer, got True",
         pool.max_pool2d_naive, X4, True),
    case("pool-stride-zero", ValueError, r"^stride must be >= 1, got 0",
         pool.max_pool2d_forward, X4, 2, 0),
    case("pool-padding-over-half", ValueError, r"^padding must be at most half the kernel "
         r"\(1, 1\), got \(2, 2\)", pool.max_pool2d_forward, X4, 3, 1, 2),
    case("pool-kernel-too-large", ValueError, r"^kernel_size: effective kernel 6 .* padded "
         r"input 5", pool.avg_pool2d_forward, X4, 6),
    case("pool-int-array", TypeError, r"^x must have dtype float32 or float64, got int",
         pool.avg_pool2d_forward, np.ones((1, 1, 4, 4), dtype=int), 2),
    case("maxpool-dout-shape", ValueError, r"^dout must have the forward output's shape "
         r"\(2, 3, 2, 2\), got \(2, 3, 2, 3\)", pool.max_pool2d_backward, a(2, 3, 2, 3),
         MAXP_CACHE),
    case("maxpool-dout-dtype", TypeError, r"^dout must have the same dtype as the forward input "
         r"\(float64\), got float32", pool.max_pool2d_backward,
         a(2, 3, 2, 2, dtype=np.float32), MAXP_CACHE),
    case("avgpool-dout-shape", ValueError, r"^dout must have the forward output's shape "
         r"\(2, 3, 5, 5\), got \(2, 3, 4, 4\)", pool.avg_pool2d_backward, a(2, 3, 4, 4),
         AVGP_CACHE),
    case("maxpool-naive-dout-shape", ValueError, r"^dout must have shape",
         pool.max_pool2d_backward_naive, a(2, 3, 3, 3), X4, 2),
    # ------------------------------------------------------------- activations
    case("relu-list", TypeError, r"^x must be a numpy.ndarray, got list", act.relu_forward,
         [1.0, -1.0]),
    case("sigmoid-int-array", TypeError, r"^x must have dtype float32 or float64, got int",
         act.sigmoid_forward, np.arange(3)),
    case("relu-dout-shape", ValueError, r"^dout must have the forward output's shape \(2, 3\), "
         r"got \(3, 2\)", act.relu_backward, a(3, 2), RELU_CACHE),
    case("tanh-dout-dtype", TypeError, r"^dout must have the same dtype",
         act.tanh_backward, a(2, 3, dtype=np.float32), TANH_CACHE),
    # ------------------------------------------------------------------ linear
    case("linear-x-3d", ValueError, r"^x must have 2 dimensions, got shape \(2, 3, 4\)",
         linear.linear_forward, a(2, 3, 4), a(5, 12)),
    case("linear-feature-mismatch", ValueError, r"^weight: in_features 4 does not match the 3 "
         r"features of x", linear.linear_forward, a(2, 3), a(5, 4)),
    case("linear-bias-shape", ValueError, r"^bias must have shape \(5,\), got \(3,\)",
         linear.linear_forward, a(2, 3), a(5, 3), a(3)),
    case("linear-weight-dtype", TypeError, r"^weight must have the same dtype as x",
         linear.linear_forward, a(2, 3), a(5, 3, dtype=np.float32)),
    case("linear-dout-shape", ValueError, r"^dout must have the forward output's shape \(4, 5\), "
         r"got \(4, 3\)", linear.linear_backward, a(4, 3), LIN_CACHE),
    case("flatten-start-dim-range", ValueError, r"^start_dim must be in \[-3, 2\].*got 3",
         linear.flatten_forward, a(2, 3, 4), 3),
    case("flatten-start-dim-float", TypeError, r"^start_dim must be an integer, got 1\.0",
         linear.flatten_forward, a(2, 3, 4), 1.0),
    case("flatten-dout-shape", ValueError, r"^dout does not match .*\(2, 3, 4\), got \(2, 11\)",
         linear.flatten_backward, a(2, 11), FLAT_CACHE),
    # ------------------------------------------------------------------ losses
    case("ce-float-labels", TypeError, r"^labels must have an integer dtype .*got float64",
         losses.cross_entropy_forward, a(3, 3), np.array([0.0, 1.0, 2.0])),
    case("ce-bool-labels", TypeError, r"^labels must have an integer dtype .*got bool",
         losses.cross_entropy_forward, a(2, 3), np.array([True, False])),
    case("ce-list-labels", TypeError, r"^labels must be a numpy.ndarray, got list",
         losses.cross_entropy_forward, a(3, 3), [0, 1, 2]),
    case("ce-label-out-of-range", ValueError, r"^labels must be in \[0, 3\) for 3 classes, "
         r"got 5 at index 1", losses.cross_entropy_forward, a(3, 3), np.array([0, 5, 1])),
    case("ce-label-negative", ValueError, r"^labels must be in \[0, 3\).*got -1 at index 2",
         losses.cross_entropy, a(3, 3), np.array([0, 1, -1])),
    case("ce-labels-wrong-length", ValueError, r"^labels must have shape \(3,\) .*got \(2,\)",
         losses.cross_entropy_forward, a(3, 3), np.array([0, 1])),
    case("ce-nan-logits", ValueError, r"^logits must be finite, got nan at index \(1, 2\)",
         losses.cross_entropy_forward, NAN_LOGITS, LABELS),
    case("ce-logits-1d", ValueError, r"^logits must have 2 dimensions, got shape \(3,\)",
         losses.cross_entropy_forward, a(3), LABELS),
    case("ce-reduction", ValueError, r"^reduction must be one of \('mean', 'sum'\), got 'none'",
         losses.cross_entropy_forward, a(3, 3), LABELS, "none"),
    case("ce-dloss-nan", ValueError, r"^dloss must be finite, got nan",
         losses.cross_entropy_backward, CE_CACHE, float("nan")),
    case("ce-dloss-str", TypeError, r"^dloss must be a real number, got '1'",
         losses.cross_entropy_backward, CE_CACHE, "1"),
    case("softmax-axis", ValueError, r"^axis must be in \[-2, 1\] .*got 2", losses.softmax,
         a(2, 3), 2),
    case("log-softmax-nan", ValueError, r"^logits must be finite", losses.log_softmax,
         NAN_LOGITS),
    case("mse-shape-mismatch", ValueError, r"^target must have the shape of pred \(2, 3\), got "
         r"\(3, 2\)", losses.mse_forward, a(2, 3), a(3, 2)),
    case("mse-dtype-mismatch", TypeError, r"^target must have the same dtype as pred",
         losses.mse_forward, a(2, 3), a(2, 3, dtype=np.float32)),
    case("mse-inf-target", ValueError, r"^target must be finite, got inf at index \(0, 1\)",
         losses.mse, a(2, 2), INF_TARGET),
    case("mse-nan-pred", ValueError, r"^pred must be finite", losses.mse_forward, NAN_LOGITS,
         a(3, 3)),
    # --------------------------------------------------------------- gradcheck
    case("relerr-eps-zero", ValueError, r"^eps must be > 0", gradcheck.relative_error,
         a(3), a(3), 0.0),
    case("relerr-shape", ValueError, r"^b must have the shape of a \(3,\), got \(4,\)",
         gradcheck.relative_error, a(3), a(4)),
    case("numgrad-eps-negative", ValueError, r"^eps must be > 0", gradcheck.numerical_gradient,
         lambda: 0.0, a(3), -1e-6),
    case("numgrad-f-not-callable", TypeError, r"^f must be callable",
         gradcheck.numerical_gradient, 1.0, a(3)),
    case("numgrad-int-x", TypeError, r"^x must have dtype float32 or float64",
         gradcheck.numerical_gradient, lambda: 0.0, np.arange(3)),
    case("numgrad-readonly-x", ValueError, r"^x must be writeable",
         gradcheck.numerical_gradient, lambda: 0.0, READONLY),
    case("gradcheck-tol-zero", ValueError, r"^tol must be > 0", gradcheck.gradcheck,
         lambda x: x, lambda g: {"x": g}, {"x": a(3)}, tol=0.0),
    case("gradcheck-rng-str", TypeError, r"^rng must be a numpy.random.Generator",
         gradcheck.gradcheck, lambda x: x, lambda g: {"x": g}, {"x": a(3)}, rng="seed"),
    case("gradcheck-float32", TypeError, r"^inputs\['x'\] must be a float64 array",
         gradcheck.gradcheck, lambda x: x, lambda g: {"x": g}, {"x": a(3, dtype=np.float32)}),
    # ---------------------------------------- caches from another kernel (issue 15, item 13)
    case("conv-cache-of-maxpool", TypeError, r"^cache must be the cache returned by "
         r"conv2d_forward, got the cache of max_pool2d_forward", conv.conv2d_backward,
         a(2, 2, 3, 3), MAXP_CACHE),
    case("conv-cache-empty-dict", TypeError, r"^cache must be the cache returned by "
         r"conv2d_forward, got a dict with keys \[\]", conv.conv2d_backward, a(2, 2, 3, 3), {}),
    case("conv-cache-tuple", TypeError, r"^cache must be the cache returned by conv2d_forward, "
         r"got tuple", conv.conv2d_backward, a(2, 2, 3, 3), (1, 2)),
    case("conv1d-cache-of-linear", TypeError, r"^cache must be the cache returned by "
         r"conv2d_forward, got the cache of linear_forward", conv.conv1d_backward, a(2, 2, 3),
         LIN_CACHE),
    case("maxpool-cache-of-conv", TypeError, r"^cache must be the cache returned by "
         r"max_pool2d_forward, got the cache of conv2d_forward", pool.max_pool2d_backward,
         a(2, 3, 2, 2), CONV_CACHE),
    case("avgpool-cache-of-maxpool", TypeError, r"^cache must be the cache returned by "
         r"avg_pool2d_forward, got the cache of max_pool2d_forward", pool.avg_pool2d_backward,
         a(2, 3, 2, 2), MAXP_CACHE),
    case("linear-cache-keys", TypeError, r"^cache must be the cache returned by linear_forward, "
         r"got a dict with keys \['weight', 'x'\]", linear.linear_backward, a(4, 5),
         {"x": a(4, 3), "weight": a(5, 3)}),
    case("flatten-cache-str", TypeError, r"^cache must be the cache returned by flatten_forward",
         linear.flatten_backward, a(2, 12), "(2, 3, 4)"),
    case("relu-cache-dict", TypeError, r"^cache must be a numpy.ndarray, got dict",
         act.relu_backward, a(2, 3), CONV_CACHE),
    case("ce-cache-of-mse", TypeError, r"^cache must be the cache returned by "
         r"cross_entropy_forward, got the cache of mse_forward", losses.cross_entropy_backward,
         MSE_CACHE),
    case("mse-cache-none", TypeError, r"^cache must be the cache returned by mse_forward, "
         r"got NoneType", losses.mse_backward, None),
    case("bn-cache-old-tuple", TypeError, r"^cache must be the cache returned by "
         r"batch_norm_forward, got tuple", norm.batch_norm_backward, X4, (1, 2, 3, True, False)),
    case("lrn-cache-of-bn", TypeError, r"^cache must be the cache returned by "
         r"local_response_norm_forward, got the cache of batch_norm_forward",
         norm.local_response_norm_backward, X4, BN_CACHE),
    # ------------------------------------------------- batch norm statistics (item 12)
    case("bn-nan-input", FloatingPointError, r"^x holds nan at index \(1, 2, 3, 4\), so the "
         r"batch statistics are not finite; the running mean and variance are left as they were",
         norm.batch_norm_forward, NAN_X4, None, None, a(3), a(3) + 2, True),
    case("bn-variance-overflow", FloatingPointError, r"^x: the variance of channel 0 overflows "
         r"float32",
         norm.batch_norm_forward, HUGE_X4, None, None, np.zeros(3, np.float32),
         np.ones(3, np.float32), True),
]


def _arrays(obj):
    """Every ndarray inside nested tuples/lists/dicts."""
    if isinstance(obj, np.ndarray):
        yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _arrays(value)
    elif isinstance(obj, (tuple, list)):
        for value in obj:
            yield from _arrays(value)


def test_catalogue_is_large_and_ids_unique():
    ids = [c.id for c in CASES]
    assert len(ids) >= 20 and len(set(ids)) == len(ids)


@pytest.mark.parametrize("func, args, kwargs, exc, match", CASES)
def test_bad_input(func, args, kwargs, exc, match):
    before = copy.deepcopy((args, kwargs))
    with pytest.raises(exc, match=match) as info:
        func(*args, **kwargs)
    assert type(info.value) is exc  # not a subclass (np.exceptions.AxisError is both kinds)
    for got, orig in zip(_arrays((args, kwargs)), _arrays(before), strict=True):
        np.testing.assert_array_equal(got, orig)
