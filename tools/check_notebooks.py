"""Check the committed notebooks as files, without running them.

``make lint``, the pre-commit hook and ``tests/test_notebooks.py`` all run these checks; this
module is their one implementation.  Each check reads the notebook's JSON and returns a list of
problems (empty when the notebook is fine):

`hygiene_problems`
    the file is under `MAX_BYTES`; every cell has a unique id; every code cell was executed
    (its outputs are stored) and records no timing metadata; no ``# NBVAL`` comments (use cell
    tags) and no ``sys.path`` edits; no stored error outside a cell tagged ``raises-exception``;
    no memory addresses and no path of the checkout in outputs (a traceback into the package
    names its files by absolute path, which differs on every machine); every widget view has
    its state stored; a Markdown output holding a table comes from a cell whose metadata sets
    ``mystnb.markdown_format`` to ``gfm`` (the book renders Markdown outputs as CommonMark,
    which has no tables: the table would show as lines of ``|`` text).
`column_problems`
    code lines of at most `MAX_LINE` characters; every figure made in the book style (no
    ``FigureStyleWarning`` in the outputs), at most `cnnlab.viz.COLUMN_PX` wide and with alt
    text in the cell metadata ``mystnb.image.alt``.

Whether a fresh execution reproduces the stored outputs is another matter, and takes minutes:
``make check-notebooks`` and ``make nbval``.

Usage (from the repository root)::

    .venv/bin/python tools/check_notebooks.py                         # every notebook in _toc.yml
    .venv/bin/python tools/check_notebooks.py book/convolution_by_hand.ipynb
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_BYTES = 1_000_000
MAX_LINE = 88               # code lines that fit the content column without scrolling
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
MEMORY_ADDRESS = re.compile(r"0x[0-9a-f]{8,}")
MODEL_ID = re.compile(r'"model_id": "([0-9a-f]{32})"')
TABLE_RULE = re.compile(r"^\|(\s*:?-{3,}:?\s*\|)+\s*$", re.MULTILINE)  # |---|---|
FILE_NAME_ALT = re.compile(r"^[\w./-]+\.(png|jpe?g|svg|gif)$|^[0-9a-f]{16,}", re.IGNORECASE)


def _code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def _where(path: Path, cell: dict) -> str:
    return f"{path.name} cell {cell.get('id')}"


def hygiene_problems(path: Path) -> list[str]:
    """What is wrong with the stored notebook at ``path`` as a file (see the module docstring)."""
    text = path.read_text(encoding="utf-8")
    nb = json.loads(text)
    problems = []
    size = len(text.encode())
    if size >= MAX_BYTES:
        problems.append(f"{path.name} is {size} bytes (less than {MAX_BYTES} allowed)")
    ids = [c.get("id") for c in nb["cells"]]
    if None in ids or len(set(ids)) != len(ids):
        problems.append(f"{path.name}: cell ids must exist and be unique")
    for cell in _code_cells(nb):
        source = "".join(cell["source"])
        where = _where(path, cell)
        tags = cell["metadata"].get("tags", [])
        if cell["execution_count"] is None:
            problems.append(f"{where} was not executed (run: make notebooks)")
        if "execution" in cell["metadata"]:
            problems.append(f"{where} stores timing metadata (run: make notebooks)")
        if "NBVAL" in source:
            problems.append(f"{where}: use cell tags, not # NBVAL comments")
        if "sys.path" in source:
            problems.append(f"{where} edits sys.path")
        for out in cell["outputs"]:
            if out["output_type"] == "error" and "raises-exception" not in tags:
                problems.append(f"{where} stores an error ({out.get('ename')}) but is not "
                                "tagged raises-exception")
            markdown = "".join(out.get("data", {}).get("text/markdown", ""))
            fmt = cell["metadata"].get("mystnb", {}).get("markdown_format")
            if TABLE_RULE.search(markdown) and fmt not in ("gfm", "myst"):
                problems.append(f"{where}: a Markdown table in an output needs the cell metadata "
                                '"mystnb": {"markdown_format": "gfm"}')
            stored = json.dumps(out)
            if MEMORY_ADDRESS.search(stored):
                problems.append(f"{where}: memory address in an output")
            if str(ROOT) in stored:
                problems.append(f"{where}: an output names a path of this checkout "
                                f"({ROOT}); catch the exception and print its message")
    if WIDGET_VIEW in text:
        state = nb["metadata"].get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
        for m in MODEL_ID.finditer(text):
            if m.group(1) not in state:
                problems.append(f"{path.name}: widget view {m.group(1)} has no stored state")
    return problems


def long_lines(path: Path) -> list[str]:
    """The code lines of the notebook at ``path`` longer than `MAX_LINE` characters."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    found = []
    for cell in _code_cells(nb):
        for n, line in enumerate("".join(cell["source"]).splitlines(), 1):
            if len(line) > MAX_LINE:
                found.append(f"{_where(path, cell)} line {n}: {len(line)} characters")
    return found


def figure_problems(path: Path) -> list[str]:
    """Figures of the notebook at ``path`` not in the book style, too wide or without alt text."""
    from cnnlab.viz import COLUMN_PX

    nb = json.loads(path.read_text(encoding="utf-8"))
    problems = []
    for cell in _code_cells(nb):
        where = _where(path, cell)
        images = [o for o in cell["outputs"] if "image/png" in o.get("data", {})]
        if "FigureStyleWarning" in json.dumps(cell["outputs"]):
            problems.append(f"{where}: a figure breaks the book style (FigureStyleWarning)")
        if not images:
            continue
        alt = cell["metadata"].get("mystnb", {}).get("image", {}).get("alt", "")
        if len(alt.split()) < 4 or FILE_NAME_ALT.search(alt):
            problems.append(f"{where}: figure without alt text saying what it shows "
                            f"(cell metadata mystnb.image.alt = {alt!r})")
        for out in images:
            width = out.get("metadata", {}).get("image/png", {}).get("width")
            if width is None or width > COLUMN_PX:
                problems.append(f"{where}: figure displayed {width} px wide; made with "
                                f"cnnlab.viz.use_book_style() it is at most {COLUMN_PX}")
    return problems


def column_problems(path: Path) -> list[str]:
    """`long_lines` (under one heading) and `figure_problems` of the notebook at ``path``."""
    lines = long_lines(path)
    head = [f"code lines over {MAX_LINE} characters:\n" + "\n".join(lines)] if lines else []
    return head + figure_problems(path)


def problems(path: Path) -> list[str]:
    """Every problem the checks of this module find in the notebook at ``path``."""
    return hygiene_problems(path) + column_problems(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to check (default: every notebook in _toc.yml)")
    args = parser.parse_args(argv)
    if args.notebooks:
        paths = args.notebooks
    else:  # imported here: the executor's imports take a second, the checks a fraction of one
        from execute_notebooks import toc_notebooks
        paths = toc_notebooks()
    found = [p for path in paths for p in problems(path)]
    for problem in found:
        print(problem)
    if found:
        print(f"\n{len(found)} problem(s) in the notebooks; see CONTRIBUTING.md "
              "('Adding or changing a chapter')", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
