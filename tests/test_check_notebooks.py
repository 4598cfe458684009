"""tools/check_notebooks.py finds each problem it exists for, and the pre-commit hook runs it."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import check_notebooks  # noqa: E402

PRINTED = {"output_type": "stream", "name": "stdout", "text": ["y = 2\n"]}
FIGURE_ALT = "A line rising from the lower left to the upper right"


def code_cell(source="y = 2\nprint(f'{y = }')", outputs=(PRINTED,), cell_id="c1", **metadata):
    return {"cell_type": "code", "id": cell_id, "execution_count": 1, "metadata": metadata,
            "outputs": list(outputs), "source": source}


def figure(width=600):
    return {"output_type": "display_data", "data": {"image/png": "iVBORw0KGgo=",
                                                    "text/plain": ["<Figure>"]},
            "metadata": {"image/png": {"width": width}}}


def write(tmp_path, *cells, metadata=None) -> Path:
    nb = {"cells": list(cells), "metadata": metadata or {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "chapter.ipynb"
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return path


def test_a_clean_notebook_has_no_problems(tmp_path):
    alt = {"image": {"alt": FIGURE_ALT}}
    path = write(tmp_path, code_cell(),
                 code_cell("plt.plot([0, 1]);", [figure()], "c2", mystnb=alt),
                 code_cell("1 / 0", [{"output_type": "error", "ename": "ZeroDivisionError",
                                      "evalue": "division by zero", "traceback": []}],
                           "c3", tags=["raises-exception"]))
    assert check_notebooks.problems(path) == []
    assert check_notebooks.main([str(path)]) == 0


def test_a_markdown_table_rendered_as_gfm_is_fine(tmp_path):
    table = {"output_type": "display_data", "metadata": {},
             "data": {"text/markdown": "| a | b |\n|---|---|\n| 1 | 2 |"}}
    path = write(tmp_path, code_cell(outputs=[table], mystnb={"markdown_format": "gfm"}))
    assert check_notebooks.hygiene_problems(path) == []


@pytest.mark.parametrize("cell, expected", [
    ({**code_cell(outputs=()), "execution_count": None}, "was not executed"),
    (code_cell(execution={"iopub.execute_input": "2026-11-03T10:00:00Z"}), "timing metadata"),
    (code_cell(outputs=[{"output_type": "error", "ename": "ValueError", "evalue": "",
                         "traceback": []}]), "stores an error (ValueError)"),
    (code_cell("x = 1  # NBVAL_IGNORE_OUTPUT"), "not # NBVAL comments"),
    (code_cell("import sys\nsys.path.insert(0, '..')"), "edits sys.path"),
    (code_cell(outputs=[{"output_type": "execute_result", "execution_count": 1, "metadata": {},
                         "data": {"text/plain": ["<Conv2d at 0x7f3a9c2b1d90>"]}}]),
     "memory address"),
    (code_cell(outputs=[{"output_type": "display_data", "metadata": {}, "data": {
        "application/vnd.jupyter.widget-view+json": {"model_id": "0123456789abcdef" * 2}}}]),
     "has no stored state"),
    (code_cell(outputs=[{"output_type": "stream", "name": "stdout",
                         "text": [f"File {check_notebooks.ROOT}/cnnlab/fold.py:161\n"]}]),
     "names a path of this checkout"),
    (code_cell(outputs=[{"output_type": "display_data", "metadata": {}, "data": {
        "text/markdown": ["| a | b |\n", "|---|---|\n", "| 1 | 2 |"]}}]),
     "Markdown table in an output"),
], ids=["not-executed", "timing", "error-untagged", "nbval-comment", "sys-path", "address",
        "widget-state", "checkout-path", "markdown-table"])
def test_each_hygiene_problem_is_found(tmp_path, cell, expected):
    path = write(tmp_path, cell)
    problems = check_notebooks.hygiene_problems(path)
    assert len(problems) == 1 and expected in problems[0], problems
    assert check_notebooks.main([str(path)]) == 1


def test_duplicate_cell_ids_are_found(tmp_path):
    path = write(tmp_path, code_cell(), code_cell())
    assert check_notebooks.hygiene_problems(path) == [
        "chapter.ipynb: cell ids must exist and be unique"]


def test_code_lines_are_held_to_88_characters(tmp_path):
    fits = "x = " + "1" * (check_notebooks.MAX_LINE - 4)
    path = write(tmp_path, code_cell(f"{fits}\n{fits}1"))
    assert check_notebooks.long_lines(path) == ["chapter.ipynb cell c1 line 2: 89 characters"]
    assert check_notebooks.column_problems(path)[0].startswith("code lines over 88 characters:")


@pytest.mark.parametrize("cell, expected", [
    (code_cell("plt.plot([0, 1]);", [figure()]), "without alt text"),
    (code_cell("plt.plot([0, 1]);", [figure()], mystnb={"image": {"alt": "figure_1.png"}}),
     "without alt text"),
    (code_cell("plt.plot([0, 1]);", [figure(2000)], mystnb={"image": {"alt": FIGURE_ALT}}),
     "displayed 2000 px wide"),
    (code_cell(outputs=[{"output_type": "stream", "name": "stderr",
                         "text": ["FigureStyleWarning: 6 pt text\n"]}]), "breaks the book style"),
], ids=["no-alt", "file-name-alt", "too-wide", "style-warning"])
def test_each_figure_problem_is_found(tmp_path, cell, expected):
    problems = check_notebooks.figure_problems(write(tmp_path, cell))
    assert len(problems) == 1 and expected in problems[0], problems


def test_command_line_reports_the_problem_and_fails(tmp_path):
    path = write(tmp_path, code_cell(execution={"shell.execute_reply": "2026-11-03T10:00:01Z"}))
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "check_notebooks.py"), str(path)],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 1
    assert run.stdout == "chapter.ipynb cell c1 stores timing metadata (run: make notebooks)\n"


def test_pre_commit_runs_ruff_and_this_check():
    """The hooks call the project's own checks, with the ruff that pyproject.toml pins."""
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    repos = {r["repo"]: r for r in config["repos"]}
    ruff = repos["https://github.com/astral-sh/ruff-pre-commit"]
    assert {h["id"] for h in ruff["hooks"]} == {"ruff-check"}
    pin = re.search(r'"ruff>=(\d+\.\d+),<', (ROOT / "pyproject.toml").read_text())
    assert pin and ruff["rev"].startswith(f"v{pin.group(1)}."), (ruff["rev"], pin)
    local = {h["id"]: h for h in repos["local"]["hooks"]}
    hook = local["notebook-hygiene"]
    assert "tools/check_notebooks.py" in hook["entry"] and hook["files"] == r"^book/.*\.ipynb$"

