"""Catalogue of bad inputs to state dicts, checkpoints and fit/evaluate/predict.

Each row: a call (given ``tmp_path`` and ``monkeypatch``), the exception type it must
raise, and a regular expression the message must match; it starts with the argument
(``state``, ``path``, ``model``, ``train_data``, ...).  Every row that could change the
model is also checked to leave its state dict as it was.
"""
from __future__ import annotations

import os
import warnings
import zipfile

import numpy as np
import pytest

from cnnlab.augment import RandomShift
from cnnlab.checkpoints import checkpoint_path, load_parameters, save_parameters
from cnnlab.init import meta
from cnnlab.layers import Linear, ReLU
from cnnlab.losses import CrossEntropyLoss, MSELoss
from cnnlab.module import Sequential
from cnnlab.norm import BatchNorm1d
from cnnlab.optim import SGD
from cnnlab.train import confusion_matrix, evaluate, fit, predict

F64 = np.float64
MODEL = None  # the model of the row being run (see `model`)


def fresh() -> Sequential:
    """A small float64 classifier with a batch norm (buffers): 2 features, 3 classes."""
    return Sequential(Linear(2, 4, rng=0, dtype=F64), BatchNorm1d(4, dtype=F64), ReLU(),
                      Linear(4, 3, rng=1, dtype=F64))


def model() -> Sequential:
    """:func:`fresh`, remembered as the model whose state the row must leave unchanged."""
    global MODEL
    MODEL = fresh()
    return MODEL


def meta_model() -> Sequential:
    with meta():
        return Sequential(Linear(2, 4), ReLU(), Linear(4, 3))


def data(n: int = 8, **change):
    x = np.linspace(-1, 1, 2 * n).reshape(n, 2)
    y = np.arange(n) % 3
    for key, (index, value) in change.items():
        (x if key == "x" else y)[index] = value
    return x, y


def state(**change):
    s = fresh().state_dict()
    s.update(change)
    return s


def fit_with(**kwargs):
    m = model()
    args = dict(loss=CrossEntropyLoss(), optimizer=SGD(m.parameters(), lr=0.1),
                train_data=data(), epochs=1, batch_size=4, rng=0)
    args.update(kwargs)
    return fit(m, **args)


def regression_fit(y):
    m = model()
    return fit(m, MSELoss(), SGD(m.parameters(), lr=0.1), (data()[0], y), epochs=1,
               batch_size=4, rng=0)


def saved(tmp, **change):
    """A checkpoint of `model()` with some entries replaced, written with numpy.savez."""
    s = fresh().state_dict()
    s.update(change)
    path = tmp / "ckpt.npz"
    np.savez(path, **s)
    return path


def crafted_header(tmp):
    """A checkpoint whose '3.weight' header announces 10**12 float64 numbers (8 TB)."""
    path = saved(tmp)
    header = {"descr": "<f8", "fortran_order": False, "shape": (10 ** 12,)}
    with zipfile.ZipFile(path) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            if name == "3.weight.npy":
                with archive.open(name, "w") as f:
                    np.lib.format.write_array_header_1_0(f, header)
                    f.write(b"\0" * 64)
            else:
                archive.writestr(name, content)
    return path


def duplicated_entry(tmp):
    path = saved(tmp)
    with warnings.catch_warnings(), zipfile.ZipFile(path, "a") as archive:
        warnings.simplefilter("ignore", UserWarning)  # zipfile: "Duplicate name"
        with archive.open("3.bias.npy", "w") as f:
            np.lib.format.write_array(f, np.zeros(3))
    return path


def read_only(monkeypatch, path):
    """Make os.access say ``path`` cannot be written (the tests run as root)."""
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: (
        False if os.fspath(p) == os.fspath(path) and mode & os.W_OK else real(p, mode, **kw)))


NAN = np.ones(3)
NAN[1] = np.nan

