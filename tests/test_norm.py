"""Batch normalisation: the pure kernels, the layers, and PyTorch agreement.

Tolerances: gradient checks relative error < 1e-7 (float64, eps 1e-6);
PyTorch comparisons rtol 1e-6, atol 1e-12 (float64).
"""
from __future__ import annotations

import numpy as np
import pytest

from cnnlab.gradcheck import module_gradcheck as gradcheck_module
from cnnlab.norm import BatchNorm1d, BatchNorm2d, batch_norm_backward, batch_norm_forward

F64 = np.float64
GRAD_TOL = 1e-7


def close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=1e-12)


def module_gradcheck(module, x):
    """Gradient check of ``module`` w.r.t. its input and every parameter (float64)."""
    return gradcheck_module(module, x, rng=0, tol=GRAD_TOL)

# (layer class, input shape)
SHAPES = [(BatchNorm2d, (4, 3, 5, 6)), (BatchNorm2d, (2, 1, 3, 3)), (BatchNorm1d, (8, 5)),
          (BatchNorm1d, (3, 4, 6))]
SHAPE_IDS = ["2d", "2d_C1", "1d", "1d_NCL"]


def random_bn(cls, shape, rng, **kwargs):
    layer = cls(shape[1], dtype=F64, **kwargs)
    if layer.affine:
        layer.weight.data = rng.uniform(0.5, 1.5, shape[1])
        layer.bias.data = rng.standard_normal(shape[1])
    return layer


def test_forward_normalises_with_biased_variance_and_is_pure(rng):
    x = rng.standard_normal((6, 3, 4, 4)) * 3 + 2
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    rm, rv = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    rm0, rv0, x0 = rm.copy(), rv.copy(), x.copy()
    out, _, new_rm, new_rv = batch_norm_forward(x, gamma, beta, rm, rv, True, momentum=0.2)
    np.testing.assert_array_equal(rm, rm0)
    np.testing.assert_array_equal(rv, rv0)
    np.testing.assert_array_equal(x, x0)
    mean = x.mean(axis=(0, 2, 3))
    var = ((x - mean[None, :, None, None]) ** 2).mean(axis=(0, 2, 3))
    x_hat = (x - mean[None, :, None, None]) / np.sqrt(var + 1e-5)[None, :, None, None]
    np.testing.assert_allclose(out, gamma[None, :, None, None] * x_hat
                               + beta[None, :, None, None], rtol=1e-12)
    m = 6 * 4 * 4
    np.testing.assert_allclose(new_rm, 0.8 * rm + 0.2 * mean, rtol=1e-12)
    np.testing.assert_allclose(new_rv, 0.8 * rv + 0.2 * var * m / (m - 1), rtol=1e-12)


def test_eval_mode_uses_running_stats_and_returns_them_unchanged(rng):
    x = rng.standard_normal((5, 4))
    rm, rv = rng.standard_normal(4), rng.uniform(0.5, 2, 4)
    out, cache, new_rm, new_rv = batch_norm_forward(x, None, None, rm, rv, False)
    np.testing.assert_allclose(out, (x - rm) / np.sqrt(rv + 1e-5), rtol=1e-12)
    np.testing.assert_array_equal(new_rm, rm)
    np.testing.assert_array_equal(new_rv, rv)
    dout = rng.standard_normal(x.shape)
    dx, dgamma, dbeta = batch_norm_backward(dout, cache)
    assert dgamma is None and dbeta is None
    np.testing.assert_allclose(dx, dout / np.sqrt(rv + 1e-5), rtol=1e-12)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("cls, shape", SHAPES, ids=SHAPE_IDS)
def test_layer_gradcheck(cls, shape, training, rng):
    layer = random_bn(cls, shape, rng).train(training)
    if not training:
        layer.running_mean = rng.standard_normal(shape[1])
        layer.running_var = rng.uniform(0.5, 2.0, shape[1])
    errors = module_gradcheck(layer, rng.standard_normal(shape) * 2 + 1)
    assert set(errors) == {"x", "weight", "bias"}
    assert max(errors.values()) < GRAD_TOL


def test_no_affine_gradcheck_and_parameters(rng):
    layer = BatchNorm2d(3, affine=False, dtype=F64)
    assert list(layer.parameters()) == [] and layer.num_parameters() == 0
    errors = module_gradcheck(layer, rng.standard_normal((2, 3, 3, 2)))
    assert errors["x"] < GRAD_TOL


def test_running_stats_are_buffers_not_parameters():
    layer = BatchNorm2d(4)
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
    np.testing.assert_array_equal(layer.weight.data, 1.0)
    np.testing.assert_array_equal(layer.bias.data, 0.0)
    np.testing.assert_array_equal(layer.running_mean, 0.0)
    np.testing.assert_array_equal(layer.running_var, 1.0)
    assert layer.running_mean.dtype == np.float32
    assert layer.output_shape((2, 4, 5, 5)) == (2, 4, 5, 5)
    assert repr(layer) == "BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True)"


@pytest.mark.parametrize("momentum", [0.1, 0.3])
@pytest.mark.parametrize("cls, shape", SHAPES, ids=SHAPE_IDS)
def test_equals_torch_over_training_steps_then_eval(cls, shape, momentum, rng, torch):
    layer = random_bn(cls, shape, rng, momentum=momentum)
    tcls = {BatchNorm2d: torch.nn.BatchNorm2d, BatchNorm1d: torch.nn.BatchNorm1d}[cls]
    tlayer = tcls(shape[1], momentum=momentum, dtype=torch.float64)
    with torch.no_grad():
        tlayer.weight.copy_(torch.from_numpy(layer.weight.data))
        tlayer.bias.copy_(torch.from_numpy(layer.bias.data))

    def step(x):
        g = rng.standard_normal(x.shape)
        layer.zero_grad()
        tlayer.zero_grad()
        out = layer(x)
        dx = layer.backward(g)
        tx = torch.tensor(x, requires_grad=True)
        tout = tlayer(tx)
        tout.backward(torch.from_numpy(g))
        close(out, tout.detach().numpy())
        close(dx, tx.grad.numpy())
        close(layer.weight.grad, tlayer.weight.grad.numpy())
        close(layer.bias.grad, tlayer.bias.grad.numpy())

    for i in range(3):
        step(rng.standard_normal(shape) * (i + 1) + i)
    close(layer.running_mean, tlayer.running_mean.numpy())
    close(layer.running_var, tlayer.running_var.numpy())
    layer.eval()
    tlayer.eval()
    step(rng.standard_normal(shape))
    close(layer.running_mean, tlayer.running_mean.numpy())  # eval leaves them alone


def test_training_needs_more_than_one_value_per_channel():
    with pytest.raises(ValueError, match="x: training needs more than 1 value per channel"):
        BatchNorm1d(3)(np.ones((1, 3), np.float32))
    out = BatchNorm1d(3).eval()(np.ones((1, 3), np.float32))  # fine in eval
    assert out.shape == (1, 3)
