"""Layer classes: forward equals the functional kernels, gradients pass a float64
gradient check and equal PyTorch's; plus Sequential, Dropout, init and the Module API.

Tolerances: gradient checks use relative error < 1e-7 (float64, eps 1e-6);
PyTorch comparisons use rtol 1e-6 with atol 1e-12 (float64; the atol only
absorbs entries that cancel to rounding noise around zero).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlab import activations, conv, conv_transpose, linear, pool
from cnnlab.gradcheck import gradcheck
from cnnlab.gradcheck import module_gradcheck as gradcheck_module
from cnnlab.init import fans, he_normal, he_uniform, xavier_normal, xavier_uniform
from cnnlab.layers import (
    AvgPool2d,
    Conv2d,
    ConvTranspose2d,
    Dropout,
    Flatten,
    Linear,
    MaxPool2d,
    ReLU,
    Sigmoid,
    Tanh,
)
from cnnlab.module import Module, Parameter, Sequential

F64 = np.float64
RTOL, ATOL = 1e-6, 1e-12
GRAD_TOL = 1e-7


def close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL)


def make_input(shape, kind, rng):
    """float64 input away from kinks: 'smooth', 'relu' (|x| >= 0.1) or 'distinct'."""
    if kind == "distinct":  # all values 1/n apart: no max-pool ties within eps
        n = math.prod(shape)
        return (rng.permutation(n) / n - 0.5).reshape(shape).astype(F64)
    x = rng.standard_normal(shape)
    if kind == "relu":
        x = np.sign(x) * (0.1 + np.abs(x))
    return x


def _bias(layer):
    return None if layer.bias is None else layer.bias.data


# id: (make layer (float64), input shape, input kind, reference forward, torch builder)
CASES = {
    "conv3x3_pad1": (lambda: Conv2d(3, 4, 3, padding=1, rng=0, dtype=F64), (2, 3, 7, 7), "smooth",
                     lambda L, x: conv.conv2d_forward(x, L.weight.data, _bias(L), 1, 1)[0],
                     lambda t: t.nn.Conv2d(3, 4, 3, padding=1, dtype=t.float64)),
    "conv_rect_stride": (
        lambda: Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(0, 1), rng=1, dtype=F64),
        (1, 2, 8, 7), "smooth",
        lambda L, x: conv.conv2d_forward(x, L.weight.data, _bias(L), (2, 1), (0, 1))[0],
        lambda t: t.nn.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(0, 1), dtype=t.float64)),
    "conv1x1_nobias": (lambda: Conv2d(1, 2, 1, bias=False, rng=2, dtype=F64), (2, 1, 5, 5),
                       "smooth", lambda L, x: conv.conv2d_forward(x, L.weight.data)[0],
                       lambda t: t.nn.Conv2d(1, 2, 1, bias=False, dtype=t.float64)),
    "conv_same_even": (
        lambda: Conv2d(2, 2, 4, padding="same", init="xavier_uniform", rng=3, dtype=F64),
        (1, 2, 6, 5), "smooth",
        lambda L, x: conv.conv2d_forward(x, L.weight.data, _bias(L), 1, "same")[0],
        lambda t: t.nn.Conv2d(2, 2, 4, padding="same", dtype=t.float64)),
    "conv_transpose_k4_s2_p1": (
        lambda: ConvTranspose2d(3, 2, 4, stride=2, padding=1, rng=4, dtype=F64),
        (2, 3, 4, 4), "smooth",
        lambda L, x: conv_transpose.conv_transpose2d_forward(x, L.weight.data, _bias(L), 2,
                                                             1)[0],
        lambda t: t.nn.ConvTranspose2d(3, 2, 4, stride=2, padding=1, dtype=t.float64)),
    "maxpool2": (lambda: MaxPool2d(2), (2, 3, 6, 6), "distinct",
                 lambda L, x: pool.max_pool2d_forward(x, 2)[0],
                 lambda t: t.nn.MaxPool2d(2)),
    "maxpool3_s2_p1": (lambda: MaxPool2d(3, stride=2, padding=1), (1, 2, 7, 6), "distinct",
                       lambda L, x: pool.max_pool2d_forward(x, 3, 2, 1)[0],
                       lambda t: t.nn.MaxPool2d(3, stride=2, padding=1)),
    "avgpool2": (lambda: AvgPool2d(2), (2, 2, 5, 6), "smooth",
                 lambda L, x: pool.avg_pool2d_forward(x, 2)[0],
                 lambda t: t.nn.AvgPool2d(2)),
    "avgpool3_s1_p1": (lambda: AvgPool2d(3, stride=1, padding=1), (1, 2, 5, 4), "smooth",
                       lambda L, x: pool.avg_pool2d_forward(x, 3, 1, 1)[0],
                       lambda t: t.nn.AvgPool2d(3, stride=1, padding=1)),
    "relu": (ReLU, (3, 2, 4, 4), "relu", lambda L, x: activations.relu_forward(x)[0],
             lambda t: t.nn.ReLU()),
    "sigmoid": (Sigmoid, (3, 5), "smooth", lambda L, x: activations.sigmoid_forward(x)[0],
                lambda t: t.nn.Sigmoid()),
    "tanh": (Tanh, (2, 3, 4), "smooth", lambda L, x: activations.tanh_forward(x)[0],
             lambda t: t.nn.Tanh()),
    "linear": (lambda: Linear(5, 3, rng=4, dtype=F64), (4, 5), "smooth",
               lambda L, x: linear.linear_forward(x, L.weight.data, L.bias.data)[0],
               lambda t: t.nn.Linear(5, 3, dtype=t.float64)),
    "linear_nobias": (lambda: Linear(4, 2, bias=False, init="xavier_normal", rng=5, dtype=F64),
                      (1, 4), "smooth", lambda L, x: linear.linear_forward(x, L.weight.data)[0],
                      lambda t: t.nn.Linear(4, 2, bias=False, dtype=t.float64)),
    "flatten": (Flatten, (2, 3, 2, 2), "smooth", lambda L, x: linear.flatten_forward(x)[0],
                lambda t: t.nn.Flatten()),
    "flatten_dim2": (lambda: Flatten(start_dim=2), (2, 3, 2, 2), "smooth",
                     lambda L, x: linear.flatten_forward(x, 2)[0],
                     lambda t: t.nn.Flatten(start_dim=2)),
}
IDS = list(CASES)


def build(case_id, rng):
    make, shape, kind, ref, make_torch = CASES[case_id]
    layer = make()
    if layer.num_parameters():  # non-zero biases, so a bias bug cannot hide
        for p in layer.parameters():
            p.data = rng.standard_normal(p.data.shape) * 0.5
    return layer, make_input(shape, kind, rng), ref, make_torch


def module_gradcheck(module: Module, x: np.ndarray) -> dict[str, float]:
    """Gradient check of ``module`` w.r.t. its input and every parameter (float64)."""
    return gradcheck_module(module, x, rng=0, tol=GRAD_TOL)


@pytest.mark.parametrize("case_id", IDS)
def test_forward_equals_functional_kernel(case_id, rng):
    layer, x, ref, _ = build(case_id, rng)
    np.testing.assert_array_equal(layer(x), ref(layer, x))


@pytest.mark.parametrize("case_id", IDS)
def test_backward_passes_gradcheck(case_id, rng):
    layer, x, _, _ = build(case_id, rng)
    errors = module_gradcheck(layer, x)
    assert set(errors) == {"x"} | {n for n, _ in layer.named_parameters()}
    assert max(errors.values()) < GRAD_TOL


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("case_id", IDS)
def test_forward_and_gradients_equal_torch(case_id, rng, torch):
    layer, x, _, make_torch = build(case_id, rng)
    tmod = make_torch(torch)
    tparams = dict(tmod.named_parameters())
    assert set(tparams) == {n for n, _ in layer.named_parameters()}
    with torch.no_grad():
        for name, p in layer.named_parameters():
            tparams[name].copy_(torch.from_numpy(p.data))
    out = layer(x)
    g = rng.standard_normal(out.shape)
    dx = layer.backward(g)
    tx = torch.tensor(x, requires_grad=True)
    tout = tmod(tx)
    tout.backward(torch.from_numpy(g))
    close(out, tout.detach().numpy())
    close(dx, tx.grad.numpy())
    for name, p in layer.named_parameters():
        close(p.grad, tparams[name].grad.numpy())


@pytest.mark.parametrize("case_id", IDS)
def test_output_shape_matches_forward(case_id, rng):
    layer, x, _, _ = build(case_id, rng)
    assert layer.output_shape(x.shape) == layer(x).shape


@pytest.mark.parametrize("case_id", IDS)
def test_backward_mutates_nothing_and_checks_order(case_id, rng):
    layer, x, _, _ = build(case_id, rng)
    with pytest.raises(RuntimeError,
                       match=f"{type(layer).__name__}.backward called before forward"):
        layer.backward(np.ones(layer.output_shape(x.shape)))
    x0 = x.copy()
    out = layer(x)
    g = rng.standard_normal(out.shape)
    g0 = g.copy()
    layer.backward(g)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(g, g0)
    with pytest.raises(ValueError, match="dout"):
        layer.backward(np.ones(out.shape + (1,)))


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 2), c_in=st.integers(1, 3), c_out=st.integers(1, 3),
       h=st.integers(1, 9), w=st.integers(1, 9), k=st.integers(1, 4), s=st.integers(1, 3),
       p=st.integers(0, 2))
def test_conv_output_shape_property(n, c_in, c_out, h, w, k, s, p):
    layer = Conv2d(c_in, c_out, k, stride=s, padding=p, rng=0, dtype=F64)
    if k > min(h, w) + 2 * p:
        with pytest.raises(ValueError, match="kernel"):
            layer.output_shape((n, c_in, h, w))
        return
    x = np.random.default_rng(0).standard_normal((n, c_in, h, w))
    assert layer.output_shape(x.shape) == layer(x).shape == (
        n, c_out, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1)


# --- Parameter and Module -------------------------------------------------------------
def test_parameter_grad_starts_at_zero_and_accumulates():
    p = Parameter(np.ones((2, 3), np.float32))
    assert p.grad.shape == (2, 3) and p.grad.dtype == np.float32 and not p.grad.any()
    p.accumulate(np.full((2, 3), 2.0, np.float32))
    p.accumulate(np.full((2, 3), 0.5, np.float32))
    np.testing.assert_array_equal(p.grad, 2.5)
    p.zero_grad()
    np.testing.assert_array_equal(p.grad, 0.0)


def test_layer_defaults_float32_zero_bias_and_he_std():
    layer = Conv2d(64, 128, 3, rng=0)
    assert layer.weight.data.dtype == np.float32 and layer.bias.data.dtype == np.float32
    assert layer.weight.data.shape == (128, 64, 3, 3)
    np.testing.assert_array_equal(layer.bias.data, 0.0)
    # 73,728 samples: std error of the std ~0.3%; 2% tolerance
    np.testing.assert_allclose(layer.weight.data.std(), math.sqrt(2 / (64 * 9)), rtol=0.02)
    lin = Linear(300, 200, init="xavier_uniform", rng=0)
    np.testing.assert_allclose(lin.weight.data.std(), math.sqrt(2 / 500), rtol=0.02)


def test_same_seed_same_weights_and_generator_accepted():
    a, b = Conv2d(3, 4, 3, rng=7), Conv2d(3, 4, 3, rng=7)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    c = Linear(3, 4, rng=np.random.default_rng(7))
    d = Linear(3, 4, rng=8)
    assert not np.array_equal(c.weight.data, d.weight.data)


def test_repr_like_pytorch():
    assert repr(Conv2d(3, 64, 3, padding=1)) == (
        "Conv2d(3, 64, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))")
    assert repr(MaxPool2d(2)) == "MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"
    assert repr(Linear(4, 2)) == "Linear(in_features=4, out_features=2, bias=True)"
    assert repr(Dropout(0.25)) == "Dropout(p=0.25)"
    assert repr(Sequential(ReLU(), Sequential(Tanh()))) == (
        "Sequential(\n  (0): ReLU()\n  (1): Sequential(\n    (0): Tanh()\n  )\n)")


def test_train_eval_propagate_and_return_self():
    inner = Sequential(Dropout(0.5, rng=0))
    model = Sequential(Linear(2, 2, rng=0), inner)
    assert model.eval() is model
    assert not model.training and not inner.training and not inner[0].training
    assert model.train() is model and inner[0].training


# --- Sequential -----------------------------------------------------------------------
def small_model(rng):
    model = Sequential(Conv2d(2, 3, 3, padding=1, rng=0, dtype=F64), Tanh(), AvgPool2d(2),
                       Flatten(), Linear(12, 4, rng=1, dtype=F64), Sigmoid())
    for p in model.parameters():
        p.data = rng.standard_normal(p.data.shape) * 0.5
    return model


def test_sequential_chaining_equals_manual(rng):
    model = small_model(rng)
    x = rng.standard_normal((2, 2, 4, 4))
    h = x
    for layer in model:
        h = layer(h)
    manual_out = h
    g = rng.standard_normal(manual_out.shape)
    d = g
    for layer in reversed(list(model)):
        d = layer.backward(d)
    manual = [p.grad.copy() for p in model.parameters()]
    model.zero_grad()
    out = model(x)
    np.testing.assert_array_equal(out, manual_out)
    np.testing.assert_array_equal(model.backward(g), d)
    for p, m in zip(model.parameters(), manual, strict=True):
        np.testing.assert_array_equal(p.grad, m)
    assert model.output_shape(x.shape) == out.shape == (2, 4)


def test_sequential_gradcheck(rng):
    model = small_model(rng)
    errors = module_gradcheck(model, rng.standard_normal((2, 2, 4, 4)))
    assert max(errors.values()) < GRAD_TOL


def test_sequential_names_order_indexing():
    model = Sequential(Conv2d(1, 2, 3, rng=0), ReLU(), Sequential(Linear(2, 2, rng=0)))
    names = [n for n, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "2.0.weight", "2.0.bias"]
    assert [p for p in model.parameters()] == [p for _, p in model.named_parameters()]
    assert model.parameters().__next__() is model[0].weight
    assert len(model) == 3 and isinstance(model[1], ReLU) and isinstance(model[-1], Sequential)
    assert list(model.children()) == model.layers
    assert isinstance(model[:2], Sequential) and len(model[:2]) == 2
    assert model.num_parameters() == (9 * 1 * 2 + 2) + (2 * 2 + 2)


def test_gradients_accumulate_over_two_backward_calls_and_zero_grad_resets(rng):
    model = small_model(rng)
    x = rng.standard_normal((2, 2, 4, 4))
    g = rng.standard_normal((2, 4))
    model(x)
    model.backward(g)
    once = [p.grad.copy() for p in model.parameters()]
    assert all(o.any() for o in once)
    model(x)
    model.backward(g)
    for p, o in zip(model.parameters(), once, strict=True):
        np.testing.assert_allclose(p.grad, 2 * o, rtol=1e-12)
    model.zero_grad()
    assert all(not p.grad.any() for p in model.parameters())


# --- Dropout --------------------------------------------------------------------------
def test_dropout_eval_is_identity(rng):
    layer = Dropout(0.5, rng=0).eval()
    x = rng.standard_normal((4, 5))
    np.testing.assert_array_equal(layer(x), x)
    g = rng.standard_normal((4, 5))
    np.testing.assert_array_equal(layer.backward(g), g)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_training_mask_and_scale(p, rng):
    layer = Dropout(p, rng=0)
    x = rng.uniform(1.0, 2.0, size=(200, 500))  # never 0, so out == 0 marks a drop
    out = layer(x)
    kept = out != 0
    # 100,000 Bernoulli(1-p) draws: std error <= 0.0016; tolerance 0.01 (> 6 std errors)
    assert abs(kept.mean() - (1 - p)) < 0.01
    np.testing.assert_array_equal(out[kept], x[kept] * F64(1 / (1 - p)))
    g = rng.standard_normal(x.shape)
    dx = layer.backward(g)
    np.testing.assert_array_equal(dx != 0, kept)
    np.testing.assert_array_equal(dx[kept], g[kept] * F64(1 / (1 - p)))


def test_dropout_deterministic_per_seed_and_p0_identity(rng):
    x = rng.standard_normal((6, 7)).astype(np.float32)
    a, b, c = Dropout(0.3, rng=5), Dropout(0.3, rng=5), Dropout(0.3, rng=6)
    assert a(x).dtype == np.float32
    np.testing.assert_array_equal(Dropout(0.3, rng=5)(x), b(x))
    assert not np.array_equal(c(x), Dropout(0.3, rng=5)(x))
    np.testing.assert_array_equal(Dropout(0.0, rng=0)(x), x)


def test_dropout_gradcheck_with_fixed_mask(rng):
    layer = Dropout(0.4)

    def forward(x):
        layer.rng = np.random.default_rng(3)  # same mask on every call
        return layer.forward(x)

    errors = gradcheck(forward, lambda g: {"x": layer.backward(g)},
                       {"x": rng.standard_normal((3, 4))}, tol=GRAD_TOL)
    assert errors["x"] < GRAD_TOL


# --- init -----------------------------------------------------------------------------
def test_fans_linear_and_conv():
    assert fans((10, 20)) == (20, 10)
    assert fans((64, 3, 3, 3)) == (27, 576)


def test_fans_equal_torch(torch):
    for shape in [(10, 20), (64, 3, 3, 5), (7, 2, 4)]:
        expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
        assert fans(shape) == expected


# 500,000 samples: the std error of a sample std is ~0.1%; tolerance 1%
INIT_CASES = [
    ("he_normal", lambda r: he_normal((1000, 500), None, r), math.sqrt(2 / 500)),
    ("he_uniform", lambda r: he_uniform((1000, 500), None, r), math.sqrt(2 / 500)),
    ("xavier_normal", lambda r: xavier_normal((1000, 500), None, None, r),
     math.sqrt(2 / 1500)),
    ("xavier_uniform", lambda r: xavier_uniform((1000, 500), None, None, r),
     math.sqrt(2 / 1500)),
    ("he_normal_explicit_fan", lambda r: he_normal((500, 1000), 8, r, np.float64),
     math.sqrt(2 / 8)),
    ("xavier_conv", lambda r: xavier_normal((500, 10, 10, 10), None, None, r),
     math.sqrt(2 / (1000 + 50000))),
]


@pytest.mark.parametrize("name, draw, std", INIT_CASES, ids=[c[0] for c in INIT_CASES])
def test_init_empirical_std(name, draw, std):
    w = draw(np.random.default_rng(0))
    np.testing.assert_allclose(w.std(), std, rtol=0.01)
    assert abs(w.mean()) < 5 * std / math.sqrt(w.size)
    if "uniform" in name:
        assert np.abs(w).max() <= std * math.sqrt(3) * (1 + 1e-6)
    np.testing.assert_array_equal(w, draw(np.random.default_rng(0)))  # seeded
