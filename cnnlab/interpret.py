"""What a trained network looks at: saliency maps, occlusion sensitivity, class activation maps.

Three ways to ask a trained classifier which parts of an input its prediction rests on:

- :func:`saliency`: the gradient of one class score with respect to the input
  pixels, computed by the model's own ``backward`` (Simonyan, Vedaldi and
  Zisserman 2014);
- :func:`occlusion_sensitivity`: how much the probability of a class drops when
  a patch of the input is covered (Zeiler and Fergus 2014); the loop-based
  :func:`occlusion_sensitivity_naive` is its oracle;
- :func:`class_activation_map`: for a network that ends in global average
  pooling and one ``Linear`` layer, the class weights applied to the last
  feature maps (Zhou et al. 2016), brought to the input's size by
  :func:`upsample_bilinear` (PyTorch's ``interpolate(mode="bilinear",
  align_corners=False)``).

Every function runs the model in evaluation mode (dropout off, batch norm on its
running statistics) and puts each layer's ``training`` flag back afterwards.  The
model's forward caches are overwritten; its parameters and their ``.grad`` are
left as they were.
"""
from __future__ import annotations

import numpy as np

from ._train_checks import check_model
from ._validate import as_pair, check_array, check_choice, check_finite, check_float, check_int
from .containers import Sequential
from .layers import Flatten, GlobalAvgPool2d, Linear
from .losses import softmax
from .module import Module

__all__ = ["saliency", "occlusion_sensitivity", "occlusion_sensitivity_naive",
           "class_activation_map", "cam_layers", "upsample_bilinear"]


# --- shared checks and the evaluation-mode wrapper ---------------------------------------------

def _check_images(x) -> np.ndarray:
    check_array(x, "x", ndim=4)
    if x.shape[0] == 0:
        raise ValueError(f"x must hold at least one image, got shape {x.shape}")
    check_finite(x, "x")
    return x


def _check_targets(target, n: int, num_classes: int) -> np.ndarray:
    """``target`` as an (n,) int array of class indices in [0, num_classes)."""
    t = np.asarray(target)
    if t.dtype.kind not in "iu" or isinstance(target, bool):
        raise TypeError(f"target must be a class index (int) or an array of {n} of them, "
                        f"got {target!r}")
    if t.ndim == 0:
        t = np.full(n, int(t))
    elif t.shape != (n,):
        raise ValueError(f"target must be one class index or one per image ({n}), "
                         f"got shape {t.shape}")
    bad = (t < 0) | (t >= num_classes)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"target must lie in [0, {num_classes}) (the model has {num_classes} "
                         f"classes), got {int(t[i])}" + (f" at index {i}" if t.size > 1 else ""))
    return t.astype(np.int64)


def _check_logits(out: np.ndarray, n: int) -> int:
    if out.ndim != 2 or out.shape[0] != n:
        raise ValueError(f"model must map (N, C, H, W) images to (N, num_classes) logits, "
                         f"got output shape {out.shape} for {n} images")
    return out.shape[1]


class _EvalMode:
    """``with _EvalMode(model):`` runs in evaluation mode, restores every layer's flag,
    and keeps the parameters' gradients as they were."""

    def __init__(self, model: Module) -> None:
        self.model = model

    def __enter__(self) -> Module:
        self.flags = [(m, m.training) for _, m in self.model._modules()]
        self.grads = [(p, p.grad) for p in self.model.parameters()]
        self.model.eval()
        return self.model

    def __exit__(self, *exc) -> None:
        for m, flag in self.flags:
            m.training = flag
        for p, grad in self.grads:
            p.grad = grad


# --- saliency ----------------------------------------------------------------------------------

