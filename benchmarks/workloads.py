"""What the benchmark measures: cnnlab, a textbook im2col, bare GEMMs, PyTorch and LeNet-5.

Every ``*_setup`` function builds its data from a seed and returns a dict of
zero-argument callables to time; the NumPy ones never import torch and the
torch ones are only called in worker processes of their own (see ``bench.py``).
:func:`verify` checks, before any timing, that they all compute the same numbers.
"""
from __future__ import annotations

import numpy as np

from report import CONV_KEYS, label

SEED = 0
RTOL = {"float32": 1e-4, "float64": 1e-10}  # verification: max error / max |reference|


def conv_data(case: dict, dtype: str):
    """``x, weight, bias, dout`` of a conv case, identical in every process."""
    n, c, h, w, o, k, s, p = (case[key] for key in CONV_KEYS)
    rng = np.random.default_rng(SEED)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    weight = (rng.standard_normal((o, c, k, k)) * np.sqrt(2.0 / (c * k * k))).astype(dtype)
    bias = rng.standard_normal(o).astype(dtype)
    ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    dout = rng.standard_normal((n, o, ho, wo)).astype(dtype)
    return x, weight, bias, dout


# ------------------------------------------------- the "typical NumPy" version
# The CS231n-style im2col: fancy-index gathers for im2col, np.add.at for col2im,
# columns ordered (c, p, q) x (i, j, n), indices recomputed at every call.


def _textbook_indices(x_shape, k, stride, pad):
    _, c, h, w = x_shape
    ho, wo = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    rows = np.tile(np.repeat(np.arange(k), k), c)[:, None] + stride * np.repeat(np.arange(ho), wo)
    cols = np.tile(np.arange(k), k * c)[:, None] + stride * np.tile(np.arange(wo), ho)
    chans = np.repeat(np.arange(c), k * k)[:, None]
    return chans, rows, cols, ho, wo


def textbook_forward(x, weight, bias, stride, pad):
    o, _, k, _ = weight.shape
    chans, rows, cols, ho, wo = _textbook_indices(x.shape, k, stride, pad)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    patches = xp[:, chans, rows, cols]                        # (N, C*k*k, L)
    patches = patches.transpose(1, 2, 0).reshape(chans.shape[0], -1)
    out = weight.reshape(o, -1) @ patches + bias[:, None]     # (O, L*N)
    out = out.reshape(o, ho, wo, x.shape[0]).transpose(3, 0, 1, 2)
    return out, (x.shape, weight, patches, stride, pad)


def textbook_backward(dout, cache):
    x_shape, weight, patches, stride, pad = cache
    n, c, h, w = x_shape
    o, _, k, _ = weight.shape
    dbias = dout.sum(axis=(0, 2, 3))
    g = dout.transpose(1, 2, 3, 0).reshape(o, -1)
    dweight = (g @ patches.T).reshape(weight.shape)
    dpatches = weight.reshape(o, -1).T @ g                    # (C*k*k, L*N)
    chans, rows, cols, _, _ = _textbook_indices(x_shape, k, stride, pad)
    dxp = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=dout.dtype)
    dpatches = dpatches.reshape(c * k * k, -1, n).transpose(2, 0, 1)
    np.add.at(dxp, (slice(None), chans, rows, cols), dpatches)
    return dxp[:, :, pad:pad + h, pad:pad + w], dweight, dbias


# ------------------------------------------------------------------- NumPy side


def conv_numpy_setup(case: dict, dtype: str, which: str) -> dict:
    """Timed callables of one conv case: ``which`` in {cnnlab, textbook, gemm, naive, parts}."""
    from cnnlab.conv import conv2d_backward, conv2d_backward_naive, conv2d_forward, conv2d_naive
    if which == "parts":
        return conv_parts_setup(case, dtype)
    x, weight, bias, dout = conv_data(case, dtype)
    s, p = case["stride"], case["pad"]
    if which == "cnnlab":
        _, cache = conv2d_forward(x, weight, bias, s, p)
        return {"forward": lambda: conv2d_forward(x, weight, bias, s, p),
                "backward": lambda: conv2d_backward(dout, cache),
                "fwd_bwd": lambda: conv2d_backward(dout, conv2d_forward(x, weight, bias, s, p)[1])}
    if which == "textbook":
        _, cache = textbook_forward(x, weight, bias, s, p)
        return {"forward": lambda: textbook_forward(x, weight, bias, s, p),
                "backward": lambda: textbook_backward(dout, cache),
                "fwd_bwd": lambda: textbook_backward(dout, textbook_forward(x, weight, bias,
                                                                           s, p)[1])}
    if which == "naive":
        return {"fwd_bwd": lambda: (conv2d_naive(x, weight, bias, s, p),
                                    conv2d_backward_naive(dout, x, weight, bias, s, p))}
    # the practical limit: the three GEMMs of im2col on random operands, written
    # into preallocated outputs (no im2col, no reordering, no allocation)
    o, kk, m = weight.shape[0], weight[0].size, dout[:, 0].size
    rng = np.random.default_rng(SEED + 1)
    a, g = weight.reshape(o, kk), dout.transpose(1, 0, 2, 3).reshape(o, m).copy()
    b = rng.standard_normal((kk, m)).astype(dtype)
    out, dw, dcols = np.empty((o, m), dtype), np.empty((o, kk), dtype), np.empty((kk, m), dtype)

    def forward():
        np.matmul(a, b, out=out)

    def backward():
        np.matmul(g, b.T, out=dw)
        np.matmul(a.T, g, out=dcols)

    return {"forward": forward, "backward": backward, "fwd_bwd": lambda: (forward(), backward())}


