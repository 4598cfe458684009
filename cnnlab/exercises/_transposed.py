"""Checkers of transposed_convolution."""
from __future__ import annotations

import numpy as np

from ..conv import conv2d
from ..conv_transpose import ConvTranspose2d, conv_transpose2d
from ..init import meta
from ..layers import Conv2d
from ..shapes import conv_output_size, conv_transpose_output_size
from ._core import _add

TC = "transposed_convolution"

# ex-transposed-sizes ----------------------------------------------------------------------------
_SIZE = ("the last input's kernel copy starts (size − 1)·stride pixels in and is as wide as the "
         "kernel; padding then crops the same number of rows on each side")
_add("ex-transposed-sizes", "a", "5×5 input, 3×3 kernel, stride 2, no padding: output size", TC,
     "number", _SIZE, lambda: conv_transpose_output_size(5, 3, 2), integer=True,
     mistakes=lambda: [(conv_output_size(5, 3, 2), "that is a convolution's output size: a "
                                                   "transposed convolution grows the map"),
                       (5 * 2, "multiplying by the stride forgets how far the last kernel copy "
                               "reaches"),
                       (conv_transpose_output_size(5, 3, 2) - 1, "count the last copy's whole "
                                                                 "width")])
_add("ex-transposed-sizes", "padding", "7×7 → 14×14 with a 4×4 kernel and stride 2: padding", TC,
     "number", "write the full output's size first (input size, stride, kernel), then remove "
     "P rows on each side", lambda: next(p for p in range(4)
                                         if conv_transpose_output_size(7, 4, 2, p) == 14),
     integer=True,
     mistakes=lambda: [(2, "padding is cropped on both sides: 2P rows go in all"),
                       (0, "without padding the output is larger than 14×14")])
_add("ex-transposed-sizes", "output_padding", "undo a 3×3, stride-2, padding-1 convolution of a "
     "10×10 image: output_padding", TC, "number",
     "compute the encoder's output size first, then the transposed convolution's size without "
     "output_padding; output_padding adds rows at the bottom and right",
     lambda: next(a for a in range(2)
                  if conv_transpose_output_size(conv_output_size(10, 3, 2, 1), 3, 2, 1, a) == 10),
     integer=True,
     mistakes=lambda: [(0, "with output_padding 0 the map comes back smaller than the image: "
                           "compute its size"),
                       (2, "output_padding must be smaller than the stride")])

# ex-transposed-adjoint --------------------------------------------------------------------------
_W1 = np.array([1.0, 2.0, -1.0])
_Z1 = np.array([1.0, 0.0, 2.0])


def _conv_matrix(w=_W1):
    """The 3×5 matrix of the 1-D cross-correlation of a length-5 signal with ``w``."""
    basis = np.eye(5)[:, None, None, :]                           # (5, 1, 1, 5)
    return conv2d(basis, w[None, None, None, :])[:, 0, 0, :].T     # (outputs, inputs)


def _transposed(z=_Z1, w=_W1):
    return conv_transpose2d(z[None, None, None, :], w[None, None, None, :])[0, 0, 0]


_add("ex-transposed-adjoint", "matrix", "the 3×5 matrix C of the convolution", TC, "array",
     "row i of C holds the kernel starting at column i, in its own order (no flip)",
     _conv_matrix,
     mistakes=lambda: [(_conv_matrix(_W1[::-1]), "no flip: deep learning's convolution slides "
                                                 "the kernel as it is")])
_add("ex-transposed-adjoint", "transposed", "the transposed convolution of δ = (1, 0, 2)", TC,
     "array", "each δ_i adds δ_i times the kernel at positions i, i + 1 and i + 2 (scatter, no "
     "flip); it equals C^T δ", _transposed,
     mistakes=lambda: [(_transposed(w=_W1[::-1]), "scatter the kernel as it is; as a sliding "
                                                  "window a transposed convolution uses the "
                                                  "kernel rotated by 180°")])
_add("ex-transposed-adjoint", "inner", "⟨CX, δ⟩ for X = (1, 1, 1, 1, 1)", TC, "number",
     "⟨a, b⟩ = Σ a_i b_i; computed as ⟨CX, δ⟩ or as ⟨X, C^T δ⟩, it is the same number",
     lambda: float(_conv_matrix() @ np.ones(5) @ _Z1), integer=True)

# ex-transposed-checkerboard ---------------------------------------------------------------------
def _overlap(kernel=3, stride=2, size=4):
    """Kernel copies covering each output pixel: ones through a kernel of ones."""
    ones = np.ones((1, 1, size, size))
    return conv_transpose2d(ones, np.ones((1, 1, kernel, kernel)), stride=stride)[0, 0]


