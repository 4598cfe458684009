"""Self-checks of lab 1 (convolution forward) and lab 2 (convolution backward)."""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..conv import conv2d_backward_naive, conv2d_naive
from ..gradcheck import relative_error
from . import FAILED, Report, register

CONV = ("cnnlab.conv", "cnnlab._im2col", "cnnlab.layers", "cnnlab.filters")
GRADCHECK = ("cnnlab.gradcheck",)
LINE_BUDGET = 1500  # lines of learner code for one vectorised call (a pixel loop runs >4,000)

SIZE = "H_out = ⌊(H + 2P − k_H)/S⌋ + 1, and the same for the width."
SHAPE = f"The output is (N, C_out, H_out, W_out) with {SIZE}"


def _case(rng, n, c_in, c_out, hw, k, bias=True):
    x = rng.standard_normal((n, c_in, *hw))
    w = rng.standard_normal((c_out, c_in, *k))
    b = rng.standard_normal(c_out) if bias else None
    return x, w, b


# (title, (N, C_in, C_out, (H, W), (kH, kW), bias), stride, padding)
FORWARD_CASES = [
    ("one image, one channel, a 3×3 kernel, stride 1, no padding",
     (1, 1, 1, (5, 5), (3, 3), False), 1, 0),
    ("a bias per filter (two filters)", (1, 1, 2, (4, 4), (2, 2), True), 1, 0),
    ("three input channels: each filter sums over all of them",
     (1, 3, 2, (5, 5), (3, 3), True), 1, 0),
    ("stride 2", (1, 1, 1, (7, 7), (3, 3), False), 2, 0),
    ("padding 1", (1, 1, 1, (4, 4), (3, 3), False), 1, 1),
    ("a batch of two images, a 3×2 kernel, stride 2, padding 2",
     (2, 2, 3, (6, 5), (3, 2), True), 2, 2),
]


def _forward_mistakes(x, w, b, stride, padding):
    """Typical slips of a forward convolution, as the arrays they produce."""
    want = conv2d_naive(x, w, b, stride, padding)
    h_out, w_out = want.shape[2:]
    yield (conv2d_naive(x, w[:, :, ::-1, ::-1].copy(), b, stride, padding),
           "you flipped the kernel (a true convolution). Deep learning's convolution is a "
           "cross-correlation: multiply each window by the kernel as it is.")
    if b is not None:
        yield (conv2d_naive(x, w, None, stride, padding),
               "the bias is missing: add bias[o] to every output of filter o.")
    if stride > 1:
        slid = conv2d_naive(x, w, b, 1, padding)[:, :, :h_out, :w_out]
        yield (slid, "the window of output (i, j) starts at row i·S and column j·S of the "
                     "padded input, not at (i, j).")


@register("conv_forward", ("conv2d_loops",), CONV)
def conv2d_loops(report: Report, func) -> None:
    rng = np.random.default_rng(11)
    for title, (n, c_in, c_out, hw, k, bias), stride, padding in FORWARD_CASES:
        x, w, b = _case(rng, n, c_in, c_out, hw, k, bias)
        got = report.call(title, func, x, w, b, stride=stride, padding=padding)
        report.array(title, got, conv2d_naive(x, w, b, stride, padding),
                     "Output (n, o, i, j) is the sum over the channels and the window of "
                     "weight[o] × the window, plus bias[o].",
                     list(_forward_mistakes(x, w, b, stride, padding)), shape_hint=SHAPE)


def im2col_reference(x: np.ndarray, kh: int, kw: int, stride: int = 1,
                     padding: int = 0) -> np.ndarray:
    """The columns matrix of lab 1: row (c, p, q), column (n, i, j)."""
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    win = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    n, c, h_out, w_out = win.shape[:4]
    return win.transpose(1, 4, 5, 0, 2, 3).reshape(c * kh * kw, n * h_out * w_out)


IM2COL_CASES = [
    ("one image, one channel, 2×2 windows", (1, 1, (3, 3)), (2, 2), 1, 0),
    ("three channels: rows in the order (c, p, q)", (1, 3, (4, 4)), (2, 2), 1, 0),
    ("a batch of two: columns in the order (n, i, j)", (2, 1, (3, 4)), (2, 3), 1, 0),
    ("stride 2 and padding 1", (2, 2, (5, 5)), (3, 3), 2, 1),
]


