"""Element-wise activations: ReLU, sigmoid and tanh, with their derivatives.

Each works on arrays of any shape and keeps the input dtype.
"""
from __future__ import annotations

import numpy as np

from ._validate import check_array, check_same_dtype


def _check_dout(dout: np.ndarray, reference: np.ndarray) -> None:
    check_array(reference, "cache")  # the forward's cache is an array of its input's shape
    check_array(dout, "dout")
    check_same_dtype(dout, "dout", reference, "the forward input")
    if dout.shape != reference.shape:
        raise ValueError(f"dout must have the forward output's shape {reference.shape}, "
                         f"got {dout.shape}")


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rectified linear unit, ``max(x, 0)``.

    Parameters
    ----------
    x : ndarray, any shape

    Returns
    -------
    out : ndarray, shape of ``x``
    cache : ndarray
        The input, for :func:`relu_backward`.

    Notes
    -----
    .. math:: \\operatorname{relu}(x) = \\max(x, 0), \\qquad
              \\operatorname{relu}'(x) = [x > 0]

    The derivative at exactly 0 is taken to be 0, as in PyTorch.
    """
    check_array(x, "x")
    return np.maximum(x, 0), x


def relu_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """Gradient of :func:`relu_forward`: ``dout`` where ``x > 0``, else 0."""
    _check_dout(dout, cache)
    return dout * (cache > 0)


def relu(x: np.ndarray) -> np.ndarray:
    """``max(x, 0)`` (output of :func:`relu_forward` only)."""
    return relu_forward(x)[0]


def sigmoid_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Logistic sigmoid, computed without overflow for any ``|x|``.

    Parameters
    ----------
    x : ndarray, any shape

    Returns
    -------
    out : ndarray, shape of ``x``, values in [0, 1]
    cache : ndarray
        The output, for :func:`sigmoid_backward`.

    Notes
    -----
    .. math:: \\sigma(x) = \\frac{1}{1 + e^{-x}}, \\qquad \\sigma'(x) = \\sigma(x)(1 - \\sigma(x))

    With ``z = exp(-|x|)``, which never overflows, ``sigma(x) = 1 / (1 + z)`` for
    ``x >= 0`` and ``z / (1 + z)`` for ``x < 0``.
    """
    check_array(x, "x")
    z = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1, z) / (1 + z)
    return out, out


def sigmoid_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """Gradient of :func:`sigmoid_forward`: ``dout * s * (1 - s)``."""
    _check_dout(dout, cache)
    return dout * cache * (1 - cache)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic sigmoid (output of :func:`sigmoid_forward` only)."""
    return sigmoid_forward(x)[0]


def tanh_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hyperbolic tangent.

    Parameters
    ----------
    x : ndarray, any shape

    Returns
    -------
    out : ndarray, shape of ``x``, values in [-1, 1]
    cache : ndarray
        The output, for :func:`tanh_backward`.

    Notes
    -----
    .. math:: \\tanh'(x) = 1 - \\tanh^2(x)
    """
    check_array(x, "x")
    out = np.tanh(x)
    return out, out


def tanh_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """Gradient of :func:`tanh_forward`: ``dout * (1 - t**2)``."""
    _check_dout(dout, cache)
    return dout * (1 - cache * cache)


def tanh(x: np.ndarray) -> np.ndarray:
    """Hyperbolic tangent (output of :func:`tanh_forward` only)."""
    return tanh_forward(x)[0]
