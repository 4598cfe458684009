"""Independent PyTorch definitions of the classic architectures, from the papers' layer tables.

``torch.nn`` only (no torchvision). Each builder returns an ``nn.Sequential`` whose top-level
children are the stages that ``cnnlab.models`` builds in the same order, so a test can compare
the output shape after every stage. Parameter counts come from
``sum(p.numel() for p in model.parameters())``.

Imported lazily by the tests (after the ``torch`` fixture), so a missing torch skips them.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

# LeCun et al. 1998, Table I: the S2 maps (0-5) that feed each of the 16 C3 maps.
C3_CONNECTIONS = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5), (0, 1, 2, 3, 4, 5),
)


# --- LeNet-5 -----------------------------------------------------------------------------
def lenet5_modern() -> nn.Sequential:
    """28x28 input, ReLU and max pooling: 61,706 parameters."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))


class ScaledTanh(nn.Module):
    """LeCun's squashing function ``1.7159 * tanh(2x / 3)``."""

    def forward(self, x):
        return 1.7159 * torch.tanh(x * (2.0 / 3.0))


class Subsampling(nn.Module):
    """S2/S4: each map's 2x2 window sum times a trainable coefficient plus a trainable bias."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        window_sum = F.avg_pool2d(x, 2) * 4
        return window_sum * self.weight[None, :, None, None] + self.bias[None, :, None, None]


class PartialConv2d(nn.Module):
    """C3: output map j sees only the input maps ``connections[j]`` (one kernel per link)."""

    def __init__(self, connections, kernel_size: int = 5) -> None:
        super().__init__()
        self.connections = [list(c) for c in connections]
        self.weights = nn.ParameterList(
            nn.Parameter(torch.randn(1, len(c), kernel_size, kernel_size) * 0.1)
            for c in self.connections)
        self.bias = nn.Parameter(torch.zeros(len(self.connections)))

    def forward(self, x):
        return torch.cat([F.conv2d(x[:, c], w)
                          for c, w in zip(self.connections, self.weights, strict=True)],
                         dim=1) + self.bias[None, :, None, None]


class EuclideanRBF(nn.Module):
    """Output layer ``y_i = sum_j (x_j - w_ij)**2`` with fixed (non-trainable) prototypes."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        signs = torch.randint(0, 2, (out_features, in_features)) * 2.0 - 1.0  # +-1 bitmaps
        self.weight = nn.Parameter(signs, requires_grad=False)

    def forward(self, x):
        return ((x[:, None, :] - self.weight[None]) ** 2).sum(dim=-1)