@register("conv_forward", ("im2col",), CONV)
def im2col(report: Report, func) -> None:
    rng = np.random.default_rng(12)
    for title, (n, c, hw), (kh, kw), stride, padding in IM2COL_CASES:
        x = rng.standard_normal((n, c, *hw))
        got = report.call(title, func, x, kh, kw, stride=stride, padding=padding)
        want = im2col_reference(x, kh, kw, stride, padding)
        xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
        win = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
        order = ("Row (c, p, q) is row c·kH·kW + p·kW + q; column (n, i, j) is "
                 "n·H_out·W_out + i·W_out + j.")
        mistakes = [
            (win.transpose(4, 5, 1, 0, 2, 3).reshape(want.shape),
             "the rows are in the order (p, q, c): the channel must vary slowest. " + order),
            (win.transpose(1, 4, 5, 2, 3, 0).reshape(want.shape),
             "the columns are in the order (i, j, n): the image must vary slowest. " + order),
        ]
        report.array(title, got, want, "Column (n, i, j) holds the window of output (i, j) of "
                     "image n, read channel by channel, each row by row. " + order, mistakes,
                     shape_hint="The columns matrix is (C·kH·kW, N·H_out·W_out) with " + SIZE
                     + " (not its transpose).")


@register("conv_forward", ("conv2d_im2col",), CONV)
def conv2d_im2col(report: Report, func) -> None:
    rng = np.random.default_rng(13)
    for title, (n, c_in, c_out, hw, k, bias), stride, padding in FORWARD_CASES[2:]:
        x, w, b = _case(rng, n, c_in, c_out, hw, k, bias)
        got = report.call(title, func, x, w, b, stride=stride, padding=padding)
        want = conv2d_naive(x, w, b, stride, padding)
        h_out, w_out = want.shape[2:]
        scrambled = (w.reshape(c_out, -1) @ im2col_reference(x, *k, stride, padding))
        scrambled = scrambled.reshape(n, c_out, h_out, w_out)
        if b is not None:
            scrambled = scrambled + b.reshape(1, -1, 1, 1)
        mistakes = list(_forward_mistakes(x, w, b, stride, padding)) + [
            (scrambled, "the product has one row per filter and one column per (n, i, j): "
                        "reshape it to (C_out, N, H_out, W_out), then swap the first two axes. "
                        "A plain reshape to (N, C_out, ...) mixes images and filters.")]
        report.array(title, got, want, "One matrix product of weight reshaped to "
                     "(C_out, C_in·kH·kW) with the columns gives every output.", mistakes,
                     shape_hint=SHAPE)
    title = "vectorised: no Python loop over pixels (8 images of 3×28×28)"
    x, w, b = _case(rng, 8, 3, 6, (28, 28), (5, 5), True)
    got = report.call(title, func, x, w, b, stride=1, padding=2)
    if got is not FAILED:
        report.verdict(title, report.lines <= LINE_BUDGET,
                       f"{report.lines:,} lines of your code ran for one call. Loop over the "
                       f"kernel offsets (p, q) at most, and copy whole slices of the batch.")


# --- lab 2 ---------------------------------------------------------------------------------------
GRAD_TOL = 1e-7


@register("conv_backward", ("numerical_gradient",), GRADCHECK)
def numerical_gradient(report: Report, func) -> None:
    rng = np.random.default_rng(21)
    cases = [("f(x) = Σ x³ on a 3×4 array", (3, 4), lambda x: np.sum(x ** 3),
              lambda x: 3 * x ** 2),
             ("f(x) = Σ sin(x)·x on a 2×3×2 array (any number of axes)", (2, 3, 2),
              lambda x: np.sum(np.sin(x) * x), lambda x: np.cos(x) * x + np.sin(x))]
    for title, shape, f, df in cases:
        x = rng.standard_normal(shape)
        before = x.copy()
        got = report.call(title, func, lambda f=f, x=x: f(x), x, h=1e-6)
        if got is FAILED:
            continue
        if not np.array_equal(x, before):
            report.fail(title, "x is not the same afterwards: put every entry back after "
                        "changing it.")
            continue
        forward = np.zeros_like(x)
        base = f(x)
        for idx in np.ndindex(x.shape):
            old = x[idx]
            x[idx] = old + 1e-6
            forward[idx] = (f(x) - base) / 1e-6
            x[idx] = old
        want = df(x)
        if np.shape(got) != want.shape:
            report.fail(title, f"your gradient has shape {np.shape(got)}: it has the shape of x.")
        elif relative_error(np.asarray(got, dtype=np.float64), want) <= GRAD_TOL:
            report.ok(title)
        elif relative_error(np.asarray(got, dtype=np.float64), forward) <= 1e-9:
            report.fail(title, "this is the forward difference (f(x + h) − f(x)) / h, whose "
                        "error shrinks like h. Use the central difference "
                        "(f(x + h) − f(x − h)) / 2h: its error shrinks like h².")
        else:
            report.fail(title, "not right yet. For each entry: add h, evaluate f(), subtract h, "
                        "evaluate f() again, restore the entry, divide the difference by 2h.")


