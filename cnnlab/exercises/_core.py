"""The core of the exercise checkers: `Checker`, the registry `EXERCISES` and `_add`.

The chapter modules register their checkers with `_add`; `cnnlab.exercises` re-exports the
public names.  This module imports nothing else from the package, so no import cycle can form."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable

import numpy as np

CORRECT = "✓ Correct."
NOT_YET = "✗ Not yet: "
KINDS = ("number", "array", "function")


def _format_shape(shape: tuple[int, ...]) -> str:
    if len(shape) == 1:
        return f"{shape[0]} values"
    return "a " + "×".join(str(n) for n in shape) + " array"


def _numbers(answer, kind: str) -> tuple[np.ndarray | None, str | None]:
    """The answer as a float64 array, or ``(None, why it is not numbers)``."""
    what = "a number" if kind == "number" else "an array of numbers"
    if callable(answer):
        return None, "expected a value, got a function: call it and pass the result"
    if answer is None:
        return None, (f"expected {what}, got None: does your cell or function return a value? "
                      f"(a function without return gives None)")
    if isinstance(answer, (str, bytes)):
        return None, (f"expected {what}, got {type(answer).__name__} {answer!r}: write the "
                      f"number without quotes")
    if isinstance(answer, (bool, np.bool_)):
        return None, "expected a number, got a bool"
    try:
        a = np.asarray(answer)
    except (TypeError, ValueError, OverflowError):
        return None, f"expected {what}, got {type(answer).__name__}: {_short(answer)}"
    if a.dtype.kind == "O":
        items = a.ravel().tolist()
        if any(v is None for v in items):
            return None, f"expected {what}, got None among the entries: is a value missing?"
        if any(isinstance(v, int) and not isinstance(v, bool) for v in items):
            return None, ("your answer has a whole number too large for a float "
                          "(more than about 1.8e308): check for an exponent or a runaway product")
    if a.dtype.kind in "USO":
        return None, (f"expected {what}, got {type(answer).__name__} {_short(answer)}"
                      + (": write the numbers without quotes" if a.dtype.kind in "US" else ""))
    if a.dtype.kind == "b":
        return None, f"expected {what}, got True/False values"
    if a.dtype.kind == "c":
        return None, f"expected {what} (real), got complex numbers"
    a = a.astype(np.float64)
    if np.isnan(a).any():
        return None, ("your answer contains NaN: somewhere a calculation overflowed or divided "
                      "0 by 0")
    if np.isinf(a).any():
        return None, "your answer contains infinity: somewhere a calculation overflowed"
    return a, None


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


@dataclass
class Checker:
    """How to check one exercise (or one part of it).

    Attributes
    ----------
    id : str
        ``"ex-<slug>-<name>"`` or ``"ex-<slug>-<name>:<part>"``.
    title, chapter : str
        What is asked, and the notebook (``book/<chapter>.ipynb``).
    kind : {"number", "array", "function"}
    hint : str
        A general hint, shown when no targeted hint applies.
    expected : callable () -> value
        Computes the answer (with ``cnnlab``); for a function, the reference function.
    mistakes : callable () -> list of (value, hint), optional
        Likely wrong answers, computed from the mistaken formula, with their hints; none if
        omitted.
    rtol, atol : float
        Tolerances of ``numpy.isclose``.
    integer : bool
        The answer is a whole number (a size or a count), compared exactly.
    alternatives : callable () -> list of values, optional
        Other answers that are also right; none if omitted.
    normalize : callable, optional
        Applied to a numeric answer first (e.g. ``abs``, or percent to fraction).
    inputs : list of tuple, optional
        Arguments the function is called with (function checkers); empty if omitted.
    arg_names : tuple of str
        Names used to show a failing input.
    input_hints : callable (args) -> str or None
        A targeted hint for a failing input of a function checker.
    """

    id: str
    title: str
    chapter: str
    kind: str
    hint: str
    expected: Callable[[], Any]
    mistakes: Callable[[], list] | None = None
    rtol: float = 1e-6
    atol: float = 0.0
    integer: bool = False
    alternatives: Callable[[], list] | None = None
    normalize: Callable[[float], float] | None = None
    inputs: list[tuple] | None = None
    arg_names: tuple[str, ...] = ()
    input_hints: Callable[[tuple], str | None] | None = None

    def __post_init__(self) -> None:
        # Defaults filled in here, not in the fields: a field default `list` would be a class
        # attribute the API page shows as "alias of list", and `list` or a default factory would
        # make the signature unreadable ("<class 'list'>", "<factory>").
        if self.mistakes is None:
            self.mistakes = list
        if self.alternatives is None:
            self.alternatives = list
        if self.inputs is None:
            self.inputs = []
        if self.integer:  # counts and sizes are exact: 1,000,001 is not 1,000,000
            self.rtol, self.atol = 0.0, 1e-9

    @property
    def label(self) -> str:
        """The exercise's label in the book (the id without its part)."""
        return self.id.split(":")[0]

    @cached_property
    def answer(self):
        """The expected value (or reference function), computed once."""
        value = self.expected()
        return value if self.kind == "function" else np.asarray(value, dtype=np.float64)

    def _close(self, a: np.ndarray, b) -> bool:
        b = np.asarray(b, dtype=np.float64)
        return a.shape == b.shape and bool(np.allclose(a, b, rtol=self.rtol, atol=self.atol))

    def _targeted(self, a: np.ndarray) -> str | None:
        """The hints of every listed mistake that gives ``a`` (several slips can collide)."""
        found = []
        for value, message in self.mistakes():
            value = np.squeeze(np.asarray(value, dtype=np.float64))
            if self.normalize is not None:
                value = np.asarray(self.normalize(value), dtype=np.float64)
            if self._close(value, np.squeeze(self.answer)):
                continue  # a "mistake" that happens to give the right value is no mistake
            if self._close(a, value) and message not in found:
                found.append(message)
        return "; or ".join(found) if found else None

    def verdict(self, answer) -> tuple[bool, str]:
        """Return ``(correct, message)`` without printing.

        A wrong answer gets the same message wherever it lies: never "too
        large" or "too small", never which entries of an array are wrong, so
        the answer cannot be found by bisection or entry by entry.  What a hint
        may say depends on the answer given alone (its type, shape, a whole
        number or not) or on an exact match with a known slip (a listed
        mistake, a wrong power of ten, the opposite sign, a transposed or
        flipped array): a check of one exact value tells no direction.
        """
        if self.kind == "function":
            return self._verdict_function(answer)
        a, problem = _numbers(answer, self.kind)
        if problem is not None:
            return False, problem
        want = np.squeeze(self.answer)
        a = np.squeeze(a)
        if self.kind == "number" and a.ndim:
            return False, f"expected a single number, got an array of shape {np.shape(answer)}"
        if a.shape != want.shape:
            return False, (f"expected {_format_shape(want.shape)}, got shape {np.shape(answer)}. "
                           + self.hint)
        if self.normalize is not None:
            a = np.asarray(self.normalize(a), dtype=np.float64)
        if self._close(a, want) or any(self._close(a, np.squeeze(np.asarray(v, dtype=np.float64)))
                                        for v in self.alternatives()):
            return True, CORRECT
        targeted = self._targeted(a)
        if targeted is not None:
            return False, targeted
        if self.integer and not np.allclose(a, np.round(a)):
            return False, ("the answer is a whole number (a size or a count): check for a missing "
                           "floor, or a division that should come out even. " + self.hint)
        slip = self._slip(a, want)
        if slip is not None:
            return False, f"{slip}. {self.hint}"
        if self.kind == "number":
            return False, self.hint
        return False, f"not every entry is right yet. {self.hint}"

    def _slip(self, a: np.ndarray, want: np.ndarray) -> str | None:
        """A structural slip that turns ``want`` into exactly ``a``, if one does."""
        if not want.any():
            return None
        if self._close(a, -want):
            return ("right up to the sign: check the direction of a difference or of a step"
                    if self.kind == "number" else "every entry has the opposite sign")
        if self.kind == "number":
            scale = [k for k in range(-9, 10) if k and self._close(a, want * 10.0 ** k)]
            return ("the digits are right but not the power of ten: check the units (bytes or "
                    "MB, percent or fraction) and where the decimal point goes") if scale else None
        flips = [] if want.ndim == 0 else [("in reverse order", np.flip(want))] \
            if want.ndim == 1 else [
                ("transposed: rows and columns are swapped", want.T),
                ("flipped in both directions (rotated by 180°)", np.flip(want)),
                ("flipped upside down", np.flip(want, axis=0)),
                ("flipped left to right", np.flip(want, axis=-1))]
        for what, variant in flips:
            if variant.shape == a.shape and self._close(a, variant):
                return f"your array is the expected one {what}"
        c = float(a.ravel() @ want.ravel() / (want.ravel() @ want.ravel()))
        if want.size > 1 and c and not np.isclose(c, 1.0) and self._close(a, c * want):
            return ("every entry is off by the same factor: check a normalisation or a scale "
                    "(a division by N, by 1 − p, the size of a window)")
        return None

    def _show(self, args: tuple) -> str:
        names = self.arg_names or tuple(f"arg{i}" for i in range(len(args)))
        return ", ".join(f"{n}={v!r}" for n, v in zip(names, args, strict=True))

    def _verdict_function(self, func) -> tuple[bool, str]:
        if not callable(func):
            return False, (f"expected a function (def ...), got {type(func).__name__}: pass the "
                           f"function itself, without calling it")
        reference = self.answer
        for args in self.inputs:
            shown = self._show(args)
            try:
                got = func(*args)
            except Exception as err:  # the student's code: report, never crash
                return False, (f"for the input {shown} your function raised "
                               f"{type(err).__name__}: {err}")
            if got is None:
                return False, (f"for the input {shown} your function returned None: does it "
                               f"end with a return statement?")
            value, problem = _numbers(got, "array")
            if problem is not None:
                return False, f"for the input {shown} your function's result: {problem}"
            want = np.asarray(reference(*args), dtype=np.float64)
            if value.shape != want.shape or not np.allclose(value, want, rtol=self.rtol,
                                                            atol=self.atol):
                extra = self.input_hints(args) if self.input_hints else None
                return False, (f"for the input {shown} your function returned {got!r}, which is "
                               f"not right. {extra or self.hint}")
        return True, CORRECT


EXERCISES: dict[str, Checker] = {}


def _add(label: str, part: str | None, title: str, chapter: str, kind: str, hint: str,
         expected: Callable[[], Any], **options) -> None:
    key = label if part is None else f"{label}:{part}"
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if key in EXERCISES:
        raise ValueError(f"exercise id {key!r} is registered twice")
    EXERCISES[key] = Checker(key, title, chapter, kind, hint, expected, **options)
