"""Parameter counts, receptive fields and model summaries (pure shape arithmetic)."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from cnnlab.analysis import (
    RFRow,
    conv2d_parameters,
    count_parameters,
    linear_parameters,
    receptive_field,
    summary,
)
from cnnlab.layers import AvgPool2d, Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU, Tanh
from cnnlab.module import Sequential
from cnnlab.norm import BatchNorm2d


def seed_model():
    """The source's example: 224x224x3 -> conv 3x3/64 p1 -> maxpool 2 -> conv 3x3/128 p1."""
    return Sequential(Conv2d(3, 64, 3, padding=1, rng=0), MaxPool2d(2),
                      Conv2d(64, 128, 3, padding=1, rng=1))


def lenet():
    return Sequential(Conv2d(1, 6, 5, padding=2, rng=0), ReLU(), MaxPool2d(2),
                      Conv2d(6, 16, 5, rng=1), ReLU(), MaxPool2d(2), Flatten(),
                      Linear(400, 120, rng=2), ReLU(), Linear(120, 84, rng=3), ReLU(),
                      Linear(84, 10, rng=4))


def leaves(model):
    for layer in model:
        yield from (leaves(layer) if isinstance(layer, Sequential) else [layer])


# --- parameter counts -----------------------------------------------------------------
def test_parameter_formulas():
    assert conv2d_parameters(3, 64, 3) == 1_792
    assert conv2d_parameters(64, 128, 3) == 73_856
    assert conv2d_parameters(3, 8, (3, 5), bias=False) == 3 * 5 * 3 * 8
    assert linear_parameters(400, 120) == 48_120
    assert linear_parameters(400, 120, bias=False) == 48_000


@pytest.mark.parametrize("layer", [Conv2d(3, 7, (2, 4), rng=0), Conv2d(5, 2, 1, bias=False),
                                   Linear(9, 4), Linear(3, 3, bias=False)], ids=repr)
def test_formulas_match_layers(layer):
    if isinstance(layer, Conv2d):
        expected = conv2d_parameters(layer.in_channels, layer.out_channels, layer.kernel_size,
                                     layer.bias is not None)
    else:
        expected = linear_parameters(layer.in_features, layer.out_features,
                                     layer.bias is not None)
    assert count_parameters(layer) == expected == sum(p.data.size for p in layer.parameters())


# --- summary --------------------------------------------------------------------------
def test_seed_example_summary():
    s = summary(seed_model(), (1, 3, 224, 224))
    assert [r.params for r in s.rows] == [1_792, 0, 73_856]
    assert [r.output_shape for r in s.rows] == [(1, 64, 224, 224), (1, 64, 112, 112),
                                                (1, 128, 112, 112)]
    assert s.total_params == s.trainable_params == 75_648
    assert s.output_shape == (1, 128, 112, 112)


def test_summary_table_text():
    expected = "\n".join([
        "============================================",
        "Layer (type)    Output Shape         Param #",
        "============================================",
        "0 (Conv2d)      [1, 64, 224, 224]      1,792",
        "1 (MaxPool2d)   [1, 64, 112, 112]          0",
        "2 (Conv2d)      [1, 128, 112, 112]    73,856",
        "============================================",
        "Input shape: [1, 3, 224, 224]",
        "Total params: 75,648",
        "Trainable params: 75,648",
        "Non-trainable params: 0",
        "============================================"])
    s = summary(seed_model(), (1, 3, 224, 224))
    assert str(s) == expected == repr(s)


def test_lenet_total_equals_torch(torch):
    s = summary(lenet(), (1, 1, 28, 28))
    assert s.total_params == 61_706 == count_parameters(lenet())
    nn = torch.nn
    tmodel = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                           nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                           nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                           nn.Linear(84, 10))
    assert sum(p.numel() for p in tmodel.parameters()) == s.total_params
    assert [r.params for r in s.rows] == [sum(p.numel() for p in m.parameters())
                                          for m in tmodel]


