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
import math
import os
import tarfile
import zlib
from pathlib import Path

import numpy as np

from ._validate import check_int, check_memory

CIFAR_RECORD = 1 + 3 * 32 * 32
_CHUNK = 1 << 24


def _open(path: Path):
    """The file opened for reading, through gzip if it starts with the gzip signature."""
    f = open(path, "rb")
    if f.read(2) == b"\x1f\x8b":
        f.seek(0)
        return gzip.GzipFile(fileobj=f, mode="rb"), f
    f.seek(0)
    return f, f


def _read_exactly(stream, shape: tuple[int, ...], path: Path) -> bytearray:
    """The ``prod(shape)`` data bytes from ``stream``, read in chunks (memory follows the
    data actually there), and not one byte more; else ``ValueError``."""
    size, data = math.prod(shape), bytearray()
    try:
        while len(data) < size and (chunk := stream.read(min(_CHUNK, size - len(data)))):
            data += chunk
        extra = stream.read(1)  # one byte past the announced end: is there more?
    except (OSError, EOFError, zlib.error) as err:
        raise ValueError(f"{path}: not a valid gzip file ({err})") from err
    if len(data) != size or extra:
        raise ValueError(f"{path}: the IDX header announces shape {shape} ({size:,} bytes of "
                         f"data), but the file holds {'fewer' if len(data) < size else 'more'}")
    return data


def read_idx(path: str | os.PathLike, ndim: int) -> np.ndarray:
    """Read an IDX file of unsigned bytes (MNIST's format), gzipped or not.

    The header is read first; then exactly the number of bytes it announces
    (at most the machine's memory), so a small file that decompresses to far
    more than its header says is refused after one extra byte, not unpacked.

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
        images, ``0x00000801`` for labels), the file's size differs from what
        the header announces, or that size exceeds the machine's memory; the
        message names the file.
    """
    ndim = check_int(ndim, "ndim", 1)
    path = Path(path)
    stream, raw = _open(path)
    with raw, stream:
        try:
            header = stream.read(4 + 4 * ndim)
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(f"{path}: not a valid gzip file ({err})") from err
        expected = 0x0800 + ndim
        magic = int.from_bytes(header[:4], "big")
        if len(header) < 4 or magic != expected:
            raise ValueError(f"{path}: not an IDX file of {ndim}-D unsigned bytes: magic number "
                             f"0x{magic:08x}, expected 0x{expected:08x}")
        if len(header) < 4 + 4 * ndim:
            raise ValueError(f"{path}: the IDX header is cut short ({len(header)} bytes)")
        shape = tuple(int.from_bytes(header[i:i + 4], "big") for i in range(4, len(header), 4))
        check_memory(math.prod(shape), "path",
                     f"{path}: the IDX header announces shape {shape}, which")
        data = _read_exactly(stream, shape, path)
    array = np.frombuffer(data, dtype=np.uint8).reshape(shape)
    array.flags.writeable = False
    return array


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

    Raises
    ------
    ValueError
        A member is missing, two members share a requested name (in different
        folders), or the data is not a whole number of records.
    """
    archive = Path(archive)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            by_name: dict[str, list[tarfile.TarInfo]] = {}
            for m in tar.getmembers():
                if m.isfile():
                    by_name.setdefault(Path(m.name).name, []).append(m)
            for name in members:
                found = by_name.get(name, [])
                if not found:
                    raise ValueError(f"{archive}: no member named {name!r}")
                if len(found) > 1:
                    raise ValueError(f"{archive}: {len(found)} members are named {name!r} "
                                     f"({', '.join(m.name for m in found)}): which one to read "
                                     f"is ambiguous")
            chosen = [by_name[name][0] for name in members]
            check_memory(sum(m.size for m in chosen), "archive",
                         f"{archive}: the members {', '.join(members)}")
            data = b"".join(tar.extractfile(m).read() for m in chosen)
    except (tarfile.TarError, EOFError, zlib.error) as err:
        raise ValueError(f"{archive}: not a readable .tar.gz archive ({err})") from err
    if len(data) % CIFAR_RECORD:
        raise ValueError(f"{archive}: {', '.join(members)} hold {len(data)} bytes, "
                         f"not a whole number of {CIFAR_RECORD}-byte records")
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, CIFAR_RECORD)
    images = records[:, 1:].reshape(-1, 3, 32, 32)  # (N, C, H, W): R, G, B planes
    return to_unit_float(images), to_labels(records[:, 0], archive)
