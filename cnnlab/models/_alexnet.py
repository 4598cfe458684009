"""AlexNet (Krizhevsky, Sutskever and Hinton 2012): two GPU streams, one, or torchvision's."""
from __future__ import annotations

import numpy as np

from .._validate import check_choice, check_int
from ..layers import Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU
from ..module import Sequential
from ..norm import LocalResponseNorm
from ._common import build

__all__ = ["alexnet"]


def alexnet(variant: str = "two-stream", *, num_classes: int = 1000, rng=None,
            dtype=np.float32, meta: bool = False) -> Sequential:
    """AlexNet (Krizhevsky, Sutskever and Hinton 2012, Figure 2 and Section 3).

    Parameters
    ----------
    variant : {'two-stream', 'single-stream', 'torchvision'}
        ``'two-stream'``: the paper's network split over two GPUs. conv1 96@11x11
        stride 4; ReLU, LRN, 3x3 stride-2 max pool; conv2 256@5x5 pad 2 with
        ``groups=2`` (each half sees only its own GPU's 48 maps); LRN, pool; conv3
        384@3x3 pad 1 (connected across GPUs); conv4 384@3x3 and conv5 256@3x3
        (pad 1, ``groups=2``); pool; fully connected 9216-4096-4096-1000 with
        ReLU and dropout 0.5 after the first two: **60,965,224** parameters.
        ``'single-stream'``: the same widths on one GPU (no groups): **62,378,344**.
        ``'torchvision'``: the widths 64-192-384-256-256 of Krizhevsky's 2014 "One
        weird trick" that ``torchvision.models.alexnet`` uses, with conv1 padding 2
        and no LRN: **61,100,840** (its ``AdaptiveAvgPool2d(6)`` is the identity
        here and is left out).
    num_classes : int, default 1000
    rng, dtype, meta
        See :mod:`cnnlab.models`.

    Notes
    -----
    The input is 3x227x227: the paper says 224, but then conv1 would give
    (224 - 11) / 4 + 1 = 54.25 positions; 227 gives the 55x55 of Figure 2.
    LRN uses the paper's ``k=2, n=5, alpha=1e-4, beta=0.75``;
    :class:`~cnnlab.norm.LocalResponseNorm` follows PyTorch in dividing alpha by n,
    hence ``alpha=5e-4``.
    """
    check_choice(variant, "variant", ("two-stream", "single-stream", "torchvision"))
    n = check_int(num_classes, "num_classes", 1)

    def make(g):
        def conv(c_in, c_out, k, stride=1, padding=0, groups=1):
            return Conv2d(c_in, c_out, k, stride, padding, groups=groups, rng=g, dtype=dtype)

        if variant == "torchvision":
            return [conv(3, 64, 11, 4, 2), ReLU(), MaxPool2d(3, 2),
                    conv(64, 192, 5, padding=2), ReLU(), MaxPool2d(3, 2),
                    conv(192, 384, 3, padding=1), ReLU(), conv(384, 256, 3, padding=1), ReLU(),
                    conv(256, 256, 3, padding=1), ReLU(), MaxPool2d(3, 2), Flatten(),
                    Dropout(0.5, rng=g), Linear(9216, 4096, rng=g, dtype=dtype), ReLU(),
                    Dropout(0.5, rng=g), Linear(4096, 4096, rng=g, dtype=dtype), ReLU(),
                    Linear(4096, n, rng=g, dtype=dtype)]
        groups = 2 if variant == "two-stream" else 1
        return [conv(3, 96, 11, 4), ReLU(), LocalResponseNorm(5, 5e-4, 0.75, 2.0),
                MaxPool2d(3, 2),
                conv(96, 256, 5, padding=2, groups=groups), ReLU(),
                LocalResponseNorm(5, 5e-4, 0.75, 2.0), MaxPool2d(3, 2),
                conv(256, 384, 3, padding=1), ReLU(),
                conv(384, 384, 3, padding=1, groups=groups), ReLU(),
                conv(384, 256, 3, padding=1, groups=groups), ReLU(), MaxPool2d(3, 2),
                Flatten(), Linear(9216, 4096, rng=g, dtype=dtype), ReLU(), Dropout(0.5, rng=g),
                Linear(4096, 4096, rng=g, dtype=dtype), ReLU(), Dropout(0.5, rng=g),
                Linear(4096, n, rng=g, dtype=dtype)]

    return build(make, (1, 3, 227, 227), rng, meta)
