"""Softmax, cross-entropy and mean squared error, with their gradients.

Losses return Python floats; their backward functions take the cache first and
an optional upstream scalar ``dloss`` (1.0 when the loss is the final output).
"""
from __future__ import annotations

import numpy as np

from ._validate import (
    check_array,
    check_cache,
    check_choice,
    check_finite,
    check_float,
    check_int,
    check_same_dtype,
)

REDUCTIONS = ("mean", "sum")


def _check_logits(logits: np.ndarray, axis: int) -> int:
    check_array(logits, "logits")
    check_finite(logits, "logits")
    axis = check_int(axis, "axis")
    if logits.ndim == 0 or not -logits.ndim <= axis < logits.ndim:
        raise ValueError(f"axis must be in [{-logits.ndim}, {logits.ndim - 1}] for logits of "
                         f"shape {logits.shape}, got {axis}")
    return axis


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax along ``axis``, stable for any finite logits.

    Notes
    -----
    .. math:: \\operatorname{softmax}(z)_k = \\frac{e^{z_k - m}}{\\sum_j e^{z_j - m}},
              \\quad m = \\max_j z_j

    Subtracting the maximum changes nothing mathematically but keeps every
    exponent <= 0, so nothing overflows.
    """
    axis = _check_logits(logits, axis)
    e = np.exp(logits - logits.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Logarithm of :func:`softmax`, computed as ``z - m - log(sum(exp(z - m)))``.

    Working in the log domain keeps very negative log-probabilities finite where
    ``log(softmax(z))`` would give ``log(0) = -inf``.
    """
    axis = _check_logits(logits, axis)
    shifted = logits - logits.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _scale(reduction: str, n: int) -> float:
    return 1.0 / n if reduction == "mean" else 1.0


def cross_entropy_forward(logits: np.ndarray, labels: np.ndarray,
                          reduction: str = "mean") -> tuple[float, dict]:
    """Softmax cross-entropy of class scores against integer labels.

    Parameters
    ----------
    logits : (N, C) ndarray
        Unnormalised class scores (finite).
    labels : (N,) integer ndarray
        Class indices in ``[0, C)``.
    reduction : {"mean", "sum"}, default "mean"

    Returns
    -------
    loss : float
    cache : dict
        For :func:`cross_entropy_backward`.

    Notes
    -----
    .. math::

        L &= -\\frac{1}{N}\\sum_n \\log \\operatorname{softmax}(z_n)_{y_n} ,\\\\
        \\frac{\\partial L}{\\partial z_n} &= \\frac{1}{N}
            \\big(\\operatorname{softmax}(z_n) - \\operatorname{onehot}(y_n)\\big)

    for the mean (without the ``1/N`` for ``"sum"``), as
    ``torch.nn.functional.cross_entropy``.
    When finite float32 logits lie further apart than float32 can express (e.g.
    ``±3e38``), the log-softmax is computed in float64, so the loss stays finite.
    """
    check_array(logits, "logits", ndim=2)
    check_array(labels, "labels", ndim=1, floating=False)
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels must have an integer dtype (class indices), got {labels.dtype}")
    check_choice(reduction, "reduction", REDUCTIONS)
    n, c = logits.shape
    if n == 0 or c == 0:
        raise ValueError(f"logits must have at least one row and one class, got shape "
                         f"{logits.shape}")
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},) to match logits {logits.shape}, "
                         f"got {labels.shape}")
    bad = (labels < 0) | (labels >= c)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"labels must be in [0, {c}) for {c} classes, got {labels[i]} "
                         f"at index {i}")
    with np.errstate(over="ignore"):
        logp = log_softmax(logits, axis=1)
    if not np.isfinite(logp).all():  # z - max(z) overflowed: finite logits further apart
        logp = log_softmax(logits.astype(np.float64), axis=1)  # than the dtype's range
    loss = -logp[np.arange(n), labels].sum() * _scale(reduction, n)
    probs = np.exp(logp).astype(logits.dtype, copy=False)
    return float(loss), {"op": "cross_entropy", "probs": probs, "labels": labels.copy(),
                         "reduction": reduction}


