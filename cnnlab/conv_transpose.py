"""Transposed convolution: the adjoint of a convolution, as a kernel and as a layer.

Layout is NCHW with weights ``(C_in, C_out // groups, kH, kW)``, as in
``torch.nn.ConvTranspose2d``, and PyTorch's arguments ``stride``, ``padding``,
``output_padding``, ``groups`` and ``dilation``.  Each input value scatters a
copy of its kernel, scaled by the value, onto the output: neighbouring inputs
put their copies ``stride`` pixels apart, and ``padding`` crops the border of
the result.  :func:`conv_transpose2d_naive` spells this out with loops.

The same numbers are the input gradient of :func:`cnnlab.conv.conv2d` with that
weight: multiplying by a convolution's matrix ``C`` is a convolution, and
multiplying by ``C^T`` is a transposed convolution.  So the fast kernels reuse
the convolution's machinery (``cnnlab._im2col``) the other way round: the
forward pass is the matrix product of the convolution's backward pass followed
by col2im, and the backward pass is im2col followed by the convolution's
forward and weight-gradient products.
"""
from __future__ import annotations

import math

import numpy as np

from . import _im2col as columns
from ._validate import (
    as_pair,
    check_array,
    check_cache,
    check_conv_channels,
    check_dtype,
    check_input,
    check_input_shape,
    check_int,
    check_memory,
    check_rng,
    check_same_dtype,
    check_same_shape,
)
from .init import check_parameter_memory, constant, initialize
from .module import Module, Parameter
from .shapes import check_output_padding, conv_transpose2d_output_shape

__all__ = ["conv_transpose2d_naive", "conv_transpose2d_forward", "conv_transpose2d_backward",
           "conv_transpose2d_backward_naive", "conv_transpose2d", "ConvTranspose2d"]

Pair = int | tuple[int, int]


def _pair(value, name: str, minimum: int) -> tuple[int, int]:
    if isinstance(value, str):
        raise TypeError(f"{name} must be an int or a pair of ints (a transposed convolution "
                        f"has no 'same' or 'valid'), got {value!r}")
    return as_pair(value, name, minimum)


def _check(x, weight, bias, stride, padding, output_padding, groups, dilation):
    """Validate the arguments; return ``(stride, padding, dilation, groups, out_shape)``."""
    check_array(x, "x", ndim=4)
    check_array(weight, "weight", ndim=4)
    check_same_dtype(weight, "weight", x, "x")
    for name, a in (("x", x), ("weight", weight)):
        if 0 in a.shape:
            raise ValueError(f"{name} must not have an empty dimension, got shape {a.shape}")
    groups = check_int(groups, "groups", 1)
    if weight.shape[0] != x.shape[1]:
        raise ValueError(f"weight: in_channels {weight.shape[0]} (weight shape {weight.shape}, "
                         f"laid out (C_in, C_out // groups, kH, kW)) does not match the "
                         f"{x.shape[1]} channels of x (x shape {x.shape})")
    if x.shape[1] % groups:
        raise ValueError(f"groups: in_channels {x.shape[1]} is not divisible by groups {groups}")
    c_out = weight.shape[1] * groups
    if bias is not None:
        check_array(bias, "bias", ndim=1)
        check_same_dtype(bias, "bias", x, "x")
        check_same_shape(bias, "bias", (c_out,))
    stride = _pair(stride, "stride", 1)
    padding = _pair(padding, "padding", 0)
    output_padding = _pair(output_padding, "output_padding", 0)
    dilation = _pair(dilation, "dilation", 1)
    out_shape = conv_transpose2d_output_shape(x.shape, c_out, weight.shape[2:], stride, padding,
                                              output_padding, dilation)
    return stride, padding, dilation, groups, out_shape


