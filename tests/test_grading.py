"""cnnlab.grading: the detector of calls into cnnlab's own implementations, and assert_close."""
from __future__ import annotations

import sys
import types

import numpy as np
import pytest

import cnnlab
import cnnlab.exercises
from cnnlab import grading
from cnnlab.conv import conv2d_forward
from cnnlab.conv import conv2d_forward as renamed


@pytest.fixture
def x():
    return np.random.default_rng(0).standard_normal((1, 1, 6, 6))


@pytest.fixture
def w():
    return np.random.default_rng(1).standard_normal((1, 1, 3, 3))


def loops(x, w):
    out = np.zeros((1, 1, 4, 4))
    for i in range(4):
        for j in range(4):
            out[0, 0, i, j] = np.sum(x[0, 0, i:i + 3, j:j + 3] * w[0, 0])
    return out


def through_alias(x, w):
    return renamed(x, w)[0]


@pytest.mark.parametrize("call, name", [
    (lambda x, w: conv2d_forward(x, w)[0], "cnnlab.conv.conv2d_forward"),
    (through_alias, "cnnlab.conv.conv2d_forward"),
    (lambda x, w: cnnlab.conv2d(x, w), "cnnlab.conv.conv2d"),           # a wrapper
    (lambda x, w: cnnlab.conv.conv2d_naive(x, w), "cnnlab.conv.conv2d_naive"),
    (lambda x, w: types.FunctionType(conv2d_forward.__code__, conv2d_forward.__globals__,
                                     argdefs=conv2d_forward.__defaults__)(x, w)[0],
     "cnnlab.conv.conv2d_forward"),                                     # a copy of the code
])
def test_a_forbidden_module_is_detected_however_it_is_reached(call, name, x, w):
    with pytest.raises(grading.ForbiddenCallError, match=name.replace(".", r"\.")) as err:
        with grading.forbid("cnnlab.conv"):
            call(x, w)
    assert "earns no points" in str(err.value)
    assert isinstance(err.value, AssertionError)


def test_targets_can_be_modules_functions_classes_and_code(x, w):
    layer = cnnlab.Conv2d(1, 1, 3, rng=0, dtype=np.float64)
    for target in (cnnlab.conv, conv2d_forward, conv2d_forward.__code__):
        with pytest.raises(grading.ForbiddenCallError):
            grading.run_without([target], cnnlab.conv2d, x, w)
    with pytest.raises(grading.ForbiddenCallError, match="Conv2d.forward"):
        grading.run_without([cnnlab.layers.Conv2d], layer.forward, x)
    # a layer's method is reached through the class: the kernel it calls is another module
    out = grading.run_without([cnnlab.pool], layer.forward, x)
    assert out.shape == (1, 1, 4, 4)


def test_a_forbidden_package_forbids_every_module_in_it():
    from cnnlab.models import lenet5

    with pytest.raises(grading.ForbiddenCallError, match=r"cnnlab\.models\._lenet\.lenet5"):
        grading.run_without(["cnnlab.models"], lenet5, rng=0)
    with pytest.raises(grading.ForbiddenCallError, match=r"cnnlab\.exercises\."):
        grading.run_without(["cnnlab.exercises"], lambda: cnnlab.exercises.check(
            "ex-conv-by-hand-size", 4))


def test_allowed_code_runs_and_returns_its_result(x, w):
    got = grading.run_without(["cnnlab.pool", "cnnlab.losses"], loops, x, w)
    np.testing.assert_allclose(got, cnnlab.conv.conv2d_naive(x, w))
    with grading.forbid("cnnlab.pool") as watch:
        cnnlab.conv2d(x, w)  # another module: fine
    assert watch.forbidden_calls == []


def test_a_learner_function_can_be_forbidden(x, w):
    def vectorised(x, w):
        return loops(x, w)  # calls the loop version it should replace
    with pytest.raises(grading.ForbiddenCallError, match="loops"):
        grading.run_without([loops], vectorised, x, w)


def test_lines_count_the_learners_code_only(x, w):
    with grading.forbid() as looped:
        loops(x, w)
    with grading.forbid() as library:
        cnnlab.conv.conv2d_naive(x, w)  # loops too, but in cnnlab: not counted
    # out =, the "for i" line 5 times, per i: "for j" 5 times and the body 4, return
    assert looped.lines == 1 + 5 + 4 * (5 + 4) + 1
    assert library.lines == 0


def test_check_on_exit_false_only_records(x, w):
    with grading.forbid("cnnlab.conv", check_on_exit=False) as watch:
        cnnlab.conv2d(x, w)
    assert watch.forbidden_calls[0] == "cnnlab.conv.conv2d"
    with pytest.raises(grading.ForbiddenCallError):
        watch.check()


def test_the_previous_trace_function_is_restored(x, w):
    events = []

    def tracer(frame, event, arg):
        events.append(event)
        return None

    sys.settrace(tracer)
    try:
        with grading.forbid("cnnlab.conv", check_on_exit=False):
            cnnlab.conv2d(x, w)
        assert sys.gettrace() is tracer
        with pytest.raises(ZeroDivisionError):  # an error of the learner's code passes through
            with grading.forbid("cnnlab.conv"):
                cnnlab.conv2d(x, w)
                raise ZeroDivisionError("the learner's own error")
        assert sys.gettrace() is tracer
    finally:
        sys.settrace(None)


def test_bad_targets_are_refused():
    with pytest.raises(TypeError, match="targets must be"):
        grading.forbid(42)
    with pytest.raises(ModuleNotFoundError):
        grading.forbid("cnnlab.no_such_module")
    with pytest.raises(TypeError, match="func must be callable"):
        grading.run_without([], None)


@pytest.mark.parametrize("actual, message", [
    (None, "returned None"),
    ("text", "expected numbers"),
    (np.zeros((2, 2)), r"wrong shape \(2, 2\), expected \(2, 3\)"),
    (np.full((2, 3), np.nan), "NaN or infinity"),
    (np.full((2, 3), 7.0), "wrong values"),
])
def test_assert_close_names_what_failed_without_the_expected_values(actual, message):
    expected = np.arange(6.0).reshape(2, 3) + 0.123
    with pytest.raises(AssertionError, match=message) as err:
        grading.assert_close(actual, expected, "the thing")
    assert str(err.value).startswith("the thing: ")
    assert "0.123" not in str(err.value) and "5.123" not in str(err.value)


def test_assert_close_accepts_close_values():
    grading.assert_close([1.0, 2.0 + 1e-12], np.array([1.0, 2.0]), "a pair")
    grading.assert_close(3, 3.0, "a number")
