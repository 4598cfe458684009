"""Softmax, cross-entropy and MSE: stability, gradient checks, PyTorch float64."""
from __future__ import annotations

import contextlib
import copy
import math
import warnings

import numpy as np
import pytest

from cnnlab.gradcheck import gradcheck
from cnnlab.losses import (
    CrossEntropyLoss,
    MSELoss,
    cross_entropy,
    cross_entropy_backward,
    cross_entropy_forward,
    log_softmax,
    mse,
    mse_backward,
    mse_forward,
    softmax,
)

TORCH_TOL = {"rtol": 1e-6, "atol": 1e-12}


@contextlib.contextmanager
def no_warnings():
    """Overflow, 0/0 and log(0) raise; any warning is an error (underflow to 0 is fine)."""
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        yield


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_extreme_logits(dtype):
    logits = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -1000.0]], dtype=dtype)
    with no_warnings():
        p = softmax(logits)
        logp = log_softmax(logits)
    assert p.dtype == logp.dtype == dtype
    assert np.all(np.isfinite(p)) and np.all(np.isfinite(logp))
    np.testing.assert_allclose(p[0], [1.0, 0.0, 0.0], atol=1e-30)
    np.testing.assert_allclose(p[1], [1 / 3] * 3, rtol=1e-6)
    np.testing.assert_allclose(logp[0], [0.0, -2000.0, -1000.0], rtol=1e-6)
    np.testing.assert_allclose(logp[1], [-math.log(3)] * 3, rtol=1e-6)


def test_softmax_axis_and_normalisation(rng):
    z = rng.standard_normal((3, 4, 5))
    for axis in (0, 1, -1):
        p = softmax(z, axis=axis)
        np.testing.assert_allclose(p.sum(axis=axis), 1.0, rtol=1e-14)
        np.testing.assert_allclose(np.log(p), log_softmax(z, axis=axis), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(softmax(z + 123.0), softmax(z), rtol=1e-12)  # shift invariance


@pytest.mark.parametrize("axis", [0, 1])
def test_softmax_matches_torch(torch, axis, rng):
    z = 5 * rng.standard_normal((4, 6))
    zt = torch.tensor(z, dtype=torch.float64)
    np.testing.assert_allclose(softmax(z, axis), torch.softmax(zt, axis).numpy(), **TORCH_TOL)
    np.testing.assert_allclose(log_softmax(z, axis), torch.log_softmax(zt, axis).numpy(),
                               **TORCH_TOL)


def test_cross_entropy_known_values():
    # uniform scores: the loss is log(C) for every sample
    assert cross_entropy(np.zeros((4, 10)), np.array([0, 3, 9, 5])) == pytest.approx(
        math.log(10), rel=1e-15)
    loss = cross_entropy(np.array([[2.0, 0.0]]), np.array([0]))
    assert loss == pytest.approx(math.log(1 + math.exp(-2.0)), rel=1e-15)
    assert cross_entropy(np.zeros((4, 10)), np.array([0, 3, 9, 5]), "sum") == pytest.approx(
        4 * math.log(10), rel=1e-15)


@pytest.mark.parametrize("label_dtype", [np.int64, np.int32, np.uint8, np.int8])
def test_cross_entropy_accepts_integer_label_dtypes(label_dtype):
    loss, cache = cross_entropy_forward(np.zeros((2, 3)), np.array([2, 1], dtype=label_dtype))
    assert isinstance(loss, float) and loss == pytest.approx(math.log(3))
    np.testing.assert_allclose(cross_entropy_backward(cache),
                               [[1 / 6, 1 / 6, -1 / 3], [1 / 6, -1 / 3, 1 / 6]], rtol=1e-14)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("dloss", [1.0, 2.5])
def test_cross_entropy_matches_torch(torch, reduction, dloss, rng):
    logits = 3 * rng.standard_normal((6, 5))
    logits[0] = [900.0, -900.0, 0.0, 1.0, 2.0]  # extreme but finite
    labels = rng.integers(0, 5, 6)
    loss, cache = cross_entropy_forward(logits, labels, reduction)
    dlogits = cross_entropy_backward(cache, dloss)
    zt = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    loss_t = torch.nn.functional.cross_entropy(zt, torch.tensor(labels), reduction=reduction)
    (loss_t * dloss).backward()
    assert loss == pytest.approx(loss_t.item(), rel=1e-6)
    np.testing.assert_allclose(dlogits, zt.grad.numpy(), **TORCH_TOL)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_gradcheck(reduction, rng):
    labels = rng.integers(0, 4, 5)
    saved = {}

    def forward(logits):
        loss, saved["cache"] = cross_entropy_forward(logits, labels, reduction)
        return np.array(loss)

    errors = gradcheck(forward,
                       lambda g: {"logits": cross_entropy_backward(saved["cache"], float(g))},
                       {"logits": 2 * rng.standard_normal((5, 4))}, rng=5)
    assert errors["logits"] < 1e-7, errors


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_losses_keep_dtype(dtype, rng):
    logits = rng.standard_normal((3, 4)).astype(dtype)
    _, cache = cross_entropy_forward(logits, np.array([0, 1, 3]))
    assert cross_entropy_backward(cache).dtype == dtype
    _, cache = mse_forward(logits, np.zeros_like(logits))
    assert mse_backward(cache).dtype == dtype


def test_mse_known_values():
    pred, target = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 0.0], [0.0, 4.0]])
    assert mse(pred, target) == 13.0 / 4
    assert mse(pred, target, "sum") == 13.0
    _, cache = mse_forward(pred, target)
    np.testing.assert_array_equal(mse_backward(cache), [[0.0, 1.0], [1.5, 0.0]])


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("dloss", [1.0, -0.5])
def test_mse_matches_torch(torch, reduction, dloss, rng):
    pred, target = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 4))
    loss, cache = mse_forward(pred, target, reduction)
    dpred = mse_backward(cache, dloss)
    pt = torch.tensor(pred, dtype=torch.float64, requires_grad=True)
    loss_t = torch.nn.functional.mse_loss(pt, torch.tensor(target, dtype=torch.float64),
                                          reduction=reduction)
    (loss_t * dloss).backward()
    assert loss == pytest.approx(loss_t.item(), rel=1e-6)
    np.testing.assert_allclose(dpred, pt.grad.numpy(), **TORCH_TOL)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse_gradcheck(reduction, rng):
    target = rng.standard_normal((3, 4))
    saved = {}

    def forward(pred):
        loss, saved["cache"] = mse_forward(pred, target, reduction)
        return np.array(loss)

    errors = gradcheck(forward, lambda g: {"pred": mse_backward(saved["cache"], float(g))},
                       {"pred": rng.standard_normal((3, 4))}, rng=6)
    assert errors["pred"] < 1e-7, errors


