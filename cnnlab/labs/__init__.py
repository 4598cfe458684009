"""Self-checks for the labs of the book (``book/labs/``): run them as often as you like.

.. code-block:: python

    from cnnlab.labs import self_check

    self_check("conv2d_loops", conv2d_loops)

A self-check calls your function on a few inputs, each chosen to test one thing (a stride, the
padding, several channels, ties in a pooling window, very large logits, ...), compares the result
with ``cnnlab``'s own implementation and prints one line per input: ``✓``, or ``✗`` with a hint.
A hint names the concept behind the mistake (and recognises some typical slips exactly, such as a
flipped kernel); it never shows an expected value.  The self-checks are not the graded tests: the
autograder uses other inputs, and some cases only it tries.

Calling ``cnnlab``'s implementation of what a part asks you to write is reported as ``✗``:
in the graded cells it earns no points (:mod:`cnnlab.grading` detects it).

``self_check(name)`` with an unknown name lists the names there are.  :func:`verdicts` returns
the same results without printing them.
"""
from __future__ import annotations

import textwrap
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import grading

__all__ = ["Check", "Report", "CHECKS", "self_check", "verdicts"]

WIDTH = 88
FAILED = object()  # what Report.call returns when the learner's function could not be used


class Report:
    """The verdicts of one self-check, one line per case.

    Parameters
    ----------
    name : str
        The name of what is checked (the learner's function or class).
    forbidden : tuple
        Targets of :func:`cnnlab.grading.forbid`: what the learner's code may not call.
    """

    def __init__(self, name: str, forbidden: tuple = ()) -> None:
        self.name = name
        self.forbidden = forbidden
        self.results: list[tuple[bool, str]] = []
        self.stopped: str | None = None
        self.lines = 0

    def ok(self, case: str) -> None:
        """Record a passed case."""
        self.results.append((True, case))

    def fail(self, case: str, hint: str) -> None:
        """Record a failed case with its hint."""
        self.results.append((False, f"{case}: {hint}"))

    def call(self, case: str, func: Callable, *args, **kwargs):
        """``func(*args, **kwargs)`` watched by :func:`cnnlab.grading.forbid`.

        Returns the result, or `FAILED` after recording why: the function is not written yet
        (``NotImplementedError``, which also stops the check), raised an error, or called
        forbidden code.  ``self.lines`` holds the lines of the learner's code that ran.
        """
        if self.stopped is not None:
            return FAILED
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                with grading.forbid(*self.forbidden, check_on_exit=False) as watch:
                    result = func(*args, **kwargs)
        except NotImplementedError:
            self.stopped = (f"{self.name} is not written yet (it raises NotImplementedError): "
                            f"replace `raise NotImplementedError()` by your code, run that "
                            f"cell, then this one again.")
            return FAILED
        except Exception as err:  # the learner's code: report it, never crash
            message = str(err).splitlines()[0] if str(err) else ""
            self.fail(case, f"your code raised {type(err).__name__}"
                      + (f" ({message})" if message else "") + ".")
            return FAILED
        if watch.forbidden_calls:
            self.fail(case, f"your code calls {watch.forbidden_calls[0]}. Write the computation "
                      f"yourself: calling cnnlab's own implementation earns no points.")
            return FAILED
        self.lines = watch.lines
        return result

    def array(self, case: str, got, want, hint: str, mistakes=(), *, shape_hint: str = "",
              rtol: float = 1e-7, atol: float = 1e-10) -> bool:
        """Compare an array result with the expected one and record the verdict.

        Parameters
        ----------
        got, want : array-like
            The learner's result and the reference.
        hint : str
            Shown when the values are wrong and no listed mistake matches.
        mistakes : iterable of (array, str)
            Results of typical slips with their hints; a match shows that hint instead.
        shape_hint : str
            Shown when the shape is wrong.
        """
        if got is FAILED:
            return False
        if got is None:
            self.fail(case, "your function returned None: is a `return` missing?")
            return False
        try:
            a = np.asarray(got, dtype=np.float64)
        except (TypeError, ValueError):
            self.fail(case, f"expected an array of numbers, got {type(got).__name__}.")
            return False
        want = np.asarray(want, dtype=np.float64)
        if a.shape != want.shape:
            self.fail(case, f"your result has the wrong shape {a.shape}. "
                      + (shape_hint or "Check the shapes in the statement."))
            return False
        if np.isfinite(want).all() and not np.isfinite(a).all():
            self.fail(case, "your result contains NaN or infinity: something overflowed "
                      "or divided by zero. " + hint)
            return False
        if np.allclose(a, want, rtol=rtol, atol=atol):
            self.ok(case)
            return True
        for value, message in mistakes:
            value = np.asarray(value, dtype=np.float64)
            if (value.shape == a.shape and not np.allclose(value, want, rtol=rtol, atol=atol)
                    and np.allclose(a, value, rtol=rtol, atol=atol)):
                self.fail(case, message)
                return False
        self.fail(case, "not right yet. " + hint)
        return False

    def verdict(self, case: str, passed: bool, hint: str) -> bool:
        """Record ``passed`` for ``case``, with ``hint`` if it failed."""
        if passed:
            self.ok(case)
        else:
            self.fail(case, hint)
        return passed

    def text(self) -> str:
        """The report as printed by :func:`self_check`."""
        if self.stopped is not None:
            return _wrap(f"✗ {self.stopped}")
        passed = sum(ok for ok, _ in self.results)
        lines = [f"Self-check of {self.name}: {passed} of {len(self.results)} cases pass."]
        lines += [_wrap(("✓ " if ok else "✗ ") + text) for ok, text in self.results]
        return "\n".join(lines)


