"""2-D max and average pooling: loop oracles and fast vectorised kernels.

Same conventions as ``torch.nn.MaxPool2d`` / ``AvgPool2d``: NCHW, ``stride``
defaults to ``kernel_size``, padding at most half the kernel, floor rule for the
output size, max pooling pads with ``-inf``, average pooling counts the padded
zeros (``count_include_pad=True``).  When a window holds several equal maxima
the gradient goes to the first one in row-major order (PyTorch on CPU).  NaN
beats every number, as in PyTorch on CPU: a window holding NaN outputs NaN and
its gradient goes to its last NaN (never to a number that did not win).
"""
from __future__ import annotations

import numpy as np

from ._validate import as_pair, check_array, check_cache, check_same_dtype, check_same_shape
from .conv import _pad
from .shapes import pool2d_output_shape

Pair = int | tuple[int, int]


def _check_pool(x, kernel_size, stride, padding):
    """Validate pooling arguments; return ``(kernel, stride, pads, out_shape)``."""
    check_array(x, "x", ndim=4)
    if 0 in x.shape:
        raise ValueError(f"x must not have an empty dimension, got shape {x.shape}")
    kernel = as_pair(kernel_size, "kernel_size", 1)
    stride = kernel if stride is None else as_pair(stride, "stride", 1)
    ph, pw = as_pair(padding, "padding", 0)
    out_shape = pool2d_output_shape(x.shape, kernel, stride, (ph, pw))
    return kernel, stride, (ph, ph, pw, pw), out_shape


def _check_dout(dout, cache, op: str):
    check_cache(cache, op)
    check_array(dout, "dout", ndim=4)
    if dout.dtype != cache["dtype"]:
        raise TypeError(f"dout must have the same dtype as the forward input "
                        f"({cache['dtype']}), got {dout.dtype}")
    if dout.shape != cache["out_shape"]:
        raise ValueError(f"dout must have the forward output's shape {cache['out_shape']}, "
                         f"got {dout.shape}")


def _windows(xp, kernel, stride, out_hw):
    """Yield ``(k, view)`` per kernel offset ``(p, q)``, ``k = p*kW + q``: the strided
    view ``view[n, c, i, j] = xp[n, c, i*s_h + p, j*s_w + q]`` of shape ``(N, C, *out_hw)``."""
    (kh, kw), (sh, sw), (ho, wo) = kernel, stride, out_hw
    for p in range(kh):
        for q in range(kw):
            yield p * kw + q, xp[:, :, p:p + sh * ho:sh, q:q + sw * wo:sw]


def _padded_zeros(x_shape, pads, dtype, empty=False):
    n_batch, channels, h, w = x_shape
    shape = (n_batch, channels, h + pads[0] + pads[1], w + pads[2] + pads[3])
    return np.empty(shape, dtype) if empty else np.zeros(shape, dtype)


def _tiling(kernel, stride, pads, x_shape, out_shape):
    """``(disjoint, exact)``: windows never overlap; they also cover every padded input once."""
    disjoint = stride[0] >= kernel[0] and stride[1] >= kernel[1]
    hp, wp = x_shape[2] + pads[0] + pads[1], x_shape[3] + pads[2] + pads[3]
    exact = (tuple(stride) == tuple(kernel)
             and (hp, wp) == (out_shape[2] * kernel[0], out_shape[3] * kernel[1]))
    return disjoint, exact


def _crop(dxp, pads):
    top, bottom, left, right = pads
    return dxp[:, :, top:dxp.shape[2] - bottom, left:dxp.shape[3] - right]


# ---------------------------------------------------------------- max pooling


def max_pool2d_naive(x: np.ndarray, kernel_size: Pair, stride: Pair | None = None,
                     padding: Pair = 0) -> np.ndarray:
    """Max pooling with explicit loops (the oracle).

    Parameters
    ----------
    x : (N, C, H, W) ndarray
    kernel_size : int or (int, int)
    stride : int, (int, int) or None, default None (= kernel_size)
    padding : int or (int, int), default 0 (padded with -inf)

    Returns
    -------
    out : (N, C, H_out, W_out) ndarray

    Notes
    -----
    ``out[n, c, i, j] = max_{p, q} x_pad[n, c, i*s_h + p, j*s_w + q]``
    """
    (kh, kw), (sh, sw), pads, out_shape = _check_pool(x, kernel_size, stride, padding)
    xp = _pad(x, pads, -np.inf)
    out = np.empty(out_shape, dtype=x.dtype)
    n_batch, channels, h_out, w_out = out_shape
    for n in range(n_batch):
        for c in range(channels):
            for i in range(h_out):
                for j in range(w_out):
                    out[n, c, i, j] = np.max(xp[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw])
    return out


