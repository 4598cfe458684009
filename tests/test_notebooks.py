"""The committed notebooks: hygiene, byte-for-byte reproducibility, and nbval's teeth."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import check_notebooks  # noqa: E402
import execute_notebooks  # noqa: E402

NOTEBOOKS = execute_notebooks.toc_notebooks()
IDS = [p.stem for p in NOTEBOOKS]


def test_toc_lists_notebooks():
    assert "convolution_by_hand" in IDS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_hygiene(path):
    """Outputs stored, no timing metadata, no stray errors, ... (tools/check_notebooks.py)."""
    problems = check_notebooks.hygiene_problems(path)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_fits_the_column(path):
    """Short code lines; every figure in the book style, column-wide at most, with alt text."""
    problems = check_notebooks.column_problems(path)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_execution_reproduces_the_committed_notebook(path):
    """A fresh execution by `make notebooks` changes no byte."""
    assert execute_notebooks.execute(path) == path.read_text(encoding="utf-8")


def test_nbval_fails_when_a_stored_output_changes(tmp_path):
    """Guard against an nbval setup that passes whatever the outputs are."""
    source = ROOT / "book" / "convolution_by_hand.ipynb"
    nb = json.loads(source.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        outs = cell.get("outputs", [])
        if (outs and outs[0].get("output_type") == "stream"
                and "W_out = 3" in "".join(outs[0]["text"])):
            outs[0]["text"] = ["W_out = 4\n"]
            break
    else:
        pytest.fail("the 'W_out = 3' output was not found")
    tampered = tmp_path / "tampered.ipynb"
    tampered.write_text(json.dumps(nb), encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval",
         "--nbval-current-env", "--nbval-sanitize-with", str(ROOT / "nbval_sanitize.cfg"),
         "--rootdir", str(tmp_path), str(tampered)],
        capture_output=True, text=True, cwd=tmp_path, env=execute_notebooks.kernel_env())
    assert run.returncode == 1, run.stdout[-2000:]
    assert "1 failed" in run.stdout and "W_out = 4" in run.stdout


def test_executor_merges_split_stream_outputs():
    from nbformat.v4 import new_output

    outs = [new_output("stream", name="stdout", text="a\n"),
            new_output("stream", name="stdout", text="b\n"),
            new_output("stream", name="stderr", text="warn\n"),
            new_output("stream", name="stdout", text="c\n")]
    merged = execute_notebooks.coalesce_streams(outs)
    assert [(o.name, o.text) for o in merged] == [("stdout", "a\nb\n"), ("stderr", "warn\n"),
                                                  ("stdout", "c\n")]


def test_every_notebook_starts_with_the_colab_install_cell():
    """tools/colab_cell.py --check: the first cell installs cnnlab on Colab, from _config.yml's
    repo."""
    import colab_cell
    assert colab_cell.main(["--check"]) == 0, "run: .venv/bin/python tools/colab_cell.py"
    url, branch = colab_cell.repository()
    for path in NOTEBOOKS:
        first = json.loads(path.read_text(encoding="utf-8"))["cells"][0]
        assert first["id"] == colab_cell.CELL_ID and first["metadata"]["tags"] == ["remove-cell"]
        assert f"git+{url}@{branch}" in "".join(first["source"]), path.name
        assert not first["outputs"], f"{path.name}: the install cell printed something"


def test_colab_cell_does_nothing_outside_colab():
    from IPython.core.inputtransformer2 import TransformerManager

    import colab_cell
    code = TransformerManager().transform_cell(colab_cell.cell_source())
    calls = []
    namespace = {"get_ipython": lambda: type("Shell", (), {
        "run_line_magic": staticmethod(lambda *a: calls.append(a))})()}
    exec(code, namespace)
    assert calls == []
    sys.modules["google.colab"] = type(sys)("google.colab")
    try:
        exec(code, namespace)
    finally:
        del sys.modules["google.colab"]
    assert calls and calls[0][0] == "pip" and "cnnlab[book] @ git+" in calls[0][1]


def test_every_checkable_exercise_shows_its_check_calls():
    """tools/exercise_checks.py --check: the exercise text lists each registered checker."""
    import exercise_checks
    assert exercise_checks.main(["--check"]) == 0, "run: .venv/bin/python tools/exercise_checks.py"


def test_nbval_runs_kernels_as_the_executor_stored_them():
    """`make nbval` and tools/execute_notebooks.py set the same BLAS environment."""
    makefile = (ROOT / "Makefile").read_text()
    m = re.search(r"^NOTEBOOK_ENV := ((?:.*\\\n)*.*)$", makefile, flags=re.MULTILINE)
    assert m, "Makefile has no NOTEBOOK_ENV"
    pairs = dict(item.split("=", 1) for item in m.group(1).replace("\\\n", " ").split())
    assert pairs == {"PYTHONHASHSEED": "0", **execute_notebooks.SERIAL}
