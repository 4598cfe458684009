"""Catalogue of bad inputs to the data readers, the downloads, augmentation and the checkers.

Each row: a call (given ``tmp_path`` and ``monkeypatch``), the exception type, and a
regular expression the message must match.  It names the argument, or for a file
reader the offending file (the value of ``path``/``archive``/``root``).  No network:
downloads point at a port nobody listens on, or never get that far.
"""
from __future__ import annotations

import gzip
import io
import os
import struct
import tarfile

import numpy as np
import pytest

from cnnlab import augment, data, exercises
from cnnlab._download import fetch
from cnnlab._formats import read_cifar_batches
from cnnlab.data import DataNotAvailableError, RemoteFile

SHA = "0" * 64


def idx(tmp, header: bytes, payload: bytes = b"", name: str = "f-idx1-ubyte.gz",
        compress: bool = True):
    path = tmp / name
    raw = header + payload
    path.write_bytes(gzip.compress(raw, mtime=0) if compress else raw)
    return path


def labels_header(n: int) -> bytes:
    return struct.pack(">II", 0x801, n)


def tar(tmp, members: dict[str, bytes]):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    path = tmp / "cifar-10-binary.tar.gz"
    path.write_bytes(buffer.getvalue())
    return path


def remote(name: str = "a.gz") -> RemoteFile:
    return RemoteFile(name, SHA, ("http://127.0.0.1:9/" + name,), 10)


def read_only(monkeypatch, folder):
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: (
        False if os.fspath(p) == os.fspath(folder) and mode & os.W_OK else real(p, mode, **kw)))


RECORD = bytes(3073)

