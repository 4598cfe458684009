"""Folding a trained batch normalisation into the layer before it, for inference.

In evaluation mode a batch-normalisation layer no longer looks at the batch: it
applies a fixed affine map to each channel,
``y = gamma * (z - running_mean) / sqrt(running_var + eps) + beta``.  When ``z``
is the output of a convolution or a fully connected layer, which is affine in
its input too, the two maps compose into one: scale each output channel's
filter and replace its bias.  The folded layer computes the same outputs with
one layer (and one pass over the activations) fewer.

PyTorch does the same in ``torch.nn.utils.fusion`` (``fuse_conv_bn_eval``,
``fuse_linear_bn_eval`` and ``fuse_conv_bn_weights``, whose argument order
:func:`fold_batch_norm_weights` follows).  The chapter "The loss and batch
normalisation, derived" of the book derives the formulas.
"""
from __future__ import annotations

import copy

import numpy as np

from ._validate import check_array, check_finite, check_float, check_same_dtype, check_same_shape
from .init import check_not_meta
from .layers import Conv1d, Conv2d, Linear
from .module import Parameter
from .norm import BatchNorm1d, BatchNorm2d

__all__ = ["fold_batch_norm", "fold_batch_norm_weights"]


def fold_batch_norm_weights(weight: np.ndarray, bias: np.ndarray | None,
                            running_mean: np.ndarray, running_var: np.ndarray, eps: float,
                            bn_weight: np.ndarray | None, bn_bias: np.ndarray | None
                            ) -> tuple[np.ndarray, np.ndarray]:
    """The weight and bias of a layer followed by an evaluation-mode batch norm, as one layer.

    Parameters
    ----------
    weight : (C_out, ...) ndarray
        The layer's weight, output channels first: ``(C_out, C_in // groups, kH, kW)``
        for :class:`~cnnlab.layers.Conv2d`, ``(C_out, C_in // groups, k)`` for
        :class:`~cnnlab.layers.Conv1d`, ``(out_features, in_features)`` for
        :class:`~cnnlab.layers.Linear`.
    bias : (C_out,) ndarray or None
        The layer's bias; ``None`` means zero.
    running_mean, running_var : (C_out,) ndarray
        The batch norm's running estimates, :math:`\\hat\\mu` and :math:`\\hat\\sigma^2`
        (the variance must be >= 0).
    eps : float > 0
        The batch norm's ``eps``, :math:`\\varepsilon`.
    bn_weight, bn_bias : (C_out,) ndarray or None
        The batch norm's scale :math:`\\gamma` and shift :math:`\\beta`; ``None``
        (a batch norm with ``affine=False``) means 1 and 0.

    Returns
    -------
    weight : ndarray, shape and dtype of ``weight``
    bias : (C_out,) ndarray, dtype of ``weight``
        Always returned, even when the layer had none.

    Notes
    -----
    With the per-channel factor :math:`s_o = \\gamma_o / \\sqrt{\\hat\\sigma^2_o + \\varepsilon}`:

    .. math::

        W'_o &= s_o\\, W_o , \\\\
        b'_o &= s_o\\, (b_o - \\hat\\mu_o) + \\beta_o .

    The arithmetic is done in float64 and rounded once to the weight's dtype.
    The arguments are those of ``torch.nn.utils.fusion.fuse_conv_bn_weights``
    (without its ``transpose``), in the same order.
    """
    check_array(weight, "weight")
    if weight.ndim < 2:
        raise ValueError(f"weight must have at least 2 dimensions (C_out, ...), "
                         f"got shape {weight.shape}")
    c = weight.shape[0]
    eps = check_float(eps, "eps", 0.0, low_inclusive=False)
    arrays = {"bias": bias, "running_mean": running_mean, "running_var": running_var,
              "bn_weight": bn_weight, "bn_bias": bn_bias}
    for name, arr in arrays.items():
        if arr is None and name.startswith("running"):
            raise TypeError(f"{name} must be a numpy.ndarray, got None")
        if arr is not None:
            check_array(arr, name, ndim=1)
            check_same_shape(arr, name, (c,))
            check_same_dtype(arr, name, weight, "weight")
            check_finite(arr, name)
    check_finite(weight, "weight")
    if (running_var < 0).any():
        i = int(np.argmax(running_var < 0))
        raise ValueError(f"running_var must be >= 0 (it estimates a variance), "
                         f"got {running_var[i]} at index {i}")
    f64 = {name: None if arr is None else arr.astype(np.float64)
           for name, arr in arrays.items()}
    gamma = np.ones(c) if f64["bn_weight"] is None else f64["bn_weight"]
    beta = np.zeros(c) if f64["bn_bias"] is None else f64["bn_bias"]
    b = np.zeros(c) if f64["bias"] is None else f64["bias"]
    scale = gamma / np.sqrt(f64["running_var"] + eps)  # s, one factor per output channel
    new_weight = weight.astype(np.float64) * scale.reshape((c,) + (1,) * (weight.ndim - 1))
    new_bias = scale * (b - f64["running_mean"]) + beta
    return new_weight.astype(weight.dtype), new_bias.astype(weight.dtype)