BACKWARD_CASES = [
    ("one image, one channel, stride 1, no padding", (1, 1, 1, (4, 4), (2, 2)), 1, 0),
    ("a batch of two, three channels, two filters", (2, 3, 2, (5, 5), (3, 3)), 1, 0),
    ("stride 2", (2, 2, 2, (7, 7), (3, 3)), 2, 0),
    ("padding 1", (2, 2, 3, (4, 5), (3, 3)), 1, 1),
    ("stride 2 on a 6×6 input: the last row and column are never read",
     (1, 2, 2, (6, 6), (3, 3)), 2, 0),
]


def _backward_case(rng, spec, stride, padding):
    n, c_in, c_out, hw, k = spec
    x, w, b = _case(rng, n, c_in, c_out, hw, k, True)
    out = conv2d_naive(x, w, b, stride, padding)
    dout = rng.standard_normal(out.shape)
    return x, w, b, dout, conv2d_backward_naive(dout, x, w, b, stride, padding)


@register("conv_backward", ("conv_bias_grad",), CONV)
def conv_bias_grad(report: Report, func) -> None:
    rng = np.random.default_rng(22)
    for title, spec, stride, padding in BACKWARD_CASES[:2]:
        x, w, b, dout, (_, _, db) = _backward_case(rng, spec, stride, padding)
        got = report.call(title, func, dout)
        report.array(title, got, db, "The bias of filter o is added to every output of "
                     "channel o, in every image.",
                     [(db / dout.shape[0], "you averaged over the batch. The loss adds up the "
                       "contributions of every image: sum over n, i and j.")],
                     shape_hint="One number per filter: shape (C_out,).")


@register("conv_backward", ("conv_weight_grad",), CONV)
def conv_weight_grad(report: Report, func) -> None:
    rng = np.random.default_rng(23)
    for title, spec, stride, padding in BACKWARD_CASES:
        x, w, b, dout, (_, dw, _) = _backward_case(rng, spec, stride, padding)
        got = report.call(title, func, dout, x, w.shape[2:], stride=stride, padding=padding)
        report.array(title, got, dw, "∂L/∂W[o, c, p, q] is the sum over n, i, j of "
                     "dout[n, o, i, j] × x_pad[n, c, i·S + p, j·S + q].",
                     [(dw / dout.shape[0], "you averaged over the batch: sum over the images.")],
                     shape_hint="The gradient has the weight's shape (C_out, C_in, kH, kW).")


@register("conv_backward", ("conv_input_grad",), CONV)
def conv_input_grad(report: Report, func) -> None:
    rng = np.random.default_rng(24)
    for title, spec, stride, padding in BACKWARD_CASES:
        x, w, b, dout, (dx, _, _) = _backward_case(rng, spec, stride, padding)
        got = report.call(title, func, dout, w, x.shape, stride=stride, padding=padding)
        unflipped = conv2d_backward_naive(dout, x, w[:, :, ::-1, ::-1].copy(), b, stride,
                                          padding)[0]
        report.array(title, got, dx, "Each output (n, o, i, j) sends dout[n, o, i, j] × "
                     "weight[o] back to the window it read (scatter), or equivalently: a full "
                     "convolution of dout with the kernel. Crop the padding at the end.",
                     [(unflipped, "this is what you get without rotating the kernel by 180°: "
                       "gathering needs the kernel flipped in both directions (or scatter "
                       "dout × kernel onto each window, which needs no flip).")],
                     shape_hint="The gradient has the input's shape (N, C_in, H, W), padding "
                                "cropped.")
