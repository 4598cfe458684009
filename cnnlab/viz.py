"""Figures and source listings used by the book: one style, small grids, training curves, filters.

matplotlib and IPython are imported lazily, so ``import cnnlab`` needs NumPy
only.  The interactive explorers live in :mod:`cnnlab.explorers`.
"""
from __future__ import annotations

import ast
import inspect
import textwrap
import warnings

import numpy as np

# --- the book's figure style --------------------------------------------------------

#: Width of the book's content column, in CSS pixels, on a laptop (1280 px window).
COLUMN_PX = 688
#: Dots per inch of a displayed figure; one inch of figure is ``DPI`` CSS pixels.
DPI = 100
#: A figure this wide (inches) fills the content column exactly.
COLUMN_WIDTH = COLUMN_PX / DPI
#: Smallest text, in points at the size shown on a laptop (9 pt is 12.5 CSS px).
MIN_FONT_PT = 9.0

#: rcParams of the book style.  Every text element gets an absolute size of at least
#: ``MIN_FONT_PT`` (relative sizes such as "small" would shrink below it).
BOOK_STYLE = {
    "figure.figsize": (COLUMN_WIDTH, 3.0),
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "figure.constrained_layout.use": True,
    "font.size": 10.0,
    "axes.titlesize": 10.5,
    "axes.labelsize": 10.0,
    "xtick.labelsize": 9.0,
    "ytick.labelsize": 9.0,
    "legend.fontsize": 9.0,
    "legend.title_fontsize": 9.5,
    "figure.titlesize": 11.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "lines.linewidth": 1.6,
    "lines.markersize": 4.5,
    "image.cmap": "viridis",
}


class FigureStyleWarning(UserWarning):
    """A figure breaks the book style: wider than the column or text below 9 pt."""


def figure_problems(fig, *, min_pt: float = MIN_FONT_PT, max_width: float = COLUMN_WIDTH
                    ) -> list[str]:
    """What makes ``fig`` unreadable in the book's column (an empty list if nothing).

    Checks the figure's width against the content column and the size of every
    visible, non-empty text (titles, labels, tick labels, legends, annotations).
    """
    from matplotlib.text import Text

    problems = []
    width = float(fig.get_size_inches()[0])
    if width > max_width + 1e-9:
        problems.append(f"figure is {width:.2f} in wide, more than the column's "
                        f"{max_width:.2f} in (figsize=(COLUMN_WIDTH, h) fills it)")
    small = sorted({(t.get_fontsize(), t.get_text()) for t in fig.findobj(Text)
                    if t.get_visible() and t.get_text().strip() and t.get_fontsize() < min_pt})
    for size, text in small[:5]:
        problems.append(f"text {text[:30]!r} is {size:g} pt, below {min_pt:g} pt")
    if len(small) > 5:
        problems.append(f"... and {len(small) - 5} more texts below {min_pt:g} pt")
    return problems


def _check_open_figures() -> None:
    import matplotlib.pyplot as plt

    for num in plt.get_fignums():
        problems = figure_problems(plt.figure(num))
        if problems:
            # no source line in the message: it would point into this module, not the cell
            warnings.warn_explicit("; ".join(problems), FigureStyleWarning, "cnnlab.viz", 0)