def max_pool2d_forward(x: np.ndarray, kernel_size: Pair, stride: Pair | None = None,
                       padding: Pair = 0) -> tuple[np.ndarray, dict]:
    """Fast max pooling; also records which window entry won.

    Parameters
    ----------
    x : (N, C, H, W) ndarray
    kernel_size : int or (int, int)
    stride : int, (int, int) or None, default None (= kernel_size)
    padding : int or (int, int), default 0

    Returns
    -------
    out : (N, C, H_out, W_out) ndarray
    cache : dict
        For :func:`max_pool2d_backward`; holds the winning offset
        ``argmax[n, c, i, j] = p * kW + q`` of each window.

    Notes
    -----
    One pass per kernel offset (kH*kW passes, no loop over batch items or pixels)
    compares a strided view of the input with the running maximum; strict ``>``
    lets the first maximum in row-major window order win ties, as in PyTorch.
    (``x.reshape(N, C, H_out, kH, W_out, kW).max(axis=(3, 5))`` for non-overlapping
    windows was measured over 10x slower than these passes.)
    """
    kernel, stride, pads, out_shape = _check_pool(x, kernel_size, stride, padding)
    kh, kw = kernel
    out = argmax = better = None
    for k, view in _windows(_pad(x, pads, -np.inf), kernel, stride, out_shape[2:]):
        if out is None:
            out = view.copy()
            argmax = np.zeros(out_shape, dtype=np.min_scalar_type(kh * kw - 1))
            better = np.empty(out_shape, dtype=bool)
            continue
        np.greater(view, out, out=better)  # strict: an equal later entry never wins
        np.maximum(out, view, out=out)
        # offsets k only grow, so a new winner's k exceeds the index it replaces
        np.maximum(argmax, better * argmax.dtype.type(k), out=argmax)
    if np.isnan(out.min()):  # np.maximum propagates NaN, but `>` never picks it
        nan = np.isnan(out)
        for k, view in _windows(_pad(x, pads, -np.inf), kernel, stride, out_shape[2:]):
            argmax[nan & np.isnan(view)] = k  # the last NaN of the window wins
    cache = {"op": "max_pool2d", "argmax": argmax, "x_shape": x.shape, "dtype": x.dtype,
             "kernel": kernel, "stride": stride, "pads": pads, "out_shape": out_shape}
    return out, cache


def max_pool2d_backward(dout: np.ndarray, cache: dict) -> np.ndarray:
    """Gradient of :func:`max_pool2d_forward` with respect to its input.

    Parameters
    ----------
    dout : (N, C, H_out, W_out) ndarray
    cache : dict
        From :func:`max_pool2d_forward`; not modified.

    Returns
    -------
    dx : (N, C, H, W) ndarray
        Each output's gradient is routed to the one input that won its window;
        overlapping windows add up.
    """
    _check_dout(dout, cache, "max_pool2d")
    argmax, pads, kernel, stride = cache["argmax"], cache["pads"], cache["kernel"], cache["stride"]
    disjoint, exact = _tiling(kernel, stride, pads, cache["x_shape"], dout.shape)
    # an exact tiling writes every entry below; otherwise uncovered entries stay 0
    dxp = _padded_zeros(cache["x_shape"], pads, dout.dtype, empty=exact)
    winner = np.empty(dout.shape, dtype=bool)
    for k, view in _windows(dxp, kernel, stride, dout.shape[2:]):
        np.equal(argmax, k, out=winner)
        if disjoint:
            np.multiply(dout, winner, out=view)
        else:
            view += dout * winner  # overlapping windows add up
    if disjoint:
        dxp += 0.0  # a negative gradient times False is -0.0; make it 0.0, as in PyTorch
    return _crop(dxp, pads)


