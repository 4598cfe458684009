"""Output-size calculators for convolution, transposed convolution and pooling.

Pure functions of integers: they never touch data, so they can be used to plan
a network before any array exists.  Impossible settings raise ``ValueError``
naming the argument and the numbers involved; non-integers raise ``TypeError``.
"""
from __future__ import annotations

from ._validate import as_pair, check_int

Padding = int | tuple[int, int] | str


def _window_count(size: int, kernel: int, stride: int, pad_before: int, pad_after: int,
                  dilation: int = 1, kernel_name: str = "kernel_size",
                  size_name: str = "size") -> int:
    """Number of window positions along one axis (floor rule), with checks."""
    effective = dilation * (kernel - 1) + 1
    padded = size + pad_before + pad_after
    if effective > padded:
        pads = (f"2*padding {pad_before}" if pad_before == pad_after
                else f"padding {pad_before}+{pad_after}")
        raise ValueError(f"{kernel_name}: effective kernel {effective} is larger than the "
                         f"padded input {padded} ({size_name} {size} + {pads})")
    return (padded - effective) // stride + 1


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0,
                     dilation: int = 1) -> int:
    """Length of a convolution's output along one spatial axis.

    Parameters
    ----------
    size : int
        Input length (height or width), at least 1.
    kernel_size : int
        Kernel length, at least 1.
    stride : int, default 1
        Step between neighbouring windows, at least 1.
    padding : int, default 0
        Zeros added on *each* side, at least 0.
    dilation : int, default 1
        Spacing between kernel taps, at least 1.

    Returns
    -------
    int
        The output length.

    Raises
    ------
    TypeError
        An argument is not an integer (``bool`` is refused too).
    ValueError
        An argument is out of range, or the (dilated) kernel does not fit in the
        padded input.

    Notes
    -----
    .. math::

        \\text{out} = \\left\\lfloor \\frac{\\text{size} + 2p - d(k - 1) - 1}{s} \\right\\rfloor + 1

    The floor means that input rows the last window cannot reach are ignored.

    Examples
    --------
    >>> conv_output_size(5, 3)
    3
    >>> conv_output_size(224, 3, stride=1, padding=1)
    224
    >>> conv_output_size(7, 3, stride=2), conv_output_size(8, 3, stride=2)
    (3, 3)
    """
    size = check_int(size, "size", 1)
    kernel_size = check_int(kernel_size, "kernel_size", 1)
    stride = check_int(stride, "stride", 1)
    padding = check_int(padding, "padding", 0)
    dilation = check_int(dilation, "dilation", 1)
    return _window_count(size, kernel_size, stride, padding, padding, dilation)


def pool_output_size(size: int, kernel_size: int, stride: int | None = None,
                     padding: int = 0) -> int:
    """Length of a pooling layer's output along one spatial axis.

    Parameters
    ----------
    size : int
        Input length, at least 1.
    kernel_size : int
        Window length, at least 1.
    stride : int or None, default None
        Step between windows; ``None`` means ``kernel_size`` (as in PyTorch).
    padding : int, default 0
        Padding on each side; PyTorch allows at most ``kernel_size // 2``.

    Returns
    -------
    int

    Notes
    -----
    Same floor rule as :func:`conv_output_size` (``ceil_mode=False``).

    Examples
    --------
    >>> pool_output_size(224, 2, 2)
    112
    """
    kernel_size = check_int(kernel_size, "kernel_size", 1)
    stride = kernel_size if stride is None else check_int(stride, "stride", 1)
    padding = check_int(padding, "padding", 0)
    if padding > kernel_size // 2:
        raise ValueError(f"padding must be at most kernel_size // 2 = {kernel_size // 2}, "
                         f"got {padding} (kernel_size {kernel_size})")
    return conv_output_size(size, kernel_size, stride, padding)


