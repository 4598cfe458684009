"""LeNet-5 (LeCun, Bottou, Bengio and Haffner 1998): the 1998 network and its modern re-telling."""
from __future__ import annotations

import numpy as np

from .._validate import check_choice, check_int
from ..classic import LENET5_C3_TABLE, EuclideanRBF, PartialConv2d, ScaledTanh, Subsampling
from ..layers import Conv2d, Flatten, Linear, MaxPool2d, ReLU
from ..module import Sequential
from ._common import build

__all__ = ["lenet5"]


def lenet5(variant: str = "modern", *, num_classes: int = 10, rng=None, dtype=np.float32,
           meta: bool = False) -> Sequential:
    """LeNet-5 (LeCun, Bottou, Bengio and Haffner 1998), as taught today or as published.

    Parameters
    ----------
    variant : {'modern', '1998'}
        ``'modern'``: 28x28 input, ``Conv2d(1, 6, 5, padding=2)``, ReLU, 2x2 max pool,
        ``Conv2d(6, 16, 5)``, ReLU, max pool, fully connected 400-120-84-10 with ReLU:
        **61,706** parameters.
        ``'1998'``: the paper's Figure 2 on 32x32 input. C1 6@5x5 (156), S2 trainable
        subsampling (12), C3 16@5x5 with Table I's partial connections (1,516), S4 (32),
        C5 120@5x5 (48,120), F6 84 (10,164), each followed by ``1.7159 tanh(2a/3)``,
        and a Euclidean RBF output with fixed prototypes (840): **60,000** trainable,
        **60,840** in all.
    num_classes : int, default 10
    rng, dtype, meta
        See :mod:`cnnlab.models`.

    Returns
    -------
    Sequential
        Flat: one child per layer of the table (activations and Flatten included).
    """
    check_choice(variant, "variant", ("modern", "1998"))
    n = check_int(num_classes, "num_classes", 1)
    if variant == "modern":
        return build(lambda g: [
            Conv2d(1, 6, 5, padding=2, rng=g, dtype=dtype), ReLU(), MaxPool2d(2),
            Conv2d(6, 16, 5, rng=g, dtype=dtype), ReLU(), MaxPool2d(2), Flatten(),
            Linear(400, 120, rng=g, dtype=dtype), ReLU(), Linear(120, 84, rng=g, dtype=dtype),
            ReLU(), Linear(84, n, rng=g, dtype=dtype)], (1, 1, 28, 28), rng, meta)
    xavier = dict(init="xavier_uniform", dtype=dtype)  # suits the tanh squashing
    return build(lambda g: [
        Conv2d(1, 6, 5, rng=g, **xavier), ScaledTanh(),                          # C1
        Subsampling(6, dtype=dtype), ScaledTanh(),                               # S2
        PartialConv2d(6, 16, 5, LENET5_C3_TABLE, rng=g, **xavier), ScaledTanh(),  # C3
        Subsampling(16, dtype=dtype), ScaledTanh(),                              # S4
        Conv2d(16, 120, 5, rng=g, **xavier), ScaledTanh(), Flatten(),            # C5
        Linear(120, 84, rng=g, **xavier), ScaledTanh(),                          # F6
        EuclideanRBF(84, n, rng=g, dtype=dtype)], (1, 1, 32, 32), rng, meta)
