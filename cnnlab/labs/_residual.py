"""Self-checks of lab 7 (a residual block, forward and backward).

The reference is ``cnnlab.blocks.BasicBlock`` in float64 with the learner's parameters loaded:
``relu(BN(conv3x3(relu(BN(conv3x3(x, stride))))) + shortcut(x))``, the shortcut the identity or
a projection ``BN(conv1x1(x, stride))``; batch norm in training mode.
"""
from __future__ import annotations

import numpy as np

from ..blocks import BasicBlock
from ..norm import BatchNorm1d, BatchNorm2d
from . import FAILED, Report, register

# The block and layer classes; the functional kernels (conv, batch norm, ReLU) are allowed.
RESIDUAL = ("cnnlab.blocks", "cnnlab.containers", "cnnlab.module", "cnnlab.layers",
            "cnnlab.models", BatchNorm2d, BatchNorm1d)

KEYS = ("w1", "g1", "b1", "w2", "g2", "b2")
SHORTCUT_KEYS = ("ws", "gs", "bs")

# (title, N, C_in, C_out, H, stride)
CASES = [
    ("identity shortcut: same channels, stride 1", 2, 3, 3, 6, 1),
    ("projection shortcut: stride 2 and more channels", 2, 3, 4, 7, 2),
    ("projection shortcut: more channels, stride 1", 3, 2, 5, 5, 1),
]


def reference_block(params: dict, c_in: int, c_out: int, stride: int) -> BasicBlock:
    """A float64 ``BasicBlock`` holding ``params`` (the lab's names)."""
    block = BasicBlock(c_in, c_out, stride, rng=0, dtype=np.float64)
    layers = {"w1": block.body[0].weight, "g1": block.body[1].weight, "b1": block.body[1].bias,
              "w2": block.body[3].weight, "g2": block.body[4].weight, "b2": block.body[4].bias}
    if block.shortcut is not None:
        layers.update(ws=block.shortcut[0].weight, gs=block.shortcut[1].weight,
                      bs=block.shortcut[1].bias)
    for key, parameter in layers.items():
        parameter.data = params[key].copy()
    return block


def random_params(rng, c_in: int, c_out: int, stride: int) -> dict:
    """Weights, BN scales and shifts of a block (and its projection if it needs one)."""
    params = {"w1": rng.standard_normal((c_out, c_in, 3, 3)) * np.sqrt(2 / (9 * c_in)),
              "w2": rng.standard_normal((c_out, c_out, 3, 3)) * np.sqrt(2 / (9 * c_out))}
    for g, b in (("g1", "b1"), ("g2", "b2")):
        params[g], params[b] = rng.uniform(0.5, 1.5, c_out), rng.normal(0, 0.1, c_out)
    if stride != 1 or c_in != c_out:
        params["ws"] = rng.standard_normal((c_out, c_in, 1, 1)) * np.sqrt(2 / c_in)
        params["gs"], params["bs"] = rng.uniform(0.5, 1.5, c_out), rng.normal(0, 0.1, c_out)
    return params


def reference(params, x, dout, stride):
    """``(out, dx, grads, dx without the skip's share)`` of the block."""
    block = reference_block(params, x.shape[1], params["w1"].shape[0], stride)
    out = block.forward(x)
    block.zero_grad()
    dx = block.backward(dout)
    grads = {"w1": block.body[0].weight.grad, "g1": block.body[1].weight.grad,
             "b1": block.body[1].bias.grad, "w2": block.body[3].weight.grad,
             "g2": block.body[4].weight.grad, "b2": block.body[4].bias.grad}
    if block.shortcut is not None:
        grads.update(ws=block.shortcut[0].weight.grad, gs=block.shortcut[1].weight.grad,
                     bs=block.shortcut[1].bias.grad)
        skip = block.shortcut.backward(block.activation.backward(dout))
    else:
        skip = block.activation.backward(dout)
    return out, dx, grads, dx - skip


@register("residual_block", ("residual_forward",), RESIDUAL)
def residual_forward(report: Report, func) -> None:
    rng = np.random.default_rng(71)
    for title, n, c_in, c_out, h, stride in CASES:
        params = random_params(rng, c_in, c_out, stride)
        x = rng.standard_normal((n, c_in, h, h))
        got = report.call(title, func, x, params, stride=stride)
        if got is FAILED:
            continue
        if not (isinstance(got, tuple) and len(got) == 2):
            report.fail(title, "return a pair (out, cache).")
            continue
        block = reference_block(params, c_in, c_out, stride)
        want = block.forward(x)
        before_relu = block.body.forward(x) + (x if block.shortcut is None
                                                else block.shortcut.forward(x))
        report.array(title, got[0], want,
                     "out = relu(BN(conv(relu(BN(conv(x, stride))))) + shortcut(x)).",
                     [(before_relu, "the last ReLU is missing: it comes after the addition."),
                      (np.maximum(block.body.forward(x), 0),
                       "the shortcut is missing: add x (or its projection) before the last "
                       "ReLU.")],
                     shape_hint="The output is (N, C_out, ⌈H/stride⌉, ⌈W/stride⌉).")


@register("residual_block", ("residual_forward", "residual_backward"), RESIDUAL)
def residual_backward(report: Report, forward, backward) -> None:
    rng = np.random.default_rng(72)
    for title, n, c_in, c_out, h, stride in CASES:
        params = random_params(rng, c_in, c_out, stride)
        x = rng.standard_normal((n, c_in, h, h))
        pair = report.call(title, forward, x, params, stride=stride)
        if pair is FAILED or not (isinstance(pair, tuple) and len(pair) == 2):
            if pair is not FAILED:
                report.fail(title, "the forward pass must return a pair (out, cache).")
            continue
        dout = rng.standard_normal(np.shape(pair[0]))
        _, dx, grads, no_skip = reference(params, x, dout, stride)
        result = report.call(title, backward, dout, pair[1])
        if result is FAILED:
            continue
        if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict)):
            report.fail(title, "return a pair (dx, grads), grads a dict with the keys of params.")
            continue
        report.array(title + ": dx", result[0], dx,
                     "the gradient after the last ReLU flows into the body and, unchanged "
                     "(or through the projection), into the shortcut; dx adds the two.",
                     [(no_skip, "the shortcut's share is missing: dx is the body's gradient "
                                "plus the gradient that flows through the skip.")],
                     shape_hint="dx has the input's shape.", rtol=1e-6, atol=1e-9)
        missing = sorted(set(grads) - set(result[1]))
        if missing:
            report.fail(title + ": grads", f"grads has no {', '.join(missing)}: one gradient "
                        f"per parameter, with the keys of params.")
            continue
        report.array(title + ": grads",
                     np.concatenate([np.ravel(result[1][k]) for k in grads]),
                     np.concatenate([np.ravel(g) for g in grads.values()]),
                     "each parameter's gradient comes from the backward pass of the layer "
                     "that uses it, fed by the gradient of the layer above.", rtol=1e-6,
                     atol=1e-9)
