"""Argument checks shared by every module.

Every public function validates its inputs with these helpers so that a bad
argument always produces the same kind of message: the exception type says what
kind of problem it is, and the message starts with the argument's name and
shows the offending value or shape.
"""
from __future__ import annotations

import numbers

import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)


def check_array(x, name: str, ndim: int | tuple[int, ...] | None = None,
                floating: bool = True) -> np.ndarray:
    """Return ``x`` if it is a NumPy array of the right rank (and float dtype).

    Raises
    ------
    TypeError
        ``x`` is not an ``ndarray`` or, with ``floating=True``, its dtype is
        not float32/float64.
    ValueError
        ``x`` does not have ``ndim`` dimensions.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(x).__name__}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in allowed:
            want = " or ".join(str(d) for d in allowed)
            raise ValueError(f"{name} must have {want} dimensions, got shape {x.shape}")
    if floating and x.dtype.type not in FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64, got {x.dtype}")
    return x


def check_int(value, name: str, minimum: int | None = None) -> int:
    """Return ``value`` as ``int`` if it is an integer (not a bool) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def as_pair(value, name: str, minimum: int | None = None) -> tuple[int, int]:
    """Turn an int or a 2-sequence of ints into a ``(height, width)`` pair."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
        return (check_int(value[0], name, minimum), check_int(value[1], name, minimum))
    v = check_int(value, name, minimum)
    return (v, v)


def check_float(value, name: str, low: float | None = None, high: float | None = None,
                low_inclusive: bool = True, high_inclusive: bool = True) -> float:
    """Return ``value`` as ``float`` if it is a real number inside the given bounds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    if low is not None and (v < low or (v == low and not low_inclusive)):
        op = ">=" if low_inclusive else ">"
        raise ValueError(f"{name} must be {op} {low}, got {v}")
    if high is not None and (v > high or (v == high and not high_inclusive)):
        op = "<=" if high_inclusive else "<"
        raise ValueError(f"{name} must be {op} {high}, got {v}")
    return v


def check_same_shape(a: np.ndarray, a_name: str, shape: tuple[int, ...]) -> None:
    """Raise ``ValueError`` if ``a.shape`` differs from the expected ``shape``."""
    if tuple(a.shape) != tuple(shape):
        raise ValueError(f"{a_name} must have shape {tuple(shape)}, got {tuple(a.shape)}")


def check_rng(rng, name: str = "rng") -> np.random.Generator:
    """Accept a ``numpy.random.Generator`` or an integer seed; return a Generator."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"{name} must be a numpy.random.Generator or an integer seed, "
                    f"got {type(rng).__name__}")


def check_same_dtype(x: np.ndarray, name: str, reference: np.ndarray,
                     reference_name: str) -> None:
    """Raise ``TypeError`` if ``x`` and ``reference`` have different dtypes.

    All float arrays of one call share a dtype: mixing float32 and float64
    would silently upcast, so it is refused instead.
    """
    if x.dtype != reference.dtype:
        raise TypeError(f"{name} must have the same dtype as {reference_name} "
                        f"({reference.dtype}), got {x.dtype}")


def check_finite(x: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` if ``x`` contains NaN or infinity (names the first one)."""
    finite = np.isfinite(x)
    if not finite.all():
        index = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise ValueError(f"{name} must be finite, got {x[index]} at index {index}")


def check_choice(value, name: str, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of the strings in ``choices``."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {choices}, got {value!r}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value
