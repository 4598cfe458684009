"""Checkers of what_networks_look_at: a CAM by hand, the saliency of a linear model,
occlusion by hand, and how much the probability saturates."""
from __future__ import annotations

import numpy as np

from ._core import _add

WL = "what_networks_look_at"

# --- ex-interpret-cam-by-hand: two 2x2 feature maps, two classes ---------------------------------
_A = [[[1.0, 0.0], [2.0, 1.0]], [[0.0, 3.0], [1.0, 0.0]]]     # (C=2, 2, 2)
_W = [[1.0, -1.0], [0.5, 2.0]]                                 # (K=2, C=2)
_B = [0.5, -1.0]


def _cam_model():
    """Identity features, GlobalAvgPool2d, Flatten, Linear(2, 2) with the exercise's weights."""
    from ..layers import Flatten, GlobalAvgPool2d, Linear
    from ..module import Identity, Sequential

    head = Linear(2, 2, rng=0, dtype=np.float64)
    head.weight.data[...] = _W
    head.bias.data[...] = _B
    return Sequential(Identity(), GlobalAvgPool2d(), Flatten(), head)


def _cam(target: int) -> np.ndarray:
    from ..interpret import class_activation_map

    x = np.asarray(_A)[None]
    return class_activation_map(_cam_model(), x, target, upsample=False)[0]


def _logit(target: int) -> float:
    return float(_cam_model().eval().forward(np.asarray(_A)[None])[0, target])


_add("ex-interpret-cam-by-hand", "cam", "the 2×2 class activation map of class 1", WL, "array",
     "weight each feature map by the class's weight for its channel and add the maps, "
     "position by position; the bias is not part of the map",
     lambda: _cam(1),
     mistakes=lambda: [(_cam(1) + _B[1], "the bias is not part of the map: it shifts the logit, "
                                         "not any position"),
                       (_cam(0), "use the row of class 1 in the weight matrix"),
                       (np.einsum("c,chw->hw", np.asarray(_W)[:, 1], np.asarray(_A)),
                        "the weight matrix has one row per class: w[k, c] is class k's weight "
                        "for channel c")])
_add("ex-interpret-cam-by-hand", "logit", "the logit of class 1, from the map", WL, "number",
     "global average pooling then the Linear layer: the mean of the map plus the bias",
     lambda: _logit(1),
     mistakes=lambda: [(float(_cam(1).sum() + _B[1]), "the pooling averages over the positions: "
                                                     "divide the sum by their number"),
                       (float(_cam(1).mean()), "the Linear layer adds its bias")])

# --- ex-interpret-linear-saliency: z = W x + b on a (2, 1, 3) image -------------------------------
_WL = [[1.0, -2.0, 0.0, 3.0, 1.0, -1.0], [-1.0, 0.0, 2.0, -3.0, 4.0, 1.0]]
_XL = [[[0.5, 1.0, 0.0]], [[2.0, -1.0, 1.0]]]                   # any image gives the same answer


def _linear_saliency(reduce: str) -> np.ndarray:
    from ..interpret import saliency
    from ..layers import Flatten, Linear
    from ..module import Sequential

    lin = Linear(6, 2, rng=0, dtype=np.float64)
    lin.weight.data[...] = _WL
    return saliency(Sequential(Flatten(), lin), np.asarray(_XL)[None], 1, reduce=reduce)[0]


_W1 = np.asarray(_WL[1]).reshape(2, 1, 3)
_add("ex-interpret-linear-saliency", "raw", "the raw saliency of class 1, shape (2, 1, 3)", WL,
     "array", "∂z_1/∂X of z = WX + b is row 1 of W, put back in the image's (C, H, W) order "
     "(Flatten reads channel by channel, then row by row)",
     lambda: _linear_saliency("none"),
     mistakes=lambda: [(np.asarray(_WL[0]).reshape(2, 1, 3), "use the row of class 1"),
                       (np.asarray(_WL[1]).reshape(3, 2).T.reshape(2, 1, 3),
                        "Flatten puts all of channel 0 first, then channel 1"),
                       (_W1 * np.asarray(_XL), "the gradient of a linear function does not "
                                               "depend on the input: that is gradient × input")])
_add("ex-interpret-linear-saliency", "max_abs", "the saliency map of class 1 (1×3, max over "
     "channels of |∂z_1/∂X|)", WL, "array",
     "take the absolute value of each channel's gradient, then the larger of the two channels "
     "at each pixel", lambda: _linear_saliency("max_abs"),
     mistakes=lambda: [(_W1.max(axis=0), "take absolute values before the maximum"),
                       (np.abs(_W1).sum(axis=0), "the maximum over the channels, not the sum"),
                       (np.abs(_W1).max(axis=0)[:, ::-1], "keep the pixels' order")])

# --- ex-interpret-occlusion-by-hand: z_0 = left half, z_1 = right half ----------------------------
_XO = [[[1.0, 1.0, 0.0, 2.0]]]                                  # (1, 1, 4)


def _occlusion(target: int = 0) -> np.ndarray:
    from ..interpret import occlusion_sensitivity
    from ..layers import Flatten, Linear
    from ..module import Sequential

    lin = Linear(4, 2, rng=0, dtype=np.float64)
    lin.weight.data[...] = [[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]]
    lin.bias.data[...] = 0.0
    return occlusion_sensitivity(Sequential(Flatten(), lin), np.asarray(_XO)[None], target,
                                 patch=(1, 2), stride=(1, 2), fill=0.0)[0, 0]


def _logit_drops() -> np.ndarray:
    x = np.asarray(_XO)[0, 0]
    return np.array([x[0] + x[1], 0.0])                         # z_0 drops by what is covered


_add("ex-interpret-occlusion-by-hand", "drops", "the two entries of the occlusion map of "
     "class 0 (patch 1×2, stride 2, fill 0)", WL, "array",
     "for each patch: p_0 of the whole image minus p_0 with the patch set to 0, with "
     "p_0 = e^{z_0} / (e^{z_0} + e^{z_1})",
     _occlusion, rtol=0.0, atol=5e-4,
     mistakes=lambda: [(_logit_drops(), "the map measures the drop of the probability, not of "
                                        "the logit"),
                       (_occlusion(1), "watch class 0's probability")])

# --- ex-interpret-saturation: two classes, dp/dx = p(1 - p) d(z_t - z_o)/dx ----------------------
_P = 0.98
_add("ex-interpret-saturation", "factor", "∂p_t/∂X divided by ∂(z_t − z_o)/∂X at p_t = 0.98",
     WL, "number", "differentiate p_t = sigmoid(z_t − z_o), the logistic function of the logit "
     "difference: sigmoid' = sigmoid·(1 − sigmoid)", lambda: _P * (1 - _P), rtol=1e-3,
     mistakes=lambda: [(1 - _P, "sigmoid' = sigmoid·(1 − sigmoid): both factors"),
                       (_P, "sigmoid' = sigmoid·(1 − sigmoid): both factors"),
                       (_P * (1 - _P) ** 2,
                        "sigmoid'(u) = sigmoid(u)(1 − sigmoid(u)), one factor of each")])
