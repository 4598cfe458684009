"""cnnlab.interpret: saliency, occlusion sensitivity and class activation maps.

Saliency is checked against central differences (float64) and PyTorch's input gradient;
occlusion against its loop oracle and a model whose answer is known; CAM against loops, the
logit identity and PyTorch.  Bad inputs are in tests/test_bad_inputs_layers.py.
"""
from __future__ import annotations

import numpy as np
import pytest

from cnnlab.interpret import (
    cam_layers,
    class_activation_map,
    occlusion_sensitivity,
    occlusion_sensitivity_naive,
    saliency,
    upsample_bilinear,
)
from cnnlab.layers import (
    AvgPool2d,
    Conv2d,
    Dropout,
    Flatten,
    GlobalAvgPool2d,
    Linear,
    MaxPool2d,
    ReLU,
    Tanh,
)
from cnnlab.losses import softmax
from cnnlab.module import Sequential
from cnnlab.norm import BatchNorm2d

F64 = np.float64


def smooth_net(c_in=2, classes=3, seed=0):
    """Differentiable everywhere (tanh, average pooling): finite differences are exact."""
    return Sequential(Conv2d(c_in, 4, 3, padding=1, rng=seed, dtype=F64), Tanh(), AvgPool2d(2),
                      Conv2d(4, 5, 3, rng=seed + 1, dtype=F64), Tanh(), Flatten(),
                      Linear(5, classes, rng=seed + 2, dtype=F64))


def relu_net(seed=0):
    """ReLU, max pooling, batch norm (with non-trivial running statistics) and dropout."""
    bn = BatchNorm2d(4, dtype=F64)
    g = np.random.default_rng(seed + 10)
    bn.running_mean[:] = g.normal(size=4)
    bn.running_var[:] = g.uniform(0.5, 2.0, size=4)
    bn.weight.data[:] = g.uniform(0.5, 1.5, size=4)
    bn.bias.data[:] = g.normal(size=4)
    return Sequential(Conv2d(2, 4, 3, padding=1, rng=seed, dtype=F64), bn, ReLU(),
                      MaxPool2d(2), Conv2d(4, 6, 3, rng=seed + 1, dtype=F64), ReLU(),
                      Flatten(), Dropout(0.5, rng=seed), Linear(6 * 2 * 2, 5, rng=seed + 2,
                                                                dtype=F64))


def gap_net(seed=0, c_in=2, classes=4, flatten=True):
    layers = [Conv2d(c_in, 5, 3, padding=1, rng=seed, dtype=F64), ReLU(), MaxPool2d(2),
              Conv2d(5, 6, 3, padding=1, rng=seed + 1, dtype=F64), ReLU(), GlobalAvgPool2d()]
    head = Linear(6, classes, rng=seed + 2, dtype=F64)
    head.bias.data[:] = np.random.default_rng(seed).normal(size=classes)   # not the zero init
    return Sequential(*layers, *([Flatten()] if flatten else []), head)


def images(n, c, h, w, seed=0, dtype=F64):
    return np.random.default_rng(seed).uniform(-1, 1, (n, c, h, w)).astype(dtype)


def logits(model, x):
    model.eval()
    return model.forward(x)


# --- saliency ---------------------------------------------------------------------------------

def central_difference(f, x, eps=1e-6):
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[idx] += eps
        minus[idx] -= eps
        grad[idx] = (f(plus) - f(minus)) / (2 * eps)
    return grad


@pytest.mark.parametrize("score", ["logit", "probability"])
@pytest.mark.parametrize("target", [0, 2])
def test_saliency_equals_central_differences(score, target):
    model, x = smooth_net(), images(1, 2, 6, 6)

    def f(xp):
        z = logits(model, xp)
        return (z if score == "logit" else softmax(z))[0, target]

    want = central_difference(f, x)
    got = saliency(model, x, target, score=score, reduce="none")
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(saliency(model, x, target, score=score),
                               np.abs(want).max(axis=1), rtol=1e-6, atol=1e-9)


def test_saliency_of_a_relu_network_equals_central_differences():
    """Piecewise linear: away from the kinks the difference quotient is exact."""
    model, x = relu_net(), images(2, 2, 8, 8, seed=3)
    for n, t in ((0, 1), (1, 4)):
        want = central_difference(lambda xp, n=n, t=t: logits(model, xp)[n, t], x,
                                  eps=1e-7)[n]
        got = saliency(model, x, np.array([t, t]), reduce="none")[n]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-8)


