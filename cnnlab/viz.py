"""Figures and source listings used by the book.

matplotlib and IPython are imported lazily, so ``import cnnlab`` needs NumPy
only.  The interactive explorers live in :mod:`cnnlab.explorers`.
"""
from __future__ import annotations

import ast
import inspect
import textwrap

import numpy as np


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
