"""Shared fixtures.

``torch`` is an optional test dependency (the ``crosscheck`` extra).  Locally a
missing torch skips the cross-check tests; in CI (``CI=true``) it is an error,
so the PyTorch comparison can never silently disappear.
"""
from __future__ import annotations

import importlib
import os
import sys

import numpy as np
import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

try:  # property-based tests: explore locally, replay the same examples in CI
    from hypothesis import settings as _hsettings

    _hsettings.register_profile("ci", derandomize=True, print_blob=True)
    if IN_CI:
        _hsettings.load_profile("ci")
except ImportError:
    pass


def require(module_name: str, why: str):
    """Import an optional module, skipping locally and failing in CI when it is missing."""
    try:
        return importlib.import_module(module_name)
    except ImportError:
        if IN_CI:
            pytest.fail(f"{module_name} is required in CI ({why}) but is not installed")
        pytest.skip(f"{module_name} not installed ({why})")


@pytest.fixture(scope="session")
def torch():
    """The ``torch`` module set to float64 determinism, or a skip (a failure in CI)."""
    t = require("torch", "PyTorch cross-checks; install the 'crosscheck' extra")
    t.set_num_threads(1)
    return t


@pytest.fixture
def rng():
    """A fresh seeded generator for each test."""
    return np.random.default_rng(1234)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    """In CI nothing may be skipped: a skip there means a check silently did not run."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if IN_CI and skipped and session.exitstatus == 0:
        reporter.write_line(f"CI=true: {len(skipped)} test(s) skipped, which fails the run",
                            red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    """The browser test's page timings (a report, not a check: times vary between runs)."""
    browser_test = sys.modules.get("test_browser")
    lines = browser_test.timing_report() if browser_test else []
    if lines:
        terminalreporter.section("page load times")
        for line in lines:
            terminalreporter.write_line(line)
