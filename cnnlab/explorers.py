"""Interactive explorers of a kernel sliding over an input, for the book.

They keep working in the static HTML book, where no Python runs: every frame is
computed in advance and the controls only switch between frames through links
that run in the browser (``ipywidgets.jslink``), never through Python callbacks.
ipywidgets is imported lazily, so ``import cnnlab`` needs NumPy only.
"""
from __future__ import annotations

from html import escape
from typing import NamedTuple

import numpy as np

from ._validate import as_pair, check_array
from .conv import conv2d_naive
from .shapes import Padding, _window_count, conv2d_output_shape, resolve_padding

_CELL = ("display:inline-block;width:{w}em;height:2.2em;line-height:1.05em;margin:1px;"
         "text-align:center;vertical-align:middle;font-family:monospace;font-size:0.85em;"
         "border:1px solid {border};background:{bg};color:#111;padding-top:0.1em;")


def _fmt(v: float) -> str:
    return f"{v:g}"


def _grid(values, cell, width: float = 3.2) -> str:
    """An HTML grid; ``cell(i, j, v) -> (text, background, border)``."""
    rows = []
    for i, row in enumerate(values):
        cells = []
        for j, v in enumerate(row):
            text, bg, border = cell(i, j, v)
            style = _CELL.format(w=width, bg=bg, border=border)
            cells.append(f'<span style="{style}">{text}</span>')
        rows.append("<div style='white-space:nowrap'>" + "".join(cells) + "</div>")
    return "".join(rows)


class _Windows(NamedTuple):
    """Everything a frame needs about a kernel sliding over a padded 2-D input."""

    xp: np.ndarray                 # (H + top + bottom, W + left + right), zeros around x
    kernel: np.ndarray             # (kH, kW)
    out: np.ndarray                # (H_out, W_out)
    pads: tuple[int, int, int, int]
    origins: list[tuple[int, int]]  # top-left corner of each window in xp, row-major
    read: np.ndarray               # (xp rows, xp cols) bool: covered by some window


def _windows(x, kernel, stride, padding) -> _Windows:
    x = check_array(np.asarray(x, dtype=np.float64), "x", ndim=2)
    kernel = check_array(np.asarray(kernel, dtype=np.float64), "kernel", ndim=2)
    sh, sw = as_pair(stride, "stride", 1)
    kh, kw = kernel.shape
    pads = resolve_padding(padding, (kh, kw), (sh, sw))
    top, bottom, left, right = pads
    ho = _window_count(x.shape[0], kh, sh, top, bottom)
    wo = _window_count(x.shape[1], kw, sw, left, right)
    xp = np.pad(x, ((top, bottom), (left, right)))
    spec = padding if isinstance(padding, str) else as_pair(padding, "padding", 0)
    out = conv2d_naive(x[None, None], kernel[None, None], stride=(sh, sw), padding=spec)[0, 0]
    origins = [(oi * sh, oj * sw) for oi in range(ho) for oj in range(wo)]
    read = np.zeros(xp.shape, dtype=bool)
    for r0, c0 in origins:
        read[r0:r0 + kh, c0:c0 + kw] = True
    return _Windows(xp, kernel, out, pads, origins, read)


