"""MobileNet v1 (Howard et al. 2017): depthwise separable convolutions."""
from __future__ import annotations

import numpy as np

from .._validate import check_int
from ..blocks import depthwise_separable
from ..layers import Conv2d, Flatten, GlobalAvgPool2d, Linear, ReLU
from ..module import Sequential
from ..norm import BatchNorm2d
from ._common import build

__all__ = ["mobilenet_v1", "MOBILENET_V1_BLOCKS"]

# (out_channels, stride) of the 13 depthwise separable blocks, Table 1 (documented in
# cnnlab.models, where it is re-exported).
MOBILENET_V1_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
                       (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))


def mobilenet_v1(*, num_classes: int = 1000, rng=None, dtype=np.float32,
                 meta: bool = False) -> Sequential:
    """MobileNet v1, 1.0 MobileNet-224 (Howard et al. 2017, Table 1), 3x224x224 input.

    A full 3x3/2 convolution with 32 outputs, then 13 depthwise separable blocks
    (:func:`~cnnlab.blocks.depthwise_separable`, :data:`MOBILENET_V1_BLOCKS`), global
    average pool and fully connected 1024-1000. Convolutions have no bias and are
    followed by BN and ReLU. **4,231,976** parameters (21,888 of them in BN).

    Parameters
    ----------
    num_classes : int, default 1000
    rng, dtype, meta
        See :mod:`cnnlab.models`.

    Notes
    -----
    Table 1 marks the last depthwise layer "s2", but its input and output are both
    7x7: stride 1 here, as in every released implementation. Table 2's shares
    (1x1 convolutions 74.59%, fully connected 24.33% of the parameters) count
    weights only, without BN and the final bias. The network does 568,740,352
    multiply-accumulates on one 224x224 image (the paper's 569 million
    mult-adds), 94.86% of them in the 1x1 convolutions, 3.06% in the depthwise
    ones and 0.18% in the classifier, as Table 2 says; the first, full 3x3
    convolution does 1.91% (Table 2 prints 1.19%, with the digits swapped).
    """
    n = check_int(num_classes, "num_classes", 1)

    def make(g):
        blocks, c = [], 32
        for c_out, stride in MOBILENET_V1_BLOCKS:
            blocks.append(depthwise_separable(c, c_out, stride, rng=g, dtype=dtype))
            c = c_out
        return [Conv2d(3, 32, 3, 2, 1, bias=False, rng=g, dtype=dtype),
                BatchNorm2d(32, dtype=dtype), ReLU(), *blocks,
                GlobalAvgPool2d(), Flatten(), Linear(1024, n, rng=g, dtype=dtype)]

    return build(make, (1, 3, 224, 224), rng, meta)