# The steps of cnnlab's forward and backward pass, in order; "gemm_*" are its three products.
CONV_PARTS = ("im2col", "gemm_forward", "to_nchw", "to_grid", "dbias", "gemm_dweight",
              "gemm_dcols", "col2im")


def conv_parts_setup(case: dict, dtype: str) -> dict:
    """Where the time of cnnlab's fwd+bwd goes: each step of it alone, on its own arrays.

    The same calls as ``conv2d_forward`` / ``conv2d_backward`` (groups 1), one by one:
    im2col, the forward product, the reorder to NCHW with the bias, the reorder of
    ``dout`` to the column grid, the bias gradient, the weight-gradient product, the
    column-gradient product and col2im.  Each is timed alone, its data warm in the
    caches, so their sum is below the whole pass (measured: 61-103 % of it), which also
    validates its arguments, allocates its results and meets its data cold.
    """
    from cnnlab import _im2col as columns
    from cnnlab.conv import conv2d_forward
    x, weight, bias, dout = conv_data(case, dtype)
    _, cache = conv2d_forward(x, weight, bias, case["stride"], case["pad"])
    plan, cols = cache["plan"], cache["cols"]
    o, kk = weight.shape[0], weight[0].size
    m = cols.size // kk
    w_mat, col_mat = weight.reshape(o, kk), cols.reshape(kk, m)
    out_cols, dcols = np.empty((o, m), dtype), np.empty((kk, m), dtype)
    grid = columns.nchw_to_grid(dout, plan).reshape(o, m)  # refreshed by "to_grid"
    steps = {"im2col": lambda: columns.im2col(x, plan),
             "gemm_forward": lambda: np.matmul(w_mat, col_mat, out=out_cols),
             "to_nchw": lambda: columns.grid_to_nchw(out_cols.reshape(o, *plan.grid), plan,
                                                     bias),
             "to_grid": lambda: columns.nchw_to_grid(dout, plan),
             "dbias": lambda: grid.sum(axis=1),
             "gemm_dweight": lambda: np.matmul(grid, col_mat.T),
             "gemm_dcols": lambda: np.matmul(w_mat.T, grid, out=dcols),
             "col2im": lambda: columns.col2im(dcols.reshape(plan.c, plan.kh, plan.kw,
                                                            *plan.grid), plan)}
    assert tuple(steps) == CONV_PARTS
    return steps


def conv_peak_memory(case: dict, dtype: str, side: str) -> dict:
    """Bytes above the resident set of one conv forward+backward (cnnlab or torch), on Linux.

    Run it in a process of its own (``bench.py`` spawns one): it sets the C library's
    allocator to hand every block of 64 KiB or more back to the system when it is freed,
    so that the resident set follows what is alive. Otherwise glibc raises its
    mmap threshold after the first large ``free`` and keeps the warm-up's memory
    resident, and the measured pass reuses it without raising the peak.

    The data are built and one pass runs as a warm-up (torch initialises its thread pools
    and kernels lazily, tens of MiB that belong to no pass). Then the kernel's peak resident
    set size (``VmHWM``) is reset through ``/proc/self/clear_refs`` and one more forward and
    backward pass runs. The answer is the new peak minus the resident size just before:
    what the pass itself held at its largest (outputs, caches, im2col columns, gradients;
    not a workspace kept from the warm-up, which ``cnnlab`` bounds). ``None`` where the
    kernel does not offer the reset.
    """
    x, weight, bias, dout = conv_data(case, dtype)
    s, p = case["stride"], case["pad"]
    if side == "torch":
        import torch
        f = torch.nn.functional
        x, weight, bias, dout = (torch.from_numpy(a) for a in (x, weight, bias, dout))
        inputs = tuple(t.requires_grad_(True) for t in (x, weight, bias))

        def run():
            return torch.autograd.grad(f.conv2d(*inputs, stride=s, padding=p), inputs, dout)
    else:
        from cnnlab.conv import conv2d_backward, conv2d_forward

        def run():
            return conv2d_backward(dout, conv2d_forward(x, weight, bias, s, p)[1])
    run()  # the warm-up; its result is freed at once
    _return_freed_memory()
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")  # reset the peak resident set size to the current one
    except OSError:
        return {"peak_bytes": None}
    before = _status_kib("VmRSS")
    result = run()
    peak = _status_kib("VmHWM")
    del result
    return {"peak_bytes": max(0, peak - before) * 1024}


