"""Package-level promises: NumPy-only core, stable module names, tidy exports."""
from __future__ import annotations

import importlib
import subprocess
import sys
import types

import pytest

import cnnlab

MODULES = ["shapes", "conv", "pool", "activations", "linear", "losses", "gradcheck", "module",
           "layers", "norm", "init", "optim", "analysis", "filters", "data", "train", "explorers",
           "viz",
           "classic", "blocks", "models", "cli", "exercises", "containers", "callbacks",
           "checkpoints", "lrn", "fold", "augment", "conv_transpose",
           "interpret"]


def test_core_imports_numpy_only():
    """`import cnnlab` must not pull in matplotlib, ipywidgets, torch or scipy."""
    code = ("import sys, cnnlab; heavy = sorted({m.split('.')[0] for m in sys.modules} & "
            "{'matplotlib', 'ipywidgets', 'torch', 'scipy', 'IPython'}); print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name", MODULES)
def test_submodules_are_not_shadowed_by_exports(name):
    importlib.import_module(f"cnnlab.{name}")
    assert isinstance(getattr(cnnlab, name), types.ModuleType)


def test_all_exports_exist():
    missing = [n for n in cnnlab.__all__ if not hasattr(cnnlab, n)]
    assert not missing
    assert len(set(cnnlab.__all__)) == len(cnnlab.__all__)


def test_modules_stay_readable():
    """One concept per module, each readable in one sitting (STYLE.md: aim under ~300 lines;
    issue 15 split train.py, module.py and norm.py, past 400, at checkpoints, callbacks,
    containers and lrn; issue 12 made models.py a package, one family per file)."""
    from pathlib import Path
    root = Path(cnnlab.__file__).parent
    models = [f"models/{p.stem}" for p in sorted((root / "models").glob("*.py"))]
    assert "models/_resnet" in models
    for name in ("train", "module", "containers", "callbacks", "checkpoints", "_train_checks",
                 "_atomic", "norm", "lrn", "analysis", *models):
        lines = len((root / f"{name}.py").read_text().splitlines())
        assert lines <= 400, (name, lines)
