"""cnnlab: a small, tested NumPy library for learning convolutional neural networks.

The package mirrors PyTorch's vocabulary (NCHW data, ``Conv2d(in_channels,
out_channels, kernel_size, stride, padding)``, ``parameters()``, ``zero_grad()``,
``train()``/``eval()``) and is organised one concept per module:

================== ==========================================================
``shapes``         output sizes and padding ("same"/"valid") of conv and pool
``conv``           2-D and 1-D convolution (cross-correlation) with stride,
                   padding, dilation and groups: naive and fast kernels
``conv_transpose`` transposed convolution (the adjoint of ``conv``): naive and
                   fast kernels and the ``ConvTranspose2d`` layer
``pool``           max and average pooling: naive and fast kernels
``activations``    ReLU, sigmoid, tanh
``linear``         affine layer and flatten
``losses``         softmax, log-softmax, cross-entropy, mean squared error
``gradcheck``      central-difference gradient checking
``module``         ``Parameter``, ``Module`` and the containers ``Sequential``,
                   ``Concat`` (Inception branches) and ``Residual`` (skips),
                   which are written in ``containers``
``layers``         layer classes over the functional kernels
``norm``           batch normalisation, local response normalisation
``fold``           folding an evaluation-mode batch norm into the conv or
                   linear layer before it, for inference
``init``           He and Xavier initialisation; ``meta()`` shape-only models
``classic``        the 1998 LeNet-5's layers (partial C3 table, subsampling, RBF)
``blocks``         ResNet's BasicBlock and Bottleneck
``models``         LeNet-5, AlexNet, VGG-16/19, GoogLeNet, ResNet-50/101/152,
                   MobileNet v1 (a package, one family per file)
``exercises``      answer checkers for the book's exercises: ``check(id, answer)``
``cli``            the ``cnnlab`` command (``summary``, ``train``, ``data fetch``)
``data``           MNIST sample (offline), MNIST/Fashion-MNIST/CIFAR-10 downloads
``augment``        data augmentation for training batches: random shifts and
                   crops, flips, noise (also importable from ``data``)
``filters``        classic image filters (edges, blur, sharpen) and a sample photo
``optim``          SGD (momentum, weight decay) and Adam
``train``          fit/evaluate/predict, early stopping (``callbacks``),
                   saving parameters (``checkpoints``: atomic ``.npz`` files)
``analysis``       parameter counts, receptive fields, ``summary()`` tables
                   (with multiply-accumulates and output memory)
``interpret``      what a trained network looks at: saliency maps, occlusion
                   sensitivity, class activation maps
``viz``            figures and source listings for the book (matplotlib, lazily)
``explorers``      sliding-window explorers that work in the static book
                   (ipywidgets, imported lazily)
``labs``           self-checks for the labs (book/labs/): a tick or a hint,
                   never the expected value
``grading``        for the labs' graded cells: ``forbid()`` detects a call to
                   ``cnnlab``'s own kernel while a learner's function runs
================== ==========================================================

Every functional kernel comes as ``*_forward(...) -> (out, cache)`` and
``*_backward(dout, cache)``; loop-based ``*_naive`` versions are the oracles
the fast ones are tested against.  The most used names are re-exported here;
functions named like their module (``gradcheck.gradcheck``, ``linear.linear``)
are not, so that ``cnnlab.gradcheck`` and ``cnnlab.linear`` stay modules.
"""
from importlib import metadata as _metadata

from .activations import relu, sigmoid, tanh
from .analysis import (
    conv2d_parameters,
    count_parameters,
    linear_parameters,
    receptive_field,
    summary,
)
from .conv import conv1d, conv2d, conv2d_naive, convolve2d
from .conv_transpose import conv_transpose2d
from .fold import fold_batch_norm
from .layers import (
    AvgPool2d,
    Conv1d,
    Conv2d,
    ConvTranspose2d,
    Dropout,
    Flatten,
    GlobalAvgPool2d,
    Linear,
    MaxPool2d,
    ReLU,
    Sigmoid,
    Tanh,
)
from .losses import CrossEntropyLoss, MSELoss, cross_entropy, log_softmax, mse, softmax
from .module import Concat, Identity, Module, Parameter, Residual, Sequential
from .norm import BatchNorm1d, BatchNorm2d
from .optim import SGD, Adam
from .pool import avg_pool2d, max_pool2d
from .shapes import (
    conv2d_output_shape,
    conv_output_size,
    conv_transpose2d_output_shape,
    conv_transpose_output_size,
    pool2d_output_shape,
    pool_output_size,
)

try:  # the one version is pyproject.toml's, read from the installed package's metadata
    __version__ = _metadata.version("cnnlab")
except _metadata.PackageNotFoundError:  # a source tree imported without installing it
    __version__ = "0+unknown"

__all__ = [
    "Adam", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Concat", "Conv1d", "Conv2d",
    "CrossEntropyLoss", "Dropout", "Flatten", "GlobalAvgPool2d", "Identity", "Linear", "MSELoss",
    "MaxPool2d", "Module", "Parameter", "ReLU", "Residual", "SGD", "Sequential", "Sigmoid", "Tanh",
    "avg_pool2d", "conv1d", "conv2d", "conv2d_naive", "conv2d_output_shape",
    "ConvTranspose2d", "conv_transpose2d", "conv_transpose2d_output_shape",
    "conv_transpose_output_size",
    "conv2d_parameters", "conv_output_size", "convolve2d", "count_parameters", "cross_entropy",
    "fold_batch_norm",
    "linear_parameters", "log_softmax", "max_pool2d", "mse",
    "pool2d_output_shape", "pool_output_size", "receptive_field", "relu", "sigmoid", "softmax",
    "summary", "tanh",
]
