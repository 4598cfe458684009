"""Grading helpers for the labs: did a learner's function do the work itself?

The labs (``book/labs/``) ask learners to write a convolution, pooling, a loss, batch
normalisation and a training loop themselves, and ``cnnlab`` already has every one of them.  A
function that simply calls ``cnnlab.conv.conv2d_forward`` would pass every numerical test, so the
graded cells run the learner's function under :func:`forbid`:

.. code-block:: python

    from cnnlab import grading

    with grading.forbid("cnnlab.conv", "cnnlab._im2col") as watch:
        out = conv2d_loops(x, weight, bias, stride=2, padding=1)
    # leaving the block raised ForbiddenCallError if any code of those modules ran;
    # watch.lines counts the lines of the learner's own code that ran

:func:`forbid` installs a trace function (``sys.settrace``) for the duration of the block.  Python
calls it each time a function starts; it compares the *code object* of the function with the
forbidden ones.  Code objects are what a function is made of, whatever name it is reached by, so
the check holds for ``from cnnlab.conv import conv2d_forward as f``, for ``cnnlab.conv2d`` or a
layer class that call the kernel on the learner's behalf, and for a copy made with
``types.FunctionType(f.__code__, ...)``.  A forbidden *module* forbids every function, method,
lambda and comprehension written in its file.

It is a check of honest work, not a sandbox: code that re-creates a kernel from its source text,
or that switches the trace function off, is not detected.  Only the calling thread is watched.

:func:`assert_close` compares a result with the expected array and fails with a message that names
what was tested but shows no expected value, since graded feedback is read by learners.
"""
from __future__ import annotations

import importlib
import inspect
import os
import sys
import sysconfig
import types
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

__all__ = ["ForbiddenCallError", "Watch", "forbid", "run_without", "assert_close"]

Target = str | types.ModuleType | type | Callable | types.CodeType


class ForbiddenCallError(AssertionError):
    """A function under :func:`forbid` ran code it was not allowed to use.

    An ``AssertionError``, so a graded cell that raises it fails like any other failed test.
    """


def _nested_codes(code: types.CodeType) -> Iterable[types.CodeType]:
    """``code`` and every code object defined inside it (inner functions, lambdas, ...)."""
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _nested_codes(const)


def _codes_of(target, seen: set[int]) -> Iterable[types.CodeType]:
    """The code objects of a function, method, property or class (every method in it)."""
    if id(target) in seen:
        return
    seen.add(id(target))
    if isinstance(target, types.CodeType):
        yield from _nested_codes(target)
    elif isinstance(target, (staticmethod, classmethod)):
        yield from _codes_of(target.__func__, seen)
    elif isinstance(target, property):
        for accessor in (target.fget, target.fset, target.fdel):
            if accessor is not None:
                yield from _codes_of(accessor, seen)
    elif isinstance(target, type):
        for value in vars(target).values():
            if isinstance(value, (types.FunctionType, staticmethod, classmethod, property, type)):
                yield from _codes_of(value, seen)
    elif isinstance(target, types.MethodType):
        yield from _codes_of(target.__func__, seen)
    elif isinstance(target, types.FunctionType):
        yield from _nested_codes(target.__code__)
        wrapped = getattr(target, "__wrapped__", None)  # functools.wraps
        if wrapped is not None:
            yield from _codes_of(wrapped, seen)
    else:
        raise TypeError(f"targets must be modules, module names, classes, functions or code "
                        f"objects, got {type(target).__name__} {target!r}")


def _resolve(targets: tuple) -> tuple[frozenset[types.CodeType], dict[str, str]]:
    """``(forbidden code objects, {source file: module name})`` of ``targets``."""
    codes: set[types.CodeType] = set()
    files: dict[str, str] = {}
    seen: set[int] = set()
    for target in targets:
        if isinstance(target, str):
            target = importlib.import_module(target)
        if isinstance(target, types.ModuleType):
            path = getattr(target, "__file__", None)
            if path is None:
                raise TypeError(f"module {target.__name__} has no source file to forbid")
            if hasattr(target, "__path__"):  # a package: every module in its folder
                for folder in target.__path__:
                    files[os.path.realpath(folder) + os.sep] = target.__name__
            else:
                files[os.path.realpath(path)] = target.__name__
        else:
            codes.update(_codes_of(target, seen))
    return frozenset(codes), files


def _library_dirs() -> tuple[str, ...]:
    """Folders of installed code: the standard library, site-packages and cnnlab itself."""
    paths = sysconfig.get_paths()
    dirs = {os.path.realpath(paths[key]) for key in ("stdlib", "platstdlib", "purelib", "platlib")
            if key in paths}
    dirs.add(os.path.realpath(os.path.dirname(__file__)))
    return tuple(sorted(d + os.sep for d in dirs))


_LIBRARY_DIRS = _library_dirs()


def _is_library(path: str) -> bool:
    """Whether ``path`` (a real path, or ``<...>`` for code without a file) is installed code."""
    return path.startswith(("<frozen", "<__array_function__")) or path.startswith(_LIBRARY_DIRS)


def _name(code: types.CodeType, files: dict[str, str]) -> str:
    """A readable name of ``code``: ``cnnlab.conv.conv2d_forward``."""
    qualname = getattr(code, "co_qualname", code.co_name)  # co_qualname: Python >= 3.11
    path = os.path.realpath(code.co_filename)
    module = files.get(path)
    if module is None:  # a function or class target, or a module of a forbidden package
        module = next((m.__name__ for m in list(sys.modules.values())
                       if getattr(m, "__file__", None)
                       and os.path.realpath(m.__file__) == path), None)
    return f"{module}.{qualname}" if module else qualname


