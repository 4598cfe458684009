"""Six classic CNN architectures, layer for layer as their papers' tables describe them.

===================  =====  ===========  ==========================================
builder              depth  parameters   paper
===================  =====  ===========  ==========================================
``lenet5()``             5       61,706  LeCun et al. 1998 (modern: ReLU, max pool)
``lenet5("1998")``       7       60,840  LeCun et al. 1998 (60,000 trainable + RBF)
``alexnet()``            8   60,965,224  Krizhevsky et al. 2012 (two GPU streams)
``vgg16()``             16  138,357,544  Simonyan & Zisserman 2015 (configuration D)
``googlenet()``         22    6,998,552  Szegedy et al. 2015 (Table 1, no aux heads)
``resnet50()``          50   25,557,032  He et al. 2016 (Table 1, 50-layer)
``mobilenet_v1()``      28    4,231,976  Howard et al. 2017 (Table 1, 1.0-224)
===================  =====  ===========  ==========================================

Depth counts the layers with weights on the longest path, as the papers do
(LeNet-5's 1998 count of 7 includes the trainable subsampling layers S2 and S4).
Counts are for ``num_classes=1000`` (10 for LeNet-5) and are checked in the tests
against independent PyTorch definitions.

Every builder takes the keyword-only arguments ``num_classes``, ``rng`` (a
``numpy.random.Generator`` or seed for the weights and dropout masks), ``dtype``
and ``meta``: with ``meta=True`` the model is built inside
:func:`cnnlab.init.meta`, so its parameters have shapes but no memory;
:func:`cnnlab.analysis.summary` and ``num_parameters()`` work, calling it raises
``RuntimeError``. Use it to inspect the ImageNet models (VGG-16 alone would
take 553 MB of float32). Each built model carries ``model.input_shape``, the
``(1, C, H, W)`` its layer table expects; :data:`INPUT_SHAPES` holds the defaults.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np

from ._validate import check_choice, check_input_shape, check_int, check_rng
from .blocks import Bottleneck, Inception, depthwise_separable, resnet_stage
from .classic import LENET5_C3_TABLE, EuclideanRBF, PartialConv2d, ScaledTanh, Subsampling
from .init import meta as meta_context
from .layers import (AvgPool2d, Conv2d, Dropout, Flatten, GlobalAvgPool2d, Linear, MaxPool2d,
                     ReLU)
from .module import Module, Sequential
from .norm import BatchNorm2d, LocalResponseNorm

__all__ = ["lenet5", "alexnet", "vgg16", "googlenet", "resnet50", "mobilenet_v1",
           "AuxiliaryHead", "MODELS", "INPUT_SHAPES", "VGG16_CONFIG", "GOOGLENET_INCEPTION",
           "MOBILENET_V1_BLOCKS"]


def _build(make: Callable[[np.random.Generator], list[Module]], input_shape, rng,
           meta: bool) -> Sequential:
    """Run ``make(generator)`` (inside ``meta()`` if asked) and wrap it in a Sequential."""
    if not isinstance(meta, bool):
        raise TypeError(f"meta must be a bool, got {meta!r}")
    gen = np.random.default_rng() if rng is None else check_rng(rng)
    with meta_context() if meta else contextlib.nullcontext():
        model = Sequential(*make(gen))
    model.input_shape = input_shape
    return model


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
        See the module docstring.

    Returns
    -------
    Sequential
        Flat: one child per layer of the table (activations and Flatten included).
    """
    check_choice(variant, "variant", ("modern", "1998"))
    n = check_int(num_classes, "num_classes", 1)
    if variant == "modern":
        return _build(lambda g: [
            Conv2d(1, 6, 5, padding=2, rng=g, dtype=dtype), ReLU(), MaxPool2d(2),
            Conv2d(6, 16, 5, rng=g, dtype=dtype), ReLU(), MaxPool2d(2), Flatten(),
            Linear(400, 120, rng=g, dtype=dtype), ReLU(), Linear(120, 84, rng=g, dtype=dtype),
            ReLU(), Linear(84, n, rng=g, dtype=dtype)], (1, 1, 28, 28), rng, meta)
    xavier = dict(init="xavier_uniform", dtype=dtype)  # suits the tanh squashing
    return _build(lambda g: [
        Conv2d(1, 6, 5, rng=g, **xavier), ScaledTanh(),                          # C1
        Subsampling(6, dtype=dtype), ScaledTanh(),                               # S2
        PartialConv2d(6, 16, 5, LENET5_C3_TABLE, rng=g, **xavier), ScaledTanh(),  # C3
        Subsampling(16, dtype=dtype), ScaledTanh(),                              # S4
        Conv2d(16, 120, 5, rng=g, **xavier), ScaledTanh(), Flatten(),            # C5
        Linear(120, 84, rng=g, **xavier), ScaledTanh(),                          # F6
        EuclideanRBF(84, n, rng=g, dtype=dtype)], (1, 1, 32, 32), rng, meta)


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
        See the module docstring.

    Notes
    -----
    The input is 3x227x227: the paper says 224, but then conv1 would give
    (224 - 11) / 4 + 1 = 54.25 positions; 227 gives the 55x55 of Figure 2.
    LRN uses the paper's ``k=2, n=5, alpha=1e-4, beta=0.75``; :class:`~cnnlab.norm.LocalResponseNorm`
    follows PyTorch in dividing alpha by n, hence ``alpha=5e-4``.
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

    return _build(make, (1, 3, 227, 227), rng, meta)


