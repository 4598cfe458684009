"""ResNet-50, -101 and -152 (He, Zhang, Ren and Sun 2016, Table 1): bottleneck stages."""
from __future__ import annotations

import numpy as np

from .._validate import check_int
from ..blocks import Bottleneck, resnet_stage
from ..layers import Conv2d, Flatten, GlobalAvgPool2d, Linear, MaxPool2d, ReLU
from ..module import Sequential
from ..norm import BatchNorm2d
from ._common import build

__all__ = ["resnet50", "resnet101", "resnet152"]


def _resnet(blocks: tuple[int, int, int, int], num_classes, rng, dtype, meta) -> Sequential:
    n = check_int(num_classes, "num_classes", 1)

    def make(g):
        stages, c = [], 64
        for mid, count, stride in zip((64, 128, 256, 512), blocks, (1, 2, 2, 2), strict=True):
            stages.append(resnet_stage(Bottleneck, c, mid, count, stride, rng=g, dtype=dtype))
            c = 4 * mid
        return [Conv2d(3, 64, 7, 2, 3, bias=False, rng=g, dtype=dtype),
                BatchNorm2d(64, dtype=dtype), ReLU(), MaxPool2d(3, 2, 1), *stages,
                GlobalAvgPool2d(), Flatten(), Linear(2048, n, rng=g, dtype=dtype)]

    return build(make, (1, 3, 224, 224), rng, meta)


def resnet50(*, num_classes: int = 1000, rng=None, dtype=np.float32,
             meta: bool = False) -> Sequential:
    """ResNet-50 (He et al. 2016, Table 1, 50-layer column), 3x224x224 input.

    conv1 7x7/2 64 + BN + ReLU, max pool 3x3/2 (padding 1); four stages of
    :class:`~cnnlab.blocks.Bottleneck` blocks, (mid width, blocks) = (64, 3),
    (128, 4), (256, 6), (512, 3), the first block of stages 2-4 with stride 2;
    global average pool; fully connected 2048-1000. Convolutions have no bias and
    are followed by batch norm; projection shortcuts (1x1 conv + BN) where the
    shape changes (the paper's option B). **25,557,032** parameters.

    Parameters
    ----------
    num_classes : int, default 1000
    rng, dtype, meta
        See :mod:`cnnlab.models`.

    Notes
    -----
    The stride sits on each block's 3x3 convolution ("v1.5", as torchvision);
    the paper put it on the first 1x1. The parameters are the same, the
    multiply-accumulates are not: the first 1x1 convolution of stages 3, 4 and 5
    then runs at the higher resolution, which adds 77,070,336 MACs per stage.
    Stage outputs for a 224x224 input: 256x56x56, 512x28x28, 1024x14x14, 2048x7x7.
    """
    return _resnet((3, 4, 6, 3), num_classes, rng, dtype, meta)


def resnet101(*, num_classes: int = 1000, rng=None, dtype=np.float32,
              meta: bool = False) -> Sequential:
    """ResNet-101 (He et al. 2016, Table 1, 101-layer column), 3x224x224 input.

    :func:`resnet50` with 23 blocks instead of 6 in the third stage (3, 4, 23, 3
    blocks): 1 + 3 x 33 + 1 = 101 weight layers on the longest path,
    **44,549,160** parameters. The stride sits where :func:`resnet50` puts it.

    Parameters
    ----------
    num_classes : int, default 1000
    rng, dtype, meta
        See :mod:`cnnlab.models`.
    """
    return _resnet((3, 4, 23, 3), num_classes, rng, dtype, meta)


def resnet152(*, num_classes: int = 1000, rng=None, dtype=np.float32,
              meta: bool = False) -> Sequential:
    """ResNet-152 (He et al. 2016, Table 1, 152-layer column), 3x224x224 input.

    :func:`resnet50` with 3, 8, 36, 3 bottleneck blocks: 1 + 3 x 50 + 1 = 152
    weight layers on the longest path, **60,192,808** parameters. The stride
    sits where :func:`resnet50` puts it.

    Parameters
    ----------
    num_classes : int, default 1000
    rng, dtype, meta
        See :mod:`cnnlab.models`.
    """
    return _resnet((3, 8, 36, 3), num_classes, rng, dtype, meta)
