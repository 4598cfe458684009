"""Layers of the 1998 LeNet-5 that modern libraries dropped.

LeCun, Bottou, Bengio and Haffner's 1998 paper "Gradient-based learning applied
to document recognition" describes LeNet-5 with four ingredients that today's
``Conv2d``/``MaxPool2d``/``ReLU``/softmax stack replaced:

* **Partial connections** (:class:`PartialConv2d`). The third layer, C3, does not
  connect each of its 16 maps to all 6 maps of S2: Table I of the paper lists
  which ones (:data:`LENET5_C3_TABLE`). The paper's reasons: fewer connections,
  and broken symmetry -- maps that receive different inputs must learn different
  features. C3 then has 1,516 trainable parameters instead of 2,416.
* **Trainable subsampling** (:class:`Subsampling`). S2 and S4 add the 4 inputs of
  each non-overlapping 2x2 window, multiply by a trainable coefficient and add a
  trainable bias, one pair per map, before a sigmoid-like squashing.
* **A scaled squashing function** (:class:`ScaledTanh`). Appendix A of the paper
  uses ``f(a) = A tanh(S a)`` with ``A = 1.7159`` and ``S = 2/3``, chosen so that
  ``f(1) = 1`` and ``f(-1) = -1`` and the second derivative peaks at +-1.
* **Euclidean RBF outputs** (:class:`EuclideanRBF`). Each output unit computes the
  squared distance between the 84 outputs of F6 and a fixed parameter vector,
  a stylised 7x12 bitmap of its character coded -1/+1: the smallest distance wins.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from . import conv, pool, shapes
from ._validate import (
    as_pair,
    check_choice,
    check_dtype,
    check_input,
    check_input_shape,
    check_int,
    check_rng,
    check_same_dtype,
)
from .init import (
    INITIALIZERS,
    constant,
    he_normal,
    he_uniform,
    is_meta,
    meta_array,
    xavier_normal,
    xavier_uniform,
)
from .module import Module, Parameter

__all__ = ["LENET5_C3_TABLE", "A", "S", "PartialConv2d", "Subsampling", "ScaledTanh",
           "EuclideanRBF"]

LENET5_C3_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 0), (5, 0, 1),  # 3 contiguous
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (3, 4, 5, 0), (4, 5, 0, 1), (5, 0, 1, 2),  # 4
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),  # 4 non-contiguous
    (0, 1, 2, 3, 4, 5),  # all 6
)
"""Table I of LeCun et al. (1998); ``LENET5_C3_TABLE[o]`` lists the S2 maps that feed C3 map
``o``."""

A = 1.7159
"""Amplitude of LeNet's squashing function ``A tanh(S a)``."""
S = 2.0 / 3.0
"""Slope of LeNet's squashing function ``A tanh(S a)``."""


def _make_rng(rng) -> np.random.Generator:
    return np.random.default_rng() if rng is None else check_rng(rng)


def _check_connections(connections, in_channels: int, out_channels: int):
    """Validate a connection table; return it as a tuple of tuples of int."""
    if not isinstance(connections, (tuple, list)):
        raise TypeError(f"connections must be a sequence of sequences of input-map indices, "
                        f"got {type(connections).__name__}")
    if len(connections) != out_channels:
        raise ValueError(f"connections must have one entry per output map (out_channels="
                         f"{out_channels}), got {len(connections)}")
    table = []
    for o, row in enumerate(connections):
        if not isinstance(row, (tuple, list, range)):
            raise TypeError(f"connections[{o}] must be a sequence of input-map indices, "
                            f"got {type(row).__name__}")
        if len(row) == 0:
            raise ValueError(f"connections[{o}] is empty: output map {o} needs at least "
                             f"one input map")
        for c in row:
            if isinstance(c, bool) or not isinstance(c, numbers.Integral):
                raise TypeError(f"connections[{o}] must hold ints, got {c!r}")
            if not 0 <= c < in_channels:
                raise ValueError(f"connections[{o}] refers to input map {c}, but "
                                 f"in_channels is {in_channels} (maps 0..{in_channels - 1})")
        if len(set(row)) != len(row):
            raise ValueError(f"connections[{o}] repeats an input map: {tuple(row)}")
        table.append(tuple(int(c) for c in row))
    return tuple(table)


