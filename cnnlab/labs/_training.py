"""Self-checks of lab 6 (LeNet-5 from your own layers, and its training loop).

The layers of the lab follow one small protocol: ``forward(x)`` returns the output and
remembers what ``backward`` needs; ``backward(dout)`` returns ``dx`` and *assigns* the gradients
of the layer's parameters to ``grads`` (a dict with the keys of ``params``).
"""
from __future__ import annotations

import numpy as np

from ..conv import conv2d_backward, conv2d_forward
from ..losses import cross_entropy_backward, cross_entropy_forward
from ..pool import max_pool2d_backward, max_pool2d_forward
from . import FAILED, Report, register

# Layer classes, containers, optimisers and training loops of cnnlab: the lab's own work.
FRAMEWORK = ("cnnlab.layers", "cnnlab.module", "cnnlab.containers", "cnnlab.optim",
             "cnnlab.train", "cnnlab.models", "cnnlab.classic", "cnnlab.blocks", "cnnlab.norm")
DENSE = FRAMEWORK + ("cnnlab.linear", "cnnlab.activations")
LENET5_PARAMETERS = 61_706


def _layer(report: Report, title: str, cls, *args, **kwargs):
    layer = report.call(title, cls, *args, **kwargs)
    if layer is FAILED:
        return None
    if not (isinstance(getattr(layer, "params", None), dict)
            and isinstance(getattr(layer, "grads", None), dict)):
        report.fail(title, "a layer has the dicts `params` and `grads` (empty without "
                    "parameters).")
        return None
    return layer


def _check_pass(report, layer, x, want_out, dout, want_dx, want_grads, what):
    """Forward, backward and gradients of ``layer`` against the expected arrays."""
    out = report.call(f"{what}: forward", layer.forward, x)
    if not report.array(f"{what}: forward", out, want_out, "see the formula in the statement."):
        return
    dx = report.call(f"{what}: backward returns dx", layer.backward, dout)
    report.array(f"{what}: backward returns dx", dx, want_dx,
                 "dx has the input's shape; see the formula in the statement.")
    for key, want in want_grads.items():
        got = layer.grads.get(key)
        hint = ("sum over the batch: every sample contributes." if key == "bias" else
                "see the formula in the statement.")
        mistakes = [(want / x.shape[0], "you averaged over the batch: the loss is already a "
                     "mean, so the gradient sums over the samples.")] if key == "bias" else []
        report.array(f"{what}: grads[{key!r}]", got, want, hint, mistakes)


@register("training_lenet5", ("Linear",), DENSE)
def Linear(report: Report, cls) -> None:
    rng = np.random.default_rng(61)
    layer = _layer(report, "Linear(4, 3, rng, dtype=np.float64)", cls, 4, 3,
                   np.random.default_rng(0), dtype=np.float64)
    if layer is None:
        return
    w = layer.params.get("weight")
    if w is None or np.shape(w) != (3, 4):
        report.fail("Linear: params['weight']", "the weight is (out_features, in_features).")
        return
    b = rng.standard_normal(3)
    layer.params["bias"] = b
    x, dout = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    _check_pass(report, layer, x, x @ w.T + b, dout, dout @ w,
                {"weight": dout.T @ x, "bias": dout.sum(axis=0)}, "Linear")
    layer32 = cls(84, 10, np.random.default_rng(0))
    out = report.call("float32 in, float32 out", layer32.forward,
                      rng.standard_normal((2, 84)).astype(np.float32))
    if out is not FAILED:
        report.verdict("float32 in, float32 out", np.asarray(out).dtype == np.float32,
                       "keep the dtype: create arrays with the dtype of the input.")


@register("training_lenet5", ("ReLU",), DENSE)
def ReLU(report: Report, cls) -> None:
    rng = np.random.default_rng(62)
    layer = _layer(report, "ReLU()", cls)
    if layer is not None:
        x, dout = rng.standard_normal((3, 2, 4, 4)), rng.standard_normal((3, 2, 4, 4))
        _check_pass(report, layer, x, np.maximum(x, 0), dout, dout * (x > 0), {}, "ReLU")


@register("training_lenet5", ("Flatten",), DENSE)
def Flatten(report: Report, cls) -> None:
    rng = np.random.default_rng(63)
    layer = _layer(report, "Flatten()", cls)
    if layer is not None:
        x, dout = rng.standard_normal((3, 2, 4, 5)), rng.standard_normal((3, 40))
        _check_pass(report, layer, x, x.reshape(3, 40), dout, dout.reshape(x.shape), {},
                    "Flatten")