def test_saliency_of_a_linear_model_is_its_weight_row():
    model = Sequential(Flatten(), Linear(12, 3, rng=0, dtype=F64))
    x = images(2, 3, 2, 2)
    w = model[1].weight.data.reshape(3, 3, 2, 2)
    got = saliency(model, x, np.array([2, 0]), reduce="none")
    np.testing.assert_array_equal(got, np.stack([w[2], w[0]]))
    np.testing.assert_array_equal(saliency(model, x, 1)[0], np.abs(w[1]).max(axis=0))


def to_torch(model, torch):
    """The same network in torch.nn, with the weights and running statistics copied."""
    nn = torch.nn
    out = []
    for layer in model:
        name = type(layer).__name__
        if name == "Conv2d":
            m = nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size,
                          layer.stride, layer.padding, dtype=torch.float64)
            m.weight.data = torch.tensor(layer.weight.data)
            m.bias.data = torch.tensor(layer.bias.data)
        elif name == "Linear":
            m = nn.Linear(*layer.weight.data.shape[::-1], dtype=torch.float64)
            m.weight.data = torch.tensor(layer.weight.data)
            m.bias.data = torch.tensor(layer.bias.data)
        elif name == "BatchNorm2d":
            m = nn.BatchNorm2d(layer.num_features, eps=layer.eps, dtype=torch.float64)
            for key in ("weight", "bias"):
                getattr(m, key).data = torch.tensor(getattr(layer, key).data)
            m.running_mean.data = torch.tensor(layer.running_mean)
            m.running_var.data = torch.tensor(layer.running_var)
        elif name in ("MaxPool2d", "AvgPool2d"):
            m = getattr(nn, name)(layer.kernel_size, layer.stride, layer.padding)
        else:
            m = {"ReLU": nn.ReLU, "Tanh": nn.Tanh, "Flatten": nn.Flatten,
                 "Dropout": lambda layer=layer: nn.Dropout(layer.p),
                 "GlobalAvgPool2d": lambda: nn.AdaptiveAvgPool2d(1)}[name]()
        out.append(m)
    return nn.Sequential(*out).eval()


@pytest.mark.parametrize("score", ["logit", "probability"])
def test_saliency_equals_pytorch_input_gradient(torch, score):
    model = relu_net(seed=4)
    x = images(3, 2, 8, 8, seed=5)
    target = np.array([0, 3, 4])
    tx = torch.tensor(x, requires_grad=True)
    out = to_torch(model, torch)(tx)
    if score == "probability":
        out = torch.softmax(out, dim=1)
    out[torch.arange(3), torch.tensor(target)].sum().backward()
    want = tx.grad.numpy()
    got = saliency(model.train(), x, target, score=score, reduce="none")
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(saliency(model, x, target, score=score),
                               np.abs(want).max(axis=1), rtol=1e-6, atol=1e-12)


def test_saliency_restores_modes_and_gradients_and_leaves_x_alone():
    model, x = relu_net(), images(2, 2, 8, 8)
    model.train()
    model[1].eval()                                    # mixed flags are kept as they are
    before = [p.grad.copy() for p in model.parameters()]
    x_copy = x.copy()
    first = saliency(model, x, 1)
    again = saliency(model, x, 1)
    np.testing.assert_array_equal(first, again)        # dropout off: deterministic
    assert [m.training for m in model] == [True, False] + [True] * 7
    assert all(np.array_equal(p.grad, b)
               for p, b in zip(model.parameters(), before, strict=True))
    np.testing.assert_array_equal(x, x_copy)


def test_saliency_float32_keeps_dtype():
    model = Sequential(Conv2d(1, 2, 3, rng=0), ReLU(), Flatten(), Linear(8, 3, rng=1))
    x = images(2, 1, 4, 4, dtype=np.float32)
    assert saliency(model, x, 0).dtype == np.float32
    assert saliency(model, x, 0).shape == (2, 4, 4)
    assert saliency(model, x, 0, reduce="none").shape == (2, 1, 4, 4)


# --- occlusion --------------------------------------------------------------------------------

def region_model(h=8, w=8, region=(slice(0, 3), slice(5, 8))):
    """Two classes; class 0's logit is the sum of the pixels of ``region`` only."""
    weight = np.zeros((2, h * w))
    mask = np.zeros((h, w))
    mask[region] = 1.0
    weight[0] = mask.ravel()
    lin = Linear(h * w, 2, rng=0, dtype=F64)
    lin.weight.data[...] = weight
    lin.bias.data[...] = 0.0
    return Sequential(Flatten(), lin), mask