BAD = [
    # --- read_idx (item 10)
    ("idx_ndim_float", lambda t, mp: data.read_idx(idx(t, labels_header(1), b"\0"), 1.0),
     TypeError, r"^ndim must be an integer, got 1.0"),
    ("idx_ndim_zero", lambda t, mp: data.read_idx(idx(t, labels_header(1), b"\0"), 0),
     ValueError, r"^ndim must be >= 1, got 0"),
    ("idx_wrong_magic", lambda t, mp: data.read_idx(idx(t, labels_header(1), b"\0"), 3),
     ValueError, r"^.*f-idx1-ubyte.gz: not an IDX file of 3-D unsigned bytes: magic number "
                 r"0x00000801, expected 0x00000803"),
    ("idx_empty_file", lambda t, mp: data.read_idx(idx(t, b"", compress=False), 1), ValueError,
     r"^.*f-idx1-ubyte.gz: not an IDX file"),
    ("idx_header_cut_short", lambda t, mp: data.read_idx(idx(t, struct.pack(">IH", 0x803, 2)),
                                                         3), ValueError,
     r"^.*f-idx1-ubyte.gz: the IDX header is cut short \(6 bytes\)"),
    ("idx_truncated_data", lambda t, mp: data.read_idx(idx(t, labels_header(10), b"\1" * 4), 1),
     ValueError, r"^.*: the IDX header announces shape \(10,\) \(10 bytes of data\), but the "
                 r"file holds fewer"),
    ("idx_trailing_data", lambda t, mp: data.read_idx(idx(t, labels_header(2), b"\1" * 9), 1),
     ValueError, r"^.*: the IDX header announces shape \(2,\) .* but the file holds more"),
    ("idx_gzip_bomb", lambda t, mp: data.read_idx(idx(t, labels_header(10), bytes(50 << 20)),
                                                  1), ValueError, r"^.*: .* holds more"),
    ("idx_absurd_header", lambda t, mp: data.read_idx(
        idx(t, struct.pack(">IIII", 0x803, 10 ** 9, 10 ** 9, 10 ** 9)), 3), ValueError,
     r"^path: .*f-idx1-ubyte.gz: the IDX header announces shape \(1000000000, 1000000000, "
     r"1000000000\), which would need .* EiB"),
    ("idx_not_gzip", lambda t, mp: data.read_idx(idx(t, b"\x1f\x8b garbage", compress=False), 1),
     ValueError, r"^.*: not a valid gzip file"),
    ("idx_missing_file", lambda t, mp: data.read_idx(t / "none.gz", 1), FileNotFoundError,
     r"none.gz"),
    # --- CIFAR-10 archive (item 15)
    ("cifar_duplicate_member", lambda t, mp: read_cifar_batches(tar(t, {
        "a/test_batch.bin": RECORD, "b/test_batch.bin": RECORD}), ["test_batch.bin"]),
     ValueError, r"^.*cifar-10-binary.tar.gz: 2 members are named 'test_batch.bin' "
                 r"\(a/test_batch.bin, b/test_batch.bin\)"),
    ("cifar_missing_member", lambda t, mp: read_cifar_batches(tar(t, {"x.bin": RECORD}),
                                                              ["test_batch.bin"]),
     ValueError, r"^.*cifar-10-binary.tar.gz: no member named 'test_batch.bin'"),
    ("cifar_partial_record", lambda t, mp: read_cifar_batches(tar(t, {"t.bin": RECORD[:-1]}),
                                                              ["t.bin"]),
     ValueError, r"^.*cifar-10-binary.tar.gz: t.bin hold 3072 bytes, not a whole number"),
    ("cifar_not_an_archive", lambda t, mp: (t / "c.tar.gz").write_bytes(b"\x1f\x8bxx")
     and read_cifar_batches(t / "c.tar.gz", ["t.bin"]), ValueError,
     r"^.*c.tar.gz: not a readable .tar.gz archive"),
    ("cifar_label_11", lambda t, mp: read_cifar_batches(tar(t, {"t.bin": b"\x0b" + RECORD[1:]}),
                                                        ["t.bin"]),
     ValueError, r"^.*cifar-10-binary.tar.gz: labels must be below 10, found 11"),
    # --- the cache folder and the downloads (item 9)
    ("load_root_is_a_file", lambda t, mp: (t / "f").write_text("x")
     and data.load_mnist(t / "f"), DataNotAvailableError,
     r"^data file 'train-images-idx3-ubyte.gz' .* is not available: the cache folder "
     r".*f/mnist cannot be used: .*f is a file, not a folder"),
    ("load_root_below_a_file", lambda t, mp: (t / "f").write_text("x")
     and data.load_cifar10(t / "f" / "sub", download=False), DataNotAvailableError,
     r"^data file 'cifar-10-binary.tar.gz' .* cannot be used: .*/f is a file"),
    ("load_root_read_only", lambda t, mp: read_only(mp, t / "fashion_mnist")
     or (t / "fashion_mnist").mkdir() or data.load_fashion_mnist(t), DataNotAvailableError,
     r"^data file .* is not available: it is not in the cache, and the cache folder "
     r".*fashion_mnist cannot be written \(Permission denied\)"),
    ("load_root_int", lambda t, mp: data.load_mnist(3), TypeError,
     r"^root must be a path \(str or os.PathLike\) or None, got int"),
    ("load_download_str", lambda t, mp: data.load_mnist(t, download="yes"), TypeError,
     r"^download must be True or False, got 'yes'"),
    ("fetch_deadline_zero", lambda t, mp: fetch(remote(), t, deadline=0), ValueError,
     r"^deadline must be > 0.0, got 0.0"),
    ("fetch_deadline_str", lambda t, mp: fetch(remote(), t, deadline="60"), TypeError,
     r"^deadline must be a real number, got '60'"),
    ("fetch_deadline_nan", lambda t, mp: fetch(remote(), t, deadline=float("nan")), ValueError,
     r"^deadline must be finite, got nan"),
    ("remote_name_with_folder", lambda t, mp: RemoteFile("d/a.gz", SHA, ("http://x/a",)),
     ValueError, r"^name must be a bare file name, got 'd/a.gz'"),
    ("remote_sha_upper", lambda t, mp: RemoteFile("a.gz", "A" * 64, ("http://x/a",)),
     ValueError, r"^sha256 must be 64 lowercase hex digits"),
    ("remote_urls_str", lambda t, mp: RemoteFile("a.gz", SHA, "http://x/a"), ValueError,
     r"^urls must be a non-empty tuple of addresses"),
    # --- samples and splits (item 16)
    ("sample_dtype_none", lambda t, mp: data.mnist_sample(dtype=None), TypeError,
     r"^dtype must be np.float32 or np.float64, got None"),
    ("sample_dtype_int", lambda t, mp: data.mnist_sample(dtype=np.uint8), ValueError,
     r"^dtype must be np.float32 or np.float64, got uint8"),
    ("split_negative_seed", lambda t, mp: data.train_val_test_split(
        np.zeros((10, 2)), np.arange(10) % 2, rng=-1), ValueError,
     r"^rng: a seed must be >= 0, got -1"),
    ("split_float_seed", lambda t, mp: data.train_val_test_split(
        np.zeros((10, 2)), np.arange(10) % 2, rng=0.5), TypeError,
     r"^rng must be a numpy.random.Generator or an integer seed, got float"),
    # --- data augmentation (cnnlab.augment)
    ("augment_x_one_image", lambda t, mp: augment.translate(np.zeros((1, 28, 28)), 1, 1),
     ValueError, r"^x must have 4 dimensions, got shape \(1, 28, 28\)"),
    ("augment_x_uint8", lambda t, mp: augment.RandomShift(2)(np.zeros((2, 1, 4, 4), np.uint8),
                                                             0), TypeError,
     r"^x must have dtype float32 or float64, got uint8"),
    ("augment_x_list", lambda t, mp: augment.RandomHorizontalFlip()([[0.0]], 0), TypeError,
     r"^x must be a numpy.ndarray, got list"),
    ("augment_dy_float", lambda t, mp: augment.translate(np.zeros((2, 1, 4, 4)), 1.5, 0),
     TypeError, r"^dy must be an integer, got 1.5"),
    ("augment_dx_wrong_length", lambda t, mp: augment.translate(
        np.zeros((2, 1, 4, 4)), 0, np.array([1, 2, 3])), TypeError,
     r"^dx must be an integer or an integer array of shape \(2,\), one per image, got int64 "
     r"of shape \(3,\)"),
    ("augment_padding_mode_unknown", lambda t, mp: augment.translate(
        np.zeros((1, 1, 4, 4)), 1, 1, padding_mode="wrap"), ValueError,
     r"^padding_mode must be one of \('constant', 'edge', 'reflect', 'symmetric'\), got 'wrap'"),
    ("augment_reflect_too_far", lambda t, mp: augment.translate(
        np.zeros((1, 1, 4, 5)), 4, 0, padding_mode="reflect"), ValueError,
     r"^dy, dx: 'reflect' padding reaches at most 3 rows and 4 columns beyond an image of "
     r"4 x 5 \(one reflection\), got 4 rows and 0 columns"),
    ("augment_fill_nan", lambda t, mp: augment.translate(np.zeros((1, 1, 4, 4)), 1, 1,
                                                         fill=float("nan")), ValueError,
     r"^fill must be finite, got nan"),
    ("augment_crop_too_large", lambda t, mp: augment.RandomCrop(48, padding=4)(
        np.zeros((2, 3, 32, 32)), 0), ValueError,
     r"^size: a crop of 48 x 48 does not fit in images of 32 x 32 padded by 4 \(40 x 40\)"),
    ("augment_crop_size_zero", lambda t, mp: augment.RandomCrop(0), ValueError,
     r"^size must be >= 1, got 0"),
    ("augment_crop_negative_padding", lambda t, mp: augment.RandomCrop(28, padding=-1),
     ValueError, r"^padding must be >= 0, got -1"),
    ("augment_shift_float", lambda t, mp: augment.RandomShift(2.0), TypeError,
     r"^max_shift must be an integer, got 2.0"),
    ("augment_shift_reflect_too_far", lambda t, mp: augment.RandomShift(
        4, padding_mode="reflect")(np.zeros((1, 1, 4, 4)), 0), ValueError,
     r"^max_shift: 'reflect' padding reaches at most 3 rows and 3 columns"),
    ("augment_flip_p_above_one", lambda t, mp: augment.RandomHorizontalFlip(1.5), ValueError,
     r"^p must be <= 1.0, got 1.5"),
    ("augment_noise_negative_sigma", lambda t, mp: augment.GaussianNoise(sigma=-0.1),
     ValueError, r"^sigma must be >= 0.0, got -0.1"),
    ("augment_noise_clip_str", lambda t, mp: augment.GaussianNoise(clip="yes"), TypeError,
     r"^clip must be True or False, got 'yes'"),
    ("augment_compose_not_a_list", lambda t, mp: augment.Compose(augment.RandomShift(1)),
     TypeError, r"^transforms must be a list of transforms, got RandomShift"),
    ("augment_compose_item", lambda t, mp: augment.Compose([augment.RandomShift(1), 3]),
     TypeError, r"^transforms\[1\] must be a callable \(x, rng\) -> x, got int"),
    ("augment_rng_float", lambda t, mp: augment.RandomShift(1)(np.zeros((1, 1, 4, 4)), 0.5),
     TypeError, r"^rng must be a numpy.random.Generator or an integer seed, got float"),
    ("augment_rng_negative", lambda t, mp: augment.GaussianNoise()(np.zeros((1, 1, 4, 4)), -1),
     ValueError, r"^rng: a seed must be >= 0, got -1"),
    # --- the exercise checkers (item 17): the call's own arguments
    ("check_id_int", lambda t, mp: exercises.check(7, 4), TypeError,
     r"^exercise_id must be a string such as 'ex-conv-by-hand-size', got 7"),
    ("check_unknown_id", lambda t, mp: exercises.check("ex-conv-by-hand-sise", 4),
     exercises.UnknownExerciseError, r"^no checker for exercise 'ex-conv-by-hand-sise'\. "
                                     r"Did you mean 'ex-conv-by-hand-size'"),
    ("check_needs_part", lambda t, mp: exercises.check("ex-backprop-by-hand", 2),
     exercises.UnknownExerciseError, r"^exercise 'ex-backprop-by-hand' has several parts: "
                                     r"pass part=\.\.\."),
    ("check_unknown_part", lambda t, mp: exercises.check("ex-backprop-by-hand", 2, part="dx"),
     exercises.UnknownExerciseError, r"^no checker for exercise 'ex-backprop-by-hand:dx'"),
    ("hint_id_none", lambda t, mp: exercises.hint(None), TypeError, r"^exercise_id must be"),
    ("list_unknown_chapter", lambda t, mp: exercises.list_exercises("chapter-1"), ValueError,
     r"^chapter must be one of \[.*'training'.*\] \(or None for all\), got 'chapter-1'"),
]


@pytest.mark.parametrize("call, exc, match", [row[1:] for row in BAD], ids=[r[0] for r in BAD])
def test_bad_input(call, exc, match, tmp_path, monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.delenv("CNNLAB_DATA", raising=False)
    with pytest.raises(exc, match=match) as info:
        call(tmp_path, monkeypatch)
    assert type(info.value) is exc


def test_catalogue_ids_are_unique():
    assert len({row[0] for row in BAD}) == len(BAD)
