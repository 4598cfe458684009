"""Convolution (PyTorch's cross-correlation) in NumPy: loop oracles and fast kernels.

Layout is NCHW with weights ``(C_out, C_in // groups, kH, kW)``, as in
``torch.nn.Conv2d`` (with ``stride``, ``padding``, ``dilation`` and ``groups``);
the 1-D versions (``conv1d*``, NCL) run the 2-D kernels on a height-1 view.
``conv2d_naive`` and ``conv2d_backward_naive`` spell out the sums with loops;
``conv2d_forward`` / ``conv2d_backward`` compute the same numbers with im2col
and one matrix product per pass (helpers in ``cnnlab._im2col``), and are
tested equal to the loops.

The fast kernels reuse scratch memory between calls of the same geometry (see
:func:`release_workspace`): it lives as long as a forward cache of that
geometry, so deleting the caches (or the model whose layers hold them) gives
all of it back.
"""
from __future__ import annotations

import numpy as np

from . import _im2col as columns
from ._im2col import col2im as _col2im
from ._im2col import grid_to_nchw, make_plan, nchw_to_grid, workspace, workspace_for
from ._im2col import im2col as _im2col
from ._validate import (
    as_pair,
    check_array,
    check_cache,
    check_choice,
    check_int,
    check_same_dtype,
    check_same_shape,
)
from .shapes import Padding, conv2d_output_shape, resolve_padding


def _check_conv(x, weight, bias, stride, padding, dilation=1, groups=1):
    """Validate conv arguments; return ``(stride, pads, dilation, groups, out_shape)``."""
    check_array(x, "x", ndim=4)
    check_array(weight, "weight", ndim=4)
    check_same_dtype(weight, "weight", x, "x")
    if 0 in x.shape:
        raise ValueError(f"x must not have an empty dimension, got shape {x.shape}")
    if 0 in weight.shape:
        raise ValueError(f"weight must not have an empty dimension, got shape {weight.shape}")
    groups = check_int(groups, "groups", 1)
    if weight.shape[0] % groups:
        raise ValueError(f"groups: out_channels {weight.shape[0]} (weight shape "
                         f"{weight.shape}) is not divisible by groups {groups}")
    if weight.shape[1] * groups != x.shape[1]:
        per = f" x groups {groups}" if groups > 1 else ""
        raise ValueError(f"weight: in_channels {weight.shape[1]}{per} does not match the "
                         f"{x.shape[1]} channels of x (x shape {x.shape}, weight shape "
                         f"{weight.shape})")
    if bias is not None:
        check_array(bias, "bias", ndim=1)
        check_same_dtype(bias, "bias", x, "x")
        check_same_shape(bias, "bias", (weight.shape[0],))
    stride = as_pair(stride, "stride", 1)
    dilation = as_pair(dilation, "dilation", 1)
    kernel = weight.shape[2:]
    pads = resolve_padding(padding, kernel, stride, dilation)
    for axis, size, k, d, before, after in (("height", x.shape[2], kernel[0], dilation[0],
                                             *pads[:2]),
                                            ("width", x.shape[3], kernel[1], dilation[1],
                                             *pads[2:])):
        span = d * (k - 1) + 1
        if span > size + before + after:
            dil = f" (dilated to {span})" if d > 1 else ""
            raise ValueError(f"weight: kernel {axis} {k}{dil} is larger than the padded input "
                             f"{axis} {size + before + after} (x {axis} {size} + padding "
                             f"{before}+{after})")
    out_shape = conv2d_output_shape(x.shape, weight.shape[0], kernel, stride, padding, dilation)
    return stride, pads, dilation, groups, out_shape


def _pad(x: np.ndarray, pads: tuple[int, int, int, int], value: float = 0.0) -> np.ndarray:
    """Pad the two spatial axes of an NCHW array (returns ``x`` itself when no padding)."""
    top, bottom, left, right = pads
    if not any(pads):
        return x
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=value)


