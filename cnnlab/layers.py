"""Layer classes with PyTorch's names: thin wrappers over the functional kernels.

Each layer holds its :class:`~cnnlab.module.Parameter` objects and the cache of
its last forward pass; the arithmetic lives in ``conv``, ``pool``,
``activations`` and ``linear``. ``backward`` *adds* parameter gradients to
``.grad`` (see :mod:`cnnlab.module`) and returns the input gradient.
``ConvTranspose2d`` is written beside its kernels in ``cnnlab/conv_transpose.py``
and importable from here.

Randomness: ``rng`` is a ``numpy.random.Generator`` or an integer seed. The
default ``None`` draws a fresh, unseeded generator — pass one for reproducible
weights and dropout masks.
"""
from __future__ import annotations

import math

import numpy as np

from . import activations, conv, linear, pool, shapes
from ._validate import (
    as_pair,
    check_conv_channels,
    check_dtype,
    check_float,
    check_input,
    check_input_shape,
    check_int,
    check_rng,
)
from .conv_transpose import ConvTranspose2d
from .init import check_parameter_memory, constant, initialize
from .module import Module, Parameter

__all__ = ["Conv2d", "Conv1d", "MaxPool2d", "AvgPool2d", "GlobalAvgPool2d", "ReLU", "Sigmoid",
           "Tanh", "Linear", "Flatten", "Dropout", "ConvTranspose2d"]


def _make_rng(rng) -> np.random.Generator:
    return np.random.default_rng() if rng is None else check_rng(rng)


def _check_padding(padding) -> str | tuple[int, int]:
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"padding must be 'same', 'valid', an int or a pair, got {padding!r}")
        return padding
    return as_pair(padding, "padding", minimum=0)


class Conv2d(Module):
    """2-D convolution (cross-correlation) over NCHW input.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size, stride : int or (int, int)
    padding : int, (int, int), 'same' or 'valid'
        Zero padding on each side.
    dilation : int or (int, int), default 1
        Spacing between kernel taps.
    groups : int, default 1
        Independent channel groups; ``groups = in_channels`` is a depthwise
        convolution. Both channel counts must be divisible by it.
    bias : bool, default True
    init : {'he_normal', 'he_uniform', 'xavier_normal', 'xavier_uniform'}
        Initialiser of the weight; the bias starts at zero.
    rng : Generator, int or None
    dtype : float32 or float64

    Attributes
    ----------
    weight : Parameter, (out_channels, in_channels // groups, kh, kw)
    bias : Parameter (out_channels,) or None
    """

    _ndim = 2
    _kernels = (conv.conv2d_forward, conv.conv2d_backward)

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, *, init: str = "he_normal",
                 rng=None, dtype=np.float32) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.groups = check_conv_channels(
            in_channels, out_channels, groups, bias)
        if self._ndim == 2:
            self.kernel_size = as_pair(kernel_size, "kernel_size", 1)
            self.stride = as_pair(stride, "stride", 1)
            self.padding = _check_padding(padding)
            self.dilation = as_pair(dilation, "dilation", 1)
            shapes.resolve_padding(self.padding, self.kernel_size, self.stride)  # same: stride 1
        else:
            self.kernel_size = (check_int(kernel_size, "kernel_size", 1),)
            self.stride = (check_int(stride, "stride", 1),)
            if isinstance(padding, str) and padding not in ("same", "valid"):
                raise ValueError(f"padding must be 'same', 'valid' or an int, got {padding!r}")
            self.padding = padding if isinstance(padding, str) else (
                check_int(padding, "padding", 0),)
            self.dilation = (check_int(dilation, "dilation", 1),)
            if self.padding == "same" and self.stride != (1,):
                raise ValueError(f"padding='same' needs stride 1 (as in PyTorch), "
                                 f"got stride {self.stride[0]}")
        dtype = check_dtype(dtype)
        shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        check_parameter_memory(shape, dtype, "in_channels, out_channels, kernel_size",
                               f"{type(self).__name__}({self.in_channels}, {self.out_channels}, "
                               f"kernel_size={self.kernel_size})")
        self.weight = Parameter(initialize(init, shape, _make_rng(rng), dtype))
        self.bias = Parameter(constant((self.out_channels,), 0.0, dtype)) if bias else None

    def _args(self) -> tuple:
        """``(stride, padding, dilation, groups)`` for the functional kernels."""
        unpack = (lambda t: t) if self._ndim == 2 else (lambda t: t if isinstance(t, str) else t[0])
        return (unpack(self.stride), unpack(self.padding), unpack(self.dilation), self.groups)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """(N, C_in, H, W) -> (N, C_out, H_out, W_out)."""
        check_input(x, self._ndim + 2, self.in_channels, dtype=self.weight.data.dtype)
        b = None if self.bias is None else self.bias.data
        out, cache = self._kernels[0](x, self.weight.data, b, *self._args())
        return self._save(cache, out)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dx, dw, db = self._kernels[1](dout, self._load(dout))
        self.weight.accumulate(dw)
        if self.bias is not None:
            self.bias.accumulate(db)
        return dx

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = check_input_shape(input_shape, self._ndim + 2, type(self).__name__,
                                  self.in_channels)
        if self._ndim == 2:
            return tuple(shapes.conv2d_output_shape(shape, self.out_channels, self.kernel_size,
                                                    self.stride, self.padding, self.dilation))
        padding = self.padding if isinstance(self.padding, str) else (0, self.padding[0])
        out = shapes.conv2d_output_shape((*shape[:2], 1, shape[2]), self.out_channels,
                                         (1, *self.kernel_size), (1, *self.stride), padding,
                                         (1, *self.dilation))
        return (*out[:2], out[3])

    def macs(self, input_shape: tuple[int, ...]) -> int:
        """``N C_out H_out W_out (C_in / groups) k_h k_w``: one per weight tap and output value."""
        taps = self.in_channels // self.groups * math.prod(self.kernel_size)
        return math.prod(self.output_shape(input_shape)) * taps

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}, padding={self.padding!r}")
        if any(d != 1 for d in self.dilation):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        return s + (", bias=False" if self.bias is None else "")


