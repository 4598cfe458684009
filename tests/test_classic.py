"""LeNet-5 (1998) layers: the C3 table and parameter counts the paper states, oracles,
float64 gradient checks, PyTorch equivalents written out, and argument errors.

Tolerances: oracle comparisons rtol 1e-12 (float64, same sums in another order);
gradient checks relative error < 1e-7 (float64, eps 1e-6);
PyTorch comparisons rtol 1e-6, atol 1e-12 (float64).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from cnnlab import conv
from cnnlab.classic import (
    LENET5_C3_TABLE,
    A,
    EuclideanRBF,
    PartialConv2d,
    S,
    ScaledTanh,
    Subsampling,
)
from cnnlab.gradcheck import module_gradcheck
from cnnlab.layers import Conv2d, Flatten, Linear
from cnnlab.module import Sequential

F64 = np.float64
GRAD_TOL = 1e-7


def close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=1e-12)


def randomise(layer, rng):
    """Random parameters (non-zero biases, coefficients away from 1/4) so no bug can hide."""
    for p in layer.parameters():
        p.data = rng.standard_normal(p.data.shape)
    return layer


# --- the C3 table --------------------------------------------------------------------
def test_c3_table_is_table_one_of_the_paper():
    assert len(LENET5_C3_TABLE) == 16
    assert [len(row) for row in LENET5_C3_TABLE] == [3] * 6 + [4] * 9 + [6]
    for o in range(6):  # 3 and 4 contiguous maps, cyclically
        assert LENET5_C3_TABLE[o] == tuple((o + i) % 6 for i in range(3))
        assert LENET5_C3_TABLE[6 + o] == tuple((o + i) % 6 for i in range(4))
    assert [set(r) for r in LENET5_C3_TABLE[12:15]] == [{0, 1, 3, 4}, {1, 2, 4, 5}, {0, 2, 3, 5}]
    assert set(LENET5_C3_TABLE[15]) == set(range(6))
    assert sum(len(row) for row in LENET5_C3_TABLE) == 60


def test_c3_has_1516_parameters_and_151600_connections():
    c3 = PartialConv2d(6, 16, 5, LENET5_C3_TABLE, rng=0)
    assert c3.n_connections == 60 and c3.weight.shape == (60, 5, 5)
    assert c3.num_parameters() == 60 * 25 + 16 == 1516
    out = c3.output_shape((1, 6, 14, 14))
    assert out == (1, 16, 10, 10)
    assert c3.num_parameters() * math.prod(out[2:]) == 151_600
    assert c3.mask().sum() == 60 and c3.mask()[15].all() and not c3.mask()[0, 3]
    full = Conv2d(6, 16, 5).num_parameters()
    assert full == 2416 and c3.num_parameters() < full


def test_lenet5_parameter_counts_from_layer_objects():
    c1, s2 = Conv2d(1, 6, 5, rng=0), Subsampling(6)
    c3, s4 = PartialConv2d(6, 16, 5, LENET5_C3_TABLE, rng=0), Subsampling(16)
    c5, f6, rbf = Conv2d(16, 120, 5, rng=0), Linear(120, 84, rng=0), EuclideanRBF(84, 10, rng=0)
    counts = [m.num_parameters() for m in (c1, s2, c3, s4, c5, f6)]
    assert counts == [156, 12, 1516, 32, 48_120, 10_164]
    assert rbf.num_parameters() == 840 and not rbf.weight.requires_grad
    model = Sequential(c1, ScaledTanh(), s2, ScaledTanh(), c3, ScaledTanh(), s4, ScaledTanh(),
                       c5, ScaledTanh(), Flatten(), f6, ScaledTanh(), rbf)
    trainable = sum(p.data.size for p in model.parameters() if p.requires_grad)
    assert trainable == 60_000  # "about 60,000 free parameters" in the paper
    assert model.output_shape((2, 1, 32, 32)) == (2, 10)
    assert model(np.zeros((2, 1, 32, 32), np.float32)).shape == (2, 10)
    # connections = parameters x output positions for C1 and C3 (the paper: 122,304; 151,600)
    assert c1.num_parameters() * 28 * 28 == 122_304


# --- PartialConv2d -------------------------------------------------------------------
# (in, out, kernel, connections, stride, padding, input shape)
PARTIAL = {
    "lenet_c3": (6, 16, 5, LENET5_C3_TABLE, 1, 0, (2, 6, 9, 9)),
    "rect_stride_pad": (3, 2, (3, 2), [(2, 0), (1,)], (2, 1), (1, 0), (1, 3, 7, 6)),
    "1x1_unused_input": (4, 3, 1, [(0,), (0, 1), (3, 1, 0)], 1, 0, (2, 4, 3, 3)),
    "full_table": (2, 3, 3, [(0, 1)] * 3, 1, 1, (1, 2, 4, 5)),
}


def partial(case, rng, bias=True):
    c_in, c_out, k, table, stride, pad, shape = PARTIAL[case]
    layer = PartialConv2d(c_in, c_out, k, table, stride, pad, bias, rng=0, dtype=F64)
    return randomise(layer, rng), rng.standard_normal(shape), table


def masked_weight(layer, table):
    """The dense kernel written from the table: kernels in table order, zeros elsewhere."""
    w = layer.weight.data
    full = np.zeros((len(table), layer.in_channels, *w.shape[1:]))
    pairs = [(o, c) for o, row in enumerate(table) for c in row]
    for i, (o, c) in enumerate(pairs):
        full[o, c] = w[i]
    return full


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("case", PARTIAL)
def test_partial_conv_equals_masked_naive_conv(case, bias, rng):
    layer, x, table = partial(case, rng, bias)
    full = masked_weight(layer, table)
    np.testing.assert_array_equal(layer.full_weight(), full)
    b = None if layer.bias is None else layer.bias.data
    expected = conv.conv2d_naive(x, full, b, layer.stride, layer.padding)
    np.testing.assert_allclose(layer(x), expected, rtol=1e-12, atol=1e-13)
    assert layer.output_shape(x.shape) == expected.shape


@pytest.mark.parametrize("case", PARTIAL)
def test_partial_conv_gradcheck(case, rng):
    layer, x, _ = partial(case, rng)
    errors = module_gradcheck(layer, x, tol=GRAD_TOL)
    assert set(errors) == {"x", "weight", "bias"} and max(errors.values()) < GRAD_TOL


@pytest.mark.parametrize("case", PARTIAL)
def test_partial_conv_equals_torch(case, rng, torch):
    """Torch version: one small convolution per output map over its own input maps."""
    layer, x, table = partial(case, rng)
    out = layer(x)
    g = rng.standard_normal(out.shape)
    dx = layer.backward(g)
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(layer.weight.data, requires_grad=True)
    tb = torch.tensor(layer.bias.data, requires_grad=True)
    maps, start = [], 0
    for o, row in enumerate(table):
        kernel = tw[start:start + len(row)].unsqueeze(0)  # (1, len(row), kh, kw)
        maps.append(torch.nn.functional.conv2d(tx[:, list(row)], kernel, tb[o:o + 1],
                                               layer.stride, layer.padding))
        start += len(row)
    tout = torch.cat(maps, dim=1)
    tout.backward(torch.from_numpy(g))
    close(out, tout.detach().numpy())
    close(dx, tx.grad.numpy())
    close(layer.weight.grad, tw.grad.numpy())
    close(layer.bias.grad, tb.grad.numpy())


def test_partial_conv_init_uses_per_map_fan_in():
    layer = PartialConv2d(4, 2, 30, [(0,), (0, 1, 2, 3)], rng=0, dtype=F64)
    # 900 and 3,600 samples: std error of the std <= 2.4%; 10% tolerance
    np.testing.assert_allclose(layer.weight.data[0].std(), math.sqrt(2 / 900), rtol=0.1)
    np.testing.assert_allclose(layer.weight.data[1:].std(), math.sqrt(2 / 3600), rtol=0.1)
    np.testing.assert_array_equal(layer.bias.data, 0.0)
    again = PartialConv2d(4, 2, 30, [(0,), (0, 1, 2, 3)], rng=0, dtype=F64)
    np.testing.assert_array_equal(layer.weight.data, again.weight.data)
    assert layer.weight.data.dtype == F64


@pytest.mark.parametrize("init", ["he_normal", "he_uniform", "xavier_normal", "xavier_uniform"])
def test_partial_conv_with_full_table_has_conv2d_init_std(init):
    """Every map connected: the fans, hence the std, are those of a dense Conv2d."""
    layer = PartialConv2d(8, 16, 5, [range(8)] * 16, init=init, rng=0)
    dense = Conv2d(8, 16, 5, init=init, rng=0)
    # 3,200 samples each: std error of the std ~1.3% (normal), less (uniform); 6% tolerance
    np.testing.assert_allclose(layer.weight.data.std(), dense.weight.data.std(), rtol=0.06)


def test_partial_conv_repr():
    assert repr(PartialConv2d(6, 16, 5, LENET5_C3_TABLE, bias=False)) == (
        "PartialConv2d(6, 16, kernel_size=(5, 5), connections=60, stride=(1, 1), "
        "padding=(0, 0), bias=False)")


@pytest.mark.parametrize("connections, error, match", [
    ([(0, 6)], ValueError, r"connections\[0\] refers to input map 6, but in_channels is 6"),
    ([(-1,)], ValueError, r"connections\[0\] refers to input map -1"),
    ([], ValueError, r"connections must have one entry per output map \(out_channels=1\), got 0"),
    ([(0,), (1,)], ValueError, "connections must have one entry per output map"),
    ([()], ValueError, r"connections\[0\] is empty"),
    ([(1, 1)], ValueError, r"connections\[0\] repeats an input map"),
    ("012", TypeError, "connections must be a sequence of sequences"),
    (None, TypeError, "connections must be a sequence of sequences"),
    ([3], TypeError, r"connections\[0\] must be a sequence of input-map indices, got int"),
    ([(0, 1.0)], TypeError, r"connections\[0\] must hold ints, got 1.0"),
    ([(True,)], TypeError, r"connections\[0\] must hold ints"),
])
def test_partial_conv_bad_connections(connections, error, match):
    with pytest.raises(error, match=match):
        PartialConv2d(6, 1, 5, connections)


def test_partial_conv_bad_arguments(rng):
    with pytest.raises(ValueError, match="in_channels must be >= 1"):
        PartialConv2d(0, 1, 3, [(0,)])
    with pytest.raises(ValueError, match="kernel_size must be >= 1"):
        PartialConv2d(1, 1, 0, [(0,)])
    with pytest.raises(ValueError, match="init must be one of"):
        PartialConv2d(1, 1, 3, [(0,)], init="lecun")
    with pytest.raises(ValueError, match="padding must be >= 0"):
        PartialConv2d(1, 1, 3, [(0,)], padding=-1)
    layer = PartialConv2d(2, 1, 3, [(0, 1)], rng=0)
    with pytest.raises(ValueError, match=r"x: expected 2 input channels"):
        layer(np.zeros((1, 3, 5, 5), np.float32))
    with pytest.raises(TypeError, match="x: dtype float64 does not match"):
        layer(np.zeros((1, 2, 5, 5)))
    with pytest.raises(RuntimeError, match="backward called before forward"):
        layer.backward(np.zeros((1, 1, 3, 3), np.float32))
    layer(np.zeros((1, 2, 5, 5), np.float32))
    with pytest.raises(ValueError, match=r"dout must have shape \(1, 1, 3, 3\)"):
        layer.backward(np.zeros((1, 1, 2, 2), np.float32))
    with pytest.raises(ValueError, match="input_shape: expected 2 input channels"):
        layer.output_shape((1, 3, 5, 5))


# --- Subsampling, ScaledTanh, EuclideanRBF ----------------------------------------------
def subsampling_naive(x, w, b, kh, kw):
    n, c, h, wd = x.shape
    out = np.empty((n, c, h // kh, wd // kw))
    for i in range(h // kh):
        for j in range(wd // kw):
            window = x[:, :, i * kh:(i + 1) * kh, j * kw:(j + 1) * kw]
            out[:, :, i, j] = w * window.sum(axis=(2, 3)) + b
    return out


SUB = [(2, (2, 3, 6, 6)), ((3, 2), (1, 2, 7, 5)), (1, (2, 1, 3, 3)), (4, (1, 2, 4, 4))]
SUB_IDS = ["lenet_2x2", "rect_leftover", "1x1", "kernel_is_input"]


@pytest.mark.parametrize("kernel, shape", SUB, ids=SUB_IDS)
def test_subsampling_oracle_gradcheck_and_torch(kernel, shape, rng, torch):
    layer = randomise(Subsampling(shape[1], kernel, dtype=F64), rng)
    x = rng.standard_normal(shape)
    kh, kw = layer.kernel_size
    out = layer(x)
    expected = subsampling_naive(x, layer.weight.data, layer.bias.data, kh, kw)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-13)
    assert layer.output_shape(shape) == out.shape
    errors = module_gradcheck(layer, x, tol=GRAD_TOL)
    assert set(errors) == {"x", "weight", "bias"} and max(errors.values()) < GRAD_TOL
    # torch: a depthwise convolution whose kernel is one shared coefficient per map
    layer.zero_grad()
    out = layer(x)
    g = rng.standard_normal(out.shape)
    dx = layer.backward(g)
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(layer.weight.data, requires_grad=True)
    tb = torch.tensor(layer.bias.data, requires_grad=True)
    kernel_t = tw.view(-1, 1, 1, 1) * torch.ones(1, 1, kh, kw, dtype=torch.float64)
    tout = torch.nn.functional.conv2d(tx, kernel_t, tb, stride=(kh, kw), groups=shape[1])
    tout.backward(torch.from_numpy(g))
    close(out, tout.detach().numpy())
    close(dx, tx.grad.numpy())
    close(layer.weight.grad, tw.grad.numpy())
    close(layer.bias.grad, tb.grad.numpy())


def test_subsampling_starts_as_average_pooling(rng):
    layer = Subsampling(3)
    assert layer.num_parameters() == 6 and repr(layer) == "Subsampling(3, kernel_size=(2, 2))"
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    out = layer(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, x.reshape(2, 3, 2, 2, 2, 2).mean(axis=(3, 5)), rtol=1e-6)


def test_scaled_tanh_constants_gradcheck_and_torch(rng, torch):
    assert A == 1.7159 and S == 2 / 3
    layer = ScaledTanh()
    np.testing.assert_allclose(layer(np.array([-1.0, 0.0, 1.0])), [-1, 0, 1], atol=1e-4)
    x = rng.standard_normal((2, 3, 4)) * 2
    errors = module_gradcheck(layer, x, tol=GRAD_TOL)
    assert errors["x"] < GRAD_TOL and layer.num_parameters() == 0
    out = layer(x)
    g = rng.standard_normal(out.shape)
    dx = layer.backward(g)
    tx = torch.tensor(x, requires_grad=True)
    tout = 1.7159 * torch.tanh(2.0 / 3.0 * tx)
    tout.backward(torch.from_numpy(g))
    close(out, tout.detach().numpy())
    close(dx, tx.grad.numpy())
    assert layer.output_shape((2, 3, 4)) == (2, 3, 4) and repr(layer) == "ScaledTanh()"
    assert layer(x.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("n, d_in, d_out", [(3, 84, 10), (1, 1, 1), (2, 5, 3)])
def test_euclidean_rbf_gradcheck_and_torch(n, d_in, d_out, rng, torch):
    layer = EuclideanRBF(d_in, d_out, rng=0, dtype=F64)
    assert set(np.unique(layer.weight.data)) <= {-1.0, 1.0}
    x = rng.standard_normal((n, d_in))
    errors = module_gradcheck(layer, x, tol=GRAD_TOL)
    assert set(errors) == {"x", "weight"} and max(errors.values()) < GRAD_TOL
    layer.zero_grad()
    out = layer(x)
    g = rng.standard_normal(out.shape)
    dx = layer.backward(g)
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(layer.weight.data, requires_grad=True)
    tout = torch.cdist(tx, tw, compute_mode="donot_use_mm_for_euclid_dist") ** 2
    tout.backward(torch.from_numpy(g))
    close(out, tout.detach().numpy())
    close(dx, tx.grad.numpy())
    close(layer.weight.grad, tw.grad.numpy())  # computed although the weight is frozen


def test_euclidean_rbf_prototype_wins_and_is_frozen():
    layer = EuclideanRBF(84, 10, rng=3, dtype=F64)
    assert layer.weight.data.shape == (10, 84) and not layer.weight.requires_grad
    out = layer(layer.weight.data[[7, 2]])
    assert out.argmin(axis=1).tolist() == [7, 2] and out[0, 7] == 0.0
    assert layer.output_shape((5, 84)) == (5, 10)
    assert repr(layer) == "EuclideanRBF(in_features=84, out_features=10)"
    np.testing.assert_array_equal(EuclideanRBF(84, 10, rng=3).weight.data, layer.weight.data)


def test_bad_arguments_name_the_argument(rng):
    with pytest.raises(ValueError, match="channels must be >= 1"):
        Subsampling(0)
    with pytest.raises(ValueError, match="kernel_size must be >= 1"):
        Subsampling(2, 0)
    with pytest.raises(ValueError, match="dtype must be"):
        Subsampling(2, dtype=np.int32)
    with pytest.raises(ValueError, match=r"x: expected 2 input channels"):
        Subsampling(2)(np.zeros((1, 3, 4, 4), np.float32))
    with pytest.raises(ValueError, match="kernel_size"):
        Subsampling(2, 3)(np.zeros((1, 2, 2, 2), np.float32))
    with pytest.raises(ValueError, match="in_features must be >= 1"):
        EuclideanRBF(0, 10)
    with pytest.raises(TypeError, match="out_features must be an integer"):
        EuclideanRBF(84, 10.0)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        EuclideanRBF(84, 10, rng="seed")
    with pytest.raises(ValueError, match=r"x: expected 84 input features"):
        EuclideanRBF(84, 10, rng=0)(np.zeros((2, 80), np.float32))
    with pytest.raises(ValueError, match="x must have 2 dimensions"):
        EuclideanRBF(84, 10, rng=0)(np.zeros((2, 84, 1), np.float32))
    with pytest.raises(TypeError, match="x must be a numpy.ndarray"):
        ScaledTanh()([1.0, 2.0])
    for layer, x in ((ScaledTanh(), rng.standard_normal((2, 3))),
                     (Subsampling(1, dtype=F64), rng.standard_normal((1, 1, 2, 2))),
                     (EuclideanRBF(3, 2, rng=0, dtype=F64), rng.standard_normal((2, 3)))):
        with pytest.raises(RuntimeError, match="backward called before forward"):
            layer.backward(np.ones(layer.output_shape(x.shape)))
        out = layer(x)
        with pytest.raises(ValueError, match="dout must have shape"):
            layer.backward(np.ones(out.shape + (1,)))
        with pytest.raises(TypeError, match="dout must have the same dtype"):
            layer.backward(out.astype(np.float32))


def test_layers_built_inside_meta_have_shapes_only():
    from cnnlab.init import meta
    with meta():
        layers = [PartialConv2d(6, 16, 5, LENET5_C3_TABLE, rng=0), Subsampling(16),
                  EuclideanRBF(84, 10, rng=0)]
    assert [m.num_parameters() for m in layers] == [1516, 32, 840]
    assert all(p.is_meta for m in layers for p in m.parameters())
    assert layers[0].output_shape((1, 6, 14, 14)) == (1, 16, 10, 10)
    with pytest.raises(RuntimeError, match="meta"):
        layers[1](np.zeros((1, 16, 10, 10), np.float32))
