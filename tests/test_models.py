"""The classic architectures: counts, shapes and outputs against independent PyTorch models.

The PyTorch models come from ``tests/torch_reference.py`` (``torch.nn`` only, written
from the papers' layer tables). For counts and stage shapes each is built once per module
on PyTorch's ``meta`` device and run once on a batch of one (eval mode); the cnnlab models
are built with ``meta=True`` there. Outputs are compared on real weights.

Tolerances: outputs equal PyTorch's within rtol 1e-6, atol 1e-12 (float64); the
gradient check uses relative error < 1e-7.
"""
from __future__ import annotations

import importlib

import numpy as np
import pytest

from cnnlab import models
from cnnlab.analysis import summary
from cnnlab.blocks import Inception
from cnnlab.classic import LENET5_C3_TABLE
from cnnlab.gradcheck import gradcheck
from cnnlab.layers import Conv2d, Flatten, Linear
from cnnlab.models import AuxiliaryHead
from cnnlab.module import Sequential

F64 = np.float64
RTOL, ATOL = 1e-6, 1e-12

# id: (cnnlab builder kwargs, torch_reference builder, input shape, (total, trainable))
VARIANTS = {
    "lenet5-modern": (("lenet5", {"variant": "modern"}), lambda r: r.lenet5_modern(),
                      (1, 1, 28, 28), (61_706, 61_706)),
    "lenet5-1998": (("lenet5", {"variant": "1998"}), lambda r: r.lenet5_1998(),
                    (1, 1, 32, 32), (60_840, 60_000)),
    "alexnet-two-stream": (("alexnet", {}), lambda r: r.alexnet("two-stream"),
                           (1, 3, 227, 227), (60_965_224,) * 2),
    "alexnet-single-stream": (("alexnet", {"variant": "single-stream"}),
                              lambda r: r.alexnet("single-stream"), (1, 3, 227, 227),
                              (62_378_344,) * 2),
    "alexnet-torchvision": (("alexnet", {"variant": "torchvision"}),
                            lambda r: r.alexnet("torchvision"), (1, 3, 227, 227),
                            (61_100_840,) * 2),
    "vgg16": (("vgg16", {}), lambda r: r.vgg16(), (1, 3, 224, 224), (138_357_544,) * 2),
    "vgg19": (("vgg19", {}), lambda r: r.vgg19(), (1, 3, 224, 224), (143_667_240,) * 2),
    "googlenet": (("googlenet", {}), lambda r: r.googlenet(), (1, 3, 224, 224),
                  (6_998_552,) * 2),
    "googlenet-aux": (("googlenet", {"aux_logits": True}), lambda r: r.googlenet(True),
                      (1, 3, 224, 224), (13_378_280,) * 2),
    "resnet50": (("resnet50", {}), lambda r: r.resnet50(), (1, 3, 224, 224),
                 (25_557_032,) * 2),
    "resnet101": (("resnet101", {}), lambda r: r.resnet101(), (1, 3, 224, 224),
                  (44_549_160,) * 2),
    "resnet152": (("resnet152", {}), lambda r: r.resnet152(), (1, 3, 224, 224),
                  (60_192_808,) * 2),
    "mobilenet_v1": (("mobilenet_v1", {}), lambda r: r.mobilenet_v1(), (1, 3, 224, 224),
                     (4_231_976,) * 2),
}
IDS = list(VARIANTS)


def build(variant_id, **kwargs):
    (name, kw), *_ = VARIANTS[variant_id]
    return models.MODELS[name](**kw, **kwargs)


@pytest.fixture(scope="module")
def ref(torch):
    """``tests/torch_reference.py``, imported once torch is known to be there."""
    return importlib.import_module("torch_reference")


@pytest.fixture(scope="module")
def torch_facts(ref, torch):
    """Per variant: (total, trainable, output shape after each top-level child) in PyTorch.

    The models are built on PyTorch's ``meta`` device: shapes and counts without the
    memory (VGG-19 alone would hold 575 MB) or the arithmetic of a real forward pass.
    """
    facts = {}
    for variant_id, (_, make, shape, _) in VARIANTS.items():
        with torch.device("meta"):
            model = make(ref)
        facts[variant_id] = (*ref.count(model), ref.stage_shapes(model, shape))
    return facts


def stage_shapes(s) -> list[tuple[int, ...]]:
    """Output shape after each top-level child, from a cnnlab summary's rows."""
    last = {}
    for row in s.rows:
        last[row.name.split(".")[0]] = row.output_shape
    return list(last.values())


