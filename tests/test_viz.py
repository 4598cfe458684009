"""The book's figures and the sliding-window explorer (logic tested without a browser)."""
from __future__ import annotations

import re

import numpy as np
import pytest

from cnnlab.conv import conv2d_naive
from cnnlab.explorers import (
    COMPACT_CSS,
    conv_setting_label,
    conv_settings_explorer,
    sliding_window_explorer,
    sliding_window_frames,
)
from cnnlab.shapes import conv_output_size
from cnnlab.viz import plot_grids, source_code

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


@pytest.mark.parametrize("compact", [False, True])
def test_explorer_controls_fit_a_phone_and_fill_a_laptop_column(compact):
    """The slider grows to fill its row and wraps below the play buttons when the row is narrow."""
    pytest.importorskip("ipywidgets")
    controls = sliding_window_explorer(X, K, compact=compact).children[-2]
    play, slider = controls.children
    assert controls.layout.flex_flow == "row wrap"
    grow, shrink, basis = slider.layout.flex.split()
    assert (grow, shrink) == ("1", "1") and 250 <= int(basis.removesuffix("px")) <= 358
    assert slider.layout.width == "auto" and slider.layout.max_width == "100%"
    assert slider.readout


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


def test_plot_grids_fills_rows_of_ncols():
    pytest.importorskip("matplotlib")
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig = plot_grids([X, K, X], ["a", "b", "c"], ncols=2)    # 2 rows, the 4th axis removed
    try:
        assert [ax.get_title() for ax in fig.axes] == ["a", "b", "c"]
        (a, b, c) = (ax.get_position() for ax in fig.axes)
        assert a.y0 == pytest.approx(b.y0) and c.y1 < a.y0      # c is on a second row
        assert a.x0 == pytest.approx(c.x0) and a.x1 < b.x0      # ... below a, b beside a
        assert len(fig.axes[2].texts) == X.size
    finally:
        plt.close(fig)
    assert len(plot_grids([X], ["a"], ncols=3).axes) == 1
    plt.close("all")
    with pytest.raises(ValueError, match="ncols"):
        plot_grids([X], ["a"], ncols=0)


def test_source_code_drops_the_docstring():
    src = source_code(conv2d_naive)
    assert src.startswith("def conv2d_naive(") and '"""' not in src
    assert "for i in range(h_out)" in src
    assert '"""' in source_code(conv2d_naive, docstring=True)


# --------------------------------------------------------------- compact frames and the
# settings explorer (chapter "The convolutional layer")
SETTINGS = [(K, 1, 0), (K, 2, 1), (np.eye(2), 1, "same"), (np.eye(2), 2, 0), (K, (2, 1), (0, 1))]


@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 0), (1, 1), ((2, 1), (0, 1)), (1, "same")])
def test_compact_frames_show_the_same_sums_in_less_space(stride, padding):
    full = sliding_window_frames(X, K, stride=stride, padding=padding)
    compact = sliding_window_frames(X, K, stride=stride, padding=padding, compact=True)
    assert len(compact) == len(full)
    for a, b in zip(full, compact, strict=True):
        assert frame_sum(a) == frame_sum(b)
        assert b.count("<small>×") == K.size and "style=" not in b
    assert sum(map(len, compact)) < sum(map(len, full)) / 4


def test_compact_frames_strike_out_cells_no_window_reads():
    # 2×2 windows with stride 2 start at rows/columns 0 and 2: row 4 and column 4 are never read
    frames = sliding_window_frames(X, np.eye(2), stride=2, compact=True)
    for frame in frames:
        assert len(re.findall(r"<i class=n>", frame)) == 2 * 5 - 1
        assert "never read" in frame
    assert "never read" not in sliding_window_frames(X, K, compact=True)[0]