def test_backward_does_not_mutate_cache(rng):
    _, cache = cross_entropy_forward(rng.standard_normal((3, 4)), np.array([0, 1, 2]))
    cache0 = copy.deepcopy(cache)
    first = cross_entropy_backward(cache, 2.0)
    for key in cache:
        np.testing.assert_array_equal(cache[key], cache0[key], err_msg=key)
    np.testing.assert_array_equal(cross_entropy_backward(cache, 2.0), first)
    _, cache = mse_forward(rng.standard_normal(5), rng.standard_normal(5))
    cache0 = copy.deepcopy(cache)
    mse_backward(cache)
    np.testing.assert_array_equal(cache["diff"], cache0["diff"])


def test_forward_does_not_depend_on_later_label_changes(rng):
    labels = np.array([0, 1, 2])
    _, cache = cross_entropy_forward(rng.standard_normal((3, 4)), labels)
    before = cross_entropy_backward(cache)
    labels[:] = 3
    np.testing.assert_array_equal(cross_entropy_backward(cache), before)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_loss_classes(reduction, rng):
    logits, labels = rng.standard_normal((4, 3)), np.array([2, 0, 1, 1])
    ce = CrossEntropyLoss(reduction)
    assert ce(logits, labels) == cross_entropy(logits, labels, reduction)
    _, cache = cross_entropy_forward(logits, labels, reduction)
    np.testing.assert_array_equal(ce.backward(3.0), cross_entropy_backward(cache, 3.0))
    assert ce.forward(logits, labels) == ce(logits, labels)

    pred, target = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    loss_fn = MSELoss(reduction)
    assert loss_fn(pred, target) == mse(pred, target, reduction)
    _, cache = mse_forward(pred, target, reduction)
    np.testing.assert_array_equal(loss_fn.backward(), mse_backward(cache))
    assert repr(loss_fn) == f"MSELoss(reduction='{reduction}')"


@pytest.mark.parametrize("cls", [CrossEntropyLoss, MSELoss])
def test_loss_class_backward_before_forward(cls):
    with pytest.raises(RuntimeError, match="before forward"):
        cls().backward()


@pytest.mark.parametrize("cls", [CrossEntropyLoss, MSELoss])
def test_loss_class_bad_reduction(cls):
    with pytest.raises(ValueError, match="reduction"):
        cls("none")
    with pytest.raises(TypeError, match="reduction"):
        cls(None)


@pytest.mark.parametrize("logits, labels", [([[3e38, -3e38]], [1]), ([[3e38, -3e38]], [0]),
                                            ([[-3.4e38, 3.4e38, 0.0], [1.0, 2.0, 3.0]], [0, 2])])
def test_cross_entropy_of_finite_float32_extremes_is_finite(logits, labels):
    """Issue 15, item 14: z - max(z) overflowed float32 and the loss came out inf."""
    z32, y = np.array(logits, np.float32), np.array(labels)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, cache = cross_entropy_forward(z32, y)
        grad = cross_entropy_backward(cache)
    want = cross_entropy(z32.astype(np.float64), y)
    assert math.isfinite(loss) and loss == pytest.approx(want, rel=1e-6)
    assert grad.dtype == np.float32 and np.isfinite(grad).all()
