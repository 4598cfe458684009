"""Compute accounting: multiply-accumulates (``macs``) and output memory in ``summary``.

The independent count comes from PyTorch forward hooks on the models of
``tests/torch_reference.py`` (``hook_counts``): each ``nn.Conv2d`` and ``nn.Linear``
computes its MACs from the shapes it sees, and every module's output is counted.
The models run on PyTorch's ``meta`` device, so even VGG-19 costs no memory. The
papers' figures are pinned where the count reproduces them (MobileNet's 569 million
mult-adds; VGG-19's 19.6 and ResNet-101/152's 7.6 and 11.3 billion "FLOPs") and
their discrepancies where it does not (a digit swap in MobileNet's Table 2).
"""
from __future__ import annotations

import importlib
import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cnnlab import models
from cnnlab.analysis import summary
from cnnlab.blocks import Bottleneck, Inception
from cnnlab.classic import LENET5_C3_TABLE, EuclideanRBF, PartialConv2d, Subsampling
from cnnlab.layers import AvgPool2d, Conv1d, Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU
from cnnlab.module import Concat, Module, Residual, Sequential
from cnnlab.norm import BatchNorm2d, LocalResponseNorm

# name: (torch_reference builder, input shape, total MACs, output elements)
NETWORKS = {
    "vgg16": ("vgg16", (1, 3, 224, 224), 15_470_264_320, 28_676_072),
    "vgg19": ("vgg19", (1, 3, 224, 224), 19_632_062_464, 31_285_224),
    "resnet50": ("resnet50", (1, 3, 224, 224), 4_089_184_256, 37_561_832),
    "resnet101": ("resnet101", (1, 3, 224, 224), 7_801_405_440, 56_327_656),
    "resnet152": ("resnet152", (1, 3, 224, 224), 11_513_626_624, 79_508_968),
    "mobilenet_v1": ("mobilenet_v1", (1, 3, 224, 224), 568_740_352, 15_131_112),
    "googlenet": ("googlenet", (1, 3, 224, 224), 1_582_671_872, 9_912_264),
    "alexnet": ("alexnet", (1, 3, 227, 227), 724_406_816, 1_934_440),
}
# Extra MACs of "v1.5" (stride on the 3x3) over the paper's v1 (stride on the first 1x1):
# the first 1x1 of stages 3, 4 and 5 runs on 4x the pixels, 3/4 of them extra.
V15_EXTRA = 3 * 77_070_336


@pytest.fixture(scope="module")
def ref(torch):
    return importlib.import_module("torch_reference")


def hooked(ref, torch, builder: str, shape, **kwargs):
    with torch.device("meta"):
        model = getattr(ref, builder)(**kwargs)
    return ref.hook_counts(model, shape)


def seed_model():
    return Sequential(Conv2d(3, 64, 3, padding=1, rng=0), MaxPool2d(2),
                      Conv2d(64, 128, 3, padding=1, rng=1))


# --- single layers -----------------------------------------------------------------------
def test_macs_by_hand():
    assert Conv2d(3, 64, 3, padding=1).macs((1, 3, 224, 224)) == 224 * 224 * 64 * 27
    assert Conv2d(3, 64, 3, padding=1).macs((8, 3, 224, 224)) == 8 * 86_704_128
    # AlexNet's conv2: each of the 256 filters reads the 48 maps of its group; 27x27 stays
    conv2 = Conv2d(96, 256, 5, padding=2, groups=2)
    assert conv2.macs((1, 96, 27, 27)) == 27 * 27 * 256 * 48 * 25
    # dilation changes only the output size: 2 * (3 - 1) + 1 = 5 wide, 10 - 5 + 1 = 6
    assert Conv2d(2, 4, 3, dilation=2).macs((1, 2, 10, 10)) == 6 * 6 * 4 * 2 * 9
    assert Conv2d(8, 8, 3, padding=1, groups=8).macs((2, 8, 7, 7)) == 2 * 8 * 49 * 9  # depthwise
    assert Conv1d(3, 5, 4, stride=2).macs((2, 3, 11)) == 2 * 5 * 4 * 3 * 4
    assert Linear(400, 120).macs((32, 400)) == 32 * 48_000
    for layer, shape in [(ReLU(), (2, 3)), (MaxPool2d(2), (1, 3, 4, 4)),
                         (BatchNorm2d(3), (1, 3, 4, 4)), (Flatten(), (1, 3, 4, 4)),
                         (Dropout(0.5, rng=0), (1, 3)), (AvgPool2d(2), (1, 3, 4, 4)),
                         (LocalResponseNorm(5), (1, 3, 4, 4))]:
        assert layer.macs(shape) == 0, layer