def _full(x, weight, stride, padding, dilation, out_shape) -> np.ndarray:
    """Zeros for the uncropped output: every kernel copy, and the output_padding rows."""
    size = [max((n - 1) * s + d * (k - 1) + 1, p + o) for n, k, s, p, d, o in
            zip(x.shape[2:], weight.shape[2:], stride, padding, dilation, out_shape[2:],
                strict=True)]
    return np.zeros((*out_shape[:2], *size), dtype=x.dtype)


def conv_transpose2d_naive(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None,
                           stride: Pair = 1, padding: Pair = 0, output_padding: Pair = 0,
                           groups: int = 1, dilation: Pair = 1) -> np.ndarray:
    """2-D transposed convolution written as explicit loops (the reference oracle).

    Parameters
    ----------
    x : (N, C_in, H, W) ndarray
    weight : (C_in, C_out // groups, kH, kW) ndarray, same dtype as ``x``
    bias : (C_out,) ndarray or None
    stride : int or (int, int), default 1
        Distance, in output pixels, between the kernel copies of neighbouring inputs.
    padding : int or (int, int), default 0
        Rows and columns cropped from each side of the full result.
    output_padding : int or (int, int), default 0
        Rows and columns added at the bottom and right; smaller than ``stride``
        or ``dilation``.
    groups : int, default 1
        Input channel ``c`` of group ``g`` writes only output channels of group ``g``.
    dilation : int or (int, int), default 1
        Spacing between kernel taps.

    Returns
    -------
    out : (N, C_out, H_out, W_out) ndarray
        ``H_out = (H - 1) s_h - 2 p_h + d_h (kH - 1) + output_padding_h + 1``.

    Notes
    -----
    Every input value adds a scaled copy of its kernel to the full output
    ``F``; ``out`` is ``F`` with ``p`` rows cropped at the top and left, cut to
    ``H_out x W_out`` (zero-extended when ``output_padding > padding``), plus
    the bias.  With ``g(c)`` the first output channel of ``c``'s group:

    .. math::

        F[n, g(c) + o,\\; i s_h + p d_h,\\; j s_w + q d_w]
            \\mathrel{+}= x[n, c, i, j]\\, W[c, o, p, q]
    """
    stride, padding, dilation, groups, out_shape = _check(
        x, weight, bias, stride, padding, output_padding, groups, dilation)
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    n_batch, c_in, h, w = x.shape
    c_group, kh, kw = weight.shape[1:]
    h_out, w_out = out_shape[2:]
    full = _full(x, weight, stride, padding, dilation, out_shape)
    for n in range(n_batch):
        for c in range(c_in):
            first = c // (c_in // groups) * c_group  # first output channel of c's group
            for i in range(h):
                for j in range(w):
                    rows = slice(i * sh, i * sh + dh * (kh - 1) + 1, dh)
                    cols = slice(j * sw, j * sw + dw * (kw - 1) + 1, dw)
                    full[n, first:first + c_group, rows, cols] += x[n, c, i, j] * weight[c]
    out = full[:, :, ph:ph + h_out, pw:pw + w_out].copy()
    if bias is not None:
        out += bias[:, None, None]
    return out