def resolve_padding(padding: Padding, kernel_size: tuple[int, int] | int,
                    stride: tuple[int, int] | int = 1,
                    dilation: tuple[int, int] | int = 1) -> tuple[int, int, int, int]:
    """Turn a padding specification into explicit ``(top, bottom, left, right)``.

    Parameters
    ----------
    padding : int, (int, int), "same" or "valid"
        An int or ``(ph, pw)`` pads symmetrically; ``"valid"`` means no padding;
        ``"same"`` keeps the spatial size (stride 1 only, as in PyTorch).
    kernel_size : (int, int) or int
    stride : (int, int) or int, default 1
    dilation : (int, int) or int, default 1

    Returns
    -------
    (int, int, int, int)
        Padding at the top, bottom, left and right.

    Notes
    -----
    For ``"same"`` the total padding along an axis is ``d(k - 1)`` (``k - 1``
    without dilation), split as
    ``before = (k - 1) // 2`` and ``after = (k - 1) - before``: an even kernel
    gets the extra row/column at the bottom/right, exactly like PyTorch's
    ``padding='same'``.

    Examples
    --------
    >>> resolve_padding("same", (4, 3), (1, 1))
    (1, 2, 1, 1)
    """
    kh, kw = as_pair(kernel_size, "kernel_size", 1)
    sh, sw = as_pair(stride, "stride", 1)
    dh, dw = as_pair(dilation, "dilation", 1)
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            if (sh, sw) != (1, 1):
                raise ValueError(f"padding='same' needs stride 1 (as in PyTorch), "
                                 f"got stride {(sh, sw)}")
            th, tw = dh * (kh - 1), dw * (kw - 1)
            return (th // 2, th - th // 2, tw // 2, tw - tw // 2)
        raise ValueError(f"padding must be an int, a pair of ints, 'same' or 'valid', "
                         f"got {padding!r}")
    ph, pw = as_pair(padding, "padding", 0)
    return (ph, ph, pw, pw)


def _spatial(input_shape, name: str = "input_shape") -> tuple[int, ...]:
    """Validate an (N, C, H, W) or (C, H, W) shape tuple."""
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) not in (3, 4):
        raise ValueError(f"{name} must be a tuple (N, C, H, W) or (C, H, W), got {input_shape!r}")
    return tuple(check_int(d, name, 1) for d in input_shape)


def conv2d_output_shape(input_shape: tuple[int, ...], out_channels: int,
                        kernel_size: int | tuple[int, int], stride: int | tuple[int, int] = 1,
                        padding: Padding = 0,
                        dilation: int | tuple[int, int] = 1) -> tuple[int, ...]:
    """Shape of a 2-D convolution's output.

    Parameters
    ----------
    input_shape : (N, C_in, H, W) or (C_in, H, W)
    out_channels : int
    kernel_size : int or (int, int)
    stride : int or (int, int), default 1
    padding : int, (int, int), "same" or "valid", default 0
    dilation : int or (int, int), default 1

    Returns
    -------
    (N, C_out, H_out, W_out) or (C_out, H_out, W_out)
        Same rank as ``input_shape``.

    Examples
    --------
    >>> conv2d_output_shape((1, 3, 224, 224), 64, 3, padding=1)
    (1, 64, 224, 224)
    """
    shape = _spatial(input_shape)
    out_channels = check_int(out_channels, "out_channels", 1)
    kh, kw = as_pair(kernel_size, "kernel_size", 1)
    sh, sw = as_pair(stride, "stride", 1)
    dh, dw = as_pair(dilation, "dilation", 1)
    top, bottom, left, right = resolve_padding(padding, (kh, kw), (sh, sw), (dh, dw))
    h, w = shape[-2:]
    ho = _window_count(h, kh, sh, top, bottom, dh, size_name="input height")
    wo = _window_count(w, kw, sw, left, right, dw, size_name="input width")
    return shape[:-3] + (out_channels, ho, wo)


def pool2d_output_shape(input_shape: tuple[int, ...], kernel_size: int | tuple[int, int],
                        stride: int | tuple[int, int] | None = None,
                        padding: int | tuple[int, int] = 0) -> tuple[int, ...]:
    """Shape of a 2-D max/average pooling output (channels unchanged).

    Parameters
    ----------
    input_shape : (N, C, H, W) or (C, H, W)
    kernel_size : int or (int, int)
    stride : int, (int, int) or None, default None
        ``None`` means ``kernel_size``.
    padding : int or (int, int), default 0
        At most half the kernel along each axis (PyTorch's rule).

    Returns
    -------
    (N, C, H_out, W_out) or (C, H_out, W_out)

    Examples
    --------
    >>> pool2d_output_shape((1, 64, 224, 224), 2)
    (1, 64, 112, 112)
    """
    shape = _spatial(input_shape)
    kh, kw = as_pair(kernel_size, "kernel_size", 1)
    sh, sw = (kh, kw) if stride is None else as_pair(stride, "stride", 1)
    ph, pw = as_pair(padding, "padding", 0)
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError(f"padding must be at most half the kernel ({kh // 2}, {kw // 2}), "
                         f"got {(ph, pw)} (kernel_size {(kh, kw)})")
    h, w = shape[-2:]
    ho = _window_count(h, kh, sh, ph, ph, size_name="input height")
    wo = _window_count(w, kw, sw, pw, pw, size_name="input width")
    return shape[:-2] + (ho, wo)


# --- transposed convolution ------------------------------------------------------