def max_pool2d_backward_naive(dout: np.ndarray, x: np.ndarray, kernel_size: Pair,
                              stride: Pair | None = None, padding: Pair = 0) -> np.ndarray:
    """Loop version of :func:`max_pool2d_backward` (the oracle).

    For each window, ``np.argmax`` finds the first maximum in row-major order and
    that input receives the window's upstream gradient; in a window holding NaN,
    the last NaN does (as in PyTorch on CPU).
    """
    (kh, kw), (sh, sw), pads, out_shape = _check_pool(x, kernel_size, stride, padding)
    check_array(dout, "dout", ndim=4)
    check_same_dtype(dout, "dout", x, "x")
    check_same_shape(dout, "dout", out_shape)
    xp = _pad(x, pads, -np.inf)
    dxp = np.zeros_like(xp)
    n_batch, channels, h_out, w_out = out_shape
    for n in range(n_batch):
        for c in range(channels):
            for i in range(h_out):
                for j in range(w_out):
                    window = xp[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    nans = np.flatnonzero(np.isnan(window))
                    winner = nans[-1] if nans.size else np.argmax(window)
                    p, q = np.unravel_index(winner, window.shape)
                    dxp[n, c, i * sh + p, j * sw + q] += dout[n, c, i, j]
    return _crop(dxp, pads)


def max_pool2d(x: np.ndarray, kernel_size: Pair, stride: Pair | None = None,
               padding: Pair = 0) -> np.ndarray:
    """Output of :func:`max_pool2d_forward` only (like ``torch.nn.functional.max_pool2d``)."""
    return max_pool2d_forward(x, kernel_size, stride, padding)[0]


# ------------------------------------------------------------ average pooling


def avg_pool2d_naive(x: np.ndarray, kernel_size: Pair, stride: Pair | None = None,
                     padding: Pair = 0) -> np.ndarray:
    """Average pooling with explicit loops (the oracle); padded zeros are counted.

    Notes
    -----
    ``out[n, c, i, j] = (1 / (kH kW)) sum_{p, q} x_pad[n, c, i*s_h + p, j*s_w + q]``
    """
    (kh, kw), (sh, sw), pads, out_shape = _check_pool(x, kernel_size, stride, padding)
    xp = _pad(x, pads)
    out = np.empty(out_shape, dtype=x.dtype)
    n_batch, channels, h_out, w_out = out_shape
    for n in range(n_batch):
        for c in range(channels):
            for i in range(h_out):
                for j in range(w_out):
                    out[n, c, i, j] = np.mean(xp[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw])
    return out


def avg_pool2d_forward(x: np.ndarray, kernel_size: Pair, stride: Pair | None = None,
                       padding: Pair = 0) -> tuple[np.ndarray, dict]:
    """Fast average pooling (``count_include_pad=True``).

    Parameters
    ----------
    x : (N, C, H, W) ndarray
    kernel_size : int or (int, int)
    stride : int, (int, int) or None, default None (= kernel_size)
    padding : int or (int, int), default 0 (zeros, counted in the average)

    Returns
    -------
    out : (N, C, H_out, W_out) ndarray
    cache : dict
        For :func:`avg_pool2d_backward`.
    """
    kernel, stride, pads, out_shape = _check_pool(x, kernel_size, stride, padding)
    kh, kw = kernel
    out = None
    for _, view in _windows(_pad(x, pads), kernel, stride, out_shape[2:]):
        if out is None:
            out = view.copy()
        else:
            out += view
    out /= kh * kw
    cache = {"op": "avg_pool2d", "x_shape": x.shape, "dtype": x.dtype, "kernel": kernel,
             "stride": stride, "pads": pads, "out_shape": out_shape}
    return out, cache


def avg_pool2d_backward(dout: np.ndarray, cache: dict) -> np.ndarray:
    """Gradient of :func:`avg_pool2d_forward`: each input gets ``dout / (kH kW)``
    from every window that contains it."""
    _check_dout(dout, cache, "avg_pool2d")
    kernel, stride, pads = cache["kernel"], cache["stride"], cache["pads"]
    share = dout / (kernel[0] * kernel[1])
    disjoint, exact = _tiling(kernel, stride, pads, cache["x_shape"], dout.shape)
    dxp = _padded_zeros(cache["x_shape"], pads, dout.dtype, empty=exact)
    for _, view in _windows(dxp, kernel, stride, dout.shape[2:]):
        if disjoint:
            np.copyto(view, share)
        else:
            view += share
    return _crop(dxp, pads)


def avg_pool2d_backward_naive(dout: np.ndarray, x: np.ndarray, kernel_size: Pair,
                              stride: Pair | None = None, padding: Pair = 0) -> np.ndarray:
    """Loop version of :func:`avg_pool2d_backward` (the oracle)."""
    (kh, kw), (sh, sw), pads, out_shape = _check_pool(x, kernel_size, stride, padding)
    check_array(dout, "dout", ndim=4)
    check_same_dtype(dout, "dout", x, "x")
    check_same_shape(dout, "dout", out_shape)
    dxp = np.zeros_like(_pad(x, pads))
    n_batch, channels, h_out, w_out = out_shape
    for n in range(n_batch):
        for c in range(channels):
            for i in range(h_out):
                for j in range(w_out):
                    share = dout[n, c, i, j] / (kh * kw)
                    dxp[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw] += share
    return _crop(dxp, pads)


def avg_pool2d(x: np.ndarray, kernel_size: Pair, stride: Pair | None = None,
               padding: Pair = 0) -> np.ndarray:
    """Output of :func:`avg_pool2d_forward` only (like ``torch.nn.functional.avg_pool2d``)."""
    return avg_pool2d_forward(x, kernel_size, stride, padding)[0]