def conv_transpose2d_backward_naive(dout: np.ndarray, x: np.ndarray, weight: np.ndarray,
                                    bias: np.ndarray | None = None, stride: Pair = 1,
                                    padding: Pair = 0, output_padding: Pair = 0,
                                    groups: int = 1, dilation: Pair = 1
                                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Loop version of :func:`conv_transpose2d_backward` (the oracle).

    Parameters
    ----------
    dout : (N, C_out, H_out, W_out) ndarray
    x, weight, bias, stride, padding, output_padding, groups, dilation
        The forward pass's arguments.

    Returns
    -------
    dx : (N, C_in, H, W) ndarray
    dweight : (C_in, C_out // groups, kH, kW) ndarray
    dbias : (C_out,) ndarray or None

    Notes
    -----
    Input ``x[n, c, i, j]`` wrote ``W[c]`` onto one window of the output, so its
    gradient is the sum of ``dout`` over that window times ``W[c]`` (a
    cross-correlation of ``dout`` with the kernel: a convolution), and
    ``W[c]`` collects ``x[n, c, i, j]`` times the window, over every ``n, i, j``.
    """
    stride, padding, dilation, groups, out_shape = _check(
        x, weight, bias, stride, padding, output_padding, groups, dilation)
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    check_array(dout, "dout", ndim=4)
    check_same_dtype(dout, "dout", x, "x")
    check_same_shape(dout, "dout", out_shape)
    n_batch, c_in, h, w = x.shape
    c_group, kh, kw = weight.shape[1:]
    full = _full(x, weight, stride, padding, dilation, out_shape)  # the cropped border gets 0
    full[:, :, ph:ph + out_shape[2], pw:pw + out_shape[3]] = dout
    dx, dweight = np.zeros_like(x), np.zeros_like(weight)
    for n in range(n_batch):
        for c in range(c_in):
            first = c // (c_in // groups) * c_group
            for i in range(h):
                for j in range(w):
                    window = full[n, first:first + c_group,
                                  i * sh:i * sh + dh * (kh - 1) + 1:dh,
                                  j * sw:j * sw + dw * (kw - 1) + 1:dw]
                    dx[n, c, i, j] = np.sum(window * weight[c])
                    dweight[c] += x[n, c, i, j] * window
    dbias = dout.sum(axis=(0, 2, 3)) if bias is not None else None
    return dx, dweight, dbias


def conv_transpose2d_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None,
                             stride: Pair = 1, padding: Pair = 0, output_padding: Pair = 0,
                             groups: int = 1, dilation: Pair = 1) -> tuple[np.ndarray, dict]:
    """Fast 2-D transposed convolution: one matrix product and col2im for the whole batch.

    Parameters
    ----------
    x : (N, C_in, H, W) ndarray
    weight : (C_in, C_out // groups, kH, kW) ndarray, same dtype as ``x``
    bias : (C_out,) ndarray or None
    stride, padding, output_padding, groups, dilation
        As in :func:`conv_transpose2d_naive`.

    Returns
    -------
    out : (N, C_out, H_out, W_out) ndarray
        Same dtype as ``x``; a new array.
    cache : dict
        What :func:`conv_transpose2d_backward` needs; treat it as opaque.  It
        refers to ``x`` and ``weight`` (do not modify them in place before
        backward) and holds the workspace of this geometry.

    Notes
    -----
    Seen from the output, this is the input gradient of a convolution
    ``y = conv2d(z, weight, stride, padding, dilation, groups)`` of an image
    ``z`` shaped like ``out``, evaluated at ``dy = x``.  With
    ``W_mat = weight.reshape(C_in, C_out/G*kH*kW)`` (per group) and ``x``
    reordered to ``(C_in, M)``, ``M = N*H*W``, one GEMM gives the columns
    ``cols = W_mat^T @ x`` of ``(C_out*kH*kW, M)``: column ``(n, i, j)`` is the
    kernel copy that input pixel writes.  col2im adds every column onto its
    window of the output (one slice-add per kernel offset) and crops the
    padding.
    """
    stride, padding, dilation, groups, out_shape = _check(
        x, weight, bias, stride, padding, output_padding, groups, dilation)
    (ph, pw), c_in = padding, x.shape[1]
    plan = columns.make_plan(out_shape, weight.shape[2:], stride, (ph, ph, pw, pw),
                             x.shape[2:], x.itemsize, dilation)
    space = columns.workspace_for(plan)  # the cache keeps it: reused while such caches live
    k = weight[0].size  # C_out/G * kH * kW
    m = math.prod(plan.grid)
    check_memory(out_shape[1] * weight[0, 0].size * m * x.itemsize, "x, weight",
                 f"the columns ({out_shape[1] * weight[0, 0].size}, {m}) of x {x.shape} for a "
                 f"{weight.shape[2]}x{weight.shape[3]} kernel")
    grid = columns.nchw_to_grid(x, plan).reshape(groups, c_in // groups, m)
    cols = columns.workspace("conv_transpose_cols", plan, (groups, k, m), x.dtype)
    np.matmul(weight.reshape(groups, c_in // groups, k).transpose(0, 2, 1), grid, out=cols)
    out = columns.col2im(cols.reshape(plan.c, plan.kh, plan.kw, *plan.grid), plan)
    if bias is not None:
        out += bias[:, None, None]
    cache = {"op": "conv_transpose2d", "plan": plan, "x": x, "weight": weight,
             "has_bias": bias is not None, "out_shape": out_shape, "groups": groups,
             "workspace": space}
    return out, cache


def conv_transpose2d_backward(dout: np.ndarray, cache: dict
                              ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Gradients of :func:`conv_transpose2d_forward` with respect to x, weight and bias.

    Parameters
    ----------
    dout : (N, C_out, H_out, W_out) ndarray
        Upstream gradient, same shape and dtype as the forward output.
    cache : dict
        From :func:`conv_transpose2d_forward`; not modified.

    Returns
    -------
    dx : (N, C_in, H, W) ndarray
    dweight : (C_in, C_out // groups, kH, kW) ndarray
    dbias : (C_out,) ndarray or None
        ``None`` when the forward pass had no bias.

    Notes
    -----
    The adjoint of the adjoint is the convolution itself: with
    ``D = im2col(dout)`` of ``(C_out*kH*kW, M)`` (every window of ``dout`` a
    column), ``dx = W_mat @ D``, i.e. ``conv2d(dout, weight, stride, padding,
    dilation, groups)`` cut to ``H x W``; ``dW_mat = x @ D^T`` (summed over the
    batch) and ``db = dout.sum((0, 2, 3))``.
    """
    check_array(dout, "dout", ndim=4)
    check_cache(cache, "conv_transpose2d")
    x, weight, plan, groups = cache["x"], cache["weight"], cache["plan"], cache["groups"]
    check_same_dtype(dout, "dout", x, "the forward input")
    if dout.shape != cache["out_shape"]:
        raise ValueError(f"dout must have the forward output's shape {cache['out_shape']}, "
                         f"got {dout.shape}")
    c_in, k = x.shape[1], weight[0].size
    m = math.prod(plan.grid)
    cols = columns.im2col(dout, plan).reshape(groups, k, m)  # (G, C_out/G*kH*kW, M)
    grid = columns.nchw_to_grid(x, plan).reshape(groups, c_in // groups, m)
    dweight = np.matmul(grid, cols.transpose(0, 2, 1)).reshape(weight.shape)
    dgrid = columns.workspace("conv_transpose_dx", plan, (c_in, *plan.grid), dout.dtype)
    np.matmul(weight.reshape(groups, c_in // groups, k), cols,
              out=dgrid.reshape(groups, c_in // groups, m))
    dx = columns.grid_to_nchw(dgrid, plan)
    dbias = dout.sum(axis=(0, 2, 3)) if cache["has_bias"] else None
    return dx, dweight, dbias


def conv_transpose2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None,
                     stride: Pair = 1, padding: Pair = 0, output_padding: Pair = 0,
                     groups: int = 1, dilation: Pair = 1) -> np.ndarray:
    """Output of :func:`conv_transpose2d_forward` only.

    Like ``torch.nn.functional.conv_transpose2d``, with the same arguments in the same order.
    """
    return conv_transpose2d_forward(x, weight, bias, stride, padding, output_padding, groups,
                                    dilation)[0]


class ConvTranspose2d(Module):
    """2-D transposed convolution over NCHW input (PyTorch's ``ConvTranspose2d``).

    Parameters
    ----------
    in_channels, out_channels : int
        Both divisible by ``groups``.
    kernel_size, stride, padding, output_padding, dilation : int or (int, int)
        As in :func:`~cnnlab.conv_transpose.conv_transpose2d_naive`; ``output_padding``
        must be smaller than ``stride`` or ``dilation`` along each axis.
    groups : int, default 1
    bias : bool, default True
    init : {'he_normal', 'he_uniform', 'xavier_normal', 'xavier_uniform'}
        Initialiser of the weight, with the fans PyTorch computes for this
        layout (:func:`cnnlab.init.fans` of ``weight.shape``: fan-in
        ``out_channels // groups * kH * kW``); the bias starts at zero.
    rng : Generator, int or None
    dtype : float32 or float64

    Attributes
    ----------
    weight : Parameter, (in_channels, out_channels // groups, kh, kw)
    bias : Parameter (out_channels,) or None

    Notes
    -----
    A transposed convolution grows a map: with ``kernel_size=4, stride=2,
    padding=1`` each axis doubles, the usual upsampling step of a decoder.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Pair, stride: Pair = 1,
                 padding: Pair = 0, output_padding: Pair = 0, groups: int = 1, bias: bool = True,
                 dilation: Pair = 1, *, init: str = "he_normal", rng=None,
                 dtype=np.float32) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.groups = check_conv_channels(
            in_channels, out_channels, groups, bias)
        self.kernel_size = as_pair(kernel_size, "kernel_size", 1)
        self.stride = _pair(stride, "stride", 1)
        self.padding = _pair(padding, "padding", 0)
        self.output_padding = _pair(output_padding, "output_padding", 0)
        self.dilation = _pair(dilation, "dilation", 1)
        for a, axis in enumerate(("height", "width")):
            check_output_padding(self.output_padding[a], self.stride[a], self.dilation[a], axis)
        dtype = check_dtype(dtype)
        shape = (self.in_channels, self.out_channels // self.groups, *self.kernel_size)
        check_parameter_memory(shape, dtype, "in_channels, out_channels, kernel_size",
                               f"ConvTranspose2d({self.in_channels}, {self.out_channels}, "
                               f"kernel_size={self.kernel_size})")
        rng = np.random.default_rng() if rng is None else check_rng(rng)
        self.weight = Parameter(initialize(init, shape, rng, dtype))
        self.bias = Parameter(constant((self.out_channels,), 0.0, dtype)) if bias else None

    def _args(self) -> tuple:
        return self.stride, self.padding, self.output_padding, self.groups, self.dilation

    def forward(self, x: np.ndarray) -> np.ndarray:
        """(N, C_in, H, W) -> (N, C_out, H_out, W_out)."""
        check_input(x, 4, self.in_channels, dtype=self.weight.data.dtype)
        b = None if self.bias is None else self.bias.data
        out, cache = conv_transpose2d_forward(x, self.weight.data, b, *self._args())
        return self._save(cache, out)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dx, dw, db = conv_transpose2d_backward(dout, self._load(dout))
        self.weight.accumulate(dw)
        if self.bias is not None:
            self.bias.accumulate(db)
        return dx

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = check_input_shape(input_shape, 4, "ConvTranspose2d", self.in_channels)
        return tuple(conv_transpose2d_output_shape(shape, self.out_channels, self.kernel_size,
                                                   self.stride, self.padding,
                                                   self.output_padding, self.dilation))

    def macs(self, input_shape: tuple[int, ...]) -> int:
        """Multiply-accumulates of one forward pass: ``N C_in H W (C_out / groups) kH kW``.

        Every input value is multiplied by each weight of its kernel copy, the
        products cropped by ``padding`` included; the bias additions are not
        counted.  This is the count of the convolution whose adjoint the layer
        is (that convolution's output is this layer's input).
        """
        self.output_shape(input_shape)  # validates the shape
        n, c_in, h, w = input_shape
        return n * c_in * h * w * (self.out_channels // self.groups) * math.prod(
            self.kernel_size)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}, padding={self.padding}")
        if any(self.output_padding):
            s += f", output_padding={self.output_padding}"
        if any(d != 1 for d in self.dilation):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        return s + (", bias=False" if self.bias is None else "")
