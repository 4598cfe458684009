"""Self-checks of lab 4 (softmax and cross-entropy, stable for large logits)."""
from __future__ import annotations

import numpy as np

from ..losses import cross_entropy_backward, cross_entropy_forward
from ..losses import softmax as softmax_reference
from . import FAILED, Report, register

LOSSES = ("cnnlab.losses", "cnnlab.train")
STABLE = ("Subtract each row's largest logit first: the result is the same, and no "
          "exponential overflows.")
LOG_SUM_EXP = ("Compute log softmax as z − m − log Σ exp(z − m) (m the row's largest logit) "
               "instead of taking the log of a probability that may have rounded to 0.")


def _cases(rng):
    """(title, logits, labels); the last two have logits that overflow a naive exp."""
    return [
        ("one row of three logits", np.array([[1.0, 2.0, 0.5]]), np.array([1])),
        ("a batch of four rows, ten classes", rng.standard_normal((4, 10)) * 3,
         rng.integers(0, 10, 4)),
        ("logits shifted by +50 (softmax must not change)",
         rng.standard_normal((3, 5)) + 50, rng.integers(0, 5, 3)),
        ("large logits (±1000): stable for large logits",
         np.array([[1000.0, 0.0, -1000.0], [-1000.0, 998.0, 1000.0]]), np.array([0, 1])),
        ("a true class whose probability rounds to 0 (logits 0 and 800)",
         np.array([[0.0, 800.0], [3.0, -2.0]]), np.array([0, 0])),
    ]


@register("softmax_cross_entropy", ("softmax",), LOSSES)
def softmax(report: Report, func) -> None:
    for title, z, _ in _cases(np.random.default_rng(41))[:4]:
        got = report.call(title, func, z.copy())
        report.array(title, got, softmax_reference(z),
                     (STABLE if "large" in title else "Each row: exp of every logit, divided "
                      "by the row's sum of exps, so that the row sums to 1."),
                     [(np.exp(z) / np.exp(z).sum(axis=0, keepdims=True),
                       "you normalised each column: sum over the classes of a row (axis=1).")],
                     shape_hint="softmax returns an array of the logits' shape (N, C).")


@register("softmax_cross_entropy", ("cross_entropy",), LOSSES)
def cross_entropy(report: Report, func) -> None:
    for title, z, y in _cases(np.random.default_rng(42)):
        got = report.call(title, func, z.copy(), y)
        if got is FAILED:
            continue
        if got is not None and np.size(got) != 1:
            report.fail(title, f"the loss is one number (the mean over the batch), got an "
                        f"array of shape {np.shape(got)}.")
            continue
        hint = "The loss is the mean over the rows of −log softmax(z)[label]."
        if "rounds" in title:
            hint += " " + LOG_SUM_EXP
        elif "large" in title:
            hint += " " + STABLE
        report.array(title, None if got is None else np.reshape(got, ()),
                     cross_entropy_forward(z, y)[0], hint,
                     [(cross_entropy_forward(z, y, "sum")[0],
                       "you summed over the batch: the loss is the mean over the rows.")])


@register("softmax_cross_entropy", ("cross_entropy_grad",), LOSSES)
def cross_entropy_grad(report: Report, func) -> None:
    for title, z, y in _cases(np.random.default_rng(43)):
        got = report.call(title, func, z.copy(), y)
        want = cross_entropy_backward(cross_entropy_forward(z, y)[1])
        hint = "∂L/∂z = (softmax(z) − onehot(label)) / N."
        if "large" in title or "rounds" in title:
            hint += " " + STABLE
        report.array(title, got, want, hint,
                     [(want * z.shape[0], "divide by the batch size N: the loss is a mean."),
                      (-want, "the sign is reversed: it is softmax minus the one-hot label."),
                      (softmax_reference(z) / z.shape[0],
                       "subtract 1 at each row's label (the one-hot vector).")],
                     shape_hint="The gradient has the logits' shape (N, C).")
