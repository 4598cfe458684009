"""Numerical gradient checks: compare a backward pass with central differences.

Typical use, for a pair of kernels that pass a cache between them::

    saved = {}

    def fwd(x, weight):
        out, saved["cache"] = conv2d_forward(x, weight)
        return out

    def bwd(dout):
        dx, dweight, _ = conv2d_backward(dout, saved["cache"])
        return {"x": dx, "weight": dweight}

    gradcheck(fwd, bwd, {"x": x, "weight": w})   # e.g. {'x': 2.7e-10, 'weight': 2.6e-10}
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._validate import check_array, check_choice, check_float, check_rng


def relative_error(a: np.ndarray, b: np.ndarray, eps: float = 1e-12) -> float:
    """Normwise relative error ``max|a - b| / max(eps, max(|a| + |b|))``.

    Parameters
    ----------
    a, b : ndarray (or real scalars) of the same shape
    eps : float, default 1e-12
        Floor of the denominator, so that two all-zero arrays give 0, not 0/0.

    Returns
    -------
    float

    Notes
    -----
    An elementwise error ``|a_i - b_i| / (|a_i| + |b_i|)`` is the textbook choice,
    but it explodes for entries that should be 0: a true gradient of ``1e-17``
    against a numerical one of ``3e-11`` (pure rounding noise) gives an
    elementwise error near 1 although both are "zero" at the scale of the array.
    Dividing the largest absolute difference by the largest magnitude measures
    the error relative to the size of the gradient as a whole, which is what
    a finite-difference check can actually resolve.
    """
    eps = check_float(eps, "eps", low=0.0, low_inclusive=False)
    a = _as_float_array(a, "a")
    b = _as_float_array(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"b must have the shape of a {a.shape}, got {b.shape}")
    if a.size == 0:
        return 0.0
    a = a.astype(np.float64, copy=False)
    b = b.astype(np.float64, copy=False)
    return float(np.max(np.abs(a - b)) / max(eps, float(np.max(np.abs(a) + np.abs(b)))))


def _as_float_array(value, name: str) -> np.ndarray:
    if isinstance(value, (int, float, np.floating)) and not isinstance(value, bool):
        return np.asarray(value, dtype=np.float64)
    return check_array(value, name)


def numerical_gradient(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6,
                       method: str = "central") -> np.ndarray:
    """Finite-difference gradient of a scalar function ``f()`` with respect to ``x``.

    Parameters
    ----------
    f : callable with no arguments returning a scalar
        Reads ``x`` (by closure); ``x`` is perturbed in place between calls.
    x : ndarray, float32 or float64
        Restored exactly (bit for bit) afterwards, even if ``f`` raises.
    eps : float, default 1e-6
        Step size, > 0.
    method : {"central", "forward"}, default "central"
        ``"forward"`` uses ``(f(x + eps e_i) - f(x)) / eps``, whose error is
        O(eps) instead of O(eps^2); it is here to show that difference.

    Returns
    -------
    grad : ndarray, shape and dtype of ``x``

    Notes
    -----
    .. math:: \\frac{\\partial f}{\\partial x_i} \\approx
              \\frac{f(x + \\varepsilon e_i) - f(x - \\varepsilon e_i)}{2\\varepsilon}

    The truncation error is O(eps^2) and the rounding error about
    ``machine_eps * |f| / eps``; in float64 ``eps = 1e-6`` balances both.  In
    float32 (machine epsilon 1e-7) ``x + 1e-6`` may even equal ``x``: use float64.
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    check_array(x, "x")
    eps = check_float(eps, "eps", low=0.0, low_inclusive=False)
    check_choice(method, "method", ("central", "forward"))
    if not x.flags.writeable:
        raise ValueError("x must be writeable: it is perturbed in place")
    grad = np.zeros_like(x)
    f_0 = _scalar(f()) if method == "forward" else None
    for index in np.ndindex(x.shape):
        original = x[index].copy()
        try:
            x[index] = original + eps
            f_plus = _scalar(f())
            if method == "central":
                x[index] = original - eps
                f_minus = _scalar(f())
        finally:
            x[index] = original
        if method == "central":
            grad[index] = (f_plus - f_minus) / (2 * eps)
        else:
            grad[index] = (f_plus - f_0) / eps
    return grad


def _scalar(value) -> float:
    arr = np.asarray(value)
    if arr.size != 1:
        raise ValueError(f"f must return a scalar, got an array of shape {arr.shape}")
    return float(arr.reshape(()))


