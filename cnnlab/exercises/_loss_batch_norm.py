"""Checkers of loss_and_batch_norm: softmax cross-entropy and batch normalisation by hand."""
from __future__ import annotations

import math

import numpy as np

from ._core import _add

CH = "loss_and_batch_norm"

# softmax cross-entropy by hand: logits (0, ln 2, ln 5), label 1 --------------------------------
_Z = np.log(np.array([[1.0, 2.0, 5.0]]))
_Y = np.array([1])


def _ce():
    from ..losses import cross_entropy_backward, cross_entropy_forward, softmax

    loss, cache = cross_entropy_forward(_Z, _Y)
    return softmax(_Z)[0], loss, cross_entropy_backward(cache)[0]


_SOFTMAX = "exponentiate the logits, then divide each by their sum"
_add("ex-loss-bn-softmax-by-hand", "probs", "the three probabilities", CH, "array", _SOFTMAX,
     lambda: _ce()[0],
     mistakes=lambda: [(np.exp(_Z[0]), "divide the exponentials by their sum"),
                       (_Z[0] / _Z[0].sum(), "softmax exponentiates the logits before it "
                                             "normalises")])
_add("ex-loss-bn-softmax-by-hand", "loss", "the loss L", CH, "number",
     "the loss is minus the natural logarithm of the probability of the labelled class",
     lambda: _ce()[1],
     mistakes=lambda: [(-math.log10(_ce()[0][1]), "use the natural logarithm"),
                       (-math.log(_ce()[0].max()), "take the probability of the labelled "
                                                   "class (index 1), not the largest"),
                       (math.log(_ce()[0][1]), "the loss is minus the log-probability")])
_add("ex-loss-bn-softmax-by-hand", "grad", "the gradient ∂L/∂z", CH, "array",
     "∂L/∂z = softmax(z) − onehot(y): subtract 1 at the labelled class",
     lambda: _ce()[2],
     mistakes=lambda: [(_ce()[0], "subtract the one-hot vector of the label"),
                       (-_ce()[2], "it is softmax minus one-hot, not one-hot minus softmax"),
                       (_ce()[0] - 1, "subtract 1 at the labelled class only")])

# two classes: the logistic loss -----------------------------------------------------------------
_Z2 = np.array([[1.0, -0.5]])
_Y2 = np.array([1])


def _two():
    from ..losses import cross_entropy_backward, cross_entropy_forward

    loss, cache = cross_entropy_forward(_Z2, _Y2)
    return loss, cross_entropy_backward(cache)[0, 1]


_add("ex-loss-bn-two-classes", "loss", "the loss for z = (1, −0.5), label 1", CH, "number",
     "with two classes L = log(1 + exp(−(z_y − z_other))): use the difference of the logits",
     lambda: _two()[0],
     mistakes=lambda: [(math.log1p(math.exp(-1.5)), "that is the loss of label 0; the labelled "
                                                    "class has the smaller logit here"),
                       (1.5, "log(1 + e^t) is close to t only for large t")])
_add("ex-loss-bn-two-classes", "dz1", "∂L/∂z₁", CH, "number",
     "∂L/∂z₁ = sigmoid(z₁ − z₀) − y: a probability minus the label",
     lambda: _two()[1],
     mistakes=lambda: [(1 / (1 + math.exp(1.5)), "subtract the label y = 1"),
                       (-_two()[1], "it is the probability minus the label")])

# batch normalisation by hand: one channel, x = (1, 5, 5, 1), gamma 2, beta 1 --------------------
_XB = np.array([[1.0], [5.0], [5.0], [1.0]])
_BN_TOL = dict(rtol=1e-4, atol=1e-4)  # the exercise lets ε = 1e-5 be ignored


def _bn(x=_XB, gamma=2.0, beta=1.0):
    from ..norm import BatchNorm1d

    bn = BatchNorm1d(1, dtype=np.float64)
    bn.weight.data[:] = gamma
    bn.bias.data[:] = beta
    out = bn(x)
    return bn, out[:, 0]


