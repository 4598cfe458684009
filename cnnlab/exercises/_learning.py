"""Checkers of backpropagation, gradient_checking and training."""
from __future__ import annotations

import math

import numpy as np

from ..conv import conv2d_backward, conv2d_forward
from ..gradcheck import relative_error
from ..pool import avg_pool2d_backward, avg_pool2d_forward, max_pool2d_backward, max_pool2d_forward
from ..shapes import conv_output_size
from ._common import OUTPUT_SIZE, _img, _solve
from ._core import _add

# backpropagation -------------------------------------------------------------------------------
BP = "backpropagation"
_XE = [[1, 2, 0], [0, 1, 3], [2, 0, 1]]
_WE = [[1, 0], [-1, 2]]
_DE = [[1, -1], [0, 2]]


def _by_hand_grads():
    _, cache = conv2d_forward(_img(_XE), _img(_WE), np.zeros(1))
    dx, dw, db = conv2d_backward(_img(_DE), cache)
    return dx[0, 0], dw[0, 0], db[0]


_add("ex-backprop-by-hand", "bias", "∂L/∂b", BP, "number",
     "the bias is added to every output, so its gradient collects δ from every position",
     lambda: _by_hand_grads()[2],
     mistakes=lambda: [(np.mean(_DE), "sum δ over the positions, don't average"),
                       (np.sum(np.abs(_DE)), "keep the signs of δ")])
_add("ex-backprop-by-hand", "weight", "∂L/∂W (2×2)", BP, "array",
     "∂L/∂W_{p,q} = Σ δ_{i,j} X_{i+p, j+q}: slide δ over X like a filter (no flip)",
     lambda: _by_hand_grads()[1],
     mistakes=lambda: [(_by_hand_grads()[1][::-1, ::-1], "no flip: ∂L/∂W is the cross-correlation "
                                                         "of X with δ"),
                       (_by_hand_grads()[1].T, "rows and columns are swapped")])
_add("ex-backprop-by-hand", "centre", "∂L/∂X at the centre pixel (1, 1)", BP, "number",
     "the centre pixel lies in all four windows; in each it meets a different weight, times "
     "that window's δ", lambda: _by_hand_grads()[0][1, 1],
     mistakes=lambda: [(_WE[1][1] * _DE[0][0], "the centre pixel lies in all four windows: add "
                                               "their contributions")])
def _unread_conv(size, kernel, stride):
    _, cache = conv2d_forward(np.zeros((1, 1, size, size)), np.ones((1, 1, kernel, kernel)),
                              stride=stride)
    out = conv_output_size(size, kernel, stride)
    dx = conv2d_backward(np.ones((1, 1, out, out)), cache)[0][0, 0]
    return np.flatnonzero(dx.sum(axis=1) == 0)


_add("ex-backprop-stride-edge", "size", "6×6 input, 3×3 filter, stride 2: output size", BP,
     "number", OUTPUT_SIZE, lambda: conv_output_size(6, 3, stride=2), integer=True,
     mistakes=lambda: [(math.ceil((6 - 3) / 2) + 1, "remember the floor in the output-size "
                                                    "formula"),
                       (conv_output_size(6, 3), "did you divide by the stride?")])
_add("ex-backprop-stride-edge", "unread", "indices of the input rows never read", BP, "array",
     "list the windows' start rows; each window covers three rows from its start",
     lambda: _unread_conv(6, 3, 2), mistakes=lambda: [([6], "indices start at 0")])


_XO = [[1, 2, 3, 0], [4, 9, 5, 1], [0, 6, 2, 3], [1, 2, 8, 10]]


def _overlap(kind):
    if kind == "max":
        out, cache = max_pool2d_forward(_img(_XO), 3, stride=1)
        return max_pool2d_backward(np.ones_like(out), cache)[0, 0]
    out, cache = avg_pool2d_forward(_img(_XO), 3, stride=1)
    return avg_pool2d_backward(np.ones_like(out), cache)[0, 0]


_add("ex-backprop-overlap", "max", "input gradient of 3×3/1 max pooling, upstream all ones", BP,
     "array", "each window sends its gradient to its largest input; an input that wins several "
     "overlapping windows collects from each", lambda: _overlap("max"),
     mistakes=lambda: [(np.minimum(_overlap("max"), 1), "a pixel that wins several overlapping "
                                                       "windows collects a gradient from each"),
                       (_overlap("avg"), "that is average pooling's gradient")])
