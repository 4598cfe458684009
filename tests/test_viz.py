"""The book's figures and the sliding-window explorer (logic tested without a browser)."""
from __future__ import annotations

import re

import numpy as np
import pytest

from cnnlab.conv import conv2d_naive
from cnnlab.viz import plot_grids, sliding_window_explorer, sliding_window_frames, source_code

X = np.array([[1, 0, 2, 1, 0], [0, 1, 0, 1, 1], [1, 0, 1, 0, 0], [0, 0, 1, 1, 0],
              [1, 1, 0, 0, 1]], dtype=float)
K = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], dtype=float)


def frame_sum(frame: str) -> tuple[tuple[int, int], float]:
    m = re.search(r"position \((\d+), (\d+)\): .* = <b>([-0-9.e]+)</b>", frame)
    assert m, frame[-300:]
    return (int(m.group(1)), int(m.group(2))), float(m.group(3))


@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 0), (1, 1), ((2, 1), (0, 1))])
def test_frames_follow_the_convolution(stride, padding):
    frames = sliding_window_frames(X, K, stride=stride, padding=padding)
    out = conv2d_naive(X[None, None], K[None, None], stride=stride, padding=padding)[0, 0]
    assert len(frames) == out.size
    for k, frame in enumerate(frames):
        (i, j), value = frame_sum(frame)
        assert (i, j) == divmod(k, out.shape[1])
        assert value == out[i, j]
        # the window's cells carry the weights (×w), exactly kH*kW of them
        assert frame.count("<small>×") == K.size


def test_frames_are_deterministic():
    assert sliding_window_frames(X, K) == sliding_window_frames(X.copy(), K.copy())


def test_frames_reject_bad_input():
    with pytest.raises(ValueError, match="x"):
        sliding_window_frames(X[None], K)
    with pytest.raises(ValueError, match="kernel_size"):
        sliding_window_frames(X[:2, :2], K)
    with pytest.raises(ValueError, match="stride"):
        sliding_window_frames(X, K, stride=0)


def test_explorer_links_controls_to_frames_in_the_browser(monkeypatch):
    """Play → slider → stack are jslinks (they work in the static page), not Python callbacks."""
    widgets = pytest.importorskip("ipywidgets")
    made = []
    real_jslink = widgets.jslink
    monkeypatch.setattr(widgets, "jslink", lambda a, b: made.append((a, b)) or real_jslink(a, b))
    box = sliding_window_explorer(X, K)
    (controls, stack) = box.children
    play, slider = controls.children
    assert isinstance(stack, widgets.Stack) and len(stack.children) == 9
    assert slider.max == play.max == 8
    assert made == [((play, "value"), (slider, "value")),
                    ((slider, "value"), (stack, "selected_index"))]
    # no Python observers, which would silently do nothing in the static page
    assert not slider._trait_notifiers.get("value", {}).get("change")


def test_plot_grids_draws_one_axis_per_array():
    pytest.importorskip("matplotlib")
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig = plot_grids([X, K], ["x", "k"])
    try:
        assert len(fig.axes) == 2
        assert [ax.get_title() for ax in fig.axes] == ["x", "k"]
        assert len(fig.axes[1].texts) == K.size
    finally:
        plt.close(fig)
    with pytest.raises(ValueError, match="titles"):
        plot_grids([X], ["a", "b"])


def test_source_code_drops_the_docstring():
    src = source_code(conv2d_naive)
    assert src.startswith("def conv2d_naive(") and '"""' not in src
    assert "for i in range(h_out)" in src
    assert '"""' in source_code(conv2d_naive, docstring=True)
