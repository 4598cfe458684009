"""VGG-16 and VGG-19 (Simonyan and Zisserman 2015, Table 1, configurations D and E)."""
from __future__ import annotations

import numpy as np

from .._validate import check_int
from ..layers import Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU
from ..module import Sequential
from ._common import build

__all__ = ["vgg16", "vgg19", "VGG16_CONFIG", "VGG19_CONFIG"]

# Columns D and E of Table 1: 3x3 convolution widths, "M" a 2x2 max pool
# (documented in cnnlab.models, where they are re-exported).
VGG16_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                512, 512, 512, "M")
VGG19_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
                512, 512, 512, 512, "M")


def _vgg(config, num_classes, rng, dtype, meta) -> Sequential:
    n = check_int(num_classes, "num_classes", 1)

    def make(g):
        layers, c = [], 3
        for v in config:
            if v == "M":
                layers.append(MaxPool2d(2))
            else:
                layers += [Conv2d(c, v, 3, padding=1, rng=g, dtype=dtype), ReLU()]
                c = v
        return layers + [Flatten(), Linear(512 * 7 * 7, 4096, rng=g, dtype=dtype), ReLU(),
                         Dropout(0.5, rng=g), Linear(4096, 4096, rng=g, dtype=dtype), ReLU(),
                         Dropout(0.5, rng=g), Linear(4096, n, rng=g, dtype=dtype)]

    return build(make, (1, 3, 224, 224), rng, meta)


def vgg16(*, num_classes: int = 1000, rng=None, dtype=np.float32,
          meta: bool = False) -> Sequential:
    """VGG-16 (Simonyan and Zisserman 2015, Table 1, configuration D), 3x224x224 input.

    Thirteen 3x3 convolutions (stride 1, padding 1, each with ReLU) in five groups
    of widths 64, 128, 256, 512, 512, each group closed by a 2x2 max pool
    (:data:`VGG16_CONFIG`); then fully connected 25088-4096-4096-1000 with ReLU and
    dropout 0.5 after the first two: **138,357,544** parameters, 89% of them
    (123,642,856) in the three fully connected layers.

    Parameters
    ----------
    num_classes : int, default 1000
    rng, dtype, meta
        See :mod:`cnnlab.models`.
    """
    return _vgg(VGG16_CONFIG, num_classes, rng, dtype, meta)


def vgg19(*, num_classes: int = 1000, rng=None, dtype=np.float32,
          meta: bool = False) -> Sequential:
    """VGG-19 (Simonyan and Zisserman 2015, Table 1, configuration E), 3x224x224 input.

    VGG-16 with a fourth 3x3 convolution in each of the groups 3, 4 and 5
    (:data:`VGG19_CONFIG`): sixteen convolutions and the same classifier,
    **143,667,240** parameters. The paper's best single network.

    Parameters
    ----------
    num_classes : int, default 1000
    rng, dtype, meta
        See :mod:`cnnlab.models`.
    """
    return _vgg(VGG19_CONFIG, num_classes, rng, dtype, meta)