def check_output_padding(output_padding: int, stride: int, dilation: int, axis: str = "") -> None:
    """Raise ``ValueError`` unless ``output_padding < max(stride, dilation)`` (PyTorch's rule)."""
    if output_padding >= max(stride, dilation):
        where = f" ({axis})" if axis else ""
        raise ValueError(f"output_padding must be smaller than stride or dilation{where}: "
                         f"got output_padding {output_padding} with stride {stride} and "
                         f"dilation {dilation}")


def _transposed_length(size: int, kernel: int, stride: int, padding: int, output_padding: int,
                       dilation: int, axis: str = "") -> int:
    """One axis of a transposed convolution's output, with PyTorch's checks."""
    check_output_padding(output_padding, stride, dilation, axis)
    where = f" ({axis})" if axis else ""
    full = (size - 1) * stride + dilation * (kernel - 1) + 1
    out = full - 2 * padding + output_padding
    if out < 1:
        raise ValueError(f"padding: 2*padding {2 * padding} crops the whole output{where}: "
                         f"(size {size} - 1)*stride {stride} + dilation {dilation}*(kernel "
                         f"{kernel} - 1) + output_padding {output_padding} + 1 - 2*padding "
                         f"= {out}")
    return out


def conv_transpose_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0,
                               output_padding: int = 0, dilation: int = 1) -> int:
    """Length of a transposed convolution's output along one spatial axis.

    Parameters
    ----------
    size : int
        Input length, at least 1.
    kernel_size : int
        Kernel length, at least 1.
    stride : int, default 1
        Step, in output pixels, between the kernel copies of neighbouring inputs.
    padding : int, default 0
        Rows cropped from *each* side of the full output, at least 0.
    output_padding : int, default 0
        Rows added at the end (bottom or right); smaller than ``stride`` or
        ``dilation``, as in PyTorch.
    dilation : int, default 1
        Spacing between kernel taps, at least 1.

    Returns
    -------
    int

    Raises
    ------
    TypeError
        An argument is not an integer.
    ValueError
        An argument is out of range, ``output_padding >= max(stride, dilation)``,
        or the padding crops the whole output.

    Notes
    -----
    .. math::

        \\text{out} = (\\text{size} - 1)\\, s - 2p + d(k - 1) + \\text{output\\_padding} + 1

    It inverts :func:`conv_output_size`: a convolution with the same ``k, s, p, d``
    maps ``out`` back to ``size``.  With ``s > 1`` the floor of that formula maps
    ``s`` neighbouring sizes to the same output, and ``output_padding`` picks one.

    Examples
    --------
    >>> conv_transpose_output_size(4, 3, stride=2, padding=1)
    7
    >>> conv_transpose_output_size(4, 3, stride=2, padding=1, output_padding=1)
    8
    >>> conv_output_size(7, 3, 2, 1), conv_output_size(8, 3, 2, 1)
    (4, 4)
    """
    size = check_int(size, "size", 1)
    kernel_size = check_int(kernel_size, "kernel_size", 1)
    stride = check_int(stride, "stride", 1)
    padding = check_int(padding, "padding", 0)
    output_padding = check_int(output_padding, "output_padding", 0)
    dilation = check_int(dilation, "dilation", 1)
    return _transposed_length(size, kernel_size, stride, padding, output_padding, dilation)


def conv_transpose2d_output_shape(input_shape: tuple[int, ...], out_channels: int,
                                  kernel_size: int | tuple[int, int],
                                  stride: int | tuple[int, int] = 1,
                                  padding: int | tuple[int, int] = 0,
                                  output_padding: int | tuple[int, int] = 0,
                                  dilation: int | tuple[int, int] = 1) -> tuple[int, ...]:
    """Shape of a 2-D transposed convolution's output.

    Parameters
    ----------
    input_shape : (N, C_in, H, W) or (C_in, H, W)
    out_channels : int
    kernel_size, stride, padding, output_padding, dilation : int or (int, int)
        As in :func:`conv_transpose_output_size`, per axis (height, width).

    Returns
    -------
    (N, C_out, H_out, W_out) or (C_out, H_out, W_out)

    Examples
    --------
    >>> conv_transpose2d_output_shape((1, 64, 14, 14), 32, 4, stride=2, padding=1)
    (1, 32, 28, 28)
    """
    shape = _spatial(input_shape)
    out_channels = check_int(out_channels, "out_channels", 1)
    kernel = as_pair(kernel_size, "kernel_size", 1)
    stride = as_pair(stride, "stride", 1)
    padding = as_pair(padding, "padding", 0)
    output_padding = as_pair(output_padding, "output_padding", 0)
    dilation = as_pair(dilation, "dilation", 1)
    ho, wo = (_transposed_length(shape[-2 + a], kernel[a], stride[a], padding[a],
                                 output_padding[a], dilation[a], axis)
              for a, axis in enumerate(("height", "width")))
    return shape[:-3] + (out_channels, ho, wo)
