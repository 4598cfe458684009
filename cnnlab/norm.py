"""Normalisation layers: batch normalisation and local response normalisation.

Statistics are taken per channel (axis 1) over every other axis: over ``N``
for ``(N, C)`` input and over ``N, H, W`` for ``(N, C, H, W)`` input.
PyTorch's conventions are followed exactly: the batch is normalised with the
*biased* variance, while the running estimate is updated with the *unbiased*
one, ``running = (1 - momentum) * running + momentum * batch_statistic``.

Local response normalisation (AlexNet's LRN, ``torch.nn.LocalResponseNorm``)
divides each activation by a power of the energy in ``size`` neighbouring
channels at the same position; it has no parameters and no statistics.
"""
from __future__ import annotations

import numpy as np

from ._validate import (check_array, check_float, check_int, check_same_dtype,
                        check_same_shape)
from .module import Module, Parameter, check_dtype, check_input, check_input_shape

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
    cache : tuple
        For :func:`batch_norm_backward`.
    new_running_mean, new_running_var : ndarray, (C,)
        Equal to the inputs when ``training`` is False.

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
        var = x.var(axis=axes)  # biased: divides by m
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
    cache = (x_hat, g, inv_std, training, gamma is not None)
    return out.astype(x.dtype, copy=False), cache, new_mean, new_var


