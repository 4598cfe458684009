"""Write, under every auto-checkable exercise of the book, how to check an answer.

For each exercise registered in :mod:`cnnlab.exercises`, the exercise's markdown
cell (the one with ``:label: <label>``) ends with a short paragraph listing the
``check(...)`` call of each part. The paragraph is generated from the registry, so
a renamed or added checker shows up here after ``python tools/exercise_checks.py``;
``--check`` (run by the tests) exits 1 when a notebook is out of date. Only
markdown changes: the notebooks' outputs are untouched.
"""
from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from execute_notebooks import toc_notebooks  # noqa: E402

MARKER = "**Check your answer** with `cnnlab.exercises.check`"
LABEL = re.compile(r"^:label:\s*(\S+)\s*$", flags=re.MULTILINE)


def snippets() -> dict[str, str]:
    """Markdown paragraph per exercise label."""
    from cnnlab.exercises import EXERCISES
    parts: dict[str, list] = defaultdict(list)
    for key, checker in EXERCISES.items():
        parts[checker.label].append((key, checker))
    out = {}
    for label, items in parts.items():
        what = {"number": "your number", "array": "your array", "function": "your function"}
        lines = [f"{MARKER} (`from cnnlab.exercises import check`):", ""]
        for key, checker in items:
            lines.append(f"- `check(\"{key}\", {what[checker.kind].replace(' ', '_')})`: "
                         f"{checker.title}")
        out[label] = "\n".join(lines)
    return out


def rewrite(source: str, snippet: str) -> str:
    """``source`` (an exercise cell) with its check paragraph replaced by ``snippet``."""
    body, fence = source.rstrip(), "```"
    if not body.endswith(fence):
        raise ValueError("exercise cell does not end with a closing ``` fence")
    body = body[:-len(fence)].rstrip()
    if MARKER in body:
        body = body[:body.index(MARKER)].rstrip()
    return f"{body}\n\n{snippet}\n{fence}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if a notebook is out of date")
    args = parser.parse_args(argv)
    wanted, seen, stale = snippets(), set(), []
    for path in toc_notebooks():
        nb = nbformat.read(path, as_version=4)
        changed = False
        for cell in nb.cells:
            if cell.cell_type != "markdown" or "{exercise}" not in cell.source:
                continue
            label = LABEL.search(cell.source)
            if not label:
                continue
            label = label.group(1)
            if label in wanted:
                seen.add(label)
                new = rewrite(cell.source, wanted[label])
            elif MARKER in cell.source:  # a checker was removed
                new = rewrite(cell.source, "").replace("\n\n\n```", "\n```")
            else:
                continue
            if new != cell.source:
                cell.source, changed = new, True
        if changed:
            stale.append(path.relative_to(ROOT).as_posix())
            if not args.check:
                path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    missing = sorted(set(wanted) - seen)
    for name in stale:
        print(f"{name}: {'out of date' if args.check else 'updated'}")
    for label in missing:
        print(f"no exercise labelled {label} in the book")
    return 1 if missing or (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
