"""Checkers of learned_invariance: padding modes, counting shifts and crops, jumps, pipelines."""
from __future__ import annotations

import numpy as np

from ..analysis import receptive_field
from ..augment import translate
from ..layers import Conv2d, MaxPool2d, ReLU
from ..module import Sequential
from ._core import _add

IV = "learned_invariance"

# ex-invariance-padding: the row [1, 5, 2, 8] moved right by 2 ----------------------------------
_ROW = np.array([1.0, 5.0, 2.0, 8.0]).reshape(1, 1, 1, 4)


def _moved(mode: str) -> np.ndarray:
    return translate(_ROW, 0, 2, padding_mode=mode)[0, 0, 0]


_PAD = ("output pixel j reads position j − 2 of the row extended by the padding; write down "
        "what the mode puts at positions −2 and −1")
for _mode, _other, _why in (
        ("edge", "constant", "edge padding repeats the border pixel; zeros are constant padding"),
        ("reflect", "symmetric", "reflect mirrors about the border pixel without repeating it; "
                                 "repeating it is symmetric padding"),
        ("symmetric", "reflect", "symmetric padding repeats the border pixel in the mirror; "
                                 "without it, it is reflect padding")):
    _add("ex-invariance-padding", _mode, f"[1, 5, 2, 8] moved right by 2, {_mode!r} padding",
         IV, "array", _PAD, lambda m=_mode: _moved(m),
         mistakes=lambda o=_other, w=_why: [
             (_moved(o), w),
             (translate(_ROW, 0, -2, padding_mode="constant")[0, 0, 0],
              "moving right means the content goes right: the first pixels are the padding")])

# ex-invariance-count: shifts and crops ---------------------------------------------------------
_K, _SIZE, _CROP = 3, 28, 24
_COUNT = ("each offset is drawn independently per axis: count the values one axis can take, "
          "then combine the two axes")
_add("ex-invariance-count", "shifts", "different shifts RandomShift(3) can draw", IV, "number",
     _COUNT, lambda: (2 * _K + 1) ** 2, integer=True,
     mistakes=lambda: [(2 * _K + 1, "dy and dx are drawn independently: count pairs"),
                       ((2 * _K) ** 2, "−3, …, 3 includes 0: that is 2k + 1 values per axis"),
                       (_K ** 2, "shifts go both ways, −3 to 3")])
_add("ex-invariance-count", "unchanged", "probability that RandomShift(3) leaves a digit in "
     "place", IV, "number", "every one of the possible shifts is equally likely, (0, 0) is one "
     "of them", lambda: 1 / (2 * _K + 1) ** 2, rtol=2e-2,
     mistakes=lambda: [(1 / (2 * _K + 1), "both dy and dx must be 0")])
_add("ex-invariance-count", "crops", "different windows RandomCrop(24) cuts from 28 × 28", IV,
     "number", "a window starts at row 0, 1, …, 28 − 24: count the start rows, then the start "
     "columns", lambda: (_SIZE - _CROP + 1) ** 2, integer=True,
     mistakes=lambda: [((_SIZE - _CROP) ** 2, "the start rows 0 to 4 are five values"),
                       (_SIZE - _CROP + 1, "rows and columns are chosen independently")])


# ex-invariance-jump: pool1 and pool2 of LeNet-5 ------------------------------------------------
def _pools():
    """LeNet-5's receptive-field rows after pool1 and pool2."""
    lenet = Sequential(Conv2d(1, 6, 5, padding=2), ReLU(), MaxPool2d(2),
                       Conv2d(6, 16, 5), ReLU(), MaxPool2d(2))
    rows = receptive_field(lenet)
    return rows[2], rows[5]


_JUMP = ("each pooling layer multiplies the distance between neighbouring units by its stride; "
         "convolutions with stride one leave it as it is")
_add("ex-invariance-jump", "pool1", "pixels for pool1's output to move by one cell", IV,
     "number", _JUMP, lambda: _pools()[0].jump, integer=True,
     mistakes=lambda: [(1, "one cell of a pooling's output spans as many pixels as its stride"),
                       (5, "the kernel size of the convolution does not set the grid")])
_add("ex-invariance-jump", "pool2", "pixels for pool2's output to move by one cell", IV,
     "number", _JUMP, lambda: _pools()[1].jump, integer=True,
     mistakes=lambda: [(2, "there are two poolings: their strides multiply"),
                       (8, "the convolutions between the poolings have stride 1"),
                       (_pools()[1].receptive_field, "that is the receptive field, not the "
                                                     "grid step")])

# ex-invariance-test-pipeline: flip + RandomCrop(32, padding=4) ---------------------------------
_POSITIONS = (32 + 2 * 4 - 32 + 1) ** 2
_add("ex-invariance-test-pipeline", "versions", "different versions of one test image", IV,
     "number", "count the windows (start row and start column each from 0 to 8), then the flip",
     lambda: 2 * _POSITIONS, integer=True,
     mistakes=lambda: [(_POSITIONS, "each window can also be flipped or not"),
                       (2 * 8 ** 2, "the start row goes from 0 to 2 · 4 = 8: nine values"),
                       (8 ** 2, "nine start rows and nine start columns, and the flip")])
_add("ex-invariance-test-pipeline", "unchanged", "fraction of test images left as they are",
     IV, "number", "the image must be neither flipped nor moved: multiply the two probabilities",
     lambda: 1 / (2 * _POSITIONS), rtol=2e-2,
     mistakes=lambda: [(1 / _POSITIONS, "it must also escape the flip, probability 1/2"),
                       (0.5, "it must also get the centred window")])
