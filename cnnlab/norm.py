"""Normalisation layers: batch normalisation and local response normalisation.

Statistics are taken per channel (axis 1) over every other axis: over ``N``
for ``(N, C)`` input and over ``N, H, W`` for ``(N, C, H, W)`` input.
PyTorch's conventions are followed exactly: the batch is normalised with the
*biased* variance, while the running estimate is updated with the *unbiased*
one, ``running = (1 - momentum) * running + momentum * batch_statistic``.

Local response normalisation (AlexNet's LRN, ``torch.nn.LocalResponseNorm``)
divides each activation by a power of the energy in ``size`` neighbouring
channels at the same position; it has no parameters and no statistics.  It is
written in ``cnnlab/lrn.py`` and importable from here.
"""
from __future__ import annotations

import numpy as np

from ._validate import (
    check_array,
    check_cache,
    check_dtype,
    check_float,
    check_input,
    check_input_shape,
    check_int,
    check_memory,
    check_same_dtype,
    check_same_shape,
)
from .module import Module, Parameter

__all__ = ["batch_norm_forward", "batch_norm_backward", "BatchNorm1d", "BatchNorm2d",
           "local_response_norm_naive", "local_response_norm_forward",
           "local_response_norm_backward", "local_response_norm_backward_naive",
           "LocalResponseNorm"]