def cross_entropy_backward(cache: dict, dloss: float = 1.0) -> np.ndarray:
    """Gradient of :func:`cross_entropy_forward` with respect to the logits.

    Parameters
    ----------
    cache : dict
        From :func:`cross_entropy_forward`; not modified.
    dloss : float, default 1.0
        Upstream gradient of the scalar loss.

    Returns
    -------
    dlogits : (N, C) ndarray
        ``dloss * (softmax(logits) - onehot(labels))``, divided by N for "mean".
    """
    dloss = check_float(dloss, "dloss")
    probs, labels = check_cache(cache, "cross_entropy")["probs"], cache["labels"]
    n = probs.shape[0]
    dlogits = probs.copy()
    dlogits[np.arange(n), labels] -= 1
    dlogits *= dloss * _scale(cache["reduction"], n)
    return dlogits


def cross_entropy(logits: np.ndarray, labels: np.ndarray, reduction: str = "mean") -> float:
    """Cross-entropy loss value only (see :func:`cross_entropy_forward`)."""
    return cross_entropy_forward(logits, labels, reduction)[0]


def mse_forward(pred: np.ndarray, target: np.ndarray,
                reduction: str = "mean") -> tuple[float, dict]:
    """Mean (or summed) squared error, like ``torch.nn.functional.mse_loss``.

    Parameters
    ----------
    pred : ndarray, any shape
    target : ndarray, same shape and dtype as ``pred``
    reduction : {"mean", "sum"}, default "mean"

    Returns
    -------
    loss : float
    cache : dict
        For :func:`mse_backward`.

    Notes
    -----
    .. math:: L = \\frac{1}{M}\\sum_i (p_i - t_i)^2, \\qquad
              \\frac{\\partial L}{\\partial p_i} = \\frac{2}{M}(p_i - t_i)

    with ``M = pred.size`` for "mean" and ``M = 1`` for "sum".
    """
    check_array(pred, "pred")
    check_array(target, "target")
    check_same_dtype(target, "target", pred, "pred")
    if target.shape != pred.shape:
        raise ValueError(f"target must have the shape of pred {pred.shape}, got {target.shape}")
    if pred.size == 0:
        raise ValueError(f"pred must not be empty, got shape {pred.shape}")
    check_finite(pred, "pred")
    check_finite(target, "target")
    check_choice(reduction, "reduction", REDUCTIONS)
    diff = pred - target
    loss = np.sum(diff * diff) * _scale(reduction, diff.size)
    return float(loss), {"op": "mse", "diff": diff, "reduction": reduction}


def mse_backward(cache: dict, dloss: float = 1.0) -> np.ndarray:
    """Gradient of :func:`mse_forward` with respect to ``pred``: ``2 (pred - target) / M``."""
    dloss = check_float(dloss, "dloss")
    diff = check_cache(cache, "mse")["diff"]
    return diff * (2.0 * dloss * _scale(cache["reduction"], diff.size))


def mse(pred: np.ndarray, target: np.ndarray, reduction: str = "mean") -> float:
    """Mean squared error value only (see :func:`mse_forward`)."""
    return mse_forward(pred, target, reduction)[0]


class _Loss:
    """A loss function that remembers its last forward pass for ``backward``."""

    _forward = None
    _backward = None

    def __init__(self, reduction: str = "mean") -> None:
        self.reduction = check_choice(reduction, "reduction", REDUCTIONS)
        self.cache: dict | None = None

    def forward(self, input: np.ndarray, target: np.ndarray) -> float:
        loss, self.cache = type(self)._forward(input, target, self.reduction)
        return loss

    __call__ = forward

    def backward(self, dloss: float = 1.0) -> np.ndarray:
        """Gradient of the last forward pass's loss with respect to its input."""
        if self.cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return type(self)._backward(self.cache, dloss)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reduction={self.reduction!r})"


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy, like ``torch.nn.CrossEntropyLoss``.

    ``forward(input, target)`` takes logits ``(N, C)`` and integer labels ``(N,)``
    and returns the loss; ``backward(dloss=1.0)`` returns ``dlogits``.
    """

    _forward = staticmethod(cross_entropy_forward)
    _backward = staticmethod(cross_entropy_backward)


class MSELoss(_Loss):
    """Mean squared error, like ``torch.nn.MSELoss``.

    ``forward(input, target)`` returns the loss; ``backward(dloss=1.0)`` returns
    the gradient with respect to ``input``.
    """

    _forward = staticmethod(mse_forward)
    _backward = staticmethod(mse_backward)
