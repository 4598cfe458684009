"""What every builder of :mod:`cnnlab.models` shares: the meta switch and the wrapping."""
from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np

from .._validate import check_rng
from ..init import meta as meta_context
from ..module import Module, Sequential


def build(make: Callable[[np.random.Generator], list[Module]], input_shape, rng,
          meta: bool) -> Sequential:
    """Run ``make(generator)`` (inside ``meta()`` if asked) and wrap it in a Sequential.

    The result carries ``input_shape``, the ``(1, C, H, W)`` its layer table expects.
    """
    if not isinstance(meta, bool):
        raise TypeError(f"meta must be a bool, got {meta!r}")
    gen = np.random.default_rng() if rng is None else check_rng(rng)
    with meta_context() if meta else contextlib.nullcontext():
        model = Sequential(*make(gen))
    model.input_shape = input_shape
    return model