@register("training_lenet5", ("Conv2d",), FRAMEWORK)
def Conv2d(report: Report, cls) -> None:
    rng = np.random.default_rng(64)
    for padding in (2, 0):
        title = f"Conv2d(2, 3, 5, padding={padding}, rng, dtype=np.float64)"
        layer = _layer(report, title, cls, 2, 3, 5, padding, np.random.default_rng(0),
                       dtype=np.float64)
        if layer is None:
            return
        w = layer.params.get("weight")
        if w is None or np.shape(w) != (3, 2, 5, 5):
            report.fail(title, "the weight is (out_channels, in_channels, k, k).")
            return
        b = rng.standard_normal(3)
        layer.params["bias"] = b
        x = rng.standard_normal((2, 2, 8, 8))
        out, cache = conv2d_forward(x, w, b, padding=padding)
        dout = rng.standard_normal(out.shape)
        dx, dw, db = conv2d_backward(dout, cache)
        _check_pass(report, layer, x, out, dout, dx, {"weight": dw, "bias": db},
                    f"Conv2d, padding {padding}")


@register("training_lenet5", ("MaxPool2d",), FRAMEWORK)
def MaxPool2d(report: Report, cls) -> None:
    rng = np.random.default_rng(65)
    layer = _layer(report, "MaxPool2d(2)", cls, 2)
    if layer is not None:
        x = rng.standard_normal((2, 3, 6, 6))
        out, cache = max_pool2d_forward(x, 2)
        dout = rng.standard_normal(out.shape)
        _check_pass(report, layer, x, out, dout, max_pool2d_backward(dout, cache), {},
                    "MaxPool2d")


@register("training_lenet5", ("lenet5",), FRAMEWORK)
def lenet5(report: Report, build) -> None:
    title = "lenet5(rng): a model with a `layers` list"
    model = report.call(title, build, np.random.default_rng(0))
    if model is FAILED:
        return
    layers = getattr(model, "layers", None)
    if not report.verdict(title, isinstance(layers, list) and layers and all(
            isinstance(getattr(layer, "params", None), dict) for layer in layers),
            "return Sequential(...) of your layers; each has `params` and `grads`."):
        return
    count = sum(int(np.size(p)) for layer in layers for p in layer.params.values())
    report.verdict("61,706 parameters (as cnnlab.models.lenet5())", count == LENET5_PARAMETERS,
                   f"your model has {count:,} parameters. Check the layers against the table "
                   f"in the statement.")
    x = np.random.default_rng(66).standard_normal((2, 1, 28, 28)).astype(np.float32)
    out = report.call("forward: (2, 1, 28, 28) images give (2, 10) logits", model.forward, x)
    if out is FAILED:
        return
    if report.verdict("forward: (2, 1, 28, 28) images give (2, 10) logits",
                      np.shape(out) == (2, 10), f"your model gives shape {np.shape(out)}."):
        dx = report.call("backward: returns a gradient of the images' shape", model.backward,
                         np.ones((2, 10), np.float32))
        if dx is not FAILED:
            report.verdict("backward: returns a gradient of the images' shape",
                           np.shape(dx) == x.shape, "Sequential.backward runs the layers' "
                           "backward in reverse order and returns the last dx.")


class _Toy:
    """A layer with one parameter, for checking an optimiser."""

    def __init__(self, value) -> None:
        self.params = {"w": np.array(value, dtype=np.float64)}
        self.grads = {"w": np.zeros_like(self.params["w"])}


@register("training_lenet5", ("SGD",), FRAMEWORK)
def SGD(report: Report, cls) -> None:
    grads = [np.array([1.0, -2.0]), np.array([0.5, 0.5]), np.array([-1.0, 3.0])]
    for momentum in (0.0, 0.9):
        title = f"three steps, lr 0.1, momentum {momentum}"
        toy = _Toy([1.0, 1.0])
        opt = report.call(title, cls, [toy], lr=0.1, momentum=momentum)
        if opt is FAILED:
            return
        want, velocity, plain = np.array([1.0, 1.0]), np.zeros(2), np.array([1.0, 1.0])
        for g in grads:
            toy.grads["w"] = g.copy()
            if report.call(title, opt.step) is FAILED:
                return
            velocity = momentum * velocity + g
            want = want - 0.1 * velocity
            plain = plain - 0.1 * g
        mistakes = [(plain, "the momentum is ignored: keep a velocity per parameter, "
                            "v = momentum·v + grad, and step p −= lr·v.")] if momentum else []
        report.array(title, toy.params["w"], want, "PyTorch's rule: v = momentum·v + grad, "
                     "then p −= lr·v (v starts at 0).", mistakes)


