"""2-D convolution (PyTorch's cross-correlation) in NumPy: a loop oracle and a fast kernel.

Layout is NCHW with weights ``(C_out, C_in, kH, kW)``, as in ``torch.nn.Conv2d``.
``conv2d_naive`` and ``conv2d_backward_naive`` spell out the sums with loops;
``conv2d_forward`` / ``conv2d_backward`` compute the same numbers with im2col
and one matrix product per pass (helpers in :mod:`cnnlab._im2col`), and are
tested equal to the loops.
"""
from __future__ import annotations

import numpy as np

from ._im2col import col2im as _col2im
from ._im2col import grid_to_nchw, make_plan, nchw_to_grid, workspace
from ._im2col import im2col as _im2col
from ._validate import (as_pair, check_array, check_choice, check_same_dtype,
                        check_same_shape)
from .shapes import Padding, conv2d_output_shape, resolve_padding


def _check_conv(x, weight, bias, stride, padding):
    """Validate conv arguments; return ``(stride, pads, out_shape)``."""
    check_array(x, "x", ndim=4)
    check_array(weight, "weight", ndim=4)
    check_same_dtype(weight, "weight", x, "x")
    if 0 in x.shape:
        raise ValueError(f"x must not have an empty dimension, got shape {x.shape}")
    if 0 in weight.shape:
        raise ValueError(f"weight must not have an empty dimension, got shape {weight.shape}")
    if weight.shape[1] != x.shape[1]:
        raise ValueError(f"weight: in_channels {weight.shape[1]} does not match the "
                         f"{x.shape[1]} channels of x (x shape {x.shape}, weight shape "
                         f"{weight.shape})")
    if bias is not None:
        check_array(bias, "bias", ndim=1)
        check_same_dtype(bias, "bias", x, "x")
        check_same_shape(bias, "bias", (weight.shape[0],))
    stride = as_pair(stride, "stride", 1)
    kernel = weight.shape[2:]
    pads = resolve_padding(padding, kernel, stride)
    for axis, size, k, before, after in (("height", x.shape[2], kernel[0], *pads[:2]),
                                         ("width", x.shape[3], kernel[1], *pads[2:])):
        if k > size + before + after:
            raise ValueError(f"weight: kernel {axis} {k} is larger than the padded input "
                             f"{axis} {size + before + after} (x {axis} {size} + padding "
                             f"{before}+{after})")
    out_shape = conv2d_output_shape(x.shape, weight.shape[0], kernel, stride, padding)
    return stride, pads, out_shape


def _pad(x: np.ndarray, pads: tuple[int, int, int, int], value: float = 0.0) -> np.ndarray:
    """Pad the two spatial axes of an NCHW array (returns ``x`` itself when no padding)."""
    top, bottom, left, right = pads
    if not any(pads):
        return x
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=value)


