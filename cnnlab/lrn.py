"""Local response normalisation (AlexNet's LRN), as ``torch.nn.LocalResponseNorm``.

Each activation is divided by a power of the energy in ``size`` neighbouring
channels at the same position; there are no parameters and no statistics.  A loop
oracle (:func:`local_response_norm_naive`) stands beside the vectorised kernels.
Everything here is also importable from :mod:`cnnlab.norm`.
"""
from __future__ import annotations

import numpy as np

from ._validate import (
    check_array,
    check_cache,
    check_float,
    check_input_shape,
    check_int,
    check_same_dtype,
    check_same_shape,
)
from .module import Module

__all__ = ["local_response_norm_naive", "local_response_norm_forward",
           "local_response_norm_backward", "local_response_norm_backward_naive",
           "LocalResponseNorm"]



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
    cache : dict
        For :func:`local_response_norm_backward`.
    """
    size, alpha, beta, k = _check_lrn(x, size, alpha, beta, k)
    d = k + (alpha / size) * _window_sum(x * x, size // 2, (size - 1) // 2)  # denominator base
    scale = d ** -beta
    out = x * scale
    cache = {"op": "local_response_norm", "x": x, "d": d, "scale": scale, "size": size,
             "alpha": alpha, "beta": beta}
    return out.astype(x.dtype, copy=False), cache


def local_response_norm_backward(dout: np.ndarray, cache) -> np.ndarray:
    """Gradient of :func:`local_response_norm_forward` with respect to ``x``.

    Parameters
    ----------
    dout : ndarray, shape of ``x``
    cache : dict from :func:`local_response_norm_forward`

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
    check_cache(cache, "local_response_norm")
    x, d, scale = cache["x"], cache["d"], cache["scale"]
    size, alpha, beta = cache["size"], cache["alpha"], cache["beta"]
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