def sliding_window_frames(x: np.ndarray, kernel: np.ndarray, stride: int | tuple[int, int] = 1,
                          padding: Padding = 0, *, compact: bool = False) -> list[str]:
    """HTML frames showing a kernel sliding over a single-channel input.

    Parameters
    ----------
    x : array_like, shape (H, W)
        The input.
    kernel : array_like, shape (kH, kW)
        The filter.
    stride : int or (int, int)
        As in :func:`cnnlab.conv.conv2d_forward`.
    padding : int, (int, int), "same" or "valid"
        As in :func:`cnnlab.conv.conv2d_forward`; ``"same"`` pads an even
        kernel's extra row/column at the bottom/right.
    compact : bool, default False
        Style the cells with the CSS classes of :data:`COMPACT_CSS` instead of
        inline styles (several times smaller, for explorers with many frames;
        the page must contain :data:`COMPACT_CSS`), and strike through the
        input cells that no window ever reads.

    Returns
    -------
    list of str
        One self-contained HTML fragment per output position, in row-major
        order: the padded input with the window's cells showing ``x·w``, the
        sum of products, and the output filled in up to that position.
    """
    win = _windows(x, kernel, stride, padding)
    kh, kw = win.kernel.shape
    top, bottom, left, right = win.pads
    h, w = win.xp.shape[0] - top - bottom, win.xp.shape[1] - left - right
    ho, wo = win.out.shape
    grid = _compact_grid if compact else _grid
    frames = []
    for k, (r0, c0) in enumerate(win.origins):
        oi, oj = divmod(k, wo)

        def in_cell(i, j, v, r0=r0, c0=c0):
            inside = r0 <= i < r0 + kh and c0 <= j < c0 + kw
            padded = not (top <= i < top + h and left <= j < left + w)
            if inside:
                w_ = win.kernel[i - r0, j - c0]
                text = f"{_fmt(v)}<br><small>×{_fmt(w_)}</small>"
                return (text, "w") if compact else (text, "#ffd98a", "#c77c00")
            if compact:
                return _fmt(v), ("p" if padded else "") + ("" if win.read[i, j] else " n")
            return (_fmt(v), "#eeeeee" if padded else "#ffffff", "#bbbbbb")

        def out_cell(i, j, v, oi=oi, oj=oj):
            if i * wo + j > oi * wo + oj:
                return ("", "e") if compact else ("", "#ffffff", "#dddddd")
            current = (i, j) == (oi, oj)
            if compact:
                return _fmt(v), "o" if current else "d"
            return (_fmt(v), "#ffd98a" if current else "#dff0d8", "#888888")

        patch = win.xp[r0:r0 + kh, c0:c0 + kw]
        terms = " + ".join(f"{_fmt(a)}·{_fmt(b)}"
                           for a, b in zip(patch.ravel(), win.kernel.ravel(), strict=True))
        legend = "padded: grey" + ("" if win.read.all() or not compact
                                   else "; never read: struck out")
        frames.append(
            ("<div class=cnnlab-sw><div class=f>" if compact else
             "<div style='display:flex;gap:2em;align-items:flex-start;flex-wrap:wrap'>")
            + f"<div><b>input</b> ({legend})<br>{grid(win.xp, in_cell)}</div>"
            f"<div><b>output</b> {ho}×{wo}<br>{grid(win.out, out_cell)}</div></div>"
            + ("<p>" if compact else "<p style='font-family:monospace;font-size:0.85em'>")
            + f"position ({oi}, {oj}): {escape(terms)} = <b>{_fmt(win.out[oi, oj])}</b></p>"
            + ("</div>" if compact else ""))
    return frames


def sliding_window_explorer(x: np.ndarray, kernel: np.ndarray, stride: int | tuple[int, int] = 1,
                            padding: Padding = 0, interval_ms: int = 900, *,
                            compact: bool = False):
    """An ipywidgets explorer of a kernel sliding over an input.

    A play button and a slider choose the output position; a ``Stack`` shows
    the matching precomputed frame from :func:`sliding_window_frames`.  The
    three widgets are connected with ``jslink`` so the explorer responds in a
    live notebook *and* in the static HTML book.

    With ``compact=True`` the frames use the CSS classes of :data:`COMPACT_CSS`,
    which the explorer carries in a hidden ``HTML`` widget (its first child).

    Returns
    -------
    ipywidgets.VBox
    """
    frames = sliding_window_frames(x, kernel, stride, padding, compact=compact)
    if not compact:
        return _frame_player(frames, interval_ms)
    shared = _shared_looks()
    box = _frame_player(frames, interval_ms, shared)
    box.children = (_css_widget(),) + box.children
    return box


def _shared_looks() -> dict:
    """One default Layout and one style per widget type, to be shared by many widgets.

    Every widget otherwise gets its own Layout and style model, each stored in
    the notebook; for explorers with a hundred frames they would outweigh the frames.
    """
    import ipywidgets as widgets
    from ipywidgets.widgets.widget_description import DescriptionStyle
    from ipywidgets.widgets.widget_string import HTMLStyle

    return {"layout": widgets.Layout(), "play": DescriptionStyle(),
            "slider": widgets.SliderStyle(), "html": HTMLStyle(),
            "controls_layout": _controls_layout(), "slider_layout": _slider_layout()}


# The controls must fit a 358 px phone column as well as a 688 px laptop column.  The
# slider asks for a track of about 150 px next to its label and readout: beside the play
# buttons on a laptop (growing to fill the row), on its own row on a phone.
_SLIDER_BASIS = "330px"