_add("ex-transposed-checkerboard", "size", "output size for the 4×4 input", TC, "number",
     "the last copy starts (size − 1)·stride pixels in and is as wide as the kernel",
     lambda: _overlap().shape[0], integer=True,
     mistakes=lambda: [(4 * 2, "multiplying by the stride forgets how far the last kernel copy "
                               "reaches"),
                       (conv_output_size(4, 3, 2), "that is a convolution's output size")])
_add("ex-transposed-checkerboard", "counts", "the values at (4, 4), (3, 4) and (3, 3)", TC,
     "array", "along each axis, count the kernel copies (they start every stride pixels) that "
     "cover the row, and the column; a 2-D copy covers a pixel when both do",
     lambda: [_overlap()[4, 4], _overlap()[3, 4], _overlap()[3, 3]],
     mistakes=lambda: [([2 + 2, 1 + 2, 1 + 1], "the counts of rows and columns multiply, they "
                                               "do not add"),
                       ([2, 1, 1], "that counts the rows only: a 2-D copy covers a pixel when "
                                   "its rows and its columns do")])


def _even_kernel():
    def interior(k):
        return _overlap(k, 2, size=8)[k:-k, k:-k]
    return next(k for k in range(4, 10) if interior(k).min() == interior(k).max())


_add("ex-transposed-checkerboard", "kernel", "smallest kernel size above 3 with even overlap at "
     "stride 2", TC, "number", "the counts are the same away from the border exactly when the "
     "stride divides the kernel size", _even_kernel, integer=True,
     mistakes=lambda: [(5, "with that kernel the interior counts still alternate"),
                       (6, "it works, but a smaller kernel does too")])


# ex-transposed-conv1d ---------------------------------------------------------------------------
def _reference_conv1d(x, w, stride):
    x, w = np.asarray(x, dtype=np.float64), np.asarray(w, dtype=np.float64)
    return conv_transpose2d(x[None, None, None, :], w[None, None, None, :],
                            stride=(1, stride))[0, 0, 0]


def _conv1d_hint(args) -> str | None:
    x, w, stride = args
    if stride > len(w):
        return ("with a stride larger than the kernel, some outputs receive no copy at all: "
                "they stay 0, and the output still ends where the last copy ends")
    if len(x) == 1:
        return "a single input value gives one copy of the kernel, scaled by it"
    return None


_CONV1D = ("start from zeros of length (n − 1)·stride + k and add x[i]·w to the slice that "
           "starts at i·stride")
_add("ex-transposed-conv1d", "function", "a function: conv_transpose1d(x, w, stride)", TC,
     "function", _CONV1D, lambda: _reference_conv1d,
     inputs=[(np.array([1.0, 2.0, -1.0]), np.array([1.0, 0.5]), 1),
             (np.array([1.0, -2.0, 3.0, 0.5]), np.array([2.0, -1.0, 1.0]), 2),
             (np.array([2.0, 1.0]), np.array([1.0, 3.0]), 3),
             (np.array([-1.5]), np.array([1.0, 2.0, 3.0]), 2),
             (np.array([1.0, 1.0, 1.0]), np.array([4.0]), 1)],
     arg_names=("x", "w", "stride"), input_hints=_conv1d_hint)


# ex-transposed-gradient -------------------------------------------------------------------------
def _params(layer):
    with meta():
        return layer().num_parameters()


_add("ex-transposed-gradient", "output_padding", "output_padding for 16×16 inputs", TC, "number",
     "a stride-2 convolution maps two neighbouring input sizes to the same output size; "
     "output_padding picks the larger", lambda: next(
         a for a in range(2)
         if conv_transpose_output_size(conv_output_size(16, 3, 2, 1), 3, 2, 1, a) == 16),
     integer=True,
     mistakes=lambda: [(0, "that gives back the odd size: compute the output for 16×16")])
_add("ex-transposed-gradient", "params", "parameters of ConvTranspose2d(8, 3, 3)", TC, "number",
     "count the weight (in_channels × out_channels/groups × kH × kW) and one bias per output "
     "channel of this layer", lambda: _params(lambda: ConvTranspose2d(8, 3, 3)), integer=True,
     mistakes=lambda: [(_params(lambda: Conv2d(3, 8, 3)), "that is the Conv2d's count: the "
                                                          "transposed layer has one bias per "
                                                          "*its* output channel"),
                       (_params(lambda: ConvTranspose2d(8, 3, 3, bias=False)),
                        "add the biases")])