def test_same_padding_of_an_even_kernel_goes_bottom_right():
    frames = sliding_window_frames(X, np.eye(2), padding="same", compact=True)
    out = conv2d_naive(X[None, None], np.eye(2)[None, None], padding="same")[0, 0]
    assert out.shape == X.shape and len(frames) == X.size
    last = frames[-1]
    assert frame_sum(last) == ((4, 4), out[4, 4]) and out[4, 4] == X[4, 4]
    rows = re.findall(r"<div class=r>(.*?)</div>", last)[:6]    # the padded input, 6×6
    cells = [re.findall(r"<i[^>]*>(.*?)</i>", r) for r in rows]
    assert [len(r) for r in cells] == [6] * 6
    assert all(c.startswith("0") for c in cells[5]) and all(r[5].startswith("0") for r in cells)
    classes = [re.findall(r"<i(?: class='?([^'>]*)'?)?>", r) for r in rows]
    padded = [[j for j, c in enumerate(row) if c.startswith("p")] for row in classes]
    # padding in the right column and the bottom row, except where the last window sits
    assert padded == [[5]] * 4 + [[]] + [[0, 1, 2, 3]]
    assert cells[0][0] == "1" == f"{X[0, 0]:g}"   # no padding at the top or the left


@pytest.mark.parametrize("size, kernel, stride, padding, text", [
    ((5, 5), 3, 2, 1, "kernel 3×3, stride 2, padding 1 → 3×3"),
    ((5, 5), 3, 1, 0, "kernel 3×3, stride 1, padding 0 → 3×3"),
    ((5, 5), 2, 1, "same", "kernel 2×2, stride 1, padding 'same' = 0 before, 1 after → 5×5"),
    ((5, 5), 3, 1, "same", "kernel 3×3, stride 1, padding 'same' = 1 → 5×5"),
    ((5, 6), (2, 3), 1, "same",
     "kernel 2×3, stride 1, padding 'same' = (top 0, bottom 1, left 1, right 1) → 5×6"),
    ((7, 5), 3, (2, 1), (1, 0), "kernel 3×3, stride (2, 1), padding (1, 0) → 4×3"),
    ((5, 5), 2, 2, "valid", "kernel 2×2, stride 2, padding 'valid' = 0 → 2×2"),
])
def test_conv_setting_label(size, kernel, stride, padding, text):
    assert conv_setting_label(size, kernel, stride, padding) == text


def test_conv_settings_explorer_links_the_dropdown_to_one_explorer_per_setting(monkeypatch):
    widgets = pytest.importorskip("ipywidgets")
    made = []
    real_jslink = widgets.jslink
    monkeypatch.setattr(widgets, "jslink", lambda a, b: made.append((a, b)) or real_jslink(a, b))
    box = conv_settings_explorer(X, SETTINGS)
    css, dropdown, outer = box.children
    assert "<style>" in css.value and css.layout.display == "none"
    assert isinstance(dropdown, widgets.Dropdown) and isinstance(outer, widgets.Stack)
    assert len(dropdown.options) == len(outer.children) == len(SETTINGS)
    assert ((dropdown, "index"), (outer, "selected_index")) in made
    # as wide as its longest option but never wider than the column (a 358 px phone)
    assert dropdown.layout.width == "max-content"
    assert dropdown.layout.max_width == "calc(100% - 4px)"     # 2 px margins on each side
    assert outer.layout.flex_flow == "column"       # each explorer as wide as the column
    # no Python observers beyond the drop-down's own bookkeeping (they would not run in the page)
    fresh = widgets.Dropdown(options=["a"])
    assert (len(dropdown._trait_notifiers["index"]["change"])
            == len(fresh._trait_notifiers["index"]["change"]))
    assert not outer._trait_notifiers.get("selected_index", {}).get("change")
    for label, player, (kernel, stride, padding) in zip(dropdown.options, outer.children,
                                                        SETTINGS, strict=True):
        # the label's output shape is what the calculator and the frames say
        ho, wo = map(int, re.search(r"→ (\d+)×(\d+)$", label).groups())
        (sh, sw), (kh, kw) = np.broadcast_to(stride, 2), kernel.shape
        if padding == "same":
            assert (ho, wo) == X.shape
        else:
            ph, pw = np.broadcast_to(padding, 2)
            assert (ho, wo) == (conv_output_size(5, kh, int(sh), int(ph)),
                                conv_output_size(5, kw, int(sw), int(pw)))
        (play, slider), stack = player.children[0].children, player.children[1]
        assert len(stack.children) == slider.max + 1 == play.max + 1 == ho * wo
        assert ((play, "value"), (slider, "value")) in made
        assert ((slider, "value"), (stack, "selected_index")) in made
        assert frame_sum(stack.children[-1].value)[0] == (ho - 1, wo - 1)
        # one shared layout and style: the stored widget state stays small
        assert len({id(page.layout) for page in stack.children}) == 1
        assert len({id(page.style) for page in stack.children}) == 1
        assert play.layout is stack.layout is outer.children[0].layout
    # the sized layouts of the controls are shared by all settings too
    controls = [player.children[0] for player in outer.children]
    assert len({id(c.layout) for c in controls}) == 1
    assert len({id(c.children[1].layout) for c in controls}) == 1
    assert len(made) == 1 + 2 * len(SETTINGS)


