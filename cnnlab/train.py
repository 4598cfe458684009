"""Training a model: a generic ``fit`` loop, evaluation, early stopping.

``fit`` runs mini-batch training for any :class:`~cnnlab.module.Module`, a
``cnnlab`` loss (``CrossEntropyLoss`` or ``MSELoss``) and an optimiser; it
prints nothing and returns a :class:`History` of per-epoch numbers.  Each epoch
visits the training samples in an order drawn from ``rng`` (a seed or a
``numpy.random.Generator``), so the same seed and the same initial weights give
the same history and the same final weights, bit for bit, on the same machine
with the same NumPy build and the same number of BLAS threads.  (The matrix
products split their sums between threads, so runs with 1 and 2 threads, e.g.
``OPENBLAS_NUM_THREADS=1`` and ``=2``, can differ in the last bits of the
floats, and the difference grows over many steps.)

Everything ``fit`` is given is checked before the first step, the labels and
finiteness of the data included, so a refused call changes nothing.  A run
that diverges (NaN or infinity in the outputs, the loss or a gradient) stops
with :class:`DivergenceError`; a loss that explodes without becoming infinite
raises a :class:`LossExplosionWarning`.

Parameters are saved with :func:`save_parameters` and read back with
:func:`load_parameters` (written in ``cnnlab/checkpoints.py``): a plain ``.npz``
archive of arrays, written atomically and read without pickle.  ``History``,
``Callback`` and ``EarlyStopping`` are written in ``cnnlab/callbacks.py``.
"""
from __future__ import annotations

import contextlib
import math
import sys
import warnings
from collections.abc import Callable, Iterable

import numpy as np

from . import _train_checks as checks
from ._validate import check_int, check_memory, check_rng
from .callbacks import Callback, EarlyStopping, History
from .checkpoints import load_parameters, save_parameters
from .module import Module

__all__ = ["Callback", "DivergenceError", "EarlyStopping", "History", "LossExplosionWarning",
           "confusion_matrix", "evaluate", "fit", "load_parameters", "predict",
           "save_parameters"]

Pair = tuple[np.ndarray, np.ndarray]  # (x, y)
Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]  # (x_batch, rng) -> x_batch
EXPLOSION_FACTOR = 1000.0  # a batch loss this many times the first one (at least 1) has exploded


# --- what fit raises and warns --------------------------------------------------

class DivergenceError(FloatingPointError):
    """Training produced NaN or infinity (outputs, loss, a gradient or a weight): ``fit`` stopped.

    The usual cause is a learning rate that is too high.

    Attributes
    ----------
    history : History
        The epochs completed before it happened (nothing measured is lost).
    epoch, batch : int
        Where it happened, both counted from 1 (``batch`` is 0 after an epoch's
        last step, when the weights or the validation outputs are checked).
    """

    def __init__(self, message: str, history: History, epoch: int, batch: int) -> None:
        super().__init__(message)
        self.history, self.epoch, self.batch = history, epoch, batch


class LossExplosionWarning(UserWarning):
    """A mini-batch loss grew to over ``EXPLOSION_FACTOR`` times the first one (at least 1).

    The run may still converge, but usually the learning rate is too high.
    """


# --- evaluation ----------------------------------------------------------------

def _batches(n: int, batch_size: int, order: np.ndarray | None = None):
    for start in range(0, n, batch_size):
        yield slice(start, start + batch_size) if order is None else order[start:start + batch_size]


def _correct(out: np.ndarray, y: np.ndarray) -> float:
    """Number of rows whose arg-max is the label (NaN unless ``y`` holds class indices)."""
    if out.ndim != 2 or y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        return float("nan")
    return float(np.count_nonzero(out.argmax(axis=1) == y))


def _total(loss, value: float, size: int) -> float:
    """A batch's share of the data set's loss: summed as is, or weighted by batch size."""
    return value if getattr(loss, "reduction", "mean") == "sum" else value * size


def _mean(loss, total: float, n: int) -> float:
    return total if getattr(loss, "reduction", "mean") == "sum" else total / n