def _controls_layout():
    """The row of play buttons and slider; the slider wraps below when the row is too narrow."""
    import ipywidgets as widgets

    return widgets.Layout(flex_flow="row wrap", align_items="center")


def _slider_layout():
    """The position slider takes the rest of its row, and never less than the column allows."""
    import ipywidgets as widgets

    return widgets.Layout(flex=f"1 1 {_SLIDER_BASIS}", width="auto", max_width="100%")


def _frame_player(frames: list[str], interval_ms: int, shared: dict | None = None):
    """Play → slider → Stack of HTML frames, linked in the browser."""
    import ipywidgets as widgets

    def looks(style: str | None = None) -> dict:
        """Keyword arguments that make a widget use the shared layout (and style)."""
        if shared is None:
            return {}
        return {"layout": shared["layout"], **({"style": shared[style]} if style else {})}

    sized = shared or {"slider_layout": _slider_layout(), "controls_layout": _controls_layout()}
    last = len(frames) - 1
    play = widgets.Play(value=0, min=0, max=last, step=1, interval=interval_ms,
                        description="play", **looks("play"))
    slider = widgets.IntSlider(value=0, min=0, max=last, description="position",
                               continuous_update=True, layout=sized["slider_layout"],
                               **({"style": shared["slider"]} if shared else {}))
    stack = widgets.Stack([widgets.HTML(f, **looks("html")) for f in frames],
                          selected_index=0, **looks())
    widgets.jslink((play, "value"), (slider, "value"))
    widgets.jslink((slider, "value"), (stack, "selected_index"))
    controls = widgets.HBox([play, slider], layout=sized["controls_layout"])
    return widgets.VBox([controls, stack], **looks())


# The style sheet of compact frames, whose cells are <i class=...> inside .cnnlab-sw .r:
# p padding, n never read by any window, w inside the window, e output not computed yet,
# d output done, o the current output.
COMPACT_CSS = (
    "<style>.cnnlab-sw .f{display:flex;gap:2em;align-items:flex-start;flex-wrap:wrap}"
    ".cnnlab-sw p{font-family:monospace;font-size:0.85em}"
    ".cnnlab-sw .r{white-space:nowrap}"
    ".cnnlab-sw .r i{display:inline-block;width:3.2em;height:2.2em;line-height:1.05em;"
    "margin:1px;text-align:center;vertical-align:middle;font-family:monospace;font-size:0.85em;"
    "border:1px solid #bbbbbb;background:#ffffff;color:#111;padding-top:0.1em;"
    "font-style:normal}"
    ".cnnlab-sw .r i.p{background:#eeeeee}"
    ".cnnlab-sw .r i.n{color:#b00020;text-decoration:line-through}"
    ".cnnlab-sw .r i.w{background:#ffd98a;border-color:#c77c00}"
    ".cnnlab-sw .r i.e{border-color:#dddddd}"
    ".cnnlab-sw .r i.d{background:#dff0d8;border-color:#888888}"
    ".cnnlab-sw .r i.o{background:#ffd98a;border-color:#888888}</style>")
"""The ``<style>`` element of the compact frames; a page showing them must contain it.

:meta hide-value:
"""


def _css_widget():
    import ipywidgets as widgets

    # display:none hides the widget's box; the <style> inside still applies to the page.
    return widgets.HTML(COMPACT_CSS, layout=widgets.Layout(display="none"))


def _compact_grid(values, cell) -> str:
    """Like :func:`_grid` with ``cell(i, j, v) -> (text, css_class)``."""
    rows = []
    for i, row in enumerate(values):
        cells = []
        for j, v in enumerate(row):
            text, cls = cell(i, j, v)
            cls = cls.strip()
            cells.append(f"<i class='{cls}'>{text}</i>" if " " in cls
                         else f"<i class={cls}>{text}</i>" if cls else f"<i>{text}</i>")
        rows.append("<div class=r>" + "".join(cells) + "</div>")
    return "".join(rows)


def _padding_text(padding, pads: tuple[int, int, int, int]) -> str:
    top, bottom, left, right = pads
    if not isinstance(padding, str):
        ph, pw = as_pair(padding, "padding", 0)
        return f"padding {ph}" if ph == pw else f"padding ({ph}, {pw})"
    if top == bottom == left == right:
        return f"padding '{padding}' = {top}"
    if (top, bottom) == (left, right):
        return f"padding '{padding}' = {top} before, {bottom} after"
    return f"padding '{padding}' = (top {top}, bottom {bottom}, left {left}, right {right})"


