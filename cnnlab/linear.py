"""Fully connected layer ``y = x W^T + b`` and the flatten that feeds it."""
from __future__ import annotations

import math

import numpy as np

from ._validate import check_array, check_cache, check_int, check_same_dtype, check_same_shape


def linear_forward(x: np.ndarray, weight: np.ndarray,
                   bias: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """Affine map of a batch of vectors (like ``torch.nn.functional.linear``).

    Parameters
    ----------
    x : (N, in_features) ndarray
    weight : (out_features, in_features) ndarray, same dtype as ``x``
    bias : (out_features,) ndarray or None

    Returns
    -------
    out : (N, out_features) ndarray
    cache : dict
        For :func:`linear_backward`.

    Notes
    -----
    .. math:: y = x W^\\top + b, \\qquad y_{nk} = b_k + \\sum_j x_{nj} W_{kj}
    """
    check_array(x, "x", ndim=2)
    check_array(weight, "weight", ndim=2)
    check_same_dtype(weight, "weight", x, "x")
    if weight.shape[1] != x.shape[1]:
        raise ValueError(f"weight: in_features {weight.shape[1]} does not match the "
                         f"{x.shape[1]} features of x (x shape {x.shape}, weight shape "
                         f"{weight.shape})")
    if bias is not None:
        check_array(bias, "bias", ndim=1)
        check_same_dtype(bias, "bias", x, "x")
        check_same_shape(bias, "bias", (weight.shape[0],))
    out = x @ weight.T
    if bias is not None:
        out += bias
    return out, {"op": "linear", "x": x, "weight": weight, "has_bias": bias is not None}


def linear_backward(dout: np.ndarray,
                    cache: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Gradients of :func:`linear_forward`.

    Parameters
    ----------
    dout : (N, out_features) ndarray
    cache : dict
        From :func:`linear_forward`; not modified.

    Returns
    -------
    dx : (N, in_features) ndarray
    dweight : (out_features, in_features) ndarray
    dbias : (out_features,) ndarray or None

    Notes
    -----
    .. math:: \\frac{\\partial L}{\\partial x} = \\delta W, \\qquad
              \\frac{\\partial L}{\\partial W} = \\delta^\\top x, \\qquad
              \\frac{\\partial L}{\\partial b} = \\sum_n \\delta_n
    """
    x, weight = check_cache(cache, "linear")["x"], cache["weight"]
    check_array(dout, "dout", ndim=2)
    check_same_dtype(dout, "dout", x, "the forward input")
    out_shape = (x.shape[0], weight.shape[0])
    if dout.shape != out_shape:
        raise ValueError(f"dout must have the forward output's shape {out_shape}, "
                         f"got {dout.shape}")
    dbias = dout.sum(axis=0) if cache["has_bias"] else None
    return dout @ weight, dout.T @ x, dbias


def linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """``x @ weight.T + bias`` (output of :func:`linear_forward` only)."""
    return linear_forward(x, weight, bias)[0]


def flatten_forward(x: np.ndarray, start_dim: int = 1) -> tuple[np.ndarray, tuple[int, ...]]:
    """Merge the dimensions from ``start_dim`` to the last (like ``torch.flatten``).

    Parameters
    ----------
    x : ndarray with at least one dimension
    start_dim : int, default 1
        First dimension to merge; negative values count from the end.

    Returns
    -------
    out : ndarray
        Shape ``x.shape[:start_dim] + (prod(x.shape[start_dim:]),)``; a view of
        ``x`` when possible, as in PyTorch.
    cache : tuple of int
        The input shape, for :func:`flatten_backward`.

    Examples
    --------
    >>> flatten_forward(np.zeros((2, 3, 4, 5)))[0].shape
    (2, 60)
    """
    check_array(x, "x")
    start_dim = check_int(start_dim, "start_dim")
    if x.ndim == 0 or not -x.ndim <= start_dim < x.ndim:
        raise ValueError(f"start_dim must be in [{-x.ndim}, {x.ndim - 1}] for x of shape "
                         f"{x.shape}, got {start_dim}")
    start_dim %= x.ndim  # an explicit size: -1 cannot be inferred for an empty batch
    return x.reshape(x.shape[:start_dim] + (math.prod(x.shape[start_dim:]),)), x.shape


def flatten_backward(dout: np.ndarray, cache: tuple[int, ...]) -> np.ndarray:
    """Gradient of :func:`flatten_forward`: ``dout`` reshaped to the input shape."""
    if not (isinstance(cache, tuple) and all(isinstance(n, int) for n in cache)):
        raise TypeError(f"cache must be the cache returned by flatten_forward (the input "
                        f"shape, a tuple of ints), got {type(cache).__name__}")
    check_array(dout, "dout")
    if dout.size != math.prod(cache) or dout.shape[:-1] != cache[:dout.ndim - 1]:
        raise ValueError(f"dout does not match the flattened output of an input of shape "
                         f"{tuple(cache)}, got {dout.shape}")
    return dout.reshape(cache)
