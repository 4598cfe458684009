"""Identity, Concat and Residual containers; Conv1d/grouped Conv2d layers; meta parameters."""
from __future__ import annotations

import numpy as np
import pytest

from cnnlab import init
from cnnlab.analysis import summary
from cnnlab.gradcheck import module_gradcheck
from cnnlab.layers import Conv1d, Conv2d, Flatten, GlobalAvgPool2d, Linear, MaxPool2d, ReLU
from cnnlab.module import Concat, Identity, Residual, Sequential
from cnnlab.norm import BatchNorm2d
from cnnlab.optim import SGD

F64 = np.float64


def inception_like(c_in=3, rng_seed=0):
    r = np.random.default_rng(rng_seed)
    return Concat(Conv2d(c_in, 2, 1, rng=r, dtype=F64),
                  Sequential(Conv2d(c_in, 2, 1, rng=r, dtype=F64), ReLU(),
                             Conv2d(2, 3, 3, padding=1, rng=r, dtype=F64)),
                  Sequential(MaxPool2d(3, 1, 1), Conv2d(c_in, 1, 1, rng=r, dtype=F64)))


def residual(project: bool, rng_seed=0):
    r = np.random.default_rng(rng_seed)
    c_out, stride = (4, 2) if project else (3, 1)
    body = Sequential(Conv2d(3, c_out, 3, stride, 1, rng=r, dtype=F64), ReLU(),
                      Conv2d(c_out, c_out, 3, padding=1, rng=r, dtype=F64))
    shortcut = Conv2d(3, c_out, 1, stride, bias=False, rng=r, dtype=F64) if project else None
    return Residual(body, shortcut, ReLU())


def smooth_input(rng, shape):
    return np.sign(x := rng.standard_normal(shape)) * (0.1 + np.abs(x))


def test_concat_forward_is_the_stacked_branches(rng):
    m, x = inception_like(), rng.standard_normal((2, 3, 6, 6))
    out = m(x)
    parts = [branch.forward(x) for branch in m.branches]
    np.testing.assert_array_equal(out, np.concatenate(parts, axis=1))
    assert m.output_shape(x.shape) == out.shape == (2, 6, 6, 6)


def test_concat_gradcheck_sums_branch_gradients(rng):
    errors = module_gradcheck(inception_like(), smooth_input(rng, (2, 3, 5, 5)))
    assert max(errors.values()) < 1e-7, errors


@pytest.mark.parametrize("project", [False, True])
def test_residual_gradcheck(project, rng):
    errors = module_gradcheck(residual(project), smooth_input(rng, (2, 3, 6, 6)))
    assert max(errors.values()) < 1e-7, errors


def test_residual_identity_skip_passes_the_gradient_unchanged(rng):
    """With a zero body, out = x and dx = dout: the skip alone carries the gradient."""
    body = Linear(4, 4, rng=0, dtype=F64)
    body.weight.data[...] = 0.0
    block, x = Residual(body), rng.standard_normal((3, 4))
    np.testing.assert_array_equal(block(x), x)
    g = rng.standard_normal((3, 4))
    np.testing.assert_array_equal(block.backward(g), g)


def test_residual_and_concat_match_torch(torch, rng):
    block, x = residual(True), smooth_input(rng, (2, 3, 6, 6))
    convs = [block.body[0], block.body[2], block.shortcut]
    tconvs = [torch.nn.Conv2d(c.in_channels, c.out_channels, c.kernel_size, c.stride,
                              c.padding, bias=c.bias is not None, dtype=torch.float64)
              for c in convs]
    with torch.no_grad():
        for c, t in zip(convs, tconvs, strict=True):
            t.weight.copy_(torch.tensor(c.weight.data))
            if c.bias is not None:
                t.bias.copy_(torch.tensor(c.bias.data))
    xt = torch.tensor(x, requires_grad=True)
    out_t = torch.relu(tconvs[1](torch.relu(tconvs[0](xt))) + tconvs[2](xt))
    out = block(x)
    dout = rng.standard_normal(out.shape)
    out_t.backward(torch.tensor(dout))
    dx = block.backward(dout)
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-6, atol=1e-12)
    for c, t in zip(convs, tconvs, strict=True):
        np.testing.assert_allclose(c.weight.grad, t.weight.grad.numpy(), rtol=1e-6, atol=1e-12)


def test_summary_expands_containers_and_totals_agree():
    model = Sequential(residual(True), inception_like(4), GlobalAvgPool2d())
    s = summary(model, (1, 3, 8, 8))
    names = [r.name for r in s.rows]
    assert names[:5] == ["0.body.0", "0.body.1", "0.body.2", "0.shortcut", "0.activation"]
    assert names[5] == "0" and s.rows[5].layer == "Residual"
    assert s.rows[5].output_shape == (1, 4, 4, 4)
    concat_row = next(r for r in s.rows if r.name == "1")
    assert concat_row.layer == "Concat" and concat_row.output_shape == (1, 6, 4, 4)
    assert sum(r.params for r in s.rows) == s.total_params == model.num_parameters()
    assert s.output_shape == (1, 6, 1, 1)


@pytest.mark.parametrize("make, shape, match", [
    (lambda: Residual(Conv2d(3, 4, 3, padding=1)), (1, 3, 5, 5),
     r"body output shape \(1, 4, 5, 5\) does not match the shortcut's \(1, 3, 5, 5\) "
     r"\(give a projection shortcut\)"),
    (lambda: Concat(Conv2d(3, 4, 3), Conv2d(3, 4, 1)), (1, 3, 5, 5),
     r"branches: outputs must agree on every axis but channels"),
])
def test_mismatched_shapes_are_clear_errors(make, shape, match):
    m = make()
    with pytest.raises(ValueError, match=match):
        m.output_shape(shape)
    with pytest.raises(ValueError, match=match):
        m(np.zeros(shape, np.float32))