@pytest.mark.parametrize("variant_id", IDS)
def test_parameter_counts_equal_the_papers_and_torch(variant_id, torch_facts):
    model = build(variant_id, meta=True)
    s = summary(model, VARIANTS[variant_id][2])
    expected_total, expected_trainable = VARIANTS[variant_id][3]
    total, trainable, _ = torch_facts[variant_id]
    assert (total, trainable) == (expected_total, expected_trainable)
    assert model.num_parameters() == s.total_params == total
    assert s.trainable_params == trainable
    assert sum(r.params for r in s.rows) == total  # each parameter counted in one row


@pytest.mark.parametrize("variant_id", IDS)
def test_summary_shapes_equal_torch_forward_shapes_stage_by_stage(variant_id, torch_facts):
    model = build(variant_id, meta=True)
    assert model.input_shape == VARIANTS[variant_id][2]
    s = summary(model, model.input_shape)
    assert stage_shapes(s) == torch_facts[variant_id][2]
    assert len(model) == len(torch_facts[variant_id][2])


@pytest.mark.parametrize("variant_id", IDS)
def test_meta_model_summarises_but_refuses_to_run(variant_id):
    model = build(variant_id, meta=True)
    assert any(p.is_meta for p in model.parameters())
    with pytest.raises(RuntimeError, match="meta"):
        model(np.zeros(model.input_shape, np.float32))


@pytest.mark.parametrize("variant_id", ["lenet5-modern", "lenet5-1998", "alexnet-two-stream",
                                        "googlenet", "resnet50", "mobilenet_v1"])
def test_real_forward_confirms_summary_shapes(variant_id):
    model = build(variant_id, rng=0, num_classes=7).eval()
    s = summary(model, model.input_shape)
    x = np.random.default_rng(0).standard_normal(model.input_shape).astype(np.float32)
    shapes = []
    for layer in model:
        x = layer(x)
        shapes.append(x.shape)
    assert shapes == stage_shapes(s)
    assert x.shape == (1, 7) and x.dtype == np.float32 and np.isfinite(x).all()


def _compare_with_torch(model, tmodel, state, x, torch):
    model.load_state_dict(state)
    tmodel.double().eval()
    with torch.no_grad():
        expected = tmodel(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model.eval()(x), expected, rtol=RTOL, atol=ATOL)


def _torch_state(tmodel):
    return {k: v.detach().double().numpy() for k, v in tmodel.state_dict().items()
            if not k.endswith("num_batches_tracked")}


@pytest.mark.parametrize("variant_id, size, classes", [("lenet5-modern", 28, 10),
                                                       ("resnet50", 64, 1000),
                                                       ("mobilenet_v1", 96, 1000)])
def test_torch_weights_give_torch_outputs(variant_id, size, classes, ref, torch, rng):
    tmodel = VARIANTS[variant_id][1](ref)
    model = build(variant_id, dtype=F64, rng=0, num_classes=classes)
    with torch.no_grad():  # non-trivial BN statistics, so eval mode is really tested
        for name, buf in tmodel.named_buffers():
            if name.endswith("running_mean"):
                buf.copy_(torch.randn(buf.shape) * 0.1)
            elif name.endswith("running_var"):
                buf.copy_(torch.rand(buf.shape) + 0.5)
    x = rng.standard_normal((2, VARIANTS[variant_id][2][1], size, size))
    _compare_with_torch(model, tmodel, _torch_state(tmodel), x, torch)


def test_lenet5_1998_with_torch_weights_gives_torch_outputs(ref, torch, rng):
    tmodel = ref.lenet5_1998()
    with torch.no_grad():
        for _, p in tmodel.named_parameters():  # random S2/S4 coefficients and biases
            p.copy_(torch.randn(p.shape) * 0.3)
    state = _torch_state(tmodel)
    model = models.lenet5("1998", dtype=F64, rng=0)
    c3 = model[4]
    kernels = [state.pop(f"4.weights.{o}")[0] for o in range(16)]  # (len(row), 5, 5) each
    state["4.weight"] = np.stack([kernels[o][list(ref.C3_CONNECTIONS[o]).index(c)]
                                  for o, c in zip(c3.out_index, c3.in_index, strict=True)])
    _compare_with_torch(model, tmodel, state, rng.standard_normal((2, 1, 32, 32)), torch)


