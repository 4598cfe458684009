"""Training a model: a generic ``fit`` loop, evaluation, early stopping, saved parameters.

``fit`` runs mini-batch training for any :class:`~cnnlab.module.Module`, a
``cnnlab`` loss (``CrossEntropyLoss`` or ``MSELoss``) and an optimiser; it
prints nothing and returns a :class:`History` of per-epoch numbers.  Each epoch
visits the training samples in an order drawn from ``rng`` (a seed or a
``numpy.random.Generator``), so the same seed and the same initial weights give
the same history and the same final weights, bit for bit.

Parameters are saved with :func:`save_parameters` as a plain ``.npz`` archive
of arrays (``numpy.savez``) and read back with ``allow_pickle=False``: loading
a file never runs code.
"""
from __future__ import annotations

import os
import sys
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._validate import check_float, check_int, check_rng
from .module import Module

__all__ = ["Callback", "EarlyStopping", "History", "confusion_matrix", "evaluate", "fit",
           "load_parameters", "predict", "save_parameters"]

Pair = tuple[np.ndarray, np.ndarray]  # (x, y)
METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy")


@dataclass
class History:
    """What :func:`fit` measured, one list entry per completed epoch.

    Attributes
    ----------
    epoch : list of int
        1, 2, ... (epochs are counted from 1).
    train_loss, train_accuracy : list of float
        Averages over the epoch's mini-batches, measured in training mode as the
        weights changed (dropout active).  Accuracy is NaN for non-integer targets.
    val_loss, val_accuracy : list of float
        From :func:`evaluate` on ``val_data`` in evaluation mode after the epoch;
        empty without ``val_data``.
    stop_reason : str
        ``"epochs"`` (all epochs ran) or ``"early_stopping"``.
    best_epoch : int or None
        The best epoch of an :class:`EarlyStopping` callback; otherwise the epoch
        of the lowest validation loss (``None`` without ``val_data``).
    restored_epoch : int or None
        The epoch whose weights were put back at the end (``EarlyStopping`` with
        ``restore_best=True``); ``None`` if the model keeps its last weights.
    """

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    stop_reason: str = "epochs"
    best_epoch: int | None = None
    restored_epoch: int | None = None


class Callback:
    """Hooks that :func:`fit` calls; subclass and override the ones you need.

    ``on_epoch_end`` returns ``True`` to stop training after this epoch.
    """

    def on_train_begin(self, model: Module, history: History, has_val: bool) -> None:
        """Before the first epoch; ``has_val`` says whether ``val_data`` was given."""

    def on_batch_end(self, model: Module, history: History, loss: float) -> None:
        """After each optimiser step, with that mini-batch's loss."""

    def on_epoch_end(self, model: Module, history: History) -> bool | None:
        """After each epoch (its numbers are in ``history``); return True to stop."""

    def on_train_end(self, model: Module, history: History) -> None:
        """After the last epoch."""


class EarlyStopping(Callback):
    """Stop when a monitored number has not improved for ``patience`` epochs.

    Parameters
    ----------
    monitor : {"val_loss", "val_accuracy", "train_loss", "train_accuracy"}
        Losses should fall, accuracies rise.
    patience : int >= 1, default 10
        Epochs without improvement after which training stops.
    min_delta : float >= 0, default 0.0
        An improvement must beat the best value by more than this.
    restore_best : bool, default True
        At the end of training, put back the weights and buffers
        (``state_dict``) of the best epoch.

    Notes
    -----
    With the best value at epoch ``b``, training stops after epoch
    ``b + patience`` unless an epoch in between improves on it.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 10, min_delta: float = 0.0,
                 restore_best: bool = True) -> None:
        if monitor not in METRICS:
            raise ValueError(f"monitor must be one of {METRICS}, got {monitor!r}")
        self.monitor = monitor
        self.patience = check_int(patience, "patience", 1)
        self.min_delta = check_float(min_delta, "min_delta", 0.0)
        if not isinstance(restore_best, bool):
            raise TypeError(f"restore_best must be True or False, got {restore_best!r}")
        self.restore_best = restore_best
        self._sign = 1.0 if monitor.endswith("loss") else -1.0  # minimise sign * value

    def on_train_begin(self, model: Module, history: History, has_val: bool) -> None:
        if self.monitor.startswith("val_") and not has_val:
            raise ValueError(f"val_data is None but EarlyStopping monitors {self.monitor!r}")
        self.best, self.best_epoch, self.best_state, self.wait = np.inf, None, None, 0

    def on_epoch_end(self, model: Module, history: History) -> bool:
        value = self._sign * getattr(history, self.monitor)[-1]
        if value < self.best - self.min_delta:  # best starts at inf; NaN never improves
            self.best, self.best_epoch, self.wait = value, history.epoch[-1], 0
            if self.restore_best:
                self.best_state = model.state_dict()
            return False
        self.wait += 1
        return self.wait >= self.patience

    def on_train_end(self, model: Module, history: History) -> None:
        history.best_epoch = self.best_epoch
        if self.restore_best and self.best_state is not None:
            model.load_state_dict(self.best_state)
            history.restored_epoch = self.best_epoch


# --- evaluation ----------------------------------------------------------------

def _check_data(data, name: str) -> Pair:
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
    return x, y


def _check_model(model) -> Module:
    if not isinstance(model, Module):
        raise TypeError(f"model must be a cnnlab Module, got {type(model).__name__}")
    return model


def _check_loss(loss):
    if not (callable(getattr(loss, "forward", None)) and callable(getattr(loss, "backward", None))):
        raise TypeError(f"loss must be a cnnlab loss object with forward and backward "
                        f"(e.g. CrossEntropyLoss()), got {type(loss).__name__}")
    return loss


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
    x : (N, ...) ndarray
    batch_size : int >= 1, default 256
        Only limits memory; the result does not depend on it beyond float rounding.

    Returns
    -------
    (N, ...) ndarray
        The outputs for all samples, in order.  The model's train/eval mode is
        restored afterwards.
    """
    model = _check_model(model)
    if not isinstance(x, np.ndarray) or x.ndim == 0 or len(x) == 0:
        raise ValueError(f"x must be a non-empty numpy array of samples, got "
                         f"{type(x).__name__}{getattr(x, 'shape', '')}")
    batch_size = check_int(batch_size, "batch_size", 1)
    was_training = model.training
    model.eval()
    try:
        return np.concatenate([model.forward(x[b]) for b in _batches(len(x), batch_size)])
    finally:
        model.train(was_training)


