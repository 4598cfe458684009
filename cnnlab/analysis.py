"""Calculators for a network's size: parameter counts, receptive fields, summaries.

A summary also counts each layer's multiply-accumulates and the memory of its
output (the counting rule is in :func:`summary`). Everything here is shape
arithmetic: no array is created, so a summary of a 4096x4096 input is as quick
as one of a 28x28 input.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ._validate import as_pair, check_int, format_bytes
from .layers import (
    AvgPool2d,
    Conv1d,
    Conv2d,
    Dropout,
    Flatten,
    Linear,
    MaxPool2d,
    ReLU,
    Sigmoid,
    Tanh,
)
from .module import Module, Sequential
from .norm import BatchNorm1d, BatchNorm2d
from .shapes import resolve_padding

__all__ = ["count_parameters", "conv2d_parameters", "linear_parameters", "RFRow",
           "receptive_field", "SummaryRow", "Summary", "summary"]

_PASS_THROUGH = (ReLU, Sigmoid, Tanh, Dropout, BatchNorm1d, BatchNorm2d)


def count_parameters(model: Module) -> int:
    """Number of scalar parameters in a layer or model (``sum(p.data.size)``)."""
    if not isinstance(model, Module):
        raise TypeError(f"model must be a Module, got {type(model).__name__}")
    return model.num_parameters()


def conv2d_parameters(in_channels: int, out_channels: int, kernel_size, bias: bool = True) -> int:
    """Parameters of a ``Conv2d``: ``(kh * kw * in_channels + 1) * out_channels``.

    Each of the ``out_channels`` filters has ``kh * kw * in_channels`` weights and
    one bias (the textbook ``(F * F * D + 1) * N``). Without bias the ``+ 1`` goes.
    """
    c_in = check_int(in_channels, "in_channels", 1)
    c_out = check_int(out_channels, "out_channels", 1)
    kh, kw = as_pair(kernel_size, "kernel_size", 1)
    return (kh * kw * c_in + _bias(bias)) * c_out


def linear_parameters(in_features: int, out_features: int, bias: bool = True) -> int:
    """Parameters of a ``Linear``: ``(in_features + 1) * out_features``."""
    n_in = check_int(in_features, "in_features", 1)
    n_out = check_int(out_features, "out_features", 1)
    return (n_in + _bias(bias)) * n_out


def _bias(bias) -> int:
    if not isinstance(bias, bool):
        raise TypeError(f"bias must be a bool, got {bias!r}")
    return int(bias)


class RFRow(NamedTuple):
    """One layer of a receptive-field table (one spatial axis)."""

    name: str
    kernel: int
    stride: int
    receptive_field: int
    jump: int
    size: int | None = None


def _rf_layers(layers, axis: int, prefix: str = "") -> Iterator[tuple]:
    """Yield ``(name, kernel, stride, dilation, pad_before, pad_after)``; stop at Flatten/Linear."""
    for i, layer in enumerate(layers):
        name = f"{prefix}{i}"
        if isinstance(layer, Sequential):
            for row in _rf_layers(layer, axis, name + "."):
                if row is None:
                    yield None
                    return
                yield row
        elif isinstance(layer, (Flatten, Linear)):
            yield None
            return
        elif isinstance(layer, Conv1d):
            if axis != 0:
                raise ValueError(f"axis: {name}: Conv1d has one spatial axis (0), got axis {axis}")
            pad = layer.padding if isinstance(layer.padding, str) else (0, layer.padding[0])
            pads = resolve_padding(pad, (1, *layer.kernel_size), (1, *layer.stride),
                                   (1, *layer.dilation))[2:]
            yield (f"{name}: Conv1d", layer.kernel_size[0], layer.stride[0], layer.dilation[0],
                   *pads)
        elif isinstance(layer, (Conv2d, MaxPool2d, AvgPool2d)):
            pads = resolve_padding(layer.padding, layer.kernel_size, layer.stride,
                                   getattr(layer, "dilation", 1))
            dilation = as_pair(getattr(layer, "dilation", 1), "dilation", 1)
            yield (f"{name}: {type(layer).__name__}", layer.kernel_size[axis],
                   layer.stride[axis], dilation[axis], *pads[2 * axis:2 * axis + 2])
        elif isinstance(layer, _PASS_THROUGH):
            yield f"{name}: {type(layer).__name__}", 1, 1, 1, 0, 0
        elif isinstance(layer, (tuple, list)) and len(layer) in (2, 3):
            k = check_int(layer[0], f"layers[{i}] kernel", 1)
            s = check_int(layer[1], f"layers[{i}] stride", 1)
            p = check_int(layer[2], f"layers[{i}] padding", 0) if len(layer) == 3 else 0
            yield f"{name}: ({', '.join(map(str, layer))})", k, s, 1, p, p
        else:
            raise TypeError(f"layers[{i}] must be a Conv2d/pooling/activation/BatchNorm/"
                            f"Dropout layer or a (kernel, stride[, padding]) tuple, "
                            f"got {layer!r}")


def receptive_field(layers: Iterable, input_size: int | None = None, *,
                    axis: int = 0) -> list[RFRow]:
    """Receptive field and jump of the units after each layer, along one spatial axis.

    Parameters
    ----------
    layers : Sequential or iterable of layers or of (kernel, stride[, padding]) tuples
        ``Conv2d``, ``MaxPool2d`` and ``AvgPool2d`` grow the field; activations,
        ``BatchNorm`` and ``Dropout`` pass it through (kernel 1, stride 1). The
        table stops at the first ``Flatten`` or ``Linear``: a fully connected
        unit sees the whole input. Nested ``Sequential`` are walked through.
    input_size : int, optional
        Input length along ``axis``; when given, each row also carries the
        output length ``size`` (and an impossible layer raises ``ValueError``).
    axis : {0, 1}, default 0
        0 for height, 1 for width; the two agree for square kernels and strides.

    Returns
    -------
    list of RFRow
        ``(name, kernel, stride, receptive_field, jump, size)`` per layer.

    Notes
    -----
    Starting from ``r = 1`` and ``j = 1`` at the input, a layer with kernel
    ``k``, stride ``s`` and dilation ``d`` gives

    ``r_out = r_in + d * (k - 1) * j_in`` and ``j_out = j_in * s``.

    ``j`` is the distance, in input pixels, between neighbouring units. Padding
    changes neither, only where the fields sit and the output size.

    Examples
    --------
    >>> [row.receptive_field for row in receptive_field([(3, 1), (3, 1), (3, 1), (2, 2)])]
    [3, 5, 7, 8]
    """
    axis = check_int(axis, "axis")
    if axis not in (0, 1):
        raise ValueError(f"axis must be 0 (height) or 1 (width), got {axis!r}")
    if isinstance(layers, Module) and not isinstance(layers, Sequential):
        layers = [layers]
    if not isinstance(layers, Iterable):
        raise TypeError(f"layers must be an iterable of layers, got {type(layers).__name__}")
    size = None if input_size is None else check_int(input_size, "input_size", 1)
    r, j, rows = 1, 1, []
    for item in _rf_layers(list(layers), axis):
        if item is None:
            break
        name, k, s, d, before, after = item
        r, j = r + d * (k - 1) * j, j * s
        if size is not None:
            span = size + before + after - d * (k - 1)
            if span < 1:
                raise ValueError(f"input_size: {name} needs at least {d * (k - 1) + 1} "
                                 f"padded pixels, got {size + before + after}")
            size = (span - 1) // s + 1
        rows.append(RFRow(name, k, s, r, j, size))
    return rows


class SummaryRow(NamedTuple):
    """One row of a :class:`Summary`: a leaf layer, or the closing row of a merging container."""

    name: str
    layer: str
    output_shape: tuple[int, ...]
    params: int
    macs: int = 0
    output_bytes: int = 0


@dataclass(frozen=True)
class Summary:
    """A model's layers with output shapes, parameters, multiply-accumulates and output memory.

    ``str()`` gives the table: name, output shape and parameters of each row,
    with the columns ``Mult-Adds`` and ``Output bytes`` and their totals when
    ``compute`` is true (``summary(..., compute=True)``, as ``cnnlab summary``
    prints it). The fields hold every number either way.
    """

    rows: list[SummaryRow]
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    total_params: int
    trainable_params: int
    total_macs: int = 0
    output_bytes: int = 0
    dtype: str = "float32"
    compute: bool = False

    def __str__(self) -> str:
        heads = ["Layer (type)", "Output Shape", "Param #"]
        cols = [["  " * r.name.count(".") + f"{r.name} ({r.layer})" if r.name else r.layer
                 for r in self.rows],
                [str(list(r.output_shape)) for r in self.rows],
                [f"{r.params:,}" for r in self.rows]]
        if self.compute:
            heads += ["Mult-Adds", "Output bytes"]
            cols += [[f"{r.macs:,}" for r in self.rows],
                     [f"{r.output_bytes:,}" for r in self.rows]]
        widths = [max([len(h)] + [len(v) for v in col]) for h, col in zip(heads, cols, strict=True)]

        def line(values):  # the first two columns flush left, the numbers flush right
            return "   ".join(f"{v:<{w}}" if i < 2 else f"{v:>{w}}"
                              for i, (v, w) in enumerate(zip(values, widths, strict=True)))

        rule = "=" * (sum(widths) + 3 * (len(widths) - 1))
        lines = [rule, line(heads), rule] + [line(values) for values in zip(*cols, strict=True)]
        lines += [rule, f"Input shape: {list(self.input_shape)}",
                  f"Total params: {self.total_params:,}",
                  f"Trainable params: {self.trainable_params:,}",
                  f"Non-trainable params: {self.total_params - self.trainable_params:,}"]
        if self.compute:
            lines += [f"Total mult-adds: {self.total_macs:,} ({_si(self.total_macs)})",
                      f"Output memory ({self.dtype}): {format_bytes(self.output_bytes)}"]
        return "\n".join(lines + [rule])

    __repr__ = __str__


def _si(n: int) -> str:
    """``568740352`` -> ``"568.7 M"``: one decimal and k, M or G (powers of 1,000)."""
    for prefix, scale in (("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if n >= scale:
            return f"{n / scale:.1f} {prefix}"
    return str(n)


def _summary_rows(model: Module, shape: tuple[int, ...], prefix: str, itemsize: int,
                  rows: list[SummaryRow]) -> tuple[int, ...]:
    trace = model.child_shapes(shape)
    for name, child, child_shape in trace:
        _summary_rows(child, child_shape, prefix + name + ".", itemsize, rows)
    if isinstance(model, Sequential) and trace:
        return tuple(model.output_shape(shape))
    out = tuple(model.output_shape(shape))
    nbytes = math.prod(out) * itemsize
    if trace:  # a merging container (Concat, Residual): one closing row, own params and MACs
        own = sum(p.data.size for name, p in model.named_parameters() if "." not in name)
        macs = model.macs(shape) - sum(child.macs(s) for _, child, s in trace)
        rows.append(SummaryRow(prefix[:-1], type(model).__name__, out, int(own), int(macs),
                               nbytes))
    else:
        rows.append(SummaryRow(prefix[:-1], type(model).__name__, out, model.num_parameters(),
                               int(model.macs(shape)), nbytes))
    return out


def _itemsize(model: Module, dtype) -> tuple[int, str]:
    """Bytes per activation value and the dtype's name: ``dtype``, else the parameters'."""
    if dtype is None:
        dtypes = {p.data.dtype for p in model.parameters()}
        if len(dtypes) > 1:
            raise ValueError(f"dtype: the model's parameters have several dtypes "
                             f"({', '.join(sorted(map(str, dtypes)))}); pass dtype=... to say "
                             f"which one the activations have")
        dt = dtypes.pop() if dtypes else np.dtype(np.float32)
    else:
        try:
            dt = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"dtype must be a NumPy floating-point dtype such as np.float32, "
                            f"got {dtype!r}") from None
        if dt.kind != "f":
            raise ValueError(f"dtype must be a floating-point dtype, got {dt}")
    return dt.itemsize, str(dt)


def summary(model: Module, input_shape: tuple[int, ...], *, dtype=None,
            compute: bool = False) -> Summary:
    """Describe ``model`` for an input of ``input_shape`` without running any data.

    Parameters
    ----------
    model : Module
        Containers (``Sequential``, ``Concat``, ``Residual`` and anything that
        implements :meth:`~cnnlab.module.Module.child_shapes`) are expanded
        into their layers, named by dotted path (``"1.0"``, ``"3.body.0"``)
        like their parameters. A merging container (``Concat``, ``Residual``)
        adds a row after its children with the merged output shape.
    input_shape : tuple of int
        Including the batch dimension, e.g. ``(1, 3, 224, 224)``.
    dtype : floating-point dtype, optional
        Of the activations, for their memory. Default: the dtype of the model's
        parameters (``float32`` for a model without any).
    compute : bool, default False
        Print the ``Mult-Adds`` and ``Output bytes`` columns and their totals
        in the table. The fields of the result hold them either way.

    Returns
    -------
    Summary
        ``rows`` (name, layer type, output shape, params, MACs, output bytes)
        and the totals; ``print(summary(...))`` shows a fixed-width table.

    Notes
    -----
    **Multiply-accumulates** (MACs, "multiply-adds"): a layer whose weights
    multiply its inputs counts one per weight tap and output value; each layer
    says so in its ``macs(input_shape)``. For a convolution (``Conv2d``,
    ``Conv1d``) that is

    ``N C_out H_out W_out * (C_in / groups) k_h k_w``

    (stride, padding and dilation enter through the output size; taps that fall
    on padding zeros count too), for ``Linear`` ``N F_in F_out``. LeNet's
    ``PartialConv2d`` counts its connected kernels only, ``Subsampling``
    ``k_h k_w`` per output (the depthwise convolution it equals) and
    ``EuclideanRBF`` one per weight and sample. **Not counted:** bias additions,
    batch normalisation (a per-channel scale and shift that folds into the
    preceding convolution at inference), activations, pooling, local response
    normalisation, dropout, flattening, the residual addition and the
    concatenation of branches. This is the rule of the papers' "mult-adds":
    it gives MobileNet v1 (1.0, 224x224) 568,740,352, the paper's 569 million.
    A MAC is two floating-point operations; many papers write "FLOPs" for MACs.

    **Output memory** of a row: the elements of its output times the bytes of
    ``dtype``. The total adds every row, i.e. the memory to keep each layer's
    output, as a training step does for the backward pass (a row whose output
    is a view of its input, such as ``Flatten``, is counted as well). It grows
    with the batch size; the parameters do not.

    Nothing is allocated: a model built inside :func:`cnnlab.init.meta` is
    summarised from its shapes alone.
    """
    if not isinstance(model, Module):
        raise TypeError(f"model must be a Module, got {type(model).__name__}")
    if not isinstance(input_shape, (tuple, list)):
        raise TypeError(f"input_shape must be a tuple of ints, got {type(input_shape).__name__}")
    if not isinstance(compute, bool):
        raise TypeError(f"compute must be a bool, got {compute!r}")
    shape = tuple(check_int(s, "input_shape", 1) for s in input_shape)
    itemsize, dtype_name = _itemsize(model, dtype)
    for path, layer in model._modules():
        if type(layer).output_shape is Module.output_shape:
            where = f"layer {path[:-1]!r}" if path else "the model"
            raise NotImplementedError(f"model: {where} ({type(layer).__name__}) does not "
                                      f"implement output_shape(input_shape), which summary() "
                                      f"needs to follow the shapes without data")
    rows: list[SummaryRow] = []
    out = _summary_rows(model, shape, "", itemsize, rows)
    trainable = sum(p.data.size for p in model.parameters() if p.requires_grad)
    return Summary(rows, shape, out, model.num_parameters(), int(trainable),
                   sum(r.macs for r in rows), sum(r.output_bytes for r in rows), dtype_name,
                   compute)
