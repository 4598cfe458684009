"""Checkers of beyond_images, resnet_block and classic_architectures."""
from __future__ import annotations

import math

import numpy as np

from ..analysis import conv2d_parameters, receptive_field
from ..conv import conv1d
from ..shapes import conv_output_size, pool_output_size
from ._common import OUTPUT_SIZE
from ._core import _add

# beyond_images ----------------------------------------------------------------------------------
BI = "beyond_images"
_X1 = [[1, 0, 2, 1, -1], [0, 1, 1, 0, 2]]
_W1 = [[1, -1, 0], [0, 2, 1]]


def _conv1d_hand(bias=1.0, flip=False, padding=1):
    w = np.asarray(_W1, dtype=np.float64)[None]
    if flip:
        w = w[..., ::-1].copy()
    return conv1d(np.asarray(_X1, dtype=np.float64)[None], w, np.array([bias]), stride=2,
                  padding=padding)[0, 0]


_add("ex-beyond-conv1d-hand", "length", "length of the 1-D output", BI, "number", OUTPUT_SIZE,
     lambda: conv_output_size(5, 3, stride=2, padding=1), integer=True,
     mistakes=lambda: [(conv_output_size(5, 3, stride=2), "did you forget the padding?"),
                       (conv_output_size(5, 3, padding=1), "did you divide by the stride?")])
_add("ex-beyond-conv1d-hand", "output", "the 1-D output values", BI, "array",
     "pad each channel with one zero on both sides; windows start every two samples; add the two "
     "channels' dot products and the bias", lambda: _conv1d_hand(),
     mistakes=lambda: [(_conv1d_hand(bias=0.0), "did you add the bias?"),
                       (_conv1d_hand(flip=True), "no flipping: conv1d computes a "
                                                 "cross-correlation")])


def _wavenet_field(blocks: int) -> int:
    from ..layers import Conv1d

    block = [Conv1d(1, 1, 2, dilation=2 ** i, rng=0) for i in range(10)]
    return receptive_field(block * blocks)[-1].receptive_field


def _wavenet_blocks() -> int:
    return next(b for b in range(1, 100) if _wavenet_field(b) >= 16_000)


_WAVENET = "a two-tap layer with dilation d adds d samples to the field; one block adds the sum " \
           "of its dilations"
_add("ex-beyond-wavenet", "field", "a function: the receptive field of n_blocks blocks", BI,
     "function", _WAVENET, lambda: _wavenet_field, inputs=[(1,), (2,), (3,), (16,)],
     arg_names=("n_blocks",),
     input_hints=lambda args: ("the field starts at one sample (the input itself) and each block "
                               "adds the sum of its dilations" if args[0] == 1 else None))
_add("ex-beyond-wavenet", "blocks", "blocks needed for one second at 16 kHz", BI, "number",
     _WAVENET + "; the field must reach 16,000 samples", _wavenet_blocks, integer=True,
     mistakes=lambda: [(_wavenet_blocks() - 1, "round up: that many blocks fall short"),
                       (16_000 / 1024, "give a whole number of blocks")])
_add("ex-beyond-wavenet", "layers", "layers in those blocks", BI, "number",
     "each block has ten layers", lambda: 10 * _wavenet_blocks(), integer=True,
     mistakes=lambda: [(10 * (_wavenet_blocks() - 1), "round the number of blocks up first")])
_add("ex-beyond-wavenet", "undilated", "undilated two-tap layers giving the same field", BI,
     "number", "an undilated two-tap layer adds one sample to the field, which starts at one",
     lambda: _wavenet_field(_wavenet_blocks()) - 1, integer=True,
     mistakes=lambda: [(_wavenet_field(_wavenet_blocks()), "the field starts at one sample "
                                                           "without any layer"),
                       (16_000, "match the field of the dilated stack, not the target")])