@pytest.mark.parametrize("make, shape", [
    (seed_model, (2, 3, 32, 30)), (lenet, (3, 1, 28, 28)),
    (lambda: Sequential(Conv2d(2, 4, 3, stride=2, rng=0), BatchNorm2d(4), Tanh(),
                        Sequential(AvgPool2d(3, stride=1, padding=1), Dropout(0.5, rng=0)),
                        Flatten(), Linear(36, 5, rng=0)), (2, 2, 7, 8)),
], ids=["seed", "lenet", "nested"])
def test_summary_shapes_equal_real_forward(make, shape):
    model = make()
    s = summary(model, shape)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    real = []
    for layer in leaves(model):
        x = layer(x)
        real.append(x.shape)
    assert [r.output_shape for r in s.rows] == real
    assert s.output_shape == real[-1] == model.output_shape(shape)
    assert sum(r.params for r in s.rows) == s.total_params == model.num_parameters()


def test_nested_names_and_frozen_parameters():
    model = Sequential(Conv2d(1, 2, 3, rng=0), Sequential(ReLU(), Conv2d(2, 2, 1, rng=0)))
    model[1][1].weight.requires_grad = False
    s = summary(model, (1, 1, 5, 5))
    assert [(r.name, r.layer) for r in s.rows] == [("0", "Conv2d"), ("1.0", "ReLU"),
                                                   ("1.1", "Conv2d")]
    assert s.total_params == 20 + 6 and s.trainable_params == 26 - 4
    assert "  1.1 (Conv2d)" in str(s) and "Non-trainable params: 4" in str(s)


def test_summary_of_huge_input_allocates_nothing():
    model = Sequential(seed_model(), ReLU(), MaxPool2d(2), BatchNorm2d(128))
    tracemalloc.start()
    s = summary(model, (1, 3, 4096, 4096))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert s.output_shape == (1, 128, 1024, 1024)
    assert peak < 1_000_000  # bytes; one float32 activation here would be 2 GB


# --- receptive field ------------------------------------------------------------------
def test_three_3x3_convs_then_pool():
    rows = receptive_field([(3, 1), (3, 1), (3, 1), (2, 2)])
    assert [r.receptive_field for r in rows] == [3, 5, 7, 8]  # 8, not 14
    assert [r.jump for r in rows] == [1, 1, 1, 2]
    model = Sequential(Conv2d(3, 8, 3, padding=1), ReLU(), Conv2d(8, 8, 3, padding=1),
                       ReLU(), Conv2d(8, 8, 3, padding=1), MaxPool2d(2))
    assert [r.receptive_field for r in receptive_field(model)] == [3, 3, 5, 5, 7, 8]


def test_lenet_receptive_field_and_sizes():
    rows = receptive_field(lenet(), input_size=28)
    assert len(rows) == 6  # stops at Flatten
    assert rows[-1] == RFRow("5: MaxPool2d", 2, 2, 16, 4, 5)
    assert [r.receptive_field for r in rows] == [5, 5, 6, 14, 14, 16]
    assert [r.size for r in rows] == [28, 28, 14, 10, 10, 5]


def test_rectangular_kernels_per_axis():
    model = [Conv2d(1, 1, (3, 5), stride=(1, 2)), Conv2d(1, 1, (3, 3))]
    assert [r.receptive_field for r in receptive_field(model, axis=0)] == [3, 5]
    assert [r.receptive_field for r in receptive_field(model, axis=1)] == [5, 9]


def test_empirical_footprint_equals_receptive_field():
    """Non-zero footprint of d out[centre] / d input, by the layers' own backward."""
    model = Sequential(Conv2d(1, 1, 3, rng=0, dtype=np.float64), Tanh(),
                       Conv2d(1, 1, (3, 5), stride=2, padding=1, rng=0, dtype=np.float64),
                       AvgPool2d(2), Conv2d(1, 1, 3, rng=0, dtype=np.float64))
    for p in model.parameters():
        p.data = np.abs(p.data) + 0.1  # positive weights: no cancellation
    x = np.random.default_rng(0).uniform(-1, 1, (1, 1, 41, 41))
    out = model(x)
    dout = np.zeros_like(out)
    dout[0, 0, out.shape[2] // 2, out.shape[3] // 2] = 1.0
    dx = model.backward(dout)[0, 0]
    for axis in (0, 1):
        touched = np.flatnonzero(dx.any(axis=1 - axis))
        expected = receptive_field(model, input_size=41, axis=axis)[-1].receptive_field
        assert touched[-1] - touched[0] + 1 == len(touched) == expected
    assert [receptive_field(model, axis=a)[-1].receptive_field for a in (0, 1)] == [15, 17]
