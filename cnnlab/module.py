"""Base classes: ``Parameter``, ``Module`` and the containers ``Sequential``, ``Concat``, ``Residual``.

A layer is a thin object around the pure functional kernels: it owns its
parameters (each a :class:`Parameter` holding ``.data`` and ``.grad`` side by
side), a ``training`` flag, and the cache of its last forward pass.

Gradients **accumulate**, as in PyTorch: every ``backward`` call *adds* the new
gradient to ``Parameter.grad``.  Call ``zero_grad()`` (on the model or on the
optimiser) before each backward pass of a training step.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._validate import check_array, check_int, check_same_shape
from .init import is_meta_array


class Parameter:
    """A learnable array and its gradient.

    Parameters
    ----------
    data : ndarray
        The values. Stored as given (not copied).
    requires_grad : bool, default True
        ``False`` freezes the parameter: optimisers skip it and ``summary``
        does not count it as trainable. Its gradient is still computed.

    Attributes
    ----------
    data : ndarray
    grad : ndarray, same shape and dtype as ``data``
        Accumulated gradient of the loss; starts at zero, reset by :meth:`zero_grad`.
    """

    def __init__(self, data: np.ndarray, requires_grad: bool = True) -> None:
        check_array(data, "data")
        self.data = data
        self.requires_grad = bool(requires_grad)
        self.zero_grad()

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def is_meta(self) -> bool:
        """Whether this parameter has a shape but no values (built inside :func:`cnnlab.init.meta`)."""
        return is_meta_array(self.data)

    def zero_grad(self) -> None:
        """Reset the accumulated gradient to zeros (a meta parameter's stays shape-only)."""
        self.grad = self.data if self.is_meta else np.zeros_like(self.data)

    def accumulate(self, grad: np.ndarray) -> None:
        """Add ``grad`` to ``self.grad`` (shapes must agree)."""
        check_same_shape(grad, "grad", self.data.shape)
        self.grad = self.grad + grad.astype(self.data.dtype, copy=False)

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class Module:
    """Base class of every layer and model.

    Subclasses implement ``forward``, ``backward`` and ``output_shape``.
    Parameters are found by looking at the instance attributes: every
    :class:`Parameter` attribute is a parameter of this module and every
    :class:`Module` attribute is a child, in the order they were assigned.
    Buffers are arrays that are state but not parameters (batch norm's running
    statistics): a subclass lists their attribute names in ``_buffer_names``.
    """

    _buffer_names: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.training = True
        self._cache = None
        self._out_shape: tuple[int, ...] | None = None

    # --- computation -------------------------------------------------------
    def forward(self, x: np.ndarray) -> np.ndarray:
        """Compute the output and remember what ``backward`` needs."""
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """Return ``dx`` for the last forward pass; *add* parameter gradients to ``.grad``.

        ``dout`` (same shape as the last output) is never modified. Raises
        ``RuntimeError`` if no forward pass has run yet.
        """
        raise NotImplementedError

    def __call__(self, x: np.ndarray) -> np.ndarray:
        check_not_meta(self)
        return self.forward(x)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of ``forward(x)`` for an ``x`` of ``input_shape`` (batch dim included).

        Pure shape arithmetic: no data is created.
        """
        raise NotImplementedError

    def _save(self, cache, out: np.ndarray) -> np.ndarray:
        """Remember the forward cache and output shape; return ``out``."""
        self._cache = cache
        self._out_shape = out.shape
        return out

    def _load(self, dout: np.ndarray):
        """Check ``dout`` against the last forward pass and return its cache."""
        if self._out_shape is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        check_array(dout, "dout")
        check_same_shape(dout, "dout", self._out_shape)
        return self._cache

    def child_shapes(self, input_shape: tuple[int, ...]) -> list[tuple[str, Module, tuple]]:
        """How an input of ``input_shape`` reaches each child: ``(name, child, its input shape)``.

        A leaf layer returns ``[]``. Containers override this so that
        :func:`cnnlab.analysis.summary` can walk them with shapes alone.
        """
        return []

    # --- structure ---------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Yield ``(name, child)`` for each direct sub-module."""
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value

    def children(self) -> Iterator[Module]:
        """Yield each direct sub-module."""
        for _, child in self.named_children():
            yield child

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Yield ``(dotted_name, parameter)``, e.g. ``("0.weight", p)``, own ones first."""
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield prefix + name, value
        for name, child in self.named_children():
            yield from child.named_parameters(prefix + name + ".")

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        """Yield ``(dotted_name, array)`` for every buffer, e.g. ``("1.running_mean", a)``."""
        for name in self._buffer_names:
            yield prefix + name, getattr(self, name)
        for name, child in self.named_children():
            yield from child.named_buffers(prefix + name + ".")

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer, keyed by dotted name."""
        state = {name: p.data.copy() for name, p in self.named_parameters()}
        state.update((name, b.copy()) for name, b in self.named_buffers())
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy ``state`` (from :meth:`state_dict`) into this module's parameters and buffers.

        Raises
        ------
        KeyError
            ``state`` lacks an entry of this module or has one it does not know.
        ValueError
            An entry's shape differs from the module's.
        """
        targets = {name: p.data for name, p in self.named_parameters()}
        targets.update(self.named_buffers())
        missing = sorted(set(targets) - set(state))
        unexpected = sorted(set(state) - set(targets))
        if missing or unexpected:
            raise KeyError(f"state: missing entries {missing}, unexpected entries {unexpected}")
        for name, target in targets.items():
            value = np.asarray(state[name])
            if value.shape != target.shape:
                raise ValueError(f"state[{name!r}]: expected shape {target.shape}, "
                                 f"got {value.shape}")
        for name, target in targets.items():  # all checked first: a failure changes nothing
            target[...] = state[name]

    def parameters(self) -> Iterator[Parameter]:
        """Yield every parameter, in the order of :meth:`named_parameters`."""
        for _, p in self.named_parameters():
            yield p

    def zero_grad(self) -> None:
        """Reset the gradient of every parameter to zero."""
        for p in self.parameters():
            p.zero_grad()

    def num_parameters(self) -> int:
        """Total number of scalar parameters (``sum(p.data.size)``)."""
        return int(sum(p.data.size for p in self.parameters()))

    def train(self, mode: bool = True) -> Module:
        """Set the ``training`` flag here and in every child; return ``self``."""
        if not isinstance(mode, bool):
            raise TypeError(f"mode must be a bool, got {mode!r}")
        self.training = mode
        for child in self.children():
            child.train(mode)
        return self

    def eval(self) -> Module:
        """Switch to evaluation mode (``train(False)``); return ``self``."""
        return self.train(False)

    def extra_repr(self) -> str:
        """The text inside the parentheses of ``repr``; override in subclasses."""
        return ""

    def __repr__(self) -> str:
        lines = [f"  ({name}): " + repr(child).replace("\n", "\n  ")
                 for name, child in self.named_children()]
        if not lines:
            return f"{type(self).__name__}({self.extra_repr()})"
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


def check_not_meta(model: Module) -> None:
    """Raise ``RuntimeError`` if ``model`` has shape-only parameters (see :func:`cnnlab.init.meta`)."""
    for name, p in model.named_parameters():
        if p.is_meta:
            raise RuntimeError(f"{type(model).__name__} was built inside cnnlab.init.meta(): "
                               f"parameter {name!r} {p.shape} has a shape but no values, so the "
                               f"model can be summarised but not run or trained (build it "
                               f"without meta)")


def check_dtype(dtype) -> np.dtype:
    """Return ``np.dtype(dtype)`` if it is float32 or float64 (a layer's parameter dtype)."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be np.float32 or np.float64, got {dtype!r}") from None
    if dt not in (np.float32, np.float64):
        raise ValueError(f"dtype must be np.float32 or np.float64, got {dt}")
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


class Sequential(Module):
    """Apply ``layers`` one after another; backward runs them in reverse.

    Children are named ``"0"``, ``"1"``, ... so parameters are ``"0.weight"`` etc.
    Supports ``len``, iteration and indexing (a slice gives a new ``Sequential``
    sharing the same layers).
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
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

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
        for branch, part in zip(self.branches, parts):
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