_UNBIASED = 0.5 * (_XB[:, 0] - 3) / math.sqrt(16 / 3)
_add("ex-loss-bn-by-hand", "out", "the four outputs", CH, "array",
     "subtract the mean, divide by √(biased variance + ε), then multiply by γ and add β",
     lambda: _bn()[1], **_BN_TOL,
     mistakes=lambda: [(2 * 2 * _UNBIASED + 1, "normalise with the biased variance (divide by "
                                              "m = 4), not the unbiased one"),
                       ((_XB[:, 0] - 3) / 2, "then scale by γ and shift by β"),
                       ((_XB[:, 0] - 3) / 4 * 2 + 1, "divide by the standard deviation, not "
                                                     "the variance")])
_add("ex-loss-bn-by-hand", "running_mean", "the running mean after this batch", CH, "number",
     "running ← (1 − momentum)·running + momentum·batch value, with momentum 0.1 and the "
     "running mean starting at 0", lambda: _bn()[0].running_mean[0], **_BN_TOL,
     mistakes=lambda: [(0.9 * 3.0, "momentum 0.1 is the weight of the new batch"),
                       (3.0, "the running mean moves only part of the way")])
_add("ex-loss-bn-by-hand", "running_var", "the running variance after this batch", CH,
     "number", "the running variance starts at 1 and is fed the unbiased variance, "
     "m/(m − 1) times the biased one", lambda: _bn()[0].running_var[0], **_BN_TOL,
     mistakes=lambda: [(0.9 + 0.1 * 4.0, "the running estimate takes the unbiased variance"),
                       (0.1 * 16 / 3, "the running variance starts at 1, not 0"),
                       (0.1 + 0.9 * 16 / 3, "momentum 0.1 is the weight of the new batch")])


# the backward pass: dout = (1, 0, 0, 0), gamma 1 ------------------------------------------------
def _bn_dx():
    bn, _ = _bn(gamma=1.0, beta=0.0)
    return bn.backward(np.array([[1.0], [0.0], [0.0], [0.0]]))[:, 0]


_add("ex-loss-bn-backward-sums", "dx", "∂L/∂x for the upstream gradient (1, 0, 0, 0)", CH,
     "array", "dx = γ/(m·σ̃)·(m·dout − Σ dout − x̂·Σ(dout·x̂)), with σ̃ = √(σ_B² + ε)",
     _bn_dx, **_BN_TOL,
     mistakes=lambda: [(np.array([0.5, 0.0, 0.0, 0.0]), "that is the evaluation-mode gradient "
                                                        "γ·dout/σ̃: in training mode the mean "
                                                        "and the variance depend on x too"),
                       (np.array([0.375, -0.125, -0.125, -0.125]), "the variance depends on x "
                                                                   "too: keep the x̂ term")])

# folding: a 1x1 convolution (w = 3, b = 2) and a batch norm (8, 16, gamma 2, beta 0.5) -----------


def _fold():
    from ..fold import fold_batch_norm_weights

    w, b = fold_batch_norm_weights(np.array([[3.0]]), np.array([2.0]), np.array([8.0]),
                                   np.array([16.0]), 1e-5, np.array([2.0]), np.array([0.5]))
    return float(w[0, 0]), float(b[0])


_FOLD = "with γ' = γ/√(σ̂² + ε): W' = γ'·W and b' = γ'·(b − μ̂) + β"
_add("ex-loss-bn-fold-by-hand", "weight", "the folded weight W'", CH, "number", _FOLD,
     lambda: _fold()[0], **_BN_TOL,
     mistakes=lambda: [(3 * 2 / 16, "divide by the standard deviation √σ̂², not the variance"),
                       (3 / 4, "multiply by γ as well")])
_add("ex-loss-bn-fold-by-hand", "bias", "the folded bias b'", CH, "number", _FOLD,
     lambda: _fold()[1], **_BN_TOL,
     mistakes=lambda: [(2 * 0.5 - 8 + 0.5, "scale the mean as well: b' = γ'·(b − μ̂) + β"),
                       (2 - 8 + 0.5, "the difference b − μ̂ is scaled by γ'"),
                       (0.5 * (2 - 8), "add β after scaling")])