def conv_setting_label(input_size: tuple[int, int], kernel_size: int | tuple[int, int],
                       stride: int | tuple[int, int] = 1, padding: Padding = 0) -> str:
    """A one-line description of a convolution setting and the output size it gives.

    Parameters
    ----------
    input_size : (int, int)
        Input height and width.
    kernel_size, stride : int or (int, int)
    padding : int, (int, int), "same" or "valid"

    Returns
    -------
    str
        For example ``"kernel 3×3, stride 2, padding 1 → 3×3"``.

    Examples
    --------
    >>> conv_setting_label((5, 5), 2, 1, "same")
    "kernel 2×2, stride 1, padding 'same' = 0 before, 1 after → 5×5"
    """
    h, w = as_pair(input_size, "input_size", 1)
    kh, kw = as_pair(kernel_size, "kernel_size", 1)
    sh, sw = as_pair(stride, "stride", 1)
    pads = resolve_padding(padding, (kh, kw), (sh, sw))
    _, ho, wo = conv2d_output_shape((1, h, w), 1, (kh, kw), (sh, sw), padding)
    strides = f"stride {sh}" if sh == sw else f"stride ({sh}, {sw})"
    return f"kernel {kh}×{kw}, {strides}, {_padding_text(padding, pads)} → {ho}×{wo}"


def conv_settings_explorer(x: np.ndarray, settings, interval_ms: int = 900):
    """Compare convolution settings: a drop-down picks one, a sliding-window explorer shows it.

    Parameters
    ----------
    x : array_like, shape (H, W)
        The input, shared by all settings.
    settings : sequence of (kernel, stride, padding)
        ``kernel`` a (kH, kW) array, ``stride`` an int or pair, ``padding`` an
        int, pair, ``"same"`` or ``"valid"``; at least one, no two alike.
    interval_ms : int, default 900
        Delay between frames when playing.

    Returns
    -------
    ipywidgets.VBox
        ``[css, dropdown, outer]``: ``dropdown`` lists each setting as
        :func:`conv_setting_label` (so each option names its output size);
        ``outer`` is a ``Stack`` whose i-th child is the compact
        :func:`sliding_window_explorer` of setting i.  The drop-down's
        ``index`` is ``jslink``-ed to ``outer.selected_index``, so, like the
        explorers inside, it works in the static HTML book without Python.
    """
    import ipywidgets as widgets

    x = check_array(np.asarray(x, dtype=np.float64), "x", ndim=2)
    settings = list(settings)
    if not settings:
        raise ValueError("settings must contain at least one (kernel, stride, padding)")
    labels, frames = [], []
    for i, setting in enumerate(settings):
        if not isinstance(setting, (tuple, list)) or len(setting) != 3:
            raise ValueError(f"settings[{i}] must be a (kernel, stride, padding) triple, "
                             f"got {setting!r}")
        kernel, stride, padding = setting
        frames.append(sliding_window_frames(x, kernel, stride, padding, compact=True))
        labels.append(conv_setting_label(x.shape, np.shape(kernel), stride, padding))
    dupes = sorted({lab for lab in labels if labels.count(lab) > 1})
    if dupes:
        raise ValueError(f"settings must differ from each other; repeated: {dupes}")
    shared = _shared_looks()
    players = [_frame_player(f, interval_ms, shared) for f in frames]
    # As wide as its longest option, but never wider than the column (less the widget's
    # 2 px margins): on a phone the chosen option is cut short, the opened list shows all.
    dropdown = widgets.Dropdown(options=labels, index=0, description="setting",
                                style={"description_width": "initial"},
                                layout=widgets.Layout(width="max-content",
                                                      max_width="calc(100% - 4px)"))
    # a column, so that each explorer is as wide as the column (a row would shrink it to
    # its frames' width, and its slider would wrap below the play buttons even on a laptop)
    outer = widgets.Stack(players, selected_index=0, layout=widgets.Layout(flex_flow="column"))
    widgets.jslink((dropdown, "index"), (outer, "selected_index"))
    return widgets.VBox([_css_widget(), dropdown, outer])