def predict(model: Module, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The model's outputs (logits for a classifier) in evaluation mode, batch by batch.

    Parameters
    ----------
    model : Module
        Not built inside :func:`cnnlab.init.meta` (``RuntimeError``).
    x : (N, ...) ndarray
        Finite values (``ValueError`` names the first NaN or infinity).
    batch_size : int >= 1, default 256
        Only limits memory; the result does not depend on it beyond float rounding.

    Returns
    -------
    (N, ...) ndarray
        The outputs for all samples, in order.  The model's train/eval mode is
        restored afterwards.
    """
    model = checks.check_model(model, "run")
    x = checks.check_samples(x, "x")
    batch_size = check_int(batch_size, "batch_size", 1)
    was_training = model.training
    model.eval()
    try:
        return np.concatenate([model.forward(x[b]) for b in _batches(len(x), batch_size)])
    finally:
        model.train(was_training)


def evaluate(model: Module, loss, data: Pair, batch_size: int = 256) -> dict[str, float]:
    """Loss and accuracy of ``model`` on ``data = (x, y)`` in evaluation mode.

    ``data`` is checked first as by :func:`fit` (finite samples, labels within
    the model's classes).

    Returns
    -------
    dict
        ``{"loss": float, "accuracy": float}``: the loss over the whole data set
        (as ``loss(model(x), y)`` would give, up to float rounding) and the
        fraction of rows whose arg-max equals the label (NaN for non-integer
        targets).  The model's train/eval mode is restored afterwards.

    Raises
    ------
    FloatingPointError
        The model's outputs are not finite (its weights hold NaN or infinity,
        or they overflow).
    """
    model, loss = checks.check_model(model, "run"), checks.check_loss(loss)
    x, y = checks.check_data(data, "data")
    batch_size = check_int(batch_size, "batch_size", 1)
    checks.check_targets(model, loss, (x, y), "data", predict)
    return _evaluate(model, loss, x, y, batch_size)


def _evaluate(model: Module, loss, x: np.ndarray, y: np.ndarray,
              batch_size: int) -> dict[str, float]:
    """:func:`evaluate` on arguments already checked."""
    was_training = model.training
    model.eval()
    total = correct = 0.0
    try:
        for b in _batches(len(x), batch_size):
            out = model.forward(x[b])
            if not np.isfinite(out).all():
                raise FloatingPointError(f"model: its outputs for data[{b.start}:"
                                         f"{min(b.stop, len(x))}] are not finite (NaN or inf)")
            total += _total(loss, loss.forward(out, y[b]), len(out))
            correct += _correct(out, y[b])
    finally:
        model.train(was_training)
    return {"loss": _mean(loss, total, len(x)), "accuracy": correct / len(x)}


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Count how often each true class was predicted as each class.

    Parameters
    ----------
    y_true, y_pred : (N,) ndarray of any integer dtype
        Labels in ``[0, num_classes)``; the counting is done in int64, whatever
        their dtype.
    num_classes : int >= 1
        ``ValueError`` if the matrix would not fit in memory.

    Returns
    -------
    (num_classes, num_classes) ndarray of int64
        Entry ``[i, j]`` is the number of samples of true class ``i`` predicted
        as ``j``: the diagonal holds the correct predictions, each row sums to
        the size of its class.
    """
    num_classes = check_int(num_classes, "num_classes", 1)
    check_memory(num_classes * num_classes * 8, "num_classes",
                 f"a {num_classes:,} x {num_classes:,} confusion matrix of int64")
    for name, a in (("y_true", y_true), ("y_pred", y_pred)):
        if not isinstance(a, np.ndarray) or a.ndim != 1 or not np.issubdtype(a.dtype, np.integer):
            raise TypeError(f"{name} must be a 1-D numpy array of integer class labels, got "
                            f"{type(a).__name__} {getattr(a, 'dtype', '')}"
                            f"{getattr(a, 'shape', '')}")
        if a.size and (a.min() < 0 or a.max() >= num_classes):
            raise ValueError(f"{name} must hold labels in [0, {num_classes}), got values "
                             f"from {a.min()} to {a.max()}")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_pred must have the shape of y_true {y_true.shape}, got "
                         f"{y_pred.shape}")
    flat = y_true.astype(np.int64) * num_classes + y_pred.astype(np.int64)  # uint8 would wrap
    counts = np.bincount(flat, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes).astype(np.int64, copy=False)


# --- training ------------------------------------------------------------------

