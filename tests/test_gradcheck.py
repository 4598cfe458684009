"""The gradient checker itself: it must pass correct gradients and catch wrong ones."""
from __future__ import annotations

import numpy as np
import pytest

from cnnlab.gradcheck import gradcheck, numerical_gradient, relative_error


def test_relative_error_values():
    assert relative_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert relative_error(np.array([1.0, 0.0]), np.array([1.1, 0.0])) == pytest.approx(0.1 / 2.1)
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0          # eps floor: no 0/0
    assert relative_error(np.zeros(2), np.full(2, 1e-13)) == pytest.approx(0.1)  # 1e-13 / eps
    assert relative_error(np.zeros(2), np.full(2, 1e-9)) == pytest.approx(1.0)
    assert relative_error(np.zeros(2), np.full(2, 1e-13), eps=1e-6) == pytest.approx(1e-7)
    assert relative_error(3.0, 3.0 + 3e-9) == pytest.approx(5e-10, rel=1e-6)
    assert relative_error(np.zeros((0, 3)), np.zeros((0, 3))) == 0.0


def test_relative_error_is_robust_to_near_zero_entries():
    analytic = np.array([2.0, 1e-17])
    numeric = np.array([2.0, 3e-11])  # rounding noise where the true value is 0
    elementwise = np.abs(analytic - numeric) / (np.abs(analytic) + np.abs(numeric))
    assert elementwise.max() > 0.99
    assert relative_error(analytic, numeric) < 1e-10


def test_relative_error_mixed_precision_and_symmetry(rng):
    a = rng.standard_normal((3, 4))
    b = a + 1e-6 * rng.standard_normal((3, 4))
    assert relative_error(a, b) == relative_error(b, a)
    assert relative_error(a.astype(np.float32), a) < 1e-7


def test_numerical_gradient_of_cubic(rng):
    x = rng.standard_normal((3, 4))
    grad = numerical_gradient(lambda: np.sum(x ** 3), x)
    np.testing.assert_allclose(grad, 3 * x ** 2, rtol=1e-7, atol=1e-8)


def test_numerical_gradient_restores_x_bit_for_bit(rng):
    x = rng.standard_normal((4, 5)) * 1e3 + 0.1
    before = x.tobytes()
    numerical_gradient(lambda: np.sum(np.sin(x)), x)
    assert x.tobytes() == before


def test_numerical_gradient_restores_x_when_f_raises(rng):
    x = rng.standard_normal(3)
    before = x.copy()
    calls = []

    def f():
        calls.append(1)
        if len(calls) == 2:
            raise ZeroDivisionError("boom")
        return float(x.sum())

    with pytest.raises(ZeroDivisionError):
        numerical_gradient(f, x)
    np.testing.assert_array_equal(x, before)


def test_numerical_gradient_works_on_views(rng):
    base = rng.standard_normal((4, 6))
    view = base.T[::2]  # non-contiguous
    before = base.copy()
    grad = numerical_gradient(lambda: np.sum(view ** 2), view)
    np.testing.assert_allclose(grad, 2 * view, rtol=1e-8, atol=1e-9)
    np.testing.assert_array_equal(base, before)


def test_numerical_gradient_in_float32_is_too_coarse():
    """Why gradcheck insists on float64: in float32 the step 1e-6 is below resolution."""
    x = np.linspace(1.0, 2.0, 5, dtype=np.float32)
    grad = numerical_gradient(lambda: np.sum(x.astype(np.float64) ** 2), x)
    assert relative_error(grad, 2 * x.astype(np.float64)) > 1e-2


def test_numerical_gradient_rejects_non_scalar_f(rng):
    x = rng.standard_normal(3)
    with pytest.raises(ValueError, match="f must return a scalar"):
        numerical_gradient(lambda: x * 2, x)


def square_pair(scale=1.0):
    """forward/backward of out = x * y**2; backward wrong by ``scale`` on y."""
    saved = {}

    def forward(x, y):
        saved["x"], saved["y"] = x.copy(), y.copy()
        return x * y ** 2

    def backward(g):
        return {"x": g * saved["y"] ** 2, "y": scale * g * 2 * saved["x"] * saved["y"]}
    return forward, backward


def test_gradcheck_passes_correct_gradients(rng):
    inputs = {"x": rng.standard_normal((3, 2)), "y": rng.standard_normal((3, 2))}
    copies = {k: v.copy() for k, v in inputs.items()}
    errors = gradcheck(*square_pair(), inputs)
    assert set(errors) == {"x", "y"} and max(errors.values()) < 1e-9
    for name in inputs:  # the caller's arrays are untouched
        np.testing.assert_array_equal(inputs[name], copies[name])


def test_gradcheck_is_deterministic_for_a_seed(rng):
    inputs = {"x": rng.standard_normal(4), "y": rng.standard_normal(4)}
    assert gradcheck(*square_pair(), inputs, rng=7) == gradcheck(*square_pair(), inputs, rng=7)