BAD = [
    # --- load_state_dict (item 4)
    ("state_not_mapping", lambda t, mp: model().load_state_dict([("0.weight", 1)]), TypeError,
     r"^state must be a dict of arrays \(from state_dict\(\)\), got list"),
    ("state_missing_entry", lambda t, mp: model().load_state_dict(
        {k: v for k, v in model().state_dict().items() if k != "3.bias"}), KeyError,
     r"^.state: missing entries \['3.bias'\], unexpected entries \[\]"),
    ("state_unexpected_entry", lambda t, mp: model().load_state_dict(state(extra=np.zeros(1))),
     KeyError, r"^.state: missing entries \[\], unexpected entries \['extra'\]"),
    ("state_wrong_shape", lambda t, mp: model().load_state_dict(state(**{"3.bias": np.zeros(4)})),
     ValueError, r"^state\['3.bias'\]: expected shape \(3,\), got \(4,\)"),
    ("state_float32_into_float64", lambda t, mp: model().load_state_dict(
        state(**{"3.bias": np.zeros(3, np.float32)})), TypeError,
     r"^state\['3.bias'\]: dtype float32 does not match the model's float64"),
    ("state_bool", lambda t, mp: model().load_state_dict(state(**{"3.bias": np.ones(3, bool)})),
     TypeError, r"^state\['3.bias'\]: dtype bool does not match"),
    ("state_complex", lambda t, mp: model().load_state_dict(
        state(**{"3.bias": np.ones(3, complex)})), TypeError,
     r"^state\['3.bias'\]: dtype complex128 does not match"),
    ("state_int", lambda t, mp: model().load_state_dict(state(**{"3.bias": np.ones(3, int)})),
     TypeError, r"^state\['3.bias'\]: dtype int64 does not match"),
    ("state_nan", lambda t, mp: model().load_state_dict(state(**{"3.bias": NAN})), ValueError,
     r"^state\['3.bias'\] must be finite, got nan at index \(1,\)"),
    ("state_inf_buffer", lambda t, mp: model().load_state_dict(
        state(**{"1.running_var": np.full(4, np.inf)})), ValueError,
     r"^state\['1.running_var'\] must be finite, got inf at index \(0,\)"),
    ("state_list_entry", lambda t, mp: model().load_state_dict(state(**{"3.bias": [0, 0, 0]})),
     TypeError, r"^state\['3.bias'\] must be a numpy.ndarray, got list"),
    ("state_into_meta_model", lambda t, mp: meta_model().load_state_dict({}), RuntimeError,
     r"^Sequential was built inside cnnlab.init.meta\(\).*not loaded"),
    # --- saving (items 2, 3, 5, 15)
    ("save_model_str", lambda t, mp: save_parameters("model", t / "x.npz"), TypeError,
     r"^model must be a cnnlab Module, got str"),
    ("save_path_int", lambda t, mp: save_parameters(model(), 3), TypeError,
     r"^path must be a str or path-like, got int"),
    ("save_path_empty", lambda t, mp: save_parameters(model(), ""), ValueError,
     r"^path must name a file, got an empty string"),
    ("save_path_folder", lambda t, mp: save_parameters(model(), t), ValueError,
     r"^path: '.*' is a folder; give a file name such as '.*model.npz'"),
    ("save_path_trailing_slash", lambda t, mp: save_parameters(model(), f"{t}/new/"),
     ValueError, r"^path: '.*/new/' is a folder"),
    ("save_path_folder_with_npz_added", lambda t, mp: (t / "out.npz").mkdir()
     or save_parameters(model(), t / "out"), ValueError, r"^path: '.*out.npz' is a folder"),
    ("save_missing_folder", lambda t, mp: save_parameters(model(), t / "no" / "x.npz"),
     FileNotFoundError, r"^path: folder .*no does not exist"),
    ("save_folder_is_a_file", lambda t, mp: (t / "f").write_text("")
     or save_parameters(model(), t / "f" / "x.npz"), NotADirectoryError,
     r"^path: .*f is a file, not a folder"),
    ("save_read_only_folder", lambda t, mp: read_only(mp, t)
     or save_parameters(model(), t / "x.npz"), PermissionError,
     r"^path: cannot write into folder .* \(permission denied\)"),
    ("save_meta_model", lambda t, mp: save_parameters(meta_model(), t / "x.npz"), RuntimeError,
     r"^model: Sequential was built inside cnnlab.init.meta\(\).*not saved"),
    ("checkpoint_path_bytes", lambda t, mp: checkpoint_path(os.fsencode(t / "x")), TypeError,
     r"^path must be a str or path-like, got bytes"),
    # --- loading (items 4, 5, 15)
    ("load_missing_file", lambda t, mp: load_parameters(model(), t / "none.npz"),
     FileNotFoundError, r"^path: .*none.npz does not exist"),
    ("load_folder", lambda t, mp: load_parameters(model(), t), ValueError,
     r"^path: .* is a folder, not a checkpoint file"),
    ("load_text_file", lambda t, mp: (t / "a.npz").write_text("text")
     and load_parameters(model(), t / "a.npz"), ValueError, r"^path: cannot read .* as an .npz"),
    ("load_single_array", lambda t, mp: np.save(t / "a.npy", np.zeros(3))
     or load_parameters(model(), t / "a.npy"), ValueError, r"^path: .* holds a single array"),
    ("load_object_array", lambda t, mp: load_parameters(model(), saved(
        t, **{"3.bias": np.array([None, 1, 2], dtype=object)})), ValueError,
     r"^path: cannot read the arrays in .*: entry '3.bias' holds Python objects.*pickle"),
    ("load_other_architecture", lambda t, mp: load_parameters(
        Sequential(Linear(2, 3, rng=0, dtype=F64)), saved(t)), ValueError,
     r"^path: .* different architecture; unexpected: 1.bias, 1.running_mean, .*; "
     r"mismatched: 0.weight float64\(4, 2\) \(model: float64\(3, 2\)\)"),
    ("load_float32_into_float64", lambda t, mp: load_parameters(model(), saved(
        t, **{"0.weight": np.zeros((4, 2), np.float32)})), ValueError,
     r"^path: .* mismatched: 0.weight float32\(4, 2\) \(model: float64\(4, 2\)\)"),
    ("load_crafted_header", lambda t, mp: load_parameters(model(), crafted_header(t)),
     ValueError, r"^path: .* mismatched: 3.weight float64\(1000000000000,\)"),
    ("load_duplicated_entry", lambda t, mp: load_parameters(model(), duplicated_entry(t)),
     ValueError, r"^path: cannot read the arrays in .* \(entry '3.bias' appears twice\)"),
    ("load_nan", lambda t, mp: load_parameters(model(), saved(t, **{"3.bias": NAN})),
     ValueError, r"^path: .*ckpt.npz: entry '3.bias' must be finite, got nan at index \(1,\)"),
    ("load_into_meta_model", lambda t, mp: load_parameters(meta_model(), saved(t)),
     RuntimeError, r"^model: Sequential was built inside .*not loaded"),
    ("load_model_none", lambda t, mp: load_parameters(None, saved(t)), TypeError,
     r"^model must be a cnnlab Module"),
    # --- fit (items 1, 11, 12, 16)
    ("fit_nan_sample", lambda t, mp: fit_with(train_data=data(x=((5, 1), np.nan))), ValueError,
     r"^train_data: x must be finite, got nan at index \(5, 1\)"),
    ("fit_inf_val_sample", lambda t, mp: fit_with(val_data=data(x=((2, 0), -np.inf))),
     ValueError, r"^val_data: x must be finite, got -inf at index \(2, 0\)"),
    ("fit_label_too_large", lambda t, mp: fit_with(train_data=data(y=(6, 3))), ValueError,
     r"^train_data: y\[6\] is 3, but the model has 3 classes \(labels must be in \[0, 3\)\)"),
    ("fit_label_negative", lambda t, mp: fit_with(train_data=data(y=(7, -1))), ValueError,
     r"^train_data: y\[7\] is -1, but the model has 3 classes"),
    ("fit_val_label", lambda t, mp: fit_with(val_data=data(y=(0, 9))), ValueError,
     r"^val_data: y\[0\] is 9, but the model has 3 classes"),
    ("fit_float_labels", lambda t, mp: fit_with(train_data=(data()[0], data()[1] * 1.0)),
     TypeError, r"^train_data: y must be a 1-D array of integer class labels for "
                r"CrossEntropyLoss, got float64"),
    ("fit_samples_do_not_fit", lambda t, mp: fit_with(train_data=(np.ones((8, 5)), data()[1])),
     ValueError, r"^train_data: samples of shape \(5,\) do not fit the model \(input_shape: "
                 r"expected 2 input features"),
    ("fit_mse_target_shape", lambda t, mp: regression_fit(np.zeros((8, 2))), ValueError,
     r"^train_data: y must have the model's output shape \(8, 3\) for MSELoss, got \(8, 2\)"),
    ("fit_mse_target_dtype", lambda t, mp: regression_fit(np.zeros((8, 3), np.float32)),
     TypeError, r"^train_data: y must have the dtype of x \(float64\) for MSELoss"),
    ("fit_mse_target_nan", lambda t, mp: regression_fit(np.full((8, 3), np.nan)), ValueError,
     r"^train_data: y must be finite, got nan at index \(0, 0\)"),
    ("fit_meta_model", lambda t, mp: fit(meta_model(), CrossEntropyLoss(), None, data(),
                                         epochs=1, batch_size=4, rng=0), RuntimeError,
     r"^model: Sequential was built inside cnnlab.init.meta\(\).*not trained"),
    ("fit_negative_seed", lambda t, mp: fit_with(rng=-3), ValueError,
     r"^rng: a seed must be >= 0, got -3"),
    ("fit_augment_not_callable", lambda t, mp: fit_with(augment=3), TypeError,
     r"^augment must be a callable \(x_batch, rng\) -> x_batch, or None, got int"),
    ("fit_augment_fails_on_the_data", lambda t, mp: fit_with(augment=RandomShift(1)), ValueError,
     r"^augment: fails on a batch of train_data: x must have 4 dimensions, got shape \(1, 2\)"),
    ("fit_augment_returns_a_list", lambda t, mp: fit_with(augment=lambda xb, rng: xb.tolist()),
     TypeError, r"^augment must return an array of 2 dimensions with one sample per sample of "
                r"its input, got list for a batch of shape \(1, 2\)"),
    ("fit_augment_drops_samples", lambda t, mp: fit_with(augment=lambda xb, rng: xb[:0]),
     TypeError, r"^augment must return an array of 2 dimensions .* got ndarray\(0, 2\)"),
    ("fit_augment_changes_dtype", lambda t, mp: fit_with(
        augment=lambda xb, rng: xb.astype(np.float32)), TypeError,
     r"^augment must keep the dtype of train_data's x \(float64\), got float32"),
    # --- evaluate and predict (items 5, 11)
    ("evaluate_nan_sample", lambda t, mp: evaluate(model(), CrossEntropyLoss(),
                                                   data(x=((3, 1), np.nan))), ValueError,
     r"^data: x must be finite, got nan at index \(3, 1\)"),
    ("evaluate_label_too_large", lambda t, mp: evaluate(model(), CrossEntropyLoss(),
                                                        data(y=(4, 5))), ValueError,
     r"^data: y\[4\] is 5, but the model has 3 classes"),
    ("evaluate_meta_model", lambda t, mp: evaluate(meta_model(), CrossEntropyLoss(), data()),
     RuntimeError, r"^model: Sequential was built inside .*not run"),
    ("evaluate_nan_weights", lambda t, mp: [setattr(p, "data", p.data * np.nan)
                                            for p in model().parameters()]
     and evaluate(MODEL, CrossEntropyLoss(), data()), FloatingPointError,
     r"^model: its outputs for data\[0:8\] are not finite"),
    ("predict_nan_sample", lambda t, mp: predict(model(), data(x=((0, 0), np.nan))[0]),
     ValueError, r"^x must be finite, got nan at index \(0, 0\)"),
    ("predict_meta_model", lambda t, mp: predict(meta_model(), data()[0]), RuntimeError,
     r"^model: Sequential was built inside .*not run"),
    # --- confusion matrix (items 6, 8)
    ("confusion_absurd_memory", lambda t, mp: mp.setattr(
        "cnnlab._validate.memory_limit", lambda: 16 << 30)
     or confusion_matrix(np.zeros(3, int), np.zeros(3, int), 60_000), ValueError,
     r"^num_classes: a 60,000 x 60,000 confusion matrix of int64 would need 26.8 GiB"),
    ("confusion_label_uint8_out_of_range", lambda t, mp: confusion_matrix(
        np.array([13, 25], np.uint8), np.array([0, 1], np.uint8), 20), ValueError,
     r"^y_true must hold labels in \[0, 20\), got values from 13 to 25"),
]


@pytest.mark.parametrize("call, exc, match", [row[1:] for row in BAD], ids=[r[0] for r in BAD])
def test_bad_input(call, exc, match, tmp_path, monkeypatch):
    global MODEL
    MODEL = None
    with pytest.raises(exc, match=match) as info:
        call(tmp_path, monkeypatch)
    assert type(info.value) is exc
    if MODEL is not None and exc is not FloatingPointError:  # the last model built is unchanged
        before, now = fresh().state_dict(), MODEL.state_dict()
        assert all(np.array_equal(now[k], before[k]) for k in before)


def test_catalogue_ids_are_unique():
    assert len({row[0] for row in BAD}) == len(BAD)