class Watch:
    """What ran while a :func:`forbid` block was active.

    Attributes
    ----------
    forbidden_calls : list of str
        Names of the forbidden functions that were entered, in order, each once
        (``"cnnlab.conv.conv2d_forward"``).
    lines : int
        Lines executed in code outside the standard library, site-packages and cnnlab: the
        learner's own code (a notebook cell, a test file).  A loop over every pixel of an image
        runs thousands of lines; a vectorised function runs tens.
    """

    def __init__(self, targets: tuple, check_on_exit: bool = True) -> None:
        self._codes, self._files = _resolve(targets)
        self._folders = tuple(f for f in self._files if f.endswith(os.sep))
        self._check_on_exit = check_on_exit
        self._kinds: dict[types.CodeType, int] = {}
        self._saved = None
        self.forbidden_calls: list[str] = []
        self.lines = 0

    # --- the trace functions ---------------------------------------------------------------
    def _kind(self, code: types.CodeType) -> int:
        """0: library code, 1: the learner's own code, 2: forbidden code."""
        if code in self._codes:
            return 2
        path = os.path.realpath(code.co_filename) if not code.co_filename.startswith("<") \
            else code.co_filename
        if path in self._files or (self._folders and path.startswith(self._folders)):
            return 2
        return 0 if _is_library(path) else 1

    def _global(self, frame, event, arg):
        code = frame.f_code
        kind = self._kinds.get(code)
        if kind is None:
            kind = self._kinds[code] = self._kind(code)
        if kind == 2:
            name = _name(code, self._files)
            if name not in self.forbidden_calls:
                self.forbidden_calls.append(name)
            return None
        return self._local if kind == 1 else None

    def _local(self, frame, event, arg):
        if event == "line":
            self.lines += 1
        return self._local

    # --- context manager -------------------------------------------------------------------
    def __enter__(self) -> Watch:
        self._saved = sys.gettrace()
        sys.settrace(self._global)
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        sys.settrace(self._saved)
        if exc_type is None and self._check_on_exit:
            self.check()
        return False

    def check(self) -> None:
        """Raise :class:`ForbiddenCallError` if a forbidden function was entered."""
        if self.forbidden_calls:
            raise ForbiddenCallError(
                f"your code calls {self.forbidden_calls[0]}: this part asks you to write the "
                f"computation yourself, so calling cnnlab's own implementation earns no points")


def forbid(*targets: Target, check_on_exit: bool = True) -> Watch:
    """A context manager that fails if code of ``targets`` runs inside it.

    Parameters
    ----------
    *targets : module, module name, class, function or code object
        What may not run: every function written in a module's file (``"cnnlab.conv"``; for a
        package, in any module of its folder), every method of a class
        (``cnnlab.layers.Conv2d``), or one function (``conv2d_forward``).
        A learner's own function may be listed too, e.g. to require that the vectorised
        version of a convolution does not call the loop version.
    check_on_exit : bool, default True
        Raise :class:`ForbiddenCallError` when the block ends without an error of its own.
        With False, inspect ``watch.forbidden_calls`` or call ``watch.check()`` yourself.

    Returns
    -------
    Watch
        Holds the forbidden calls seen and the number of lines of non-library code that ran.

    Notes
    -----
    ``sys.settrace`` is replaced for the duration of the block and restored afterwards (a
    debugger's or coverage tool's tracing pauses meanwhile).  Tracing slows pure-Python code
    several times; NumPy's compiled loops run at full speed.
    """
    return Watch(targets, check_on_exit=check_on_exit)


def run_without(targets: Iterable[Target], func: Callable, *args: Any, **kwargs: Any) -> Any:
    """``func(*args, **kwargs)`` under :func:`forbid` ``(*targets)``; return its result."""
    if not callable(func):
        raise TypeError(f"func must be callable, got {type(func).__name__}")
    with forbid(*targets):
        return func(*args, **kwargs)


def assert_close(actual, expected, what: str, *, rtol: float = 1e-7,
                 atol: float = 1e-10) -> None:
    """Fail with a message naming ``what`` unless ``actual`` equals ``expected`` closely.

    Parameters
    ----------
    actual : array-like
        The learner's result.
    expected : array-like
        The reference result.
    what : str
        What was computed, for the message (``"conv2d_loops with stride 2"``).
    rtol, atol : float
        Tolerances of ``numpy.allclose``.

    Raises
    ------
    AssertionError
        ``actual`` is None, not numeric, of another shape, holds NaN or infinity where the
        reference does not, or differs in value.  The message shows the shapes but never an
        expected value.
    """
    if actual is None:
        raise AssertionError(f"{what}: your function returned None (is a return missing?)")
    if inspect.isgenerator(actual):
        raise AssertionError(f"{what}: your function returned a generator, not an array")
    try:
        a = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError):
        raise AssertionError(f"{what}: expected numbers, got {type(actual).__name__}") from None
    b = np.asarray(expected, dtype=np.float64)
    if a.shape != b.shape:
        raise AssertionError(f"{what}: wrong shape {a.shape}, expected {b.shape}")
    if not np.isfinite(a).all() and np.isfinite(b).all():
        raise AssertionError(f"{what}: your result contains NaN or infinity")
    if not np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True):
        raise AssertionError(f"{what}: wrong values")
