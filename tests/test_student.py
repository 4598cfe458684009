"""The student edition: no solution survives, each notebook runs up to its first exercise, and the
``solution`` tags mirror the solution markers.

The notebook checks write a student tree into a temporary directory.  The HTML checks read the book
``make student`` built into ``_build/student/html``; without it they skip locally and fail in CI.
"""
from __future__ import annotations

import html
import json
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import execute_notebooks  # noqa: E402
import make_student  # noqa: E402
import tag_solutions  # noqa: E402

NOTEBOOKS = execute_notebooks.toc_notebooks()
IDS = [p.stem for p in NOTEBOOKS]
# The labs are nbgrader source notebooks, whose solutions are regions inside cells: their own tests
# are at the end; the tests of removed solution cells run on the other notebooks.
LABS = [p for p in NOTEBOOKS if make_student.is_lab(nbformat.read(p, as_version=4))]
CHAPTERS = [p for p in NOTEBOOKS if p not in LABS]
CHAPTER_IDS, LAB_IDS = [p.stem for p in CHAPTERS], [p.stem for p in LABS]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PLACEHOLDER = make_student.PLACEHOLDER_TAG
MIN_CHARS = 12  # shorter lines ("```", "plt.show();", "$$") say nothing about an answer
MIN_WORDS = 5   # the same in the HTML, where a line is compared as a run of words
FOUND_IN_HTML = 0.9  # share of the chapter's own (non-solution) lines the HTML check must find


# --- helpers -------------------------------------------------------------------------------------
def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def cell_texts(cell) -> list[str]:
    """The source of a cell and the text of its outputs (what a reader of the answer would see)."""
    texts = [cell.source]
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            texts.append(out.text)
        elif "data" in out:
            texts.append(out.data.get("text/plain", ""))
        elif out.output_type == "error":
            texts.append(out.evalue)
    return texts


def substantial(lines) -> set[str]:
    return {s for s in (line.strip() for line in lines)
            if len(s) >= MIN_CHARS and re.search(r"[A-Za-z0-9]", s)}


def split_lines(nb) -> tuple[dict[str, set[str]], str]:
    """``({label: substantial lines of its solution}, the text of every other cell)``.

    A line that also occurs outside the solutions (an import, a seed) is not solution text and is
    left out.
    """
    solutions = tag_solutions.find_solutions(nb)
    inside = {i for s in solutions for i in s.cells}
    rest = "\n".join(t for i, c in enumerate(nb.cells) if i not in inside for t in cell_texts(c))
    by_label = {}
    for s in solutions:
        lines = substantial(line for i in s.cells for t in cell_texts(nb.cells[i])
                            for line in t.splitlines())
        by_label[s.label] = {line for line in lines if line not in rest}
    return by_label, rest


def notebook_text(nb) -> str:
    """Every string in the notebook (sources, outputs, metadata) except image data."""
    def strings(obj, key=""):
        if isinstance(obj, str):
            if not key.startswith("image/"):
                yield obj
        elif isinstance(obj, dict):
            for k, v in obj.items():
                yield from strings(v, k)
        elif isinstance(obj, list):
            for v in obj:
                yield from strings(v, key)
    return "\n".join(strings(nb))


def words(text: str) -> str:
    """``text`` as a run of lower-case words, space-separated with a space at each end."""
    return " " + " ".join(re.findall(r"[a-z0-9]+", text.lower())) + " "


def html_words(page: str) -> str:
    """The words of an HTML page: scripts and styles dropped, tags removed, entities decoded."""
    page = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", page)
    return words(html.unescape(re.sub(r"<[^>]+>", " ", page)))


def worded(lines) -> set[str]:
    """The lines long enough, in words, to be looked for in a page."""
    return {w for w in map(words, lines) if len(w.split()) >= MIN_WORDS}


