"""Self-checks of lab 3 (max and average pooling, forward and backward)."""
from __future__ import annotations

import numpy as np

from ..pool import (
    avg_pool2d_backward_naive,
    avg_pool2d_naive,
    max_pool2d_backward_naive,
    max_pool2d_naive,
)
from . import FAILED, Report, register

POOL = ("cnnlab.pool", "cnnlab.conv", "cnnlab._im2col", "cnnlab.layers")
SHAPE = ("The output is (N, C, H_out, W_out) with H_out = ⌊(H − k)/S⌋ + 1 (same for the "
         "width); the stride S defaults to k.")

# (title, x shape, kernel, stride)
CASES = [
    ("2×2 windows, stride 2 (the default)", (1, 1, 4, 4), 2, None),
    ("a batch of two, three channels", (2, 3, 4, 6), 2, None),
    ("3×3 windows with stride 2: overlapping windows", (1, 2, 7, 7), 3, 2),
    ("3×3 windows, stride 1", (2, 1, 5, 6), 3, 1),
    ("a 5×5 map with 2×2 windows: the last row and column are never read", (1, 1, 5, 5), 2,
     None),
]


def _forward(report: Report, func, oracle, rng, hint, mistakes=lambda x, k, s: []):
    for title, shape, k, s in CASES:
        x = rng.standard_normal(shape)
        got = report.call(title, func, x, k, stride=s)
        if got is FAILED:
            continue
        if not (isinstance(got, tuple) and len(got) == 2):
            report.fail(title, "return a pair (out, cache).")
            continue
        report.array(title, got[0], oracle(x, k, s), hint, mistakes(x, k, s), shape_hint=SHAPE)


def _backward(report: Report, forward, backward, oracle, rng, x_of, hint, mistakes):
    for title, shape, k, s in CASES:
        x = x_of(rng, shape)
        pair = report.call(title, forward, x, k, stride=s)
        if pair is FAILED or not (isinstance(pair, tuple) and len(pair) == 2):
            if pair is not FAILED:
                report.fail(title, "the forward pass must return a pair (out, cache).")
            continue
        dout = rng.standard_normal(np.shape(pair[0]))
        got = report.call(title, backward, dout, pair[1])
        report.array(title, got, oracle(dout, x, k, s), hint, mistakes(dout, x, k, s),
                     shape_hint="The gradient has the input's shape (N, C, H, W).")


@register("pooling", ("max_pool_forward",), POOL)
def max_pool_forward(report: Report, func) -> None:
    _forward(report, func, max_pool2d_naive, np.random.default_rng(31),
             "Output (n, c, i, j) is the largest entry of the k×k window that starts at row i·S, "
             "column j·S of channel c.",
             lambda x, k, s: [(avg_pool2d_naive(x, k, s), "this is average pooling: take the "
                               "largest entry of each window.")])


def _ties_spread(dout, x, k, s):
    """The gradient when every maximum of a window receives the window's gradient."""
    s = k if s is None else s
    dx = np.zeros_like(x)
    h_out, w_out = dout.shape[2:]
    for n, c, i, j in np.ndindex(dout.shape):
        window = x[n, c, i * s:i * s + k, j * s:j * s + k]
        dx[n, c, i * s:i * s + k, j * s:j * s + k] += dout[n, c, i, j] * (window == window.max())
    return dx


def _last_max(dout, x, k, s):
    """The gradient when a tie goes to the last maximum in row-major order."""
    flipped = max_pool2d_backward_naive(dout[:, :, ::-1, ::-1].copy(),
                                        x[:, :, ::-1, ::-1].copy(), k, s)
    return flipped[:, :, ::-1, ::-1] if _divides(x, k, s) else None


def _divides(x, k, s):
    s = k if s is None else s
    return all((size - k) % s == 0 for size in x.shape[2:])


@register("pooling", ("max_pool_forward", "max_pool_backward"), POOL)
def max_pool_backward(report: Report, forward, backward) -> None:
    rng = np.random.default_rng(32)
    _backward(report, forward, backward, max_pool2d_backward_naive, rng,
              lambda rng, shape: rng.standard_normal(shape),
              "each output's gradient goes to the one input that won its window; where "
              "windows overlap, the contributions add up.",
              lambda dout, x, k, s: [(avg_pool2d_backward_naive(dout, x, k, s),
                                      "you spread the gradient over the window like average "
                                      "pooling: it goes to the maximum only.")])
    for title, shape, k, s in [
            ("ties in 2×2 windows: the first maximum, row by row, wins", (2, 2, 4, 4), 2, None),
            ("ties in overlapping 3×3 windows", (1, 2, 5, 5), 3, 2)]:
        x = rng.integers(0, 3, size=shape).astype(np.float64)
        pair = report.call(title, forward, x, k, stride=s)
        if pair is FAILED or not isinstance(pair, tuple):
            break
        dout = rng.standard_normal(np.shape(pair[0]))
        got = report.call(title, backward, dout, pair[1])
        want = max_pool2d_backward_naive(dout, x, k, s)
        mistakes = [(_ties_spread(dout, x, k, s),
                     "every tied maximum received the gradient. Give all of it to the first "
                     "maximum of the window, reading it row by row (np.argmax does).")]
        last = _last_max(dout, x, k, s)
        if last is not None:
            mistakes.append((last, "the last tied maximum received the gradient: give it to "
                                   "the first one, reading the window row by row."))
        if not report.array(title, got, want, "a tie goes to the first maximum of the window, "
                            "reading it row by row.", mistakes):
            break


@register("pooling", ("avg_pool_forward",), POOL)
def avg_pool_forward(report: Report, func) -> None:
    _forward(report, func, avg_pool2d_naive, np.random.default_rng(33),
             "Output (n, c, i, j) is the mean of the k×k window that starts at row i·S, "
             "column j·S of channel c.",
             lambda x, k, s: [(max_pool2d_naive(x, k, s), "this is max pooling: take the mean "
                               "of each window.")])


@register("pooling", ("avg_pool_forward", "avg_pool_backward"), POOL)
def avg_pool_backward(report: Report, forward, backward) -> None:
    _backward(report, forward, backward, avg_pool2d_backward_naive,
              np.random.default_rng(34), lambda rng, shape: rng.standard_normal(shape),
              "every input of a window receives dout / k² from it; where windows overlap, the "
              "contributions add up.",
              lambda dout, x, k, s: [(avg_pool2d_backward_naive(dout, x, k, s) * k * k,
                                      "you forgot to divide by the window size k²."),
                                     (_overwrite_avg(dout, x, k, s),
                                      "overlapping windows must add up (+=), not overwrite.")])


def _overwrite_avg(dout, x, k, s):
    s = k if s is None else s
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(dout.shape):
        dx[n, c, i * s:i * s + k, j * s:j * s + k] = dout[n, c, i, j] / (k * k)
    return dx
