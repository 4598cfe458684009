"""Column layouts, im2col and col2im behind the fast convolution (internal).

:func:`cnnlab.conv.conv2d_forward` turns a convolution into one matrix product

    out_cols (C_out, M) = W_mat (C_out, K) @ cols (K, M),   K = C_in*kH*kW,

where each column of ``cols`` is one receptive field.  Rows are channel-major,
``(c, p, q)``, so ``W_mat`` is ``weight.reshape(C_out, K)``.  Columns are output
positions of the whole batch, so one large GEMM replaces N small ones.  The
order of the columns is chosen per shape so that every copy moves long
contiguous runs (NumPy pays per run, so runs of 10 floats are expensive):

``batch_last`` (stride 1 and a batch at least twice the output width; float64
    strided convolutions with N >= 16)
    columns ``(i, j, n)``; the input is reordered to ``(C, H_pad, W_pad, N)``,
    so a window offset slice is contiguous over ``(j, n)``.  Strided, the input is
    stored split into its ``s_h * s_w`` stride phases (``Plan.phased``): offset
    ``(p, q)`` reads only phase ``(p mod s_h, q mod s_w)``, with unit stride, so its
    slice is again contiguous over ``(j, n)``.
``wide`` (stride 1 otherwise, if the padded width adds at most 25 %)
    columns ``(n, i, j')`` with ``j'`` running over the whole *padded* width.
    Then the window at offset ``(p, q)`` is one flat slice of the padded
    ``(C, N, H_pad*W_pad)`` input starting at ``p*W_pad + q``.  The
    ``W_pad - W_out`` extra columns per row are wasted GEMM work whose outputs are
    dropped; in backward their upstream gradient is zero, so they add nothing.
``plain`` (everything else, e.g. float32 strided convolutions)
    columns ``(n, i, j)``, one strided slice per window offset.

Buffers are reused, because a fresh large array costs more than filling it:
the operating system maps and zeroes its pages at first touch.  Each geometry
(a :class:`Plan`) has a :class:`Workspace` per thread: scratch arrays
(:func:`workspace`: the padded input, the output and gradient grids, the staging
copies) and the columns (:func:`reusable`), which the forward cache keeps for
backward and which are handed out again only once nothing refers to them.

Memory is bounded and returns: the registry of workspaces holds them *weakly*;
the forward cache of a convolution holds its workspace (``cache["workspace"]``).
So the scratch of a geometry lives exactly as long as some cache of it, e.g. a
``Conv2d`` layer's last forward pass (which is when reuse pays: the next step has
the same shapes), and is freed with the last one, ``del cache`` or ``del model``.
A workspace holds one scratch array per role and at most ``MAX_SPARE`` columns
arrays.  :func:`release` empties every workspace of the thread at once.
"""
from __future__ import annotations

import math
import sys
import threading
import weakref
from typing import NamedTuple

import numpy as np

from ._validate import check_memory

MAX_SPARE = 16  # columns arrays a workspace keeps for reuse (in use by caches or not)
_local = threading.local()


class Workspace:
    """The reusable arrays of one convolution geometry in one thread."""

    __slots__ = ("buffers", "pool", "__weakref__")

    def __init__(self) -> None:
        self.buffers: dict[tuple, np.ndarray] = {}
        self.pool: list[np.ndarray] = []  # columns, most recently used last

    def nbytes(self) -> int:
        return sum(a.nbytes for a in (*self.buffers.values(), *self.pool))

    def clear(self) -> None:
        self.buffers.clear()
        self.pool.clear()


def workspace_for(plan: Plan) -> Workspace:
    """This thread's workspace for ``plan``, created if no cache holds one any more.

    Keep a reference (a forward cache does) for as long as its buffers should live.
    """
    spaces = getattr(_local, "spaces", None)
    if spaces is None:
        spaces = _local.spaces = weakref.WeakValueDictionary()
    space = spaces.get(plan)
    if space is None:
        space = spaces[plan] = Workspace()
    return space


def release() -> None:
    """Empty this thread's workspaces; the arrays are rebuilt on demand."""
    for space in list(getattr(_local, "spaces", {}).values()):
        space.clear()
    _local.__dict__.clear()


def nbytes() -> int:
    """Bytes in this thread's live workspaces (scratch and columns, in use or spare)."""
    return sum(space.nbytes() for space in list(getattr(_local, "spaces", {}).values()))


