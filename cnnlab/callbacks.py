"""What :func:`cnnlab.train.fit` records and the hooks it calls: ``History``, ``Callback``,
``EarlyStopping``.

All three are importable from :mod:`cnnlab.train`, where they are documented.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._validate import check_float, check_int
from .module import Module

__all__ = ["Callback", "EarlyStopping", "History", "METRICS"]

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