def _progress_bar(total: int):
    try:
        from tqdm.auto import tqdm
    except ImportError as err:
        raise ImportError("progress=True needs tqdm: pip install tqdm "
                          "(or pip install 'cnnlab[book]')") from err
    return tqdm(total=total, unit="batch", file=sys.stderr, leave=False)


class _Watch:
    """Stops a run whose numbers are no longer finite; warns once when the loss explodes."""

    def __init__(self, history: History, optimizer, batches: int) -> None:
        self.history, self.lr, self.batches = history, getattr(optimizer, "lr", None), batches
        self.first = self.last = None
        self.steps, self.warned = 0, False

    def diverged(self, what: str, epoch: int, batch: int) -> DivergenceError:
        where = f"epoch {epoch}, batch {batch} of {self.batches}" if batch else f"epoch {epoch}"
        losses = ("" if self.first is None else
                  f"; the first mini-batch loss was {self.first:.4g}" if self.steps == 1 else
                  f"; the mini-batch loss went from {self.first:.4g} to {self.last:.4g}")
        lr = f" (lr={self.lr:g})" if isinstance(self.lr, (int, float)) else ""
        return DivergenceError(f"training diverged in {where}: {what}{losses}; lower the "
                               f"learning rate{lr}", self.history, epoch, batch)

    def outputs(self, out: np.ndarray, epoch: int, batch: int) -> None:
        if not np.isfinite(out).all():
            raise self.diverged("the model's outputs are not finite (NaN or inf)", epoch, batch)

    def loss(self, value: float, epoch: int, batch: int) -> None:
        if not math.isfinite(value):
            raise self.diverged(f"the loss is {value}", epoch, batch)
        self.first = value if self.first is None else self.first
        self.last, self.steps = value, self.steps + 1
        if not self.warned and value > EXPLOSION_FACTOR * max(self.first, 1.0):
            self.warned = True
            warnings.warn(f"the loss exploded in epoch {epoch}, batch {batch}: {value:.4g}, "
                          f"from {self.first:.4g} at the first batch; the learning rate"
                          f"{f' (lr={self.lr:g})' if isinstance(self.lr, (int, float)) else ''}"
                          f" is probably too high", LossExplosionWarning, stacklevel=3)

    def parameters(self, model: Module, epoch: int) -> None:
        for name, p in model.named_parameters():
            if not np.isfinite(p.data).all():
                raise self.diverged(f"the optimizer step made parameter {name!r} non-finite",
                                    epoch, 0)