def test_lenet_1998_macs_plus_biases_are_the_papers_connections():
    """Section II.B: C1 122,304, S2 5,880, C3 151,600, S4 2,000, C5 48,120 connections and
    F6 10,164 parameters (= connections): one MAC per weight tap and one bias per output."""
    s = summary(models.lenet5("1998"), (1, 1, 32, 32))
    rows = {r.name: r for r in s.rows}
    connections = {name: rows[name].macs + math.prod(rows[name].output_shape)
                   for name in ("0", "2", "4", "6", "8", "11")}
    assert connections == {"0": 122_304, "2": 5_880, "4": 151_600, "6": 2_000, "8": 48_120,
                           "11": 10_164}
    assert rows["13"].macs == 840  # the RBF: (x_j - w_ij)^2 accumulated 84 times per class
    assert PartialConv2d(6, 16, 5, LENET5_C3_TABLE).macs((2, 6, 14, 14)) == 2 * 100 * 60 * 25
    assert Subsampling(6).macs((1, 6, 28, 28)) == 6 * 14 * 14 * 4
    assert EuclideanRBF(84, 10).macs((3, 84)) == 3 * 840


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 3), groups=st.integers(1, 3), c_in_per=st.integers(1, 3),
       c_out_per=st.integers(1, 3), kh=st.integers(1, 4), kw=st.integers(1, 4),
       sh=st.integers(1, 3), sw=st.integers(1, 3), ph=st.integers(0, 2), pw=st.integers(0, 2),
       dh=st.integers(1, 2), dw=st.integers(1, 2), h=st.integers(1, 12), w=st.integers(1, 12))
def test_conv2d_macs_equal_torch_hook(torch, n, groups, c_in_per, c_out_per, kh, kw, sh, sw,
                                      ph, pw, dh, dw, h, w):
    assume(h + 2 * ph >= dh * (kh - 1) + 1 and w + 2 * pw >= dw * (kw - 1) + 1)
    ref = importlib.import_module("torch_reference")
    c_in, c_out = groups * c_in_per, groups * c_out_per
    args = dict(stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw), groups=groups)
    with torch.device("meta"):
        tconv = torch.nn.Conv2d(c_in, c_out, (kh, kw), **args)
    (kind, expected), = ref.hook_counts(tconv, (n, c_in, h, w))[0]
    layer = Conv2d(c_in, c_out, (kh, kw), **args, rng=0)
    assert layer.macs((n, c_in, h, w)) == expected
    assert summary(layer, (n, c_in, h, w)).total_macs == expected


@pytest.mark.parametrize("layer, tlayer, shape", [
    (lambda: Conv1d(4, 6, 3, stride=2, padding=1, groups=2),
     lambda nn: nn.Conv1d(4, 6, 3, stride=2, padding=1, groups=2), (3, 4, 17)),
    (lambda: Conv1d(1, 1, 5, dilation=3), lambda nn: nn.Conv1d(1, 1, 5, dilation=3), (1, 1, 13)),
    (lambda: Linear(7, 3), lambda nn: nn.Linear(7, 3), (5, 7)),
    (lambda: Linear(1, 1, bias=False), lambda nn: nn.Linear(1, 1, bias=False), (1, 1)),
], ids=["conv1d-groups", "conv1d-dilation", "linear", "linear-1x1"])
def test_conv1d_and_linear_macs_equal_torch(torch, layer, tlayer, shape):
    tl = tlayer(torch.nn)
    out = tl(torch.zeros(shape))
    taps = (tl.in_channels // tl.groups * tl.kernel_size[0] if isinstance(tl, torch.nn.Conv1d)
            else tl.in_features)
    assert layer().macs(shape) == out.numel() * taps


# --- containers and the summary ----------------------------------------------------------
def test_containers_sum_their_children():
    block = Bottleneck(64, 16, stride=2, rng=0)
    shape = (2, 64, 9, 9)
    body, short = block.body.macs(shape), block.shortcut.macs(shape)
    assert body == sum(layer.macs(s) for _, layer, s in block.body.child_shapes(shape))
    assert block.macs(shape) == body + short  # the addition and the ReLU count nothing
    inception = Inception(8, 2, 3, 4, 1, 2, 2, rng=0)
    branches = sum(b.macs((1, 8, 5, 5)) for b in inception.branches)
    assert inception.macs((1, 8, 5, 5)) == branches > 0
    s = summary(Sequential(block, Flatten()), shape)
    merged = [r.macs for r in s.rows if r.layer in ("Bottleneck", "ReLU", "BatchNorm2d")]
    assert merged == [0] * 8
    assert s.total_macs == block.macs(shape) == sum(r.macs for r in s.rows)


