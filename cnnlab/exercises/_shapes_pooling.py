"""Checkers of tracking_shapes and pooling_and_receptive_field."""
from __future__ import annotations

import math

import numpy as np

from ..analysis import conv2d_parameters, linear_parameters, receptive_field
from ..losses import softmax
from ..pool import avg_pool2d_backward, avg_pool2d_forward, max_pool2d_backward, max_pool2d_forward
from ..shapes import conv_output_size, pool_output_size
from ._common import OUTPUT_SIZE, _img
from ._core import _add

# tracking_shapes -------------------------------------------------------------------------------
TS = "tracking_shapes"


def _by_hand_sizes(conv_padding=2, pool_stride=2, rounding=math.floor):
    h = rounding((64 - 5 + 2 * conv_padding) / 2) + 1
    h = (h - 3) // pool_stride + 1
    return h - 3 + 1


def _by_hand_params(bias=True):
    flat = 32 * conv_output_size(pool_output_size(conv_output_size(64, 5, 2, 2), 3, 2), 3) ** 2
    return [conv2d_parameters(3, 16, 5, bias), conv2d_parameters(16, 32, 3, bias),
            linear_parameters(flat, 10, bias)]


_BY_HAND = OUTPUT_SIZE + " (the same formula for the pooling, with its own stride)"
_add("ex-shapes-by-hand", "flatten", "inputs of the linear layer", TS, "number", _BY_HAND,
     lambda: 32 * conv_output_size(pool_output_size(conv_output_size(64, 5, 2, 2), 3, 2), 3) ** 2,
     integer=True,
     mistakes=lambda: [(32 * _by_hand_sizes(rounding=math.ceil) ** 2, "remember the floor in the "
                                                                      "output-size formula"),
                       (32 * _by_hand_sizes(conv_padding=0) ** 2, "did you forget the padding "
                                                                  "of the first convolution?"),
                       (32 * _by_hand_sizes(pool_stride=3) ** 2, "the pooling has stride 2 here, "
                                                                 "not its window size"),
                       (16 * _by_hand_sizes() ** 2, "the second convolution has 32 channels")])
_add("ex-shapes-by-hand", "params", "parameters of the conv, conv and linear layers", TS, "array",
     "a conv layer has (k·k·C_in + 1)·C_out parameters, a linear layer (inputs + 1)·outputs",
     _by_hand_params,
     mistakes=lambda: [(_by_hand_params(bias=False), "did you count the biases?")])
_add("ex-shapes-by-hand", "total", "total parameters", TS, "number",
     "add the parameters of the three layers with weights (ReLU, pooling and flatten have none)",
     lambda: sum(_by_hand_params()), integer=True,
     mistakes=lambda: [(sum(_by_hand_params(bias=False)), "did you count the biases?")])


def _fashion_flat(padding: int) -> int:
    h = pool_output_size(conv_output_size(28, 5, padding=padding), 2)
    return 32 * pool_output_size(conv_output_size(h, 5, padding=padding), 2) ** 2


_add("ex-shapes-no-padding", "flatten", "values the linear layer receives without padding", TS,
     "number", "without padding a 5×5 convolution loses four rows and four columns; each pooling "
     "then halves the size", lambda: _fashion_flat(0), integer=True,
     mistakes=lambda: [(_fashion_flat(2), "that is the padded network's size"),
                       (32 * (pool_output_size(28 - 4, 2) - 4) ** 2,
                        "there is a pooling after the second convolution too")])
_add("ex-shapes-no-padding", "linear", "parameters of the fixed linear layer", TS, "number",
     "a linear layer has (inputs + 1)·outputs parameters", lambda: linear_parameters(
         _fashion_flat(0), 10), integer=True,
     mistakes=lambda: [(linear_parameters(_fashion_flat(0), 10, bias=False),
                        "did you count the biases?"),
                       (linear_parameters(_fashion_flat(2), 10), "that is the old layer's count")])


def _fashion_bn_total(bias=True) -> int:
    return (conv2d_parameters(1, 16, 5, bias) + 2 * 16 + conv2d_parameters(16, 32, 5, bias)
            + 2 * 32 + linear_parameters(_fashion_flat(2), 10))


_add("ex-shapes-bias-bn", "saved", "parameters saved by bias=False in the convolutions", TS,
     "number", "a convolution has one bias per filter", lambda: _fashion_bn_total()
     - _fashion_bn_total(bias=False), integer=True,
     mistakes=lambda: [(2, "one bias per filter, not one per layer"),
                       (2 * (16 + 32), "only the convolutions' biases go; the BN layers keep γ "
                                       "and β")])