# the layer kinds that can be folded, and the batch norm each one takes
_PAIRS = ((Conv1d, BatchNorm1d), (Conv2d, BatchNorm2d), (Linear, BatchNorm1d))


def fold_batch_norm(layer: Conv2d | Conv1d | Linear, bn: BatchNorm2d | BatchNorm1d
                    ) -> Conv2d | Conv1d | Linear:
    """A copy of ``layer`` that computes ``bn(layer(x))`` of an evaluation-mode ``bn``.

    Parameters
    ----------
    layer : Conv2d, Conv1d or Linear
        The layer before the batch norm, with or without bias, any stride,
        padding, dilation and groups. Not modified.
    bn : BatchNorm2d (after a Conv2d) or BatchNorm1d (after a Conv1d or a Linear)
        In evaluation mode (``bn.eval()``), with ``num_features`` equal to the
        layer's output channels and the layer's dtype. Not modified.

    Returns
    -------
    Conv2d, Conv1d or Linear
        A new layer of the same type and settings, in evaluation mode, whose
        weight and bias are :func:`fold_batch_norm_weights` of the two layers'
        (it always has a bias). Its forward pass equals ``bn(layer(x))`` of the
        evaluation-mode pair, up to rounding.

    Raises
    ------
    TypeError
        ``layer`` is not a Conv2d, Conv1d or Linear; ``bn`` is not the batch
        norm that kind of layer takes; their dtypes differ.
    ValueError
        ``bn`` is in training mode; the channel counts differ; ``bn.running_var``
        holds a negative value.
    RuntimeError
        Either was built inside :func:`cnnlab.init.meta` (no values to fold).

    Notes
    -----
    Only evaluation mode can be folded: in training mode a batch norm divides
    by the statistics of each batch, which no fixed weight can reproduce. So a
    ``bn`` in training mode is refused rather than folded with its running
    estimates, which would silently compute something the pair does not.
    Folding is for inference: the folded layer has no batch norm left to train.
    Equivalent to ``torch.nn.utils.fusion.fuse_conv_bn_eval`` (and
    ``fuse_linear_bn_eval``).
    """
    kind = next((pair for pair in _PAIRS if isinstance(layer, pair[0])), None)
    if kind is None:
        raise TypeError(f"layer must be a Conv2d, Conv1d or Linear, got {type(layer).__name__}")
    if not isinstance(bn, kind[1]):
        raise TypeError(f"bn must be a {kind[1].__name__} to follow a {type(layer).__name__}, "
                        f"got {type(bn).__name__}")
    check_not_meta(layer, "folded", "layer")
    check_not_meta(bn, "folded", "bn")
    if bn.training:
        raise ValueError("bn is in training mode, where it normalises with each batch's own "
                         "statistics, which no folded weight can reproduce: call bn.eval() "
                         "(or model.eval()) first to fold its running estimates")
    channels = layer.out_features if isinstance(layer, Linear) else layer.out_channels
    if bn.num_features != channels:
        raise ValueError(f"bn: {type(bn).__name__}({bn.num_features}) normalises "
                         f"{bn.num_features} channels, but the layer before it has "
                         f"{channels} outputs")
    dtype = layer.weight.data.dtype
    if bn.running_mean.dtype != dtype:
        raise TypeError(f"bn must have the same dtype as layer ({dtype}), "
                        f"got {bn.running_mean.dtype}")
    weight, bias = fold_batch_norm_weights(
        layer.weight.data, None if layer.bias is None else layer.bias.data,
        bn.running_mean, bn.running_var, bn.eps,
        None if bn.weight is None else bn.weight.data, None if bn.bias is None else bn.bias.data)
    folded = copy.copy(layer)  # same settings; parameters, cache and mode replaced below
    folded.weight, folded.bias = Parameter(weight), Parameter(bias)
    folded._cache, folded._out_shape = None, None
    return folded.eval()
