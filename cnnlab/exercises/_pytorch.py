"""Checkers of to_pytorch: state_dict entries, default initial weights, view and parameter counts.

The answers are computed with cnnlab (and, for PyTorch's defaults, from the formulas its
documentation states): no checker imports torch.
"""
from __future__ import annotations

import math

from ..analysis import count_parameters
from ..blocks import BasicBlock
from ..init import meta
from ..layers import Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU
from ..module import Sequential
from ..shapes import pool_output_size
from ._core import _add

PT = "to_pytorch"


# ex-pytorch-state-keys --------------------------------------------------------------------------
def _block_entries() -> tuple[int, int]:
    """(state_dict entries in cnnlab, batch norms) of BasicBlock(16, 32, stride=2)."""
    with meta():
        block = BasicBlock(16, 32, stride=2)
    buffers = len(list(block.named_buffers()))          # running mean and variance per BN
    return len(list(block.named_parameters())) + buffers, buffers // 2


_KEYS = ("list the layers: each convolution (no bias) holds a weight; each batch norm a scale, a "
         "shift and two running statistics")
_add("ex-pytorch-state-keys", "cnnlab", "state_dict entries of cnnlab's BasicBlock(16, 32, "
     "stride=2)", PT, "number", _KEYS, lambda: _block_entries()[0], integer=True,
     mistakes=lambda: [(_block_entries()[0] - 2 * _block_entries()[1],
                        "the running statistics are in the state_dict too (buffers)"),
                       (_block_entries()[0] - 3, "the shortcut is a projection here: stride 2 "
                                                 "and 16 → 32 channels")])
_add("ex-pytorch-state-keys", "pytorch", "state_dict entries of the PyTorch block", PT,
     "number", _KEYS + "; PyTorch's batch norm keeps one more buffer",
     lambda: sum(_block_entries()), integer=True,
     mistakes=lambda: [(_block_entries()[0], "PyTorch's batch norm also counts the batches it "
                                             "has seen")])

# ex-pytorch-init ---------------------------------------------------------------------------------
_N = 400
_add("ex-pytorch-init", "pytorch", "std of nn.Linear(400, 120)'s default weights", PT, "number",
     "a uniform distribution on [−a, a] has variance a²/3", lambda: 1 / math.sqrt(3 * _N),
     rtol=5e-3,
     mistakes=lambda: [(1 / math.sqrt(_N), "1/√n is the bound a, not the standard deviation"),
                       (1 / (3 * _N), "that is the variance: take its square root")])
_add("ex-pytorch-init", "he", "std of cnnlab's He-normal weights for the same layer", PT,
     "number", "He initialisation has variance 2/fan-in", lambda: math.sqrt(2 / _N), rtol=5e-3,
     mistakes=lambda: [(2 / _N, "that is the variance: take its square root"),
                       (math.sqrt(1 / _N), "He's variance has a 2 in the numerator (for ReLU)")])
_add("ex-pytorch-init", "ratio", "He std / PyTorch's default std", PT, "number",
     "divide the two standard deviations: n cancels", lambda: math.sqrt(6), rtol=5e-3,
     mistakes=lambda: [(6, "that is the ratio of the variances"),
                       (1 / math.sqrt(6), "He's is the larger of the two")])


# ex-pytorch-view ---------------------------------------------------------------------------------
def _per_digit(size: int = 28, channels: int = 128, pools: int = 3) -> int:
    for _ in range(pools):                  # the 3x3 convolutions with padding 1 keep the size
        size = pool_output_size(size, 2)
    return channels * size * size


_add("ex-pytorch-view", "per_digit", "numbers per 28 × 28 digit after the third pooling", PT,
     "number", "each 2 × 2 pooling halves the side, rounding down: follow 28 through three of "
     "them", lambda: _per_digit(), integer=True,
     mistakes=lambda: [(_per_digit(32), "the digits are 28 × 28, not padded to 32"),
                       (128 * 3.5 ** 2, "pooling rounds down: 7 becomes 3")])
_add("ex-pytorch-view", "rows", "rows of x.view(-1, 128 * 4 * 4) for a batch of 64", PT, "number",
     "view keeps the total number of values and fixes the columns at 2,048",
     lambda: 64 * _per_digit() // 2048, integer=True,
     mistakes=lambda: [(64, "view(-1, 2048) does not keep the batch axis: count the values")])


# ex-pytorch-params -------------------------------------------------------------------------------
def _simple_cnn(in_channels: int = 1, bias: bool = True) -> int:
    with meta():
        model = Sequential(
            Conv2d(in_channels, 32, 3, padding=1, bias=bias), ReLU(), MaxPool2d(2),
            Conv2d(32, 64, 3, padding=1, bias=bias), ReLU(), MaxPool2d(2),
            Conv2d(64, 128, 3, padding=1, bias=bias), ReLU(), MaxPool2d(2),
            Flatten(), Linear(128 * 4 * 4, 512, bias=bias), ReLU(), Dropout(0.5),
            Linear(512, 10, bias=bias))
    return count_parameters(model)


_add("ex-pytorch-params", None, "parameters of SimpleCNN(in_channels=1)", PT, "number",
     "a k × k convolution has (k·k·C_in + 1)·C_out parameters, a linear layer "
     "(in + 1)·out; pooling, ReLU and dropout have none", lambda: _simple_cnn(), integer=True,
     mistakes=lambda: [(_simple_cnn(3), "the digits have one channel, not three"),
                       (_simple_cnn(bias=False), "count the biases too")])