def _return_freed_memory() -> None:
    """glibc: a fixed mmap threshold of 64 KiB (no dynamic raise), freed heap trimmed."""
    import ctypes
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_mmap_threshold = -3
    libc.mallopt(m_mmap_threshold, 64 * 1024)
    libc.malloc_trim(0)


def _status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def pool_data(case: dict, dtype: str = "float32"):
    rng = np.random.default_rng(SEED)
    x = rng.standard_normal((case["N"], case["C"], case["H"], case["W"])).astype(dtype)
    k = case["k"]
    dout = rng.standard_normal((case["N"], case["C"], case["H"] // k,
                                case["W"] // k)).astype(dtype)
    return x, dout


def pool_numpy_setup(case: dict, dtype: str = "float32") -> dict:
    from cnnlab.pool import max_pool2d_backward, max_pool2d_forward
    x, dout = pool_data(case, dtype)
    k = case["k"]
    _, cache = max_pool2d_forward(x, k)
    return {"forward": lambda: max_pool2d_forward(x, k),
            "backward": lambda: max_pool2d_backward(dout, cache),
            "fwd_bwd": lambda: max_pool2d_backward(dout, max_pool2d_forward(x, k)[1])}


# LeNet-5 for 28x28 inputs: (conv k, pad) blocks, then the fully connected sizes
LENET_CONV = [(1, 6, 5, 2), (6, 16, 5, 0)]   # (C_in, C_out, k, padding), each + ReLU + 2x2 max
LENET_FC = [400, 120, 84, 10]
LR, MOMENTUM = 0.01, 0.9


def lenet_data(batch: int):
    rng = np.random.default_rng(SEED)
    x = rng.standard_normal((batch, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, batch)
    params = []
    for c_in, c_out, k, _ in LENET_CONV:
        params += [(rng.standard_normal((c_out, c_in, k, k)) * np.sqrt(2 / (c_in * k * k))),
                   rng.standard_normal(c_out) * 0.1]
    for fan_in, fan_out in zip(LENET_FC, LENET_FC[1:], strict=False):
        params += [rng.standard_normal((fan_out, fan_in)) * np.sqrt(2 / fan_in),
                   rng.standard_normal(fan_out) * 0.1]
    return x, labels, [a.astype(np.float32) for a in params]


def lenet_numpy(batch: int):
    """``(step, model)``: one SGD-momentum training step of a cnnlab LeNet-5."""
    from cnnlab import SGD, Conv2d, CrossEntropyLoss, Flatten, Linear, MaxPool2d, ReLU, Sequential
    x, labels, params = lenet_data(batch)
    layers = []
    for c_in, c_out, k, pad in LENET_CONV:
        layers += [Conv2d(c_in, c_out, k, padding=pad, rng=0), ReLU(), MaxPool2d(2)]
    layers.append(Flatten())
    for fan_in, fan_out in zip(LENET_FC, LENET_FC[1:], strict=False):
        layers += [Linear(fan_in, fan_out, rng=0), ReLU()]
    model = Sequential(*layers[:-1])  # no ReLU after the last layer
    for p, value in zip(model.parameters(), params, strict=True):
        p.data[...] = value
    loss_fn, opt = CrossEntropyLoss(), SGD(model.parameters(), lr=LR, momentum=MOMENTUM)

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), labels)
        model.backward(loss_fn.backward())
        opt.step()
        return loss
    return step, model


# ------------------------------------------------------------------- torch side


def conv_torch_setup(case: dict, dtype: str) -> dict:
    import torch
    f = torch.nn.functional
    x, weight, bias, dout = (torch.from_numpy(a) for a in conv_data(case, dtype))
    for t in (x, weight, bias):
        t.requires_grad_(True)
    s, p = case["stride"], case["pad"]
    out = f.conv2d(x, weight, bias, stride=s, padding=p)
    inputs = (x, weight, bias)
    return {"forward": lambda: f.conv2d(x, weight, bias, stride=s, padding=p),
            "backward": lambda: torch.autograd.grad(out, inputs, dout, retain_graph=True),
            "fwd_bwd": lambda: torch.autograd.grad(f.conv2d(x, weight, bias, stride=s,
                                                            padding=p), inputs, dout)}


def pool_torch_setup(case: dict, dtype: str = "float32") -> dict:
    import torch
    x, dout = (torch.from_numpy(a) for a in pool_data(case, dtype))
    x.requires_grad_(True)
    k, mp = case["k"], torch.nn.functional.max_pool2d
    out = mp(x, k)
    return {"forward": lambda: mp(x, k),
            "backward": lambda: torch.autograd.grad(out, (x,), dout, retain_graph=True),
            "fwd_bwd": lambda: torch.autograd.grad(mp(x, k), (x,), dout)}


def lenet_torch(batch: int):
    """``(step, model)``: the same LeNet-5 step in PyTorch (input needs no gradient)."""
    import torch
    nn = torch.nn
    x, labels, params = lenet_data(batch)
    layers = []
    for c_in, c_out, k, pad in LENET_CONV:
        layers += [nn.Conv2d(c_in, c_out, k, padding=pad), nn.ReLU(), nn.MaxPool2d(2)]
    layers.append(nn.Flatten())
    for fan_in, fan_out in zip(LENET_FC, LENET_FC[1:], strict=False):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    with torch.no_grad():
        for p, value in zip(model.parameters(), params, strict=True):
            p.copy_(torch.from_numpy(value))
    xt, yt = torch.from_numpy(x), torch.from_numpy(labels)
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)

    def step():
        opt.zero_grad()
        loss = loss_fn(model(xt), yt)
        loss.backward()
        opt.step()
        return loss.item()
    return step, model