def test_lenet5_c3_connections_are_table_one(ref):
    assert [set(row) for row in LENET5_C3_TABLE] == [set(row) for row in ref.C3_CONNECTIONS]
    assert sum(map(len, LENET5_C3_TABLE)) == 60


def test_lenet5_layer_counts():
    rows = {r.name: r.params for r in summary(models.lenet5("1998"), (1, 1, 32, 32)).rows}
    assert [rows[k] for k in ("0", "2", "4", "6", "8", "11", "13")] == [
        156, 12, 1_516, 32, 48_120, 10_164, 840]  # C1 S2 C3 S4 C5 F6 RBF, from the paper
    modern = models.lenet5()
    assert [m.num_parameters() for m in modern if m.num_parameters()] == [
        156, 2_416, 48_120, 10_164, 850]


def test_alexnet_neuron_counts_of_the_paper():
    s = summary(models.alexnet(meta=True), (1, 3, 227, 227))
    convs = [r.output_shape for r in s.rows if r.layer == "Conv2d"]
    assert convs[0] == (1, 96, 55, 55)  # the 55x55 of Figure 2 needs 227x227 input
    # Section 3: "253,440-186,624-64,896-64,896-43,264-4096-4096-1000" (the first is a slip)
    assert [int(np.prod(c)) for c in convs[1:]] == [186_624, 64_896, 64_896, 43_264]
    fc = sum(r.params for r in s.rows if r.layer == "Linear")
    assert fc == 58_631_144 and round(fc / s.total_params, 3) == 0.962


def test_vgg16_fully_connected_share():
    s = summary(models.vgg16(meta=True), (1, 3, 224, 224))
    fc = sum(r.params for r in s.rows if r.layer == "Linear")
    conv = sum(r.params for r in s.rows if r.layer == "Conv2d")
    assert (conv, fc) == (14_714_688, 123_642_856)
    assert round(fc / s.total_params, 3) == 0.894
    assert [r.params for r in s.rows if r.layer == "Linear"][0] == 102_764_544  # 25088 -> 4096


def test_googlenet_table_one_output_sizes_and_aux_heads():
    s = summary(models.googlenet(meta=True), (1, 3, 224, 224))
    inception = [r.output_shape[1:] for r in s.rows if r.layer == "Inception"]
    assert inception == [(256, 28, 28), (480, 28, 28), (512, 14, 14), (512, 14, 14),
                         (512, 14, 14), (528, 14, 14), (832, 14, 14), (832, 7, 7),
                         (1024, 7, 7)]
    with_aux = models.googlenet(True, meta=True)
    heads = [m for m in with_aux if isinstance(m, AuxiliaryHead)]
    assert [h.num_parameters() for h in heads] == [3_188_840, 3_190_888]
    assert [h.head.output_shape(shape) for h, shape in
            zip(heads, [(1, 512, 14, 14), (1, 528, 14, 14)], strict=True)] == [(1, 1000), (1, 1000)]


def test_googlenet_5x5_branches_are_real_5x5():
    model = models.googlenet(meta=True)
    for block in (m for m in model if isinstance(m, Inception)):
        assert block.branches[2].layers[2].kernel_size == (5, 5)


@pytest.mark.parametrize("name, blocks", [("resnet50", (3, 4, 6, 3)),
                                          ("resnet101", (3, 4, 23, 3)),
                                          ("resnet152", (3, 8, 36, 3))])
def test_resnet_stage_shapes_and_depth(name, blocks):
    model = models.MODELS[name](meta=True)
    s = summary(model, (1, 3, 224, 224))
    assert stage_shapes(s)[3:8] == [(1, 64, 56, 56), (1, 256, 56, 56), (1, 512, 28, 28),
                                    (1, 1024, 14, 14), (1, 2048, 7, 7)]
    assert [len(stage) for stage in model[4:8]] == list(blocks)
    depth = len([r for r in s.rows if r.layer in ("Conv2d", "Linear")
                 and ".shortcut." not in r.name])
    assert depth == 1 + 3 * sum(blocks) + 1 == int(name.removeprefix("resnet"))


def test_vgg19_is_vgg16_with_a_fourth_conv_in_blocks_3_to_5():
    s16 = summary(models.vgg16(meta=True), (1, 3, 224, 224))
    s19 = summary(models.vgg19(meta=True), (1, 3, 224, 224))
    convs = [r for r in s19.rows if r.layer == "Conv2d"]
    assert len(convs) + 3 == 19 and s19.output_shape == s16.output_shape
    assert s19.total_params - s16.total_params == (
        (9 * 256 + 1) * 256 + 2 * (9 * 512 + 1) * 512) == 5_309_696
    assert [c for c in models.VGG19_CONFIG if c != "M"].count(512) == 8