def _axes_and_shape(x: np.ndarray) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Reduction axes (all but 1) and the broadcast shape (1, C, 1, ...)."""
    axes = (0,) + tuple(range(2, x.ndim))
    return axes, (1, x.shape[1]) + (1,) * (x.ndim - 2)


def batch_norm_forward(x: np.ndarray, gamma: np.ndarray | None, beta: np.ndarray | None,
                       running_mean: np.ndarray, running_var: np.ndarray, training: bool,
                       momentum: float = 0.1, eps: float = 1e-5):
    """Normalise each channel, then scale by ``gamma`` and shift by ``beta``.

    Parameters
    ----------
    x : ndarray, (N, C) or (N, C, ...) e.g. (N, C, H, W)
    gamma, beta : ndarray (C,) or None
        Scale and shift; ``None`` means 1 and 0 (no affine transform).
    running_mean, running_var : ndarray, (C,)
        Running estimates. Read, never modified: updated copies are returned.
    training : bool
        ``True``: use batch statistics and update the running estimates.
        ``False``: use the running estimates.
    momentum : float in [0, 1], default 0.1
    eps : float > 0, default 1e-5

    Returns
    -------
    out : ndarray, same shape as x
    cache : dict
        For :func:`batch_norm_backward`.
    new_running_mean, new_running_var : ndarray, (C,)
        Equal to the inputs when ``training`` is False.

    Raises
    ------
    FloatingPointError
        In training, the batch statistics are not finite (``x`` holds NaN or
        infinity, or its variance overflows): the running estimates would be
        poisoned for good, so nothing is returned.

    Notes
    -----
    With ``m`` values per channel, ``mu = mean(x)``, ``var = mean((x - mu)**2)``:

    ``x_hat = (x - mu) / sqrt(var + eps)``, ``out = gamma * x_hat + beta``,
    ``running_var <- (1 - momentum) * running_var + momentum * var * m / (m - 1)``.
    """
    check_array(x, "x")
    if x.ndim < 2:
        raise ValueError(f"x must have at least 2 dimensions (N, C, ...), got shape {x.shape}")
    c = x.shape[1]
    for name, arr in (("gamma", gamma), ("beta", beta), ("running_mean", running_mean),
                      ("running_var", running_var)):
        if arr is not None or name.startswith("running"):
            check_array(arr, name, ndim=1)
            check_same_shape(arr, name, (c,))
            check_same_dtype(arr, name, x, "x")
    if not isinstance(training, bool):
        raise TypeError(f"training must be a bool, got {training!r}")
    momentum = check_float(momentum, "momentum", 0.0, 1.0)
    eps = check_float(eps, "eps", 0.0, low_inclusive=False)
    axes, bshape = _axes_and_shape(x)
    if training:
        m = x.size // c
        if m < 2:
            raise ValueError(f"x: training needs more than 1 value per channel, "
                             f"got shape {x.shape}")
        mean = x.mean(axis=axes)
        with np.errstate(over="ignore"):  # an overflow is reported below, as a ValueError
            var = x.var(axis=axes)  # biased: divides by m
        if not (np.isfinite(mean).all() and np.isfinite(var).all()):
            raise FloatingPointError(_not_finite(x, var))
        new_mean = (1 - momentum) * running_mean + momentum * mean
        new_var = (1 - momentum) * running_var + momentum * var * (m / (m - 1))
    else:
        mean, var = running_mean, running_var
        new_mean, new_var = running_mean.copy(), running_var.copy()
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mean.reshape(bshape)) * inv_std.reshape(bshape)
    g = np.ones(c, x.dtype) if gamma is None else gamma
    out = x_hat * g.reshape(bshape)
    if beta is not None:
        out = out + beta.reshape(bshape)
    cache = {"op": "batch_norm", "x_hat": x_hat, "gamma": g, "inv_std": inv_std,
             "training": training, "affine": gamma is not None}
    return out.astype(x.dtype, copy=False), cache, new_mean, new_var


def _not_finite(x: np.ndarray, var: np.ndarray) -> str:
    """Why the batch statistics of ``x`` are not finite, naming the first culprit."""
    finite = np.isfinite(x)
    if not finite.all():
        index = tuple(int(i) for i in np.argwhere(~finite)[0])
        what = f"x holds {x[index]} at index {index}"
    else:
        what = (f"x: the variance of channel {int(np.argmax(~np.isfinite(var)))} overflows "
                f"{x.dtype} (values up to {np.abs(x).max():.3g})")
    return (f"{what}, so the batch statistics are not finite; the running mean and variance "
            f"are left as they were")


def batch_norm_backward(dout: np.ndarray, cache):
    """Gradients of batch normalisation.

    Parameters
    ----------
    dout : ndarray, same shape as x
    cache : dict from :func:`batch_norm_forward`

    Returns
    -------
    dx : ndarray, same shape as x
    dgamma, dbeta : ndarray (C,) or None
        ``None`` when the forward pass had no affine transform.

    Notes
    -----
    Training mode (batch statistics depend on ``x``), with ``m`` values per channel
    and sums over all axes but C:

    ``dx = gamma * inv_std / m * (m * dout - sum(dout) - x_hat * sum(dout * x_hat))``.

    Evaluation mode (fixed statistics): ``dx = gamma * inv_std * dout``.
    """
    check_cache(cache, "batch_norm")
    x_hat, g, inv_std = cache["x_hat"], cache["gamma"], cache["inv_std"]
    training, affine = cache["training"], cache["affine"]
    check_array(dout, "dout")
    check_same_shape(dout, "dout", x_hat.shape)
    check_same_dtype(dout, "dout", x_hat, "x")
    axes, bshape = _axes_and_shape(dout)
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * x_hat).sum(axis=axes)
    scale = (g * inv_std).reshape(bshape)
    if training:
        m = dout.size // dout.shape[1]
        dx = scale / m * (m * dout - dbeta.reshape(bshape) - x_hat * dgamma.reshape(bshape))
    else:
        dx = scale * dout
    if not affine:
        return dx.astype(dout.dtype, copy=False), None, None
    return dx.astype(dout.dtype, copy=False), dgamma, dbeta


class _BatchNorm(Module):
    """Shared code of :class:`BatchNorm1d` and :class:`BatchNorm2d`."""

    _ndims: tuple[int, ...] = (4,)
    _buffer_names = ("running_mean", "running_var")

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = True, *, dtype=np.float32) -> None:
        super().__init__()
        self.num_features = check_int(num_features, "num_features", 1)
        self.eps = check_float(eps, "eps", 0.0, low_inclusive=False)
        self.momentum = check_float(momentum, "momentum", 0.0, 1.0)
        dtype = check_dtype(dtype)
        check_memory(6 * num_features * dtype.itemsize, "num_features",
                     f"{type(self).__name__}({num_features}): its parameters, gradients and "
                     f"running statistics")
        self.affine = bool(affine)
        self.weight = Parameter(np.ones(num_features, dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_features, dtype)) if affine else None
        self.running_mean = np.zeros(num_features, dtype)
        self.running_var = np.ones(num_features, dtype)

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_input(x, self._ndims, self.num_features, dtype=self.running_mean.dtype)
        gamma = None if self.weight is None else self.weight.data
        beta = None if self.bias is None else self.bias.data
        out, cache, self.running_mean, self.running_var = batch_norm_forward(
            x, gamma, beta, self.running_mean, self.running_var, self.training,
            self.momentum, self.eps)
        return self._save(cache, out)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dx, dgamma, dbeta = batch_norm_backward(dout, self._load(dout))
        if self.affine:
            self.weight.accumulate(dgamma)
            self.bias.accumulate(dbeta)
        return dx

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        ndim = len(input_shape) if isinstance(input_shape, (tuple, list)) else None
        ndim = ndim if ndim in self._ndims else self._ndims[0]
        return check_input_shape(input_shape, ndim, type(self).__name__, self.num_features)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}")


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) input, per channel over N, H, W.

    Parameters
    ----------
    num_features : int
        Number of channels C.
    eps : float, default 1e-5
    momentum : float, default 0.1
    affine : bool, default True
        Learn ``weight`` (gamma, starts at 1) and ``bias`` (beta, starts at 0).
    dtype : float32 or float64

    Attributes
    ----------
    weight, bias : Parameter (C,) or None
    running_mean, running_var : ndarray (C,)
        Buffers (not parameters), start at 0 and 1; replaced by updated arrays
        on every training-mode forward pass, used in evaluation mode.
    """


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) input; see :class:`BatchNorm2d`."""

    _ndims = (2, 3)


# Local response normalisation has its own module; importable from here, where it was
# first defined (``cnnlab.norm.LocalResponseNorm`` and the book's references keep working).
from .lrn import (  # noqa: E402
    LocalResponseNorm,
    local_response_norm_backward,
    local_response_norm_backward_naive,
    local_response_norm_forward,
    local_response_norm_naive,
)