@pytest.mark.parametrize("call, exc, match", [
    (lambda: Residual("conv"), TypeError, r"^body must be a Module, got str"),
    (lambda: Residual(ReLU(), shortcut=3), TypeError, r"^shortcut must be a Module or None"),
    (lambda: Concat(), ValueError, r"^branches: Concat needs at least one branch"),
    (lambda: Concat(ReLU(), "x"), TypeError, r"^branches\[1\] must be a Module, got str"),
    (lambda: Conv2d(4, 6, 3, groups=4), ValueError, r"^groups: out_channels 6 is not divisible"),
    (lambda: Conv2d(3, 6, 3, groups=2), ValueError, r"^groups: in_channels 3 is not divisible"),
    (lambda: Conv1d(3, 6, 3, padding="full"), ValueError, r"^padding must be 'same', 'valid'"),
    (lambda: Conv1d(3, 6, 3, stride=2, padding="same"), ValueError, r"needs stride 1"),
    (lambda: Conv1d(3, 6, (3, 3)), TypeError, r"^kernel_size must be an integer"),
    (lambda: Identity().backward(np.zeros(2)), RuntimeError, r"called before forward"),
])
def test_bad_construction(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# --------------------------------------------------------------------------- layers
@pytest.mark.parametrize("make, shape", [
    (lambda: Conv2d(4, 6, 3, padding=2, dilation=2, groups=2, rng=0, dtype=F64), (2, 4, 6, 6)),
    (lambda: Conv2d(3, 3, 3, stride=2, padding=1, groups=3, rng=1, dtype=F64), (2, 3, 7, 7)),
    (lambda: Conv1d(2, 4, 3, padding="same", dilation=2, rng=2, dtype=F64), (3, 2, 11)),
    (lambda: Conv1d(4, 4, 5, stride=2, groups=4, bias=False, rng=3, dtype=F64), (2, 4, 13)),
    (GlobalAvgPool2d, (2, 3, 4, 5)),
])
def test_new_layers_gradcheck_and_torch(make, shape, rng, torch):
    layer, x = make(), rng.standard_normal(shape)
    errors = module_gradcheck(layer, x)
    assert max(errors.values()) < 1e-7, errors
    out = layer(x)
    assert out.shape == layer.output_shape(shape)
    if isinstance(layer, GlobalAvgPool2d):
        t_layer = torch.nn.AdaptiveAvgPool2d(1)
    else:
        cls = torch.nn.Conv2d if type(layer) is Conv2d else torch.nn.Conv1d

        def one(v):
            return v if isinstance(v, str) or type(layer) is Conv2d else v[0]

        t_layer = cls(layer.in_channels, layer.out_channels, one(layer.kernel_size),
                      one(layer.stride), one(layer.padding), one(layer.dilation), layer.groups,
                      bias=layer.bias is not None, dtype=torch.float64)
        with torch.no_grad():
            for name, p in layer.named_parameters():
                getattr(t_layer, name).copy_(torch.tensor(p.data))
    xt = torch.tensor(x, requires_grad=True)
    out_t = t_layer(xt)
    dout = rng.standard_normal(out.shape)
    out_t.backward(torch.tensor(dout))
    layer.zero_grad()
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(layer.backward(dout), xt.grad.numpy(), rtol=1e-6, atol=1e-12)
    for name, p in layer.named_parameters():
        np.testing.assert_allclose(p.grad, getattr(t_layer, name).grad.numpy(), rtol=1e-6,
                                   atol=1e-12)


def test_depthwise_separable_parameter_counts():
    depthwise, pointwise = Conv2d(32, 32, 3, groups=32, bias=False), Conv2d(32, 64, 1, bias=False)
    assert depthwise.weight.shape == (32, 1, 3, 3)
    assert depthwise.num_parameters() + pointwise.num_parameters() == 32 * 9 + 32 * 64
    assert Conv2d(32, 64, 3, bias=False).num_parameters() == 32 * 64 * 9


# --------------------------------------------------------------------------- meta
def test_meta_parameters_use_no_memory_and_cannot_run():
    with init.meta():
        model = Sequential(Conv2d(3, 64, 3, padding=1), BatchNorm2d(64), ReLU(),
                           GlobalAvgPool2d(), Flatten(), Linear(64, 10))
        big = Linear(25088, 4096)
    assert not init.is_meta()
    assert big.num_parameters() == 25088 * 4096 + 4096
    assert big.weight.is_meta and big.weight.data.base.nbytes == 4
    assert summary(model, (1, 3, 32, 32)).total_params == 1792 + 128 + 650
    with pytest.raises(RuntimeError, match=r"built inside cnnlab.init.meta\(\): parameter "
                                           r"'0.weight' \(64, 3, 3, 3\) has a shape"):
        model(np.zeros((1, 3, 32, 32), np.float32))
    with pytest.raises(RuntimeError, match=r"params\[0\] \(4096, 25088\) was built inside"):
        SGD(big.parameters(), lr=0.1)
    with init.meta():
        single = Linear(3, 1)  # a one-element bias is shape-only too
    assert single.bias.is_meta and single.weight.is_meta
    real = Linear(3, 2, rng=0)
    assert not real.weight.is_meta and real.weight.data.flags.writeable
    frozen = np.ones(1)
    frozen.flags.writeable = False  # a read-only array of one element is not meta
    assert not init.is_meta_array(frozen) and not init.is_meta_array(np.float64(1.0)[()])


def test_meta_context_restores_on_error():
    with pytest.raises(ZeroDivisionError):
        with init.meta():
            _ = 1 / 0
    assert not init.is_meta()
