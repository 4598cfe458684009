"""Write the student edition of the book, without solutions, and build it.

``make student`` runs this.  It writes a book source tree to ``_student/``:

* every notebook of ``_toc.yml`` without the cells tagged ``solution`` (the tags come from the
  solution markers: ``tools/tag_solutions.py``; this tool refuses a notebook whose tags disagree
  with its markers, so a solution cannot slip through untagged);
* in place of each solution that contains code cells, one code cell tagged
  ``exercise-placeholder`` that names the exercise and raises ``NotImplementedError``, so a student
  running the notebook stops at the first exercise left to do.  A solution without code cells
  leaves nothing behind: the exercise text already says what to do, and a note per exercise would
  only add noise to the page (the intro page says once that solutions are removed);
* the other cells unchanged, outputs included: execution is off in the build, so the pages show the
  stored outputs as the instructor edition does;
* the rest of ``book/`` as is, ``_toc.yml``, and ``_config.yml`` with ``tools/student_config.yml``
  merged into it (``hide_solutions: true`` and the title); ``_vendor``, ``assets`` and ``tools``
  are linked, not copied.

It then builds the HTML into ``_build/student/html`` with the flags ``make build`` uses
(``--all -W --nitpick --keep-going``).  ``--no-build`` only writes the tree.

Removing tagged cells is what nbconvert's ``TagRemovePreprocessor(remove_cell_tags={"solution"})``
does; nbconvert is not installed with the book's dependencies, and a one-line filter does not
justify adding it.

The labs (``book/labs/``) are nbgrader source notebooks: their solutions are regions inside code
cells, not cells of their own.  Their student version is what ``nbgrader generate_assignment``
releases (:func:`lab_student_notebook` strips them the same way, without needing nbgrader, and
``tests/test_labs.py`` checks that the two agree): each solution region replaced by nbgrader's
stub ``# YOUR CODE HERE`` / ``raise NotImplementedError()``, hidden tests removed, every output
cleared (outputs of a lab show what the reference solution computes).  The stub cells lose their
``hide-input`` tag, so the page shows what to complete.
"""
from __future__ import annotations

import argparse
import copy
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tag_solutions  # noqa: E402
from execute_notebooks import toc_notebooks  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STUDENT_SRC = ROOT / "_student"
STUDENT_HTML = ROOT / "_build" / "student" / "html"
OVERLAY = ROOT / "tools" / "student_config.yml"
PLACEHOLDER_TAG = "exercise-placeholder"
STAMP = ".student-edition"  # marks a directory this tool may delete and rewrite
TITLE_CHARS = 72
LONG_MATH = 16

EXERCISE = re.compile(r"^[ \t]*(`{3,}|:{3,})\{exercise(?:-start)?\}[ \t]*(?P<title>[^\n]*)$", re.M)
INTRO_NOTE = """
```{note}
This is the **student edition** of CNN Lab: the solutions of the exercises are not included.
Where a solution would run code, the notebook has a cell that raises `NotImplementedError`:
replace it with your own code.
```
"""


class UntaggedSolutions(RuntimeError):
    """A notebook's ``solution`` tags disagree with its solution markers."""


# --- notebooks -----------------------------------------------------------------------------------
def exercise_titles(nb: nbformat.NotebookNode) -> dict[str, str]:
    """``{label: title}`` for the exercises of ``nb``.

    The title is the directive's title if it has one, else the first sentence of the exercise,
    shortened to about `TITLE_CHARS` characters.
    """
    titles = {}
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        m = EXERCISE.search(cell.source)
        if not m:
            continue
        lines = cell.source[m.end():].strip("\n").splitlines()
        options = {}
        while lines and re.match(r"^:[\w-]+:", lines[0].strip()):
            key, _, value = lines.pop(0).strip()[1:].partition(":")
            options[key] = value.strip()
        label = options.get("label")
        if not label:
            continue
        body = " ".join(line for line in lines if not re.match(r"^\s*(`{3,}|:{3,})\s*$", line))
        title = m.group("title").strip() or re.split(r"(?<=[.?!:])\s", " ".join(body.split()))[0]
        title = title.split("$$")[0].strip()
        # a matrix reads badly in a comment
        title = re.sub(r"\$[^$]{%d,}?\$" % LONG_MATH, "…", title)
        if len(title) > TITLE_CHARS:
            title = title[:TITLE_CHARS].rsplit(" ", 1)[0] + " …"
        titles[label] = title
    return titles