VGG16_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                512, 512, 512, "M")
"""Column D of Table 1 in Simonyan & Zisserman (3x3 conv widths; ``"M"`` is a 2x2 max pool)."""


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
        See the module docstring.
    """
    n = check_int(num_classes, "num_classes", 1)

    def make(g):
        layers, c = [], 3
        for v in VGG16_CONFIG:
            if v == "M":
                layers.append(MaxPool2d(2))
            else:
                layers += [Conv2d(c, v, 3, padding=1, rng=g, dtype=dtype), ReLU()]
                c = v
        return layers + [Flatten(), Linear(512 * 7 * 7, 4096, rng=g, dtype=dtype), ReLU(),
                         Dropout(0.5, rng=g), Linear(4096, 4096, rng=g, dtype=dtype), ReLU(),
                         Dropout(0.5, rng=g), Linear(4096, n, rng=g, dtype=dtype)]

    return _build(make, (1, 3, 224, 224), rng, meta)


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


# Table 1 of Szegedy et al. 2015: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj
GOOGLENET_INCEPTION = {
    "3a": (192, 64, 96, 128, 16, 32, 32), "3b": (256, 128, 128, 192, 32, 96, 64),
    "4a": (480, 192, 96, 208, 16, 48, 64), "4b": (512, 160, 112, 224, 24, 64, 64),
    "4c": (512, 128, 128, 256, 24, 64, 64), "4d": (512, 112, 144, 288, 32, 64, 64),
    "4e": (528, 256, 160, 320, 32, 128, 128), "5a": (832, 256, 160, 320, 32, 128, 128),
    "5b": (832, 384, 192, 384, 48, 128, 128),
}
"""``name: (in_channels, ch1x1, ch3x3_reduce, ch3x3, ch5x5_reduce, ch5x5, pool_proj)``."""


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
        See the module docstring.

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

    return _build(make, (1, 3, 224, 224), rng, meta)


def resnet50(*, num_classes: int = 1000, rng=None, dtype=np.float32,
             meta: bool = False) -> Sequential:
    """ResNet-50 (He, Zhang, Ren and Sun 2016, Table 1, 50-layer column), 3x224x224 input.

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
        See the module docstring.

    Notes
    -----
    The stride sits on each block's 3x3 convolution ("v1.5", as torchvision);
    the paper put it on the first 1x1. The count is the same. Stage outputs for a
    224x224 input: 256x56x56, 512x28x28, 1024x14x14, 2048x7x7.
    """
    n = check_int(num_classes, "num_classes", 1)

    def make(g):
        stages, c = [], 64
        for mid, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
            stages.append(resnet_stage(Bottleneck, c, mid, blocks, stride, rng=g, dtype=dtype))
            c = 4 * mid
        return [Conv2d(3, 64, 7, 2, 3, bias=False, rng=g, dtype=dtype),
                BatchNorm2d(64, dtype=dtype), ReLU(), MaxPool2d(3, 2, 1), *stages,
                GlobalAvgPool2d(), Flatten(), Linear(2048, n, rng=g, dtype=dtype)]

    return _build(make, (1, 3, 224, 224), rng, meta)


MOBILENET_V1_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
                       (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))
"""``(out_channels, stride)`` of MobileNet v1's 13 depthwise separable blocks (Table 1)."""


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
        See the module docstring.

    Notes
    -----
    Table 1 marks the last depthwise layer "s2", but its input and output are both
    7x7: stride 1 here, as in every released implementation. Table 2's shares
    (1x1 convolutions 74.59%, fully connected 24.33% of the parameters) count
    weights only, without BN and the final bias.
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

    return _build(make, (1, 3, 224, 224), rng, meta)


MODELS: dict[str, Callable[..., Sequential]] = {
    "lenet5": lenet5, "alexnet": alexnet, "vgg16": vgg16, "googlenet": googlenet,
    "resnet50": resnet50, "mobilenet_v1": mobilenet_v1,
}
"""Builder of each architecture by name."""

INPUT_SHAPES: dict[str, tuple[int, int, int, int]] = {
    "lenet5": (1, 1, 28, 28), "alexnet": (1, 3, 227, 227), "vgg16": (1, 3, 224, 224),
    "googlenet": (1, 3, 224, 224), "resnet50": (1, 3, 224, 224),
    "mobilenet_v1": (1, 3, 224, 224),
}
"""Default input ``(1, C, H, W)`` of each builder (``lenet5("1998")`` takes 32x32)."""