def conv2d_naive(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None,
                 stride: int | tuple[int, int] = 1, padding: Padding = 0,
                 dilation: int | tuple[int, int] = 1, groups: int = 1) -> np.ndarray:
    """2-D convolution written as explicit loops (the reference oracle).

    Parameters
    ----------
    x : (N, C_in, H, W) ndarray
    weight : (C_out, C_in // groups, kH, kW) ndarray
    bias : (C_out,) ndarray or None
    stride : int or (int, int), default 1
    padding : int, (int, int), "same" or "valid", default 0
    dilation : int or (int, int), default 1
        Spacing between kernel taps: a dilated kernel spans ``d(k - 1) + 1`` pixels.
    groups : int, default 1
        Split the channels into ``groups`` independent convolutions: output
        channel ``o`` sees only input channels of its group. ``groups = C_in``
        is a depthwise convolution.

    Returns
    -------
    out : (N, C_out, H_out, W_out) ndarray

    Notes
    -----
    Like every deep-learning library this is a cross-correlation. With
    ``g(o)`` the first input channel of ``o``'s group:

    .. math::

        \\text{out}[n, o, i, j] = b_o + \\sum_{c, p, q}
            W[o, c, p, q]\\, x_{\\text{pad}}[n, g(o) + c, i s_h + p d_h, j s_w + q d_w]
    """
    (sh, sw), pads, (dh, dw), groups, out_shape = _check_conv(x, weight, bias, stride, padding,
                                                              dilation, groups)
    xp = _pad(x, pads)
    c_group, kh, kw = weight.shape[1:]
    out = np.zeros(out_shape, dtype=x.dtype)
    n_batch, c_out, h_out, w_out = out_shape
    for n in range(n_batch):
        for o in range(c_out):
            first = o // (c_out // groups) * c_group  # first input channel of o's group
            for i in range(h_out):
                for j in range(w_out):
                    patch = xp[n, first:first + c_group,
                               i * sh:i * sh + dh * (kh - 1) + 1:dh,
                               j * sw:j * sw + dw * (kw - 1) + 1:dw]
                    out[n, o, i, j] = np.sum(patch * weight[o])
            if bias is not None:
                out[n, o] += bias[o]
    return out