def placeholder_cell(label: str, title: str | None) -> nbformat.NotebookNode:
    """The code cell that stands in the student notebook where the solution of ``label`` was."""
    head = f"# Exercise {label}: {title}" if title else f"# Exercise {label}"
    source = "\n".join([
        head,
        "# Write your solution here (add cells if you need them), then delete the line below.",
        f'raise NotImplementedError("Exercise {label}: write your solution here")',
    ])
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": [PLACEHOLDER_TAG]})
    cell.id = f"{label}-placeholder"[-64:]
    return cell


# --- labs: nbgrader source notebooks ---------------------------------------------------------
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")  # nbgrader's, for Python
SOLUTION_REGION = ("BEGIN SOLUTION", "END SOLUTION")
HIDDEN_REGION = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
BOOK_ONLY_TAGS = ("hide-input",)  # the reference solution folded away in the book


def is_lab(nb: nbformat.NotebookNode) -> bool:
    """Whether ``nb`` is an nbgrader source notebook (a lab): a cell has nbgrader metadata."""
    return any("nbgrader" in cell.metadata for cell in nb.cells)


def replace_regions(source: str, region: tuple[str, str], stub: tuple[str, ...] = ()) -> str:
    """``source`` with each region between the lines holding ``region``'s two delimiters
    (inclusive) replaced by the ``stub`` lines, indented like the opening delimiter.

    The rule of nbgrader's ``ClearSolutions`` and ``ClearHiddenTests``.
    """
    begin, end = region
    lines, inside = [], False
    for line in source.split("\n"):
        if begin in line:
            if inside:
                raise tag_solutions.MarkupError(f"nested {begin!r} in:\n{source}")
            inside = True
            indent = re.match(r"\s*", line).group(0)
            lines.extend(indent + s for s in stub)
        elif end in line:
            inside = False
        elif not inside:
            lines.append(line)
    if inside:
        raise tag_solutions.MarkupError(f"{begin!r} without {end!r} in:\n{source}")
    return "\n".join(lines)


def region_lines(nb: nbformat.NotebookNode, region: tuple[str, str]) -> list[str]:
    """The lines inside the regions of ``nb``'s code cells (delimiters excluded), in order."""
    begin, end = region
    found = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        inside = False
        for line in cell.source.split("\n"):
            if begin in line:
                inside = True
            elif end in line:
                inside = False
            elif inside:
                found.append(line)
    return found


def lab_student_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The student version of a lab: as ``nbgrader generate_assignment`` releases it.

    Solution regions become the stub, hidden tests are removed, outputs cleared; the solution
    cells are no longer folded (their ``hide-input`` tag and prompts are dropped).
    """
    out = copy.deepcopy(nb)
    for cell in out.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.source = replace_regions(cell.source, SOLUTION_REGION, CODE_STUB)
        if meta.get("grade"):
            cell.source = replace_regions(cell.source, HIDDEN_REGION)
        if meta.get("solution"):
            tags = [t for t in cell.metadata.get("tags", []) if t not in BOOK_ONLY_TAGS]
            if tags:
                cell.metadata["tags"] = tags
            else:
                cell.metadata.pop("tags", None)
            cell.metadata.pop("mystnb", None)
    return out


def student_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` without its solution cells, with a placeholder per code solution.

    A lab (an nbgrader source notebook) becomes its release version: :func:`lab_student_notebook`.
    """
    if is_lab(nb):
        return lab_student_notebook(nb)
    problems = tag_solutions.tag_problems(nb)
    if problems:
        raise UntaggedSolutions("solution tags differ from the markers (run "
                                "tools/tag_solutions.py):\n  " + "\n  ".join(problems))
    titles = exercise_titles(nb)
    placeholders = {s.start: placeholder_cell(s.label, titles.get(s.label))
                    for s in tag_solutions.find_solutions(nb) if s.code}
    out = copy.deepcopy(nb)
    cells, out.cells = out.cells, []
    for i, cell in enumerate(cells):
        if i in placeholders:
            out.cells.append(placeholders[i])
        if tag_solutions.TAG not in cell.metadata.get("tags", []):
            out.cells.append(cell)
    ids = [c.id for c in out.cells]
    if len(set(ids)) != len(ids):
        raise ValueError("placeholder cell ids clash with existing cell ids")
    return out