class Conv1d(Conv2d):
    """1-D convolution over (N, C, L) sequences: :class:`Conv2d` with one spatial axis.

    Parameters
    ----------
    in_channels, out_channels, kernel_size, stride, dilation : int
    padding : int, 'same' or 'valid'
    groups, bias, init, rng, dtype
        As for :class:`Conv2d`.

    Attributes
    ----------
    weight : Parameter, (out_channels, in_channels // groups, k)
    bias : Parameter (out_channels,) or None
    """

    _ndim = 1
    _kernels = (conv.conv1d_forward, conv.conv1d_backward)


class GlobalAvgPool2d(Module):
    """Average each channel over all its pixels: (N, C, H, W) -> (N, C, 1, 1).

    PyTorch writes it ``AdaptiveAvgPool2d(1)``. It replaces the big fully
    connected layers at the end of GoogLeNet, ResNet and MobileNet.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_input(x, 4)
        return self._save(x.shape, x.mean(axis=(2, 3), keepdims=True))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        shape = self._load(dout)
        return np.broadcast_to(dout / (shape[2] * shape[3]), shape).copy()

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = check_input_shape(input_shape, 4, "GlobalAvgPool2d")
        return (*shape[:2], 1, 1)


class _Pool2d(Module):
    """Shared constructor and shape logic of the pooling layers."""

    _forward = staticmethod(pool.max_pool2d_forward)
    _backward = staticmethod(pool.max_pool2d_backward)

    def __init__(self, kernel_size, stride=None, padding=0) -> None:
        super().__init__()
        self.kernel_size = as_pair(kernel_size, "kernel_size", 1)
        self.stride = self.kernel_size if stride is None else as_pair(stride, "stride", 1)
        self.padding = as_pair(padding, "padding", 0)
        if any(p > k // 2 for p, k in zip(self.padding, self.kernel_size, strict=True)):
            raise ValueError(f"padding must be at most half of kernel_size {self.kernel_size}, "
                             f"got {self.padding}")

    def forward(self, x: np.ndarray) -> np.ndarray:
        """(N, C, H, W) -> (N, C, H_out, W_out)."""
        check_input(x, 4)
        out, cache = self._forward(x, self.kernel_size, self.stride, self.padding)
        return self._save(cache, out)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return self._backward(dout, self._load(dout))

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = check_input_shape(input_shape, 4, type(self).__name__)
        return tuple(shapes.pool2d_output_shape(shape, self.kernel_size, self.stride,
                                                self.padding))

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Max pooling; ``stride`` defaults to ``kernel_size``. Padding is -inf (never chosen)."""


class AvgPool2d(_Pool2d):
    """Average pooling; ``stride`` defaults to ``kernel_size``."""

    _forward = staticmethod(pool.avg_pool2d_forward)
    _backward = staticmethod(pool.avg_pool2d_backward)


class _Elementwise(Module):
    """An activation applied element by element; output shape = input shape."""

    _forward = staticmethod(activations.relu_forward)
    _backward = staticmethod(activations.relu_backward)

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_input(x, None)
        out, cache = self._forward(x)
        return self._save(cache, out)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return self._backward(dout, self._load(dout))

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return check_input_shape(input_shape, None, type(self).__name__)