def fit(model: Module, loss, optimizer, train_data: Pair, *, epochs: int, batch_size: int,
        rng: np.random.Generator | int, val_data: Pair | None = None,
        callbacks: Iterable[Callback] = (), progress: bool = False, shuffle: bool = True,
        augment: Augment | None = None) -> History:
    """Train ``model`` with mini-batch gradient descent; return the :class:`History`.

    Parameters
    ----------
    model : Module
    loss : loss object
        ``CrossEntropyLoss()`` or ``MSELoss()`` (``forward(out, y)`` and ``backward()``).
    optimizer : Optimizer
        Built on ``model.parameters()``, e.g. ``SGD(model.parameters(), lr=0.1)``.
    train_data, val_data : (x, y) pairs of ndarrays
        Samples along the first axis.  ``val_data`` is evaluated after every epoch.
        Samples must be finite; with ``CrossEntropyLoss`` the labels must be
        integers in ``[0, classes)`` of the model's output.
    epochs, batch_size : int >= 1
        The last mini-batch of an epoch may be smaller.
    rng : numpy.random.Generator or int
        Draws the order of the samples in each epoch (``rng.permutation(N)``).
    callbacks : iterable of Callback
        E.g. ``[EarlyStopping(patience=5)]``.
    progress : bool, default False
        Show a tqdm progress bar on standard error; with False nothing is printed.
    shuffle : bool, default True
        False visits the samples in their stored order (``rng`` then serves ``augment`` only).
    augment : callable ``(x_batch, rng) -> x_batch`` or None, default None
        Applied to every training mini-batch, with ``rng``, before the forward pass
        (:mod:`cnnlab.augment`); never to ``val_data``.  Checked first on ``x[:1]``.

    Returns
    -------
    History

    Raises
    ------
    TypeError, ValueError
        A bad argument (named in the message).  Everything is checked before the
        first step: a refused call changes nothing.
    DivergenceError
        The outputs, the loss, a gradient or a weight became NaN or infinite.
        The model keeps the weights of that moment; ``err.history`` holds the
        epochs completed.

    Warns
    -----
    LossExplosionWarning
        Once, when a mini-batch loss exceeds ``EXPLOSION_FACTOR`` (1000) times
        the first mini-batch loss (taken as at least 1).

    Notes
    -----
    One training step on a mini-batch ``B`` is::

        out = model.forward(x[B]);  value = loss.forward(out, y[B])
        optimizer.zero_grad();  model.backward(loss.backward());  optimizer.step()

    The model is in training mode during the epochs and in evaluation mode
    while ``val_data`` is evaluated and when ``fit`` returns.  NumPy's
    overflow, invalid-value and division warnings are silenced during the
    epochs: ``fit`` checks the outputs, the loss, the gradients and the weights
    itself and stops with :class:`DivergenceError`.
    """
    model, loss = checks.check_model(model, "trained"), checks.check_loss(loss)
    optimizer = checks.check_optimizer(optimizer, model)
    x, y = checks.check_data(train_data, "train_data")
    if val_data is not None:
        val_data = checks.check_data(val_data, "val_data")
    epochs = check_int(epochs, "epochs", 1)
    batch_size = check_int(batch_size, "batch_size", 1)
    rng = check_rng(rng)
    callbacks = checks.check_callbacks(callbacks, Callback)
    for name, flag in (("progress", progress), ("shuffle", shuffle)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be True or False, got {flag!r}")
    checks.check_targets(model, loss, (checks.check_augment(augment, x), y),
                         "train_data" if augment is None else "train_data (augmented)", predict)
    if val_data is not None:
        checks.check_targets(model, loss, val_data, "val_data", predict)

    history, n = History(), len(x)
    watch = _Watch(history, optimizer, -(-n // batch_size))
    for cb in callbacks:
        cb.on_train_begin(model, history, val_data is not None)
    bar = _progress_bar(epochs * -(-n // batch_size)) if progress else None
    # the NumPy warnings are redundant: outputs, loss, gradients and weights are watched
    with contextlib.nullcontext() if bar is None else bar, \
            np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for epoch in range(1, epochs + 1):
            model.train()
            total = correct = 0.0
            order = rng.permutation(n) if shuffle else None
            for i, b in enumerate(_batches(n, batch_size, order), start=1):
                try:
                    out = model.forward(x[b] if augment is None else augment(x[b], rng))
                    watch.outputs(out, epoch, i)
                    value = loss.forward(out, y[b])
                    watch.loss(value, epoch, i)
                    optimizer.zero_grad()
                    model.backward(loss.backward())
                    optimizer.step()
                except DivergenceError:
                    raise
                except FloatingPointError as err:  # batch norm's statistics, a gradient
                    raise watch.diverged(str(err), epoch, i) from err
                total += _total(loss, value, len(out))
                correct += _correct(out, y[b])
                for cb in callbacks:
                    cb.on_batch_end(model, history, value)
                if bar is not None:
                    bar.update()
            watch.parameters(model, epoch)
            history.epoch.append(epoch)
            history.train_loss.append(_mean(loss, total, n))
            history.train_accuracy.append(correct / n)
            if val_data is not None:
                try:
                    result = _evaluate(model, loss, *val_data, max(batch_size, 256))
                except FloatingPointError as err:
                    raise watch.diverged(f"on val_data, {err}", epoch, 0) from err
                history.val_loss.append(result["loss"])
                history.val_accuracy.append(result["accuracy"])
            if bar is not None:
                bar.set_postfix(epoch=epoch, loss=f"{history.train_loss[-1]:.4f}")
            stop = [bool(cb.on_epoch_end(model, history)) for cb in callbacks]
            if any(stop):
                history.stop_reason = "early_stopping"
                break
    if history.val_loss:
        history.best_epoch = history.epoch[int(np.nanargmin(history.val_loss))] \
            if not np.all(np.isnan(history.val_loss)) else None
    for cb in callbacks:
        cb.on_train_end(model, history)
    model.eval()
    return history