def evaluate(model: Module, loss, data: Pair, batch_size: int = 256) -> dict[str, float]:
    """Loss and accuracy of ``model`` on ``data = (x, y)`` in evaluation mode.

    Returns
    -------
    dict
        ``{"loss": float, "accuracy": float}``: the loss over the whole data set
        (as ``loss(model(x), y)`` would give, up to float rounding) and the
        fraction of rows whose arg-max equals the label (NaN for non-integer
        targets).  The model's train/eval mode is restored afterwards.
    """
    model, loss = _check_model(model), _check_loss(loss)
    x, y = _check_data(data, "data")
    batch_size = check_int(batch_size, "batch_size", 1)
    was_training = model.training
    model.eval()
    total = correct = 0.0
    try:
        for b in _batches(len(x), batch_size):
            out = model.forward(x[b])
            total += _total(loss, loss.forward(out, y[b]), len(out))
            correct += _correct(out, y[b])
    finally:
        model.train(was_training)
    return {"loss": _mean(loss, total, len(x)), "accuracy": correct / len(x)}


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Count how often each true class was predicted as each class.

    Returns
    -------
    (num_classes, num_classes) ndarray of int64
        Entry ``[i, j]`` is the number of samples of true class ``i`` predicted
        as ``j``: the diagonal holds the correct predictions, each row sums to
        the size of its class.
    """
    num_classes = check_int(num_classes, "num_classes", 1)
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
    counts = np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes).astype(np.int64)


# --- training ------------------------------------------------------------------

def _check_optimizer(optimizer, model: Module):
    if not (callable(getattr(optimizer, "step", None))
            and callable(getattr(optimizer, "zero_grad", None))):
        raise TypeError(f"optimizer must have step() and zero_grad() (e.g. cnnlab.optim.Adam), "
                        f"got {type(optimizer).__name__}")
    own = {id(p) for p in model.parameters()}
    if any(id(p) not in own for p in getattr(optimizer, "params", ())):
        raise ValueError("optimizer updates parameters that are not the model's: build it "
                         "with optimizer = Adam(model.parameters(), ...) for this model")
    return optimizer


def _progress_bar(total: int):
    try:
        from tqdm.auto import tqdm
    except ImportError as err:
        raise ImportError("progress=True needs tqdm: pip install tqdm "
                          "(or pip install 'cnnlab[book]')") from err
    return tqdm(total=total, unit="batch", file=sys.stderr, leave=False)


def fit(model: Module, loss, optimizer, train_data: Pair, *, epochs: int, batch_size: int,
        rng: np.random.Generator | int, val_data: Pair | None = None,
        callbacks: Iterable[Callback] = (), progress: bool = False,
        shuffle: bool = True) -> History:
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
    epochs, batch_size : int >= 1
        The last mini-batch of an epoch may be smaller.
    rng : numpy.random.Generator or int
        Draws the order of the samples in each epoch (``rng.permutation(N)``).
    callbacks : iterable of Callback
        E.g. ``[EarlyStopping(patience=5)]``.
    progress : bool, default False
        Show a tqdm progress bar on standard error; with False nothing is printed.
    shuffle : bool, default True
        False visits the samples in their stored order (``rng`` is then unused).

    Returns
    -------
    History

    Notes
    -----
    One training step on a mini-batch ``B`` is::

        out = model.forward(x[B]);  value = loss.forward(out, y[B])
        optimizer.zero_grad();  model.backward(loss.backward());  optimizer.step()

    The model is in training mode during the epochs and in evaluation mode
    while ``val_data`` is evaluated and when ``fit`` returns.
    """
    model, loss = _check_model(model), _check_loss(loss)
    optimizer = _check_optimizer(optimizer, model)
    x, y = _check_data(train_data, "train_data")
    if val_data is not None:
        val_data = _check_data(val_data, "val_data")
    epochs = check_int(epochs, "epochs", 1)
    batch_size = check_int(batch_size, "batch_size", 1)
    rng = check_rng(rng)
    if isinstance(callbacks, Callback) or not isinstance(callbacks, Iterable):
        raise TypeError(f"callbacks must be a list of Callback objects, got "
                        f"{type(callbacks).__name__}")
    callbacks = list(callbacks)
    for i, cb in enumerate(callbacks):
        if not isinstance(cb, Callback):
            raise TypeError(f"callbacks[{i}] must be a Callback, got {type(cb).__name__}")
    for name, flag in (("progress", progress), ("shuffle", shuffle)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be True or False, got {flag!r}")

    history, n = History(), len(x)
    for cb in callbacks:
        cb.on_train_begin(model, history, val_data is not None)
    bar = _progress_bar(epochs * -(-n // batch_size)) if progress else None
    try:
        for epoch in range(1, epochs + 1):
            model.train()
            total = correct = 0.0
            for b in _batches(n, batch_size, rng.permutation(n) if shuffle else None):
                out = model.forward(x[b])
                value = loss.forward(out, y[b])
                optimizer.zero_grad()
                model.backward(loss.backward())
                optimizer.step()
                total += _total(loss, value, len(out))
                correct += _correct(out, y[b])
                for cb in callbacks:
                    cb.on_batch_end(model, history, value)
                if bar is not None:
                    bar.update()
            history.epoch.append(epoch)
            history.train_loss.append(_mean(loss, total, n))
            history.train_accuracy.append(correct / n)
            if val_data is not None:
                result = evaluate(model, loss, val_data, batch_size=max(batch_size, 256))
                history.val_loss.append(result["loss"])
                history.val_accuracy.append(result["accuracy"])
            if bar is not None:
                bar.set_postfix(epoch=epoch, loss=f"{history.train_loss[-1]:.4f}")
            stop = [bool(cb.on_epoch_end(model, history)) for cb in callbacks]
            if any(stop):
                history.stop_reason = "early_stopping"
                break
    finally:
        if bar is not None:
            bar.close()
    if history.val_loss:
        history.best_epoch = history.epoch[int(np.nanargmin(history.val_loss))] \
            if not np.all(np.isnan(history.val_loss)) else None
    for cb in callbacks:
        cb.on_train_end(model, history)
    model.eval()
    return history


# --- saving and loading ----------------------------------------------------------

def _check_path(path) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or path-like, got {type(path).__name__}")
    return Path(path)


def save_parameters(model: Module, path: str | os.PathLike) -> Path:
    """Write ``model.state_dict()`` (parameters and buffers) to an ``.npz`` archive.

    ``.npz`` is appended to ``path`` if it lacks it (as ``numpy.savez`` does).
    The archive holds one plain numeric array per entry, named like
    ``"0.weight"`` or ``"1.running_mean"``; no Python object is pickled.

    Returns
    -------
    Path
        The file written.
    """
    model = _check_model(model)
    path = _check_path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    np.savez(path, **model.state_dict())
    return path


def load_parameters(model: Module, path: str | os.PathLike) -> None:
    """Load an archive written by :func:`save_parameters` into ``model``, in place.

    The file is read with ``allow_pickle=False``.  Nothing is changed unless
    every entry matches the model's parameters and buffers in name, shape and
    dtype.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        The file is not an ``.npz`` archive of plain arrays, or it was saved
        from a different architecture (the message lists the differences).
    """
    model = _check_model(model)
    path = _check_path(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"path: cannot read {path} as an .npz archive of parameters "
                         f"({err})") from err
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"path: {path} holds a single array, not an .npz archive of "
                         f"parameters")
    try:
        with archive:
            state = {name: archive[name] for name in archive.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"path: cannot read the arrays in {path} ({err})") from err
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [f"{name} {state[name].dtype}{state[name].shape} (model: "
             f"{expected[name].dtype}{expected[name].shape})"
             for name in expected if name in state
             and (state[name].shape != expected[name].shape
                  or state[name].dtype != expected[name].dtype)]
    if missing or unexpected or wrong:
        details = [f"{label}: {', '.join(items)}" for label, items in
                   (("missing", missing), ("unexpected", unexpected), ("mismatched", wrong))
                   if items]
        raise ValueError(f"path: {path} was saved from a different architecture; "
                         + "; ".join(details))
    model.load_state_dict(state)