class ReLU(_Elementwise):
    """``max(x, 0)``."""


class Sigmoid(_Elementwise):
    """``1 / (1 + exp(-x))``."""

    _forward = staticmethod(activations.sigmoid_forward)
    _backward = staticmethod(activations.sigmoid_backward)


class Tanh(_Elementwise):
    """``tanh(x)``."""

    _forward = staticmethod(activations.tanh_forward)
    _backward = staticmethod(activations.tanh_backward)


class Linear(Module):
    """Fully connected layer ``x @ weight.T + bias``.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool, default True
    init, rng, dtype
        As for :class:`Conv2d`.

    Attributes
    ----------
    weight : Parameter, (out_features, in_features)
    bias : Parameter (out_features,) or None
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 init: str = "he_normal", rng=None, dtype=np.float32) -> None:
        super().__init__()
        self.in_features = check_int(in_features, "in_features", 1)
        self.out_features = check_int(out_features, "out_features", 1)
        dtype = check_dtype(dtype)
        shape = (self.out_features, self.in_features)
        check_parameter_memory(shape, dtype, "in_features, out_features",
                               f"Linear({self.in_features}, {self.out_features})")
        self.weight = Parameter(initialize(init, shape, _make_rng(rng), dtype))
        self.bias = Parameter(constant((self.out_features,), 0.0, dtype)) if bias else None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """(N, in_features) -> (N, out_features)."""
        check_input(x, 2, self.in_features, "features", self.weight.data.dtype)
        b = None if self.bias is None else self.bias.data
        out, cache = linear.linear_forward(x, self.weight.data, b)
        return self._save(cache, out)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dx, dw, db = linear.linear_backward(dout, self._load(dout))
        self.weight.accumulate(dw)
        if self.bias is not None:
            self.bias.accumulate(db)
        return dx

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = check_input_shape(input_shape, 2, "Linear", self.in_features, "features")
        return (shape[0], self.out_features)

    def macs(self, input_shape: tuple[int, ...]) -> int:
        """``N * in_features * out_features``: one per weight and sample (bias adds not counted)."""
        return math.prod(self.output_shape(input_shape)) * self.in_features

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Flatten(Module):
    """Merge dimensions ``start_dim`` .. last into one: (N, C, H, W) -> (N, C*H*W)."""

    def __init__(self, start_dim: int = 1) -> None:
        super().__init__()
        self.start_dim = check_int(start_dim, "start_dim", 0)

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_input(x, None)
        if x.ndim <= self.start_dim:
            raise ValueError(f"x: Flatten(start_dim={self.start_dim}) needs more than "
                             f"{self.start_dim} dimensions, got shape {x.shape}")
        out, cache = linear.flatten_forward(x, self.start_dim)
        return self._save(cache, out)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return linear.flatten_backward(dout, self._load(dout))

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = check_input_shape(input_shape, None, "Flatten")
        if len(shape) <= self.start_dim:
            raise ValueError(f"input_shape: Flatten(start_dim={self.start_dim}) needs more "
                             f"than {self.start_dim} dimensions, got {shape}")
        return shape[:self.start_dim] + (math.prod(shape[self.start_dim:]),)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}"


class Dropout(Module):
    """Inverted dropout: zero each unit with probability ``p`` while training.

    Kept units are scaled by ``1 / (1 - p)`` so the expected activation is
    unchanged, which makes evaluation mode a plain identity.

    Parameters
    ----------
    p : float in [0, 1)
        Drop probability; ``p=0`` is the identity.
    rng : Generator, int or None
        Source of the masks.

    Notes
    -----
    ``out = x * mask / (1 - p)`` with ``mask ~ Bernoulli(1 - p)``;
    ``dx = dout * mask / (1 - p)`` with the same mask.
    """

    def __init__(self, p: float = 0.5, *, rng=None) -> None:
        super().__init__()
        self.p = check_float(p, "p", 0.0, 1.0, high_inclusive=False)
        self.rng = _make_rng(rng)

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_input(x, None)
        if not self.training or self.p == 0.0:
            return self._save(None, x.copy())
        keep = 1.0 - self.p
        scale = (self.rng.random(x.shape) < keep) * x.dtype.type(1.0 / keep)  # 0 or 1/(1-p)
        return self._save(scale, x * scale)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        scale = self._load(dout)
        return dout.copy() if scale is None else dout * scale

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return check_input_shape(input_shape, None, "Dropout")

    def extra_repr(self) -> str:
        return f"p={self.p}"
