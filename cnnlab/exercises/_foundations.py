"""Checkers of why_convolution, convolution_by_hand and convolution_layer."""
from __future__ import annotations

import math

import numpy as np

from ..activations import sigmoid_backward, sigmoid_forward, tanh_backward, tanh_forward
from ..analysis import conv2d_parameters, linear_parameters
from ..conv import conv1d_backward, conv1d_forward, conv2d
from ..shapes import conv_output_size, pool_output_size, resolve_padding
from ._common import OUTPUT_SIZE, _img, _solve
from ._core import _add

# convolution_by_hand ---------------------------------------------------------------------------
CH = "convolution_by_hand"
_add("ex-conv-by-hand-size", None, "output size of a 7×7 input, 3×3 filter, stride 2, padding 1",
     CH, "number", OUTPUT_SIZE, lambda: conv_output_size(7, 3, stride=2, padding=1), integer=True,
     mistakes=lambda: [
         (conv_output_size(7, 3, stride=2, padding=0),
          "did you forget the padding? P zeros go on both sides, so add 2P"),
         ((7 - 3 + 2) // 2, "did you forget the + 1 after the division?"),
         (conv_output_size(7, 3, stride=1, padding=1), "did you divide by the stride?"),
         ((7 - 3 + 1) // 2 + 1, "the padding goes on both sides: add 2P, not P")])

_X_BY_HAND = [[1, 0, 2, 1, 0], [0, 1, 0, 1, 1], [1, 0, 1, 0, 0], [0, 0, 1, 1, 0], [1, 1, 0, 0, 1]]
_PLUS = [[0, 1, 0], [1, 1, 1], [0, 1, 0]]
_K_BY_HAND = [[1, 0, 1], [0, 1, 0], [1, 0, 1]]


def _plus_out(kernel=_PLUS, padding=0):
    return conv2d(_img(_X_BY_HAND), _img(kernel), padding=padding)[0, 0]


_PLUS_HINT = ("output (i, j) is the sum over the 3×3 window whose top-left corner is (i, j), "
              "each input times the filter entry on top of it")
_add("ex-conv-by-hand-plus", "value", "plus filter: the output at position (1, 1)", CH, "number",
     _PLUS_HINT, lambda: _plus_out()[1, 1], integer=True,
     mistakes=lambda: [
         (_plus_out(np.ones((3, 3)))[1, 1], "you summed the whole window: the plus keeps only the "
                                            "middle row and the middle column"),
         (_plus_out(_K_BY_HAND)[1, 1], "that is the chapter's X-shaped filter W, not the plus"),
         (_plus_out()[0, 0], "position (1, 1) is the window whose top-left corner is (1, 1), "
                             "not the window centred on input pixel (1, 1)")])
_add("ex-conv-by-hand-plus", "output", "plus filter: the whole output", CH, "array", _PLUS_HINT,
     lambda: _plus_out(),
     mistakes=lambda: [(_plus_out(np.ones((3, 3))), "you summed whole windows: the plus keeps "
                                                    "only the middle row and column"),
                       (_plus_out(_K_BY_HAND), "that is the chapter's filter W, not the plus"),
                       (_plus_out().T, "rows and columns are swapped")])
_add("ex-conv-by-hand-plus", "strongest", "plus filter: (row, column) of the strongest response",
     CH, "array", "find the largest output value and give its (row, column) index",
     lambda: np.unravel_index(np.argmax(_plus_out()), (3, 3)),
     mistakes=lambda: [(np.unravel_index(np.argmax(_plus_out()), (3, 3))[::-1],
                        "give the position as (row, column)")])

# convolution_layer -----------------------------------------------------------------------------
CL = "convolution_layer"
_add("ex-conv-layer-same-even", "a", "4×4 filter on 10×10 with P = ⌊k/2⌋: output size", CL,
     "number", OUTPUT_SIZE + "; P = ⌊k/2⌋ for this even k",
     lambda: conv_output_size(10, 4, stride=1, padding=4 // 2), integer=True,
     mistakes=lambda: [(10, "P = ⌊k/2⌋ is not the 'same' padding for an even filter: apply the "
                            "formula with this P"),
                       (conv_output_size(10, 4, padding=1), "P = ⌊k/2⌋, not ⌊(k − 1)/2⌋")])
_add("ex-conv-layer-same-even", "padding", "'same' padding (top, bottom, left, right) for a 4×4 "
     "filter", CL, "array", "'same' needs k − 1 zeros per axis in total; when that is odd, the "
     "extra zero goes at the bottom and on the right (as in PyTorch)",
     lambda: resolve_padding("same", (4, 4)),
     mistakes=lambda: [((2, 1, 2, 1), "the extra zero goes at the bottom and on the right, "
                                      "not at the top and on the left"),
                       ((2, 2, 2, 2), "that is P = ⌊k/2⌋ on every side: 'same' needs only k − 1 "
                                      "zeros per axis"),
                       ((1, 1, 2, 2), "the order is (top, bottom, left, right)")])
_add("ex-conv-layer-same-even", "b", "output size with padding='same'", CL, "number",
     "with the 'same' zeros: padded width W + top + bottom, minus k, plus one",
     lambda: conv_output_size(10, 4) + sum(resolve_padding("same", (4, 4))[:2]), integer=True,
     mistakes=lambda: [(conv_output_size(10, 4, padding=2), "that is P = ⌊k/2⌋ on both sides; "
                                                            "'same' pads less")])

_X2 = [[[1, 2, 0], [0, 1, 3], [2, 1, 1]], [[0, 1, 1], [2, 0, 1], [1, 1, 0]]]
_W2 = [[[1, 0], [0, -1]], [[2, 1], [0, 1]]]


def _two_channels(bias=0.5, flip=False, channels=(0, 1)):
    x = np.asarray(_X2, dtype=np.float64)[list(channels)][None]
    w = np.asarray(_W2, dtype=np.float64)[list(channels)][None]
    if flip:
        w = w[..., ::-1, ::-1].copy()
    return conv2d(x, w, np.array([float(bias)]))[0, 0]


_TWO_HINT = ("the window covers the same rows and columns in both channels; multiply each channel "
             "by its own kernel slice, add the two sums and the bias")
_add("ex-conv-layer-two-channels", "value", "two-channel filter: the output at row 1, column 0",
     CL, "number", _TWO_HINT, lambda: _two_channels()[1, 0],
     mistakes=lambda: [(_two_channels(bias=0)[1, 0], "did you add the bias?"),
                       (_two_channels(channels=(0,))[1, 0],
                        "add the contribution of channel 1 too"),
                       (_two_channels(channels=(1,))[1, 0],
                        "add the contribution of channel 0 too"),
                       (_two_channels(flip=True)[1, 0], "no flipping: a conv layer computes a "
                                                        "cross-correlation"),
                       (_two_channels()[0, 1], "row 1, column 0: the row index comes first")])
_add("ex-conv-layer-two-channels", "output", "two-channel filter: the whole output", CL, "array",
     _TWO_HINT, lambda: _two_channels(),
     mistakes=lambda: [(_two_channels(bias=0), "did you add the bias?"),
                       (_two_channels(flip=True), "no flipping: a conv layer computes a "
                                                  "cross-correlation")])
_add("ex-conv-layer-two-channels", "weight_shape", "shape of the weight array", CL, "array",
     "a conv weight is (C_out, C_in, kH, kW)",
     lambda: np.asarray(_W2)[None].shape,
     mistakes=lambda: [((2, 1, 2, 2), "the order is (C_out, C_in, kH, kW): one filter, two "
                                      "channels")])

_FASHION_HINT = ("a conv layer has (k·k·C_in + 1)·C_out parameters, a linear layer "
                 "(inputs + 1)·outputs; the padding keeps the size, each pooling halves it")
_add("ex-conv-layer-fashion", "conv1", "Fashion-MNIST net: parameters of the first convolution",
     CL, "number", _FASHION_HINT, lambda: conv2d_parameters(1, 16, 5), integer=True,
     mistakes=lambda: [(conv2d_parameters(1, 16, 5, bias=False), "did you count the biases?")])
_add("ex-conv-layer-fashion", "conv2", "Fashion-MNIST net: parameters of the second convolution",
     CL, "number", _FASHION_HINT, lambda: conv2d_parameters(16, 32, 5), integer=True,
     mistakes=lambda: [(conv2d_parameters(16, 32, 5, bias=False), "did you count the biases?"),
                       (conv2d_parameters(1, 32, 5), "each filter spans all the input channels "
                                                     "(the first layer's outputs)")])
_add("ex-conv-layer-fashion", "linear", "Fashion-MNIST net: parameters of the linear layer",
     CL, "number", _FASHION_HINT,
     lambda: linear_parameters(32 * pool_output_size(pool_output_size(28, 2), 2) ** 2, 10),
     integer=True,
     mistakes=lambda: [(linear_parameters(32 * 7 * 7, 10, bias=False), "did you count the biases?"),
                       (linear_parameters(32 * 14 * 14, 10), "there are two poolings, and each "
                                                             "halves the height and width"),
                       (linear_parameters(16 * 7 * 7, 10), "the second convolution has 32 "
                                                           "output channels")])


def _saturation(forward, backward, hi):
    def slope(x):
        _, cache = forward(np.array([x]))
        return float(backward(np.ones(1), cache)[0]) - 0.01
    return _solve(slope, 0.0, hi)


_add("ex-conv-layer-saturation", "sigmoid", "|x| where the sigmoid's slope falls to 0.01", CL,
     "number", "with v = sigmoid(x), solve v(1 − v) = 0.01 for v (take the root above ½), then "
     "invert the sigmoid: x = ln(v/(1 − v))",
     lambda: _saturation(sigmoid_forward, sigmoid_backward, 20.0),
     atol=0.01, rtol=0.0, normalize=abs,
     mistakes=lambda: [((1 + math.sqrt(0.96)) / 2, "that is sigmoid(x): now solve for x"),
                       (math.log(99), "v(1 − v) = 0.01 is not the same as v = 0.99")])
_add("ex-conv-layer-saturation", "tanh", "|x| where tanh's slope falls to 0.01", CL, "number",
     "1 − tanh²x = 0.01 gives tanh x = √0.99; then x = artanh(√0.99)",
     lambda: _saturation(tanh_forward, tanh_backward, 20.0), atol=0.01, rtol=0.0, normalize=abs,
     mistakes=lambda: [(math.sqrt(0.99), "that is tanh(x): now solve for x"),
                       (math.atanh(0.99), "the slope is 1 − tanh²x, not 1 − tanh x"),
                       (math.atanh(0.99 ** 2), "tanh x is the square root of 0.99, not its "
                                               "square")])

# why_convolution -------------------------------------------------------------------------------
WC = "why_convolution"
_PARAMS = ("a conv layer has (k·k·C_in + 1)·C_out parameters, a fully connected layer "
           "(inputs + 1)·outputs")
_add("ex-why-conv-cifar", "conv", "parameters of the 3×3 convolution with 32 filters", WC, "number",
     _PARAMS, lambda: conv2d_parameters(3, 32, 3), integer=True,
     mistakes=lambda: [(conv2d_parameters(3, 32, 3, bias=False), "did you count the biases?"),
                       (conv2d_parameters(1, 32, 3), "each filter spans all three colour "
                                                     "channels")])
_add("ex-why-conv-cifar", "fc_image", "parameters of a fully connected layer from the raw image "
     "to 512 units", WC, "number", _PARAMS, lambda: linear_parameters(32 * 32 * 3, 512),
     integer=True,
     mistakes=lambda: [(linear_parameters(32 * 32 * 3, 512, bias=False),
                        "did you count the biases?"),
                       (linear_parameters(32 * 32, 512), "the image has three colour channels")])
_add("ex-why-conv-cifar", "fc_document", "parameters of Guide's layer from 8×8×64 to 512",
     WC, "number", _PARAMS, lambda: linear_parameters(8 * 8 * 64, 512), integer=True,
     mistakes=lambda: [(linear_parameters(8 * 8 * 64, 512, bias=False),
                        "did you count the biases?")])


def _reach_counts() -> np.ndarray:
    """How many windows of the 8 → 6 convolution cover each input row (via a backward pass)."""
    _, cache = conv1d_forward(np.zeros((1, 1, 8)), np.ones((1, 1, 3)))
    return conv1d_backward(np.ones((1, 1, 6)), cache)[0][0, 0]


_REACH = ("along one axis, row r is covered by the windows that start at max(0, r − 2) to "
          "min(5, r); a pixel's count is the product of its row's and its column's counts")
_add("ex-why-conv-reach", "pixels", "outputs influenced by pixels (0, 0), (1, 2) and (4, 4)", WC,
     "array", _REACH, lambda: [_reach_counts()[i] * _reach_counts()[j]
                               for i, j in ((0, 0), (1, 2), (4, 4))],
     mistakes=lambda: [([_reach_counts()[i] + _reach_counts()[j] for i, j in
                         ((0, 0), (1, 2), (4, 4))], "multiply the counts of the two axes, "
                                                    "don't add them"),
                       ([9, 9, 9], "pixels near the border are covered by fewer windows")])
_add("ex-why-conv-reach", "rule", "a function: number of windows covering row r (8 → 6, 3×3)", WC,
     "function", _REACH, lambda: (lambda r: _reach_counts()[r]),
     inputs=[(r,) for r in (0, 7, 1, 6, 2, 3, 4, 5)], arg_names=("r",),
     input_hints=lambda args: ("near the border fewer windows fit: the first window starts at 0, "
                               "the last at 5" if args[0] in (0, 1, 6, 7) else None))


def _bar_image() -> np.ndarray:
    img = np.zeros((16, 16))
    img[3:12, 4:6] = 1.0
    img[3:5, 4:12] = 1.0
    return img


def _global_max_first_change() -> int:
    edge = np.array([[[[1.0, 0.0, -1.0]] * 3]])
    img = _bar_image()

    def global_max(dx):
        shifted = np.zeros_like(img)
        shifted[:, dx:] = img[:, :16 - dx]
        return float(np.maximum(conv2d(shifted[None, None], edge), 0).max())

    return next(dx for dx in range(16) if global_max(dx) != global_max(0))


_add("ex-why-conv-global", None, "the first rightward shift that changes the global maximum", WC,
     "number", "the maximum needs a window with bar pixels in its left column and none in its "
     "right column, two columns further; find when that window no longer fits in the image",
     _global_max_first_change, integer=True,
     mistakes=lambda: [(_global_max_first_change() - 1, "that is the last shift that still keeps "
                                                        "the maximum; which is the first that "
                                                        "changes it?"),
                       (16 - 4, "the maximum is lost before the bar leaves the image: the window "
                                "must also fit its right column")])


def _shared_over_union(dy: int, dx: int) -> float:
    """P(max of a 2×2 cell unchanged by a shift) for i.i.d. values: shared / union of the cells."""
    old = {(r, c) for r in (2, 3) for c in (2, 3)}
    new = {(r - dy, c - dx) for r, c in old}
    return len(old & new) / len(old | new)


_THIRD = ("the pooled value stays the same exactly when the largest of all the values of the old "
          "and the new cell lies in their overlap; with i.i.d. values every value is equally "
          "likely to be the largest: count the overlap and the union")
_add("ex-why-conv-third", "horizontal", "probability that a pooled value survives a one-column "
     "shift", WC, "number", _THIRD, lambda: _shared_over_union(0, 1), atol=0.005, rtol=0.0,
     mistakes=lambda: [(1 / 2, "count values, not columns: the two cells together hold six"),
                       (2 / 8, "the shared column is counted twice: old and new together hold "
                               "fewer distinct values")])
_add("ex-why-conv-third", "diagonal", "probability that a pooled value survives a (1, 1) shift",
     WC, "number", _THIRD, lambda: _shared_over_union(1, 1), atol=0.005, rtol=0.0,
     mistakes=lambda: [(1 / 8, "the shared value is counted twice: the union has 4 + 4 − 1 values"),
                       (1 / 4, "the union of the old and the new cell is bigger than one cell"),
                       (1 / 9, "the cells overlap: the union is not a 3×3 block's worth")])


def _cifar_total() -> int:
    return (conv2d_parameters(3, 32, 3) + conv2d_parameters(32, 64, 3)
            + linear_parameters(64 * pool_output_size(pool_output_size(32, 2), 2) ** 2, 512)
            + linear_parameters(512, 10))


_add("ex-why-conv-pattern", "nmk", "N, M and K of the CIFAR-10 network", WC, "array",
     "N counts the convolutions in each block, M the blocks (each ending in a pooling), K the "
     "fully connected layers", lambda: (1, 2, 2),
     mistakes=lambda: [((1, 2, 1), "count every fully connected layer, the output layer included"),
                       ((2, 2, 2), "N counts the convolutions per block, not in total")])
_add("ex-why-conv-pattern", "total", "total parameters of the CIFAR-10 network", WC, "number",
     _PARAMS + "; padding 1 keeps the 3×3 convolutions at the input size", _cifar_total,
     integer=True,
     mistakes=lambda: [(_cifar_total() - (32 + 64 + 512 + 10), "did you count the biases?"),
                       (linear_parameters(4096, 512), "that is only the first fully connected "
                                                      "layer; add the others")])
