"""Base classes: ``Parameter``, ``Module`` and the containers ``Sequential``, ``Concat``,
``Residual``.

A layer is a thin object around the pure functional kernels: it owns its
parameters (each a :class:`Parameter` holding ``.data`` and ``.grad`` side by
side), a ``training`` flag, and the cache of its last forward pass.  The
containers are written in ``cnnlab/containers.py`` and importable from here.

Gradients **accumulate**, as in PyTorch: every ``backward`` call *adds* the new
gradient to ``Parameter.grad``.  Call ``zero_grad()`` (on the model or on the
optimiser) before each backward pass of a training step.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._validate import check_array, check_same_shape
from .checkpoints import check_state
from .init import check_not_meta, is_meta_array


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
        """Whether this parameter has a shape but no values (built inside
        :func:`cnnlab.init.meta`)."""
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
        raise NotImplementedError(self._missing("forward(x)"))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """Return ``dx`` for the last forward pass; *add* parameter gradients to ``.grad``.

        ``dout`` (same shape as the last output) is never modified. Raises
        ``RuntimeError`` if no forward pass has run yet.
        """
        raise NotImplementedError(self._missing("backward(dout)"))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        check_not_meta(self)
        return self.forward(x)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of ``forward(x)`` for an ``x`` of ``input_shape`` (batch dim included).

        Pure shape arithmetic: no data is created.  :func:`cnnlab.analysis.summary`
        needs it for every layer.
        """
        raise NotImplementedError(self._missing("output_shape(input_shape)"))

    def _missing(self, method: str) -> str:
        return (f"{type(self).__name__} does not implement {method}: a subclass of "
                f"cnnlab.module.Module defines it")

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

    def macs(self, input_shape: tuple[int, ...]) -> int:
        """Multiply-accumulates of one forward pass on an input of ``input_shape`` (batch included).

        Shape arithmetic only, like :meth:`output_shape`. This default adds up
        the children reached through :meth:`child_shapes` (so ``Sequential``,
        ``Concat`` and ``Residual`` sum their layers) and is 0 for a leaf:
        activations, pooling, normalisation and reshapes do no multiply-accumulates
        by the rule of :func:`cnnlab.analysis.summary`. Layers with weights that
        multiply their inputs (``Conv2d``, ``Linear``, ...) override it.
        """
        return int(sum(child.macs(shape) for _, child, shape in self.child_shapes(input_shape)))

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

    def _modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """Yield ``(dotted prefix, module)`` for this module and every descendant, once each.

        Depth first, a module before its children; a module that appears in
        several places (a layer used twice) is yielded at its first place only.
        """
        seen, stack = set(), [(prefix, self)]
        while stack:
            path, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield path, module
            children = [(f"{path}{name}.", child) for name, child in module.named_children()]
            stack.extend(reversed(children))

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Yield ``(dotted_name, parameter)``, e.g. ``("0.weight", p)``, own ones first.

        Each parameter is yielded once, under its first name, even if its layer
        appears twice in the model (as ``torch.nn.Module.named_parameters``), so
        an optimiser updates it once per step.
        """
        seen = set()
        for path, module in self._modules(prefix):
            for name, value in vars(module).items():
                if isinstance(value, Parameter) and id(value) not in seen:
                    seen.add(id(value))
                    yield path + name, value

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        """Yield ``(dotted_name, array)`` for every buffer, e.g. ``("1.running_mean", a)``."""
        for path, module in self._modules(prefix):
            for name in module._buffer_names:
                yield path + name, getattr(module, name)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer, keyed by dotted name.

        Raises ``RuntimeError`` for a model built inside :func:`cnnlab.init.meta`
        (it has shapes but no values to copy).
        """
        check_not_meta(self, "saved")
        state = {name: p.data.copy() for name, p in self.named_parameters()}
        state.update((name, b.copy()) for name, b in self.named_buffers())
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy ``state`` (from :meth:`state_dict`) into this module's parameters and buffers.

        Every entry is checked first, names, shapes, dtypes and values, so a
        call that raises changes nothing.  Dtypes must match exactly (a float64
        array is not cast into float32 parameters silently) and every value
        must be finite.

        Raises
        ------
        TypeError
            ``state`` is not a mapping of arrays, or an entry's dtype differs
            from the module's.
        KeyError
            ``state`` lacks an entry of this module or has one it does not know.
        ValueError
            An entry's shape differs from the module's, or it holds NaN or infinity.
        RuntimeError
            The module was built inside :func:`cnnlab.init.meta`.
        """
        for target, value in check_state(self, state, "state"):
            target[...] = value

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


# The containers have their own module; they are re-exported here, where they were
# first defined (``cnnlab.module.Sequential`` and the book's references keep working).
from .containers import Concat, Identity, Residual, Sequential  # noqa: E402

__all__ = ["Parameter", "Module", "Sequential", "Identity", "Concat", "Residual"]
