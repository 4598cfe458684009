"""Building blocks of the classic architectures: residual, Inception and separable.

The residual blocks of ResNet (He et al. 2016), ``BasicBlock`` and ``Bottleneck``,
are :class:`~cnnlab.module.Residual` modules, ``relu(body(x) + shortcut(x))``, with
the paper's choices: every convolution has no bias and is followed by
batch normalisation (whose shift plays the bias's role), and the shortcut is the
identity unless the block changes the shape, in which case it is a *projection*,
a strided 1x1 convolution followed by batch normalisation (the paper's option B).

================  ======================================  ======================
block             body                                    used in
================  ======================================  ======================
``BasicBlock``    3x3 conv, BN, ReLU, 3x3 conv, BN        ResNet-18, ResNet-34
``Bottleneck``    1x1 conv (reduce), BN, ReLU,            ResNet-50/101/152
                  3x3 conv, BN, ReLU,
                  1x1 conv (expand x4), BN
================  ======================================  ======================

:func:`plain_block` is a ``BasicBlock`` without its skip connection (the paper's
"plain" baseline) and :func:`resnet_stage` stacks blocks into one stage.

:class:`Inception` is GoogLeNet's module (Szegedy et al. 2015): four branches
(1x1; 1x1 then 3x3; 1x1 then 5x5; 3x3 max pool then 1x1) concatenated along
channels. :func:`depthwise_separable` is MobileNet's block (Howard et al. 2017):
a 3x3 depthwise convolution (``groups = channels``) then a 1x1 pointwise one.
"""
from __future__ import annotations

import numpy as np

from ._validate import check_int, check_rng
from .layers import Conv2d, MaxPool2d, ReLU
from .module import Concat, Module, Residual, Sequential
from .norm import BatchNorm2d

__all__ = ["BasicBlock", "Bottleneck", "plain_block", "resnet_stage", "Inception",
           "depthwise_separable"]


def _make_rng(rng) -> np.random.Generator:
    return np.random.default_rng() if rng is None else check_rng(rng)


def _conv_bn(in_channels: int, out_channels: int, kernel_size: int, stride: int,
             rng: np.random.Generator, dtype) -> list[Module]:
    """A bias-free convolution ("same" padding for odd kernels) and its batch norm."""
    return [Conv2d(in_channels, out_channels, kernel_size, stride, padding=kernel_size // 2,
                   bias=False, rng=rng, dtype=dtype),
            BatchNorm2d(out_channels, dtype=dtype)]


def _projection(in_channels: int, out_channels: int, stride: int,
                rng: np.random.Generator, dtype) -> Sequential | None:
    """1x1 conv + BN when the block changes the shape, else ``None`` (identity)."""
    if stride == 1 and in_channels == out_channels:
        return None
    return Sequential(*_conv_bn(in_channels, out_channels, 1, stride, rng, dtype))


