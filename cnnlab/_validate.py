"""Argument checks shared by every module.

Every public function validates its inputs with these helpers so that a bad
argument always produces the same kind of message: the exception type says what
kind of problem it is, and the message starts with the argument's name and
shows the offending value or shape.
"""
from __future__ import annotations

import numbers
import os

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
    """Accept a ``numpy.random.Generator`` or an integer seed >= 0; return a Generator."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(f"{name}: a seed must be >= 0, got {rng}")
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


def check_conv_channels(in_channels, out_channels, groups, bias) -> tuple[int, int, int]:
    """``(in_channels, out_channels, groups)`` of a convolution layer, checked; ``bias`` a bool.

    Both channel counts must be positive integers divisible by ``groups``.
    """
    in_channels = check_int(in_channels, "in_channels", 1)
    out_channels = check_int(out_channels, "out_channels", 1)
    groups = check_int(groups, "groups", 1)
    for name, n in (("in_channels", in_channels), ("out_channels", out_channels)):
        if n % groups:
            raise ValueError(f"groups: {name} {n} is not divisible by groups {groups}")
    if not isinstance(bias, bool):
        raise TypeError(f"bias must be a bool, got {bias!r}")
    return in_channels, out_channels, groups


def check_choice(value, name: str, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of the strings in ``choices``."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {choices}, got {value!r}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def check_dtype(dtype, name: str = "dtype") -> np.dtype:
    """Return ``np.dtype(dtype)`` if it names float32 or float64 (a layer's parameter dtype).

    ``None`` is refused: NumPy would read it as float64 without saying so.
    """
    if dtype is None:
        raise TypeError(f"{name} must be np.float32 or np.float64, got None")
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name} must be np.float32 or np.float64, got {dtype!r}") from None
    if dt not in FLOAT_DTYPES:
        raise ValueError(f"{name} must be np.float32 or np.float64, got {dt}")
    return dt


def check_input_shape(input_shape, ndim: int | None, layer: str, channels: int | None = None,
                      what: str = "channels") -> tuple[int, ...]:
    """Validate a shape tuple for ``output_shape``: rank, positive ints, channel count.

    ``ndim=None`` accepts any rank >= 1; ``channels`` is compared with
    ``input_shape[1]`` when given.
    """
    if not isinstance(input_shape, (tuple, list)):
        raise TypeError(f"input_shape must be a tuple of ints, got {type(input_shape).__name__}")
    shape = tuple(check_int(s, "input_shape", minimum=1) for s in input_shape)
    if (ndim is None and not shape) or (ndim is not None and len(shape) != ndim):
        ndim = "at least 1" if ndim is None else ndim
        raise ValueError(f"input_shape: {layer} expects {ndim} dimensions, got {shape}")
    if channels is not None and shape[1] != channels:
        raise ValueError(f"input_shape: expected {channels} input {what}, got {shape}")
    return shape


def check_input(x, ndim: int | tuple[int, ...] | None, channels: int | None = None,
                what: str = "channels", dtype: np.dtype | None = None) -> np.ndarray:
    """Validate a layer input: float ndarray of rank ``ndim`` with ``channels`` on axis 1.

    ``dtype`` is the dtype of the layer's parameters, which ``x`` must share.
    """
    check_array(x, "x", ndim=ndim)
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"x: expected {channels} input {what}, got shape {x.shape}")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"x: dtype {x.dtype} does not match the layer's {dtype} parameters "
                        f"(build the layer with dtype=np.{x.dtype} or cast x)")
    return x


def check_cache(cache, op: str) -> dict:
    """Return ``cache`` if it is the dict that ``<op>_forward`` returned.

    Every dict cache carries ``"op"``: the kernel that made it.  Passing another
    kernel's cache (or anything else) is a ``TypeError`` naming both.
    """
    made_by = cache.get("op") if isinstance(cache, dict) else None
    if made_by != op:
        got = (f"the cache of {made_by}_forward" if made_by else
               f"a dict with keys {sorted(map(str, cache))}" if isinstance(cache, dict)
               else type(cache).__name__)
        raise TypeError(f"cache must be the cache returned by {op}_forward, got {got}")
    return cache


# --- memory ---------------------------------------------------------------------

def memory_limit() -> int | None:
    """This machine's physical memory in bytes, or ``None`` where the OS does not say.

    No single array can be larger than this; :func:`check_memory` refuses those
    up front instead of letting NumPy fail with a bare ``MemoryError``.
    """
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def format_bytes(nbytes: int) -> str:
    """``40000800000`` -> ``"37.3 GiB (40,000,800,000 bytes)"``."""
    size, unit = float(nbytes), "bytes"
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if size < 1024 or unit == "EiB":
            break
        size /= 1024
    short = f"{nbytes:,} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
    return short if unit == "bytes" else f"{short} ({nbytes:,} bytes)"


def check_memory(nbytes: int, name: str, what: str) -> None:
    """Raise ``ValueError`` if ``what`` needs more than :func:`memory_limit` bytes.

    The message starts with ``name`` (the argument(s) responsible), e.g.
    ``"in_features, out_features: Linear(50000, 50000) ... would need 37.3 GiB ..."``.
    """
    limit = memory_limit()
    if limit is not None and nbytes > limit:
        raise ValueError(f"{name}: {what} would need {format_bytes(int(nbytes))}, more than "
                         f"this machine's {format_bytes(limit)} of memory")
