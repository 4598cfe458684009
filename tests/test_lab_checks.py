"""cnnlab.labs: the self-checks pass the labs' reference solutions and catch typical mistakes,
with a hint that never depends on the expected values."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from cnnlab.labs import CHECKS, self_check, verdicts

ROOT = Path(__file__).resolve().parents[1]
LABS = ROOT / "book" / "labs"
MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$", re.M)


def lab_namespace(name: str, overrides: dict[str, str] | None = None) -> dict:
    """The set-up and solution cells of a lab notebook, run: its reference functions."""
    nb = nbformat.read(LABS / f"{name}.ipynb", as_version=4)
    namespace: dict = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        grade_id = meta.get("grade_id", "")
        if meta.get("solution") or grade_id.endswith("-setup"):
            code = (overrides or {}).get(grade_id, MARKER.sub("", cell.source))
            exec(compile(code, f"<{name}:{grade_id}>", "exec"), namespace)
    return namespace


def failures(report) -> list[str]:
    return [text for ok, text in report.results if not ok]


def test_every_check_names_a_lab_notebook():
    labs = {path.stem for path in LABS.glob("*.ipynb")}
    assert {check.lab for check in CHECKS.values()} <= labs


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_the_reference_solution_passes_its_self_check(name):
    check = CHECKS[name]
    namespace = lab_namespace(check.lab)
    report = verdicts(name, *(namespace[arg] for arg in check.arguments))
    assert report.stopped is None
    assert report.results and not failures(report), failures(report)
    assert report.text().startswith(f"Self-check of {name}: {len(report.results)} of "
                                    f"{len(report.results)} cases pass.")


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_an_unwritten_function_stops_the_check_with_one_line(name):
    def stub(*args, **kwargs):
        raise NotImplementedError()

    check = CHECKS[name]
    namespace = lab_namespace(check.lab)
    args = [stub if i == len(check.arguments) - 1 else namespace[a]
            for i, a in enumerate(check.arguments)]
    report = verdicts(name, *args)
    assert report.stopped and "NotImplementedError" in report.text()
    assert report.text().startswith("✗ ") and len(report.text().splitlines()) <= 3


@pytest.mark.parametrize("name", ["conv2d_loops", "conv_input_grad", "softmax",
                                  "batchnorm_forward", "Linear"])
def test_a_hint_never_depends_on_the_expected_values(name):
    """Two different wrong answers get the same verdicts: nothing of the answer leaks."""
    texts = []
    for value in (0.0, 1.0):
        def wrong(*args, _value=value, **kwargs):
            shape = np.shape(CHECKS_OUTPUT[name](*args, **kwargs))
            return np.full(shape, _value)
        if name == "batchnorm_forward":
            def wrong(x, *args, _value=value, **kwargs):  # noqa: F811
                return np.full(x.shape, _value), None, np.full(x.shape[1], _value), \
                    np.full(x.shape[1], _value)
        if name == "Linear":
            namespace = lab_namespace("training_lenet5", {"lab6-linear": WRONG_LINEAR % value})
            wrong = namespace["Linear"]
        texts.append(verdicts(name, wrong).text())
    assert texts[0] == texts[1]
    assert "✗" in texts[0]


WRONG_LINEAR = '''
class Linear:
    def __init__(self, in_features, out_features, rng, dtype=np.float32):
        self.params = {"weight": np.zeros((out_features, in_features), dtype),
                       "bias": np.zeros(out_features, dtype)}
        self.grads = {key: np.zeros_like(value) for key, value in self.params.items()}

    def forward(self, x):
        self.x = x
        return np.full((len(x), len(self.params["bias"])), %r, x.dtype)

    def backward(self, dout):
        self.grads = {key: np.full_like(value, 1.0) for key, value in self.params.items()}
        return np.ones_like(self.x)
'''


def _shapes():
    from cnnlab.conv import conv2d_naive
    from cnnlab.losses import softmax

    return {
        "conv2d_loops": lambda x, w, b, stride=1, padding=0: conv2d_naive(x, w, b, stride,
                                                                         padding),
        "conv_input_grad": lambda dout, w, shape, stride=1, padding=0: np.zeros(shape),
        "softmax": softmax,
    }


CHECKS_OUTPUT = _shapes()


# --- typical mistakes get their targeted hint ----------------------------------------------------
MISTAKES = [
    ("conv_forward", "conv2d_loops", {"lab1-loops": '''
from cnnlab.conv import convolve2d


def conv2d_loops(x, weight, bias=None, stride=1, padding=0):
    flipped = np.ascontiguousarray(weight[:, :, ::-1, ::-1])
    n_images, _, height, width = x.shape
    c_out, _, kh, kw = weight.shape
    h_out = (height + 2 * padding - kh) // stride + 1
    w_out = (width + 2 * padding - kw) // stride + 1
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.zeros((n_images, c_out, h_out, w_out))
    for n in range(n_images):
        for o in range(c_out):
            for i in range(h_out):
                for j in range(w_out):
                    window = xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    out[n, o, i, j] = np.sum(window * flipped[o])
            if bias is not None:
                out[n, o] += bias[o]
    return out
'''}, "flipped the kernel"),
    ("conv_forward", "conv2d_loops", {"lab1-loops": '''
from cnnlab.conv import conv2d_forward


def conv2d_loops(x, weight, bias=None, stride=1, padding=0):
    return conv2d_forward(x, weight, bias, stride, padding)[0]
'''}, "calls cnnlab.conv.conv2d_forward"),
    ("conv_forward", "im2col", {"lab1-im2col": '''
from numpy.lib.stride_tricks import sliding_window_view


def im2col(x, kh, kw, stride=1, padding=0):
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    win = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    return win.transpose(4, 5, 1, 0, 2, 3).reshape(x.shape[1] * kh * kw, -1)
'''}, "rows are in the order (p, q, c)"),
    ("conv_forward", "conv2d_im2col", {"lab1-im2col-conv": '''
def conv2d_im2col(x, weight, bias=None, stride=1, padding=0):
    return conv2d_loops(x, weight, bias, stride, padding)
'''}, "lines of your code ran"),
    ("conv_backward", "numerical_gradient", {"lab2-numgrad": '''
def numerical_gradient(f, x, h=1e-6):
    grad, base = np.zeros_like(x), f()
    for index in np.ndindex(x.shape):
        saved = x[index]
        x[index] = saved + h
        grad[index] = (f() - base) / h
        x[index] = saved
    return grad
'''}, "forward difference"),
    ("conv_backward", "conv_bias_grad", {"lab2-bias": '''
def conv_bias_grad(dout):
    return dout.mean(axis=0).sum(axis=(1, 2))
'''}, "averaged over the batch"),
    ("conv_backward", "conv_input_grad", {"lab2-input": '''
from cnnlab.conv import conv2d_backward_naive


def conv_input_grad(dout, weight, x_shape, stride=1, padding=0):
    rotated = np.ascontiguousarray(weight[:, :, ::-1, ::-1])
    return conv2d_backward_naive(dout, np.zeros(x_shape), rotated, None, stride, padding)[0]
'''}, "calls cnnlab.conv.conv2d_backward_naive"),
    ("pooling", "max_pool_backward", {"lab3-max-forward": '''
def max_pool_forward(x, kernel_size, stride=None):
    k = kernel_size
    s = k if stride is None else stride
    h_out, w_out = (x.shape[2] - k) // s + 1, (x.shape[3] - k) // s + 1
    out = np.empty((*x.shape[:2], h_out, w_out))
    for i in range(h_out):
        for j in range(w_out):
            out[:, :, i, j] = x[:, :, i * s:i * s + k, j * s:j * s + k].max(axis=(2, 3))
    return out, (x, k, s, out)
''', "lab3-max-backward": '''
def max_pool_backward(dout, cache):
    x, k, s, out = cache
    dx = np.zeros_like(x)
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            window = x[:, :, i * s:i * s + k, j * s:j * s + k]
            mask = window == out[:, :, i, j][:, :, None, None]
            dx[:, :, i * s:i * s + k, j * s:j * s + k] += mask * dout[:, :, i, j][:, :, None, None]
    return dx
'''}, "every tied maximum received the gradient"),
    ("pooling", "avg_pool_backward", {"lab3-avg-backward": '''
def avg_pool_backward(dout, cache):
    x_shape, k, s = cache
    h_out, w_out = dout.shape[2:]
    dx = np.zeros(x_shape)
    for p in range(k):
        for q in range(k):
            dx[:, :, p:p + s * h_out:s, q:q + s * w_out:s] += dout
    return dx
'''}, "divide by the window size"),
    ("softmax_cross_entropy", "softmax", {"lab4-softmax": '''
def softmax(logits):
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)
'''}, "NaN or infinity"),
    ("softmax_cross_entropy", "cross_entropy", {"lab4-loss": '''
def cross_entropy(logits, labels):
    return float(-np.log(softmax(logits)[np.arange(len(labels)), labels]).mean())
'''}, "instead of taking the log of a probability"),
    ("softmax_cross_entropy", "cross_entropy_grad", {"lab4-grad": '''
def cross_entropy_grad(logits, labels):
    grad = softmax(logits)
    grad[np.arange(len(labels)), labels] -= 1
    return grad
'''}, "divide by the batch size"),
    ("batch_norm", "batchnorm_forward", {"lab5-forward": '''
def batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum=0.1,
                      eps=1e-5):
    mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
    x_hat = (x - mean.reshape(1, -1, 1, 1)) / np.sqrt(var.reshape(1, -1, 1, 1))
    out = gamma.reshape(1, -1, 1, 1) * x_hat + beta.reshape(1, -1, 1, 1)
    return out, None, running_mean, running_var
'''}, "ε is missing"),
    ("batch_norm", "batchnorm_backward", {"lab5-backward": '''
def batchnorm_backward(dout, cache):
    x_hat, gamma, inv_std, training = cache
    dbeta, dgamma = dout.sum(axis=(0, 2, 3)), (dout * x_hat).sum(axis=(0, 2, 3))
    return dout * (gamma * inv_std).reshape(1, -1, 1, 1), dgamma, dbeta
'''}, "treats the mean and variance as constants"),
    ("residual_block", "residual_backward", {"lab7-backward": '''
def residual_backward(dout, cache):
    conv1, bn1, relu1, conv2, bn2, shortcut, relu_out = cache
    grads = {}
    g = relu_backward(dout, relu_out)
    d, grads["g2"], grads["b2"] = bn_backward(g, bn2)
    d, grads["w2"], _ = conv2d_backward(d, conv2)
    d = relu_backward(d, relu1)
    d, grads["g1"], grads["b1"] = bn_backward(d, bn1)
    dx, grads["w1"], _ = conv2d_backward(d, conv1)
    if shortcut is not None:
        conv_s, bn_s = shortcut
        d, grads["gs"], grads["bs"] = bn_backward(g, bn_s)
        d, grads["ws"], _ = conv2d_backward(d, conv_s)
    return dx, grads
'''}, "the shortcut's share is missing"),
    ("residual_block", "residual_forward", {"lab7-forward": '''
def residual_forward(x, params, stride=1):
    h, conv1 = conv2d_forward(x, params["w1"], None, stride, 1)
    h, bn1 = bn_forward(h, params["g1"], params["b1"])
    h, relu1 = relu_forward(h)
    h, conv2 = conv2d_forward(h, params["w2"], None, 1, 1)
    body, bn2 = bn_forward(h, params["g2"], params["b2"])
    return relu_forward(body)[0], None
'''}, "the shortcut is missing"),
    ("training_lenet5", "SGD", {"lab6-sgd": '''
class SGD:
    def __init__(self, layers, lr, momentum=0.0):
        self.layers, self.lr, self.momentum = list(layers), lr, momentum

    def step(self):
        for layer in self.layers:
            for key, p in layer.params.items():
                p -= self.lr * layer.grads[key]
'''}, "momentum is ignored"),
    ("training_lenet5", "accuracy", {"lab6-loop": '''
def train_epoch(model, optimizer, x, y, batch_size, rng):
    return 0.0


def accuracy(model, x, y, batch_size=500):
    return 100 * float(np.mean(model.forward(x).argmax(axis=1) == y))
'''}, "a fraction, not a percentage"),
]


@pytest.mark.parametrize("lab, name, overrides, hint", MISTAKES,
                         ids=[f"{m[1]}-{m[3][:24]}" for m in MISTAKES])
def test_a_typical_mistake_gets_its_hint(lab, name, overrides, hint):
    namespace = lab_namespace(lab, overrides)
    report = verdicts(name, *(namespace[arg] for arg in CHECKS[name].arguments))
    assert any(hint in text for text in failures(report)), report.text()


def test_self_check_prints_and_returns_nothing(capsys):
    namespace = lab_namespace("softmax_cross_entropy")
    assert self_check("softmax", namespace["softmax"]) is None
    out = capsys.readouterr().out
    assert out.startswith("Self-check of softmax: ") and "✓ " in out


def test_unknown_names_and_wrong_arguments_are_explained():
    with pytest.raises(KeyError, match="conv2d_loops"):
        verdicts("conv2d_loop", print)
    with pytest.raises(TypeError, match=r"takes 2 argument\(s\) after the name"):
        verdicts("max_pool_backward", print)


def test_an_error_in_the_learners_code_is_reported_not_raised():
    def broken(x, w, b, stride=1, padding=0):
        raise ValueError("shapes do not match")

    report = verdicts("conv2d_loops", broken)
    assert report.stopped is None
    assert all("your code raised ValueError (shapes do not match)" in t
               for t in failures(report))
