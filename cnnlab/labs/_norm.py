"""Self-checks of lab 5 (batch normalisation forward and backward)."""
from __future__ import annotations

import numpy as np

from ..norm import batch_norm_backward, batch_norm_forward
from . import FAILED, Report, register

NORM = ("cnnlab.norm", "cnnlab.layers", "cnnlab.module", "cnnlab.containers")
EPS = 1e-5


def _batch(rng, shape=(4, 3, 5, 5), spread=(3.0, 1.0, 0.5), centre=(5.0, -2.0, 0.0)):
    x = rng.standard_normal(shape)
    return x * np.reshape(spread, (1, -1, 1, 1)) + np.reshape(centre, (1, -1, 1, 1))


def _params(rng, c, affine=True):
    gamma = rng.uniform(0.5, 2.0, c) if affine else np.ones(c)
    beta = rng.standard_normal(c) if affine else np.zeros(c)
    return gamma, beta


def _run(report, title, func, x, gamma, beta, mean, var, training):
    got = report.call(title, func, x, gamma, beta, mean, var, training, momentum=0.1, eps=EPS)
    if got is FAILED:
        return None
    if not (isinstance(got, tuple) and len(got) == 4):
        report.fail(title, "return four things: (out, cache, new_running_mean, "
                    "new_running_var).")
        return None
    return got


@register("batch_norm", ("batchnorm_forward",), NORM)
def batchnorm_forward(report: Report, func) -> None:
    rng = np.random.default_rng(51)
    c = 3
    mean0, var0 = rng.standard_normal(c), rng.uniform(0.5, 2.0, c)
    cases = [("training mode: each channel standardised over N, H and W", _batch(rng),
              *_params(rng, c, affine=False)),
             ("γ and β scale and shift each channel", _batch(rng), *_params(rng, c)),
             ("a channel with a tiny variance: ε matters",
              _batch(rng, spread=(1e-3, 1.0, 2.0)), *_params(rng, c))]
    for title, x, gamma, beta in cases:
        got = _run(report, title, func, x, gamma, beta, mean0.copy(), var0.copy(), True)
        if got is None:
            continue
        want = batch_norm_forward(x, gamma, beta, mean0, var0, True, 0.1, EPS)[0]
        no_eps = (x - x.mean(axis=(0, 2, 3), keepdims=True)) / x.std(axis=(0, 2, 3),
                                                                   keepdims=True)
        no_eps = no_eps * gamma.reshape(1, -1, 1, 1) + beta.reshape(1, -1, 1, 1)
        unbiased = (x - x.mean(axis=(0, 2, 3), keepdims=True)) / np.sqrt(
            x.var(axis=(0, 2, 3), ddof=1, keepdims=True) + EPS)
        unbiased = unbiased * gamma.reshape(1, -1, 1, 1) + beta.reshape(1, -1, 1, 1)
        report.array(title, got[0], want,
                     "x̂ = (x − mean) / sqrt(var + ε) per channel, with the mean and the biased "
                     "variance over N, H, W; then γ·x̂ + β.",
                     [(no_eps, "ε is missing: divide by sqrt(var + ε), which stays finite when "
                               "a channel's variance is 0."),
                      (unbiased, "normalise with the biased variance (divide by m, np.var's "
                                 "default); only the running estimate uses m − 1.")],
                     shape_hint="The output has the input's shape.")
    title = "running statistics: momentum 0.1 and the unbiased variance"
    x, (gamma, beta) = _batch(rng), _params(rng, c)
    mean, var = mean0.copy(), var0.copy()
    got = _run(report, title, func, x, gamma, beta, mean, var, True)
    if got is not None:
        _, _, want_mean, want_var = batch_norm_forward(x, gamma, beta, mean0, var0, True, 0.1,
                                                       EPS)
        m = x.size // c
        biased = 0.9 * var0 + 0.1 * x.var(axis=(0, 2, 3))
        swapped = 0.1 * var0 + 0.9 * x.var(axis=(0, 2, 3)) * m / (m - 1)
        if report.array(title + " (mean)", got[2], want_mean,
                        "new = (1 − momentum)·running + momentum·batch statistic.",
                        [(0.1 * mean0 + 0.9 * x.mean(axis=(0, 2, 3)),
                          "momentum weighs the batch statistic, 1 − momentum the old value.")]):
            report.array(title + " (variance)", got[3], want_var,
                         "the running variance is updated with the unbiased batch variance, "
                         "var·m/(m − 1).",
                         [(biased, "use the unbiased variance (m − 1) in the running estimate."),
                          (swapped, "momentum weighs the batch statistic, 1 − momentum the old "
                                    "value.")])
        report.verdict("the running statistics passed in are not changed in place",
                       np.array_equal(mean, mean0) and np.array_equal(var, var0),
                       "return new arrays; do not modify running_mean and running_var.")
    title = "evaluation mode: the running statistics, not the batch's"
    x, (gamma, beta) = _batch(rng), _params(rng, c)
    got = _run(report, title, func, x, gamma, beta, mean0.copy(), var0.copy(), False)
    if got is not None:
        want, _, same_mean, same_var = batch_norm_forward(x, gamma, beta, mean0, var0, False,
                                                          0.1, EPS)
        train = batch_norm_forward(x, gamma, beta, mean0, var0, True, 0.1, EPS)[0]
        if report.array(title, got[0], want, "x̂ = (x − running_mean) / sqrt(running_var + ε).",
                        [(train, "in evaluation mode use the running statistics.")]):
            report.verdict("evaluation mode leaves the running statistics as they are",
                           np.allclose(got[2], same_mean) and np.allclose(got[3], same_var),
                           "in evaluation mode return the running statistics unchanged.")