def conv2d_naive(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None,
                 stride: int | tuple[int, int] = 1, padding: Padding = 0) -> np.ndarray:
    """2-D convolution written as explicit loops (the reference oracle).

    Parameters
    ----------
    x : (N, C_in, H, W) ndarray
    weight : (C_out, C_in, kH, kW) ndarray
    bias : (C_out,) ndarray or None
    stride : int or (int, int), default 1
    padding : int, (int, int), "same" or "valid", default 0

    Returns
    -------
    out : (N, C_out, H_out, W_out) ndarray

    Notes
    -----
    Like every deep-learning library this is a cross-correlation:

    .. math::

        \\text{out}[n, o, i, j] = b_o + \\sum_{c, p, q}
            W[o, c, p, q]\\, x_{\\text{pad}}[n, c, i s_h + p, j s_w + q]
    """
    (sh, sw), pads, out_shape = _check_conv(x, weight, bias, stride, padding)
    xp = _pad(x, pads)
    kh, kw = weight.shape[2:]
    out = np.zeros(out_shape, dtype=x.dtype)
    n_batch, c_out, h_out, w_out = out_shape
    for n in range(n_batch):
        for o in range(c_out):
            for i in range(h_out):
                for j in range(w_out):
                    patch = xp[n, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    out[n, o, i, j] = np.sum(patch * weight[o])
            if bias is not None:
                out[n, o] += bias[o]
    return out


def conv2d_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None,
                   stride: int | tuple[int, int] = 1,
                   padding: Padding = 0) -> tuple[np.ndarray, dict]:
    """Fast 2-D convolution: im2col and one matrix product for the whole batch.

    Parameters
    ----------
    x : (N, C_in, H, W) ndarray
    weight : (C_out, C_in, kH, kW) ndarray, same dtype as ``x``
    bias : (C_out,) ndarray or None
    stride : int or (int, int), default 1
    padding : int, (int, int), "same" or "valid", default 0

    Returns
    -------
    out : (N, C_out, H_out, W_out) ndarray
        Same dtype as ``x``; a new array.
    cache : dict
        What :func:`conv2d_backward` needs; treat it as opaque.  It holds the
        columns matrix (about kH*kW times the size of ``x``) and a reference
        to ``weight``, so do not modify ``weight`` in place before backward.

    Notes
    -----
    The columns matrix holds every receptive field of the batch as a column:
    ``cols[(c, p, q), (n, i, j)] = x_pad[n, c, i*s_h + p, j*s_w + q]``, filled
    with one slice copy per kernel offset ``(p, q)`` (no loop over pixels or
    samples).  Then a single GEMM gives every output at once:
    ``out_cols = W_mat @ cols`` with ``W_mat = weight.reshape(C_out, C_in*kH*kW)``,
    ``(C_out, K) @ (K, N*H_out*W_out)``, which is reordered to NCHW while the
    bias is added.  :mod:`cnnlab._im2col` picks the column order per shape.
    """
    stride, pads, out_shape = _check_conv(x, weight, bias, stride, padding)
    plan = make_plan(x.shape, weight.shape[2:], stride, pads, out_shape[2:], x.itemsize)
    cols = _im2col(x, plan)  # (C_in, kH, kW, *grid)
    c_out = weight.shape[0]
    k, m = weight[0].size, cols.size // weight[0].size
    out_cols = workspace("conv_out", plan, (c_out, *plan.grid), x.dtype)
    np.matmul(weight.reshape(c_out, k), cols.reshape(k, m), out=out_cols.reshape(c_out, m))
    out = grid_to_nchw(out_cols, plan, bias)
    cache = {"plan": plan, "weight": weight, "has_bias": bias is not None, "cols": cols,
             "out_shape": out_shape}
    return out, cache


def conv2d_backward(dout: np.ndarray,
                    cache: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Gradients of :func:`conv2d_forward` with respect to x, weight and bias.

    Parameters
    ----------
    dout : (N, C_out, H_out, W_out) ndarray
        Upstream gradient, same shape and dtype as the forward output.
    cache : dict
        From :func:`conv2d_forward`; not modified.

    Returns
    -------
    dx : (N, C_in, H, W) ndarray
    dweight : (C_out, C_in, kH, kW) ndarray
    dbias : (C_out,) ndarray or None
        ``None`` when the forward pass had no bias.

    Notes
    -----
    With ``G = dout`` reordered like the columns, ``(C_out, M)`` (``M = N*H_out*W_out``,
    or a few more in the wide column order): ``dW_mat = G @ cols^T`` (one GEMM
    summing over the whole batch),
    ``db = G.sum(axis=1)`` and ``dcols = W_mat^T @ G``.  ``dcols`` is scattered
    back (col2im) with one slice-add per kernel offset into a zero padded buffer,
    which is then cropped.  Strided convolutions need no zero-dilated ``dout``.
    """
    check_array(dout, "dout", ndim=4)
    weight = cache["weight"]
    check_same_dtype(dout, "dout", weight, "the forward input")
    if dout.shape != cache["out_shape"]:
        raise ValueError(f"dout must have the forward output's shape {cache['out_shape']}, "
                         f"got {dout.shape}")
    plan, cols = cache["plan"], cache["cols"]
    c_out = weight.shape[0]
    k, m = weight[0].size, cols.size // weight[0].size
    g = nchw_to_grid(dout, plan).reshape(c_out, m)  # (C_out, M)
    cols = cols.reshape(k, m)
    dweight = np.matmul(g, cols.T).reshape(weight.shape)
    dbias = g.sum(axis=1) if cache["has_bias"] else None
    dcols = workspace("conv_dcols", plan, cols.shape, dout.dtype)
    np.matmul(weight.reshape(c_out, k).T, g, out=dcols)
    dx = _col2im(dcols.reshape(plan.c, plan.kh, plan.kw, *plan.grid), plan)
    return dx, dweight, dbias


def conv2d_backward_naive(dout: np.ndarray, x: np.ndarray, weight: np.ndarray,
                          bias: np.ndarray | None = None, stride: int | tuple[int, int] = 1,
                          padding: Padding = 0
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Loop version of :func:`conv2d_backward` that mirrors the math (the oracle).

    Parameters
    ----------
    dout : (N, C_out, H_out, W_out) ndarray
    x, weight, bias, stride, padding
        The forward pass's arguments.

    Returns
    -------
    dx : (N, C_in, H, W) ndarray
    dweight : (C_out, C_in, kH, kW) ndarray
    dbias : (C_out,) ndarray or None

    Notes
    -----
    .. math::

        \\frac{\\partial L}{\\partial W[o, c, p, q]} &= \\sum_{n, i, j}
            \\delta[n, o, i, j]\\, x_{\\text{pad}}[n, c, i s_h + p, j s_w + q]
            \\quad\\text{(cross-correlation of x with dout)}\\\\
        \\frac{\\partial L}{\\partial b_o} &= \\sum_{n, i, j} \\delta[n, o, i, j]\\\\
        \\frac{\\partial L}{\\partial x_{\\text{pad}}[n, :, i s_h + p, j s_w + q]}
            &\\mathrel{+}= \\delta[n, o, i, j]\\, W[o, :, p, q]
            \\quad\\text{(each output scatters its gradient through the kernel)}
    """
    (sh, sw), pads, out_shape = _check_conv(x, weight, bias, stride, padding)
    check_array(dout, "dout", ndim=4)
    check_same_dtype(dout, "dout", x, "x")
    check_same_shape(dout, "dout", out_shape)
    xp = _pad(x, pads)
    n_batch, c_out, h_out, w_out = out_shape
    c_in, kh, kw = weight.shape[1:]

    dweight = np.zeros_like(weight)
    for o in range(c_out):
        for c in range(c_in):
            for p in range(kh):
                for q in range(kw):
                    x_seen = xp[:, c, p:p + sh * h_out:sh, q:q + sw * w_out:sw]
                    dweight[o, c, p, q] = np.sum(dout[:, o] * x_seen)

    dbias = dout.sum(axis=(0, 2, 3)) if bias is not None else None

    dxp = np.zeros_like(xp)
    for n in range(n_batch):
        for o in range(c_out):
            for i in range(h_out):
                for j in range(w_out):
                    rows, cols = slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw)
                    dxp[n, :, rows, cols] += dout[n, o, i, j] * weight[o]
    top, bottom, left, right = pads
    return dxp[:, :, top:xp.shape[2] - bottom, left:xp.shape[3] - right], dweight, dbias


def conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None,
           stride: int | tuple[int, int] = 1, padding: Padding = 0) -> np.ndarray:
    """Output of :func:`conv2d_forward` only (like ``torch.nn.functional.conv2d``)."""
    return conv2d_forward(x, weight, bias, stride, padding)[0]


def convolve2d(image: np.ndarray, kernel: np.ndarray, mode: str = "full") -> np.ndarray:
    """True mathematical 2-D convolution of two 2-D arrays (kernel flipped).

    Parameters
    ----------
    image : (H, W) ndarray
    kernel : (kH, kW) ndarray, same dtype as ``image``
    mode : {"full", "valid"}, default "full"
        ``"full"`` returns every position where the two overlap,
        ``(H + kH - 1, W + kW - 1)``; ``"valid"`` only those where the kernel lies
        entirely inside the image, ``(H - kH + 1, W - kW + 1)``.

    Returns
    -------
    ndarray

    Notes
    -----
    .. math::

        S(i, j) = \\sum_m \\sum_n I(m, n)\\, K(i - m, j - n)

    summing over the indices where both factors exist.  Since
    ``K(i - m, j - n)`` runs through the kernel backwards, this equals the
    cross-correlation computed by :func:`conv2d` with ``kernel[::-1, ::-1]``
    (and ``padding = k - 1`` for ``"full"``).
    """
    check_array(image, "image", ndim=2)
    check_array(kernel, "kernel", ndim=2)
    check_same_dtype(kernel, "kernel", image, "image")
    check_choice(mode, "mode", ("full", "valid"))
    (h, w), (kh, kw) = image.shape, kernel.shape
    if 0 in image.shape or 0 in kernel.shape:
        raise ValueError(f"image and kernel must be non-empty, got shapes {image.shape} "
                         f"and {kernel.shape}")
    if mode == "valid" and (kh > h or kw > w):
        raise ValueError(f"kernel of shape {kernel.shape} does not fit inside the image "
                         f"of shape {image.shape} for mode='valid'")
    full = np.zeros((h + kh - 1, w + kw - 1), dtype=image.dtype)
    for i in range(full.shape[0]):
        for j in range(full.shape[1]):
            for m in range(max(0, i - kh + 1), min(h, i + 1)):
                for n in range(max(0, j - kw + 1), min(w, j + 1)):
                    full[i, j] += image[m, n] * kernel[i - m, j - n]
    if mode == "valid":
        return full[kh - 1:h, kw - 1:w].copy()
    return full