def test_compact_explorer_carries_its_style_sheet():
    widgets = pytest.importorskip("ipywidgets")
    css, controls, stack = sliding_window_explorer(X, K, compact=True).children
    assert css.value == COMPACT_CSS and isinstance(stack, widgets.Stack)
    assert "<div class=cnnlab-sw>" in stack.children[0].value
    assert len(sliding_window_explorer(X, K).children) == 2   # the default is unchanged


def test_conv_settings_explorer_rejects_bad_settings():
    pytest.importorskip("ipywidgets")
    with pytest.raises(ValueError, match="^settings must contain"):
        conv_settings_explorer(X, [])
    with pytest.raises(ValueError, match=r"^settings\[1\] must be a \(kernel, stride, padding\)"):
        conv_settings_explorer(X, [(K, 1, 0), (K, 1)])
    with pytest.raises(ValueError, match="^settings must differ"):
        conv_settings_explorer(X, [(K, 1, 0), (K * 2, 1, 0)])
    with pytest.raises(ValueError, match="padding='same' needs stride 1"):
        conv_settings_explorer(X, [(K, 2, "same")])
    with pytest.raises(ValueError, match="^x must have 2 dimensions"):
        conv_settings_explorer(X[None], SETTINGS)


# --------------------------------------------------------------- training figures
# (chapter "Training a CNN")
@pytest.fixture
def plt():
    pytest.importorskip("matplotlib")
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    yield plt
    plt.close("all")


@pytest.mark.parametrize("shape, ncols, axes, rows", [
    ((6, 1, 5, 5), None, 6, 1),      # first layer: one image per filter, 6 in a row
    ((10, 1, 3, 3), None, 10, 2),    # 8 per row by default
    ((4, 3, 3, 3), None, 12, 4),     # one row per output channel, one column per input
    ((4, 3, 3, 3), 5, 12, 3),
])
def test_plot_filters_draws_one_axis_per_kernel(plt, shape, ncols, axes, rows):
    from cnnlab.viz import plot_filters
    w = np.random.default_rng(0).standard_normal(shape)
    fig = plot_filters(w, ncols=ncols)
    assert len(fig.axes) == axes
    assert len({ax.get_subplotspec().rowspan.start for ax in fig.axes}) == rows
    images = [ax.images[0] for ax in fig.axes]
    m = np.abs(w).max()
    assert all(im.get_clim() == (-m, m) for im in images)        # one scale, symmetric
    np.testing.assert_array_equal(images[1].get_array(), w.reshape(-1, *shape[2:])[1])
    assert fig.axes[1].get_title() == ("1" if shape[1] == 1 else "0,1")
    own = plot_filters(w, shared_scale=False)
    assert own.axes[0].images[0].get_clim() == (w[0, 0].min(), w[0, 0].max())
    with pytest.raises(ValueError, match="weight"):
        plot_filters(w[0])
    with pytest.raises(ValueError, match="ncols"):
        plot_filters(w, ncols=0)