@register("batch_norm", ("batchnorm_forward", "batchnorm_backward"), NORM)
def batchnorm_backward(report: Report, forward, backward) -> None:
    rng = np.random.default_rng(52)
    c = 3
    for title, training in [("training mode: dγ and dβ", True),
                            ("training mode: dx (the statistics depend on x)", True),
                            ("evaluation mode: dx and dγ, dβ", False)]:
        x, (gamma, beta) = _batch(rng), _params(rng, c)
        mean, var = rng.standard_normal(c), rng.uniform(0.5, 2.0, c)
        got = _run(report, title, forward, x, gamma, beta, mean, var, training)
        if got is None:
            continue
        dout = rng.standard_normal(x.shape)
        grads = report.call(title, backward, dout, got[1])
        if grads is FAILED:
            continue
        if not (isinstance(grads, tuple) and len(grads) == 3):
            report.fail(title, "return three arrays: (dx, dgamma, dbeta).")
            continue
        _, cache, _, _ = batch_norm_forward(x, gamma, beta, mean, var, training, 0.1, EPS)
        dx, dgamma, dbeta = batch_norm_backward(dout, cache)
        if "dγ" in title and training:
            report.array(title + " (dβ)", grads[2], dbeta, "dβ is the sum of dout over N, H, W.",
                         shape_hint="One number per channel: shape (C,).")
            report.array(title + " (dγ)", grads[1], dgamma, "dγ is the sum of dout·x̂ over "
                         "N, H, W.", shape_hint="One number per channel: shape (C,).")
            continue
        inv_std = 1 / np.sqrt((x.var(axis=(0, 2, 3)) if training else var) + EPS)
        frozen = dout * (gamma * inv_std).reshape(1, -1, 1, 1)
        ok = report.array(title if training else title + " (dx)", grads[0], dx,
                          "dx = γ/(m·σ) · (m·dout − Σdout − x̂·Σ(dout·x̂)), sums over N, H, W, "
                          "σ = sqrt(var + ε)." if training else
                          "with fixed statistics, dx = γ·dout / sqrt(running_var + ε).",
                          [(frozen, "this treats the mean and variance as constants, true only "
                                    "in evaluation mode: in training they depend on x, which "
                                    "adds the two sums.")] if training else [],
                          rtol=1e-6, atol=1e-9)
        if ok and not training:
            report.array(title + " (dγ, dβ)", np.concatenate([grads[1], grads[2]]),
                         np.concatenate([dgamma, dbeta]), "dγ = Σ dout·x̂, dβ = Σ dout.")