def workspace(name: str, plan: Plan, shape: tuple[int, ...], dtype, zero: bool = False
              ) -> np.ndarray:
    """Scratch array of ``plan``'s workspace, reused between calls with the same role and shape.

    ``zero=True`` zero-fills it once, when it is created: callers that keep some
    region at zero and overwrite the rest every time rely on that.  The array is
    overwritten by the next call with the same key, so never return it.
    """
    buffers = workspace_for(plan).buffers
    key = (name, shape, np.dtype(dtype).str)
    buf = buffers.get(key)
    if buf is None:
        buf = buffers[key] = (np.zeros if zero else np.empty)(shape, dtype)
    return buf


def _refcount(pool: list, i: int) -> int:
    buf = pool[i]
    return sys.getrefcount(buf)


_FREE = _refcount([np.empty(0)], 0)  # what _refcount says of an array only a pool holds


def reusable(plan: Plan, shape: tuple[int, ...], dtype) -> np.ndarray:
    """An uninitialised array that may outlive the call, e.g. columns kept in a cache.

    It is one handed out before if nothing refers to that one any more (not a
    cache, not a view, not a caller's name; the reference count tells), else new.
    """
    pool = workspace_for(plan).pool
    for i in range(len(pool)):
        if pool[i].shape == shape and pool[i].dtype == dtype and _refcount(pool, i) == _FREE:
            pool.append(pool.pop(i))  # most recently used last
            return pool[-1]
    pool.append(np.empty(shape, dtype))
    if len(pool) > MAX_SPARE:
        pool.pop(0)  # the least recently used; if a cache still holds it, it lives on there
    return pool[-1]