class PartialConv2d(Module):
    """Convolution where output map ``o`` sees only the input maps ``connections[o]``.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int or (int, int)
    connections : sequence of ``out_channels`` sequences of int
        Input maps of each output map, e.g. :data:`LENET5_C3_TABLE`.
    stride : int or (int, int), default 1
    padding : int or (int, int), default 0
    bias : bool, default True
    init : {'he_normal', 'he_uniform', 'xavier_normal', 'xavier_uniform'}
        Initialiser of each kernel, with the fans of the *partial* layer:
        ``fan_in = len(connections[o]) * kh * kw`` for output map ``o`` and
        ``fan_out = (number of output maps reading c) * kh * kw`` for input map ``c``.
        With a full table this is the distribution :class:`~cnnlab.layers.Conv2d` uses.
    rng : Generator, int or None
    dtype : float32 or float64

    Attributes
    ----------
    weight : Parameter, (n_connections, kh, kw)
        Only the connected kernels, ordered by output map, then as listed.
    bias : Parameter (out_channels,) or None
    out_index, in_index : ndarray of int, (n_connections,)
        ``weight[i]`` is the kernel from input map ``in_index[i]`` to output map ``out_index[i]``.

    Notes
    -----
    ``out[n, o] = b_o + sum_{c in connections[o]} W[o, c] * x[n, c]`` (cross-correlation).
    Forward scatters ``weight`` into a full ``(C_out, C_in, kh, kw)`` kernel that is
    zero where no connection exists and runs :func:`cnnlab.conv.conv2d_forward`;
    backward gathers the full weight gradient back at the connected positions.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, connections,
                 stride=1, padding=0, bias: bool = True, *, init: str = "he_normal",
                 rng=None, dtype=np.float32) -> None:
        super().__init__()
        self.in_channels = check_int(in_channels, "in_channels", 1)
        self.out_channels = check_int(out_channels, "out_channels", 1)
        self.kernel_size = as_pair(kernel_size, "kernel_size", 1)
        self.connections = _check_connections(connections, self.in_channels, self.out_channels)
        self.stride = as_pair(stride, "stride", 1)
        self.padding = as_pair(padding, "padding", 0)
        check_choice(init, "init", tuple(INITIALIZERS))
        dtype = check_dtype(dtype)
        pairs = [(o, c) for o, row in enumerate(self.connections) for c in row]
        self.out_index = np.array([o for o, _ in pairs], dtype=np.intp)
        self.in_index = np.array([c for _, c in pairs], dtype=np.intp)
        area = self.kernel_size[0] * self.kernel_size[1]
        fan_in = [len(row) * area for row in self.connections]
        fan_out = np.bincount(self.in_index, minlength=self.in_channels) * area
        generator, shape = _make_rng(rng), self.kernel_size
        draw = {"he_normal": lambda o, c: he_normal(shape, fan_in[o], generator, dtype),
                "he_uniform": lambda o, c: he_uniform(shape, fan_in[o], generator, dtype),
                "xavier_normal": lambda o, c: xavier_normal(
                    shape, fan_in[o], int(fan_out[c]), generator, dtype),
                "xavier_uniform": lambda o, c: xavier_uniform(
                    shape, fan_in[o], int(fan_out[c]), generator, dtype)}[init]
        self.weight = Parameter(meta_array((len(pairs), *shape), dtype) if is_meta()
                                else np.stack([draw(o, c) for o, c in pairs]))
        self.bias = Parameter(constant((self.out_channels,), 0.0, dtype)) if bias else None

    @property
    def n_connections(self) -> int:
        """Number of (output map, input map) pairs, i.e. of stored kernels."""
        return len(self.out_index)

    def mask(self) -> np.ndarray:
        """Boolean connection matrix, (out_channels, in_channels)."""
        m = np.zeros((self.out_channels, self.in_channels), dtype=bool)
        m[self.out_index, self.in_index] = True
        return m

    def full_weight(self) -> np.ndarray:
        """The equivalent dense kernel (out_channels, in_channels, kh, kw), zero if unconnected."""
        w = self.weight.data
        full = np.zeros((self.out_channels, self.in_channels, *w.shape[1:]), w.dtype)
        full[self.out_index, self.in_index] = w
        return full

    def forward(self, x: np.ndarray) -> np.ndarray:
        """(N, C_in, H, W) -> (N, C_out, H_out, W_out)."""
        check_input(x, 4, self.in_channels, dtype=self.weight.data.dtype)
        b = None if self.bias is None else self.bias.data
        out, cache = conv.conv2d_forward(x, self.full_weight(), b, self.stride, self.padding)
        return self._save(cache, out)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dx, dw_full, db = conv.conv2d_backward(dout, self._load(dout))
        self.weight.accumulate(dw_full[self.out_index, self.in_index])
        if self.bias is not None:
            self.bias.accumulate(db)
        return dx

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = check_input_shape(input_shape, 4, "PartialConv2d", self.in_channels)
        return tuple(shapes.conv2d_output_shape(shape, self.out_channels, self.kernel_size,
                                                self.stride, self.padding))

    def macs(self, input_shape: tuple[int, ...]) -> int:
        """``N H_out W_out * n_connections k_h k_w``: only the connected kernels do work."""
        n, _, h, w = self.output_shape(input_shape)
        return n * h * w * self.n_connections * math.prod(self.kernel_size)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"connections={self.n_connections}, stride={self.stride}, padding={self.padding}")
        return s + (", bias=False" if self.bias is None else "")


class Subsampling(Module):
    """LeNet's S2/S4: ``weight_c * (sum of each window) + bias_c``, per map.

    Parameters
    ----------
    channels : int
    kernel_size : int or (int, int), default 2
        Window size; windows do not overlap (stride = kernel_size) and rows or
        columns left over at the bottom/right are dropped, as in pooling.
    dtype : float32 or float64

    Attributes
    ----------
    weight : Parameter (channels,)
        Starts at ``1 / (kh * kw)``, so the fresh layer is an average pooling.
        (The paper drew every LeNet weight uniformly in ``+-2.4 / fan_in``; a
        deterministic start keeps the layer easy to compare with ``AvgPool2d``.)
    bias : Parameter (channels,)
        Starts at 0.

    Notes
    -----
    ``out[n, c, i, j] = w_c sum_{p, q} x[n, c, i kh + p, j kw + q] + b_c``, computed as
    ``w_c * kh * kw * avg_pool2d(x)``. Two parameters per map: S2 has 12, S4 has 32.
    """

    def __init__(self, channels: int, kernel_size=2, *, dtype=np.float32) -> None:
        super().__init__()
        self.channels = check_int(channels, "channels", 1)
        self.kernel_size = as_pair(kernel_size, "kernel_size", 1)
        dtype = check_dtype(dtype)
        area = self.kernel_size[0] * self.kernel_size[1]
        self.weight = Parameter(constant((self.channels,), 1.0 / area, dtype))
        self.bias = Parameter(constant((self.channels,), 0.0, dtype))

    def forward(self, x: np.ndarray) -> np.ndarray:
        """(N, C, H, W) -> (N, C, H // kh, W // kw)."""
        check_input(x, 4, self.channels, dtype=self.weight.data.dtype)
        avg, pool_cache = pool.avg_pool2d_forward(x, self.kernel_size)
        window_sum = avg * (self.kernel_size[0] * self.kernel_size[1])
        out = (self.weight.data[:, None, None] * window_sum + self.bias.data[:, None, None])
        return self._save((pool_cache, window_sum), out)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        pool_cache, window_sum = self._load(dout)
        check_same_dtype(dout, "dout", window_sum, "the forward input")
        self.weight.accumulate((dout * window_sum).sum(axis=(0, 2, 3)))
        self.bias.accumulate(dout.sum(axis=(0, 2, 3)))
        area = self.kernel_size[0] * self.kernel_size[1]
        return pool.avg_pool2d_backward(dout * (self.weight.data[:, None, None] * area),
                                        pool_cache)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = check_input_shape(input_shape, 4, "Subsampling", self.channels)
        return tuple(shapes.pool2d_output_shape(shape, self.kernel_size))

    def macs(self, input_shape: tuple[int, ...]) -> int:
        """``N C H_out W_out * k_h k_w``, counted as the depthwise convolution it equals.

        ``w_c * (sum of the window)`` is a depthwise convolution whose kernel holds
        ``w_c`` in every tap; with one bias addition per output this gives the
        "connections" the 1998 paper lists for S2 (5,880) and S4 (2,000).
        """
        return math.prod(self.output_shape(input_shape)) * math.prod(self.kernel_size)

    def extra_repr(self) -> str:
        return f"{self.channels}, kernel_size={self.kernel_size}"


class ScaledTanh(Module):
    """LeNet's squashing function ``f(a) = A tanh(S a)``, ``A = 1.7159``, ``S = 2/3``.

    Notes
    -----
    ``f(+-1) = +-1`` (to 4 decimals), ``f'(a) = A S (1 - tanh^2(S a))``, so
    ``f'(0) = A S ~ 1.144``; outputs lie in ``(-A, A)``.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_input(x, None)
        t = np.tanh(S * x)
        return self._save(t, A * t)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        t = self._load(dout)
        check_same_dtype(dout, "dout", t, "the forward input")
        return dout * (A * S * (1 - t * t))

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return check_input_shape(input_shape, None, "ScaledTanh")


class EuclideanRBF(Module):
    """LeNet-5's output layer: squared Euclidean distance to one prototype per class.

    Parameters
    ----------
    in_features, out_features : int
    rng : Generator, int or None
        Draws the prototypes.
    dtype : float32 or float64

    Attributes
    ----------
    weight : Parameter, (out_features, in_features), ``requires_grad=False``
        Row ``i`` is the prototype of class ``i``. The paper fixed them by hand to
        stylised 7x12 bitmaps of the characters coded -1/+1; those bitmaps are not
        available, so the prototypes here are random -1/+1 entries drawn with
        ``rng``. Frozen as in the paper (optimisers skip it), but ``backward``
        still accumulates its gradient like any parameter.

    Notes
    -----
    ``y[n, i] = sum_j (x[n, j] - w[i, j])^2``;
    ``dx[n, j] = 2 sum_i dout[n, i] (x[n, j] - w[i, j])``,
    ``dw[i, j] = -2 sum_n dout[n, i] (x[n, j] - w[i, j])``.
    The output is a distance: the predicted class is the *smallest* ``y``.
    """

    def __init__(self, in_features: int, out_features: int, *, rng=None,
                 dtype=np.float32) -> None:
        super().__init__()
        self.in_features = check_int(in_features, "in_features", 1)
        self.out_features = check_int(out_features, "out_features", 1)
        dtype = check_dtype(dtype)
        shape = (self.out_features, self.in_features)
        generator = _make_rng(rng)  # validated even inside meta()
        prototypes = (meta_array(shape, dtype) if is_meta()
                      else (2 * generator.integers(0, 2, size=shape) - 1).astype(dtype))
        self.weight = Parameter(prototypes, requires_grad=False)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """(N, in_features) -> (N, out_features)."""
        check_input(x, 2, self.in_features, "features", self.weight.data.dtype)
        diff = x[:, None, :] - self.weight.data[None, :, :]  # (N, out, in)
        return self._save(diff, np.einsum("nij,nij->ni", diff, diff))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        diff = self._load(dout)
        check_same_dtype(dout, "dout", diff, "the forward input")
        weighted = 2 * dout[:, :, None] * diff  # (N, out, in)
        self.weight.accumulate(-weighted.sum(axis=0))
        return weighted.sum(axis=1)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = check_input_shape(input_shape, 2, "EuclideanRBF", self.in_features, "features")
        return (shape[0], self.out_features)

    def macs(self, input_shape: tuple[int, ...]) -> int:
        """``N * out_features * in_features``: each ``(x_j - w_ij)^2`` is accumulated once."""
        return math.prod(self.output_shape(input_shape)) * self.in_features

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"