def missing(reason: str):
    """A missing prerequisite: skipped locally, a failure in CI (where nothing may be skipped)."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: `make test` runs `make student` first)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def student_tree(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("student") / "_student"
    make_student.write_student_tree(out)
    return out


def student_nb(tree: Path, path: Path) -> nbformat.NotebookNode:
    return read(tree / path.relative_to(ROOT))


# --- (c) the tags mirror the markers -------------------------------------------------------------
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_solution_tags_match_the_markers(path):
    problems = tag_solutions.tag_problems(read(path))
    assert not problems, ("run `python tools/tag_solutions.py`:\n" + "\n".join(problems))


def test_tag_check_passes_on_the_book(capsys):
    assert tag_solutions.main(["--check"]) == 0, capsys.readouterr().out


# --- (a) no solution survives in the student notebooks -------------------------------------------
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_solution_text_in_the_student_notebook(path, student_tree):
    by_label, _ = split_lines(read(path))
    for label, lines in by_label.items():
        assert lines, f"{label}: the check finds no line of this solution to look for"
    student = student_nb(student_tree, path)
    text = notebook_text(student)
    leaks = sorted(line for lines in by_label.values() for line in lines if line in text)
    assert not leaks, f"solution lines in the student {path.name}:\n" + "\n".join(leaks[:20])
    for cell in student.cells:
        assert tag_solutions.TAG not in cell.metadata.get("tags", []), cell.id
        assert not any(m.search(cell.source) for m in
                       (tag_solutions.SOLUTION, tag_solutions.START, tag_solutions.END)), cell.id


@pytest.mark.parametrize("path", CHAPTERS, ids=CHAPTER_IDS)
def test_student_notebook_keeps_every_other_cell_and_marks_each_code_exercise(path, student_tree):
    nb, student = read(path), student_nb(student_tree, path)
    solutions = tag_solutions.find_solutions(nb)
    inside = {i for s in solutions for i in s.cells}
    kept = [c for c in student.cells if PLACEHOLDER not in c.metadata.get("tags", [])]
    assert kept == [c for i, c in enumerate(nb.cells) if i not in inside]  # outputs included
    placeholders = [(i, c) for i, c in enumerate(student.cells)
                    if PLACEHOLDER in c.metadata.get("tags", [])]
    assert [c.id for _, c in placeholders] == [f"{s.label}-placeholder" for s in solutions
                                              if s.code]
    for i, cell in placeholders:
        label = cell.id.removesuffix("-placeholder")
        assert cell.cell_type == "code" and not cell.outputs
        assert f"# Exercise {label}: " in cell.source
        assert f'raise NotImplementedError("Exercise {label}: write your solution here")' \
            in cell.source
        exercise = [j for j, c in enumerate(student.cells)
                    if c.cell_type == "markdown" and f":label: {label}\n" in c.source]
        assert len(exercise) == 1 and exercise[0] < i, f"{label}: placeholder before its exercise"


# --- (b) each student notebook runs up to its first exercise -------------------------------------
@pytest.mark.parametrize("path", CHAPTERS, ids=CHAPTER_IDS)
def test_student_notebook_runs_up_to_its_first_exercise(path, student_tree):
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    student = student_nb(student_tree, path)
    first = next((i for i, c in enumerate(student.cells)
                  if PLACEHOLDER in c.metadata.get("tags", [])), None)
    if first is None:  # no code was removed: the code is the instructor's, which nbval runs
        code = [c.source for c in read(path).cells if c.cell_type == "code"]
        assert [c.source for c in student.cells if c.cell_type == "code"] == code
        return
    label = student.cells[first].id.removesuffix("-placeholder")
    km = KernelManager(kernel_name="python3",
                       kernel_spec_manager=execute_notebooks.CurrentEnvKernelSpecManager())
    client = NotebookClient(
        student, km=km, timeout=600, kernel_name="python3", record_timing=False,
        allow_errors=False, resources={"metadata": {"path": str(student_tree / "book")}})
    try:
        with client.setup_kernel(env=execute_notebooks.kernel_env(), cleanup_kc=True):
            for i, cell in enumerate(student.cells[:first]):
                client.execute_cell(cell, i)  # raises CellExecutionError on any error
            with pytest.raises(CellExecutionError) as err:
                client.execute_cell(student.cells[first], first)
    finally:
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    assert err.value.ename == "NotImplementedError"
    assert err.value.evalue == f"Exercise {label}: write your solution here"


# --- (a) no solution survives in the student HTML book -------------------------------------------
@pytest.fixture(scope="module")
def student_html() -> Path:
    out = make_student.STUDENT_HTML
    if not (out / "index.html").exists():
        missing(f"the student book is not built: run `make student` ({out} is missing)")
    return out


def built_from(built: Path, path: Path) -> Path:
    """``built``, a file the student build made from the notebook ``path``, if it is up to date."""
    if not built.exists():
        pytest.fail(f"{built} is missing from the student book")
    if built.stat().st_mtime < path.stat().st_mtime:
        missing(f"{built} is older than {path.name}: run `make student`")
    return built


@pytest.mark.parametrize("path", CHAPTERS, ids=CHAPTER_IDS)
def test_no_solution_text_in_the_student_html(path, student_html):
    page = built_from(student_html / path.relative_to(ROOT).with_suffix(".html"), path)
    page = page.read_text(encoding="utf-8")
    found = html_words(page)
    by_label, rest = split_lines(read(path))
    rest_words = words(rest)
    leaks = sorted(w for lines in by_label.values() for w in worded(lines)
                   if w not in rest_words and w in found)
    assert not leaks, f"solution text in the student page of {path.name}:\n" + "\n".join(leaks[:20])
    assert 'class="solution' not in page
    # Teeth: the chapter's own lines, compared the same way, are found in the page.
    own = worded(substantial(rest.splitlines()))
    share = sum(w in found for w in own) / len(own)
    assert share >= FOUND_IN_HTML, f"only {share:.0%} of the page's own lines found: check broken"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_solution_text_in_the_notebooks_the_student_html_offers(path, student_html):
    source = built_from(student_html / "_sources" / path.relative_to(ROOT), path)
    text = notebook_text(read(source))
    by_label, _ = split_lines(read(path))
    leaks = sorted(line for lines in by_label.values() for line in lines if line in text)
    assert not leaks, f"solution lines in {source}:\n" + "\n".join(leaks[:20])


def test_no_solution_element_in_any_student_page(student_html):
    pages = sorted(student_html.rglob("*.html"))
    assert pages
    bad = [p.relative_to(student_html) for p in pages if 'class="solution' in p.read_text("utf-8")]
    assert not bad, f"sphinx-exercise solutions in {bad}"


# --- the student configuration and tree ----------------------------------------------------------
def test_student_config_is_the_book_config_with_hidden_solutions():
    import inspect

    import sphinx_exercise
    import yaml

    assert '"hide_solutions"' in inspect.getsource(sphinx_exercise.setup)
    base = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    config = make_student.student_config()
    assert config["sphinx"]["config"].pop("hide_solutions") is True
    assert "student" in config.pop("title")
    base.pop("title")
    assert config == base


def test_student_tree_has_what_the_build_needs(student_tree):
    import yaml

    config = yaml.safe_load((student_tree / "_config.yml").read_text(encoding="utf-8"))
    assert config == make_student.student_config()
    assert (student_tree / "_toc.yml").read_bytes() == (ROOT / "_toc.yml").read_bytes()
    for bib in config["bibtex_bibfiles"]:
        assert (student_tree / bib).read_bytes() == (ROOT / bib).read_bytes()
    for folder in ("_vendor", "assets", "tools"):     # served files, templates, extension
        assert (student_tree / folder).resolve() == (ROOT / folder).resolve()
    for path in config["sphinx"]["config"]["templates_path"] + [config["html"]["favicon"]]:
        assert (student_tree / path).exists(), path
    assert "student edition" in (student_tree / "book" / "intro.md").read_text(encoding="utf-8")


def test_student_tree_refuses_to_replace_a_directory_it_did_not_write(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        make_student.write_student_tree(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "keep me"


# --- the two tools on a small notebook -----------------------------------------------------------
def small_notebook() -> nbformat.NotebookNode:
    cells = [
        new_markdown_cell("# Title"),
        new_code_cell("x = 1", outputs=[new_output("stream", name="stdout", text="1\n")],
                      execution_count=1, metadata={"tags": ["hide-input"]}),
        new_markdown_cell("```{exercise}\n:label: ex-a\n\nCompute $y$ by hand. Then more.\n```"),
        new_markdown_cell("````{solution} ex-a\n:class: dropdown\n\nIt is $y = 2$.\n````"),
        new_markdown_cell("```{exercise} Code it\n:label: ex-b\n\nWrite code.\n```"),
        new_markdown_cell("```{solution-start} ex-b\n:class: dropdown\n```"),
        new_markdown_cell("The answer reads as follows."),
        new_code_cell("answer_b = x + 41\nprint(answer_b)", execution_count=2,
                      outputs=[new_output("stream", name="stdout", text="42\n")]),
        new_markdown_cell("```{solution-end}\n```"),
    ]
    for i, cell in enumerate(cells):
        cell.id = f"c{i}"
    return new_notebook(cells=cells)


def write(nb, path: Path) -> Path:
    path.write_text(tag_solutions.write_text(nb), encoding="utf-8")
    return path


def tags(path: Path) -> list[list[str]]:
    return [c.metadata.get("tags", []) for c in read(path).cells]


def test_tag_solutions_tags_exactly_the_solution_cells_and_nothing_else(tmp_path):
    path = write(small_notebook(), tmp_path / "nb.ipynb")
    before = path.read_text(encoding="utf-8")
    assert tag_solutions.main(["--check", str(path)]) == 1
    assert path.read_text(encoding="utf-8") == before  # --check writes nothing
    assert tag_solutions.main([str(path)]) == 0
    assert [("solution" in t) for t in tags(path)] == [False] * 3 + [True] + [False] + [True] * 4
    assert tags(path)[1] == ["hide-input"]
    after = path.read_text(encoding="utf-8")
    stripped = read(path)
    for cell in stripped.cells:
        cell.metadata["tags"] = [t for t in cell.metadata.get("tags", []) if t != "solution"]
        if not cell.metadata["tags"]:
            del cell.metadata["tags"]
    assert tag_solutions.write_text(stripped) == before  # only the tags changed
    assert tag_solutions.main([str(path)]) == 0 and path.read_text(encoding="utf-8") == after
    assert tag_solutions.main(["--check", str(path)]) == 0


def test_tag_solutions_check_fails_on_a_missing_or_stray_tag(tmp_path):
    nb = small_notebook()
    tag_solutions.retag(nb)
    nb.cells[7].metadata["tags"].remove("solution")
    assert tag_solutions.main(["--check", str(write(nb, tmp_path / "missing.ipynb"))]) == 1
    nb = small_notebook()
    tag_solutions.retag(nb)
    nb.cells[1].metadata["tags"].append("solution")
    path = write(nb, tmp_path / "stray.ipynb")
    assert tag_solutions.main(["--check", str(path)]) == 1
    assert tag_solutions.main([str(path)]) == 0
    assert tags(path)[1] == ["hide-input"]


@pytest.mark.parametrize("cells, message", [
    (["```{solution-start} ex-a\n```", "text"], "has no solution-end"),
    (["text", "```{solution-end}\n```"], "without a solution-start"),
    (["```{solution-start} ex-a\n```", "```{solution-start} ex-b\n```", "```{solution-end}\n```"],
     "still open"),
    (["Some prose.\n\n````{solution} ex-a\nAnswer.\n````"], "open its own markdown cell"),
    (["````{solution} ex-a\nAnswer.\n````\n\nMore prose."], "nothing after its closing fence"),
    (["```{solution-start}\n```", "```{solution-end}\n```"], "without the label"),
])
def test_malformed_markers_are_reported(cells, message, tmp_path):
    nb = new_notebook(cells=[new_markdown_cell(c) for c in cells])
    with pytest.raises(tag_solutions.MarkupError, match=message):
        tag_solutions.find_solutions(nb)
    path = write(nb, tmp_path / "bad.ipynb")
    before = path.read_text(encoding="utf-8")
    assert tag_solutions.main([str(path)]) == 1 and tag_solutions.main(["--check", str(path)]) == 1
    assert path.read_text(encoding="utf-8") == before


def test_tag_solutions_refuses_a_notebook_not_written_by_the_executor(tmp_path):
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(small_notebook(), indent=2), encoding="utf-8")
    before = path.read_text(encoding="utf-8")
    assert tag_solutions.main([str(path)]) == 1
    assert path.read_text(encoding="utf-8") == before


def test_student_notebook_of_a_small_notebook():
    nb = small_notebook()
    with pytest.raises(make_student.UntaggedSolutions):
        make_student.student_notebook(nb)
    tag_solutions.retag(nb)
    student = make_student.student_notebook(nb)
    assert [c.id for c in student.cells] == ["c0", "c1", "c2", "c4", "ex-b-placeholder"]
    assert student.cells[1] == nb.cells[1]  # outputs and tags kept
    placeholder = student.cells[-1]
    assert placeholder.metadata.tags == [PLACEHOLDER]
    assert placeholder.source.splitlines()[0] == "# Exercise ex-b: Code it"
    assert "answer_b" not in notebook_text(student) and "y = 2" not in notebook_text(student)
    assert len(nb.cells) == 9  # the instructor notebook is left alone
    assert make_student.exercise_titles(nb) == {"ex-a": "Compute $y$ by hand.", "ex-b": "Code it"}


# --- the labs: nbgrader source notebooks ---------------------------------------------------------
def test_the_labs_are_recognised():
    assert len(LABS) >= 6 and all(p.parent.name == "labs" for p in LABS)
    assert not any(p.parent.name == "labs" for p in CHAPTERS)


def lab_lines(nb) -> tuple[set[str], set[str]]:
    """``(solution lines, hidden-test lines)`` of a lab: substantial, and nowhere else in it."""
    inside = {region: substantial(make_student.region_lines(nb, region))
              for region in (make_student.SOLUTION_REGION, make_student.HIDDEN_REGION)}
    outside = make_student.lab_student_notebook(nb)
    rest = "\n".join(c.source for c in outside.cells)
    return tuple({line for line in lines if line not in rest} for lines in inside.values())


@pytest.mark.parametrize("path", LABS, ids=LAB_IDS)
def test_no_solution_and_no_hidden_test_in_the_student_lab(path, student_tree):
    nb, student = read(path), student_nb(student_tree, path)
    solutions, hidden = lab_lines(nb)
    assert len(solutions) >= 10 and len(hidden) >= 10, "the check finds nothing to look for"
    text = notebook_text(student)
    leaks = sorted(line for line in solutions | hidden if line in text)
    assert not leaks, f"solution or hidden-test lines in the student {path.name}:\n" + \
        "\n".join(leaks[:20])
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS"):
        assert marker not in text
    assert all(not c.outputs for c in student.cells if c.cell_type == "code")


@pytest.mark.parametrize("path", LABS, ids=LAB_IDS)
def test_student_lab_keeps_every_cell_with_each_solution_a_stub(path, student_tree):
    nb, student = read(path), student_nb(student_tree, path)
    assert [c.id for c in student.cells] == [c.id for c in nb.cells]
    for mine, theirs in zip(nb.cells, student.cells, strict=True):
        meta = mine.metadata.get("nbgrader", {})
        if meta.get("solution"):
            assert theirs.source.count("raise NotImplementedError()") == \
                mine.source.count("### BEGIN SOLUTION") >= 1
            assert "hide-input" not in theirs.metadata.get("tags", [])  # shown, to complete
        elif meta.get("grade"):
            assert mine.source.startswith(theirs.source.rstrip("\n"))
            assert theirs.metadata == mine.metadata
        else:
            assert theirs.source == mine.source and theirs.metadata == mine.metadata


@pytest.mark.parametrize("path", LABS, ids=LAB_IDS)
def test_student_lab_runs_to_the_end_and_its_self_checks_say_what_to_do(path, student_tree):
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    student = student_nb(student_tree, path)
    km = KernelManager(kernel_name="python3",
                       kernel_spec_manager=execute_notebooks.CurrentEnvKernelSpecManager())
    client = NotebookClient(
        student, km=km, timeout=300, kernel_name="python3", record_timing=False,
        allow_errors=True, resources={"metadata": {"path": str(student_tree / "book")}})
    try:
        client.execute(env=execute_notebooks.kernel_env())
    finally:
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    checks = [c for c in student.cells if c.cell_type == "code" and "self_check(" in c.source]
    assert checks
    for cell in checks:
        out = "".join(o.get("text", "") for o in cell.outputs)
        assert out.count("is not written yet") == cell.source.count("self_check("), out
    errors = [(c.id, o.ename) for c in student.cells for o in c.get("outputs", [])
              if o.output_type == "error"]
    assert errors and {e for _, e in errors} <= {"NotImplementedError", "NameError"}, errors
    first_stub = next(i for i, c in enumerate(student.cells)
                      if c.metadata.get("nbgrader", {}).get("solution"))
    assert not any(o.output_type == "error" for c in student.cells[:first_stub]
                   for o in c.get("outputs", [])), "a cell before the first part failed"


@pytest.mark.parametrize("path", LABS, ids=LAB_IDS)
def test_no_lab_solution_in_the_student_html(path, student_html):
    page = built_from(student_html / path.relative_to(ROOT).with_suffix(".html"), path)
    found = html_words(page.read_text(encoding="utf-8"))
    solutions, hidden = lab_lines(read(path))
    student = make_student.lab_student_notebook(read(path))
    rest_words = words("\n".join(c.source for c in student.cells))
    leaks = sorted(w for w in worded(solutions | hidden) if w not in rest_words and w in found)
    assert not leaks, f"solution text in the student page of {path.name}:\n" + \
        "\n".join(leaks[:20])
    shown = [c.source for c in student.cells if "remove-cell" not in c.metadata.get("tags", [])]
    own = worded(substantial("\n".join(shown).splitlines()))
    share = sum(w in found for w in own) / len(own)
    assert share >= FOUND_IN_HTML, f"only {share:.0%} of the page's own lines found: check broken"
    offered = built_from(student_html / "_sources" / path.relative_to(ROOT), path)
    text = notebook_text(read(offered))
    assert not sorted(line for line in solutions | hidden if line in text)


def test_replace_regions_follows_nbgrader():
    source = "def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"
    assert make_student.replace_regions(source, make_student.SOLUTION_REGION,
                                        make_student.CODE_STUB) == (
        "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()")
    tests = "assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(3) == 6\n### END HIDDEN TESTS"
    assert make_student.replace_regions(tests, make_student.HIDDEN_REGION) == "assert f(1) == 2"
    with pytest.raises(tag_solutions.MarkupError):
        make_student.replace_regions("### BEGIN SOLUTION\nx = 1", make_student.SOLUTION_REGION)