_add("ex-shapes-bias-bn", "total", "parameters of the network without conv biases", TS, "number",
     "start from the network's total with batch norm and subtract one bias per filter",
     lambda: _fashion_bn_total(bias=False), integer=True,
     mistakes=lambda: [(_fashion_bn_total(), "subtract the biases you saved"),
                       (_fashion_bn_total(bias=False) - 2 * (16 + 32), "batch norm keeps γ and β")])


def _vgg16(bias=True) -> tuple[int, int]:
    c, h, conv = 3, 224, 0
    for filters, repeats in [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]:
        for _ in range(repeats):
            conv += conv2d_parameters(c, filters, 3, bias)
            c, h = filters, conv_output_size(h, 3, padding=1)
        h = pool_output_size(h, 2)
    fc = (linear_parameters(c * h * h, 4096, bias) + linear_parameters(4096, 4096, bias)
          + linear_parameters(4096, 1000, bias))
    return conv, fc


_add("ex-shapes-vgg16", "total", "VGG-16's exact parameter count", TS, "number",
     "padding 1 keeps the 3×3 convolutions at their input size, each 2×2/2 pooling halves it; "
     "count (k·k·C_in + 1)·C_out per convolution and (inputs + 1)·outputs per linear layer",
     lambda: sum(_vgg16()), integer=True,
     mistakes=lambda: [(sum(_vgg16(bias=False)), "did you count the biases?"),
                       (_vgg16()[1], "that is only the fully connected layers"),
                       (_vgg16()[0], "that is only the convolutions")])
_add("ex-shapes-vgg16", "fc_share", "share of the parameters in the fully connected layers "
     "(fraction or percent)", TS, "number", "divide the fully connected layers' parameters by the "
     "total", lambda: _vgg16()[1] / sum(_vgg16()), atol=0.001, rtol=0.0,
     normalize=lambda a: a / 100 if a > 1 else a,
     mistakes=lambda: [(_vgg16()[0] / sum(_vgg16()), "that is the convolutions' share"),
                       (_vgg16()[1] / _vgg16()[0], "divide by the total, not by the convolutions")])


def _gap_totals() -> tuple[int, int]:
    convs = (conv2d_parameters(3, 32, 3) + conv2d_parameters(32, 64, 3)
             + conv2d_parameters(64, 128, 3))
    simple = convs + linear_parameters(128 * 4 * 4, 512) + linear_parameters(512, 10)
    return simple, convs + linear_parameters(128, 10)


_add("ex-shapes-gap", "total", "parameters of SimpleCNN with global average pooling", TS, "number",
     "the convolutions keep their parameters; the pooling has none; the classifier is one "
     "Linear(128, 10)", lambda: _gap_totals()[1], integer=True,
     mistakes=lambda: [(_gap_totals()[1] - linear_parameters(128, 10), "add the new linear layer"),
                       (_gap_totals()[1] - 10, "did you count the linear layer's biases?")])
_add("ex-shapes-gap", "factor", "by what factor the parameter count shrinks", TS, "number",
     "divide SimpleCNN's total by the new total", lambda: _gap_totals()[0] / _gap_totals()[1],
     rtol=0.02,
     mistakes=lambda: [(_gap_totals()[1] / _gap_totals()[0], "old total divided by new total, "
                                                             "not the other way round")])