def use_book_style() -> None:
    """Apply the book's figure style; in IPython, also check every figure a cell shows.

    Figures are sized for the content column (``COLUMN_WIDTH`` inches at ``DPI``
    fills its 688 CSS pixels), use constrained layout and absolute font sizes of
    at least 9 pt, and are stored as "retina" PNGs of exactly that size: twice the
    pixels, displayed at half size, so they stay sharp when a reader zooms in or
    opens the full image.
    Each notebook of the book calls this once, in its first code cell.

    In IPython, a figure that is wider than the column or has text below 9 pt
    raises a :class:`FigureStyleWarning` when the cell that draws it finishes.
    """
    import matplotlib as mpl

    mpl.rcParams.update(BOOK_STYLE)
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    # bbox_inches=None: the image is exactly figsize, so COLUMN_WIDTH fills the column
    set_matplotlib_formats("retina", bbox_inches=None)
    callbacks = shell.events.callbacks["post_execute"]
    if _check_open_figures not in callbacks:
        # before the inline backend's own post_execute callback shows and closes the figures
        callbacks.insert(0, _check_open_figures)


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
               figsize: tuple[float, float] | None = None, ncols: int | None = None):
    """Plot 2-D arrays side by side as heat maps, optionally printing each value.

    Parameters
    ----------
    arrays : sequence of ndarray, each of shape (H_i, W_i)
    titles : sequence of str, same length
    annotate : bool
        Write each value in its cell.
    ncols : int, optional
        Heat maps per row, in reading order; default all in one row.  Fewer per
        row keep the cells large enough for their numbers in a narrow column.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    if len(arrays) != len(titles):
        raise ValueError(f"titles must have one entry per array: got {len(titles)} titles "
                         f"for {len(arrays)} arrays")
    n = len(arrays)
    ncols = n if ncols is None else min(_positive_int(ncols, "ncols"), n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, squeeze=False,
                             figsize=figsize or (min(COLUMN_WIDTH, 2.6 * ncols), 2.8 * nrows))
    for ax in axes.ravel()[n:]:
        fig.delaxes(ax)
    for ax, a, title in zip(axes.ravel(), arrays, titles, strict=False):
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
    return fig


# --- training figures ----------------------------------------------------------

def _image_grid(images, titles, ncols: int, cmap: str, vmin, vmax, figsize, cell: float):
    """One small image per axis, ``ncols`` per row; surplus axes are removed.

    By default each image gets a ``cell``-inch square, smaller when ``ncols`` of them
    would be wider than the column, plus room for a title line: the figure is never
    wider than ``COLUMN_WIDTH`` and has no empty bands between the rows.
    """
    import matplotlib.pyplot as plt

    n = len(images)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    if figsize is None:
        cell = min(cell, COLUMN_WIDTH / ncols)
        title_line = 0.25 if titles is not None else 0.05
        figsize = (cell * ncols, (cell + title_line) * nrows + 0.05)
    fig, axes = plt.subplots(nrows, ncols, squeeze=False, figsize=figsize)
    for k, ax in enumerate(axes.ravel()):
        if k >= n:
            fig.delaxes(ax)
            continue
        ax.imshow(images[k], cmap=cmap, vmin=vmin, vmax=vmax)
        ax.set_axis_off()                   # no ticks, no spines; the title stays
        if titles is not None:
            ax.set_title(titles[k], fontsize=MIN_FONT_PT)
    return fig


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def plot_filters(weight: np.ndarray, *, ncols: int | None = None, cmap: str = "RdBu_r",
                 shared_scale: bool = True, figsize: tuple[float, float] | None = None):
    """Show every 2-D kernel of a convolution weight as a small image.

    Parameters
    ----------
    weight : ndarray, (C_out, C_in, kh, kw)
        E.g. ``model[0].weight.data``.  One image per (output, input) channel pair,
        titled ``"o,i"`` (just ``"o"`` when ``C_in == 1``).
    ncols : int, optional
        Images per row; default ``C_in`` when it is above 1, else ``min(C_out, 8)``.
    cmap : str, default "RdBu_r"
        A diverging map: with ``shared_scale`` zero is white, positive red, negative blue.
    shared_scale : bool, default True
        One colour scale, symmetric about 0, for all kernels (so they can be
        compared); False scales each kernel to its own range.
    figsize : (float, float), optional
        In inches; by default 1.3 in per image, less when a row would be wider than
        the book's column (``COLUMN_WIDTH``).

    Returns
    -------
    matplotlib.figure.Figure
        With ``C_out * C_in`` axes.
    """
    w = np.asarray(weight)
    if w.ndim != 4:
        raise ValueError(f"weight must have shape (C_out, C_in, kh, kw), got {w.shape}")
    c_out, c_in = w.shape[:2]
    if ncols is None:
        ncols = c_in if c_in > 1 else min(c_out, 8)
    ncols = _positive_int(ncols, "ncols")
    images = w.reshape(c_out * c_in, *w.shape[2:])
    titles = [f"{o}" if c_in == 1 else f"{o},{i}" for o in range(c_out) for i in range(c_in)]
    m = float(np.abs(w).max()) or 1.0
    vmin, vmax = (-m, m) if shared_scale else (None, None)
    return _image_grid(images, titles, ncols, cmap, vmin, vmax, figsize, 1.3)


def plot_feature_maps(maps: np.ndarray, *, ncols: int = 8, cmap: str = "viridis",
                      titles=None, figsize: tuple[float, float] | None = None):
    """Show the channels of one input's activations, ``(C, H, W)``, one image each.

    Each map has its own colour scale (bright = strongly activated); titles
    default to the channel index.  By default each map gets 1.4 in, less when a row
    of ``ncols`` would be wider than the book's column.  Returns a Figure with ``C``
    axes.
    """
    a = np.asarray(maps)
    if a.ndim != 3:
        raise ValueError(f"maps must have shape (C, H, W) (one sample: index the batch "
                         f"first, e.g. out[0]), got {a.shape}")
    if titles is not None and len(titles) != len(a):
        raise ValueError(f"titles must have one entry per map: got {len(titles)} for "
                         f"{len(a)} maps")
    titles = [str(c) for c in range(len(a))] if titles is None else list(titles)
    return _image_grid(a, titles, _positive_int(ncols, "ncols"), cmap, None, None, figsize, 1.4)


def plot_history(history, *, figsize: tuple[float, float] = (COLUMN_WIDTH, 3.0)):
    """Training curves: loss (left) and accuracy (right), training vs validation.

    Parameters
    ----------
    history : cnnlab.train.History
        Or any object with the attributes ``epoch``, ``train_loss``,
        ``train_accuracy``, ``val_loss``, ``val_accuracy`` and ``best_epoch``.
        A dashed line marks ``best_epoch`` when it is set.

    Returns
    -------
    matplotlib.figure.Figure
        With 2 axes and one legend for both, above them (it never hides a curve).
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    missing = [k for k in ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy")
               if not hasattr(history, k)]
    if missing:
        raise TypeError(f"history must be a cnnlab.train.History, got "
                        f"{type(history).__name__} without {missing}")
    if not history.epoch:
        raise ValueError("history holds no epoch to plot")
    fig, axes = plt.subplots(1, 2, figsize=figsize)
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        for part, style in (("train", "-o"), ("val", "-s")):
            values = getattr(history, f"{part}_{metric}")
            if values:
                ax.plot(history.epoch[:len(values)], values, style, markersize=3,
                        label="training" if part == "train" else "validation")
        best = getattr(history, "best_epoch", None)
        if best is not None:
            ax.axvline(best, color="grey", linestyle="--", linewidth=1, label=f"best epoch {best}")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(metric)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncols=len(labels))
    return fig


