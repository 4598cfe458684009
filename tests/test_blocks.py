"""Residual blocks: gradient checks, PyTorch cross-checks, shapes, summaries and counts.

Tolerances: gradient checks use relative error < 1e-7 (float64, eps 1e-6), in
training mode (batch statistics: the whole batch goes through every forward) and
in evaluation mode (running statistics). PyTorch comparisons use rtol 1e-6 with
atol 1e-12 (float64); the torch blocks come from ``tests/torch_reference.py``.
"""
from __future__ import annotations

import importlib

import numpy as np
import pytest

from cnnlab.analysis import summary
from cnnlab.blocks import (
    BasicBlock,
    Bottleneck,
    Inception,
    depthwise_separable,
    plain_block,
    resnet_stage,
)
from cnnlab.gradcheck import module_gradcheck
from cnnlab.layers import Conv2d, ReLU
from cnnlab.module import Residual, Sequential
from cnnlab.norm import BatchNorm2d

F64 = np.float64
RTOL, ATOL = 1e-6, 1e-12
GRAD_TOL = 1e-7

# id: (builder, input shape, has projection)
CASES = {
    "basic_identity": (lambda: BasicBlock(3, 3, rng=0, dtype=F64), (2, 3, 5, 5), False),
    "basic_stride2": (lambda: BasicBlock(2, 4, stride=2, rng=1, dtype=F64), (2, 2, 5, 6), True),
    "basic_widen": (lambda: BasicBlock(2, 3, rng=2, dtype=F64), (3, 2, 4, 3), True),
    "bottleneck_identity": (lambda: Bottleneck(8, 2, rng=3, dtype=F64), (2, 8, 4, 4), False),
    "bottleneck_stride2": (lambda: Bottleneck(4, 2, stride=2, rng=4, dtype=F64), (2, 4, 5, 5),
                           True),
    "bottleneck_expansion2": (lambda: Bottleneck(3, 2, expansion=2, rng=5, dtype=F64),
                              (2, 3, 3, 4), True),
}
IDS = list(CASES)


@pytest.fixture(scope="module")
def ref(torch):
    """``tests/torch_reference.py``, imported once torch is known to be there."""
    return importlib.import_module("torch_reference")


def build(case_id, rng, mode):
    """The block with random parameters (and running statistics), in ``mode``, and an input."""
    make, shape, _ = CASES[case_id]
    block = make()
    for p in block.parameters():  # random scales and shifts: a swapped BN parameter shows
        p.data = rng.standard_normal(p.data.shape) * 0.5 + (1.0 if p.data.ndim == 1 else 0.0)
    for m in _batch_norms(block):
        m.running_mean = rng.standard_normal(m.num_features) * 0.1
        m.running_var = rng.uniform(0.5, 2.0, m.num_features)
    block.train(mode == "train")
    return block, rng.standard_normal(shape)


def forward_backward_equal(module, tmodule, x, rng, torch):
    """Run both modules forward and backward on ``x``; assert equal outputs and input gradients."""
    out = module.forward(x)
    g = rng.standard_normal(out.shape)
    dx = module.backward(g)
    tx = torch.tensor(x, requires_grad=True)
    tout = tmodule(tx)
    tout.backward(torch.from_numpy(g))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=RTOL, atol=ATOL)


def _batch_norms(module):
    if isinstance(module, BatchNorm2d):
        yield module
    for child in module.children():
        yield from _batch_norms(child)


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("case_id", IDS)
def test_gradcheck_input_and_every_parameter(case_id, mode, rng):
    block, x = build(case_id, rng, mode)
    errors = module_gradcheck(block, x, rng=0, tol=GRAD_TOL)
    assert set(errors) == {"x"} | {name for name, _ in block.named_parameters()}
    assert max(errors.values()) < GRAD_TOL


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("case_id", IDS)
def test_forward_backward_and_running_stats_equal_torch(case_id, mode, rng, torch, ref):
    block, x = build(case_id, rng, mode)
    first = block.body.layers[0]
    if isinstance(block, Bottleneck):
        tblock = ref.Bottleneck(first.in_channels, first.out_channels, block.stride,
                                block.expansion)
    else:
        tblock = ref.BasicBlock(first.in_channels, block.out_channels, block.stride)
    tblock = tblock.double().train(mode == "train")
    tparams = dict(tblock.named_parameters())
    assert set(tparams) == {name for name, _ in block.named_parameters()}
    tbuffers = {k: v for k, v in tblock.named_buffers() if not k.endswith("num_batches_tracked")}
    with torch.no_grad():
        for name, array in block.state_dict().items():
            (tparams.get(name) if name in tparams else tbuffers[name]).copy_(
                torch.from_numpy(array))
    forward_backward_equal(block, tblock, x, rng, torch)
    for name, p in block.named_parameters():
        np.testing.assert_allclose(p.grad, tparams[name].grad.numpy(), rtol=RTOL, atol=ATOL,
                                   err_msg=name)
    for name, b in block.named_buffers():
        np.testing.assert_allclose(b, tbuffers[name].numpy(), rtol=RTOL, atol=ATOL,
                                   err_msg=name)