def _madds(c_in, c_out, k, size, groups=1) -> int:
    out = conv_output_size(size, k, padding=k // 2)
    return out * out * c_out * k * k * (c_in // groups)


def _separable(c_in=128, c_out=64, size=32, k=5) -> tuple[int, int]:
    std = _madds(c_in, c_out, k, size)
    sep = _madds(c_in, c_in, k, size, groups=c_in) + _madds(c_in, c_out, 1, size)
    return std, sep


_SEP = ("multiply-adds = output values × taps per output: k·k·C_in for a standard output, k·k for "
        "a depthwise one, C_in for a pointwise one")
_add("ex-beyond-separable-ratio", "standard", "multiply-adds of the standard 5×5 layer", BI,
     "number", _SEP, lambda: _separable()[0], integer=True,
     mistakes=lambda: [(_separable()[0] // 25 * 9, "the kernel is 5×5 here"),
                       (_separable()[0] // 1024, "multiply by the number of output pixels")])
_add("ex-beyond-separable-ratio", "separable", "multiply-adds of the separable layer", BI,
     "number", _SEP, lambda: _separable()[1], integer=True,
     mistakes=lambda: [(_madds(128, 128, 5, 32, groups=128), "add the pointwise 1×1 layer"),
                       (_madds(128, 64, 1, 32), "add the depthwise layer"),
                       (_madds(128, 128, 5, 32) + _madds(128, 64, 1, 32),
                        "the depthwise layer filters each channel on its own (groups = C)")])
_add("ex-beyond-separable-ratio", "ratio", "separable / standard multiply-adds", BI, "number",
     "the ratio is 1/C_out + 1/k²", lambda: _separable()[1] / _separable()[0], rtol=2e-3,
     mistakes=lambda: [(_separable()[0] / _separable()[1], "separable divided by standard: the "
                                                          "ratio is below one"),
                       (1 / 25, "add the pointwise part, 1/C_out"),
                       (1 / 64, "add the depthwise part, 1/k²")])


def _inception(direct: bool, madds: bool) -> int:
    if direct:
        w = conv2d_parameters(192, 128, 3, bias=False)
    else:
        w = conv2d_parameters(192, 96, 1, bias=False) + conv2d_parameters(96, 128, 3, bias=False)
    return w * conv_output_size(28, 3, padding=1) ** 2 if madds else w


_INC = ("weights without biases: k·k·C_in·C_out per convolution; every map is 28×28, so each "
        "weight is used once per output pixel")
for _direct, _madd, _part, _title in [(True, False, "direct_weights", "weights, direct 3×3"),
                                      (False, False, "reduced_weights", "weights, 1×1 then 3×3"),
                                      (True, True, "direct_madds", "multiply-adds, direct 3×3"),
                                      (False, True, "reduced_madds",
                                       "multiply-adds, 1×1 then 3×3")]:
    _add("ex-beyond-inception", _part, _title, BI, "number", _INC,
         lambda d=_direct, m=_madd: _inception(d, m), integer=True,
         mistakes=lambda d=_direct, m=_madd: [
             ((conv2d_parameters(96, 128, 3, bias=False) * (784 if m else 1)),
              "the 1×1 reduction costs weights and multiply-adds too") if not d else
             (conv2d_parameters(192, 128, 3) * (784 if m else 1), "no biases here"),
             (_inception(d, False) * 28, "each weight is used once per output pixel: 28 × 28")
             if m else (_inception(d, True), "that counts multiply-adds, not weights")])

_add("ex-beyond-groups", "grouped", "parameters of Conv2d(96, 256, 5, groups=2)", BI, "number",
     "with g groups each filter spans C_in/g channels; each filter keeps its bias",
     lambda: conv2d_parameters(96 // 2, 256, 5), integer=True,
     mistakes=lambda: [(conv2d_parameters(96, 256, 5) / 2, "grouping divides the weights, not the "
                                                          "biases"),
                       (conv2d_parameters(96 // 2, 256, 5, bias=False),
                        "did you count the biases?"),
                       (conv2d_parameters(96 // 2, 256 // 2, 5), "both groups have their 128 "
                                                                 "filters: count all of them")])
_add("ex-beyond-groups", "ungrouped", "parameters of Conv2d(96, 256, 5)", BI, "number",
     "(k·k·C_in + 1)·C_out", lambda: conv2d_parameters(96, 256, 5), integer=True,
     mistakes=lambda: [(conv2d_parameters(96, 256, 5, bias=False), "did you count the biases?")])

# resnet_block -----------------------------------------------------------------------------------
RB = "resnet_block"


def _block_params(kind: str) -> int:
    from ..blocks import BasicBlock, Bottleneck

    return (BasicBlock(128, 128, rng=0) if kind == "basic" else Bottleneck(512, 128, rng=0)) \
        .num_parameters()


_add("ex-resnet-params", "basic", "parameters of BasicBlock(128, 128)", RB, "number",
     "two 3×3 convolutions without bias, each followed by batch norm (γ and β per channel); no "
     "projection when the shape does not change", lambda: _block_params("basic"), integer=True,
     mistakes=lambda: [(2 * conv2d_parameters(128, 128, 3, bias=False),
                        "did you count the batch-norm parameters?"),
                       (2 * conv2d_parameters(128, 128, 3) + 4 * 128,
                        "convolutions followed by batch norm have no bias")])
_add("ex-resnet-params", "bottleneck", "parameters of Bottleneck(512, 128)", RB, "number",
     "1×1 down to 128, 3×3 at 128, 1×1 up to 512, each without bias and followed by batch norm",
     lambda: _block_params("bottleneck"), integer=True,
     mistakes=lambda: [(conv2d_parameters(512, 128, 1, bias=False)
                        + conv2d_parameters(128, 128, 3, bias=False)
                        + conv2d_parameters(128, 512, 1, bias=False),
                        "did you count the batch-norm parameters?")])


def _skip_block():
    from ..layers import Linear, ReLU
    from ..module import Residual, Sequential

    lin1, lin2 = (Linear(2, 2, bias=False, dtype=np.float64) for _ in range(2))
    lin1.weight.data[...] = [[0.2, 0.1], [-0.1, 0.3]]
    lin2.weight.data[...] = [[0.3, -0.2], [0.1, 0.4]]
    return Residual(Sequential(lin1, ReLU(), lin2), activation=ReLU())


def _skip_output():
    return _skip_block().forward(np.array([[0.5, 0.5]]))[0]


def _skip_jacobian(skip=True):
    block = _skip_block()
    if not skip:
        block = block.body
    block.forward(np.array([[0.5, 0.5]]))
    return np.vstack([block.backward(e[None, :]) for e in np.eye(2)])


_add("ex-resnet-skip-grad", "output", "the block's output at X = [0.5, 0.5]", RB, "array",
     "𝓕(X) = W₂ ReLU(W₁X), output = ReLU(𝓕(X) + X)", _skip_output,
     mistakes=lambda: [(_skip_block().body.forward(np.array([[0.5, 0.5]]))[0],
                        "that is 𝓕(X): add the skip X before the final ReLU")])
_add("ex-resnet-skip-grad", "jacobian", "the Jacobian ∂Y/∂X at X = [0.5, 0.5]", RB, "array",
     "with every ReLU active the Jacobian is I + W₂W₁", _skip_jacobian,
     mistakes=lambda: [(_skip_jacobian(skip=False), "that is the branch's Jacobian: the skip adds "
                                                    "the identity"),
                       (_skip_jacobian().T, "row i holds the derivatives of output i")])


def _projections() -> int:
    return sum(conv2d_parameters(c, 2 * c, 1, bias=False) + 2 * 2 * c for c in (64, 128, 256))


_add("ex-resnet-projection", "total", "parameters of the three projection shortcuts", RB, "number",
     "a projection from C to 2C channels is a 1×1 convolution without bias plus batch norm",
     _projections, integer=True,
     mistakes=lambda: [(sum(conv2d_parameters(c, 2 * c, 1, bias=False) for c in (64, 128, 256)),
                        "did you count the batch-norm parameters?"),
                       (sum(conv2d_parameters(c, 2 * c, 3, bias=False) + 4 * c
                            for c in (64, 128, 256)), "the projection is a 1×1 convolution")])
_add("ex-resnet-projection", "option_a", "parameters of the zero-padding shortcut (option A)", RB,
     "number", "zero padding and subsampling are fixed operations", lambda: 0, integer=True,
     atol=1e-12)

# classic_architectures --------------------------------------------------------------------------
CA = "classic_architectures"
_CONV_PARAMS = "a conv layer has (k·k·C_in + 1)·C_out parameters"


def _vgg_block3(bias=True) -> int:
    return (conv2d_parameters(128, 256, 3, bias) + 2 * conv2d_parameters(256, 256, 3, bias))


_add("ex-arch-vgg-block", "params", "parameters of VGG-16's third block", CA, "number",
     _CONV_PARAMS, _vgg_block3, integer=True,
     mistakes=lambda: [(_vgg_block3(bias=False), "did you count the biases?"),
                       (3 * conv2d_parameters(256, 256, 3), "the first convolution reads 128 "
                                                            "channels")])
_add("ex-arch-vgg-block", "shape", "output shape (C, H, W) of the block", CA, "array",
     "padding 1 keeps a 3×3 convolution at its input size; the 2×2/2 pooling halves it",
     lambda: (256, pool_output_size(conv_output_size(56, 3, padding=1), 2),
              pool_output_size(conv_output_size(56, 3, padding=1), 2)),
     mistakes=lambda: [((256, 56, 56), "the pooling halves height and width"),
                       ((28, 28, 256), "give the shape as (C, H, W), channels first")])


def _inception_4a(reduce: bool) -> int:
    c = 480
    if reduce:
        return (conv2d_parameters(c, 192, 1) + conv2d_parameters(c, 96, 1)
                + conv2d_parameters(96, 208, 3) + conv2d_parameters(c, 16, 1)
                + conv2d_parameters(16, 48, 5) + conv2d_parameters(c, 64, 1))
    return conv2d_parameters(c, 192, 1) + conv2d_parameters(c, 208, 3) + conv2d_parameters(c, 48, 5)


_INC4A = _CONV_PARAMS + "; count every branch, the 1×1 reductions and the pool projection included"
_add("ex-arch-inception", "reduced", "parameters of Inception 4a with the 1×1 reductions", CA,
     "number", _INC4A, lambda: _inception_4a(True), integer=True,
     mistakes=lambda: [(_inception_4a(True) - (192 + 96 + 208 + 16 + 48 + 64),
                        "did you count the biases?"),
                       (_inception_4a(True) - conv2d_parameters(480, 64, 1),
                        "add the pool projection's 1×1 convolution")])
_add("ex-arch-inception", "direct", "parameters of Inception 4a without the reductions", CA,
     "number", _INC4A.replace(", the 1×1 reductions and the pool projection included",
                              ": the 3×3 and 5×5 filters read all input channels"),
     lambda: _inception_4a(False), integer=True,
     mistakes=lambda: [(_inception_4a(False) + conv2d_parameters(480, 64, 1),
                        "without reductions the pooled maps are passed on unprojected"),
                       (_inception_4a(False) - (192 + 208 + 48), "did you count the biases?")])
_add("ex-arch-inception", "channels", "output channels (with reductions, without)", CA, "array",
     "the branches are concatenated: add their output channels; an unprojected pool branch keeps "
     "all input channels", lambda: (192 + 208 + 48 + 64, 192 + 208 + 48 + 480),
     mistakes=lambda: [((192 + 208 + 48 + 64,) * 2, "without the projection the pool branch "
                                                    "passes all input channels on")])
_add("ex-arch-alexnet-conv1", "conv", "conv1 output size for a 227×227 input", CA, "number",
     OUTPUT_SIZE, lambda: conv_output_size(227, 11, stride=4), integer=True,
     mistakes=lambda: [(227 // 4, "subtract the kernel size before dividing by the stride"),
                       ((227 - 11) // 4, "did you forget the + 1?")])
_add("ex-arch-alexnet-conv1", "pool", "size after the 3×3/2 max pooling", CA, "number", OUTPUT_SIZE,
     lambda: pool_output_size(conv_output_size(227, 11, stride=4), 3, stride=2), integer=True,
     mistakes=lambda: [(pool_output_size(conv_output_size(227, 11, stride=4), 3),
                        "the pooling has stride 2, not its window size"),
                       (math.ceil((conv_output_size(227, 11, stride=4) - 3) / 2) + 1,
                        "remember the floor")])
_add("ex-arch-alexnet-conv1", "conv_224", "conv1 output size for 224×224 with padding 2", CA,
     "number", OUTPUT_SIZE, lambda: conv_output_size(224, 11, stride=4, padding=2), integer=True,
     mistakes=lambda: [(math.ceil((224 + 4 - 11) / 4) + 1, "remember the floor"),
                       (conv_output_size(224, 11, stride=4), "did you forget the padding?")])
_add("ex-arch-alexnet-conv1", "params", "parameters of conv1", CA, "number", _CONV_PARAMS,
     lambda: conv2d_parameters(3, 96, 11), integer=True,
     mistakes=lambda: [(conv2d_parameters(3, 96, 11, bias=False), "did you count the biases?"),
                       (conv2d_parameters(1, 96, 11), "each filter spans the three colour "
                                                      "channels")])
_SEP13 = ("depthwise: one k×k kernel per channel; pointwise: a 1×1 convolution, C·C' weights; "
          "no biases")
_add("ex-arch-separable", "depthwise", "weights of block 13's depthwise convolution", CA, "number",
     _SEP13, lambda: conv2d_parameters(1, 1024, 3, bias=False), integer=True,
     mistakes=lambda: [(conv2d_parameters(1024, 1024, 3, bias=False), "a depthwise convolution "
                                                                      "filters each channel on "
                                                                      "its own")])
_add("ex-arch-separable", "pointwise", "weights of block 13's pointwise convolution", CA, "number",
     _SEP13, lambda: conv2d_parameters(1024, 1024, 1, bias=False), integer=True)
_add("ex-arch-separable", "full", "weights of a full 3×3 convolution 1024 → 1024", CA, "number",
     "k·k·C·C' weights (no bias)", lambda: conv2d_parameters(1024, 1024, 3, bias=False),
     integer=True,
     mistakes=lambda: [(conv2d_parameters(1024, 1024, 3), "no biases here")])
_add("ex-arch-separable", "ratio", "separable / full weights", CA, "number",
     "the ratio is 1/C' + 1/k²",
     lambda: (conv2d_parameters(1, 1024, 3, bias=False)
              + conv2d_parameters(1024, 1024, 1, bias=False))
     / conv2d_parameters(1024, 1024, 3, bias=False), rtol=1e-3,
     mistakes=lambda: [(1 / 9, "add the depthwise part, 1/C'"),
                       (9.437184e6 / 1.057792e6, "separable divided by full: the ratio is below "
                                                 "one")])


def _vgg_costs():
    from ..analysis import summary
    from ..models import vgg16

    return summary(vgg16(meta=True), (1, 3, 224, 224))


_MACS = ("multiply-adds = output values × taps per output value; a 3×3 filter on 3 channels has "
         "27 taps, a fully connected unit one per input; biases are not multiply-adds")
_add("ex-arch-macs", "conv1", "multiply-adds of VGG-16's first convolution", CA, "number", _MACS,
     lambda: _vgg_costs().rows[0].macs, integer=True,
     mistakes=lambda: [(224 * 224 * 64 * 28, "bias additions are not multiply-adds"),
                       (224 * 224 * 64 * 9, "each tap spans the 3 input channels"),
                       (conv2d_parameters(3, 64, 3, bias=False), "that counts weights: multiply "
                                                                 "by the output positions")])
_add("ex-arch-macs", "fc6", "multiply-adds of VGG-16's first fully connected layer", CA, "number",
     _MACS, lambda: next(r for r in _vgg_costs().rows if r.layer == "Linear").macs, integer=True,
     mistakes=lambda: [(25_088 * 4_096 + 4_096, "bias additions are not multiply-adds")])
_add("ex-arch-macs", "uses", "times each weight of the first convolution is used per image", CA,
     "number", "a filter is applied once at every output position",
     lambda: _vgg_costs().rows[0].macs // conv2d_parameters(3, 64, 3, bias=False), integer=True,
     mistakes=lambda: [(224, "the filter moves along both axes"),
                       (224 * 224 * 64, "a weight belongs to one filter: count its positions "
                                        "only")])


def _memory(batch: bool):
    costs = _vgg_costs()
    weights = 4 * costs.total_params
    return -(-weights // costs.output_bytes) if batch else costs.rows[0].output_bytes


_add("ex-arch-activation-memory", "conv1_bytes", "bytes of the first convolution's output", CA,
     "number", "C·H·W values of 4 bytes each in float32", lambda: _memory(False), integer=True,
     mistakes=lambda: [(_memory(False) // 4, "float32 values take 4 bytes each"),
                       (_memory(False) * 2, "float32, not float64: 4 bytes per value")])
_add("ex-arch-activation-memory", "batch", "smallest batch whose outputs outweigh the parameters",
     CA, "number", "parameters are stored once, outputs once per image: compare 4 bytes × "
     "parameters with the batch size × the output bytes of one image", lambda: _memory(True),
     integer=True,
     mistakes=lambda: [(_memory(True) - 1, "at that batch the outputs still take less memory"),
                       (4 * _vgg_costs().total_params / _vgg_costs().output_bytes,
                        "give a whole number of images")])


def _mobilenet(size: int | None = None) -> int:
    """MobileNet v1's multiply-adds for a size x size image, or its parameters (size None)."""
    from ..analysis import summary
    from ..models import mobilenet_v1

    net = mobilenet_v1(meta=True)
    return net.num_parameters() if size is None else summary(net, (1, 3, size, size)).total_macs


_RES = ("multiply-adds scale with the number of output positions, height × width, except after "
        "global average pooling")
_add("ex-arch-resolution", "params", "parameters of 1.0 MobileNet-160", CA, "number",
     "a layer's weights do not depend on the size of the image",
     lambda: _mobilenet(), integer=True,
     mistakes=lambda: [(_mobilenet() * 25 // 49, "a layer's weights do not depend on the image "
                                                 "size")])
_add("ex-arch-resolution", "macs", "multiply-adds of 1.0 MobileNet-160", CA, "number", _RES,
     lambda: _mobilenet(160), integer=True,
     mistakes=lambda: [(_mobilenet(224) * 160 // 224, "the work scales with the area of the "
                                                           "maps, not their width"),
                       (_mobilenet(224) * 25 // 49, "the fully connected layer after global "
                                                         "average pooling does not shrink")])
_add("ex-arch-resolution", "ratio", "multiply-adds at 160×160 / at 224×224", CA, "number", _RES,
     lambda: _mobilenet(160) / _mobilenet(224), rtol=1e-3,
     mistakes=lambda: [(160 / 224, "the work scales with the area of the maps, not their width"),
                       (25 / 49, "the fully connected layer after global average pooling "
                                 "does not shrink"),
                       (224 ** 2 / 160 ** 2, "smaller images: the ratio is below one")])
