"""What `make standalone` runs and skips, and which pages keep their Colab button.

A chapter that imports a package outside the ``book`` extra (PyTorch) declares it in its
metadata (``"cnnlab": {"needs": ["torch"]}``): the standalone run, whose environment holds
the ``book`` extra only, skips it and says why, while the page keeps its Colab button
(Colab has PyTorch). A page that reads other files of the repository
(``"cnnlab": {"needs_clone": ...}``) is skipped too, and loses its Colab button.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import book_ext  # noqa: E402
import run_standalone  # noqa: E402
from execute_notebooks import toc_notebooks  # noqa: E402

BOOK = ROOT / "book"


def imports_torch(notebook: Path) -> bool:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return any(line.strip().startswith(("import torch", "from torch"))
               for line in code.splitlines())


def test_the_pytorch_chapter_is_listed_as_needing_pytorch():
    chapter = BOOK / "to_pytorch.ipynb"
    assert run_standalone.needs(chapter) == ["torch"]
    assert run_standalone.needs_clone(chapter) is None
    assert "PyTorch" in run_standalone.skip_reason(chapter)


@pytest.mark.parametrize("notebook", toc_notebooks(), ids=lambda p: p.stem)
def test_every_notebook_that_imports_torch_declares_it(notebook):
    assert imports_torch(notebook) == ("torch" in run_standalone.needs(notebook)), (
        f"{notebook.name}: imports torch but has no \"cnnlab\": {{\"needs\": [\"torch\"]}} "
        f"in its metadata, or declares it without importing it")


def test_chapters_without_metadata_run_and_clone_pages_are_skipped():
    assert run_standalone.skip_reason(BOOK / "training.ipynb") is None
    reason = run_standalone.skip_reason(BOOK / "instructor_guide.ipynb")
    assert reason is not None and "clone" in reason


def test_the_standalone_environment_still_refuses_torch():
    assert "torch" in run_standalone.FORBIDDEN


def test_main_skips_with_the_reason_and_runs_the_rest(monkeypatch, capsys):
    ran = []

    def fake_run(cmd, **kwargs):
        if cmd[1] == "-c" and "find_spec" in cmd[2]:       # the FORBIDDEN check: none found
            return subprocess.CompletedProcess(cmd, 0, stdout="\n", stderr="")
        ran.append(Path(cmd[-1]).name)
        return subprocess.CompletedProcess(cmd, 0, stdout="ok: 1 code cells\n", stderr="")

    monkeypatch.setattr(run_standalone, "ensure_env", lambda python: Path(sys.executable))
    monkeypatch.setattr(run_standalone.subprocess, "run", fake_run)
    notebooks = [BOOK / "to_pytorch.ipynb", BOOK / "instructor_guide.ipynb",
                 BOOK / "convolution_by_hand.ipynb"]
    assert run_standalone.main([str(p) for p in notebooks]) == 0
    out = capsys.readouterr().out
    assert ran == ["convolution_by_hand.ipynb"]
    assert "to_pytorch.ipynb: skipped, it needs PyTorch" in out
    assert "instructor_guide.ipynb: skipped, it needs a clone" in out
    assert "2 notebook(s) skipped: to_pytorch.ipynb, instructor_guide.ipynb" in out


def page_context(app, pagename: str) -> list[str]:
    """The launch buttons book_ext leaves on a page."""
    buttons = [{"text": "Binder"}, {"text": "Colab"}]
    context = {"header_buttons": [{"label": "launch-buttons", "buttons": buttons}]}
    book_ext.drop_colab_where_it_cannot_run(app, pagename, "page.html", context, None)
    return [b["text"] for b in context["header_buttons"][0]["buttons"]]


def test_colab_stays_where_only_pytorch_is_needed_and_goes_where_a_clone_is():
    app = SimpleNamespace(env=SimpleNamespace(doc2path=lambda name: str(ROOT / f"{name}.ipynb")))
    assert page_context(app, "book/to_pytorch") == ["Binder", "Colab"]
    assert page_context(app, "book/instructor_guide") == ["Binder"]
    assert page_context(app, "book/training") == ["Binder", "Colab"]
