"""Weight initialisation: He (Kaiming) and Xavier (Glorot), normal and uniform.

Also :func:`meta`, a context in which layers get shape-only parameters.

Every initialiser takes the generator explicitly (``rng``: a
``numpy.random.Generator`` or an integer seed), so the same seed always gives
the same weights.
"""
from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

from ._validate import check_choice, check_dtype, check_int, check_memory, check_rng

Shape = tuple[int, ...]


def fans(shape: Shape) -> tuple[int, int]:
    """Fan-in and fan-out of a weight of ``shape``, with PyTorch's convention.

    Parameters
    ----------
    shape : tuple of int
        ``(out_features, in_features)`` for a linear weight or
        ``(C_out, C_in, kh, kw)`` for a conv weight (any number of kernel dims).

    Returns
    -------
    (fan_in, fan_out) : tuple of int

    Notes
    -----
    With ``k = prod(shape[2:])`` (1 for a linear weight):
    ``fan_in = shape[1] * k`` and ``fan_out = shape[0] * k``.
    """
    shape = _check_shape(shape)
    if len(shape) < 2:
        raise ValueError(f"shape must have at least 2 dimensions, got {shape}")
    k = math.prod(shape[2:])
    return shape[1] * k, shape[0] * k


def he_normal(shape: Shape, fan_in: int | None, rng, dtype=np.float32) -> np.ndarray:
    """He (Kaiming) normal init: ``N(0, std**2)`` with ``std = sqrt(2 / fan_in)``.

    ``fan_in=None`` takes it from :func:`fans`. Suited to ReLU networks.
    """
    fan_in = fans(shape)[0] if fan_in is None else check_int(fan_in, "fan_in", 1)
    return _normal(shape, math.sqrt(2.0 / fan_in), rng, dtype)


def he_uniform(shape: Shape, fan_in: int | None, rng, dtype=np.float32) -> np.ndarray:
    """He uniform init: ``U(-a, a)`` with ``a = sqrt(6 / fan_in)`` (std ``sqrt(2 / fan_in)``)."""
    fan_in = fans(shape)[0] if fan_in is None else check_int(fan_in, "fan_in", 1)
    return _uniform(shape, math.sqrt(6.0 / fan_in), rng, dtype)


def xavier_normal(shape: Shape, fan_in: int | None, fan_out: int | None, rng,
                  dtype=np.float32) -> np.ndarray:
    """Xavier (Glorot) normal init: ``std = sqrt(2 / (fan_in + fan_out))``. Suited to tanh."""
    fan_in, fan_out = _both_fans(shape, fan_in, fan_out)
    return _normal(shape, math.sqrt(2.0 / (fan_in + fan_out)), rng, dtype)