def lenet5_1998() -> nn.Sequential:
    """LeCun et al. 1998, 32x32 input: 60,000 trainable + 840 fixed RBF parameters."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), ScaledTanh(),                   # C1: 156
        Subsampling(6), ScaledTanh(),                       # S2: 12
        PartialConv2d(C3_CONNECTIONS), ScaledTanh(),        # C3: 1,516
        Subsampling(16), ScaledTanh(),                      # S4: 32
        nn.Conv2d(16, 120, 5), ScaledTanh(),                # C5: 48,120
        nn.Flatten(), nn.Linear(120, 84), ScaledTanh(),     # F6: 10,164
        EuclideanRBF(84, 10))                               # output: 840, fixed


# --- AlexNet -----------------------------------------------------------------------------
def alexnet(variant: str = "two-stream") -> nn.Sequential:
    """Krizhevsky et al. 2012 (input 3x227x227), single-stream, or torchvision's 2014 widths.

    ``groups=2`` reproduces the two-GPU split: conv2, conv4 and conv5 only see the maps
    on their own GPU; conv3 and the fully connected layers see both.
    LRN: the paper's ``k=2, n=5, alpha=1e-4, beta=0.75`` applies alpha to the plain sum;
    torch divides alpha by n, hence ``alpha=5e-4`` here.
    """
    if variant == "torchvision":  # Krizhevsky 2014 widths; AdaptiveAvgPool2d(6) is the
        return nn.Sequential(     # identity at 224x224 input and is left out
            nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
            nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Flatten(), nn.Dropout(0.5), nn.Linear(9216, 4096), nn.ReLU(),
            nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, 1000))
    g = {"two-stream": 2, "single-stream": 1}[variant]

    def lrn():
        return nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)

    return nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(), lrn(), nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2, groups=g), nn.ReLU(), lrn(), nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, 3, padding=1, groups=g), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1, groups=g), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Flatten(), nn.Linear(9216, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4096, 1000))


# --- VGG-16 and VGG-19 ---------------------------------------------------------------------
VGG16_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                512, 512, 512, "M")  # Simonyan & Zisserman, Table 1, column D
VGG19_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
                512, 512, 512, 512, "M")  # column E: a fourth conv in blocks 3, 4 and 5


def vgg16(config=VGG16_CONFIG) -> nn.Sequential:
    """Configuration D: 13 3x3 convolutions, 5 max pools, three fully connected layers."""
    layers, c = [], 3
    for v in config:
        if v == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU()]
            c = v
    return nn.Sequential(
        *layers, nn.Flatten(), nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4096, 1000))


def vgg19() -> nn.Sequential:
    """Configuration E: 16 3x3 convolutions and the same classifier."""
    return vgg16(VGG19_CONFIG)


# --- GoogLeNet ---------------------------------------------------------------------------
# Szegedy et al. 2015, Table 1: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj
INCEPTION = {
    "3a": (192, 64, 96, 128, 16, 32, 32), "3b": (256, 128, 128, 192, 32, 96, 64),
    "4a": (480, 192, 96, 208, 16, 48, 64), "4b": (512, 160, 112, 224, 24, 64, 64),
    "4c": (512, 128, 128, 256, 24, 64, 64), "4d": (512, 112, 144, 288, 32, 64, 64),
    "4e": (528, 256, 160, 320, 32, 128, 128), "5a": (832, 256, 160, 320, 32, 128, 128),
    "5b": (832, 384, 192, 384, 48, 128, 128),
}


def conv_relu(c_in, c_out, k, **kw):
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, **kw), nn.ReLU())


class Inception(nn.Module):
    """Four parallel branches concatenated along channels; the 5x5 branch is a real 5x5."""

    def __init__(self, c_in, n1, r3, n3, r5, n5, pool_proj) -> None:
        super().__init__()
        self.b1 = conv_relu(c_in, n1, 1)
        self.b2 = nn.Sequential(conv_relu(c_in, r3, 1), conv_relu(r3, n3, 3, padding=1))
        self.b3 = nn.Sequential(conv_relu(c_in, r5, 1), conv_relu(r5, n5, 5, padding=2))
        self.b4 = nn.Sequential(nn.MaxPool2d(3, 1, padding=1), conv_relu(c_in, pool_proj, 1))

    def forward(self, x):
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], dim=1)


class AuxTap(nn.Module):
    """Identity on the main path; computes a side classifier's logits into ``self.logits``."""

    def __init__(self, c_in: int) -> None:
        super().__init__()
        self.head = nn.Sequential(
            nn.AvgPool2d(5, 3), conv_relu(c_in, 128, 1), nn.Flatten(),
            nn.Linear(128 * 4 * 4, 1024), nn.ReLU(), nn.Dropout(0.7), nn.Linear(1024, 1000))
        self.logits = None

    def forward(self, x):
        self.logits = self.head(x)
        return x


def googlenet(aux_logits: bool = False) -> nn.Sequential:
    """Table 1 with biases, ReLU and LRN, no batch norm; max pools 3x3/2 with padding 1.

    Padding 1 gives the table's sizes (112 -> 56 -> 28 -> 14 -> 7) as ceil_mode would.
    With ``aux_logits`` the side classifiers tap the inputs of 4b and 4e.
    """
    def inception(name):
        return Inception(*INCEPTION[name])

    def lrn():
        return nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)

    def pool():
        return nn.MaxPool2d(3, 2, padding=1)

    aux = ([AuxTap(512)], [AuxTap(528)]) if aux_logits else ([], [])
    return nn.Sequential(
        nn.Conv2d(3, 64, 7, stride=2, padding=3), nn.ReLU(), pool(), lrn(),
        nn.Conv2d(64, 64, 1), nn.ReLU(), nn.Conv2d(64, 192, 3, padding=1), nn.ReLU(), lrn(),
        pool(), inception("3a"), inception("3b"), pool(),
        inception("4a"), *aux[0], inception("4b"), inception("4c"), inception("4d"), *aux[1],
        inception("4e"), pool(), inception("5a"), inception("5b"),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.4), nn.Linear(1024, 1000))