class BasicBlock(Residual):
    """Two 3x3 convolutions with a skip connection (ResNet-18/34).

    Parameters
    ----------
    in_channels, out_channels : int
    stride : int, default 1
        Stride of the first convolution (and of the projection); 2 halves H and W.
    rng : Generator, int or None
        Draws the convolution weights (He normal).
    dtype : float32 or float64

    Attributes
    ----------
    body : Sequential
        ``Conv2d(3x3, stride), BatchNorm2d, ReLU, Conv2d(3x3), BatchNorm2d``.
    shortcut : Sequential or None
        ``Conv2d(1x1, stride), BatchNorm2d`` when ``stride != 1`` or
        ``in_channels != out_channels``; ``None`` (identity) otherwise.
    activation : ReLU
    out_channels : int

    Notes
    -----
    ``out = relu(BN(conv(relu(BN(conv(x))))) + shortcut(x))``, shape
    ``(N, out_channels, ceil(H / stride), ceil(W / stride))``. Parameters:
    ``9 C_in C_out + 9 C_out^2 + 4 C_out`` (weights and BN scale and shift), plus
    ``C_in C_out + 2 C_out`` with a projection.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, *, rng=None,
                 dtype=np.float32) -> None:
        in_channels = check_int(in_channels, "in_channels", 1)
        self.out_channels = check_int(out_channels, "out_channels", 1)
        stride = check_int(stride, "stride", 1)
        gen = _make_rng(rng)
        body = Sequential(*_conv_bn(in_channels, out_channels, 3, stride, gen, dtype), ReLU(),
                          *_conv_bn(out_channels, out_channels, 3, 1, gen, dtype))
        super().__init__(body, _projection(in_channels, out_channels, stride, gen, dtype),
                         ReLU())
        self.stride = stride

    def extra_repr(self) -> str:
        return f"stride={self.stride}"


class Bottleneck(Residual):
    """1x1 reduce, 3x3, 1x1 expand, with a skip connection (ResNet-50/101/152).

    Parameters
    ----------
    in_channels : int
    mid_channels : int
        Width of the 3x3 convolution; the block outputs ``expansion * mid_channels``.
    stride : int, default 1
        Carried by the 3x3 convolution (and the projection), as in torchvision's
        "ResNet v1.5"; the paper put it on the first 1x1. The parameter count is the
        same, but a strided 1x1 convolution skips three quarters of its input.
    expansion : int, default 4
    rng : Generator, int or None
    dtype : float32 or float64

    Attributes
    ----------
    body : Sequential
        ``Conv2d(1x1), BN, ReLU, Conv2d(3x3, stride), BN, ReLU, Conv2d(1x1), BN``.
    shortcut : Sequential or None
        ``Conv2d(1x1, stride), BatchNorm2d`` when the shape changes, else ``None``.
    activation : ReLU
    out_channels : int
        ``expansion * mid_channels``.

    Notes
    -----
    With ``C = in_channels``, ``M = mid_channels`` and ``E = expansion``, the body
    has ``C M + 9 M^2 + M E M`` weights and ``2 (M + M + E M)`` BN parameters;
    a projection adds ``C E M + 2 E M``. The first block of ResNet-50
    (``C = 64, M = 64``) has 75,008.
    """

    def __init__(self, in_channels: int, mid_channels: int, stride: int = 1, *,
                 expansion: int = 4, rng=None, dtype=np.float32) -> None:
        in_channels = check_int(in_channels, "in_channels", 1)
        mid = check_int(mid_channels, "mid_channels", 1)
        stride = check_int(stride, "stride", 1)
        self.expansion = check_int(expansion, "expansion", 1)
        self.out_channels = mid * self.expansion
        gen = _make_rng(rng)
        body = Sequential(*_conv_bn(in_channels, mid, 1, 1, gen, dtype), ReLU(),
                          *_conv_bn(mid, mid, 3, stride, gen, dtype), ReLU(),
                          *_conv_bn(mid, self.out_channels, 1, 1, gen, dtype))
        super().__init__(body, _projection(in_channels, self.out_channels, stride, gen, dtype),
                         ReLU())
        self.stride = stride

    def extra_repr(self) -> str:
        return f"stride={self.stride}, expansion={self.expansion}"


def plain_block(in_channels: int, out_channels: int, stride: int = 1, *, rng=None,
                dtype=np.float32) -> Sequential:
    """The layers of a :class:`BasicBlock` without the skip connection.

    ``Conv2d(3x3, stride), BN, ReLU, Conv2d(3x3), BN, ReLU``: the building block of
    the paper's "plain" networks, with the same parameters as a ``BasicBlock``
    that needs no projection.
    """
    in_channels = check_int(in_channels, "in_channels", 1)
    out_channels = check_int(out_channels, "out_channels", 1)
    stride = check_int(stride, "stride", 1)
    gen = _make_rng(rng)
    return Sequential(*_conv_bn(in_channels, out_channels, 3, stride, gen, dtype), ReLU(),
                      *_conv_bn(out_channels, out_channels, 3, 1, gen, dtype), ReLU())


def resnet_stage(block: type[BasicBlock] | type[Bottleneck], in_channels: int, channels: int,
                 num_blocks: int, stride: int = 1, *, rng=None, dtype=np.float32) -> Sequential:
    """``num_blocks`` residual blocks; the first one may downsample and widen.

    Parameters
    ----------
    block : BasicBlock or Bottleneck (the class)
    in_channels : int
        Channels entering the stage.
    channels : int
        ``out_channels`` of a ``BasicBlock`` or ``mid_channels`` of a ``Bottleneck``.
    num_blocks : int
    stride : int, default 1
        Stride of the first block; the others use 1.
    rng, dtype
        As for the blocks.

    Returns
    -------
    Sequential
        Children ``"0"`` .. ``str(num_blocks - 1)``. ResNet-50's stages are
        ``resnet_stage(Bottleneck, 64, 64, 3)``, ``(256, 128, 4, 2)``,
        ``(512, 256, 6, 2)`` and ``(1024, 512, 3, 2)``.
    """
    if block not in (BasicBlock, Bottleneck):
        raise TypeError(f"block must be BasicBlock or Bottleneck, got {block!r}")
    num_blocks = check_int(num_blocks, "num_blocks", 1)
    gen = _make_rng(rng)
    blocks = []
    for i in range(num_blocks):
        b = block(in_channels, channels, stride if i == 0 else 1, rng=gen, dtype=dtype)
        blocks.append(b)
        in_channels = b.out_channels
    return Sequential(*blocks)


class Inception(Concat):
    """GoogLeNet's Inception module: four parallel branches concatenated along channels.

    Parameters
    ----------
    in_channels : int
    ch1x1 : int
        Outputs of the 1x1 branch ("#1x1" in Table 1 of Szegedy et al. 2015).
    ch3x3_reduce, ch3x3 : int
        The 1x1 reduction, then the 3x3 convolution ("#3x3 reduce", "#3x3").
    ch5x5_reduce, ch5x5 : int
        The 1x1 reduction, then the 5x5 convolution ("#5x5 reduce", "#5x5").
    pool_proj : int
        The 1x1 projection after a 3x3 stride-1 max pool ("pool proj").
    rng : Generator, int or None
    dtype : float32 or float64

    Attributes
    ----------
    branches : list of Sequential
        Every convolution has a bias and is followed by ReLU; padding keeps H and W.
    out_channels : int
        ``ch1x1 + ch3x3 + ch5x5 + pool_proj``.

    Notes
    -----
    The 5x5 branch is a real 5x5 convolution, as in the paper; torchvision's
    ``GoogLeNet`` uses a 3x3 there (and adds batch norm), so its counts differ.
    Parameters: ``C (ch1x1 + r3 + r5 + pool_proj) + 9 r3 ch3x3 + 25 r5 ch5x5``
    weights plus one bias per output of each convolution.
    """

    def __init__(self, in_channels: int, ch1x1: int, ch3x3_reduce: int, ch3x3: int,
                 ch5x5_reduce: int, ch5x5: int, pool_proj: int, *, rng=None,
                 dtype=np.float32) -> None:
        gen = _make_rng(rng)

        def conv_relu(c_in, c_out, k):
            return [Conv2d(c_in, c_out, k, padding=k // 2, rng=gen, dtype=dtype), ReLU()]

        super().__init__(
            Sequential(*conv_relu(in_channels, ch1x1, 1)),
            Sequential(*conv_relu(in_channels, ch3x3_reduce, 1),
                       *conv_relu(ch3x3_reduce, ch3x3, 3)),
            Sequential(*conv_relu(in_channels, ch5x5_reduce, 1),
                       *conv_relu(ch5x5_reduce, ch5x5, 5)),
            Sequential(MaxPool2d(3, stride=1, padding=1), *conv_relu(in_channels, pool_proj, 1)))
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj


def depthwise_separable(in_channels: int, out_channels: int, stride: int = 1, *, rng=None,
                        dtype=np.float32) -> Sequential:
    """MobileNet's block: 3x3 depthwise conv, BN, ReLU, 1x1 pointwise conv, BN, ReLU.

    Parameters
    ----------
    in_channels, out_channels : int
    stride : int, default 1
        Stride of the depthwise convolution.
    rng, dtype
        As for :class:`BasicBlock`.

    Returns
    -------
    Sequential
        Both convolutions without bias; the depthwise one has ``groups=in_channels``.

    Notes
    -----
    ``9 C_in + C_in C_out`` weights (plus ``2 C_in + 2 C_out`` in BN) against
    ``9 C_in C_out`` for a full 3x3 convolution: a cost ratio of
    ``1 / C_out + 1 / 9``.
    """
    in_channels = check_int(in_channels, "in_channels", 1)
    out_channels = check_int(out_channels, "out_channels", 1)
    stride = check_int(stride, "stride", 1)
    gen = _make_rng(rng)
    return Sequential(
        Conv2d(in_channels, in_channels, 3, stride, padding=1, groups=in_channels, bias=False,
               rng=gen, dtype=dtype),
        BatchNorm2d(in_channels, dtype=dtype), ReLU(),
        *_conv_bn(in_channels, out_channels, 1, 1, gen, dtype), ReLU())