def test_plot_feature_maps_draws_one_axis_per_channel(plt):
    from cnnlab.viz import plot_feature_maps
    maps = np.random.default_rng(0).random((16, 10, 10))
    fig = plot_feature_maps(maps)
    assert len(fig.axes) == 16
    assert [ax.get_title() for ax in fig.axes[:3]] == ["0", "1", "2"]
    fig = plot_feature_maps(maps[:3], titles=["a", "b", "c"], ncols=2)
    assert len(fig.axes) == 3 and fig.axes[2].get_title() == "c"
    with pytest.raises(ValueError, match="maps"):
        plot_feature_maps(maps[None])
    with pytest.raises(ValueError, match="titles"):
        plot_feature_maps(maps, titles=["a"])
    with pytest.raises(ValueError, match="ncols"):
        plot_feature_maps(maps, ncols=0)


def test_plot_history_draws_loss_and_accuracy(plt):
    from cnnlab.train import History
    from cnnlab.viz import plot_history
    h = History(epoch=[1, 2, 3], train_loss=[1.0, 0.5, 0.3], train_accuracy=[0.6, 0.8, 0.9],
                val_loss=[0.9, 0.6, 0.7], val_accuracy=[0.7, 0.8, 0.75], best_epoch=2)
    fig = plot_history(h)
    assert len(fig.axes) == 2
    loss_ax, acc_ax = fig.axes
    assert [loss_ax.get_title(), acc_ax.get_title()] == ["loss", "accuracy"]
    train_line, val_line = loss_ax.lines[:2]
    np.testing.assert_array_equal(train_line.get_ydata(), h.train_loss)
    np.testing.assert_array_equal(val_line.get_ydata(), h.val_loss)
    np.testing.assert_array_equal(acc_ax.lines[1].get_ydata(), h.val_accuracy)
    assert len(loss_ax.lines) == 3 and loss_ax.lines[2].get_xdata()[0] == 2   # best epoch
    no_val = plot_history(History(epoch=[1], train_loss=[1.0], train_accuracy=[0.5]))
    assert len(no_val.axes) == 2 and len(no_val.axes[0].lines) == 1
    with pytest.raises(TypeError, match="history"):
        plot_history({"epoch": [1]})
    with pytest.raises(ValueError, match="history"):
        plot_history(History())


def test_image_grids_shrink_to_the_column_without_empty_bands(plt):
    from cnnlab.viz import COLUMN_WIDTH, plot_feature_maps, plot_filters
    maps = np.random.default_rng(0).random((16, 10, 10))
    fig = plot_feature_maps(maps, ncols=8)               # 8 cells of 1.4 in would be 11.2 in
    width, height = fig.get_size_inches()
    assert width == pytest.approx(COLUMN_WIDTH)
    # two rows of square cells, each with a title line: no band of empty space between them
    assert height <= 2 * (COLUMN_WIDTH / 8 + 0.3) + 0.1
    assert not any(ax.axison for ax in fig.axes)          # no ticks or spines around images
    fig = plot_filters(np.zeros((3, 1, 5, 5)))              # few images keep their size
    assert fig.get_size_inches()[0] == pytest.approx(3 * 1.3)
    assert tuple(plot_feature_maps(maps[:2], figsize=(2, 1)).get_size_inches()) == (2, 1)


def test_plot_history_has_one_legend_that_covers_no_curve(plt):
    from cnnlab.train import History
    from cnnlab.viz import plot_history
    h = History(epoch=[1, 2, 3], train_loss=[1.0, 0.5, 0.3], train_accuracy=[0.6, 0.8, 0.9],
                val_loss=[0.9, 0.6, 0.7], val_accuracy=[0.7, 0.8, 0.75], best_epoch=2)
    fig = plot_history(h)
    assert all(ax.get_legend() is None for ax in fig.axes) and len(fig.legends) == 1
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == ["training", "validation",
                                                          "best epoch 2"]
    fig.canvas.draw()
    box = legend.get_window_extent()
    assert not any(box.overlaps(ax.get_window_extent()) for ax in fig.axes)
    assert all(float(t).is_integer() for t in fig.axes[0].get_xticks())   # epochs are whole