def test_a_container_with_macs_of_its_own_keeps_them_on_its_row():
    class Scaled(Residual):  # pretend the merge does one multiply-add per output value
        def macs(self, input_shape):
            return super().macs(input_shape) + math.prod(self.output_shape(input_shape))

    model = Scaled(Sequential(Conv2d(2, 2, 1, rng=0), ReLU()))
    s = summary(model, (1, 2, 3, 3))
    assert [(r.layer, r.macs) for r in s.rows] == [("Conv2d", 36), ("ReLU", 0), ("Scaled", 18)]
    assert s.total_macs == model.macs((1, 2, 3, 3)) == 54


def test_output_bytes_follow_the_dtype_and_the_batch():
    model = seed_model()
    one, eight = summary(model, (1, 3, 32, 32)), summary(model, (8, 3, 32, 32))
    elements = 64 * 32 * 32 + 64 * 16 * 16 + 128 * 16 * 16
    assert one.output_bytes == 4 * elements and one.dtype == "float32"
    assert eight.output_bytes == 8 * one.output_bytes and eight.total_macs == 8 * one.total_macs
    assert eight.total_params == one.total_params
    assert summary(model, (1, 3, 32, 32), dtype=np.float16).output_bytes == 2 * elements
    double = Sequential(Conv2d(3, 4, 3, rng=0, dtype=np.float64))
    assert summary(double, (1, 3, 5, 5)).output_bytes == 8 * 4 * 3 * 3
    assert summary(Sequential(ReLU()), (2, 5)).output_bytes == 4 * 10  # no parameters: float32
    assert [r.output_bytes for r in one.rows] == [4 * math.prod(r.output_shape) for r in one.rows]


def test_summary_compute_table_text():
    s = summary(seed_model(), (1, 3, 224, 224), compute=True)
    rule = "=" * 73
    expected = "\n".join([
        rule,
        "Layer (type)    Output Shape         Param #     Mult-Adds   Output bytes",
        rule,
        "0 (Conv2d)      [1, 64, 224, 224]      1,792    86,704,128     12,845,056",
        "1 (MaxPool2d)   [1, 64, 112, 112]          0             0      3,211,264",
        "2 (Conv2d)      [1, 128, 112, 112]    73,856   924,844,032      6,422,528",
        rule,
        "Input shape: [1, 3, 224, 224]",
        "Total params: 75,648",
        "Trainable params: 75,648",
        "Non-trainable params: 0",
        "Total mult-adds: 1,011,548,160 (1.0 G)",
        "Output memory (float32): 21.4 MiB (22,478,848 bytes)",
        rule])
    assert str(s) == expected
    plain = summary(seed_model(), (1, 3, 224, 224))
    assert "Mult-Adds" not in str(plain) and plain.total_macs == s.total_macs == 1_011_548_160


def test_meta_model_summary_with_compute_allocates_nothing():
    model = models.resnet152(meta=True)
    tracemalloc.start()
    s = summary(model, (64, 3, 224, 224), compute=True)
    text = str(s)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert s.total_macs == 64 * NETWORKS["resnet152"][2]
    assert s.output_bytes == 64 * 4 * NETWORKS["resnet152"][3] and "GiB" in text
    assert peak < 5_000_000  # bytes; the activations it counts would take 76 GiB


# --- whole networks against PyTorch hooks ------------------------------------------------
@pytest.mark.parametrize("name", list(NETWORKS))
def test_network_macs_and_outputs_equal_torch_hooks(name, ref, torch):
    builder, shape, total, elements = NETWORKS[name]
    macs, torch_elements = hooked(ref, torch, builder, shape)
    s = summary(models.MODELS[name](meta=True), shape)
    rows = [(r.layer, r.macs) for r in s.rows if r.macs]
    assert rows == macs  # layer by layer, in the order the forward pass runs them
    assert s.total_macs == sum(m for _, m in macs) == total
    assert s.output_bytes == 4 * torch_elements == 4 * elements