@pytest.mark.parametrize("case_id", IDS)
def test_structure_projection_only_when_the_shape_changes(case_id):
    make, shape, projected = CASES[case_id]
    block = make()
    assert isinstance(block, Residual)
    assert isinstance(block.activation, ReLU)
    assert (block.shortcut is not None) == projected
    convs = [m for m in block.body if isinstance(m, Conv2d)]
    if projected:
        convs.append(block.shortcut.layers[0])
        assert isinstance(block.shortcut.layers[1], BatchNorm2d)
        assert block.shortcut.layers[0].kernel_size == (1, 1)
        assert block.shortcut.layers[0].stride == (block.stride, block.stride)
    assert all(c.bias is None for c in convs)
    assert block.out_channels == block.output_shape(shape)[1]


@pytest.mark.parametrize("case_id", IDS)
def test_output_shape_matches_forward(case_id, rng):
    block, x = build(case_id, rng, "train")
    assert block.output_shape(x.shape) == block.forward(x).shape


@pytest.mark.parametrize("size, stride, expected", [(7, 1, 7), (7, 2, 4), (8, 2, 4),
                                                    (9, 3, 3), (1, 2, 1)])
def test_downsampling_is_ceil_of_size_over_stride(size, stride, expected):
    for block in (BasicBlock(2, 4, stride), Bottleneck(2, 1, stride)):
        assert block.output_shape((1, 2, size, size + 1))[2] == expected


def test_summary_rows_of_a_projection_bottleneck():
    s = summary(Bottleneck(64, 64, rng=0), (1, 64, 56, 56))
    names = [r.name for r in s.rows]
    assert names == [f"body.{i}" for i in range(8)] + ["shortcut.0", "shortcut.1",
                                                        "activation", ""]
    params = {r.name: r.params for r in s.rows}
    assert params["body.0"] == 64 * 64 and params["body.3"] == 9 * 64 * 64
    assert params["body.6"] == params["shortcut.0"] == 64 * 256
    assert params["body.7"] == params["shortcut.1"] == 2 * 256
    assert params[""] == 0  # the merge row: the parameters are counted in the rows above
    assert s.rows[-1].output_shape == s.output_shape == (1, 256, 56, 56)
    assert s.total_params == s.trainable_params == 75_008  # first block of ResNet-50
    assert sum(r.params for r in s.rows) == s.total_params


def test_summary_of_an_identity_basic_block_has_no_shortcut_rows():
    s = summary(BasicBlock(64, 64, rng=0), (1, 64, 56, 56))
    assert [r.name for r in s.rows] == [f"body.{i}" for i in range(5)] + ["activation", ""]
    assert s.total_params == 2 * 9 * 64 * 64 + 4 * 64 == 73_984  # ResNet-18/34 conv2_x


@pytest.mark.parametrize("c_in, c_out, stride", [(3, 3, 1), (2, 5, 1), (4, 4, 2), (16, 32, 2)])
def test_basic_block_parameter_formula(c_in, c_out, stride):
    projection = c_in * c_out + 2 * c_out if (stride != 1 or c_in != c_out) else 0
    expected = 9 * c_in * c_out + 9 * c_out ** 2 + 4 * c_out + projection
    assert BasicBlock(c_in, c_out, stride, rng=0).num_parameters() == expected


@pytest.mark.parametrize("c_in, mid, stride, e", [(8, 2, 1, 4), (3, 2, 2, 4), (6, 3, 1, 2),
                                                  (256, 128, 2, 4)])
def test_bottleneck_parameter_formula(c_in, mid, stride, e):
    projection = c_in * e * mid + 2 * e * mid if (stride != 1 or c_in != e * mid) else 0
    expected = c_in * mid + 9 * mid ** 2 + e * mid ** 2 + 2 * (2 * mid + e * mid) + projection
    assert Bottleneck(c_in, mid, stride, expansion=e, rng=0).num_parameters() == expected


def test_plain_block_has_the_basic_block_layers_without_the_skip(rng):
    plain = plain_block(4, 4, rng=0, dtype=F64)
    basic = BasicBlock(4, 4, rng=0, dtype=F64)
    assert isinstance(plain, Sequential) and not isinstance(plain, Residual)
    assert plain.num_parameters() == basic.num_parameters()
    for (_, p), (_, q) in zip(plain.named_parameters(), basic.named_parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data)  # same seed, same draws
    x = rng.standard_normal((2, 4, 5, 5))
    skip_free = basic.activation.forward(basic.body.forward(x))
    np.testing.assert_allclose(plain.forward(x), skip_free, rtol=RTOL, atol=ATOL)