def test_plot_confusion_matrix_fits_the_column_for_many_classes(plt):
    from cnnlab.viz import COLUMN_WIDTH, figure_problems, plot_confusion_matrix
    fig = plot_confusion_matrix(np.ones((20, 20), dtype=int))
    assert fig.get_size_inches()[0] <= COLUMN_WIDTH + 1e-9
    assert not [p for p in figure_problems(fig) if "wide" in p]


def test_plot_confusion_matrix_shows_every_count(plt):
    from cnnlab.train import confusion_matrix
    from cnnlab.viz import plot_confusion_matrix
    cm = confusion_matrix(np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1, 2, 0]), 3)
    fig = plot_confusion_matrix(cm, ["a", "b", "c"])
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == [str(v) for v in cm.ravel()]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted", "true")
    with pytest.raises(ValueError, match="cm"):
        plot_confusion_matrix(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="class_names"):
        plot_confusion_matrix(cm, ["a"])


# --------------------------------------------------------------- the book style
def test_book_style_fills_the_column_with_readable_text(plt):
    import matplotlib as mpl

    from cnnlab.viz import (
        BOOK_STYLE,
        COLUMN_PX,
        COLUMN_WIDTH,
        DPI,
        MIN_FONT_PT,
        figure_problems,
        use_book_style,
    )

    with mpl.rc_context():
        use_book_style()          # outside IPython: rcParams only
        fig, ax = plt.subplots()
        ax.plot([0, 1], label="a")
        ax.legend()
        ax.set_title("t")
        fig.canvas.draw()
        assert tuple(fig.get_size_inches() * DPI) == (COLUMN_PX, 300)
        assert figure_problems(fig) == []
        assert round(COLUMN_WIDTH * DPI) == COLUMN_PX
    # every size in the style is absolute and at least 9 pt
    sizes = {k: v for k, v in BOOK_STYLE.items()
             if k == "font.size" or k.endswith(("fontsize", "labelsize", "titlesize"))}
    assert sizes and all(isinstance(v, float) and v >= MIN_FONT_PT for v in sizes.values())


def test_figure_problems_names_wide_figures_and_small_text(plt):
    from cnnlab.viz import figure_problems

    fig, ax = plt.subplots(figsize=(9, 3))
    ax.text(0.5, 0.5, "tiny", fontsize=6)
    ax.set_xlabel("")                       # empty texts are ignored
    problems = figure_problems(fig)
    assert len(problems) == 2
    assert "9.00 in wide" in problems[0] and "'tiny' is 6 pt" in problems[1]
    ax.texts[0].set_visible(False)          # hidden texts too
    assert len(figure_problems(fig)) == 1


@pytest.mark.parametrize("call", ["grids", "filters", "maps", "history", "confusion"])
def test_the_package_figures_follow_the_book_style(plt, call):
    import matplotlib as mpl

    from cnnlab.train import History
    from cnnlab.viz import (
        figure_problems,
        plot_confusion_matrix,
        plot_feature_maps,
        plot_filters,
        plot_grids,
        plot_history,
        use_book_style,
    )

    rng = np.random.default_rng(0)
    make = {
        "grids": lambda: plot_grids([X, K, X], ["input", "kernel", "output"]),
        "filters": lambda: plot_filters(rng.normal(size=(16, 6, 5, 5))),
        "maps": lambda: plot_feature_maps(rng.normal(size=(16, 8, 8))),
        "history": lambda: plot_history(History(epoch=[1, 2], train_loss=[1.0, 0.5],
                                                train_accuracy=[0.5, 0.7], val_loss=[1.1, 0.6],
                                                val_accuracy=[0.4, 0.6], best_epoch=2)),
        "confusion": lambda: plot_confusion_matrix(rng.integers(0, 50, size=(10, 10))),
    }
    with mpl.rc_context():
        use_book_style()
        fig = make[call]()
        assert figure_problems(fig) == []