def test_occlusion_finds_the_only_region_a_model_looks_at():
    model, mask = region_model()
    x = np.random.default_rng(0).uniform(0.5, 1.0, (1, 1, 8, 8))
    heat = occlusion_sensitivity(model, x, 0, patch=2, stride=2)
    assert heat.shape == (1, 4, 4)
    # the known answer: p0 = sigmoid(sum over the region), patch pixels set to 0
    def p0(img):
        return 1 / (1 + np.exp(-(img[0, 0] * mask).sum()))
    want = np.zeros((4, 4))
    for i in range(4):
        for j in range(4):
            covered = x.copy()
            covered[0, 0, 2 * i:2 * i + 2, 2 * j:2 * j + 2] = 0.0
            want[i, j] = p0(x) - p0(covered)
    np.testing.assert_allclose(heat[0], want, rtol=1e-12, atol=1e-15)
    touches = np.array([[mask[2 * i:2 * i + 2, 2 * j:2 * j + 2].any() for j in range(4)]
                        for i in range(4)])
    assert (heat[0][~touches] == 0).all() and (heat[0][touches] > 0).all()
    assert touches.sum() == 4                              # rows 0-3 x columns 4-7


@pytest.mark.parametrize("n, c, h, w, patch, stride, batch_size, fill", [
    (1, 1, 6, 6, 2, 2, 256, 0.0),
    (2, 3, 7, 5, 3, 1, 4, 0.5),            # positions not a multiple of the batch
    (1, 2, 6, 6, 6, 1, 1, 0.0),            # patch = the whole image: one position
    (2, 1, 9, 8, (2, 3), (4, 3), 1, -1.0),  # stride larger than the patch
    (1, 1, 5, 7, 1, 1, 7, 0.0),            # 1x1 patches
])
@pytest.mark.parametrize("dtype", [np.float32, F64])
def test_occlusion_equals_its_loop_oracle(n, c, h, w, patch, stride, batch_size, fill, dtype):
    model = Sequential(Conv2d(c, 3, 3, padding=1, rng=1, dtype=dtype), ReLU(),
                       GlobalAvgPool2d(), Flatten(), Linear(3, 4, rng=2, dtype=dtype))
    x = images(n, c, h, w, seed=2, dtype=dtype)
    target = np.arange(n) % 4
    fast = occlusion_sensitivity(model, x, target, patch, stride, fill, batch_size=batch_size)
    slow = occlusion_sensitivity_naive(model, x, target, patch, stride, fill)
    assert fast.dtype == dtype and fast.shape == slow.shape
    np.testing.assert_allclose(fast, slow, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-6 if dtype == np.float32 else 1e-14)


def test_occlusion_does_not_depend_on_batch_size():
    model, x = relu_net(), images(2, 2, 8, 8)
    maps = [occlusion_sensitivity(model, x, 3, patch=3, stride=1, batch_size=b)
            for b in (1, 5, 36, 1000)]
    for m in maps[1:]:
        np.testing.assert_allclose(m, maps[0], rtol=1e-12, atol=1e-15)


def test_occlusion_of_a_patch_equal_to_the_fill_is_zero():
    model, x = relu_net(), images(1, 2, 8, 8)
    x[:, :, :4, :4] = 0.25
    heat = occlusion_sensitivity(model, x, 2, patch=4, stride=4, fill=0.25)
    assert heat[0, 0, 0] == 0 and np.abs(heat[0]).sum() > 0


# --- class activation maps --------------------------------------------------------------------

def test_upsample_bilinear_equals_a_loop():
    maps = images(2, 3, 3, 4)[0]                            # (3, 3, 4)
    got = upsample_bilinear(maps, (7, 5))
    want = np.zeros((3, 7, 5))
    for o in range(7):
        for q in range(5):
            s = max((o + 0.5) * 3 / 7 - 0.5, 0.0)
            r = max((q + 0.5) * 4 / 5 - 0.5, 0.0)
            i0, j0 = int(s), int(r)
            i1, j1 = min(i0 + 1, 2), min(j0 + 1, 3)
            a, b = s - i0, r - j0
            want[:, o, q] = ((1 - a) * ((1 - b) * maps[:, i0, j0] + b * maps[:, i0, j1])
                             + a * ((1 - b) * maps[:, i1, j0] + b * maps[:, i1, j1]))
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("shape, size", [((1, 1, 7, 7), 28), ((2, 3, 3, 5), (8, 4)),
                                         ((1, 2, 1, 1), 5), ((1, 1, 6, 6), 6),
                                         ((1, 1, 9, 9), 4), ((2, 1, 2, 3), (2, 13))])
