"""Module state: buffers, state_dict and load_state_dict."""
from __future__ import annotations

import numpy as np
import pytest

from cnnlab.layers import Conv2d, Flatten, Linear, ReLU
from cnnlab.module import Sequential
from cnnlab.norm import BatchNorm1d, BatchNorm2d


def make_model(seed: int) -> Sequential:
    return Sequential(Conv2d(2, 3, 3, padding=1, rng=seed, dtype=np.float64),
                      BatchNorm2d(3, dtype=np.float64), ReLU(), Flatten(),
                      Linear(3 * 4 * 4, 5, rng=seed + 1, dtype=np.float64),
                      BatchNorm1d(5, dtype=np.float64))


def test_named_buffers_are_the_running_statistics():
    names = [name for name, _ in make_model(0).named_buffers()]
    assert names == ["1.running_mean", "1.running_var", "5.running_mean", "5.running_var"]


def test_round_trip_reproduces_a_trained_model(rng):
    src = make_model(0)
    for _ in range(3):  # move the running statistics away from their initial values
        src(rng.standard_normal((6, 2, 4, 4)))
    state = src.state_dict()
    assert set(state) == ({n for n, _ in src.named_parameters()}
                          | {n for n, _ in src.named_buffers()})
    dst = make_model(7)
    x = rng.standard_normal((4, 2, 4, 4))
    assert not np.allclose(src.eval()(x), dst.eval()(x))
    dst.load_state_dict(state)
    np.testing.assert_array_equal(src(x), dst(x))


def test_state_dict_returns_copies():
    model = make_model(0)
    state = model.state_dict()
    state["0.weight"][...] = 0
    state["1.running_var"][...] = 0
    assert np.any(model[0].weight.data != 0) and np.all(model[1].running_var == 1)


def test_load_state_dict_rejects_missing_and_unexpected_keys():
    model = make_model(0)
    state = model.state_dict()
    del state["0.bias"]
    state["9.weight"] = np.zeros(1)
    with pytest.raises(KeyError, match=r"state: missing entries \['0.bias'\].*'9.weight'"):
        model.load_state_dict(state)


def test_load_state_dict_checks_shapes_before_changing_anything():
    model = make_model(0)
    before = model.state_dict()
    state = make_model(3).state_dict()
    state["4.weight"] = np.zeros((5, 7))
    with pytest.raises(ValueError, match=r"state\['4.weight'\].*\(5, 48\).*\(5, 7\)"):
        model.load_state_dict(state)
    after = model.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)
