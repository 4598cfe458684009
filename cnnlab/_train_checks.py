"""Checks of what ``fit``, ``evaluate`` and ``predict`` are given (internal).

Private helper of :mod:`cnnlab.train`.  Everything is checked before the first
forward pass, so a refused call changes nothing, not even batch norm's running
statistics: the arrays (finite values, one label per sample), the labels against
the model's number of classes (found with ``output_shape``, without running the
model), the loss, the optimiser and the callbacks.  Messages name the argument and
the sample: ``train_data: y[137] is 12, but the model has 10 classes``.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ._validate import check_finite
from .init import check_not_meta
from .losses import CrossEntropyLoss, MSELoss
from .module import Module

Pair = tuple[np.ndarray, np.ndarray]  # (x, y)


def check_model(model, action: str) -> Module:
    """A cnnlab Module with values (not built inside ``meta()``)."""
    if not isinstance(model, Module):
        raise TypeError(f"model must be a cnnlab Module, got {type(model).__name__}")
    check_not_meta(model, action, "model")
    return model


def check_loss(loss):
    if not (callable(getattr(loss, "forward", None)) and callable(getattr(loss, "backward", None))):
        raise TypeError(f"loss must be a cnnlab loss object with forward and backward "
                        f"(e.g. CrossEntropyLoss()), got {type(loss).__name__}")
    return loss


def check_optimizer(optimizer, model: Module):
    if not (callable(getattr(optimizer, "step", None))
            and callable(getattr(optimizer, "zero_grad", None))):
        raise TypeError(f"optimizer must have step() and zero_grad() (e.g. cnnlab.optim.Adam), "
                        f"got {type(optimizer).__name__}")
    own = {id(p) for p in model.parameters()}
    if any(id(p) not in own for p in getattr(optimizer, "params", ())):
        raise ValueError("optimizer updates parameters that are not the model's: build it "
                         "with optimizer = Adam(model.parameters(), ...) for this model")
    return optimizer


def check_callbacks(callbacks, base: type) -> list:
    if isinstance(callbacks, base) or not isinstance(callbacks, Iterable):
        raise TypeError(f"callbacks must be a list of Callback objects, got "
                        f"{type(callbacks).__name__}")
    callbacks = list(callbacks)
    for i, cb in enumerate(callbacks):
        if not isinstance(cb, base):
            raise TypeError(f"callbacks[{i}] must be a Callback, got {type(cb).__name__}")
    return callbacks


def check_samples(x, name: str) -> np.ndarray:
    """A non-empty array of samples; float samples must be finite (the first bad one named)."""
    if not isinstance(x, np.ndarray) or x.ndim == 0 or len(x) == 0:
        raise ValueError(f"{name} must be a non-empty numpy array of samples, got "
                         f"{type(x).__name__}{getattr(x, 'shape', '')}")
    if x.dtype.kind in "fc":
        check_finite(x, name)
    return x


def check_data(data, name: str) -> Pair:
    """An ``(x, y)`` pair: one entry of ``y`` per sample of ``x``, finite floats."""
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"{name} must be a pair (x, y) of arrays, got {type(data).__name__}")
    x, y = data
    if not isinstance(x, np.ndarray) or not isinstance(y, np.ndarray):
        raise TypeError(f"{name} must be a pair (x, y) of numpy arrays, got "
                        f"({type(x).__name__}, {type(y).__name__})")
    if x.ndim == 0 or len(x) == 0:
        raise ValueError(f"{name}: x must hold at least one sample, got shape {x.shape}")
    if y.ndim == 0 or len(y) != len(x):
        raise ValueError(f"{name}: y must have one entry per sample of x ({len(x)}), "
                         f"got shape {y.shape}")
    check_samples(x, f"{name}: x")
    return x, y


def check_augment(augment, x: np.ndarray) -> np.ndarray:
    """``x`` as the model sees it in training: ``augment(x[:1], ...)``, or ``x`` itself.

    The trial run draws from a generator of its own, so ``fit``'s ``rng`` is untouched.
    """
    if augment is None:
        return x
    if not callable(augment):
        raise TypeError(f"augment must be a callable (x_batch, rng) -> x_batch, or None, got "
                        f"{type(augment).__name__}")
    try:
        out = augment(x[:1], np.random.default_rng(0))
    except (TypeError, ValueError) as err:
        kind = TypeError if isinstance(err, TypeError) else ValueError
        raise kind(f"augment: fails on a batch of train_data: {err}") from err
    if not isinstance(out, np.ndarray) or out.ndim != x.ndim or len(out) != 1:
        raise TypeError(f"augment must return an array of {x.ndim} dimensions with one sample "
                        f"per sample of its input, got {type(out).__name__}"
                        f"{getattr(out, 'shape', '')} for a batch of shape {x[:1].shape}")
    if out.dtype != x.dtype:
        raise TypeError(f"augment must keep the dtype of train_data's x ({x.dtype}), got "
                        f"{out.dtype}")
    return out


def output_shape(model: Module, x: np.ndarray, name: str, run) -> tuple[int, ...]:
    """Shape of the model's output for one sample of ``x`` (batch of 1).

    From ``model.output_shape`` (shapes only); a model without it is run on
    ``x[:1]`` with ``run`` (``predict``, in evaluation mode: no state changes).
    """
    try:
        return tuple(model.output_shape((1, *x.shape[1:])))
    except NotImplementedError:
        return run(model, x[:1]).shape
    except (ValueError, TypeError) as err:
        raise ValueError(f"{name}: samples of shape {x.shape[1:]} do not fit the model "
                         f"({err})") from None


def check_targets(model: Module, loss, data: Pair, name: str, run) -> None:
    """``y`` against what ``loss`` needs and the model gives (only for cnnlab's losses).

    ``CrossEntropyLoss``: integer labels in ``[0, classes)``.  ``MSELoss``: targets
    of the model's output shape and of ``x``'s dtype, finite.
    """
    x, y = data
    if not isinstance(loss, (CrossEntropyLoss, MSELoss)):
        return
    out = output_shape(model, x, name, run)
    if isinstance(loss, CrossEntropyLoss):
        if len(out) != 2:
            raise ValueError(f"loss: CrossEntropyLoss needs outputs of shape (N, classes), "
                             f"the model gives {out}")
        classes = out[1]
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise TypeError(f"{name}: y must be a 1-D array of integer class labels for "
                            f"CrossEntropyLoss, got {y.dtype} of shape {y.shape}")
        bad = (y < 0) | (y >= classes)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"{name}: y[{i}] is {y[i]}, but the model has {classes} classes "
                             f"(labels must be in [0, {classes}))")
        return
    want = (len(y), *out[1:])
    if y.shape != want:
        raise ValueError(f"{name}: y must have the model's output shape {want} for MSELoss, "
                         f"got {y.shape}")
    if y.dtype != x.dtype:
        raise TypeError(f"{name}: y must have the dtype of x ({x.dtype}) for MSELoss, "
                        f"got {y.dtype}")
    check_finite(y, f"{name}: y")