# --- ResNet-50, -101, -152 ----------------------------------------------------------------
class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (carries the stride, "v1.5"), 1x1 expand x4; BN after each conv.

    ``v1=True`` puts the stride on the first 1x1 convolution instead, as the paper did.
    """

    def __init__(self, c_in: int, mid: int, stride: int = 1, expansion: int = 4,
                 v1: bool = False) -> None:
        super().__init__()
        c_out = mid * expansion
        s1, s3 = (stride, 1) if v1 else (1, stride)
        self.body = nn.Sequential(
            nn.Conv2d(c_in, mid, 1, stride=s1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(),
            nn.Conv2d(mid, mid, 3, stride=s3, padding=1, bias=False), nn.BatchNorm2d(mid),
            nn.ReLU(), nn.Conv2d(mid, c_out, 1, bias=False), nn.BatchNorm2d(c_out))
        self.shortcut = (nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False),
                                       nn.BatchNorm2d(c_out))
                         if stride != 1 or c_in != c_out else nn.Identity())

    def forward(self, x):
        return F.relu(self.body(x) + self.shortcut(x))


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with BN (ResNet-18/34); projection shortcut when shapes change."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(c_out), nn.ReLU(),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out))
        self.shortcut = (nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False),
                                       nn.BatchNorm2d(c_out))
                         if stride != 1 or c_in != c_out else nn.Identity())

    def forward(self, x):
        return F.relu(self.body(x) + self.shortcut(x))


def resnet(blocks=(3, 4, 6, 3), v1: bool = False) -> nn.Sequential:
    """He et al. 2016, Table 1: bottleneck stages 3-4-6-3 (50), 3-4-23-3 (101), 3-8-36-3 (152)."""
    stages, c_in = [], 64
    for mid, count, stride in zip((64, 128, 256, 512), blocks, (1, 2, 2, 2), strict=True):
        stage = []
        for i in range(count):
            stage.append(Bottleneck(c_in, mid, stride if i == 0 else 1, v1=v1))
            c_in = mid * 4
        stages.append(nn.Sequential(*stage))
    return nn.Sequential(
        nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
        nn.MaxPool2d(3, 2, padding=1), *stages,
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2048, 1000))


def resnet50() -> nn.Sequential:
    return resnet((3, 4, 6, 3))


def resnet101() -> nn.Sequential:
    return resnet((3, 4, 23, 3))


def resnet152() -> nn.Sequential:
    return resnet((3, 8, 36, 3))


# --- MobileNet v1 ------------------------------------------------------------------------
# Howard et al. 2017, Table 1: (output channels, stride) of each depthwise separable block.
# The table's last depthwise row says s2 on a 7x7 input that stays 7x7: stride 1 here.
MOBILENET_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
                    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))


def mobilenet_v1() -> nn.Sequential:
    """1.0 MobileNet-224: a full 3x3 conv, 13 depthwise separable blocks, pool, fc."""
    blocks, c_in = [], 32
    for c_out, stride in MOBILENET_BLOCKS:
        blocks.append(nn.Sequential(
            nn.Conv2d(c_in, c_in, 3, stride=stride, padding=1, groups=c_in, bias=False),
            nn.BatchNorm2d(c_in), nn.ReLU(),
            nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()))
        c_in = c_out
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
        *blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1024, 1000))


# --- helpers -----------------------------------------------------------------------------
def count(model: nn.Module) -> tuple[int, int]:
    """(all parameters, trainable parameters)."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return total, trainable


def stage_shapes(model: nn.Sequential, input_shape) -> list[tuple[int, ...]]:
    """Output shape after each top-level child, from a forward pass in eval mode.

    On the device of the model's parameters: a model built on PyTorch's ``meta`` device
    gives the same shapes without memory or arithmetic.
    """
    model.eval()
    x = torch.zeros(input_shape, device=next(model.parameters()).device)
    shapes = []
    with torch.no_grad():
        for child in model:
            x = child(x)
            shapes.append(tuple(x.shape))
    return shapes


def hook_counts(model: nn.Module, input_shape) -> tuple[list[tuple[str, int]], int]:
    """Multiply-accumulates and output elements of one forward pass, from forward hooks.

    The model runs on PyTorch's ``meta`` device (shapes only, no memory, no arithmetic),
    so build it there: ``with torch.device("meta"): model = vgg16()``. Each
    ``nn.Conv2d`` or ``nn.Linear`` hook computes its MACs from the shapes it sees,
    ``output.numel() * (in_channels / groups) * kh * kw`` or ``output.numel() *
    in_features``, and is listed as ``(type name, macs)`` in execution order.

    Output elements: every leaf module's output (``nn.Identity`` excepted: it creates
    nothing), plus what a block's own ``forward`` creates outside its modules: the
    residual sum and its ReLU in ``Bottleneck``/``BasicBlock`` (two tensors), the
    concatenation in ``Inception``.
    """
    macs, elements = [], [0]

    def hook(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            taps = module.in_channels // module.groups * module.kernel_size[0] \
                * module.kernel_size[1]
            macs.append(("Conv2d", output.numel() * taps))
        elif isinstance(module, nn.Linear):
            assert output.numel() == inputs[0].shape[0] * module.out_features
            macs.append(("Linear", output.numel() * module.in_features))
        if isinstance(module, (Bottleneck, BasicBlock)):
            elements[0] += 2 * output.numel()
        elif isinstance(module, Inception):
            elements[0] += output.numel()
        elif not list(module.children()) and not isinstance(module, nn.Identity):
            elements[0] += output.numel()

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    try:
        model.eval()
        with torch.no_grad():
            model(torch.empty(input_shape, device=next(model.parameters()).device))
    finally:
        for h in handles:
            h.remove()
    return macs, elements[0]
