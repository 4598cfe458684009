"""GoogLeNet / Inception v1 (Szegedy et al. 2015) and its auxiliary classifiers."""
from __future__ import annotations

import numpy as np

from .._validate import check_input_shape, check_int
from ..blocks import Inception
from ..layers import AvgPool2d, Conv2d, Dropout, Flatten, GlobalAvgPool2d, Linear, MaxPool2d, ReLU
from ..module import Module, Sequential
from ..norm import LocalResponseNorm
from ._common import build

__all__ = ["googlenet", "AuxiliaryHead", "GOOGLENET_INCEPTION"]


class AuxiliaryHead(Module):
    """A side classifier tapped into the main path (GoogLeNet's auxiliary classifiers).

    The main path passes through unchanged. In training mode, ``forward`` also
    runs ``head`` on the same input and keeps the result in ``logits``; in
    evaluation mode the head is skipped (``logits`` is ``None``), as in the paper.

    Parameters
    ----------
    head : Module

    Attributes
    ----------
    head : Module
    logits : ndarray or None
        The head's output of the last training-mode forward pass.
    logits_grad : ndarray or None
        Set it to the gradient of the loss with respect to ``logits`` (the paper
        weighs each auxiliary loss by 0.3) before ``backward``; ``backward`` then
        adds the head's input gradient to ``dout`` and clears it.
    """

    def __init__(self, head: Module) -> None:
        super().__init__()
        if not isinstance(head, Module):
            raise TypeError(f"head must be a Module, got {type(head).__name__}")
        self.head = head
        self.logits: np.ndarray | None = None
        self.logits_grad: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.logits = self.head.forward(x) if self.training else None
        return self._save(self.logits is not None, x)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        head_ran = self._load(dout)
        grad, self.logits_grad = self.logits_grad, None
        if grad is None:
            return dout.copy()
        if not head_ran:
            raise RuntimeError("AuxiliaryHead: logits_grad was set, but the last forward pass "
                               "ran in evaluation mode, without the head")
        return dout + self.head.backward(grad)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = check_input_shape(input_shape, None, "AuxiliaryHead")
        self.head.output_shape(shape)  # the head must accept it
        return shape

    def child_shapes(self, input_shape: tuple[int, ...]) -> list[tuple[str, Module, tuple]]:
        return [("head", self.head, tuple(input_shape))]


# Table 1 of Szegedy et al. 2015, name: (in_channels, #1x1, #3x3 reduce, #3x3, #5x5 reduce,
# #5x5, pool proj) (documented in cnnlab.models, where it is re-exported).
GOOGLENET_INCEPTION = {
    "3a": (192, 64, 96, 128, 16, 32, 32), "3b": (256, 128, 128, 192, 32, 96, 64),
    "4a": (480, 192, 96, 208, 16, 48, 64), "4b": (512, 160, 112, 224, 24, 64, 64),
    "4c": (512, 128, 128, 256, 24, 64, 64), "4d": (512, 112, 144, 288, 32, 64, 64),
    "4e": (528, 256, 160, 320, 32, 128, 128), "5a": (832, 256, 160, 320, 32, 128, 128),
    "5b": (832, 384, 192, 384, 48, 128, 128),
}


def googlenet(aux_logits: bool = False, *, num_classes: int = 1000, rng=None,
              dtype=np.float32, meta: bool = False) -> Sequential:
    """GoogLeNet / Inception v1 (Szegedy et al. 2015, Table 1), 3x224x224 input.

    Stem: conv 7x7/2 64, max pool 3x3/2, LRN, conv 1x1 64, conv 3x3 192, LRN,
    max pool; Inception 3a, 3b, max pool, 4a-4e, max pool, 5a, 5b
    (:data:`GOOGLENET_INCEPTION`); global average pool, dropout 0.4, fully
    connected 1024-1000. Every convolution has a bias and ReLU; no batch norm.
    **6,998,552** parameters.

    Parameters
    ----------
    aux_logits : bool, default False
        Add the two auxiliary classifiers as :class:`AuxiliaryHead` taps after 4a and
        4d: average pool 5x5/3, conv 1x1 128 + ReLU, fully connected 1024 + ReLU,
        dropout 0.7, fully connected ``num_classes``. They add 3,188,840 and
        3,190,888 parameters: **13,378,280** in all. They only train the network.
    num_classes : int, default 1000
    rng, dtype, meta
        See :mod:`cnnlab.models`.

    Notes
    -----
    The table's sizes (112 -> 56 -> 28 -> 14 -> 7) need the 3x3 stride-2 max pools
    to round up: Caffe rounds up, torchvision uses ``ceil_mode=True``; here they
    pad by 1, which gives the same sizes. The 5x5 branches are real 5x5
    convolutions (torchvision's 3x3 there is a known slip). LRN: ``size=5,
    alpha=1e-4, beta=0.75, k=1`` (the released Caffe model; the paper gives none).
    """
    if not isinstance(aux_logits, bool):
        raise TypeError(f"aux_logits must be a bool, got {aux_logits!r}")
    n = check_int(num_classes, "num_classes", 1)

    def make(g):
        def conv_relu(c_in, c_out, k, stride=1):
            return [Conv2d(c_in, c_out, k, stride, padding=k // 2, rng=g, dtype=dtype), ReLU()]

        def inception(name):
            return Inception(*GOOGLENET_INCEPTION[name], rng=g, dtype=dtype)

        def aux(c_in):
            if not aux_logits:
                return []
            return [AuxiliaryHead(Sequential(
                AvgPool2d(5, 3), *conv_relu(c_in, 128, 1), Flatten(),
                Linear(128 * 4 * 4, 1024, rng=g, dtype=dtype), ReLU(), Dropout(0.7, rng=g),
                Linear(1024, n, rng=g, dtype=dtype)))]

        return [*conv_relu(3, 64, 7, 2), MaxPool2d(3, 2, 1), LocalResponseNorm(5),
                *conv_relu(64, 64, 1), *conv_relu(64, 192, 3), LocalResponseNorm(5),
                MaxPool2d(3, 2, 1), inception("3a"), inception("3b"), MaxPool2d(3, 2, 1),
                inception("4a"), *aux(512), inception("4b"), inception("4c"), inception("4d"),
                *aux(528), inception("4e"), MaxPool2d(3, 2, 1), inception("5a"),
                inception("5b"), GlobalAvgPool2d(), Flatten(), Dropout(0.4, rng=g),
                Linear(1024, n, rng=g, dtype=dtype)]

    return build(make, (1, 3, 224, 224), rng, meta)
