"""The fast convolution's workspace: reused while a cache of its geometry lives, bounded,
released publicly, and memory back to its baseline once the caches are deleted."""
from __future__ import annotations

import gc
import threading
import tracemalloc

import numpy as np
import pytest

from cnnlab import _im2col
from cnnlab.conv import (
    conv2d_backward,
    conv2d_backward_naive,
    conv2d_forward,
    release_workspace,
    workspace_nbytes,
)
from cnnlab.layers import Conv2d

TOL = {"rtol": 1e-12, "atol": 1e-12}
SLACK = 64 * 1024  # bytes: Python objects that come and go (dicts, plans), never an array


def make(rng, x_shape, w_shape):
    return (rng.standard_normal(x_shape), rng.standard_normal(w_shape),
            rng.standard_normal(w_shape[0]))


def traced() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


@pytest.fixture
def memory():
    """tracemalloc running from a clean workspace (NumPy reports its arrays to it)."""
    release_workspace()
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()
        release_workspace()


@pytest.mark.parametrize("x_shape, w_shape, stride, padding", [
    ((8, 16, 32, 32), (16, 16, 3, 3), 1, 1),   # wide
    ((64, 3, 12, 12), (8, 3, 5, 5), 1, 2),     # batch last
    ((4, 8, 31, 29), (6, 8, 3, 3), 2, 1),      # plain, strided
])
def test_memory_is_back_to_its_baseline_after_del(memory, rng, x_shape, w_shape, stride,
                                                  padding):
    x, w, b = make(rng, x_shape, w_shape)
    base = traced()
    out, cache = conv2d_forward(x, w, b, stride, padding)
    dx, dw, db = conv2d_backward(np.ones_like(out), cache)
    assert traced() - base > cache["cols"].nbytes  # the columns and the scratch were used
    assert workspace_nbytes() >= cache["cols"].nbytes
    del out, cache, dx, dw, db
    assert traced() - base < SLACK
    assert workspace_nbytes() == 0


def test_a_layer_fed_new_shapes_keeps_one_workspace(memory, rng):
    """The old geometry's scratch goes with the layer's old cache: no growth per shape."""
    layer = Conv2d(4, 8, 3, padding=1, rng=0, dtype=np.float64)
    sizes = []
    for size in range(20, 44, 2):
        out = layer(rng.standard_normal((2, 4, size, size)))
        layer.backward(np.ones_like(out))
        del out
        sizes.append(workspace_nbytes())
    assert sizes[-1] == max(sizes)  # only the current (largest) geometry is held
    assert sizes[-1] < 2 * sizes[-2]
    base = traced()
    del layer
    assert base - traced() >= sizes[-1]  # freed with the layer
    assert workspace_nbytes() == 0


def test_buffers_are_reused_while_a_cache_lives(rng):
    release_workspace()
    x, w, b = make(rng, (2, 3, 6, 6), (4, 3, 3, 3))
    held = conv2d_forward(x, w, b, 1, 1)[1]
    scratch = {k: id(v) for k, v in held["workspace"].buffers.items()}
    again = conv2d_forward(x, w, b, 1, 1)[1]
    assert again["workspace"] is held["workspace"]
    assert {k: id(v) for k, v in again["workspace"].buffers.items()} == scratch


def test_columns_are_reused_only_once_nothing_holds_them(rng):
    release_workspace()
    x, w, b = make(rng, (2, 3, 6, 6), (4, 3, 3, 3))
    held = conv2d_forward(x, w, b, 1, 1)[1]  # keeps the workspace of this geometry alive
    cache = conv2d_forward(x, w, b, 1, 1)[1]
    first, first_id = cache["cols"], id(cache["cols"])
    assert conv2d_forward(x, w, b, 1, 1)[1]["cols"] is not first  # held by `cache`
    view = first[:1]
    del cache, first
    other = conv2d_forward(x, w, b, 1, 1)[1]  # the view still holds the first columns
    assert id(other["cols"]) != first_id and not np.shares_memory(other["cols"], view)
    del view
    # nothing refers to the first columns now: the next forward pass may fill them again
    assert id(conv2d_forward(x, w, b, 1, 1)[1]["cols"]) == first_id
    dout = np.ones((2, 4, 6, 6))  # the held caches were not disturbed by that reuse
    want = conv2d_backward_naive(dout, x, w, b, 1, 1)
    for cache in (held, other):
        for got, expected in zip(conv2d_backward(dout, cache), want, strict=True):
            np.testing.assert_allclose(got, expected, **TOL)


def test_workspace_is_bounded(rng):
    release_workspace()
    x, w, b = make(rng, (2, 3, 6, 6), (4, 3, 3, 3))
    caches = [conv2d_forward(x, w, b, 1, 1)[1] for _ in range(3 * _im2col.MAX_SPARE)]
    space = caches[0]["workspace"]
    assert len(space.pool) <= _im2col.MAX_SPARE
    assert len(space.buffers) <= 8  # one array per role and shape
    dout = np.ones((2, 4, 6, 6))
    want = conv2d_backward_naive(dout, x, w, b, 1, 1)
    for got, expected in zip(conv2d_backward(dout, caches[0]), want, strict=True):  # valid
        np.testing.assert_allclose(got, expected, **TOL)


def test_release_empties_live_workspaces_and_backward_still_works(rng):
    x, w, b = make(rng, (2, 3, 7, 5), (4, 3, 3, 3))
    out, cache = conv2d_forward(x, w, b, 1, 1)
    dout = rng.standard_normal(out.shape)
    before = conv2d_backward(dout, cache)
    assert workspace_nbytes() > cache["cols"].nbytes
    release_workspace()
    assert workspace_nbytes() == 0 and not cache["workspace"].buffers
    for got, expected in zip(conv2d_backward(dout, cache), before, strict=True):
        np.testing.assert_array_equal(got, expected)


def test_threads_have_their_own_workspaces(rng):
    x, w, b = make(rng, (4, 3, 9, 8), (5, 3, 3, 3))
    dout = rng.standard_normal((4, 5, 9, 8))
    expected = conv2d_backward_naive(dout, x, w, b, 1, 1)
    errors, spaces = [], []

    def worker():  # same shapes in two threads at once: each has its own buffers
        try:
            for _ in range(20):
                cache = conv2d_forward(x, w, b, 1, 1)[1]
                got = conv2d_backward(dout, cache)
                for g, e in zip(got, expected, strict=True):
                    np.testing.assert_allclose(g, e, **TOL)
            spaces.append(cache["workspace"])
        except Exception as err:  # noqa: BLE001 - reported by the main thread below
            errors.append(err)
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert spaces[0] is not spaces[1]