def test_resnet_stage_widens_and_downsamples_once():
    stage = resnet_stage(Bottleneck, 256, 128, 4, stride=2, rng=0)
    assert len(stage) == 4
    assert [b.stride for b in stage] == [2, 1, 1, 1]
    assert [b.shortcut is not None for b in stage] == [True, False, False, False]
    assert stage.output_shape((1, 256, 56, 56)) == (1, 512, 28, 28)
    basic = resnet_stage(BasicBlock, 64, 128, 2, stride=2, rng=0)
    assert basic.output_shape((2, 64, 9, 9)) == (2, 128, 5, 5)


def test_same_seed_same_weights():
    a, b = Bottleneck(4, 2, 2, rng=7), Bottleneck(4, 2, 2, rng=7)
    for (_, p), (_, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data)


@pytest.mark.parametrize("make, name", [
    (lambda: BasicBlock(0, 4), "in_channels"), (lambda: BasicBlock(4, 4, stride=0), "stride"),
    (lambda: Bottleneck(4, 0), "mid_channels"), (lambda: Bottleneck(4, 2, expansion=0),
                                                 "expansion"),
    (lambda: resnet_stage(BasicBlock, 4, 4, 0), "num_blocks"),
])
def test_bad_arguments_name_the_argument(make, name):
    with pytest.raises(ValueError, match=name):
        make()


def test_resnet_stage_refuses_other_blocks():
    with pytest.raises(TypeError, match="block"):
        resnet_stage(Conv2d, 4, 4, 1)


def test_input_channels_are_checked(rng):
    with pytest.raises(ValueError, match="channels"):
        BasicBlock(3, 3, dtype=F64).forward(rng.standard_normal((1, 4, 5, 5)))


def _small_inception():
    return Inception(3, 2, 2, 3, 1, 2, 2, rng=0, dtype=F64)


def _small_separable():
    return depthwise_separable(3, 4, stride=2, rng=0, dtype=F64)


def _torch_separable(torch):
    nn = torch.nn
    return nn.Sequential(nn.Conv2d(3, 3, 3, 2, 1, groups=3, bias=False), nn.BatchNorm2d(3),
                         nn.ReLU(), nn.Conv2d(3, 4, 1, bias=False), nn.BatchNorm2d(4), nn.ReLU())


@pytest.mark.parametrize("make", [_small_inception, _small_separable])
def test_inception_and_separable_gradcheck(make, rng):
    module = make()
    for p in module.parameters():
        p.data = rng.standard_normal(p.data.shape) * 0.5 + (1.0 if p.data.ndim == 1 else 0.0)
    errors = module_gradcheck(module, rng.standard_normal((2, 3, 5, 5)), rng=0, tol=GRAD_TOL)
    assert max(errors.values()) < GRAD_TOL


@pytest.mark.parametrize("make, make_torch", [
    (_small_inception, lambda t, r: r.Inception(3, 2, 2, 3, 1, 2, 2)),
    (_small_separable, lambda t, r: _torch_separable(t)),
])
def test_inception_and_separable_equal_torch(make, make_torch, rng, torch, ref):
    module = make()
    tmodule = make_torch(torch, ref).double()
    # the same parameters in the same order: branch, layer, w/b
    pairs = list(zip(module.named_parameters(), tmodule.named_parameters(), strict=True))
    with torch.no_grad():
        for (_, p), (_, q) in pairs:
            assert p.data.shape == tuple(q.shape)
            p.data = rng.standard_normal(p.data.shape) * 0.5
            q.copy_(torch.from_numpy(p.data))
    forward_backward_equal(module, tmodule, rng.standard_normal((2, 3, 6, 5)), rng, torch)
    for (name, p), (_, q) in pairs:
        np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=RTOL, atol=ATOL, err_msg=name)


def test_inception_3a_shape_and_count():
    block = Inception(192, 64, 96, 128, 16, 32, 32, rng=0)
    assert block.out_channels == 256
    assert block.output_shape((1, 192, 28, 28)) == (1, 256, 28, 28)
    weights = 192 * (64 + 96 + 16 + 32) + 9 * 96 * 128 + 25 * 16 * 32
    assert block.num_parameters() == weights + (64 + 96 + 128 + 16 + 32 + 32) == 163_696
    assert [r.name for r in summary(block, (1, 192, 28, 28)).rows][-1] == ""


def test_depthwise_separable_count_and_groups():
    block = depthwise_separable(512, 1024, stride=2, rng=0)
    assert block.layers[0].groups == 512
    assert block.num_parameters() == 9 * 512 + 512 * 1024 + 2 * (512 + 1024)
    assert block.output_shape((1, 512, 14, 14)) == (1, 1024, 7, 7)