def test_mobilenet_table_two_parameter_shares():
    model = models.mobilenet_v1(meta=True)
    convs = [m for m in _leaves(model) if isinstance(m, Conv2d)]
    share = {"full": convs[0].num_parameters(),
             "dw": sum(c.num_parameters() for c in convs if c.groups > 1),
             "pw": sum(c.num_parameters() for c in convs[1:] if c.groups == 1),
             "fc": model[-1].weight.data.size}
    total = sum(share.values())  # Table 2 counts weights only: no BN, no final bias
    assert {k: round(100 * v / total, 2) for k, v in share.items()} == {
        "full": 0.02, "dw": 1.06, "pw": 74.59, "fc": 24.33}
    assert model.num_parameters() - total - 1000 == 21_888  # batch norm


def _leaves(module):
    children = list(module.children())
    if not children:
        yield module
    for child in children:
        yield from _leaves(child)


def test_auxiliary_head_gradcheck(rng):
    tap = AuxiliaryHead(Sequential(Flatten(), Linear(12, 3, rng=0, dtype=F64)))
    x = rng.standard_normal((2, 3, 2, 2))
    n = x.size

    def forward(x):
        out = tap.forward(x)
        return np.concatenate([out.ravel(), tap.logits.ravel()])

    def backward(g):
        tap.zero_grad()
        tap.logits_grad = g[n:].reshape(2, 3)
        return {"x": tap.backward(g[:n].reshape(x.shape))}

    assert gradcheck(forward, backward, {"x": x}, tol=1e-7)["x"] < 1e-7
    assert tap.logits_grad is None


def test_auxiliary_head_is_skipped_in_eval_mode(rng):
    tap = AuxiliaryHead(Sequential(Flatten(), Linear(12, 3, rng=0, dtype=F64))).eval()
    x = rng.standard_normal((2, 3, 2, 2))
    np.testing.assert_array_equal(tap.forward(x), x)
    assert tap.logits is None
    np.testing.assert_array_equal(tap.backward(x), x)
    tap.forward(x)
    tap.logits_grad = np.ones((2, 3))
    with pytest.raises(RuntimeError, match="evaluation mode"):
        tap.backward(x)


def test_googlenet_aux_logits_in_training_mode():
    model = models.googlenet(True, num_classes=5, rng=0)
    model(np.zeros((2, 3, 224, 224), np.float32))
    heads = [m for m in model if isinstance(m, AuxiliaryHead)]
    assert [h.logits.shape for h in heads] == [(2, 5), (2, 5)]


def test_registry_and_input_shapes():
    assert list(models.MODELS) == list(models.INPUT_SHAPES) == [
        "lenet5", "alexnet", "vgg16", "vgg19", "googlenet", "resnet50", "resnet101",
        "resnet152", "mobilenet_v1"]
    for name, builder in models.MODELS.items():
        model = builder(meta=True, num_classes=3)
        assert model.input_shape == models.INPUT_SHAPES[name]
        assert model.output_shape(models.INPUT_SHAPES[name]) == (1, 3)


def test_same_seed_same_weights_and_dtype():
    a, b = models.lenet5(rng=3, dtype=F64), models.lenet5(rng=3, dtype=F64)
    for (_, p), (_, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        assert p.data.dtype == F64
        np.testing.assert_array_equal(p.data, q.data)


@pytest.mark.parametrize("call, error, name", [
    (lambda: models.lenet5("1989"), ValueError, "variant"),
    (lambda: models.alexnet("three-stream"), ValueError, "variant"),
    (lambda: models.vgg16(num_classes=0), ValueError, "num_classes"),
    (lambda: models.resnet50(meta="yes"), TypeError, "meta"),
    (lambda: models.googlenet(aux_logits=1), TypeError, "aux_logits"),
    (lambda: AuxiliaryHead("head"), TypeError, "head"),
])
def test_bad_arguments_name_the_argument(call, error, name):
    with pytest.raises(error, match=name):
        call()


def test_builder_options_are_keyword_only():
    with pytest.raises(TypeError):
        models.vgg16(10)
    with pytest.raises(TypeError):
        models.lenet5("modern", 10)