# ------------------------------------------------------------- verification


def verify(spec: dict) -> dict:
    """Compare cnnlab and the textbook version with torch before anything is timed.

    Returns the largest relative error of each (outputs and all gradients; for
    LeNet-5 the loss and every updated parameter after one step) and raises if
    one exceeds the tolerance or a result is not in the input's dtype.
    """
    import torch

    from cnnlab.conv import conv2d_backward, conv2d_forward
    from cnnlab.pool import max_pool2d_backward, max_pool2d_forward
    torch.set_num_threads(spec["threads"])
    grad = torch.autograd.grad
    report = {}
    for item in spec["items"]:
        kind, case, dtype = item["kind"], item["case"], item.get("dtype", "float32")
        errs = {}
        if kind == "conv":
            x, weight, bias, dout = conv_data(case, dtype)
            s, p = case["stride"], case["pad"]
            xt, wt, bt = (torch.from_numpy(a).requires_grad_() for a in (x, weight, bias))
            out_t = torch.nn.functional.conv2d(xt, wt, bt, stride=s, padding=p)
            ref = [out_t.detach().numpy(),
                   *(g.numpy() for g in grad(out_t, (xt, wt, bt), torch.from_numpy(dout)))]
            for who, (fwd, bwd) in {"cnnlab": (conv2d_forward, conv2d_backward),
                                    "textbook": (textbook_forward,
                                                 textbook_backward)}.items():
                out, cache = fwd(x, weight, bias, s, p)
                errs[who] = _max_err([out, *bwd(dout, cache)], ref, dtype)
        elif kind == "pool":
            x, dout = pool_data(case)
            out, cache = max_pool2d_forward(x, case["k"])
            xt = torch.from_numpy(x).requires_grad_()
            out_t = torch.nn.functional.max_pool2d(xt, case["k"])
            ref = [out_t.detach().numpy(), grad(out_t, (xt,), torch.from_numpy(dout))[0].numpy()]
            errs["cnnlab"] = _max_err([out, max_pool2d_backward(dout, cache)], ref, dtype)
        else:
            step, model = lenet_numpy(case["N"])
            step_t, model_t = lenet_torch(case["N"])
            loss, loss_t = step(), step_t()
            params = [p.data for p in model.parameters()]
            ref = [q.detach().numpy() for q in model_t.parameters()]
            errs["cnnlab"] = max(abs(loss - loss_t) / abs(loss_t), _max_err(params, ref, dtype))
        for who, err in errs.items():
            if not err <= RTOL[dtype]:
                raise RuntimeError(f"verification failed: {who} on {label(kind, case, dtype)}:"
                                   f" relative error {err:.3g} > {RTOL[dtype]:g}")
        report[label(kind, case, dtype)] = errs
    return {"max_relative_error": report, "tolerance": RTOL}


def _max_err(arrays, refs, dtype: str) -> float:
    """Largest ``max|a - r| / max|r|`` over pairs; infinite if a dtype is wrong."""
    return max(_rel_err(a, r) if a.dtype == dtype else float("inf")
               for a, r in zip(arrays, refs, strict=True))


def _rel_err(a, b) -> float:
    """``max|a - b| / max|b|``: error relative to the largest reference entry."""
    scale = float(np.max(np.abs(b))) or 1.0
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - b))) / scale