def saliency(model: Module, x: np.ndarray, target, *, score: str = "logit",
             reduce: str = "max_abs") -> np.ndarray:
    """The gradient of a class score with respect to the input, through ``model.backward``.

    Parameters
    ----------
    model : Module
        A classifier mapping ``(N, C, H, W)`` images to ``(N, K)`` logits.
    x : (N, C, H, W) ndarray
        Finite images, of the model's dtype.
    target : int or (N,) array of int
        The class whose score is differentiated, one for all images or one each.
    score : {'logit', 'probability'}, default 'logit'
        What is differentiated: the logit :math:`z_t` (the default, as Simonyan et
        al.) or the softmax probability :math:`p_t`.
    reduce : {'max_abs', 'none'}, default 'max_abs'
        ``'max_abs'``: the largest absolute gradient over the channels of each
        pixel, an ``(N, H, W)`` map of how sensitive the score is to that pixel.
        ``'none'``: the raw signed gradient ``(N, C, H, W)``, which also tells the
        direction (brighter helps, or darker helps).

    Returns
    -------
    (N, H, W) or (N, C, H, W) ndarray
        Same dtype as ``x``.

    Notes
    -----
    With ``score='logit'`` the map is :math:`S = \\max_c |\\partial z_t/\\partial x_c|`,
    computed as ``model.backward(e_t)`` after a forward pass, :math:`e_t` the one-hot
    row of class :math:`t`.  The logit is the default because the probability
    saturates:

    .. math::
        \\frac{\\partial p_t}{\\partial x}
          = p_t \\Bigl(\\frac{\\partial z_t}{\\partial x}
            - \\sum_k p_k \\frac{\\partial z_k}{\\partial x}\\Bigr),

    which shrinks towards 0 as :math:`p_t \\to 1`, for the most confident
    predictions, and mixes in every other class's gradient.  ``score='probability'``
    backpropagates :math:`p_t(e_t - p)`, the row above.
    """
    model = check_model(model, "run")
    _check_images(x)
    check_choice(score, "score", ("logit", "probability"))
    check_choice(reduce, "reduce", ("max_abs", "none"))
    with _EvalMode(model):
        out = model.forward(x)
        t = _check_targets(target, len(x), _check_logits(out, len(x)))
        dout = np.zeros_like(out)
        dout[np.arange(len(x)), t] = 1.0
        if score == "probability":
            p = softmax(out)
            dout = p[np.arange(len(x)), t][:, None] * (dout - p)
        grad = model.backward(dout)
    return np.abs(grad).max(axis=1) if reduce == "max_abs" else grad


# --- occlusion ---------------------------------------------------------------------------------

def _occlusion_args(model, x, patch, stride, fill, batch_size=1):
    model = check_model(model, "run")
    _check_images(x)
    (ph, pw), (sh, sw) = as_pair(patch, "patch", 1), as_pair(stride, "stride", 1)
    h, w = x.shape[2:]
    if ph > h or pw > w:
        raise ValueError(f"patch {(ph, pw)} is larger than the images' {h}x{w}")
    fill = check_float(fill, "fill")
    return model, (ph, pw), (sh, sw), fill, check_int(batch_size, "batch_size", 1)


def _probabilities(model: Module, x: np.ndarray, n: int) -> np.ndarray:
    out = model.forward(x)
    _check_logits(out, n)
    return softmax(out)


def occlusion_sensitivity_naive(model: Module, x: np.ndarray, target, patch=4, stride=2,
                                fill: float = 0.0) -> np.ndarray:
    """The loop version of :func:`occlusion_sensitivity`: one forward pass per patch.

    Same arguments (without ``batch_size``) and result; written to be read, and
    the oracle the fast version is tested against.
    """
    model, (ph, pw), (sh, sw), fill, _ = _occlusion_args(model, x, patch, stride, fill)
    rows, cols = (x.shape[2] - ph) // sh + 1, (x.shape[3] - pw) // sw + 1
    with _EvalMode(model):
        p = _probabilities(model, x, len(x))
        t = _check_targets(target, len(x), p.shape[1])
        heat = np.zeros((len(x), rows, cols), dtype=x.dtype)
        for n in range(len(x)):
            for i in range(rows):
                for j in range(cols):
                    covered = x[n:n + 1].copy()
                    covered[:, :, i * sh:i * sh + ph, j * sw:j * sw + pw] = fill
                    heat[n, i, j] = p[n, t[n]] - _probabilities(model, covered, 1)[0, t[n]]
    return heat