def test_mobilenet_569_million_mult_adds_and_table_two(ref, torch):
    model = models.mobilenet_v1(meta=True)
    s = summary(model, (1, 3, 224, 224))
    assert s.total_macs == 568_740_352 and round(s.total_macs / 1e6) == 569  # the paper's 569M
    kinds = {"full": 0, "dw": 0, "pw": 0, "fc": 0}
    for row, layer in zip([r for r in s.rows if r.macs], _weight_layers(model), strict=True):
        kind = ("fc" if isinstance(layer, Linear) else "pw" if layer.kernel_size == (1, 1)
                else "dw" if layer.groups > 1 else "full")
        kinds[kind] += row.macs
    shares = {k: round(100 * v / s.total_macs, 2) for k, v in kinds.items()}
    # Table 2 prints Conv 1x1 94.86%, Conv DW 3x3 3.06%, FC 0.18%, and Conv 3x3 1.19%: the
    # last has its digits swapped (the four then add up to 99.29%, not 100%)
    assert shares == {"full": 1.91, "dw": 3.06, "pw": 94.86, "fc": 0.18}


def _weight_layers(module: Module):
    children = list(module.children())
    if not children and isinstance(module, (Conv2d, Linear)):
        yield module
    for child in children:
        yield from _weight_layers(child)


@pytest.mark.parametrize("name, blocks, v1_macs, paper", [
    ("resnet50", (3, 4, 6, 3), 3_857_973_248, "3.8"),
    ("resnet101", (3, 4, 23, 3), 7_570_194_432, "7.6"),
    ("resnet152", (3, 8, 36, 3), 11_282_415_616, "11.3")])
def test_resnet_flops_of_the_paper_need_its_stride_placement(name, blocks, v1_macs, paper, ref,
                                                             torch):
    """He et al., Table 1: 3.8, 7.6 and 11.3 x 10^9 FLOPs (multiply-adds). With the stride on
    the first 1x1 (the paper's v1) the count gives 3.86, 7.57 and 11.28 billion: 7.6 and 11.3
    rounded; the 50-layer figure is cut off rather than rounded (3.86 would be 3.9)."""
    v15 = summary(models.MODELS[name](meta=True), (1, 3, 224, 224)).total_macs
    macs, _ = hooked(ref, torch, "resnet", (1, 3, 224, 224), blocks=blocks, v1=True)
    assert sum(m for _, m in macs) == v1_macs == v15 - V15_EXTRA
    cut_off = f"{math.floor(v1_macs / 1e8) / 10:.1f}"
    assert paper == (cut_off if name == "resnet50" else f"{v1_macs / 1e9:.1f}")
    assert f"{v1_macs / 1e9:.1f}" != cut_off or name != "resnet50"


def test_vgg_flops_quoted_by_resnet_and_mobilenet_papers():
    """VGG-19: 19.6 billion, as the ResNet paper says. VGG-16: 15.47 billion; the papers'
    15.3 billion is closer to the convolutions alone (15.35 billion)."""
    vgg19 = summary(models.vgg19(meta=True), (1, 3, 224, 224))
    vgg16 = summary(models.vgg16(meta=True), (1, 3, 224, 224))
    assert round(vgg19.total_macs / 1e9, 1) == 19.6
    conv16 = sum(r.macs for r in vgg16.rows if r.layer == "Conv2d")
    assert (round(vgg16.total_macs / 1e9, 2), round(conv16 / 1e9, 2)) == (15.47, 15.35)


def test_convolutions_hold_the_computation_fully_connected_layers_the_parameters():
    for name, conv_macs, fc_params in [("alexnet", 0.92, 0.96), ("vgg16", 0.99, 0.89),
                                       ("vgg19", 0.99, 0.86)]:
        s = summary(models.MODELS[name](meta=True), models.INPUT_SHAPES[name])
        conv = [r for r in s.rows if r.layer == "Conv2d"]
        fc = [r for r in s.rows if r.layer == "Linear"]
        assert round(sum(r.macs for r in conv) / s.total_macs, 2) == conv_macs, name
        assert round(sum(r.params for r in fc) / s.total_params, 2) == fc_params, name
        # each fully connected weight is used once per image; a 3x3 weight at every pixel
        assert sum(r.macs for r in fc) == sum(r.params for r in fc) - sum(
            r.output_shape[1] for r in fc)


def test_concat_and_identity_shortcut_add_no_rows_of_macs():
    model = Concat(Sequential(Conv2d(2, 3, 1, rng=0)), Sequential(MaxPool2d(3, 1, 1)))
    s = summary(model, (1, 2, 4, 4))
    assert [(r.layer, r.macs, r.output_bytes) for r in s.rows] == [
        ("Conv2d", 96, 192), ("MaxPool2d", 0, 128), ("Concat", 0, 320)]
    identity = Residual(Sequential(Conv2d(2, 2, 3, padding=1, rng=0)))
    assert identity.macs((1, 2, 4, 4)) == 2 * 16 * 18
