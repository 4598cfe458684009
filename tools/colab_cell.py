"""Give every notebook of the book the same first cell: install cnnlab when it runs on Colab.

Colab starts from a bare Python with no cnnlab, so each chapter opens with a code
cell that, *only* on Colab (``google.colab`` is imported there), runs ``%pip install``
of the package with its ``book`` extra straight from the repository. Elsewhere
(a local clone, Binder, a JupyterHub with the package installed, nbval in CI) the
cell does nothing. It is tagged ``remove-cell``, so the book's pages do not show it.

The repository comes from ``_config.yml`` (``repository.url`` and ``branch``), the
one setting a fork changes. Run ``python tools/colab_cell.py`` after changing it;
``--check`` (used by the tests) exits 1 if any notebook's cell is missing or stale.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from execute_notebooks import toc_notebooks  # noqa: E402

CELL_ID = "colab-install"
TAGS = ["remove-cell"]


def repository() -> tuple[str, str]:
    """``(url, branch)`` from the ``repository:`` section of ``_config.yml``."""
    text = (ROOT / "_config.yml").read_text()
    section = re.search(r"^repository:\n((?:[ \t]+.*\n)+)", text, flags=re.MULTILINE)
    if not section:
        raise SystemExit("_config.yml has no repository: section")
    url = re.search(r"^\s+url:\s*(\S+)", section.group(1), flags=re.MULTILINE)
    branch = re.search(r"^\s+branch:\s*(\S+)", section.group(1), flags=re.MULTILINE)
    if not url:
        raise SystemExit("_config.yml: repository.url is not set")
    return url.group(1), branch.group(1) if branch else "main"


def cell_source() -> str:
    url, branch = repository()
    return ("# On Google Colab only: install cnnlab and the book's dependencies (a minute).\n"
            "import sys\n"
            "\n"
            'if "google.colab" in sys.modules:\n'
            f'    %pip install --quiet "cnnlab[book] @ git+{url}@{branch}"')


def updated(nb: nbformat.NotebookNode) -> bool:
    """Insert or refresh the install cell in place; return whether anything changed."""
    source = cell_source()
    first = nb.cells[0] if nb.cells else None
    if first is not None and first.get("id") == CELL_ID:
        if first.source == source and first.metadata.get("tags") == TAGS:
            return False
        nb.cells.pop(0)
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": list(TAGS)})
    cell["id"] = CELL_ID
    nb.cells.insert(0, cell)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if a notebook lacks an up-to-date cell")
    args = parser.parse_args(argv)
    stale = []
    for path in [p.resolve() for p in args.notebooks] or toc_notebooks():
        nb = nbformat.read(path, as_version=4)
        if updated(nb):
            stale.append(path.relative_to(ROOT).as_posix())
            if not args.check:
                path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    verb = "without an up-to-date Colab install cell" if args.check else "updated"
    for name in stale:
        print(f"{name}: {verb}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