def batch_norm_backward(dout: np.ndarray, cache):
    """Gradients of batch normalisation.

    Parameters
    ----------
    dout : ndarray, same shape as x
    cache : tuple from :func:`batch_norm_forward`

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
    x_hat, g, inv_std, training, affine = cache
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


# ------------------------------------------------------ local response normalisation


def _check_lrn(x, size, alpha, beta, k):
    """Validate LRN arguments; return them as ``(size, alpha, beta, k)``."""
    check_array(x, "x")
    if x.ndim < 3:
        raise ValueError(f"x must have at least 3 dimensions (N, C, ...), got shape {x.shape}")
    size = check_int(size, "size", 1)
    alpha = check_float(alpha, "alpha", 0.0)
    beta = check_float(beta, "beta", 0.0)
    k = check_float(k, "k", 0.0, low_inclusive=False)
    return size, alpha, beta, k


def _window_sum(a: np.ndarray, before: int, after: int) -> np.ndarray:
    """``s[:, c] = sum(a[:, c - before : c + after + 1])`` along axis 1, zeros outside.

    One slice-add per window offset (``before + after + 1`` of them): no loop over
    pixels or channels.
    """
    pad = [(0, 0)] * a.ndim
    pad[1] = (before, after)
    ap = np.pad(a, pad)
    c = a.shape[1]
    s = ap[:, 0:c].copy()
    for j in range(1, before + after + 1):
        s += ap[:, j:j + c]
    return s


def local_response_norm_naive(x: np.ndarray, size: int, alpha: float = 1e-4,
                              beta: float = 0.75, k: float = 1.0) -> np.ndarray:
    """Local response normalisation with an explicit loop over channels (the oracle).

    Parameters
    ----------
    x : ndarray, (N, C, H, W), (N, C, L) or (N, C, ...)
    size : int >= 1
        Number of channels in each window (the channel itself included).
    alpha : float >= 0, default 1e-4
    beta : float >= 0, default 0.75
    k : float > 0, default 1.0

    Returns
    -------
    out : ndarray, shape and dtype of ``x``

    Notes
    -----
    Channel ``c`` is divided by a power of the mean square over the window
    ``c - size//2 .. c + (size-1)//2`` (channels outside ``0 .. C-1`` count as 0;
    the window is one channel longer *before* ``c`` when ``size`` is even), exactly
    as ``torch.nn.LocalResponseNorm``:

    .. math:: b_c = a_c \\Big/ \\Big(k + \\frac{\\alpha}{n}
              \\sum_{j=c-\\lfloor n/2 \\rfloor}^{c+\\lfloor (n-1)/2 \\rfloor} a_j^2\\Big)^{\\beta}
    """
    size, alpha, beta, k = _check_lrn(x, size, alpha, beta, k)
    channels = x.shape[1]
    out = np.empty_like(x)
    for c in range(channels):
        lo, hi = max(0, c - size // 2), min(channels, c + (size - 1) // 2 + 1)
        energy = np.sum(x[:, lo:hi] ** 2, axis=1)
        out[:, c] = x[:, c] / (k + alpha / size * energy) ** beta
    return out


def local_response_norm_forward(x: np.ndarray, size: int, alpha: float = 1e-4,
                                beta: float = 0.75, k: float = 1.0):
    """Vectorised local response normalisation; see :func:`local_response_norm_naive`.

    Returns
    -------
    out : ndarray, shape and dtype of ``x``
    cache : tuple
        For :func:`local_response_norm_backward`.
    """
    size, alpha, beta, k = _check_lrn(x, size, alpha, beta, k)
    d = k + (alpha / size) * _window_sum(x * x, size // 2, (size - 1) // 2)  # denominator base
    scale = d ** -beta
    out = x * scale
    return out.astype(x.dtype, copy=False), (x, d, scale, size, alpha, beta)


def local_response_norm_backward(dout: np.ndarray, cache) -> np.ndarray:
    """Gradient of :func:`local_response_norm_forward` with respect to ``x``.

    Parameters
    ----------
    dout : ndarray, shape of ``x``
    cache : tuple from :func:`local_response_norm_forward`

    Returns
    -------
    dx : ndarray, shape and dtype of ``x``

    Notes
    -----
    With ``d_c = k + (alpha/n) sum_{j in W(c)} x_j^2``, ``x_j`` appears in the
    denominators of every ``c`` whose window holds ``j``, i.e. in the *mirrored*
    window ``j - (n-1)//2 .. j + n//2``:

    ``dx_j = dout_j d_j^-beta``
    ``- (2 alpha beta / n) x_j sum_{c: j in W(c)} dout_c x_c d_c^(-beta-1)``.
    """
    x, d, scale, size, alpha, beta = cache
    check_array(dout, "dout")
    check_same_shape(dout, "dout", x.shape)
    check_same_dtype(dout, "dout", x, "x")
    g = dout * x * scale / d  # dout_c x_c d_c^(-beta-1)
    mirrored = _window_sum(g, (size - 1) // 2, size // 2)
    dx = dout * scale - (2.0 * alpha * beta / size) * x * mirrored
    return dx.astype(x.dtype, copy=False)


def local_response_norm_backward_naive(dout: np.ndarray, x: np.ndarray, size: int,
                                       alpha: float = 1e-4, beta: float = 0.75,
                                       k: float = 1.0) -> np.ndarray:
    """Loop version of :func:`local_response_norm_backward` (the oracle): every output
    channel ``c`` sends gradient to each input channel ``j`` of its window."""
    size, alpha, beta, k = _check_lrn(x, size, alpha, beta, k)
    check_array(dout, "dout")
    check_same_shape(dout, "dout", x.shape)
    check_same_dtype(dout, "dout", x, "x")
    channels = x.shape[1]
    dx = np.zeros_like(x)
    for c in range(channels):
        lo, hi = max(0, c - size // 2), min(channels, c + (size - 1) // 2 + 1)
        d = k + alpha / size * np.sum(x[:, lo:hi] ** 2, axis=1)
        dx[:, c] += dout[:, c] * d ** -beta
        for j in range(lo, hi):
            dx[:, j] -= 2 * alpha * beta / size * dout[:, c] * x[:, c] * d ** (-beta - 1) * x[:, j]
    return dx


class LocalResponseNorm(Module):
    """Local response normalisation across channels (AlexNet), as ``torch.nn.LocalResponseNorm``.

    Parameters
    ----------
    size : int >= 1
        Channels per window.
    alpha : float >= 0, default 1e-4
    beta : float >= 0, default 0.75
    k : float > 0, default 1.0

    Notes
    -----
    No parameters; works on (N, C, H, W), (N, C, L) or any (N, C, ...) input of
    either float dtype. Formula in :func:`local_response_norm_naive`. AlexNet
    used ``size=5, alpha=1e-4, beta=0.75, k=2``; PyTorch divides ``alpha`` by
    ``size`` (the paper did not), so the paper's setting is ``alpha=5e-4`` here.
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75,
                 k: float = 1.0) -> None:
        super().__init__()
        self.size = check_int(size, "size", 1)
        self.alpha = check_float(alpha, "alpha", 0.0)
        self.beta = check_float(beta, "beta", 0.0)
        self.k = check_float(k, "k", 0.0, low_inclusive=False)

    def forward(self, x: np.ndarray) -> np.ndarray:
        out, cache = local_response_norm_forward(x, self.size, self.alpha, self.beta, self.k)
        return self._save(cache, out)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return local_response_norm_backward(dout, self._load(dout))

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = check_input_shape(input_shape, None, "LocalResponseNorm")
        if len(shape) < 3:
            raise ValueError(f"input_shape: LocalResponseNorm expects at least 3 dimensions "
                             f"(N, C, ...), got {shape}")
        return shape

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
