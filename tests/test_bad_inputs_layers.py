"""Catalogue of bad inputs to layers, norm, init, optimisers and calculators.

Each row: a call, the exception type it must raise, and a regular expression
the message must match — it always names the offending argument.
"""
from __future__ import annotations

import numpy as np
import pytest

from cnnlab import _validate
from cnnlab.analysis import conv2d_parameters, receptive_field, summary
from cnnlab.conv import conv2d_forward
from cnnlab.conv_transpose import ConvTranspose2d
from cnnlab.fold import fold_batch_norm, fold_batch_norm_weights
from cnnlab.init import constant, fans, he_normal, meta, xavier_uniform
from cnnlab.interpret import (
    class_activation_map,
    occlusion_sensitivity,
    occlusion_sensitivity_naive,
    saliency,
    upsample_bilinear,
)
from cnnlab.layers import Conv1d, Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU
from cnnlab.module import Concat, Identity, Module, Parameter, Residual, Sequential
from cnnlab.norm import BatchNorm1d, BatchNorm2d, batch_norm_forward
from cnnlab.optim import SGD, Adam

X = np.zeros((2, 3, 8, 8), np.float32)


def params():
    return [Parameter(np.ones(3))]


def after_forward(layer, x):
    layer(x)
    return layer


def seed_model():
    return Sequential(Conv2d(3, 64, 3, padding=1, rng=0), MaxPool2d(2))


def limited(call, limit=16 << 30):
    """``call`` on a machine with ``limit`` bytes of memory (16 GiB): the same verdict anywhere."""
    def run():
        real = _validate.memory_limit
        _validate.memory_limit = lambda: limit
        try:
            return call()
        finally:
            _validate.memory_limit = real
    return run


def shared_backward():
    relu = ReLU()
    model = Sequential(relu, Linear(3, 3, rng=0), relu)
    out = model(np.ones((2, 3), np.float32))
    model.backward(out)


def nan_gradient_step():
    p = Parameter(np.ones(3))
    p.grad = np.array([0.0, np.nan, 1.0])
    Adam([p]).step()


class NoShape(Module):
    def forward(self, x):
        return x


def meta_conv_fold():
    with meta():
        conv = Conv2d(3, 4, 3)
    return fold_batch_norm(conv, BatchNorm2d(4).eval())


def fold_weights(**changes):
    """fold_batch_norm_weights of a (2, 3) weight, with some arguments changed."""
    args = dict(weight=np.ones((2, 3)), bias=None, running_mean=np.zeros(2),
                running_var=np.ones(2), eps=1e-5, bn_weight=None, bn_bias=None)
    args.update(changes)
    return lambda: fold_batch_norm_weights(**args)


def meta_model():
    with meta():
        return Sequential(Linear(3, 2))


def gap_classifier():
    """3 input channels (as X), 3 classes, ending in global average pooling and Linear."""
    from cnnlab.layers import GlobalAvgPool2d
    return Sequential(Conv2d(3, 2, 3, rng=0), ReLU(), GlobalAvgPool2d(), Flatten(),
                      Linear(2, 3, rng=0))