# pooling_and_receptive_field -------------------------------------------------------------------
PR = "pooling_and_receptive_field"
_add("ex-pooling-rf-size", "a", "7×7 map, 2×2 pooling with stride 2: output size", PR, "number",
     OUTPUT_SIZE, lambda: pool_output_size(7, 2, stride=2), integer=True,
     mistakes=lambda: [(math.ceil((7 - 2) / 2) + 1,
                        "remember the floor in the output-size formula"),
                       (7 // 2 + 1, "subtract the window size before dividing")])
_add("ex-pooling-rf-size", "b", "7×7 map, 3×3 pooling, stride 2, padding 1: output size", PR,
     "number", OUTPUT_SIZE, lambda: pool_output_size(7, 3, stride=2, padding=1), integer=True,
     mistakes=lambda: [(pool_output_size(7, 3, stride=2), "did you forget the padding?"),
                       ((7 - 3 + 1) // 2 + 1, "the padding goes on both sides: add 2P")])


def _unread(size, kernel, stride):
    """Rows that no pooling window reads: they get no gradient."""
    out = pool_output_size(size, kernel, stride)
    _, cache = avg_pool2d_forward(np.zeros((1, 1, size, size)), kernel, stride)
    touched = avg_pool2d_backward(np.ones((1, 1, out, out)), cache)[0, 0]
    return np.flatnonzero(touched.sum(axis=1) == 0)


_add("ex-pooling-rf-size", "unread", "case (a): the indices of the rows never read", PR, "array",
     "list the windows' start positions; the last window ends one window size after the last start",
     lambda: _unread(7, 2, 2), mistakes=lambda: [([7], "indices start at 0")])

_XB = [[7, 2, 0, 1], [3, 7, 4, 2], [1, 0, 6, 5], [2, 8, 3, 3]]
_DB = [[1, -1], [2, 0.5]]


def _pool_grads(kind):
    if kind == "max":
        return max_pool2d_backward(_img(_DB), max_pool2d_forward(_img(_XB), 2)[1])[0, 0]
    return avg_pool2d_backward(_img(_DB), avg_pool2d_forward(_img(_XB), 2)[1])[0, 0]


def _max_tie_second():
    g = _pool_grads("max").copy()
    g[0, 0], g[1, 1] = 0.0, g[0, 0]
    return g


_add("ex-pooling-rf-backward", "max", "input gradient of 2×2/2 max pooling", PR, "array",
     "each window sends its whole upstream gradient to its largest input, all others get 0",
     lambda: _pool_grads("max"),
     mistakes=lambda: [(_max_tie_second(), "with a tie the first maximum in reading order "
                                           "(row by row) gets the gradient"),
                       (_pool_grads("max") + _max_tie_second() * (np.eye(4) * [0, 1, 0, 0]),
                        "only one input of a window receives its gradient, even with a tie"),
                       (_pool_grads("avg"), "that is average pooling's gradient")])
_add("ex-pooling-rf-backward", "avg", "input gradient of 2×2/2 average pooling", PR, "array",
     "each window spreads its upstream gradient evenly over its inputs",
     lambda: _pool_grads("avg"),
     mistakes=lambda: [(4 * _pool_grads("avg"), "the average divides by the window size: so does "
                                                "its gradient"),
                       (_pool_grads("max"), "that is max pooling's gradient")])

_VGG_STACK = [(3, 1), (3, 1), (2, 2), (3, 1), (3, 1), (2, 2)]


def _doubling_rule(double=True):
    r, out = 1, []
    for k, s in _VGG_STACK:
        r = 2 * r if (s == 2 and double) else r + (k - 1)
        out.append(r)
    return out


_RF = "R grows by (k − 1)·J and J is multiplied by the stride S, starting from R = J = 1"
_add("ex-pooling-rf-vgg", "rf", "receptive field after each of the six layers", PR, "array", _RF,
     lambda: [row.receptive_field for row in receptive_field(_VGG_STACK)],
     mistakes=lambda: [(_doubling_rule(), "pooling does not double the field: it adds (k − 1)·J "
                                          "like any layer"),
                       (_doubling_rule(double=False), "after a pooling each layer's growth is "
                                                      "multiplied by the jump J")])
_add("ex-pooling-rf-vgg", "jump", "jump after each of the six layers", PR, "array", _RF,
     lambda: [row.jump for row in receptive_field(_VGG_STACK)],
     mistakes=lambda: [([1, 1, 2, 2, 2, 3], "jumps multiply by the stride, they don't add")])
_add("ex-pooling-rf-vgg", "doubling", "the final field by the 'pooling doubles it' rule", PR,
     "number", "apply the rule as stated: each convolution adds 2, each pooling doubles the field",
     lambda: _doubling_rule()[-1], integer=True,
     mistakes=lambda: [(receptive_field(_VGG_STACK)[-1].receptive_field,
                        "that is the true field; apply the doubling rule instead")])
_add("ex-pooling-rf-softmax", "overflow", "largest argument of exp in float32 (naive softmax)", PR,
     "number", "e^z overflows when it exceeds the largest float32, about 3.4·10^38: take its "
     "logarithm", lambda: math.log(float(np.finfo(np.float32).max)), atol=0.01, rtol=0.0,
     mistakes=lambda: [(math.log(float(np.finfo(np.float64).max)), "that is float64's limit"),
                       (math.log10(float(np.finfo(np.float32).max)), "use the natural logarithm")])
_add("ex-pooling-rf-softmax", "probs", "what cnnlab.softmax returns for float32 [100, 90]", PR,
     "array", "subtract the largest logit first: e^0 and e^−10, then normalise (six decimals)",
     lambda: softmax(np.array([100.0, 90.0], dtype=np.float32)), atol=1e-6, rtol=0.0,
     mistakes=lambda: [([1.0, 0.0], "e^−10 is small, but not zero"),
                       ([0.5, 0.5], "softmax keeps the order of the logits")])
