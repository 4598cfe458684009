"""Readers for the files the data sets come in, with NumPy alone.

Private helper of :mod:`cnnlab.data`.

* IDX (MNIST, Fashion-MNIST): a big-endian header, the magic number
  ``0x00000800 + ndim`` (``0x08`` = unsigned bytes) and one 4-byte size per
  dimension, then the bytes in C order.  The files are usually gzipped.
* CIFAR-10, binary version: ``cifar-10-binary.tar.gz`` holds
  ``data_batch_1.bin`` … ``data_batch_5.bin`` and ``test_batch.bin``, each a run
  of 3,073-byte records: one label byte, then the red, green and blue 32 × 32
  planes row by row, which is already the ``(C, H, W)`` layout.
"""
from __future__ import annotations

import gzip
import os
import tarfile
import zlib
from pathlib import Path

import numpy as np

from ._validate import check_int

CIFAR_RECORD = 1 + 3 * 32 * 32


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed if it starts with the gzip signature."""
    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise ValueError(f"{path}: not a valid gzip file ({err})") from err


def read_idx(path: str | os.PathLike, ndim: int) -> np.ndarray:
    """Read an IDX file of unsigned bytes (MNIST's format), gzipped or not.

    Parameters
    ----------
    path : str or path-like
        The file, e.g. ``train-images-idx3-ubyte.gz``.
    ndim : int
        Expected number of dimensions: 3 for images, 1 for labels.

    Returns
    -------
    ndarray of uint8
        Shape from the header, e.g. ``(60000, 28, 28)`` or ``(60000,)``;
        read-only (a view of the file's bytes).

    Raises
    ------
    ValueError
        The magic number is not ``0x00000800 + ndim`` (``0x00000803`` for
        images, ``0x00000801`` for labels) or the file's size differs from
        what the header announces; the message names the file.
    """
    ndim = check_int(ndim, "ndim", 1)
    path = Path(path)
    data = _read_bytes(path)
    expected = 0x0800 + ndim
    magic = int.from_bytes(data[:4], "big")
    if len(data) < 4 or magic != expected:
        raise ValueError(f"{path}: not an IDX file of {ndim}-D unsigned bytes: magic number "
                         f"0x{magic:08x}, expected 0x{expected:08x}")
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[i:i + 4], "big") for i in range(4, header, 4))
    size = header + int(np.prod(shape))
    if len(shape) != ndim or len(data) != size:
        raise ValueError(f"{path}: the IDX header announces shape {shape} ({size} bytes "
                         f"with the header), but the file has {len(data)} bytes")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def to_labels(raw: np.ndarray, source, n_classes: int = 10) -> np.ndarray:
    """``(N,)`` uint8 class indices as int64, checked to be below ``n_classes``."""
    if raw.size and raw.max() >= n_classes:
        raise ValueError(f"{source}: labels must be below {n_classes}, found {raw.max()}")
    return raw.astype(np.int64)


def to_unit_float(raw: np.ndarray) -> np.ndarray:
    """uint8 pixels 0..255 as float32 in [0, 1] (one new array, scaled in place)."""
    x = raw.astype(np.float32)
    x /= 255
    return x


def read_cifar_batches(archive: str | os.PathLike, members: list[str]):
    """Read CIFAR-10 binary batches straight from the ``.tar.gz`` (nothing is extracted).

    Parameters
    ----------
    archive : str or path-like
        ``cifar-10-binary.tar.gz``.
    members : list of str
        Batch file names, e.g. ``["test_batch.bin"]``, matched against the
        members' base names.

    Returns
    -------
    x : (N, 3, 32, 32) ndarray of float32
        Images in [0, 1], channels R, G, B, in the order of ``members``.
    y : (N,) ndarray of int64
        Class indices 0..9.
    """
    archive = Path(archive)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            by_name = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
            missing = [name for name in members if name not in by_name]
            if missing:
                raise ValueError(f"{archive}: no member named {missing[0]!r}")
            data = b"".join(tar.extractfile(by_name[name]).read() for name in members)
    except (tarfile.TarError, EOFError, zlib.error) as err:
        raise ValueError(f"{archive}: not a readable .tar.gz archive ({err})") from err
    if len(data) % CIFAR_RECORD:
        raise ValueError(f"{archive}: {', '.join(members)} hold {len(data)} bytes, "
                         f"not a whole number of {CIFAR_RECORD}-byte records")
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, CIFAR_RECORD)
    images = records[:, 1:].reshape(-1, 3, 32, 32)  # (N, C, H, W): R, G, B planes
    return to_unit_float(images), to_labels(records[:, 0], archive)