def gradcheck(forward: Callable[..., np.ndarray],
              backward: Callable[[np.ndarray], dict[str, np.ndarray]],
              inputs: dict[str, np.ndarray], *, rng: np.random.Generator | int = 0,
              eps: float = 1e-6, tol: float = 1e-7,
              raise_on_failure: bool = True) -> dict[str, float]:
    """Compare analytic gradients with central differences.

    Parameters
    ----------
    forward : callable
        ``forward(**inputs)`` returns an array ``out``.
    backward : callable
        ``backward(G)`` returns a dict ``name -> gradient`` of ``L = sum(out * G)``
        for some (or all) of the inputs.  It is called right after one forward
        pass on the original inputs, so it may use a cache that forward stored.
    inputs : dict of str to float64 ndarray
        Copied; the caller's arrays are never touched.
    rng : Generator or int, default 0
        Draws the random upstream gradient ``G`` (standard normal, shape of out).
    eps : float, default 1e-6
        Central-difference step.
    tol : float, default 1e-7
        Largest accepted :func:`relative_error` per input.
    raise_on_failure : bool, default True
        Raise ``AssertionError`` when an error exceeds ``tol``.

    Returns
    -------
    dict of str to float
        Relative error of each gradient returned by ``backward``.

    Raises
    ------
    TypeError
        An input is not a float64 array: float32 central differences are too
        coarse (rounding error ~1e-7 / eps) to test anything.
    AssertionError
        Some error exceeds ``tol`` and ``raise_on_failure`` is true.

    Notes
    -----
    A random ``G`` rather than all ones makes every output entry matter with its
    own weight, so a gradient routed to the wrong place cannot cancel out.

    Thresholds (float64, ``eps = 1e-6``): smooth operations (conv, linear,
    average pooling, sigmoid, tanh, softmax) give errors around 1e-10 to 1e-9;
    below 1e-7 is a pass.  Errors of 1e-4 or more mean a bug.  Kinks produce false
    alarms: ReLU with an input within ``eps`` of 0, or max pooling with two window
    entries within ``eps`` of each other, make the two sides of the difference
    see different branches.  Keep test inputs away from them.
    """
    if not callable(forward):
        raise TypeError(f"forward must be callable, got {type(forward).__name__}")
    if not callable(backward):
        raise TypeError(f"backward must be callable, got {type(backward).__name__}")
    if not isinstance(inputs, dict) or not inputs:
        raise TypeError(f"inputs must be a non-empty dict of name -> float64 array, "
                        f"got {inputs!r:.80}")
    for name, value in inputs.items():
        if not isinstance(value, np.ndarray) or value.dtype != np.float64:
            got = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
            raise TypeError(f"inputs[{name!r}] must be a float64 array, got {got}: "
                            f"float32 central differences are too coarse to check a gradient")
    generator = check_rng(rng)
    eps = check_float(eps, "eps", low=0.0, low_inclusive=False)
    tol = check_float(tol, "tol", low=0.0, low_inclusive=False)
    arrays = {name: value.copy() for name, value in inputs.items()}

    out = np.asarray(forward(**arrays))
    upstream = generator.standard_normal(out.shape)
    analytic = backward(upstream.copy())
    if not isinstance(analytic, dict) or not analytic:
        raise TypeError(f"backward must return a non-empty dict of name -> gradient, "
                        f"got {type(analytic).__name__}")

    def loss() -> float:
        return float(np.sum(np.asarray(forward(**arrays)) * upstream))

    errors = {}
    for name, grad in analytic.items():
        if name not in arrays:
            raise ValueError(f"backward returned a gradient for {name!r}, which is not one of "
                             f"the inputs {sorted(arrays)}")
        grad = np.asarray(grad)
        if grad.shape != arrays[name].shape:
            raise ValueError(f"backward: gradient for {name!r} has shape {grad.shape}, "
                             f"expected {arrays[name].shape}")
        errors[name] = relative_error(grad, numerical_gradient(loss, arrays[name], eps))
    failed = {name: err for name, err in errors.items() if err > tol}
    if failed and raise_on_failure:
        report = ", ".join(f"{name!r}: relative error {err:.3e}" for name, err in failed.items())
        raise AssertionError(f"gradcheck failed for {report} (tol {tol:.1e})")
    return errors


def module_gradcheck(module, x: np.ndarray, *, rng=0, eps: float = 1e-6, tol: float = 1e-7,
                     raise_on_failure: bool = True) -> dict[str, float]:
    """:func:`gradcheck` of a layer or model with respect to its input and every parameter.

    Parameters
    ----------
    module : cnnlab.module.Module
        Its parameters must be float64 (build it with ``dtype=np.float64``).
        They are restored afterwards; their gradients are left as computed.
    x : ndarray, float64
        The input.
    rng, eps, tol, raise_on_failure
        As in :func:`gradcheck`.

    Returns
    -------
    dict
        Relative error for ``"x"`` and for each parameter's dotted name.
    """
    params = dict(module.named_parameters())
    originals = {name: p.data for name, p in params.items()}
    inputs = {"x": x, **{name: data.copy() for name, data in originals.items()}}

    def forward(x, **arrays):
        for name, array in arrays.items():
            params[name].data = array
        return module.forward(x)

    def backward(g):
        module.zero_grad()
        dx = module.backward(g)
        return {"x": dx, **{name: p.grad for name, p in params.items()}}

    try:
        return gradcheck(forward, backward, inputs, rng=rng, eps=eps, tol=tol,
                         raise_on_failure=raise_on_failure)
    finally:
        for name, data in originals.items():
            params[name].data = data