# --- the source tree -----------------------------------------------------------------------------
def merge(base: dict, overlay: dict) -> dict:
    """``base`` with ``overlay`` merged in: mappings key by key, anything else replaced."""
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def student_config() -> dict:
    """``_config.yml`` with ``tools/student_config.yml`` merged into it."""
    base = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    overlay = yaml.safe_load(OVERLAY.read_text(encoding="utf-8")) or {}
    return merge(base, overlay)


def _fresh_dir(out: Path) -> None:
    if out.exists():
        if any(out.iterdir()) and not (out / STAMP).exists():
            raise FileExistsError(f"{out} exists and was not written by {Path(__file__).name}; "
                                  "not deleting it")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / STAMP).write_text("Written by tools/make_student.py; rewritten on every run.\n")


def _add_intro_note(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next((i + 1 for i, line in enumerate(lines) if line.startswith("# ")), len(lines))
    lines.insert(at, INTRO_NOTE)
    path.write_text("".join(lines), encoding="utf-8")


# Files outside book/ that a chapter reads (the performance chapter reports the committed
# benchmark).
NOTEBOOK_DATA = ("benchmarks/results/latest.json", "benchmarks/results/haswell.json")


def write_student_tree(out: Path = STUDENT_SRC) -> list[Path]:
    """Write the student book source to ``out``; return the student notebooks written."""
    out = Path(out)
    _fresh_dir(out)
    notebooks = toc_notebooks()
    for src in sorted((ROOT / "book").rglob("*")):
        rel = src.relative_to(ROOT)
        if src.is_dir() or src.suffix == ".ipynb" or ".ipynb_checkpoints" in rel.parts:
            continue
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, out / rel)
    written = []
    for src in notebooks:
        nb = nbformat.read(src, as_version=4)
        try:
            student = student_notebook(nb)
        except UntaggedSolutions as exc:
            raise UntaggedSolutions(f"{src.relative_to(ROOT)}: {exc}") from None
        dest = out / src.relative_to(ROOT)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(tag_solutions.write_text(student), encoding="utf-8")
        written.append(dest)
    shutil.copy2(ROOT / "_toc.yml", out / "_toc.yml")
    for rel in NOTEBOOK_DATA:  # files outside book/ that chapters read, so the tree runs
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, out / rel)
    root_page = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))["root"]
    intro = (out / root_page).with_suffix(".md")
    if intro.exists():
        _add_intro_note(intro)
    config = yaml.safe_dump(student_config(), sort_keys=False, allow_unicode=True)
    (out / "_config.yml").write_text(
        "# Written by tools/make_student.py from _config.yml and tools/student_config.yml;\n"
        "# edit those, not this file.\n" + config, encoding="utf-8")
    # served files, the theme template and favicon (assets/), the Sphinx extension (tools/)
    for folder in ("_vendor", "assets", "tools"):
        os.symlink(ROOT / folder, out / folder, target_is_directory=True)
    return written


# --- the HTML book -------------------------------------------------------------------------------
def build_html(src: Path = STUDENT_SRC, dest: Path = STUDENT_HTML) -> None:
    """Build the student book in ``src`` into ``dest`` as ``make build`` builds the book."""
    jb = Path(sys.executable).with_name("jupyter-book")
    work = dest.parent  # jupyter-book writes <path-output>/_build/html
    cmd = [str(jb if jb.exists() else "jupyter-book"), "build", "--all", "--builder", "html",
           "--warningiserror", "--nitpick", "--keep-going", "--path-output", str(work), str(src)]
    subprocess.run(cmd, check=True)
    if dest.exists():
        shutil.rmtree(dest)
    (work / "_build" / "html").rename(dest)
    shutil.rmtree(work / "_build")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-build", action="store_true", help="only write the source tree")
    parser.add_argument("--out", type=Path, default=STUDENT_SRC,
                        help=f"where to write the source tree (default: {STUDENT_SRC.name}/)")
    args = parser.parse_args(argv)
    try:
        written = write_student_tree(args.out)
    except (UntaggedSolutions, tag_solutions.MarkupError, FileExistsError) as exc:
        print(f"make_student: {exc}", file=sys.stderr)
        return 1
    print(f"Wrote {len(written)} student notebooks to {args.out}/")
    if args.no_build:
        return 0
    try:
        build_html(args.out)
    except subprocess.CalledProcessError as exc:
        print(f"make_student: the student book build failed ({exc.returncode})", file=sys.stderr)
        return 1
    print(f"\nThe student book is built. Open file://{STUDENT_HTML}/index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