def occlusion_sensitivity(model: Module, x: np.ndarray, target, patch=4, stride=2,
                          fill: float = 0.0, batch_size: int = 256) -> np.ndarray:
    """How much the probability of ``target`` drops when a patch of the input is covered.

    Parameters
    ----------
    model : Module
        A classifier mapping ``(N, C, H, W)`` images to ``(N, K)`` logits.
    x : (N, C, H, W) ndarray
        Finite images, of the model's dtype.
    target : int or (N,) array of int
        The class whose probability is watched.
    patch : int or (int, int), default 4
        Height and width of the covering patch (at most the image's).
    stride : int or (int, int), default 2
        Step between neighbouring patch positions.
    fill : float, default 0.0
        The value written over the patch, in every channel (0 is the background of
        the normalised digits of :func:`cnnlab.data.mnist_sample`).
    batch_size : int, default 256
        Covered copies sent through the model at once: the extra memory is
        ``batch_size`` images.  The result does not depend on it.

    Returns
    -------
    (N, H', W') ndarray
        ``H' = (H - patch_h) // stride_h + 1`` (likewise ``W'``): entry ``[n, i, j]``
        is the drop for the patch whose top-left corner is pixel
        ``(i * stride_h, j * stride_w)``; its centre is
        ``(i * stride_h + (patch_h - 1) / 2, ...)``.

    Notes
    -----
    With :math:`x^{(i,j)}` the image with the patch at :math:`(i, j)` set to ``fill``,

    .. math::
        D_{i,j} = p_t(x) - p_t\\bigl(x^{(i,j)}\\bigr),
        \\qquad p = \\operatorname{softmax}(z).

    :math:`D > 0`: the covered pixels supported class :math:`t`; :math:`D < 0`:
    covering them made :math:`t` more likely.  The map depends on ``fill`` (what
    "nothing here" means) and on the patch size.
    """
    model, (ph, pw), (sh, sw), fill, batch_size = _occlusion_args(model, x, patch, stride,
                                                                  fill, batch_size)
    h, w = x.shape[2:]
    rows, cols = (h - ph) // sh + 1, (w - pw) // sw + 1
    top = np.repeat(np.arange(rows) * sh, cols)                # corner of each position
    left = np.tile(np.arange(cols) * sw, rows)
    fill = np.asarray(fill, dtype=x.dtype)
    with _EvalMode(model):
        p = _probabilities(model, x, len(x))
        t = _check_targets(target, len(x), p.shape[1])
        heat = np.empty((len(x), rows * cols), dtype=x.dtype)
        for start in range(0, rows * cols, batch_size):
            r, c = top[start:start + batch_size, None], left[start:start + batch_size, None]
            in_rows = (np.arange(h) >= r) & (np.arange(h) < r + ph)           # (B, H)
            in_cols = (np.arange(w) >= c) & (np.arange(w) < c + pw)           # (B, W)
            covered_px = (in_rows[:, :, None] & in_cols[:, None, :])[:, None]  # (B, 1, H, W)
            for n in range(len(x)):
                covered = np.where(covered_px, fill, x[n])                     # (B, C, H, W)
                q = _probabilities(model, covered, len(covered))[:, t[n]]
                heat[n, start:start + len(q)] = p[n, t[n]] - q
    return heat.reshape(len(x), rows, cols)


# --- class activation maps ---------------------------------------------------------------------

def cam_layers(model: Module) -> tuple[Sequential, Linear]:
    """Split a GAP network into its feature part and its class layer.

    ``model`` must be a :class:`~cnnlab.module.Sequential` whose last layers are
    :class:`~cnnlab.layers.GlobalAvgPool2d`, optionally
    :class:`~cnnlab.layers.Flatten`, and :class:`~cnnlab.layers.Linear`.

    Returns
    -------
    features : Sequential
        Every layer before the global average pooling (sharing the model's layers).
    classifier : Linear
        The last layer; its ``weight`` is ``(K, C)``.

    Raises
    ------
    TypeError
        ``model`` is not a ``Sequential``.
    ValueError
        The layers do not end in global average pooling and one ``Linear``; the
        message names what is missing.
    """
    need = "a Sequential ending in GlobalAvgPool2d, Flatten (optional) and Linear"
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be {need}, got {type(model).__name__}")
    layers = list(model)
    if not layers or not isinstance(layers[-1], Linear):
        last = type(layers[-1]).__name__ if layers else "nothing"
        raise ValueError(f"model: a class activation map needs {need}; the last layer is "
                         f"{last}, not a Linear layer of class weights")
    k = len(layers) - 2
    if k >= 0 and isinstance(layers[k], Flatten):
        k -= 1
    if k < 0 or not isinstance(layers[k], GlobalAvgPool2d):
        ending = " -> ".join(type(m).__name__ for m in layers[max(k, 0):])
        raise ValueError(f"model: a class activation map needs {need}; it ends in {ending}, "
                         f"with no GlobalAvgPool2d before the Linear layer (which must see "
                         f"one average per feature map)")
    if k == 0:
        raise ValueError(f"model: a class activation map needs {need}, with feature layers "
                         f"before GlobalAvgPool2d; found none")
    return Sequential(*layers[:k]), layers[-1]