_add("ex-backprop-overlap", "avg", "average pooling: the gradient reaching X[1, 1]", BP, "number",
     "each window spreads its gradient evenly over its nine inputs; count the windows that "
     "contain X[1, 1]", lambda: _overlap("avg")[1, 1], rtol=0.0, atol=1e-4,
     mistakes=lambda: [(1 / 9, "X[1, 1] lies in more than one window: add their shares"),
                       (_overlap("max")[1, 1], "that is max pooling's answer"),
                       (4.0, "each window divides its gradient among its nine inputs"),
                       (1.0, "each window divides its gradient among its nine inputs, and the "
                             "pixel lies in several windows")])

# gradient_checking ------------------------------------------------------------------------------
GC = "gradient_checking"
_EPS = 0.01
# every derivative of exp at 0 is exp(0)
_add("ex-gradcheck-taylor", "forward", "predicted error of the forward difference (ε = 0.01)", GC,
     "number", "(f(x+ε) − f(x))/ε = f'(x) + f''(x)·ε/2 + …: the error's leading term is "
     "first order in ε", lambda: math.exp(0.0) * _EPS / 2, rtol=0.01,
     mistakes=lambda: [(math.exp(0.0) * _EPS, "the Taylor term is f''·ε²/2, divided by ε"),
                       (math.exp(0.0) * _EPS ** 2 / 2, "the forward difference's error is first "
                                                       "order in ε"),
                       (math.exp(0.0) * _EPS ** 2 / 6, "that is the central difference's error")])
_add("ex-gradcheck-taylor", "central", "predicted error of the central difference (ε = 0.01)", GC,
     "number", "in f(x+ε) − f(x−ε) the even terms cancel; the leading error is f'''·ε²/6",
     lambda: math.exp(0.0) * _EPS ** 2 / 6, rtol=0.01,
     mistakes=lambda: [(math.exp(0.0) * _EPS / 2, "the central difference cancels the ε term: "
                                                  "its error is second order"),
                       (math.exp(0.0) * _EPS ** 2 / 3, "f(x+ε) − f(x−ε) holds 2·f'''ε³/6; divide "
                                                       "by 2ε"),
                       (math.exp(0.0) * _EPS ** 2 / 2, "the cubic Taylor term has a 3! below it")])

_B_SCALE = np.random.default_rng(7).standard_normal((3, 4))
_SCALE_HINT = ("with a = r·b: max|a − b| = |r − 1|·max|b| and max(|a| + |b|) = (|r| + 1)·max|b|")


def _threshold_factor(low_side=False):
    def err(r):
        return relative_error(r * _B_SCALE, _B_SCALE) - 1e-7
    return _solve(err, 1 - 1e-5, 1.0) if low_side else _solve(err, 1.0, 1 + 1e-5)


_add("ex-gradcheck-scale", "error", "a function: the relative error of r·b against b", GC,
     "function", _SCALE_HINT, lambda: (lambda r: relative_error(r * _B_SCALE, _B_SCALE)),
     inputs=[(2.0,), (4.0,), (1.0,), (0.5,), (0.001,), (0.0,), (-1.0,), (-3.0,), (-0.25,),
             (1000.0,)], arg_names=("r",), rtol=1e-9, atol=1e-12,
     input_hints=lambda args: ("for r < 1 the difference r − 1 is negative: use |r − 1|"
                               if 0 <= args[0] < 1 else
                               "for negative r use |r|: the error is 1" if args[0] < 0 else None))
_add("ex-gradcheck-scale", "threshold", "the factor r > 1 with a relative error of exactly 1e-7",
     GC, "number", "solve (r − 1)/(r + 1) = 10⁻⁷ for r", _threshold_factor, rtol=1e-9,
     alternatives=lambda: [_threshold_factor(low_side=True)],
     mistakes=lambda: [(1 + 1e-7, "near r = 1 the error is about (r − 1)/2, not r − 1"),
                       (1e-7, "that is the error; give the factor r")])

# training ---------------------------------------------------------------------------------------
TR = "training"
_LOSSES = [0.90, 0.60, 0.50, 0.52, 0.49, 0.51, 0.50, 0.53, 0.55]


def _stop_epoch(**kwargs) -> tuple[int, int]:
    from ..layers import Linear
    from ..module import Sequential
    from ..train import EarlyStopping, History

    stopper, hist = EarlyStopping(**kwargs), History()
    toy = Sequential(Linear(1, 1, rng=0))
    stopper.on_train_begin(toy, hist, has_val=True)
    for epoch, value in enumerate(_LOSSES, start=1):
        hist.epoch.append(epoch)
        hist.val_loss.append(value)
        if stopper.on_epoch_end(toy, hist):
            break
    stopper.on_train_end(toy, hist)
    return hist.epoch[-1], hist.restored_epoch


_PATIENCE = ("the best value so far resets the count; training stops once `patience` epochs in a "
             "row fail to beat it (by more than min_delta), and the best epoch's weights come back")
