"""Tag every cell of every exercise solution with ``solution``, from the solution markers.

A solution is written in one of two forms (see the chapters in ``book/``):

* one markdown cell holding a whole ``{solution}`` directive (shown as a dropdown);
* the gated form: a markdown cell opening ``{solution-start} ex-...``, then any markdown and code
  cells, then a markdown cell ``{solution-end}``.

The student edition (``tools/make_student.py``) removes the cells tagged ``solution``, so the tag
must mirror the markers exactly: this tool adds the tag to every cell of a solution (marker cells
included) and removes it from any other cell.  Running it twice changes nothing.  Notebooks are
written as ``tools/execute_notebooks.py`` writes them (``nbformat.writes`` plus a final newline), so
only the tags change and ``make check-notebooks`` still reproduces them byte for byte.

``--check`` writes nothing and exits 1 if a notebook's tags differ from its markers or its markers
are malformed (a start without an end, a solution mixed into a cell with other text, ...).
"""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from execute_notebooks import toc_notebooks  # noqa: E402

TAG = "solution"

# A directive opens at the start of a line with a fence of 3+ backticks or colons.
_DIRECTIVE = r"^[ \t]*(?P<fence>`{3,}|:{3,})\{%s\}[ \t]*(?P<arg>[^\n]*)$"
SOLUTION = re.compile(_DIRECTIVE % "solution", re.M)
START = re.compile(_DIRECTIVE % "solution-start", re.M)
END = re.compile(_DIRECTIVE % "solution-end", re.M)


class MarkupError(ValueError):
    """The solution markers of a notebook are malformed."""


@dataclass
class Solution:
    """The cells ``start`` to ``end`` (inclusive) of a notebook are the solution of ``label``."""

    label: str
    start: int
    end: int
    code: list[int] = field(default_factory=list)  # indices of its code cells

    @property
    def cells(self) -> range:
        return range(self.start, self.end + 1)


def _cell_name(nb: nbformat.NotebookNode, i: int) -> str:
    return f"cell {i} (id {nb.cells[i].get('id', '?')})"


def find_solutions(nb: nbformat.NotebookNode) -> list[Solution]:
    """The solutions of ``nb`` in order, from their markers; raise `MarkupError` if malformed."""
    solutions: list[Solution] = []
    errors: list[str] = []
    open_: Solution | None = None
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            if open_ is not None and cell.cell_type == "code":
                open_.code.append(i)
            continue
        text = cell.source.strip()
        whole, start, end = SOLUTION.search(text), START.search(text), END.search(text)
        found = [m for m in (whole, start, end) if m]
        if not found:
            continue
        where = _cell_name(nb, i)
        if len(found) > 1 or found[0].start() != 0:
            errors.append(f"{where}: a solution marker must open its own markdown cell, alone; "
                          "split the cell")
            continue
        if whole:
            fence = whole.group("fence")
            if not text.endswith(fence) or text.count("\n") < 1:
                errors.append(f"{where}: the {{solution}} cell must hold the whole directive and "
                              "nothing after its closing fence; split the cell")
            elif open_ is not None:
                errors.append(f"{where}: {{solution}} inside the open solution of {open_.label}")
            else:
                solutions.append(Solution(whole.group("arg").strip(), i, i))
        elif start:
            if open_ is not None:
                errors.append(f"{where}: solution-start while the solution of {open_.label} "
                              "is still open")
            open_ = Solution(start.group("arg").strip(), i, i)
        else:
            if open_ is None:
                errors.append(f"{where}: solution-end without a solution-start")
            else:
                open_.end = i
                solutions.append(open_)
                open_ = None
    if open_ is not None:
        errors.append(f"{_cell_name(nb, open_.start)}: solution-start of {open_.label} "
                      "has no solution-end")
    for s in solutions:
        if not s.label:
            errors.append(f"{_cell_name(nb, s.start)}: solution without the label of its exercise")
    if errors:
        raise MarkupError("\n".join(errors))
    return solutions


def solution_cells(nb: nbformat.NotebookNode) -> set[int]:
    """Indices of the cells that belong to a solution (markers included)."""
    return {i for s in find_solutions(nb) for i in s.cells}


def tag_problems(nb: nbformat.NotebookNode) -> list[str]:
    """Where the ``solution`` tags of ``nb`` differ from its markers (empty if they agree)."""
    want = solution_cells(nb)
    problems = []
    for i, cell in enumerate(nb.cells):
        has = TAG in cell.metadata.get("tags", [])
        if i in want and not has:
            problems.append(f"{_cell_name(nb, i)}: part of a solution but not tagged '{TAG}'")
        elif has and i not in want:
            problems.append(f"{_cell_name(nb, i)}: tagged '{TAG}' but not part of a solution")
    return problems


def retag(nb: nbformat.NotebookNode) -> int:
    """Make the ``solution`` tags of ``nb`` mirror its markers, in place; return cells changed."""
    want = solution_cells(nb)
    changed = 0
    for i, cell in enumerate(nb.cells):
        tags = list(cell.metadata.get("tags", []))
        if i in want and TAG not in tags:
            cell.metadata["tags"] = tags + [TAG]
        elif i not in want and TAG in tags:
            tags = [t for t in tags if t != TAG]
            if tags:
                cell.metadata["tags"] = tags
            else:
                del cell.metadata["tags"]
        else:
            continue
        changed += 1
    return changed


def write_text(nb: nbformat.NotebookNode) -> str:
    """The notebook's JSON exactly as ``tools/execute_notebooks.py`` writes it."""
    return nbformat.writes(nb) + "\n"


def retag_text(text: str) -> tuple[str, int]:
    """Retag the notebook JSON ``text``; return the new text and the number of cells changed.

    Raises `ValueError` if ``text`` is not in the executor's format, since rewriting it would then
    change more than the tags.
    """
    nb = nbformat.reads(text, as_version=4)
    if write_text(nb) != text:
        raise ValueError("not in the format tools/execute_notebooks.py writes (run `make "
                         "notebooks` first); retagging it would change more than its tags")
    changed = retag(nb)
    return (write_text(nb) if changed else text), changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to tag (default: every notebook in _toc.yml)")
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 if any tag is missing or stray, or a marker "
                             "is malformed")
    args = parser.parse_args(argv)
    status = 0
    for path in args.notebooks or toc_notebooks():
        text = path.read_text(encoding="utf-8")
        try:
            if args.check:
                problems = tag_problems(nbformat.reads(text, as_version=4))
                if problems:
                    print(f"{path}: tags differ from the solution markers "
                          f"(run tools/tag_solutions.py):")
                    shown = problems if len(problems) <= 6 else problems[:5]
                    print("\n".join(f"  {p}" for p in shown))
                    if len(shown) < len(problems):
                        print(f"  ... and {len(problems) - len(shown)} more")
                    status = 1
                else:
                    print(f"{path}: solution tags match the markers")
                continue
            new, changed = retag_text(text)
        except (MarkupError, ValueError) as exc:
            print(f"{path}: {exc}".replace("\n", "\n  "))
            status = 1
            continue
        if changed:
            path.write_text(new, encoding="utf-8")
            print(f"{path}: {changed} cell(s) retagged")
        else:
            print(f"{path}: unchanged")
    return status


if __name__ == "__main__":
    sys.exit(main())
