"""Figures and interactive views used by the book.

Everything here imports matplotlib or ipywidgets lazily, so ``import cnnlab``
needs NumPy only.  The interactive explorer is built so that it keeps working
in the static HTML book, where no Python runs: every frame is computed in
advance and the controls only switch between frames, through links that run in
the browser (``ipywidgets.jslink``), never through Python callbacks.
"""
from __future__ import annotations

import ast
import inspect
import textwrap
from html import escape

import numpy as np

from ._validate import as_pair, check_array
from .conv import conv2d_naive
from .shapes import conv_output_size

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
            cells.append(f'<span style="{_CELL.format(w=width, bg=bg, border=border)}">{text}</span>')
        rows.append("<div style='white-space:nowrap'>" + "".join(cells) + "</div>")
    return "".join(rows)


def sliding_window_frames(x: np.ndarray, kernel: np.ndarray, stride: int | tuple[int, int] = 1,
                          padding: int | tuple[int, int] = 0) -> list[str]:
    """HTML frames showing a kernel sliding over a single-channel input.

    Parameters
    ----------
    x : array_like, shape (H, W)
        The input.
    kernel : array_like, shape (kH, kW)
        The filter.
    stride, padding : int or (int, int)
        As in :func:`cnnlab.conv.conv2d_forward` (numeric padding only).

    Returns
    -------
    list of str
        One self-contained HTML fragment per output position, in row-major
        order: the padded input with the window's cells showing ``x·w``, the
        sum of products, and the output filled in up to that position.
    """
    x = check_array(np.asarray(x, dtype=np.float64), "x", ndim=2)
    kernel = check_array(np.asarray(kernel, dtype=np.float64), "kernel", ndim=2)
    sh, sw = as_pair(stride, "stride", 1)
    ph, pw = as_pair(padding, "padding", 0)
    kh, kw = kernel.shape
    ho = conv_output_size(x.shape[0], kh, sh, ph)
    wo = conv_output_size(x.shape[1], kw, sw, pw)
    xp = np.pad(x, ((ph, ph), (pw, pw)))
    out = conv2d_naive(x[None, None], kernel[None, None], stride=(sh, sw), padding=(ph, pw))[0, 0]
    frames = []
    for oi in range(ho):
        for oj in range(wo):
            r0, c0 = oi * sh, oj * sw

            def in_cell(i, j, v, r0=r0, c0=c0):
                inside = r0 <= i < r0 + kh and c0 <= j < c0 + kw
                padded = not (ph <= i < ph + x.shape[0] and pw <= j < pw + x.shape[1])
                if inside:
                    w = kernel[i - r0, j - c0]
                    return (f"{_fmt(v)}<br><small>×{_fmt(w)}</small>", "#ffd98a", "#c77c00")
                return (_fmt(v), "#eeeeee" if padded else "#ffffff", "#bbbbbb")

            def out_cell(i, j, v, oi=oi, oj=oj):
                k = i * wo + j
                if k > oi * wo + oj:
                    return ("", "#ffffff", "#dddddd")
                return (_fmt(v), "#ffd98a" if (i, j) == (oi, oj) else "#dff0d8", "#888888")

            patch = xp[r0:r0 + kh, c0:c0 + kw]
            terms = " + ".join(f"{_fmt(a)}·{_fmt(b)}" for a, b in zip(patch.ravel(), kernel.ravel()))
            frames.append(
                "<div style='display:flex;gap:2em;align-items:flex-start;flex-wrap:wrap'>"
                f"<div><b>input</b> (padded: grey)<br>{_grid(xp, in_cell)}</div>"
                f"<div><b>output</b> {ho}×{wo}<br>{_grid(out, out_cell)}</div></div>"
                f"<p style='font-family:monospace;font-size:0.85em'>position ({oi}, {oj}): "
                f"{escape(terms)} = <b>{_fmt(out[oi, oj])}</b></p>")
    return frames


def sliding_window_explorer(x: np.ndarray, kernel: np.ndarray, stride: int | tuple[int, int] = 1,
                            padding: int | tuple[int, int] = 0, interval_ms: int = 900):
    """An ipywidgets explorer of a kernel sliding over an input.

    A play button and a slider choose the output position; a ``Stack`` shows
    the matching precomputed frame from :func:`sliding_window_frames`.  The
    three widgets are connected with ``jslink`` so the explorer responds in a
    live notebook *and* in the static HTML book.

    Returns
    -------
    ipywidgets.VBox
    """
    import ipywidgets as widgets

    frames = sliding_window_frames(x, kernel, stride, padding)
    last = len(frames) - 1
    play = widgets.Play(value=0, min=0, max=last, step=1, interval=interval_ms,
                        description="play")
    slider = widgets.IntSlider(value=0, min=0, max=last, description="position",
                               continuous_update=True)
    stack = widgets.Stack([widgets.HTML(f) for f in frames], selected_index=0)
    widgets.jslink((play, "value"), (slider, "value"))
    widgets.jslink((slider, "value"), (stack, "selected_index"))
    return widgets.VBox([widgets.HBox([play, slider]), stack])


def source_code(obj, docstring: bool = False) -> str:
    """The source of a function or class from the package, optionally without its docstring.

    The book shows implementations this way, straight from ``cnnlab``, so that
    what the reader sees is what the tests check.
    """
    source = textwrap.dedent(inspect.getsource(obj))
    if docstring:
        return source
    body = ast.parse(source).body[0].body
    first = body[0]
    if isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant) \
            and isinstance(first.value.value, str):
        lines = source.splitlines(keepends=True)
        del lines[first.lineno - 1:first.end_lineno]
        source = "".join(lines)
    return source


def show_source(obj, docstring: bool = False):
    """Display :func:`source_code` with syntax highlighting in a notebook."""
    from IPython.display import Code

    return Code(source_code(obj, docstring), language="python")


def plot_grids(arrays, titles, *, annotate: bool = True, cmap: str = "viridis", fmt: str = "{:g}",
               figsize: tuple[float, float] | None = None):
    """Plot 2-D arrays side by side as heat maps, optionally printing each value.

    Parameters
    ----------
    arrays : sequence of ndarray, each of shape (H_i, W_i)
    titles : sequence of str, same length
    annotate : bool
        Write each value in its cell.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    if len(arrays) != len(titles):
        raise ValueError(f"titles must have one entry per array: got {len(titles)} titles "
                         f"for {len(arrays)} arrays")
    fig, axes = plt.subplots(1, len(arrays), figsize=figsize or (3.0 * len(arrays), 3.0),
                             squeeze=False)
    for ax, a, title in zip(axes[0], arrays, titles):
        a = np.asarray(a)
        ax.imshow(a, cmap=cmap)
        ax.set_title(title)
        ax.set_xticks(range(a.shape[1]))
        ax.set_yticks(range(a.shape[0]))
        if annotate:
            mid = (a.max() + a.min()) / 2
            for (i, j), v in np.ndenumerate(a):
                ax.text(j, i, fmt.format(v), ha="center", va="center",
                        color="black" if v > mid else "white")
    fig.tight_layout()
    return fig