_add("ex-training-patience", "plain", "min_delta=0: (stop after epoch, restored epoch)", TR,
     "array", _PATIENCE, lambda: _stop_epoch(patience=3),
     mistakes=lambda: [((_stop_epoch(patience=3)[0], _stop_epoch(patience=3)[0]),
                        "the weights of the best epoch are restored, not the last"),
                       ((_stop_epoch(patience=3, min_delta=0.02)),
                        "with min_delta = 0 any decrease counts as an improvement"),
                       ((_stop_epoch(patience=3)[0] + 1, _stop_epoch(patience=3)[1]),
                        "training stops after the third epoch without improvement, not the fourth"),
                       ((_stop_epoch(patience=3)[0] - 1, _stop_epoch(patience=3)[1]),
                        "count three epochs without improvement after the best one")])
_add("ex-training-patience", "min_delta", "min_delta=0.02: (stop after epoch, restored epoch)", TR,
     "array", _PATIENCE, lambda: _stop_epoch(patience=3, min_delta=0.02),
     mistakes=lambda: [(_stop_epoch(patience=3), "an improvement must beat the best by more "
                                                 "than min_delta"),
                       ((_stop_epoch(patience=3, min_delta=0.02)[0],) * 2,
                        "the weights of the best epoch are restored, not the last")])

_ACTS = np.array([[1.0, 2.0, 3.0, 4.0, 5.0]])


def _dropout_kept() -> np.ndarray:
    """The nonzero value each position takes in training mode (from the layer, over masks)."""
    from ..layers import Dropout

    drop = Dropout(0.2, rng=0)
    return np.max([drop.forward(_ACTS)[0] for _ in range(200)], axis=0)


_add("ex-training-dropout", "kept", "the value each output takes when it is not dropped", TR,
     "array", "inverted dropout divides the kept activations by the keep probability 1 − p",
     _dropout_kept,
     mistakes=lambda: [(_ACTS[0] * 0.8, "kept values are divided by 1 − p, not multiplied"),
                       (_ACTS[0] / 0.2, "divide by the keep probability 1 − p, not by p"),
                       (_ACTS[0], "in training mode the kept values are rescaled")])
_add("ex-training-dropout", "expected_sum", "the expected value of the output's sum", TR, "number",
     "each output is kept with probability 1 − p and then divided by 1 − p",
     lambda: float((1 - 0.2) * _dropout_kept().sum()),
     mistakes=lambda: [(0.8 * _ACTS.sum(), "the rescaling by 1/(1 − p) compensates the dropped "
                                           "values"),
                       (_ACTS.sum() / 0.8, "each value is kept only with probability 1 − p")])


def _batches_to_90_percent(momentum: float) -> int:
    from ..norm import BatchNorm2d

    bn = BatchNorm2d(1, momentum=momentum, dtype=np.float64)
    batch = np.full((2, 1, 2, 2), 3.0)
    for k in range(1, 10_000):
        bn.forward(batch)
        if bn.running_mean[0] > 0.9 * 3.0:
            return k
    raise RuntimeError("the running mean never passed 0.9·μ")


_BN = ("after k batches the running mean is (1 − (1 − m)^k)·μ; it passes 0.9·μ once "
       "(1 − m)^k < 0.1, and k must be a whole number of batches")
_add("ex-training-bn-momentum", "momentum", "cnnlab momentum equivalent to Keras's 0.99", TR,
     "number", "Keras's momentum is the weight of the old running value; cnnlab's (and "
     "PyTorch's) the weight of the new batch", lambda: 1 - 0.99, rtol=1e-6, atol=1e-12,
     mistakes=lambda: [(0.99, "cnnlab's momentum is the weight of the new batch, Keras's the "
                              "weight of the old value")])
_add("ex-training-bn-momentum", "keras", "batches until the running mean passes 0.9·μ "
     "(Keras default)", TR, "number", _BN, lambda: _batches_to_90_percent(0.01), integer=True,
     mistakes=lambda: [(math.floor(math.log(0.1) / math.log(0.99)), "round up: after that many "
                                                                    "batches it is not there yet"),
                       (math.log(0.1) / math.log(0.99), "give a whole number of batches")])
_add("ex-training-bn-momentum", "pytorch", "batches until the running mean passes 0.9·μ "
     "(PyTorch default)", TR, "number", _BN, lambda: _batches_to_90_percent(0.1), integer=True,
     mistakes=lambda: [(math.floor(math.log(0.1) / math.log(0.9)), "round up: after that many "
                                                                   "batches it is not there yet"),
                       (math.log(0.1) / math.log(0.9), "give a whole number of batches")])