def plot_confusion_matrix(cm: np.ndarray, class_names=None, *, cmap: str = "Blues",
                          figsize: tuple[float, float] | None = None):
    """Plot a confusion matrix (rows: true class, columns: predicted) with its counts.

    Parameters
    ----------
    cm : (K, K) ndarray of int
        From :func:`cnnlab.train.confusion_matrix`.
    class_names : sequence of K str, optional
        Tick labels; default ``0 .. K-1``.

    Returns
    -------
    matplotlib.figure.Figure
        With 1 axis; every cell shows its count.
    """
    import matplotlib.pyplot as plt

    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"cm must be a square (K, K) matrix, got shape {cm.shape}")
    k = len(cm)
    names = [str(i) for i in range(k)] if class_names is None else [str(c) for c in class_names]
    if len(names) != k:
        raise ValueError(f"class_names must have {k} entries, got {len(names)}")
    cell = min(0.45, (COLUMN_WIDTH - 1.8) / k)          # inches per class, column-wide at most
    fig, ax = plt.subplots(figsize=figsize or (cell * k + 1.8, cell * k + 1.5))
    ax.imshow(cm, cmap=cmap)
    ax.set_xticks(range(k), names, rotation=90 if max(map(len, names)) > 2 else 0)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    mid = cm.max() / 2
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, f"{v:g}", ha="center", va="center", fontsize=MIN_FONT_PT,
                color="white" if v > mid else "black")
    return fig