def conv2d_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None,
                   stride: int | tuple[int, int] = 1, padding: Padding = 0,
                   dilation: int | tuple[int, int] = 1,
                   groups: int = 1) -> tuple[np.ndarray, dict]:
    """Fast 2-D convolution: im2col and one matrix product for the whole batch.

    Parameters
    ----------
    x : (N, C_in, H, W) ndarray
    weight : (C_out, C_in // groups, kH, kW) ndarray, same dtype as ``x``
    bias : (C_out,) ndarray or None
    stride : int or (int, int), default 1
    padding : int, (int, int), "same" or "valid", default 0
    dilation : int or (int, int), default 1
    groups : int, default 1
        As in :func:`conv2d_naive`.

    Returns
    -------
    out : (N, C_out, H_out, W_out) ndarray
        Same dtype as ``x``; a new array.
    cache : dict
        What :func:`conv2d_backward` needs; treat it as opaque.  It holds the
        columns matrix (about kH*kW times the size of ``x``), a reference to
        ``weight`` (do not modify ``weight`` in place before backward) and the
        workspace of this geometry (see :func:`release_workspace`).

    Notes
    -----
    The columns matrix holds every receptive field of the batch as a column:
    ``cols[(c, p, q), (n, i, j)] = x_pad[n, c, i*s_h + p, j*s_w + q]``, filled
    with one slice copy per kernel offset ``(p, q)`` (no loop over pixels or
    samples).  Then a single GEMM gives every output at once:
    ``out_cols = W_mat @ cols`` with ``W_mat = weight.reshape(C_out, C_in*kH*kW)``,
    ``(C_out, K) @ (K, N*H_out*W_out)``, which is reordered to NCHW while the
    bias is added.  ``cnnlab._im2col`` picks the column order per shape.
    Dilation only changes which pixels each kernel offset copies.  With
    ``groups = g`` the rows of ``cols`` and of ``W_mat`` split into ``g`` blocks
    and the product becomes ``g`` stacked ones, ``(g, C_out/g, K/g) @ (g, K/g, M)``.
    """
    stride, pads, dilation, groups, out_shape = _check_conv(x, weight, bias, stride, padding,
                                                            dilation, groups)
    plan = make_plan(x.shape, weight.shape[2:], stride, pads, out_shape[2:], x.itemsize,
                     dilation)
    space = workspace_for(plan)  # the cache keeps it: reused while such caches live
    cols = _im2col(x, plan)  # (C_in, kH, kW, *grid)
    c_out = weight.shape[0]
    k, m = weight[0].size, cols.size // (weight[0].size * groups)
    out_cols = workspace("conv_out", plan, (c_out, *plan.grid), x.dtype)
    np.matmul(weight.reshape(groups, c_out // groups, k), cols.reshape(groups, k, m),
              out=out_cols.reshape(groups, c_out // groups, m))
    out = grid_to_nchw(out_cols, plan, bias)
    cache = {"op": "conv2d", "plan": plan, "weight": weight, "has_bias": bias is not None,
             "cols": cols, "out_shape": out_shape, "groups": groups, "workspace": space}
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
    dweight : (C_out, C_in // groups, kH, kW) ndarray
    dbias : (C_out,) ndarray or None
        ``None`` when the forward pass had no bias.

    Notes
    -----
    With ``delta = dout`` reordered like the columns, ``(C_out, M)`` (``M = N*H_out*W_out``,
    or a few more in the wide column order): ``dW_mat = delta @ cols^T`` (one GEMM
    summing over the whole batch), ``db = delta.sum(axis=1)``, ``dcols = W_mat^T @ delta``
    (per group when ``groups > 1``).  ``dcols`` is scattered back (col2im) with one
    slice-add per kernel offset into a zero padded buffer, which is then cropped.
    Strided convolutions need no zero-dilated ``dout``.
    """
    check_array(dout, "dout", ndim=4)
    weight = check_cache(cache, "conv2d")["weight"]
    check_same_dtype(dout, "dout", weight, "the forward input")
    if dout.shape != cache["out_shape"]:
        raise ValueError(f"dout must have the forward output's shape {cache['out_shape']}, "
                         f"got {dout.shape}")
    plan, cols, groups = cache["plan"], cache["cols"], cache["groups"]
    c_out = weight.shape[0]
    k, m = weight[0].size, cols.size // (weight[0].size * groups)
    # delta, one block per group: (groups, C_out/groups, M)
    g = nchw_to_grid(dout, plan).reshape(groups, c_out // groups, m)
    cols = cols.reshape(groups, k, m)
    dweight = np.matmul(g, cols.transpose(0, 2, 1)).reshape(weight.shape)
    dbias = g.reshape(c_out, m).sum(axis=1) if cache["has_bias"] else None
    dcols = workspace("conv_dcols", plan, cols.shape, dout.dtype)
    np.matmul(weight.reshape(groups, c_out // groups, k).transpose(0, 2, 1), g, out=dcols)
    dx = _col2im(dcols.reshape(plan.c, plan.kh, plan.kw, *plan.grid), plan)
    return dx, dweight, dbias


def conv2d_backward_naive(dout: np.ndarray, x: np.ndarray, weight: np.ndarray,
                          bias: np.ndarray | None = None, stride: int | tuple[int, int] = 1,
                          padding: Padding = 0, dilation: int | tuple[int, int] = 1,
                          groups: int = 1
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Loop version of :func:`conv2d_backward` that mirrors the math (the oracle).

    Parameters
    ----------
    dout : (N, C_out, H_out, W_out) ndarray
    x, weight, bias, stride, padding, dilation, groups
        The forward pass's arguments.

    Returns
    -------
    dx : (N, C_in, H, W) ndarray
    dweight : (C_out, C_in // groups, kH, kW) ndarray
    dbias : (C_out,) ndarray or None

    Notes
    -----
    Without dilation and groups (a dilated tap ``p`` reads row ``i s_h + p d_h``;
    output channel ``o`` reads only its group's input channels):

    .. math::

        \\frac{\\partial L}{\\partial W[o, c, p, q]} &= \\sum_{n, i, j}
            \\delta[n, o, i, j]\\, x_{\\text{pad}}[n, c, i s_h + p, j s_w + q]\\\\
        \\frac{\\partial L}{\\partial b_o} &= \\sum_{n, i, j} \\delta[n, o, i, j]\\\\
        \\frac{\\partial L}{\\partial x_{\\text{pad}}[n, :, i s_h + p, j s_w + q]}
            &\\mathrel{+}= \\delta[n, o, i, j]\\, W[o, :, p, q]

    The weight gradient is the cross-correlation of ``x`` with ``dout``; for the input
    gradient each output position scatters its gradient back through the kernel.
    """
    (sh, sw), pads, (dh, dw), groups, out_shape = _check_conv(x, weight, bias, stride, padding,
                                                              dilation, groups)
    check_array(dout, "dout", ndim=4)
    check_same_dtype(dout, "dout", x, "x")
    check_same_shape(dout, "dout", out_shape)
    xp = _pad(x, pads)
    n_batch, c_out, h_out, w_out = out_shape
    c_group, kh, kw = weight.shape[1:]

    def first_channel(o: int) -> int:  # first input channel of output channel o's group
        return o // (c_out // groups) * c_group

    dweight = np.zeros_like(weight)
    for o in range(c_out):
        for c in range(c_group):
            for p in range(kh):
                for q in range(kw):
                    x_seen = xp[:, first_channel(o) + c,
                                p * dh:p * dh + sh * h_out:sh, q * dw:q * dw + sw * w_out:sw]
                    dweight[o, c, p, q] = np.sum(dout[:, o] * x_seen)

    dbias = dout.sum(axis=(0, 2, 3)) if bias is not None else None

    dxp = np.zeros_like(xp)
    for n in range(n_batch):
        for o in range(c_out):
            chans = slice(first_channel(o), first_channel(o) + c_group)
            for i in range(h_out):
                for j in range(w_out):
                    rows = slice(i * sh, i * sh + dh * (kh - 1) + 1, dh)
                    cols = slice(j * sw, j * sw + dw * (kw - 1) + 1, dw)
                    dxp[n, chans, rows, cols] += dout[n, o, i, j] * weight[o]
    top, bottom, left, right = pads
    return dxp[:, :, top:xp.shape[2] - bottom, left:xp.shape[3] - right], dweight, dbias


def conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None,
           stride: int | tuple[int, int] = 1, padding: Padding = 0,
           dilation: int | tuple[int, int] = 1, groups: int = 1) -> np.ndarray:
    """Output of :func:`conv2d_forward` only (like ``torch.nn.functional.conv2d``)."""
    return conv2d_forward(x, weight, bias, stride, padding, dilation, groups)[0]


def release_workspace() -> None:
    """Free the scratch memory the fast convolution keeps for reuse in this thread.

    Each geometry (input shape, kernel, stride, padding, dilation) has a
    workspace: one array per role (the padded input, the output and gradient
    grids, staging copies, the gradient of the columns) and at most 16 columns
    matrices (``C_in*kH*kW x N*H_out*W_out`` numbers each) kept for reuse, in
    all usually two to three times the columns of one pass.  It lives as long
    as a forward cache of that geometry does, e.g. a ``Conv2d`` layer's last
    pass, so it is freed anyway once those caches are gone (``del cache``,
    ``del model``).  This empties the workspaces of caches that are still
    alive too; their columns stay (backward needs them) and the rest is
    rebuilt on demand.
    """
    columns.release()


def workspace_nbytes() -> int:
    """Bytes of the live workspaces of this thread (see :func:`release_workspace`).

    Counts the scratch arrays and the columns matrices the workspaces hold,
    whether a forward cache still uses them or they are kept for reuse.
    """
    return columns.nbytes()


# --- 1-D convolution: sequences (N, C, L) ------------------------------------------------
def _as_2d(x, weight, stride, padding, dilation):
    """View 1-D conv arguments as 2-D ones with a height of 1."""
    check_array(x, "x", ndim=3)
    check_array(weight, "weight", ndim=3)
    s, d = check_int(stride, "stride", 1), check_int(dilation, "dilation", 1)
    if not isinstance(padding, str):
        padding = (0, check_int(padding, "padding", 0))
    return x[:, :, None, :], weight[:, :, None, :], (1, s), padding, (1, d)


def conv1d_naive(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None,
                 stride: int = 1, padding: int | str = 0, dilation: int = 1,
                 groups: int = 1) -> np.ndarray:
    """1-D convolution (cross-correlation) as explicit loops: the oracle.

    Parameters
    ----------
    x : (N, C_in, L) ndarray
    weight : (C_out, C_in // groups, k) ndarray
    bias : (C_out,) ndarray or None
    stride, dilation : int, default 1
    padding : int, "same" or "valid", default 0
    groups : int, default 1

    Returns
    -------
    out : (N, C_out, L_out) ndarray

    Notes
    -----
    .. math::

        \\text{out}[n, o, t] = b_o + \\sum_{c, p} W[o, c, p]\\,
            x_{\\text{pad}}[n, g(o) + c, t s + p d]
    """
    x4, w4, s2, p2, d2 = _as_2d(x, weight, stride, padding, dilation)
    (_, s), pads, (_, d), groups, out_shape = _check_conv(x4, w4, bias, s2, p2, d2, groups)
    xp = np.pad(x, ((0, 0), (0, 0), pads[2:]))
    c_group, k = weight.shape[1:]
    n_batch, c_out, _, l_out = out_shape
    out = np.zeros((n_batch, c_out, l_out), dtype=x.dtype)
    for n in range(n_batch):
        for o in range(c_out):
            first = o // (c_out // groups) * c_group
            for t in range(l_out):
                window = xp[n, first:first + c_group, t * s:t * s + d * (k - 1) + 1:d]
                out[n, o, t] = np.sum(window * weight[o]) + (0 if bias is None else bias[o])
    return out


def conv1d_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None,
                   stride: int = 1, padding: int | str = 0, dilation: int = 1,
                   groups: int = 1) -> tuple[np.ndarray, dict]:
    """Fast 1-D convolution: :func:`conv2d_forward` on a height-1 view (no copy).

    Arguments as :func:`conv1d_naive`; returns ``(out, cache)`` for :func:`conv1d_backward`.
    """
    x4, w4, s2, p2, d2 = _as_2d(x, weight, stride, padding, dilation)
    out, cache = conv2d_forward(x4, w4, bias, s2, p2, d2, groups)
    return out[:, :, 0, :], cache


def conv1d_backward(dout: np.ndarray,
                    cache: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Gradients of :func:`conv1d_forward`: ``(dx, dweight, dbias)``."""
    check_array(dout, "dout", ndim=3)
    dx, dw, db = conv2d_backward(dout[:, :, None, :], cache)
    return dx[:, :, 0, :], dw[:, :, 0, :], db


def conv1d_backward_naive(dout: np.ndarray, x: np.ndarray, weight: np.ndarray,
                          bias: np.ndarray | None = None, stride: int = 1,
                          padding: int | str = 0, dilation: int = 1, groups: int = 1
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Loop version of :func:`conv1d_backward` (the oracle); arguments as the forward pass."""
    x4, w4, s2, p2, d2 = _as_2d(x, weight, stride, padding, dilation)
    (_, s), pads, (_, d), groups, out_shape = _check_conv(x4, w4, bias, s2, p2, d2, groups)
    check_array(dout, "dout", ndim=3)
    check_same_dtype(dout, "dout", x, "x")
    check_same_shape(dout, "dout", out_shape[:2] + out_shape[3:])
    xp = np.pad(x, ((0, 0), (0, 0), pads[2:]))
    c_group, k = weight.shape[1:]
    n_batch, c_out, _, l_out = out_shape
    dxp, dweight = np.zeros_like(xp), np.zeros_like(weight)
    for n in range(n_batch):
        for o in range(c_out):
            chans = slice(o // (c_out // groups) * c_group, o // (c_out // groups) * c_group
                          + c_group)
            for t in range(l_out):
                taps = slice(t * s, t * s + d * (k - 1) + 1, d)
                dweight[o] += dout[n, o, t] * xp[n, chans, taps]
                dxp[n, chans, taps] += dout[n, o, t] * weight[o]
    dbias = dout.sum(axis=(0, 2)) if bias is not None else None
    return dxp[:, :, pads[2]:xp.shape[2] - pads[3]], dweight, dbias


def conv1d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None,
           stride: int = 1, padding: int | str = 0, dilation: int = 1,
           groups: int = 1) -> np.ndarray:
    """Output of :func:`conv1d_forward` only (like ``torch.nn.functional.conv1d``)."""
    return conv1d_forward(x, weight, bias, stride, padding, dilation, groups)[0]


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