class _Recorder:
    """A fixed linear model that records what the training loop does with it."""

    def __init__(self, features: int, classes: int) -> None:
        self.w = np.random.default_rng(67).standard_normal((features, classes))
        self.layers: list = []
        self.seen: list[np.ndarray] = []
        self.douts: list[np.ndarray] = []
        self.logits: list[np.ndarray] = []

    def forward(self, x):
        self.seen.append(np.asarray(x).copy())
        self.logits.append(np.asarray(x) @ self.w)
        return self.logits[-1]

    def backward(self, dout):
        self.douts.append(np.asarray(dout).copy())
        return np.zeros_like(self.seen[-1])


class _Steps:
    def __init__(self) -> None:
        self.steps = 0

    def step(self) -> None:
        self.steps += 1


@register("training_lenet5", ("train_epoch",), FRAMEWORK)
def train_epoch(report: Report, func) -> None:
    rng = np.random.default_rng(68)
    x, y = rng.standard_normal((10, 3)), rng.integers(0, 4, 10)
    model, opt = _Recorder(3, 4), _Steps()
    title = "one epoch of 10 samples in batches of 4"
    loss = report.call(title, func, model, opt, x, y, 4, np.random.default_rng(5))
    if loss is FAILED:
        return
    order = np.random.default_rng(5).permutation(10)
    batches = [order[i:i + 4] for i in range(0, 10, 4)]
    report.verdict("the batches are consecutive slices of rng.permutation(len(x))",
                   len(model.seen) == 3 and all(
                       np.array_equal(s, x[b])
                       for s, b in zip(model.seen, batches, strict=True)),
                   "draw order = rng.permutation(len(x)) once per epoch and take "
                   "x[order[start:start + batch_size]]; the last batch may be smaller.")
    report.verdict("one optimiser step per batch, after the backward pass", opt.steps == 3,
                   f"optimizer.step() ran {opt.steps} time(s) for 3 batches.")
    if len(model.douts) == 3 and len(model.seen) == 3:
        want = [cross_entropy_backward(cross_entropy_forward(lg, y[b])[1])
                for lg, b in zip(model.logits, batches, strict=True)]
        ok = all(d.shape == w.shape and np.allclose(d, w)
                 for d, w in zip(model.douts, want, strict=True))
        report.verdict("backward gets ∂L/∂logits of the batch's mean cross-entropy", ok,
                       "start the backward pass from the gradient of the batch's mean loss "
                       "(cnnlab.losses.cross_entropy_backward or your own from lab 4).")
        total = sum(cross_entropy_forward(lg, y[b])[0] * len(b)
                    for lg, b in zip(model.logits, batches, strict=True)) / 10
        report.array("returns the mean loss over the epoch's samples", loss, total,
                     "weigh each batch's mean loss by its size and divide by len(x).",
                     [(np.mean([cross_entropy_forward(lg, y[b])[0]
                                for lg, b in zip(model.logits, batches, strict=True)]),
                       "the last batch is smaller: weigh each batch's loss by its size.")])
    else:
        report.fail("backward once per batch", f"model.backward ran {len(model.douts)} "
                    f"time(s) for 3 batches.")


@register("training_lenet5", ("accuracy",), FRAMEWORK)
def accuracy(report: Report, func) -> None:
    rng = np.random.default_rng(69)
    x, y = rng.standard_normal((700, 3)), rng.integers(0, 4, 700)
    model = _Recorder(3, 4)
    want = float(np.mean((x @ model.w).argmax(axis=1) == y))
    got = report.call("the share of samples whose largest logit is the label", func, model, x,
                      y)
    report.array("the share of samples whose largest logit is the label", got, want,
                  "compare logits.argmax(axis=1) with the labels; return a fraction in [0, 1].",
                  [(100 * want, "return a fraction, not a percentage.")])