def test_upsample_bilinear_equals_pytorch(torch, shape, size):
    maps = images(*shape, seed=1)
    want = torch.nn.functional.interpolate(torch.tensor(maps), size=size, mode="bilinear",
                                           align_corners=False).numpy()
    np.testing.assert_allclose(upsample_bilinear(maps, size), want, rtol=1e-6, atol=1e-14)


def test_upsample_to_the_same_size_is_the_identity():
    maps = images(1, 2, 5, 6)
    np.testing.assert_array_equal(upsample_bilinear(maps, (5, 6)), maps)


def test_cam_equals_a_direct_computation_and_its_mean_plus_bias_is_the_logit():
    model = gap_net()
    x = images(3, 2, 8, 6, seed=7)
    target = np.array([0, 3, 1])
    cam = class_activation_map(model, x, target, upsample=False)
    feats = Sequential(*list(model)[:5]).eval().forward(x)   # (3, 6, 4, 3)
    w, b = model[-1].weight.data, model[-1].bias.data
    want = np.zeros((3, 4, 3))
    for n in range(3):
        for c in range(6):
            for i in range(4):
                for j in range(3):
                    want[n, i, j] += w[target[n], c] * feats[n, c, i, j]
    np.testing.assert_allclose(cam, want, rtol=1e-12)
    z = logits(model, x)[np.arange(3), target]
    np.testing.assert_allclose(cam.mean(axis=(1, 2)) + b[target], z, rtol=1e-12)
    full = class_activation_map(model, x, target)
    assert full.shape == (3, 8, 6)
    np.testing.assert_allclose(full, upsample_bilinear(cam, (8, 6)), rtol=1e-12)


def test_cam_equals_pytorch(torch):
    model = gap_net(seed=3, c_in=1, classes=10)
    x = images(2, 1, 10, 10, seed=8)
    target = np.array([9, 4])
    tmodel = to_torch(model, torch)
    with torch.no_grad():
        feats = tmodel[:5](torch.tensor(x))
        w = tmodel[-1].weight
        cam = torch.einsum("nc,nchw->nhw", w[torch.tensor(target)], feats)
        want = torch.nn.functional.interpolate(cam[:, None], size=(10, 10), mode="bilinear",
                                               align_corners=False)[:, 0].numpy()
    np.testing.assert_allclose(class_activation_map(model, x, target), want, rtol=1e-6,
                               atol=1e-12)


def test_cam_layers_splits_features_and_classifier():
    model = gap_net()
    features, classifier = cam_layers(model)
    assert classifier is model[-1]
    assert [type(m).__name__ for m in features] == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d",
                                                    "ReLU"]
    assert all(a is b for a, b in zip(features, list(model)[:5], strict=True))
    no_flatten = gap_net(flatten=False)                     # Flatten is optional
    assert cam_layers(no_flatten)[1] is no_flatten[-1] and len(cam_layers(no_flatten)[0]) == 5


@pytest.mark.parametrize("model, exc, match", [
    (Conv2d(1, 2, 3, rng=0), TypeError, r"^model must be a Sequential ending in GlobalAvgPool2d"),
    (Sequential(Conv2d(1, 2, 3, rng=0), GlobalAvgPool2d(), Flatten()), ValueError,
     r"^model: .*the last layer is Flatten, not a Linear layer"),
    (Sequential(Conv2d(1, 2, 3, rng=0), MaxPool2d(2), Flatten(), Linear(2, 3, rng=0)),
     ValueError, r"^model: .*it ends in MaxPool2d -> Flatten -> Linear, with no GlobalAvgPool2d"),
    (Sequential(Conv2d(1, 2, 3, rng=0), GlobalAvgPool2d(), Flatten(), ReLU(), Linear(2, 3, rng=0)),
     ValueError, r"^model: .*it ends in ReLU -> Linear, with no GlobalAvgPool2d"),
    (Sequential(GlobalAvgPool2d(), Flatten(), Linear(1, 3, rng=0)), ValueError,
     r"^model: .*with feature layers before GlobalAvgPool2d; found none"),
    (Sequential(), ValueError, r"^model: .*the last layer is nothing"),
])
def test_cam_refuses_other_architectures(model, exc, match):
    with pytest.raises(exc, match=match):
        class_activation_map(model, np.zeros((1, 1, 4, 4), np.float32), 0)