class Plan(NamedTuple):
    """Geometry of one convolution and the column order chosen for it (all ints/bools)."""

    batch_last: bool
    wide: bool
    n: int
    c: int
    h: int
    w: int
    kh: int
    kw: int
    sh: int
    sw: int
    dh: int  # dilation
    dw: int
    top: int
    left: int
    hp: int  # padded height and width
    wp: int
    ho: int  # output height and width
    wo: int

    @property
    def phased(self) -> bool:
        """Batch-last and strided: the padded input is stored split into stride phases."""
        return self.batch_last and (self.sh, self.sw) != (1, 1)

    @property
    def grid(self) -> tuple[int, int, int]:
        """Shape of the column index: ``(H_out, W_out, N)`` or ``(N, H_out, W_grid)``."""
        if self.batch_last:
            return (self.ho, self.wo, self.n)
        return (self.n, self.ho, self.wp if self.wide else self.wo)

    @property
    def padded_shape(self) -> tuple[int, int, int, int]:
        """Shape of the reordered, zero padded input.

        Phased: ``(C, s_h, s_w, ceil(H_pad/s_h), ceil(W_pad/s_w), N)``, where
        ``[c, a, b, t, u, n]`` holds padded pixel ``(t*s_h + a, u*s_w + b)``.
        """
        if self.phased:
            return (self.c, self.sh, self.sw, -(-self.hp // self.sh), -(-self.wp // self.sw),
                    self.n)
        if self.batch_last:
            return (self.c, self.hp, self.wp, self.n)
        return (self.c, self.n, self.hp, self.wp)

    @property
    def to_grid(self) -> tuple[int, int, int, int]:
        """Axis permutation taking an NCHW array to the padded input's order."""
        return (1, 2, 3, 0) if self.batch_last else (1, 0, 2, 3)

    @property
    def to_nchw(self) -> tuple[int, int, int, int]:
        """Inverse of :attr:`to_grid`."""
        return (3, 0, 1, 2) if self.batch_last else (1, 0, 2, 3)


def make_plan(x_shape: tuple[int, ...], kernel: tuple[int, int], stride: tuple[int, int],
              pads: tuple[int, int, int, int], out_hw: tuple[int, int],
              itemsize: int = 4, dilation: tuple[int, int] = (1, 1)) -> Plan:
    """Choose the column order for a convolution (see the module docstring).

    The thresholds are measured, not derived: batch-last pays four transposes
    with N-long runs, wide pays ``W_pad / W_out`` more GEMM work, plain pays one
    run per output row.  Strided windows of 8-byte items are the exception: NumPy
    copies them element by element about four times slower than 4-byte ones, so
    float64 takes the batch-last order, whose runs stay N long, when N >= 16.
    """
    n, c, h, w = x_shape
    top, bottom, left, right = pads
    hp, wp = h + top + bottom, w + left + right
    ho, wo = out_hw
    unit_stride = tuple(stride) == (1, 1)
    if unit_stride:
        batch_last = n >= 2 * wo
    else:
        batch_last = itemsize >= 8 and n >= 16
    wide = unit_stride and not batch_last and 4 * wp <= 5 * wo
    return Plan(batch_last, wide, n, c, h, w, *kernel, *stride, *dilation, top, left, hp, wp,
                ho, wo)


def _padded_buffer(name: str, plan: Plan, dtype) -> tuple[np.ndarray, np.ndarray | None]:
    """Zero-initialised workspace of ``plan.padded_shape``, and its flat storage if wide.

    In the wide layout the buffer is a view of a flat array with a zero tail:
    the window slices start up to ``(kH-1)*d_h*W_pad + (kW-1)*d_w`` elements in.
    """
    if not plan.wide:
        return workspace(name, plan, plan.padded_shape, dtype, zero=True), None
    size = plan.c * plan.n * plan.hp * plan.wp
    tail = (plan.kh - 1) * plan.dh * plan.wp + (plan.kw - 1) * plan.dw + 1
    flat = workspace(name, plan, (size + tail,), dtype, zero=True)
    return flat[:size].reshape(plan.padded_shape), flat


def _interior(buf: np.ndarray, plan: Plan):
    """Yield ``(view, rows, cols)``: parts of the unpadded input inside a buffer of
    ``plan.padded_shape`` and where they come from, ``x[:, :, rows, cols]``.

    One part, unless the buffer is phased: then one per stride phase.
    """
    if not plan.phased:
        rows, cols = slice(plan.top, plan.top + plan.h), slice(plan.left, plan.left + plan.w)
        yield (buf[:, rows, cols, :] if plan.batch_last else buf[:, :, rows, cols]), \
            slice(None), slice(None)
        return

    def split(size, before, step, phase):  # (first index in the phase, x's slice)
        first = -(-(before - phase) // step)  # the phase's first row at or after `before`
        start = first * step + phase - before
        return first, len(range(start, size, step)), slice(start, size, step)

    for a in range(plan.sh):
        t0, nh, rows = split(plan.h, plan.top, plan.sh, a)
        for b in range(plan.sw):
            u0, nw, cols = split(plan.w, plan.left, plan.sw, b)
            if nh and nw:
                yield buf[:, a, b, t0:t0 + nh, u0:u0 + nw, :], rows, cols


def _windows(buf: np.ndarray, plan: Plan, flat: np.ndarray | None = None):
    """Yield ``(p, q, view)``: what kernel offset ``(p, q)`` sees, shaped ``(C, *grid)``.

    ``view[c, <grid index of (n, i, j)>] = buf[c, <n>, i*s_h + p*d_h, j*s_w + q*d_w]``.
    The wide layout reads from ``flat``, the storage of ``buf``.
    """
    if plan.wide:  # flat slices: grid row i runs on into padded row i+1
        size, plane = buf.size, plan.hp * plan.wp
        for p in range(plan.kh):
            for q in range(plan.kw):
                start = p * plan.dh * plan.wp + q * plan.dw
                shifted = flat[start:start + size].reshape(plan.c, plan.n, plane)
                yield p, q, shifted[:, :, :plan.ho * plan.wp].reshape(plan.c, *plan.grid)
        return
    if plan.phased:  # offset (p, q) reads one phase, unit stride: runs of W_out*N items
        for p in range(plan.kh):
            t, a = divmod(p * plan.dh, plan.sh)
            for q in range(plan.kw):
                u, b = divmod(q * plan.dw, plan.sw)
                yield p, q, buf[:, a, b, t:t + plan.ho, u:u + plan.wo, :]
        return
    for p in range(plan.kh):
        r0 = p * plan.dh
        rows = slice(r0, r0 + plan.sh * (plan.ho - 1) + 1, plan.sh)
        for q in range(plan.kw):
            c0 = q * plan.dw
            cols = slice(c0, c0 + plan.sw * (plan.wo - 1) + 1, plan.sw)
            yield p, q, (buf[:, rows, cols, :] if plan.batch_last else buf[:, :, rows, cols])


def _staged(src: np.ndarray, perm: tuple[int, ...], plan: Plan) -> np.ndarray:
    """``src``, or a copy of it with padded rows, ready for ``.transpose(perm)``.

    A copy into ``src.transpose(perm)`` order takes the elements of ``src`` along axis
    ``a = perm[-1]`` in turn.  When that stride is a multiple of 512 bytes (the sample
    stride of many NCHW arrays, or N items of a batch-last one), they share a few
    cache sets and the copy runs 1.3 to 4 times slower (measured).  So ``src`` is
    first copied, in long runs, into rows (all axes after ``a``) padded by 64 bytes.
    """
    a = perm[-1]
    if abs(src.strides[a]) % 512 or src.size < 4096:
        return src
    row = src[(0,) * (a + 1)].size  # elements in one row: axes a+1, ...
    rows = workspace("staging", plan, (*src.shape[:a + 1], row + 64 // src.itemsize),
                     src.dtype)[..., :row]
    staged = rows.reshape(src.shape)
    np.copyto(staged, src)
    return staged


def im2col(x: np.ndarray, plan: Plan) -> np.ndarray:
    """Columns ``(C, kH, kW, *grid)`` of ``x`` (N, C, H, W), in a :func:`reusable` array.

    One contiguous-run copy per kernel offset: kH*kW copies, no loop over pixels
    or samples.  Reshape to ``(C*kH*kW, M)`` for the matrix product.
    """
    if not (plan.batch_last or plan.wide) and (plan.hp, plan.wp) == (plan.h, plan.w):
        xp, flat = x.transpose(plan.to_grid), None  # nothing to pad: read x in place
    else:
        xp, flat = _padded_buffer("im2col_input", plan, x.dtype)
        for part, rows, cols in _interior(xp, plan):
            np.copyto(part, _staged(x[:, :, rows, cols], plan.to_grid, plan)
                      .transpose(plan.to_grid))
    shape = (plan.c, plan.kh, plan.kw, *plan.grid)
    check_memory(math.prod(shape) * x.itemsize, "x, weight",
                 f"the im2col columns {shape} of x {x.shape} for a {plan.kh}x{plan.kw} kernel")
    cols = reusable(plan, shape, x.dtype)
    for p, q, view in _windows(xp, plan, flat):
        cols[:, p, q] = view
    return cols


def col2im(dcols: np.ndarray, plan: Plan) -> np.ndarray:
    """Add columns ``(C, kH, kW, *grid)`` back onto the input: ``dx`` (N, C, H, W), new.

    Overlapping windows are summed with one slice-add per kernel offset (never
    ``np.add.at``); strided convolutions need no zero-dilated gradient.
    """
    dxp, flat = _padded_buffer("col2im_output", plan, dcols.dtype)
    (dxp if flat is None else flat).fill(0)
    for p, q, view in _windows(dxp, plan, flat):
        view += dcols[:, p, q]
    dx = np.empty((plan.n, plan.c, plan.h, plan.w), dtype=dcols.dtype)
    for part, rows, cols in _interior(dxp, plan):  # together they write every entry of dx
        np.copyto(dx[:, :, rows, cols], _staged(part, plan.to_nchw, plan).transpose(plan.to_nchw))
    return dx


def grid_to_nchw(a: np.ndarray, plan: Plan, bias: np.ndarray | None = None) -> np.ndarray:
    """``(C_out, *grid)`` -> new ``(N, C_out, H_out, W_out)`` array, plus ``bias`` per channel."""
    if plan.wide:
        a = a[..., :plan.wo]  # drop the padded-width columns
    view = _staged(a, plan.to_nchw, plan).transpose(plan.to_nchw)
    out = np.empty(view.shape, dtype=a.dtype)
    if bias is None:
        np.copyto(out, view)
    else:
        np.add(view, bias[:, None, None], out=out)  # transpose and bias in one pass
    return out


def nchw_to_grid(dout: np.ndarray, plan: Plan) -> np.ndarray:
    """``(N, C_out, H_out, W_out)`` -> ``(C_out, *grid)`` scratch array.

    The padded-width columns of the wide layout stay zero (set once at creation).
    """
    g = workspace("grid", plan, (dout.shape[1], *plan.grid), dout.dtype, zero=plan.wide)
    valid = g[..., :plan.wo] if plan.wide else g
    np.copyto(valid, _staged(dout, plan.to_grid, plan).transpose(plan.to_grid))
    return g
