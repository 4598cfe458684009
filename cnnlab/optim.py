"""Optimisers with PyTorch's exact update rules: ``SGD`` and ``Adam``.

An optimiser keeps a list of :class:`~cnnlab.module.Parameter` objects and,
on :meth:`Optimizer.step`, updates each ``p.data`` **in place** from ``p.grad`` (that is
its job: the layers see the new values without being told). Its own state
(momentum, moments) is updated in place too; ``p.grad`` is only read.
Parameters with ``requires_grad=False`` are skipped.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ._validate import check_float
from .module import Parameter

__all__ = ["Optimizer", "SGD", "Adam"]


class Optimizer:
    """Base class: validates and stores the parameters; ``zero_grad`` resets them.

    Parameters
    ----------
    params : iterable of Parameter
        E.g. ``model.parameters()``. Must not be empty.
    lr : float > 0
        Learning rate.
    """

    def __init__(self, params: Iterable[Parameter], lr: float) -> None:
        if isinstance(params, (Parameter, np.ndarray)) or not isinstance(params, Iterable):
            raise TypeError(f"params must be an iterable of Parameter, got {type(params).__name__}")
        self.params = list(params)
        if not self.params:
            raise ValueError("params: got an empty list of parameters")
        first: dict[int, int] = {}
        for i, p in enumerate(self.params):
            if not isinstance(p, Parameter):
                raise TypeError(f"params[{i}] must be a Parameter, got {type(p).__name__}")
            if p.is_meta:
                raise RuntimeError(f"params[{i}] {p.shape} was built inside cnnlab.init.meta(): "
                                   f"it has a shape but no values to train")
            j = first.setdefault(id(p), i)
            if j != i:
                raise ValueError(f"params[{i}] is params[{j}] again: each parameter may appear "
                                 f"once, or a step would update it twice "
                                 f"(model.parameters() lists each once)")
        self.lr = check_float(lr, "lr", 0.0, low_inclusive=False)
        self.state: list[dict] = [{} for _ in self.params]

    def zero_grad(self) -> None:
        """Reset the gradient of every parameter to zero."""
        for p in self.params:
            p.zero_grad()

    def step(self) -> None:
        """Update every trainable parameter once from its current gradient.

        Raises
        ------
        FloatingPointError
            A gradient holds NaN or infinity.  Every gradient is checked before
            anything is updated, so the parameters and the optimiser's state
            (momentum, moments) stay as they were instead of being poisoned.
        """
        for i, p in enumerate(self.params):
            if p.requires_grad and not np.isfinite(p.grad).all():
                index = tuple(int(k) for k in np.argwhere(~np.isfinite(p.grad))[0])
                raise FloatingPointError(f"params[{i}] {p.shape}: the gradient is not finite "
                                         f"({p.grad[index]} at index {index}); step() changed "
                                         f"nothing")
        for p, state in zip(self.params, self.state, strict=True):
            if p.requires_grad:
                self._update(p, state)

    def _update(self, p: Parameter, state: dict) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum and L2 weight decay.

    Parameters
    ----------
    params : iterable of Parameter
    lr : float > 0
    momentum : float >= 0, default 0
    weight_decay : float >= 0, default 0
    nesterov : bool, default False
        Needs ``momentum > 0``.

    Notes
    -----
    PyTorch's rule (dampening 0), per parameter ``p`` with gradient ``g``::

        g = g + weight_decay * p
        buf = g                      (first step)
        buf = momentum * buf + g     (later steps)
        update = g + momentum * buf  if nesterov else buf
        p = p - lr * update

    With ``momentum=0`` the update is just ``g``.
    """

    def __init__(self, params: Iterable[Parameter], lr: float, momentum: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False) -> None:
        super().__init__(params, lr)
        self.momentum = check_float(momentum, "momentum", 0.0)
        self.weight_decay = check_float(weight_decay, "weight_decay", 0.0)
        if not isinstance(nesterov, bool):
            raise TypeError(f"nesterov must be a bool, got {nesterov!r}")
        if nesterov and self.momentum == 0.0:
            raise ValueError("nesterov=True needs momentum > 0, got momentum 0.0")
        self.nesterov = nesterov

    def _update(self, p: Parameter, state: dict) -> None:
        g = p.grad + self.weight_decay * p.data if self.weight_decay else p.grad
        if self.momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = g.copy()
            else:  # buf = momentum * buf + g, in place
                np.multiply(buf, self.momentum, out=buf)
                buf += g
            g = g + self.momentum * buf if self.nesterov else buf
        p.data -= self.lr * g  # in place: the layers keep seeing p.data


class Adam(Optimizer):
    """Adam with bias-corrected moments and L2 weight decay (PyTorch's ``Adam``).

    Parameters
    ----------
    params : iterable of Parameter
    lr : float > 0, default 1e-3
    betas : (float, float) in [0, 1), default (0.9, 0.999)
    eps : float > 0, default 1e-8
    weight_decay : float >= 0, default 0
        Added to the gradient (``g + weight_decay * p``), not decoupled as in AdamW.

    Notes
    -----
    At step ``t`` (starting at 1)::

        g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    ``eps`` is added *after* the bias correction of ``sqrt(v)``, as in PyTorch.
    """

    def __init__(self, params: Iterable[Parameter], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas must be a pair of floats, got {betas!r}")
        self.betas = tuple(check_float(b, "betas", 0.0, 1.0, high_inclusive=False)
                           for b in betas)
        self.eps = check_float(eps, "eps", 0.0, low_inclusive=False)
        self.weight_decay = check_float(weight_decay, "weight_decay", 0.0)

    def _update(self, p: Parameter, state: dict) -> None:
        beta1, beta2 = self.betas
        g = p.grad + self.weight_decay * p.data if self.weight_decay else p.grad
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(p.data), exp_avg_sq=np.zeros_like(p.data))
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        np.multiply(m, beta1, out=m)  # m = beta1 * m + (1 - beta1) * g, in place
        m += (1 - beta1) * g
        np.multiply(v, beta2, out=v)  # v = beta2 * v + (1 - beta2) * g * g
        v += (1 - beta2) * g * g
        step_size = self.lr / (1 - beta1 ** t)
        denom = np.sqrt(v)
        denom /= np.sqrt(1 - beta2 ** t)
        denom += self.eps
        p.data -= step_size * m / denom
