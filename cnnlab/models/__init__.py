"""Nine classic CNN architectures, layer for layer as their papers' tables describe them.

===================  =====  ===========  ==============  ==========================================
builder              depth  parameters   multiply-adds   paper
===================  =====  ===========  ==============  ==========================================
``lenet5()``             5       61,706         416,520  LeCun et al. 1998 (modern: ReLU, max pool)
``lenet5("1998")``       7       60,840         332,824  LeCun et al. 1998 (60,000 trainable + RBF)
``alexnet()``            8   60,965,224     724,406,816  Krizhevsky et al. 2012 (two GPU streams)
``vgg16()``             16  138,357,544  15,470,264,320  Simonyan & Zisserman 2015 (configuration D)
``vgg19()``             19  143,667,240  19,632,062,464  Simonyan & Zisserman 2015 (configuration E)
``googlenet()``         22    6,998,552   1,582,671,872  Szegedy et al. 2015 (Table 1, no aux heads)
``resnet50()``          50   25,557,032   4,089,184,256  He et al. 2016 (Table 1, 50-layer)
``resnet101()``        101   44,549,160   7,801,405,440  He et al. 2016 (Table 1, 101-layer)
``resnet152()``        152   60,192,808  11,513,626,624  He et al. 2016 (Table 1, 152-layer)
``mobilenet_v1()``      28    4,231,976     568,740,352  Howard et al. 2017 (Table 1, 1.0-224)
===================  =====  ===========  ==============  ==========================================

Depth counts the layers with weights on the longest path, as the papers do
(LeNet-5's 1998 count of 7 includes the trainable subsampling layers S2 and S4).
Counts are for ``num_classes=1000`` (10 for LeNet-5) and one image of the
default size; the parameters and the multiply-adds (multiply-accumulates, by the
rule of :func:`cnnlab.analysis.summary`) are checked in the tests against
independent PyTorch definitions.

Every builder takes the keyword-only arguments ``num_classes``, ``rng`` (a
``numpy.random.Generator`` or seed for the weights and dropout masks), ``dtype``
and ``meta``: with ``meta=True`` the model is built inside
:func:`cnnlab.init.meta`, so its parameters have shapes but no memory;
:func:`cnnlab.analysis.summary` and ``num_parameters()`` work, calling it raises
``RuntimeError``. Use it to inspect the ImageNet models (VGG-16 alone would
take 553 MB of float32). Each built model carries ``model.input_shape``, the
``(1, C, H, W)`` its layer table expects; :data:`INPUT_SHAPES` holds the defaults.

The builders are written one family per file (``_lenet``, ``_alexnet``, ``_vgg``,
``_googlenet``, ``_resnet``, ``_mobilenet``); import them from here.
"""
from __future__ import annotations

from collections.abc import Callable

from ..module import Sequential
from . import _googlenet, _mobilenet, _vgg
from ._alexnet import alexnet
from ._googlenet import AuxiliaryHead, googlenet
from ._lenet import lenet5
from ._mobilenet import mobilenet_v1
from ._resnet import resnet50, resnet101, resnet152
from ._vgg import vgg16, vgg19

__all__ = ["lenet5", "alexnet", "vgg16", "vgg19", "googlenet", "resnet50", "resnet101",
           "resnet152", "mobilenet_v1", "AuxiliaryHead", "MODELS", "INPUT_SHAPES",
           "VGG16_CONFIG", "VGG19_CONFIG", "GOOGLENET_INCEPTION", "MOBILENET_V1_BLOCKS"]

VGG16_CONFIG = _vgg.VGG16_CONFIG
"""Column D of Table 1 in Simonyan & Zisserman (3x3 conv widths; ``"M"`` is a 2x2 max pool)."""

VGG19_CONFIG = _vgg.VGG19_CONFIG
"""Column E of Table 1 in Simonyan & Zisserman (VGG-16 with a fourth conv in groups 3-5)."""

GOOGLENET_INCEPTION = _googlenet.GOOGLENET_INCEPTION
"""``name: (in_channels, ch1x1, ch3x3_reduce, ch3x3, ch5x5_reduce, ch5x5, pool_proj)``.

Table 1 of Szegedy et al. 2015: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj.
"""

MOBILENET_V1_BLOCKS = _mobilenet.MOBILENET_V1_BLOCKS
"""``(out_channels, stride)`` of MobileNet v1's 13 depthwise separable blocks (Table 1)."""

MODELS: dict[str, Callable[..., Sequential]] = {
    "lenet5": lenet5, "alexnet": alexnet, "vgg16": vgg16, "vgg19": vgg19,
    "googlenet": googlenet, "resnet50": resnet50, "resnet101": resnet101,
    "resnet152": resnet152, "mobilenet_v1": mobilenet_v1,
}
"""Builder of each architecture by name."""

INPUT_SHAPES: dict[str, tuple[int, int, int, int]] = {
    "lenet5": (1, 1, 28, 28), "alexnet": (1, 3, 227, 227), "vgg16": (1, 3, 224, 224),
    "vgg19": (1, 3, 224, 224), "googlenet": (1, 3, 224, 224), "resnet50": (1, 3, 224, 224),
    "resnet101": (1, 3, 224, 224), "resnet152": (1, 3, 224, 224),
    "mobilenet_v1": (1, 3, 224, 224),
}
"""Default input ``(1, C, H, W)`` of each builder (``lenet5("1998")`` takes 32x32)."""