def xavier_uniform(shape: Shape, fan_in: int | None, fan_out: int | None, rng,
                   dtype=np.float32) -> np.ndarray:
    """Xavier uniform init: ``U(-a, a)`` with ``a = sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = _both_fans(shape, fan_in, fan_out)
    return _uniform(shape, math.sqrt(6.0 / (fan_in + fan_out)), rng, dtype)


INITIALIZERS: dict[str, Callable[..., np.ndarray]] = {
    "he_normal": lambda shape, rng, dtype: he_normal(shape, None, rng, dtype),
    "he_uniform": lambda shape, rng, dtype: he_uniform(shape, None, rng, dtype),
    "xavier_normal": lambda shape, rng, dtype: xavier_normal(shape, None, None, rng, dtype),
    "xavier_uniform": lambda shape, rng, dtype: xavier_uniform(shape, None, None, rng, dtype),
}


def initialize(init: str, shape: Shape, rng, dtype=np.float32) -> np.ndarray:
    """Draw a weight of ``shape`` with the initialiser named ``init`` (fans from ``shape``).

    Inside :func:`meta` no number is drawn: the result is :func:`meta_array`.
    """
    check_choice(init, "init", tuple(INITIALIZERS))
    if is_meta():
        return meta_array(_check_shape(shape), dtype)
    return INITIALIZERS[init](shape, rng, dtype)


def constant(shape: Shape, value: float, dtype=np.float32) -> np.ndarray:
    """An array of ``value`` (biases start at 0); a :func:`meta_array` inside :func:`meta`."""
    shape, dtype = _check_shape(shape), check_dtype(dtype)
    return meta_array(shape, dtype) if is_meta() else np.full(shape, value, dtype)


def check_parameter_memory(shape: Shape, dtype, name: str, layer: str) -> None:
    """Refuse a parameter whose construction would need more memory than the machine has.

    Building a parameter of ``size`` numbers takes ``size * (8 + 2 * itemsize)``
    bytes at its peak: the float64 draw of the initialiser, the values in
    ``dtype`` and the gradient.  Nothing is allocated inside :func:`meta`.
    ``name`` is the argument(s) responsible and ``layer`` the call, as they
    appear in the message.
    """
    if not is_meta():
        size = math.prod(shape)
        check_memory(size * (8 + 2 * np.dtype(dtype).itemsize), name,
                     f"{layer} has {size:,} parameters; building them (the float64 draw, "
                     f"the {np.dtype(dtype)} values and their gradients)")


# --- shape-only ("meta") parameters -----------------------------------------------
_state = threading.local()


@contextmanager
def meta() -> Iterator[None]:
    """Build layers whose parameters have a shape but no memory (like torch's ``"meta"``).

    Inside the ``with`` block, :func:`initialize` and :func:`constant` return
    :func:`meta_array` views instead of drawing numbers. Such a model knows its
    parameter shapes, so :func:`cnnlab.analysis.summary` and ``num_parameters()``
    work, but it has no values: calling it raises ``RuntimeError``. This is how
    the ImageNet-sized models of :mod:`cnnlab.models` are inspected without
    allocating (VGG-16's 138 million float32 parameters would take 553 MB).

    Examples
    --------
    >>> from cnnlab.layers import Linear
    >>> with meta():
    ...     layer = Linear(25088, 4096)
    >>> layer.num_parameters()
    102764544
    """
    previous = getattr(_state, "meta", False)
    _state.meta = True
    try:
        yield
    finally:
        _state.meta = previous


def is_meta() -> bool:
    """Whether the current thread is inside :func:`meta`."""
    return getattr(_state, "meta", False)


def meta_array(shape: Shape, dtype=np.float32) -> np.ndarray:
    """A read-only zero array of ``shape`` that uses one element of memory (all strides 0)."""
    return np.broadcast_to(np.zeros((), check_dtype(dtype)), shape)


def is_meta_array(a: np.ndarray) -> bool:
    """Whether ``a`` came from :func:`meta_array` (read-only, at least 1-D, every stride 0)."""
    return not a.flags.writeable and a.ndim > 0 and a.size > 0 and not any(a.strides)


def check_not_meta(model, action: str = "run or trained", name: str | None = None) -> None:
    """Raise ``RuntimeError`` if ``model`` has shape-only parameters (built inside :func:`meta`).

    Every path that reads a model's values calls this first (calling the model,
    ``fit``, ``evaluate``, ``predict``, ``state_dict``, saving and loading):
    the zeros behind a meta parameter are not its values.  ``action`` completes
    the message "... can be summarised but not <action>"; ``name``, the
    argument that holds the model, starts it.
    """
    for param, p in model.named_parameters():
        if p.is_meta:
            raise RuntimeError(f"{name + ': ' if name else ''}"
                               f"{type(model).__name__} was built inside cnnlab.init.meta(): "
                               f"parameter {param!r} {p.shape} has a shape but no values, so the "
                               f"model can be summarised but not {action} (build it "
                               f"without meta)")


def _check_shape(shape) -> Shape:
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"shape must be a tuple of ints, got {type(shape).__name__}")
    return tuple(check_int(s, "shape", 1) for s in shape)


def _both_fans(shape, fan_in, fan_out) -> tuple[int, int]:
    auto_in, auto_out = fans(shape) if fan_in is None or fan_out is None else (0, 0)
    fan_in = auto_in if fan_in is None else check_int(fan_in, "fan_in", 1)
    fan_out = auto_out if fan_out is None else check_int(fan_out, "fan_out", 1)
    return fan_in, fan_out


def _normal(shape, std: float, rng, dtype) -> np.ndarray:
    shape, dtype = _check_shape(shape), check_dtype(dtype)
    w = check_rng(rng).standard_normal(shape)
    w *= std  # in place: one float64 array at the peak, not two
    return w.astype(dtype, copy=False)


def _uniform(shape, bound: float, rng, dtype) -> np.ndarray:
    shape, dtype = _check_shape(shape), check_dtype(dtype)
    return check_rng(rng).uniform(-bound, bound, size=shape).astype(dtype, copy=False)