def test_gradcheck_catches_a_wrong_gradient(rng):
    inputs = {"x": rng.standard_normal((3, 2)), "y": rng.standard_normal((3, 2))}
    with pytest.raises(AssertionError, match=r"'y': relative error .* \(tol 1\.0e-07\)"):
        gradcheck(*square_pair(scale=1.001), inputs)
    errors = gradcheck(*square_pair(scale=1.001), inputs, raise_on_failure=False)
    assert errors["x"] < 1e-9 and errors["y"] > 1e-4


def test_gradcheck_catches_a_misrouted_gradient(rng):
    """A gradient in the wrong place (here: flipped) must fail even if the sum is right."""
    def backward(g):
        return {"x": (2 * g * x_ref)[::-1]}

    x_ref = np.array([1.0, -2.0, 3.0])
    errors = gradcheck(lambda x: x ** 2, backward, {"x": x_ref}, raise_on_failure=False)
    assert errors["x"] > 0.1


def test_gradcheck_subset_of_inputs(rng):
    forward, backward = square_pair()
    errors = gradcheck(forward, lambda g: {"y": backward(g)["y"]},
                       {"x": rng.standard_normal(3), "y": rng.standard_normal(3)})
    assert list(errors) == ["y"] and errors["y"] < 1e-9


def test_gradcheck_scalar_output(rng):
    errors = gradcheck(lambda x: np.sum(x ** 2), lambda g: {"x": 2 * g * x_in},
                       {"x": (x_in := rng.standard_normal(4))})
    assert errors["x"] < 1e-9


@pytest.mark.parametrize("bad, match", [
    ({"x": np.ones(3, dtype=np.float32)}, r"inputs\['x'\] must be a float64 array.*float32"),
    ({"x": np.ones(3, dtype=np.int64)}, r"inputs\['x'\] must be a float64"),
    ({"x": [1.0, 2.0]}, r"inputs\['x'\] must be a float64 array, got list"),
    ({}, "inputs must be a non-empty dict"),
])
def test_gradcheck_rejects_bad_inputs(bad, match):
    with pytest.raises(TypeError, match=match):
        gradcheck(lambda x: x, lambda g: {"x": g}, bad)


def test_gradcheck_rejects_bad_backward(rng):
    inputs = {"x": rng.standard_normal(3)}
    with pytest.raises(ValueError, match="'z', which is not one of the inputs"):
        gradcheck(lambda x: x, lambda g: {"z": g}, inputs)
    with pytest.raises(ValueError, match=r"gradient for 'x' has shape \(2,\)"):
        gradcheck(lambda x: x, lambda g: {"x": g[:2]}, inputs)
    with pytest.raises(TypeError, match="backward must return a non-empty dict"):
        gradcheck(lambda x: x, lambda g: g, inputs)
    with pytest.raises(TypeError, match="backward must be callable"):
        gradcheck(lambda x: x, None, inputs)


def test_forward_differences_are_first_order():
    x = np.array([1.0])
    f = lambda: float(x[0] ** 3)  # noqa: E731
    errs = {m: [abs(numerical_gradient(f, x, eps, method=m)[0] - 3.0) for eps in (1e-2, 1e-3)]
            for m in ("forward", "central")}
    assert 9 < errs["forward"][0] / errs["forward"][1] < 11
    assert 90 < errs["central"][0] / errs["central"][1] < 110
    with pytest.raises(ValueError, match="method"):
        numerical_gradient(f, x, method="backward")


def test_module_gradcheck_checks_input_and_parameters_and_restores_them():
    from cnnlab.gradcheck import module_gradcheck
    from cnnlab.layers import Conv2d

    layer = Conv2d(2, 3, 3, padding=1, rng=0, dtype=np.float64)
    before = {n: p.data for n, p in layer.named_parameters()}
    x = np.random.default_rng(0).standard_normal((2, 2, 5, 5))
    errors = module_gradcheck(layer, x)
    assert set(errors) == {"x", "weight", "bias"} and max(errors.values()) < 1e-7
    assert all(p.data is before[n] for n, p in layer.named_parameters())


def test_module_gradcheck_catches_a_wrong_parameter_gradient(monkeypatch):
    from cnnlab.gradcheck import module_gradcheck
    from cnnlab.layers import Linear

    layer = Linear(4, 3, rng=0, dtype=np.float64)
    real_backward = layer.backward

    def halved_bias_grad(dout):
        dx = real_backward(dout)
        layer.bias.grad *= 0.5
        return dx

    monkeypatch.setattr(layer, "backward", halved_bias_grad)
    with pytest.raises(AssertionError, match="'bias'"):
        module_gradcheck(layer, np.random.default_rng(1).standard_normal((5, 4)))