BAD = [
    # --- layer constructors
    ("conv_negative_in", lambda: Conv2d(-1, 4, 3), ValueError, r"in_channels must be >= 1, got -1"),
    ("conv_zero_out", lambda: Conv2d(3, 0, 3), ValueError, r"out_channels must be >= 1, got 0"),
    ("conv_float_in", lambda: Conv2d(3.0, 4, 3), TypeError, r"in_channels must be an integer"),
    ("conv_kernel_0", lambda: Conv2d(3, 4, 0), ValueError, r"kernel_size must be >= 1, got 0"),
    ("conv_kernel_triple", lambda: Conv2d(3, 4, (3, 3, 3)), ValueError, r"kernel_size"),
    ("conv_stride_0", lambda: Conv2d(3, 4, 3, stride=0), ValueError, r"stride must be >= 1"),
    ("conv_padding_neg", lambda: Conv2d(3, 4, 3, padding=-1), ValueError, r"padding must be >= 0"),
    ("conv_padding_word", lambda: Conv2d(3, 4, 3, padding="full"), ValueError, r"padding.*'full'"),
    ("conv_same_stride2", lambda: Conv2d(3, 4, 3, stride=2, padding="same"), ValueError,
     r"padding='same' needs stride 1"),
    ("conv_init_name", lambda: Conv2d(3, 4, 3, init="kaiming"), ValueError, r"init must be one of"),
    ("conv_init_type", lambda: Conv2d(3, 4, 3, init=None), TypeError, r"init must be a string"),
    ("conv_rng_type", lambda: Conv2d(3, 4, 3, rng="seed"), TypeError, r"rng must be a numpy"),
    ("conv_dtype_int", lambda: Conv2d(3, 4, 3, dtype=np.int32), ValueError, r"dtype must be"),
    ("pool_kernel_0", lambda: MaxPool2d(0), ValueError, r"kernel_size must be >= 1"),
    ("pool_padding_big", lambda: MaxPool2d(2, padding=2), ValueError,
     r"padding must be at most half of kernel_size"),
    ("linear_in_0", lambda: Linear(0, 3), ValueError, r"in_features must be >= 1, got 0"),
    ("linear_out_float", lambda: Linear(3, 2.5), TypeError, r"out_features must be an integer"),
    ("flatten_start_neg", lambda: Flatten(start_dim=-1), ValueError, r"start_dim must be >= 0"),
    ("dropout_p_1", lambda: Dropout(1.0), ValueError, r"p must be < 1.0, got 1.0"),
    ("dropout_p_neg", lambda: Dropout(-0.1), ValueError, r"p must be >= 0.0, got -0.1"),
    ("dropout_p_str", lambda: Dropout("0.5"), TypeError, r"p must be a real number"),
    ("sequential_non_module", lambda: Sequential(ReLU(), "relu"), TypeError,
     r"layers\[1\] must be a Module"),
    ("train_mode_str", lambda: ReLU().train("yes"), TypeError, r"mode must be a bool"),
    # --- layer inputs
    ("conv_channel_mismatch", lambda: Conv2d(3, 4, 3)(np.zeros((2, 4, 8, 8), np.float32)),
     ValueError, r"x: expected 3 input channels, got shape \(2, 4, 8, 8\)"),
    ("conv_x_rank", lambda: Conv2d(3, 4, 3)(np.zeros((3, 8, 8), np.float32)), ValueError,
     r"x must have 4 dimensions, got shape \(3, 8, 8\)"),
    ("conv_x_list", lambda: Conv2d(3, 4, 3)([[1.0]]), TypeError, r"x must be a numpy.ndarray"),
    ("conv_x_int", lambda: Conv2d(3, 4, 3)(X.astype(int)), TypeError, r"x must have dtype float"),
    ("conv_x_float64", lambda: Conv2d(3, 4, 3)(X.astype(np.float64)), TypeError,
     r"x: dtype float64 does not match the layer's float32"),
    ("conv_x_too_small", lambda: Conv2d(3, 4, 5)(np.zeros((1, 3, 4, 8), np.float32)),
     ValueError, r"x height 4"),
    ("linear_feature_mismatch", lambda: Linear(4, 2)(np.zeros((2, 5), np.float32)), ValueError,
     r"x: expected 4 input features, got shape \(2, 5\)"),
    ("flatten_x_rank", lambda: Flatten(2)(np.zeros((2, 3), np.float32)), ValueError,
     r"x: Flatten\(start_dim=2\) needs more than 2 dimensions"),
    ("backward_before_forward", lambda: Conv2d(3, 4, 3).backward(np.zeros((2, 4, 6, 6))),
     RuntimeError, r"Conv2d.backward called before forward"),
    ("relu_backward_before_forward", lambda: ReLU().backward(X), RuntimeError,
     r"ReLU.backward called before forward"),
    ("dout_shape", lambda: after_forward(Conv2d(3, 4, 3), X).backward(
        np.zeros((2, 4, 8, 8), np.float32)), ValueError,
     r"dout must have shape \(2, 4, 6, 6\), got \(2, 4, 8, 8\)"),
    ("dout_type", lambda: after_forward(ReLU(), X).backward(1.0), TypeError,
     r"dout must be a numpy.ndarray"),
    ("dropout_dout_shape", lambda: after_forward(Dropout(0.5, rng=0), X).backward(X[0]),
     ValueError, r"dout must have shape"),
    # --- batch norm
    ("bn_num_features_mismatch", lambda: BatchNorm2d(4)(X), ValueError,
     r"x: expected 4 input channels, got shape \(2, 3, 8, 8\)"),
    ("bn_num_features_0", lambda: BatchNorm2d(0), ValueError, r"num_features must be >= 1"),
    ("bn_momentum", lambda: BatchNorm2d(3, momentum=1.5), ValueError, r"momentum must be <= 1.0"),
    ("bn_eps", lambda: BatchNorm1d(3, eps=0.0), ValueError, r"eps must be > 0.0"),
    ("bn1d_rank", lambda: BatchNorm1d(3)(X), ValueError, r"x must have 2 or 3 dimensions"),
    ("bn_running_shape", lambda: batch_norm_forward(X, None, None, np.zeros(4, np.float32),
                                                    np.ones(3, np.float32), True),
     ValueError, r"running_mean must have shape \(3,\), got \(4,\)"),
    ("bn_training_flag", lambda: batch_norm_forward(X, None, None, np.zeros(3, np.float32),
                                                    np.ones(3, np.float32), 1),
     TypeError, r"training must be a bool"),
    # --- folding a batch norm into the layer before it (issue 12)
    ("fold_layer_type", lambda: fold_batch_norm(ReLU(), BatchNorm2d(3).eval()), TypeError,
     r"^layer must be a Conv2d, Conv1d or Linear, got ReLU"),
    ("fold_bn_kind", lambda: fold_batch_norm(Conv2d(3, 4, 3, rng=0), BatchNorm1d(4).eval()),
     TypeError, r"^bn must be a BatchNorm2d to follow a Conv2d, got BatchNorm1d"),
    ("fold_bn_not_module", lambda: fold_batch_norm(Linear(3, 4, rng=0), "bn"), TypeError,
     r"^bn must be a BatchNorm1d to follow a Linear, got str"),
    ("fold_bn_training", lambda: fold_batch_norm(Conv2d(3, 4, 3, rng=0), BatchNorm2d(4)),
     ValueError, r"^bn is in training mode, .* call bn.eval\(\)"),
    ("fold_channels", lambda: fold_batch_norm(Conv2d(3, 4, 3, rng=0), BatchNorm2d(3).eval()),
     ValueError, r"^bn: BatchNorm2d\(3\) normalises 3 channels, but the layer before it has "
                 r"4 outputs"),
    ("fold_dtype", lambda: fold_batch_norm(Conv2d(3, 4, 3, rng=0),
                                           BatchNorm2d(4, dtype=np.float64).eval()),
     TypeError, r"^bn must have the same dtype as layer \(float32\), got float64"),
    ("fold_meta_layer", meta_conv_fold, RuntimeError,
     r"^layer: Conv2d was built inside cnnlab.init.meta\(\).* not folded"),
    ("fold_weights_rank", fold_weights(weight=np.ones(2)), ValueError,
     r"^weight must have at least 2 dimensions \(C_out, ...\), got shape \(2,\)"),
    ("fold_weights_var_negative", fold_weights(running_var=np.array([1.0, -0.5])), ValueError,
     r"^running_var must be >= 0 \(it estimates a variance\), got -0.5 at index 1"),
    ("fold_weights_gamma_shape", fold_weights(bn_weight=np.ones(3)), ValueError,
     r"^bn_weight must have shape \(2,\), got \(3,\)"),
    ("fold_weights_eps_0", fold_weights(eps=0.0), ValueError, r"^eps must be > 0.0, got 0.0"),
    ("fold_weights_mean_none", fold_weights(running_mean=None), TypeError,
     r"^running_mean must be a numpy.ndarray, got None"),
    ("fold_weights_mean_nan", fold_weights(running_mean=np.array([np.nan, 0.0])), ValueError,
     r"^running_mean must be finite, got nan at index \(0,\)"),
    ("fold_weights_bias_dtype", fold_weights(bias=np.zeros(2, np.float32)), TypeError,
     r"^bias must have the same dtype as weight \(float64\), got float32"),
    # --- transposed convolution (issue 12)
    ("convT_groups_out", lambda: ConvTranspose2d(4, 3, 3, groups=2), ValueError,
     r"^groups: out_channels 3 is not divisible by groups 2"),
    ("convT_output_padding", lambda: ConvTranspose2d(3, 4, 3, stride=2, output_padding=2),
     ValueError, r"^output_padding must be smaller than stride or dilation \(height\): got "
                 r"output_padding 2 with stride 2 and dilation 1"),
    ("convT_output_padding_width", lambda: ConvTranspose2d(3, 4, 3, stride=(2, 1),
                                                           output_padding=(1, 1)),
     ValueError, r"^output_padding must be smaller than stride or dilation \(width\)"),
    ("convT_padding_same", lambda: ConvTranspose2d(3, 4, 3, padding="same"), TypeError,
     r"^padding must be an int or a pair of ints \(a transposed convolution has no 'same'"),
    ("convT_kernel_0", lambda: ConvTranspose2d(3, 4, 0), ValueError,
     r"^kernel_size must be >= 1, got 0"),
    ("convT_bias_str", lambda: ConvTranspose2d(3, 4, 3, bias="yes"), TypeError,
     r"^bias must be a bool, got 'yes'"),
    ("convT_channel_mismatch", lambda: ConvTranspose2d(4, 3, 3, rng=0)(X), ValueError,
     r"^x: expected 4 input channels, got shape \(2, 3, 8, 8\)"),
    ("convT_x_float64", lambda: ConvTranspose2d(3, 4, 3, rng=0)(X.astype(np.float64)),
     TypeError, r"^x: dtype float64 does not match the layer's float32"),
    ("convT_dout_shape", lambda: after_forward(ConvTranspose2d(3, 4, 3, rng=0), X).backward(
        np.zeros((2, 4, 8, 8), np.float32)), ValueError,
     r"^dout must have shape \(2, 4, 10, 10\), got \(2, 4, 8, 8\)"),
    ("convT_output_shape_channels", lambda: ConvTranspose2d(3, 4, 3).output_shape((1, 4, 5, 5)),
     ValueError, r"^input_shape: expected 3 input channels"),
    ("convT_macs_rank", lambda: ConvTranspose2d(3, 4, 3).macs((3, 5, 5)), ValueError,
     r"^input_shape: ConvTranspose2d expects 4 dimensions, got \(3, 5, 5\)"),
    ("convT_padding_crops_all", lambda: ConvTranspose2d(1, 1, 1, padding=1).output_shape(
        (1, 1, 1, 1)), ValueError, r"^padding: 2\*padding 2 crops the whole output \(height\)"),
    # --- optimisers
    ("sgd_lr_0", lambda: SGD(params(), lr=0.0), ValueError, r"lr must be > 0.0, got 0.0"),
    ("sgd_lr_neg", lambda: SGD(params(), lr=-0.1), ValueError, r"lr must be > 0.0"),
    ("sgd_momentum_neg", lambda: SGD(params(), lr=0.1, momentum=-0.5), ValueError,
     r"momentum must be >= 0.0, got -0.5"),
    ("sgd_weight_decay_neg", lambda: SGD(params(), lr=0.1, weight_decay=-1), ValueError,
     r"weight_decay must be >= 0.0"),
    ("sgd_nesterov_no_momentum", lambda: SGD(params(), lr=0.1, nesterov=True), ValueError,
     r"nesterov=True needs momentum > 0"),
    ("adam_beta1_1", lambda: Adam(params(), betas=(1.0, 0.999)), ValueError,
     r"betas must be < 1.0, got 1.0"),
    ("adam_beta2_neg", lambda: Adam(params(), betas=(0.9, -0.1)), ValueError,
     r"betas must be >= 0.0"),
    ("adam_betas_scalar", lambda: Adam(params(), betas=0.9), TypeError,
     r"betas must be a pair"),
    ("adam_eps_0", lambda: Adam(params(), eps=0.0), ValueError, r"eps must be > 0.0"),
    ("optim_empty_params", lambda: SGD([], lr=0.1), ValueError, r"params: got an empty list"),
    ("optim_non_parameter", lambda: SGD([np.ones(3)], lr=0.1), TypeError,
     r"params\[0\] must be a Parameter, got ndarray"),
    ("optim_single_parameter", lambda: Adam(Parameter(np.ones(3))), TypeError,
     r"params must be an iterable of Parameter"),
    ("optim_empty_model", lambda: SGD(ReLU().parameters(), lr=0.1), ValueError, r"params"),
    # --- calculators and init
    ("summary_rank", lambda: summary(seed_model(), (3, 224, 224)), ValueError,
     r"input_shape: Conv2d expects 4 dimensions, got \(3, 224, 224\)"),
    ("summary_channels", lambda: summary(seed_model(), (1, 1, 224, 224)), ValueError,
     r"input_shape: expected 3 input channels"),
    ("summary_zero_dim", lambda: summary(seed_model(), (1, 3, 0, 224)), ValueError,
     r"input_shape must be >= 1, got 0"),
    ("summary_int_shape", lambda: summary(seed_model(), 224), TypeError,
     r"input_shape must be a tuple"),
    ("summary_not_module", lambda: summary("vgg", (1, 3, 8, 8)), TypeError,
     r"model must be a Module"),
    # --- compute accounting (issue 12): multiply-accumulates and output memory
    ("summary_dtype_int", lambda: summary(seed_model(), (1, 3, 8, 8), dtype=np.int32),
     ValueError, r"^dtype must be a floating-point dtype, got int32"),
    ("summary_dtype_not_a_dtype", lambda: summary(seed_model(), (1, 3, 8, 8), dtype="half a"),
     TypeError, r"^dtype must be a NumPy floating-point dtype such as np.float32, got 'half a'"),
    ("summary_compute_not_bool", lambda: summary(seed_model(), (1, 3, 8, 8), compute="yes"),
     TypeError, r"^compute must be a bool, got 'yes'"),
    ("summary_mixed_dtypes", lambda: summary(
        Sequential(Linear(3, 4, rng=0), Linear(4, 2, rng=0, dtype=np.float64)), (1, 3)),
     ValueError, r"^dtype: the model's parameters have several dtypes \(float32, float64\); "
                 r"pass dtype=\.\.\."),
    ("macs_channels", lambda: Conv2d(3, 4, 3, rng=0).macs((1, 2, 8, 8)), ValueError,
     r"^input_shape: expected 3 input channels"),
    ("macs_linear_features", lambda: Linear(12, 4, rng=0).macs((2, 10)), ValueError,
     r"^input_shape: expected 12 input features"),
    ("rf_axis", lambda: receptive_field([(3, 1)], axis=2), ValueError, r"axis must be 0"),
    ("rf_bad_layer", lambda: receptive_field(["conv"]), TypeError, r"layers\[0\] must be"),
    ("rf_bad_stride", lambda: receptive_field([(3, 0)]), ValueError, r"layers\[0\] stride"),
    ("rf_input_too_small", lambda: receptive_field([(5, 1)], input_size=3), ValueError,
     r"input_size: .* needs at least 5"),
    ("conv_params_kernel_0", lambda: conv2d_parameters(3, 64, 0), ValueError, r"kernel_size"),
    ("conv_params_bias_str", lambda: conv2d_parameters(3, 64, 3, bias="yes"), TypeError,
     r"bias must be a bool"),
    ("fans_rank", lambda: fans((3,)), ValueError, r"shape must have at least 2 dimensions"),
    ("he_fan_in_0", lambda: he_normal((3, 3), 0, 0), ValueError, r"fan_in must be >= 1"),
    ("parameter_list", lambda: Parameter([1.0, 2.0]), TypeError, r"data must be a numpy"),
    ("parameter_grad_shape", lambda: Parameter(np.ones(3)).accumulate(np.ones(4)), ValueError,
     r"grad must have shape \(3,\), got \(4,\)"),
    # --- containers
    ("concat_no_branch", lambda: Concat(), ValueError, r"^branches: Concat needs at least one"),
    ("concat_non_module", lambda: Concat(ReLU(), "relu"), TypeError,
     r"^branches\[1\] must be a Module, got str"),
    ("concat_merge_shapes", lambda: Concat(Conv2d(3, 2, 3, rng=0), Conv2d(3, 2, 1, rng=0))(X),
     ValueError, r"^branches: outputs must agree on every axis but channels"),
    ("residual_body_none", lambda: Residual(None), TypeError, r"^body must be a Module, got"),
    ("residual_shortcut_str", lambda: Residual(ReLU(), "x"), TypeError,
     r"^shortcut must be a Module or None, got str"),
    ("residual_shapes", lambda: Residual(Conv2d(3, 4, 1, rng=0))(X), ValueError,
     r"^body output shape \(2, 4, 8, 8\) does not match the shortcut's \(2, 3, 8, 8\)"),
    ("identity_x_list", lambda: Identity()([1.0]), TypeError, r"^x must be a numpy.ndarray"),
    ("sequential_shared_layer_backward", shared_backward, RuntimeError,
     r"^layers\[0\] and layers\[2\] are the same ReLU object"),
    ("meta_model_call", lambda: meta_model()(np.ones((1, 3), np.float32)), RuntimeError,
     r"^Sequential was built inside cnnlab.init.meta\(\): parameter '0.weight'"),
    ("meta_state_dict", lambda: meta_model().state_dict(), RuntimeError,
     r"^Sequential was built inside .*not saved"),
    ("summary_without_output_shape", lambda: summary(Sequential(ReLU(), NoShape()), (1, 3)),
     NotImplementedError, r"^model: layer '1' \(NoShape\) does not implement output_shape"),
    # --- optimisers (item 12)
    ("optim_duplicate_parameter", lambda: SGD([params()[0]] * 2, lr=0.1), ValueError,
     r"^params\[1\] is params\[0\] again"),
    ("adam_nan_gradient", nan_gradient_step, FloatingPointError,
     r"^params\[0\] \(3,\): the gradient is not finite \(nan at index \(1,\)\)"),
    # --- sizes that would need absurd memory (item 8), judged against a 16 GiB machine
    ("linear_absurd_memory", limited(lambda: Linear(50000, 50000)), ValueError,
     r"^in_features, out_features: Linear\(50000, 50000\) has 2,500,000,000 parameters; .* "
     r"would need 37.3 GiB \(40,000,000,000 bytes\), more than this machine's 16.0 GiB"),
    ("conv_absurd_memory", limited(lambda: Conv2d(3, 4, 20000)), ValueError,
     r"^in_channels, out_channels, kernel_size: Conv2d\(3, 4, kernel_size=\(20000, 20000\)\)"),
    ("conv1d_absurd_memory", limited(lambda: Conv1d(10**5, 10**5, 9)), ValueError,
     r"^in_channels, out_channels, kernel_size: Conv1d"),
    ("bn_absurd_memory", limited(lambda: BatchNorm2d(10**10)), ValueError,
     r"^num_features: BatchNorm2d\(10000000000\)"),
    ("columns_absurd_memory", limited(lambda: conv2d_forward(
        np.zeros((1, 1, 1000, 1000), np.float32), np.zeros((1, 1, 300, 300), np.float32))),
     ValueError, r"^x, weight: the im2col columns \(1, 300, 300, 1, 701, 701\) of x .* 164.8 GiB"),
    ("linear_petabytes", lambda: Linear(10**8, 10**8), ValueError,
     r"^in_features, out_features: .* PiB"),
    # --- seeds and dtypes (item 16)
    ("conv_rng_negative", lambda: Conv2d(3, 4, 3, rng=-1), ValueError,
     r"^rng: a seed must be >= 0, got -1"),
    ("dropout_rng_negative", lambda: Dropout(0.5, rng=-7), ValueError, r"^rng: a seed must be"),
    ("he_normal_rng_negative", lambda: he_normal((3, 3), None, -2), ValueError, r"^rng: a seed"),
    ("conv_dtype_none", lambda: Conv2d(3, 4, 3, dtype=None), TypeError,
     r"^dtype must be np.float32 or np.float64, got None"),
    ("linear_dtype_none", lambda: Linear(3, 4, dtype=None), TypeError, r"^dtype must be .*None"),
    ("bn_dtype_none", lambda: BatchNorm1d(3, dtype=None), TypeError, r"^dtype must be .*None"),
    ("he_normal_dtype_none", lambda: he_normal((3, 3), None, 0, dtype=None), TypeError,
     r"^dtype must be .*None"),
    ("xavier_dtype_int", lambda: xavier_uniform((3, 3), None, None, 0, dtype=np.int8),
     ValueError, r"^dtype must be np.float32 or np.float64, got int8"),
    ("constant_dtype_none", lambda: constant((3,), 0.0, dtype=None), TypeError, r"^dtype must"),
    # --- calculators (item 13)
    ("rf_axis_float", lambda: receptive_field([(3, 1)], axis=1.0), TypeError,
     r"^axis must be an integer, got 1.0"),
    ("rf_axis_bool", lambda: receptive_field([(3, 1)], axis=True), TypeError,
     r"^axis must be an integer, got True"),
    # --- interpret: saliency, occlusion, class activation maps (issue 12, item 4)
    ("saliency_model_str", lambda: saliency("lenet5", X, 0), TypeError,
     r"^model must be a cnnlab Module, got str"),
    ("saliency_meta_model", lambda: saliency(meta_model(), X, 0), RuntimeError, r"^model: "),
    ("saliency_x_list", lambda: saliency(gap_classifier(), [[0.0]], 0), TypeError,
     r"^x must be a numpy.ndarray, got list"),
    ("saliency_x_rank", lambda: saliency(gap_classifier(), X[0], 0), ValueError,
     r"^x must have 4 dimensions, got shape \(3, 8, 8\)"),
    ("saliency_x_empty", lambda: saliency(gap_classifier(), X[:0], 0), ValueError,
     r"^x must hold at least one image, got shape \(0, 3, 8, 8\)"),
    ("saliency_x_nan", lambda: saliency(gap_classifier(), np.where(X == 0, np.nan, X)
                                        .astype(np.float32), 0), ValueError,
     r"^x must be finite, got nan at index \(0, 0, 0, 0\)"),
    ("saliency_x_float64", lambda: saliency(gap_classifier(), X.astype(np.float64), 0),
     TypeError, r"^x: dtype float64 does not match the layer's float32"),
    ("saliency_target_float", lambda: saliency(gap_classifier(), X, 1.0), TypeError,
     r"^target must be a class index \(int\) or an array of 2 of them, got 1.0"),
    ("saliency_target_bool", lambda: saliency(gap_classifier(), X, True), TypeError,
     r"^target must be a class index"),
    ("saliency_target_too_large", lambda: saliency(gap_classifier(), X, 3), ValueError,
     r"^target must lie in \[0, 3\) \(the model has 3 classes\), got 3"),
    ("saliency_target_negative_entry", lambda: saliency(gap_classifier(), X, np.array([0, -1])),
     ValueError, r"^target must lie in \[0, 3\) .*got -1 at index 1"),
    ("saliency_target_length", lambda: saliency(gap_classifier(), X, np.array([0, 1, 2])),
     ValueError, r"^target must be one class index or one per image \(2\), got shape \(3,\)"),
    ("saliency_score_word", lambda: saliency(gap_classifier(), X, 0, score="softmax"),
     ValueError, r"^score must be one of \('logit', 'probability'\), got 'softmax'"),
    ("saliency_reduce_word", lambda: saliency(gap_classifier(), X, 0, reduce="max"),
     ValueError, r"^reduce must be one of \('max_abs', 'none'\), got 'max'"),
    ("saliency_not_a_classifier", lambda: saliency(Sequential(Conv2d(3, 2, 3, rng=0)), X, 0),
     ValueError, r"^model must map \(N, C, H, W\) images to \(N, num_classes\) logits, "
                 r"got output shape \(2, 2, 6, 6\)"),
    ("occlusion_patch_0", lambda: occlusion_sensitivity(gap_classifier(), X, 0, patch=0),
     ValueError, r"^patch must be >= 1, got 0"),
    ("occlusion_patch_too_large", lambda: occlusion_sensitivity(gap_classifier(), X, 0,
                                                                patch=(9, 2)),
     ValueError, r"^patch \(9, 2\) is larger than the images' 8x8"),
    ("occlusion_stride_float", lambda: occlusion_sensitivity(gap_classifier(), X, 0,
                                                             stride=1.5),
     TypeError, r"^stride must be an integer, got 1.5"),
    ("occlusion_fill_nan", lambda: occlusion_sensitivity(gap_classifier(), X, 0, fill=np.nan),
     ValueError, r"^fill must be finite, got nan"),
    ("occlusion_fill_str", lambda: occlusion_sensitivity(gap_classifier(), X, 0, fill="mean"),
     TypeError, r"^fill must be a real number, got 'mean'"),
    ("occlusion_batch_size_0", lambda: occlusion_sensitivity(gap_classifier(), X, 0,
                                                             batch_size=0),
     ValueError, r"^batch_size must be >= 1, got 0"),
    ("occlusion_target_too_large", lambda: occlusion_sensitivity(gap_classifier(), X, 5),
     ValueError, r"^target must lie in \[0, 3\)"),
    ("occlusion_naive_stride_0", lambda: occlusion_sensitivity_naive(gap_classifier(), X, 0,
                                                                     stride=0),
     ValueError, r"^stride must be >= 1, got 0"),
    ("cam_not_sequential", lambda: class_activation_map(Conv2d(3, 2, 3, rng=0), X, 0),
     TypeError, r"^model must be a Sequential ending in GlobalAvgPool2d, Flatten \(optional\) "
                r"and Linear, got Conv2d"),
    ("cam_no_global_pool", lambda: class_activation_map(seed_model(), X, 0), ValueError,
     r"^model: a class activation map needs .*the last layer is MaxPool2d"),
    ("cam_flatten_dense", lambda: class_activation_map(
        Sequential(Conv2d(3, 2, 3, rng=0), Flatten(), Linear(72, 3, rng=0)), X, 0), ValueError,
     r"^model: .*it ends in Conv2d -> Flatten -> Linear, with no GlobalAvgPool2d before"),
    ("cam_upsample_int", lambda: class_activation_map(gap_classifier(), X, 0, upsample=1),
     TypeError, r"^upsample must be a bool, got 1"),
    ("cam_target_too_large", lambda: class_activation_map(gap_classifier(), X, 3), ValueError,
     r"^target must lie in \[0, 3\)"),
    ("cam_x_rank", lambda: class_activation_map(gap_classifier(), X[0], 0), ValueError,
     r"^x must have 4 dimensions"),
    ("upsample_maps_1d", lambda: upsample_bilinear(np.zeros(4), 8), ValueError,
     r"^maps must have at least 2 dimensions \(\.\.\., h, w\), got shape \(4,\)"),
    ("upsample_maps_int", lambda: upsample_bilinear(np.zeros((2, 2), int), 8), TypeError,
     r"^maps must have dtype float32 or float64"),
    ("upsample_size_0", lambda: upsample_bilinear(np.zeros((2, 2)), (4, 0)), ValueError,
     r"^size must be >= 1, got 0"),
]


@pytest.mark.parametrize("call, exc, match", [row[1:] for row in BAD], ids=[r[0] for r in BAD])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_catalogue_is_large_and_ids_unique():
    assert len(BAD) >= 15
    assert len({row[0] for row in BAD}) == len(BAD)
