"""Helpers shared by the chapter modules of the exercise checkers."""
from __future__ import annotations

from typing import Callable

import numpy as np

OUTPUT_SIZE = ("use ⌊(W − F + 2P)/S⌋ + 1: padding P on both sides, divide by the stride, "
               "take the floor, then add one")


def _img(a) -> np.ndarray:
    """A 2-D list as a (1, 1, H, W) float64 array."""
    return np.asarray(a, dtype=np.float64)[None, None]


def _solve(f: Callable[[float], float], lo: float, hi: float) -> float:
    """Root of an increasing or decreasing ``f`` on ``[lo, hi]`` by bisection."""
    sign = np.sign(f(lo))
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.sign(f(mid)) == sign else (lo, mid)
    return (lo + hi) / 2
