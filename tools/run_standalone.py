"""Run every notebook of the book the way a learner would: fresh environment, fresh kernel.

``make standalone`` (part of ``make test``) proves that the ``book`` extra is all a
notebook needs:

1. a separate virtual environment (``.venv-standalone``) gets ``pip install
   ".[book]"`` — a regular, non-editable install, so the notebooks see the
   installed package (its declared dependencies and package data), not the
   source tree and none of the test tools (no pytest, no torch);
2. each notebook of ``_toc.yml`` is copied to an empty temporary directory and
   executed there, top to bottom, by a fresh kernel of that environment;
3. any error, or an import of a package outside the book extra, fails the run; a notebook
   that needs a clone of the repository or a package outside the extra (PyTorch) says so
   in its metadata and is skipped, with the reason printed.

The environment is rebuilt when ``pyproject.toml`` or the package changes
(a stamp file holds a hash of both).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from execute_notebooks import toc_notebooks  # noqa: E402

VENV = ROOT / ".venv-standalone"

# Executed inside the standalone environment (its own nbclient, its own kernel).
RUNNER = r'''
import sys
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from nbclient import NotebookClient


class ThisPython(KernelSpecManager):
    def get_kernel_spec(self, kernel_name):
        return KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher", "-f",
                                "{connection_file}"], display_name="Python 3", language="python")


path = Path(sys.argv[1])
nb = nbformat.read(path, as_version=4)
client = NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=False,
                        resources={"metadata": {"path": str(path.parent)}})
client.kernel_spec_manager = ThisPython()
client.execute()
print(f"ok: {sum(c.cell_type == 'code' for c in nb.cells)} code cells")
'''



def needs_clone(notebook: Path) -> str | None:
    """Why a notebook runs only from a clone of the repository, or None if it runs alone.

    Pages about the book rather than chapters of it read its other files; their notebook
    metadata says so (``"cnnlab": {"needs_clone": "<reason>"}``).  They run from a clone
    (locally or on Binder), not from a lone notebook; the book offers no Colab button for
    them (tools/book_ext.py reads the same entry).
    """
    meta = json.loads(notebook.read_text(encoding="utf-8")).get("metadata", {})
    return meta.get("cnnlab", {}).get("needs_clone")


def needs(notebook: Path) -> list[str]:
    """Packages outside the ``book`` extra that a notebook imports, from its metadata.

    A chapter that imports an optional package (the chapter on PyTorch) says so with
    ``"cnnlab": {"needs": ["torch"]}``. It runs on Colab, which has the package, so it
    keeps its Colab button (unlike ``needs_clone``); this run, whose environment holds
    the ``book`` extra only, skips it and says why.
    """
    meta = json.loads(notebook.read_text(encoding="utf-8")).get("metadata", {})
    wanted = meta.get("cnnlab", {}).get("needs", [])
    return [wanted] if isinstance(wanted, str) else list(wanted)


def skip_reason(notebook: Path) -> str | None:
    """Why the standalone run skips ``notebook``, or None if it runs it."""
    reason = needs_clone(notebook)
    if reason:
        return f"it needs a clone of the repository ({reason})"
    packages = needs(notebook)
    if packages:
        return (f"it needs {', '.join(PACKAGE_NAMES.get(p, p) for p in packages)}, which "
                f"the book extra does not install")
    return None


PACKAGE_NAMES = {"torch": "PyTorch (torch, the crosscheck extra)"}


# Modules a notebook must never need: test tools and the PyTorch cross-check extra (a
# notebook that imports one declares it, see `needs`, and is skipped).
FORBIDDEN = ("torch", "pytest", "nbval", "hypothesis", "playwright")


def fingerprint() -> str:
    h = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    for path in sorted((ROOT / "cnnlab").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            h.update(path.relative_to(ROOT).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def ensure_env(python: str) -> Path:
    """Create or refresh ``.venv-standalone`` with ``pip install ".[book]"``; return its python."""
    py = VENV / "bin" / "python"
    stamp, want = VENV / ".installed", fingerprint()
    if stamp.exists() and stamp.read_text() == want and py.exists():
        return py
    if not py.exists():
        subprocess.run([python, "-m", "venv", str(VENV)], check=True)
    with tempfile.TemporaryDirectory() as tmp:  # install from a clean copy: no stale build/
        src = Path(tmp) / "src"
        shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
            ".git", ".venv*", "node_modules", "_build", "_vendor", "_student", "book",
            "benchmarks", "*.egg-info", "__pycache__"))
        subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--upgrade",
                        "--force-reinstall", "--no-deps", f"{src}"], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "--quiet", f"{src}[book]"], check=True)
    stamp.write_text(want)
    return py


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every toc notebook")
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter that creates the environment (default: this one)")
    args = parser.parse_args(argv)
    py = ensure_env(args.python)
    found = subprocess.run([str(py), "-c", "import importlib.util as u; print(' '.join("
                            f"m for m in {FORBIDDEN!r} if u.find_spec(m)))"],
                           capture_output=True, text=True, check=True).stdout.split()
    if found:
        print(f"standalone environment has packages outside the book extra: {found}")
        return 1
    env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "PYTHONPATH")}
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    failures, skipped = [], []
    for nb in args.notebooks or toc_notebooks():
        reason = skip_reason(nb)
        if reason:
            print(f"{nb.name}: skipped, {reason}")
            skipped.append(nb.name)
            continue
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / nb.name
            shutil.copy(nb, copy)
            start = time.perf_counter()
            proc = subprocess.run([str(py), "-c", RUNNER, str(copy)], cwd=tmp, env=env,
                                  capture_output=True, text=True)
            took = time.perf_counter() - start
        if proc.returncode:
            failures.append(nb.name)
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
            print(f"FAILED {nb.name} ({took:.0f} s)\n{tail}\n")
        else:
            print(f"{nb.name}: {proc.stdout.strip()} ({took:.0f} s)")
    if skipped:
        print(f"{len(skipped)} notebook(s) skipped: {', '.join(skipped)}")
    if failures:
        print(f"{len(failures)} notebook(s) failed standalone: {', '.join(failures)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
