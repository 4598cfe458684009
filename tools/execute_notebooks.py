"""Execute the book's notebooks deterministically, in place.

``make notebooks`` runs this on every notebook listed in ``_toc.yml``.  The
result depends only on the code, never on when or how often it ran:

* outputs are produced by a fresh kernel of *this* Python environment (the one
  the tests use), with ``MPLBACKEND`` removed so inline figures appear;
* no per-cell timing metadata is recorded;
* ipywidgets state is stored in the notebook (so the static book can render the
  widgets) and the random widget model ids are renamed to ids derived from the
  notebook's name and the order in which the models were created;
* cells keep their ids; a cell without one gets an id derived from its index;
* consecutive stream outputs of a cell are merged (how the kernel splits
  printed text into messages depends on timing; nbval merges them too).

Running it twice therefore changes no byte.  ``--check`` executes without
writing and exits 1 if a notebook on disk differs from a fresh execution.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import uuid
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
MODEL_ID = re.compile(r"[0-9a-f]{32}")
NAMESPACE = uuid.UUID("6f1c2a4e-5b1d-4c59-9a57-3c2a1d0e8b71")


class CurrentEnvKernelSpecManager(KernelSpecManager):
    """Always start ``python3`` kernels with this interpreter (cf. nbval --nbval-current-env)."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher",
                                "-f", "{connection_file}"],
                          display_name="Python 3 (ipykernel)", language="python")


def toc_notebooks() -> list[Path]:
    """The notebooks the book is built from, in ``_toc.yml`` order."""
    files = re.findall(r"file:\s*(\S+)", (ROOT / "_toc.yml").read_text())
    return [ROOT / f"{f}.ipynb" for f in files if (ROOT / f"{f}.ipynb").exists()]


def rename_widget_models(nb: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """Replace random widget model ids by ids derived from ``name`` and creation order."""
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    if not state:
        return nb
    mapping = {old: uuid.uuid5(NAMESPACE, f"{name}:{i}").hex for i, old in enumerate(state)}
    text = nbformat.writes(nb)
    text = MODEL_ID.sub(lambda m: mapping.get(m.group(0), m.group(0)), text)
    return nbformat.reads(text, as_version=4)


def coalesce_streams(outputs: list) -> list:
    """Merge consecutive ``stream`` outputs of the same name (stdout/stderr)."""
    merged: list = []
    for out in outputs:
        prev = merged[-1] if merged else None
        if (out.output_type == "stream" and prev is not None
                and prev.output_type == "stream" and prev.name == out.name):
            prev.text += out.text
        else:
            merged.append(out)
    return merged


# One BLAS thread: float results must not depend on the machine's number of cores, and the
# small matrix products of the book gain nothing from threads.  One OpenBLAS kernel set, too:
# OpenBLAS picks its kernels for the CPU it runs on (AVX2 "Haswell", AVX-512 "SkylakeX", ...),
# and the chapters that train networks print results that differ between kernel sets after a
# few epochs.  The stored outputs are made with the AVX2 kernels, which every x86-64 CPU of
# the last decade runs; nbval (Makefile) uses the same settings.  A learner's own run uses
# whatever their machine picks and may differ in the last digits.
SERIAL = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
          "OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "512"}


def kernel_env() -> dict[str, str]:
    """The environment kernels run in: inline figures on, fixed hash seed, one BLAS thread."""
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env.update(PYTHONHASHSEED="0", **SERIAL)
    return env


def execute(path: Path, timeout: int = 900) -> str:
    """Execute the notebook at ``path`` and return its new JSON text."""
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        cell.setdefault("id", f"cell-{i:03d}")
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nb.metadata.pop("widgets", None)
    km = KernelManager(kernel_name="python3", kernel_spec_manager=CurrentEnvKernelSpecManager())
    client = NotebookClient(
        nb, km=km, timeout=timeout, kernel_name="python3", record_timing=False,
        store_widget_state=True, resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute(env=kernel_env())
    finally:  # the client leaves a kernel it was handed running
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = coalesce_streams(cell.outputs)
    nb = rename_widget_models(nb, path.stem)
    return nbformat.writes(nb) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to execute (default: every notebook in _toc.yml)")
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 if any notebook differs from a fresh execution")
    args = parser.parse_args(argv)
    status = 0
    for path in args.notebooks or toc_notebooks():
        new = execute(path.resolve())
        old = path.read_text(encoding="utf-8")
        if args.check:
            if new != old:
                print(f"{path}: differs from a fresh execution")
                status = 1
            else:
                print(f"{path}: reproduces byte for byte")
        elif new != old:
            path.write_text(new, encoding="utf-8")
            print(f"{path}: updated")
        else:
            print(f"{path}: unchanged")
    return status


if __name__ == "__main__":
    sys.exit(main())