def _interpolation_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in): row o holds the two weights of bilinear interpolation for output o."""
    src = np.maximum((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0)
    lo = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = src - lo
    m = np.zeros((n_out, n_in))
    np.add.at(m, (np.arange(n_out), lo), 1.0 - frac)
    np.add.at(m, (np.arange(n_out), hi), frac)
    return m


def upsample_bilinear(maps: np.ndarray, size) -> np.ndarray:
    """Resize ``(..., h, w)`` maps to ``size`` by bilinear interpolation.

    Parameters
    ----------
    maps : (..., h, w) ndarray
        Float maps; leading axes (batch, channels) are kept.
    size : int or (int, int)
        The output height and width.

    Returns
    -------
    (..., H, W) ndarray
        Same dtype as ``maps``.

    Notes
    -----
    PyTorch's ``interpolate(mode="bilinear", align_corners=False)``: output pixel
    :math:`o` samples the input at :math:`s = \\max\\bigl((o + \\tfrac12)\\,h/H
    - \\tfrac12,\\ 0\\bigr)`, mixing its two neighbours :math:`\\lfloor s\\rfloor`
    and :math:`\\lfloor s\\rfloor + 1` (clamped at the edge) in proportion.  Both
    axes at once: :math:`M_h A M_w^\\top`.
    """
    check_array(maps, "maps")
    if maps.ndim < 2:
        raise ValueError(f"maps must have at least 2 dimensions (..., h, w), got shape "
                         f"{maps.shape}")
    out_h, out_w = as_pair(size, "size", 1)
    mh = _interpolation_matrix(maps.shape[-2], out_h)
    mw = _interpolation_matrix(maps.shape[-1], out_w)
    return (mh @ maps.astype(np.float64) @ mw.T).astype(maps.dtype)


def class_activation_map(model: Module, x: np.ndarray, target, *,
                         upsample: bool = True) -> np.ndarray:
    """The class activation map (CAM) of a global-average-pooling network.

    Parameters
    ----------
    model : Sequential
        Feature layers, then ``GlobalAvgPool2d``, optionally ``Flatten``, then one
        ``Linear`` (see :func:`cam_layers`; other architectures raise ``ValueError``
        naming what is missing).
    x : (N, C, H, W) ndarray
        Finite images, of the model's dtype.
    target : int or (N,) array of int
        The class whose map is computed.
    upsample : bool, default True
        Resize the map from the last feature maps' ``h x w`` to the input's
        ``H x W`` with :func:`upsample_bilinear`.

    Returns
    -------
    (N, H, W) ndarray, or (N, h, w) with ``upsample=False``
        Same dtype as ``x``.

    Notes
    -----
    With :math:`A_c` the last feature maps (:math:`h \\times w` each) and
    :math:`w_{t,c}` the class layer's weights,

    .. math::
        M_t = \\sum_c w_{t,c} A_c,
        \\qquad z_t = \\frac{1}{hw}\\sum_{i,j} (M_t)_{i,j} + b_t,

    since averaging and the weighted sum commute: the logit is the mean of the map
    plus the bias, so the map shows where that logit's evidence lies.  The bias is
    not part of the map.
    """
    features, classifier = cam_layers(model)
    check_model(model, "run")
    _check_images(x)
    if not isinstance(upsample, bool):
        raise TypeError(f"upsample must be a bool, got {upsample!r}")
    with _EvalMode(model):
        a = features.forward(x)                              # (N, C_last, h, w)
    weight = classifier.weight.data                          # (K, C_last)
    if a.ndim != 4 or a.shape[1] != weight.shape[1]:
        raise ValueError(f"model: the feature layers give shape {a.shape}, but the Linear "
                         f"layer expects {weight.shape[1]} channels")
    t = _check_targets(target, len(x), weight.shape[0])
    cam = np.einsum("nc,nchw->nhw", weight[t], a)
    return upsample_bilinear(cam, x.shape[2:]) if upsample else cam