def _wrap(line: str) -> str:
    return "\n".join(textwrap.wrap(line, WIDTH, subsequent_indent="  ", break_long_words=False,
                                   break_on_hyphens=False))


@dataclass
class Check:
    """A registered self-check.

    Attributes
    ----------
    name : str
        What the learner passes to :func:`self_check` (the name of their function or class).
    lab : str
        The lab's notebook name (``book/labs/<lab>.ipynb``).
    arguments : tuple of str
        What :func:`self_check` takes after the name (usually the learner's function).
    run : callable (Report, *arguments) -> None
        Calls the learner's code on the cases and records the verdicts.
    forbidden : tuple
        What the learner's code may not call (targets of :func:`cnnlab.grading.forbid`).
    """

    name: str
    lab: str
    arguments: tuple[str, ...]
    run: Callable[..., None]
    forbidden: tuple = ()


CHECKS: dict[str, Check] = {}


def register(lab: str, arguments: tuple[str, ...], forbidden: tuple = (), name: str | None = None):
    """Decorator that registers a check function under ``name`` (default: its name)."""
    def add(run: Callable[..., None]) -> Callable[..., None]:
        key = name or run.__name__
        if key in CHECKS:
            raise ValueError(f"self-check {key!r} is registered twice")
        CHECKS[key] = Check(key, lab, arguments, run, tuple(forbidden))
        return run
    return add


def _lookup(name: str) -> Check:
    if not isinstance(name, str) or name not in CHECKS:
        known = ", ".join(sorted(CHECKS))
        raise KeyError(f"no self-check named {name!r}; there are: {known}")
    return CHECKS[name]


def verdicts(name: str, *args) -> Report:
    """Run the self-check ``name`` on ``args`` and return its :class:`Report` (no printing)."""
    check = _lookup(name)
    if len(args) != len(check.arguments):
        wanted = ", ".join(check.arguments)
        raise TypeError(f"self_check({name!r}, ...) takes {len(check.arguments)} argument(s) "
                        f"after the name ({wanted}), got {len(args)}")
    report = Report(name, check.forbidden)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # overflow in a typical mistake computed for a hint
        check.run(report, *args)
    return report


def self_check(name: str, *args) -> None:
    """Check a lab's function (or class) and print ✓ or ✗ with a hint for each case.

    Parameters
    ----------
    name : str
        What to check, e.g. ``"conv2d_loops"``; an unknown name lists the known ones.
    *args
        Your function or class (some checks take two, e.g. a forward and a backward pass).
    """
    print(verdicts(name, *args).text())


# The checks of each lab register themselves on import.
from . import _conv, _losses, _norm, _pool, _residual, _training  # noqa: E402,F401
