"""Containers: ``Sequential`` chains layers, ``Concat`` runs branches side by side
(Inception), ``Residual`` adds a skip around a body (ResNet); ``Identity`` passes through.

They are modules themselves (:class:`cnnlab.module.Module`): their parameters are their
children's, named by position (``"0.weight"``) or role (``"body.0.weight"``), and
``backward`` runs the children's backward passes in reverse.  Also importable from
:mod:`cnnlab.module`.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._validate import check_array, check_input_shape
from .module import Module

__all__ = ["Concat", "Identity", "Residual", "Sequential"]


class Sequential(Module):
    """Apply ``layers`` one after another; backward runs them in reverse.

    Children are named ``"0"``, ``"1"``, ... so parameters are ``"0.weight"`` etc.
    Supports ``len``, iteration and indexing (a slice gives a new ``Sequential``
    sharing the same layers).  A layer listed twice runs twice forward, but
    ``backward`` refuses it (``RuntimeError``): a layer keeps only its last
    forward cache.  Its parameters are yielded once.
    """

    def __init__(self, *layers: Module) -> None:
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"layers[{i}] must be a Module, got {type(layer).__name__}")
        self.layers = list(layers)

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for i, layer in enumerate(self.layers):
            yield str(i), layer

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._check_distinct()
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def _check_distinct(self) -> None:
        """Refuse a backward pass through a layer that appears twice (one cache, two uses)."""
        first: dict[int, int] = {}
        for i, layer in enumerate(self.layers):
            j = first.setdefault(id(layer), i)
            if j != i:
                raise RuntimeError(f"layers[{j}] and layers[{i}] are the same "
                                   f"{type(layer).__name__} object: a layer keeps the cache of "
                                   f"its last forward pass only, so backward through it twice "
                                   f"would use the wrong cache (use two layers; to share weights, "
                                   f"assign the same Parameter to both)")

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = tuple(input_shape)
        for layer in self.layers:
            shape = layer.output_shape(shape)
        return shape

    def child_shapes(self, input_shape: tuple[int, ...]) -> list[tuple[str, Module, tuple]]:
        trace, shape = [], tuple(input_shape)
        for name, layer in self.named_children():
            trace.append((name, layer, shape))
            shape = tuple(layer.output_shape(shape))
        return trace

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)

    def __getitem__(self, index: int | slice) -> Module:
        if isinstance(index, slice):
            return Sequential(*self.layers[index])
        return self.layers[index]


class Identity(Module):
    """Return the input unchanged (a placeholder, e.g. an identity shortcut)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_array(x, "x")
        return self._save(None, x)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._load(dout)
        return dout

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return check_input_shape(input_shape, None, "Identity")


def _check_modules(modules, name: str) -> list[Module]:
    for i, m in enumerate(modules):
        if not isinstance(m, Module):
            raise TypeError(f"{name}[{i}] must be a Module, got {type(m).__name__}")
    return list(modules)


class Concat(Module):
    """Run every branch on the same input and concatenate the outputs along channels.

    This is the shape of an Inception module: ``out = [b_0(x), b_1(x), ...]``
    stacked on axis 1. The branches' outputs must agree on every other axis.
    ``backward`` splits ``dout`` by channel and *sums* the branches' input
    gradients, since ``x`` fed all of them.
    """

    def __init__(self, *branches: Module) -> None:
        super().__init__()
        self.branches = _check_modules(branches, "branches")
        if not self.branches:
            raise ValueError("branches: Concat needs at least one branch, got none")

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for i, branch in enumerate(self.branches):
            yield str(i), branch

    def forward(self, x: np.ndarray) -> np.ndarray:
        outs = [branch.forward(x) for branch in self.branches]
        self._check_merge([o.shape for o in outs])
        return self._save([o.shape[1] for o in outs], np.concatenate(outs, axis=1))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        widths = self._load(dout)
        parts = np.split(dout, np.cumsum(widths)[:-1], axis=1)
        dx = None
        for branch, part in zip(self.branches, parts, strict=True):
            d = branch.backward(part)
            dx = d if dx is None else dx + d
        return dx

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shapes = [tuple(b.output_shape(input_shape)) for b in self.branches]
        self._check_merge(shapes)
        return (shapes[0][0], sum(s[1] for s in shapes), *shapes[0][2:])

    def child_shapes(self, input_shape: tuple[int, ...]) -> list[tuple[str, Module, tuple]]:
        return [(name, b, tuple(input_shape)) for name, b in self.named_children()]

    @staticmethod
    def _check_merge(shapes: list[tuple[int, ...]]) -> None:
        rest = {(s[0], *s[2:]) for s in shapes}
        if len(rest) > 1 or any(len(s) < 2 for s in shapes):
            raise ValueError(f"branches: outputs must agree on every axis but channels "
                             f"(axis 1) to be concatenated, got shapes {shapes}")


class Residual(Module):
    """``activation(body(x) + shortcut(x))``: a residual (skip) connection.

    Parameters
    ----------
    body : Module
        The residual function ``F``.
    shortcut : Module or None, default None
        ``None`` is the identity skip; a module (e.g. a strided 1x1 convolution
        and batch norm) projects ``x`` when ``F`` changes its shape.
    activation : Module or None, default None
        Applied after the addition (ResNet uses ReLU there).

    Notes
    -----
    The backward pass adds the two routes: with ``g`` the gradient after the
    activation, ``dx = body.backward(g) + shortcut.backward(g)`` (just ``g``
    for the identity), so the skip passes ``g`` on unchanged.
    """

    def __init__(self, body: Module, shortcut: Module | None = None,
                 activation: Module | None = None) -> None:
        super().__init__()
        for name, m in (("body", body), ("shortcut", shortcut), ("activation", activation)):
            if not isinstance(m, Module) and not (m is None and name != "body"):
                raise TypeError(f"{name} must be a Module{'' if name == 'body' else ' or None'}, "
                                f"got {type(m).__name__}")
        self.body = body
        self.shortcut = shortcut
        self.activation = activation

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_array(x, "x")
        y = self.body.forward(x)
        skip = x if self.shortcut is None else self.shortcut.forward(x)
        self._check_add(y.shape, skip.shape)
        out = y + skip
        if self.activation is not None:
            out = self.activation.forward(out)
        return self._save(None, out)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._load(dout)
        g = dout if self.activation is None else self.activation.backward(dout)
        dx = self.body.backward(g)
        return dx + (g if self.shortcut is None else self.shortcut.backward(g))

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        y = tuple(self.body.output_shape(input_shape))
        skip = tuple(input_shape) if self.shortcut is None else tuple(
            self.shortcut.output_shape(input_shape))
        self._check_add(y, skip)
        return y if self.activation is None else tuple(self.activation.output_shape(y))

    def child_shapes(self, input_shape: tuple[int, ...]) -> list[tuple[str, Module, tuple]]:
        shape = tuple(input_shape)
        trace = [("body", self.body, shape)]
        if self.shortcut is not None:
            trace.append(("shortcut", self.shortcut, shape))
        if self.activation is not None:
            trace.append(("activation", self.activation, tuple(self.body.output_shape(shape))))
        return trace

    def _check_add(self, body_shape: tuple, skip_shape: tuple) -> None:
        if tuple(body_shape) != tuple(skip_shape):
            hint = (" (give a projection shortcut)" if self.shortcut is None else "")
            raise ValueError(f"body output shape {tuple(body_shape)} does not match the "
                             f"shortcut's {tuple(skip_shape)}{hint}")
