"""Folding an evaluation-mode batch norm into the layer before it (cnnlab.fold).

The oracle is the pair itself: ``bn(layer(x))`` with ``bn`` in evaluation mode.
Tolerances: float64 rtol 1e-12, atol 1e-12 against the pair (the folded weights are
rounded once); float32 rtol 1e-5, atol 1e-5; PyTorch float64 rtol 1e-6, atol 1e-12.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlab.fold import fold_batch_norm, fold_batch_norm_weights
from cnnlab.layers import Conv1d, Conv2d, Linear
from cnnlab.module import Sequential
from cnnlab.norm import BatchNorm1d, BatchNorm2d

F64 = np.float64

# (id, layer factory, batch norm class, input shape)
CONV2D = [
    ("3x3_pad1", lambda d: Conv2d(3, 4, 3, padding=1, rng=0, dtype=d), (2, 3, 6, 5)),
    ("no_bias", lambda d: Conv2d(3, 4, 3, bias=False, rng=0, dtype=d), (2, 3, 6, 6)),
    ("stride2_dilation2", lambda d: Conv2d(2, 5, 3, stride=2, padding=2, dilation=2, rng=0,
                                           dtype=d), (3, 2, 9, 8)),
    ("groups2", lambda d: Conv2d(4, 6, (3, 1), padding=(1, 0), groups=2, rng=0, dtype=d),
     (2, 4, 5, 5)),
    ("depthwise_no_bias", lambda d: Conv2d(3, 3, 3, groups=3, bias=False, rng=0, dtype=d),
     (1, 3, 4, 4)),
    ("1x1_C1", lambda d: Conv2d(1, 1, 1, rng=0, dtype=d), (1, 1, 3, 3)),
    ("same", lambda d: Conv2d(2, 3, 4, padding="same", rng=0, dtype=d), (2, 2, 6, 6)),
    ("kernel_is_input", lambda d: Conv2d(2, 3, 5, rng=0, dtype=d), (4, 2, 5, 5)),
]
OTHERS = [
    ("conv1d", lambda d: Conv1d(3, 4, 3, padding=1, rng=0, dtype=d), BatchNorm1d, (2, 3, 7)),
    ("conv1d_groups_no_bias", lambda d: Conv1d(4, 4, 2, groups=2, bias=False, rng=0, dtype=d),
     BatchNorm1d, (3, 4, 6)),
    ("linear", lambda d: Linear(5, 3, rng=0, dtype=d), BatchNorm1d, (4, 5)),
    ("linear_no_bias", lambda d: Linear(2, 6, bias=False, rng=0, dtype=d), BatchNorm1d, (3, 2)),
]
CASES = [(name, make, BatchNorm2d, shape) for name, make, shape in CONV2D] + OTHERS
IDS = [case[0] for case in CASES]


def trained_pair(make, bn_cls, shape, rng, dtype=F64, affine=True, steps=4):
    """A layer and a batch norm whose running statistics come from training-mode passes."""
    layer = make(dtype)
    channels = layer.out_features if isinstance(layer, Linear) else layer.out_channels
    bn = bn_cls(channels, momentum=0.3, affine=affine, dtype=dtype)
    if affine:
        bn.weight.data = rng.uniform(-2.0, 2.0, channels).astype(dtype)  # negative too
        bn.bias.data = rng.standard_normal(channels).astype(dtype)
    if layer.bias is not None:
        layer.bias.data = rng.standard_normal(layer.bias.shape).astype(dtype)
    for i in range(steps):
        bn(layer((rng.standard_normal(shape) * (i + 1) + 2.0).astype(dtype)))
    return layer, bn.eval()


@pytest.mark.parametrize("affine", [True, False], ids=["affine", "no_affine"])
@pytest.mark.parametrize("name, make, bn_cls, shape", CASES, ids=IDS)
def test_folded_layer_equals_layer_then_batch_norm_float64(name, make, bn_cls, shape, affine,
                                                           rng):
    layer, bn = trained_pair(make, bn_cls, shape, rng, affine=affine)
    x = rng.standard_normal(shape) * 3
    expected = bn(layer(x))
    folded = fold_batch_norm(layer, bn)
    np.testing.assert_allclose(folded(x), expected, rtol=1e-12, atol=1e-12)
    # and the input gradient: backward of the folded layer == backward through the pair
    g = rng.standard_normal(expected.shape)
    np.testing.assert_allclose(folded.backward(g), layer.backward(bn.backward(g)),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name, make, bn_cls, shape", CASES, ids=IDS)
def test_folded_layer_float32(name, make, bn_cls, shape, rng):
    layer, bn = trained_pair(make, bn_cls, shape, rng, dtype=np.float32)
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    folded = fold_batch_norm(layer, bn)
    out = folded(x)
    assert out.dtype == np.float32 and folded.weight.data.dtype == np.float32
    assert folded.bias.data.dtype == np.float32
    np.testing.assert_allclose(out, bn(layer(x)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name, make, bn_cls, shape", CASES, ids=IDS)
def test_copy_keeps_settings_and_leaves_the_pair_alone(name, make, bn_cls, shape, rng):
    layer, bn = trained_pair(make, bn_cls, shape, rng)
    before = {**{f"layer.{k}": v for k, v in layer.state_dict().items()},
              **{f"bn.{k}": v for k, v in bn.state_dict().items()}}
    layer.train()
    folded = fold_batch_norm(layer, bn)
    assert type(folded) is type(layer) and folded is not layer
    assert folded.training is False and layer.training is True and bn.training is False
    with_bias = ("bias=True" if isinstance(layer, Linear) else "").join(
        repr(layer).split("bias=False" if isinstance(layer, Linear) else ", bias=False"))
    assert repr(folded) == with_bias
    assert folded.bias is not None and folded.weight is not layer.weight
    assert [n for n, _ in folded.named_parameters()] == ["weight", "bias"]
    after = {**{f"layer.{k}": v for k, v in layer.state_dict().items()},
             **{f"bn.{k}": v for k, v in bn.state_dict().items()}}
    assert before.keys() == after.keys()
    for key in before:
        np.testing.assert_array_equal(before[key], after[key], err_msg=key)
    folded.weight.data += 1.0   # the copy owns its arrays
    np.testing.assert_array_equal(layer.weight.data, before["layer.weight"])


def test_formula_written_out(rng):
    """W' = s W and b' = s (b - mean) + beta with s = gamma / sqrt(var + eps), per channel."""
    w, b = rng.standard_normal((3, 2, 2, 2)), rng.standard_normal(3)
    mean, var = rng.standard_normal(3), rng.uniform(0.0, 2.0, 3)
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    new_w, new_b = fold_batch_norm_weights(w, b, mean, var, 1e-3, gamma, beta)
    for o in range(3):
        s = gamma[o] / np.sqrt(var[o] + 1e-3)
        np.testing.assert_allclose(new_w[o], s * w[o], rtol=1e-14)
        np.testing.assert_allclose(new_b[o], s * (b[o] - mean[o]) + beta[o], rtol=1e-14)
    # None means bias 0, gamma 1, beta 0
    new_w, new_b = fold_batch_norm_weights(w, None, mean, var, 1e-3, None, None)
    np.testing.assert_allclose(new_w, w / np.sqrt(var + 1e-3)[:, None, None, None], rtol=1e-14)
    np.testing.assert_allclose(new_b, -mean / np.sqrt(var + 1e-3), rtol=1e-14)


def test_float32_folding_is_rounded_once(rng):
    """float32 inputs are folded in float64 and rounded once: exactly the float64 result cast."""
    args = [rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4), rng.standard_normal(4),
            rng.uniform(0.1, 2.0, 4)]
    gamma, beta = rng.standard_normal(4), rng.standard_normal(4)
    w64, b64 = fold_batch_norm_weights(*args, 1e-5, gamma, beta)
    w32, b32 = fold_batch_norm_weights(*[a.astype(np.float32) for a in args], 1e-5,
                                       gamma.astype(np.float32), beta.astype(np.float32))
    w_ref, b_ref = fold_batch_norm_weights(*[a.astype(np.float32).astype(F64) for a in args],
                                           1e-5, gamma.astype(np.float32).astype(F64),
                                           beta.astype(np.float32).astype(F64))
    np.testing.assert_array_equal(w32, w_ref.astype(np.float32))
    np.testing.assert_array_equal(b32, b_ref.astype(np.float32))
    np.testing.assert_allclose(w32, w64, rtol=1e-5)


def test_pure_function_leaves_its_inputs_alone(rng):
    arrays = [rng.standard_normal((2, 3)), rng.standard_normal(2), rng.standard_normal(2),
              rng.uniform(0.5, 1.0, 2), rng.standard_normal(2), rng.standard_normal(2)]
    copies = [a.copy() for a in arrays]
    fold_batch_norm_weights(*arrays[:4], 1e-5, *arrays[4:])
    for a, c in zip(arrays, copies, strict=True):
        np.testing.assert_array_equal(a, c)


@settings(max_examples=40, deadline=None)
@given(c_in=st.integers(1, 3), c_out=st.integers(1, 4), k=st.integers(1, 3),
       stride=st.integers(1, 3), padding=st.integers(0, 2), size=st.integers(3, 7),
       n=st.integers(1, 3), bias=st.booleans(), seed=st.integers(0, 2**16))
def test_random_conv2d_shapes(c_in, c_out, k, stride, padding, size, n, bias, seed):
    rng = np.random.default_rng(seed)
    shape = (n, c_in, size, size)
    layer, bn = trained_pair(lambda d: Conv2d(c_in, c_out, k, stride, padding, bias=bias,
                                              rng=seed, dtype=d), BatchNorm2d,
                             (max(n, 2),) + shape[1:], rng)
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(fold_batch_norm(layer, bn)(x), bn(layer(x)), rtol=1e-12,
                               atol=1e-12)


def test_conv_bn_relu_block_of_a_sequential(rng):
    """The conv -> batch norm -> ReLU blocks of a network: fold each pair, same predictions."""
    from cnnlab.layers import MaxPool2d, ReLU

    conv1, bn1 = trained_pair(lambda d: Conv2d(1, 4, 5, padding=2, rng=1, dtype=d),
                              BatchNorm2d, (4, 1, 12, 12), rng)
    model = Sequential(conv1, bn1, ReLU(), MaxPool2d(2)).eval()
    folded = Sequential(fold_batch_norm(conv1, bn1), ReLU(), MaxPool2d(2)).eval()
    x = rng.standard_normal((3, 1, 12, 12))
    np.testing.assert_allclose(folded(x), model(x), rtol=1e-12, atol=1e-12)
    assert folded.num_parameters() == model.num_parameters() - 2 * 4


def test_folding_training_statistics_would_be_wrong(rng):
    """Why training mode is refused: its output uses the batch, the fold the running estimates."""
    layer, bn = trained_pair(CONV2D[0][1], BatchNorm2d, CONV2D[0][2], rng)
    folded = fold_batch_norm(layer, bn)
    x = rng.standard_normal(CONV2D[0][2]) * 5 + 3
    bn.train()
    assert not np.allclose(folded(x), bn(layer(x)), rtol=1e-3)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
@pytest.mark.parametrize("name, make, bn_cls, shape", CASES, ids=IDS)
def test_equals_torch_float64(name, make, bn_cls, shape, rng, torch):
    from torch.nn.utils import fusion

    layer, bn = trained_pair(make, bn_cls, shape, rng)
    t = torch.from_numpy
    if isinstance(layer, Linear):
        tlayer = torch.nn.Linear(layer.in_features, layer.out_features,
                                 bias=layer.bias is not None, dtype=torch.float64)
    else:
        cls = torch.nn.Conv1d if isinstance(layer, Conv1d) else torch.nn.Conv2d
        padding = layer.padding if isinstance(layer.padding, str) else layer.padding
        tlayer = cls(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride,
                     padding, layer.dilation, layer.groups, bias=layer.bias is not None,
                     dtype=torch.float64)
    tbn = {BatchNorm2d: torch.nn.BatchNorm2d, BatchNorm1d: torch.nn.BatchNorm1d}[bn_cls](
        bn.num_features, eps=bn.eps, dtype=torch.float64)
    with torch.no_grad():
        tlayer.weight.copy_(t(layer.weight.data))
        if layer.bias is not None:
            tlayer.bias.copy_(t(layer.bias.data))
        tbn.weight.copy_(t(bn.weight.data))
        tbn.bias.copy_(t(bn.bias.data))
        tbn.running_mean.copy_(t(bn.running_mean))
        tbn.running_var.copy_(t(bn.running_var))
    tlayer.eval()
    tbn.eval()
    x = rng.standard_normal(shape)
    folded = fold_batch_norm(layer, bn)
    with torch.no_grad():
        expected = tbn(tlayer(t(x))).numpy()
        fuse = fusion.fuse_linear_bn_eval if isinstance(layer, Linear) else \
            fusion.fuse_conv_bn_eval
        tfolded = fuse(tlayer, tbn)
    np.testing.assert_allclose(folded(x), expected, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(folded.weight.data, tfolded.weight.detach().numpy(),
                               rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(folded.bias.data, tfolded.bias.detach().numpy(),
                               rtol=1e-6, atol=1e-12)
