"""cnnlab.augment: shifts, crops, flips, noise; fit's ``augment=`` touches training batches only."""
from __future__ import annotations

import inspect

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlab import augment as aug
from cnnlab.augment import (
    PADDING_MODES,
    Compose,
    GaussianNoise,
    RandomCrop,
    RandomHorizontalFlip,
    RandomShift,
    translate,
)
from cnnlab.layers import Conv2d, Flatten, Linear, MaxPool2d, ReLU
from cnnlab.losses import CrossEntropyLoss
from cnnlab.module import Sequential
from cnnlab.optim import SGD, Adam
from cnnlab.train import evaluate, fit, predict

F64 = np.float64


def batch(shape=(5, 2, 6, 7), dtype=F64, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).random(shape).astype(dtype)


def source_index(i: int, size: int, mode: str) -> int | None:
    """Where output index ``i`` (already shifted) reads from, or None for the fill value.

    Written from the definitions of the modes, independently of numpy.pad."""
    if 0 <= i < size:
        return i
    if mode == "constant":
        return None
    if mode == "edge":
        return min(max(i, 0), size - 1)
    if mode == "reflect":        # the border pixel is not repeated: 3 2 | 1 2 3 | 2 1
        return -i if i < 0 else 2 * (size - 1) - i
    return -i - 1 if i < 0 else 2 * size - 1 - i   # symmetric: 2 1 | 1 2 3 | 3 2


def translate_loops(x, dy, dx, mode="constant", fill=0.0):
    """The oracle: every output pixel from the formula out[n,c,i,j] = x~[n,c,i-dy,j-dx]."""
    n, c, h, w = x.shape
    dy, dx = np.broadcast_to(dy, (n,)), np.broadcast_to(dx, (n,))
    out = np.empty_like(x)
    for k in range(n):
        for i in range(h):
            for j in range(w):
                si = source_index(i - int(dy[k]), h, mode)
                sj = source_index(j - int(dx[k]), w, mode)
                out[k, :, i, j] = fill if si is None or sj is None else x[k, :, si, sj]
    return out


# --- translate: the deterministic shift -------------------------------------------------------

ROW = np.array([1.0, 2.0, 3.0]).reshape(1, 1, 1, 3)


@pytest.mark.parametrize("mode, right, left", [
    ("constant", [0, 0, 1], [3, 0, 0]),
    ("edge", [1, 1, 1], [3, 3, 3]),
    ("reflect", [3, 2, 1], [3, 2, 1]),
    ("symmetric", [2, 1, 1], [3, 3, 2]),
])
def test_padding_content_by_hand(mode, right, left):
    """[1, 2, 3] shifted by two: what comes in is the mode's padding (module docstring)."""
    assert translate(ROW, 0, 2, padding_mode=mode)[0, 0, 0].tolist() == right
    assert translate(ROW, 0, -2, padding_mode=mode)[0, 0, 0].tolist() == left
    column = ROW.transpose(0, 1, 3, 2)                       # the same along the height
    assert translate(column, 2, 0, padding_mode=mode)[0, 0, :, 0].tolist() == right


def test_constant_padding_uses_fill():
    out = translate(np.ones((1, 1, 3, 3)), 1, -1, fill=0.5)
    assert out[0, 0].tolist() == [[0.5, 0.5, 0.5], [1, 1, 0.5], [1, 1, 0.5]]


@pytest.mark.parametrize("mode", PADDING_MODES)
@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (1, 1, 5, 5), (3, 2, 4, 7), (2, 3, 7, 4),
                                   (1, 1, 2, 9)])
def test_translate_equals_the_loop_oracle(mode, shape):
    x = batch(shape, seed=1)
    h, w = shape[2:]
    reach = {"reflect": (h - 1, w - 1), "symmetric": (h, w)}.get(mode, (2 * h, 2 * w))
    rng = np.random.default_rng(2)
    for _ in range(6):
        dy = rng.integers(-reach[0], reach[0] + 1, shape[0])
        dx = rng.integers(-reach[1], reach[1] + 1, shape[0])
        want = translate_loops(x, dy, dx, mode, fill=-1.0)
        assert np.array_equal(translate(x, dy, dx, padding_mode=mode, fill=-1.0), want)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 3), c=st.integers(1, 2), h=st.integers(1, 6), w=st.integers(1, 6),
       dy=st.integers(-8, 8), dx=st.integers(-8, 8))
def test_translate_random_shapes_constant_and_edge(n, c, h, w, dy, dx):
    x = batch((n, c, h, w), seed=h * 7 + w)
    for mode in ("constant", "edge"):
        assert np.array_equal(translate(x, dy, dx, padding_mode=mode),
                              translate_loops(x, dy, dx, mode))


def test_translate_by_zero_and_past_the_border():
    x = batch()
    assert np.array_equal(translate(x, 0, 0), x)
    assert not translate(x, 6, 0).any() and not translate(x, 0, -7).any()
    assert not translate(x, 100, 100).any()


def test_translate_is_undone_by_the_opposite_shift_inside_the_frame():
    x = batch((2, 1, 8, 8))
    back = translate(translate(x, 2, -3), -2, 3)
    assert np.array_equal(back[..., :6, 3:], x[..., :6, 3:])


@pytest.mark.parametrize("mode, torch_mode", [("constant", "constant"), ("edge", "replicate"),
                                              ("reflect", "reflect")])
def test_padding_modes_match_pytorch(mode, torch_mode, torch):
    """translate = torch.nn.functional.pad, then the window at (p - dy, p - dx)."""
    x = batch((4, 3, 6, 5), seed=3)
    dy, dx = np.array([0, 2, -3, 5]), np.array([-4, 1, 4, 0])
    padded = torch.nn.functional.pad(torch.from_numpy(x), (4, 4, 5, 5), mode=torch_mode)
    want = np.stack([padded[k, :, 5 - dy[k]:11 - dy[k], 4 - dx[k]:9 - dx[k]].numpy()
                     for k in range(4)])
    np.testing.assert_allclose(translate(x, dy, dx, padding_mode=mode), want, rtol=1e-6, atol=0)


# --- the random transforms: shapes, dtypes, copies, seeds ----------------------------------------

TRANSFORMS = [RandomShift(2), RandomShift(2, padding_mode="reflect"), RandomCrop(4, padding=1),
              RandomCrop((6, 7), padding=3, padding_mode="edge"), RandomHorizontalFlip(),
              GaussianNoise(sigma=0.2), Compose([RandomShift(1), GaussianNoise(sigma=0.1)])]


@pytest.mark.parametrize("transform", TRANSFORMS, ids=repr)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shape_dtype_and_a_fresh_array(transform, dtype):
    x = batch(dtype=dtype)
    before = x.copy()
    out = transform(x, np.random.default_rng(0))
    size = getattr(transform, "size", x.shape[2:])
    assert out.shape == (*x.shape[:2], *size) and out.dtype == dtype
    assert out.flags.c_contiguous and not np.shares_memory(out, x)
    assert np.array_equal(x, before)                      # the input is never modified


@pytest.mark.parametrize("transform", TRANSFORMS, ids=repr)
def test_same_seed_same_output_new_draws_each_call(transform):
    x = batch((64, 1, 6, 7))
    a = transform(x, np.random.default_rng(5))
    assert np.array_equal(a, transform(x, np.random.default_rng(5)))
    assert np.array_equal(a, transform(x, 5))             # an integer seed is the same
    assert not np.array_equal(a, transform(x, np.random.default_rng(6)))
    g = np.random.default_rng(5)
    first, second = transform(x, g), transform(x, g)       # one generator: new draws
    assert np.array_equal(first, a) and not np.array_equal(first, second)


@pytest.mark.parametrize("transform", TRANSFORMS, ids=repr)
def test_an_empty_batch_stays_empty(transform):
    out = transform(np.zeros((0, 1, 6, 7)), 0)
    assert out.shape[0] == 0


# --- what each draws ------------------------------------------------------------------------------

def test_random_shift_is_translate_with_the_documented_draws():
    x, k = batch((50, 2, 6, 7)), 2
    out = RandomShift(k)(x, np.random.default_rng(9))
    g = np.random.default_rng(9)
    top, left = g.integers(0, 2 * k + 1, 50), g.integers(0, 2 * k + 1, 50)
    assert np.array_equal(out, translate(x, k - top, k - left))
    assert np.array_equal(out, RandomCrop((6, 7), padding=k)(x, np.random.default_rng(9)))


def test_random_shift_covers_every_offset_uniformly():
    """One bright pixel per image: where it lands is the shift; all 25 offsets ~ equally often."""
    n, k = 5000, 2
    x = np.zeros((n, 1, 9, 9))
    x[:, 0, 4, 4] = 1.0
    out = RandomShift(k)(x, np.random.default_rng(0))
    where = np.argwhere(out[:, 0] == 1.0)                  # (n, 3): image, row, column
    assert len(where) == n
    dy, dx = where[:, 1] - 4, where[:, 2] - 4
    assert dy.min() == -k and dy.max() == k and dx.min() == -k and dx.max() == k
    counts = np.bincount((dy + k) * (2 * k + 1) + dx + k, minlength=(2 * k + 1) ** 2)
    assert counts.min() > 0.7 * n / 25 and counts.max() < 1.3 * n / 25, counts


def test_random_crop_cuts_windows_of_the_padded_image():
    x = batch((30, 2, 5, 6), seed=4)
    out = RandomCrop((3, 4), padding=2, fill=-1.0)(x, np.random.default_rng(3))
    g = np.random.default_rng(3)
    top, left = g.integers(0, 9 - 3 + 1, 30), g.integers(0, 10 - 4 + 1, 30)
    padded = np.full((30, 2, 9, 10), -1.0)
    padded[:, :, 2:7, 2:8] = x
    for k in range(30):
        assert np.array_equal(out[k], padded[k, :, top[k]:top[k] + 3, left[k]:left[k] + 4])
    assert (top.min(), top.max(), left.min(), left.max()) == (0, 6, 0, 6)


def test_crop_of_the_whole_unpadded_image_is_the_image():
    x = batch()
    assert np.array_equal(RandomCrop((6, 7))(x, 0), x)


def test_horizontal_flip_follows_its_draws():
    x = batch((200, 2, 3, 4))
    out = RandomHorizontalFlip(0.5)(x, np.random.default_rng(1))
    flipped = np.random.default_rng(1).random(200) < 0.5
    assert np.array_equal(out[flipped], x[flipped][..., ::-1])
    assert np.array_equal(out[~flipped], x[~flipped])
    assert 80 < flipped.sum() < 120
    assert np.array_equal(RandomHorizontalFlip(0.0)(x, 0), x)
    assert np.array_equal(RandomHorizontalFlip(1.0)(x, 0), x[..., ::-1])


def test_gaussian_noise_has_the_stated_mean_and_spread():
    x = np.full((400, 1, 10, 10), 0.5)
    out = GaussianNoise(mean=0.01, sigma=0.05, clip=False)(x, np.random.default_rng(0))
    noise = out - x
    assert abs(noise.mean() - 0.01) < 0.001 and abs(noise.std() - 0.05) < 0.001
    clipped = GaussianNoise(sigma=1.0)(x, 0)
    assert clipped.min() == 0.0 and clipped.max() == 1.0
    assert np.array_equal(GaussianNoise(sigma=0.0)(x, 0), x)
    x32 = x.astype(np.float32)
    want = x32 + np.float32(0.05) * np.random.default_rng(2).standard_normal(x.shape,
                                                                              np.float32)
    assert np.array_equal(GaussianNoise(sigma=0.05, clip=False)(x32, 2), want)


def test_compose_applies_in_turn_with_one_generator():
    x = batch((20, 1, 6, 7))
    steps = [RandomShift(1), RandomHorizontalFlip(), GaussianNoise(sigma=0.1)]
    g = np.random.default_rng(4)
    want = x
    for t in steps:
        want = t(want, g)
    assert np.array_equal(Compose(steps)(x, np.random.default_rng(4)), want)
    empty = Compose([])(x, 0)
    assert np.array_equal(empty, x) and not np.shares_memory(empty, x)


def test_reprs_name_the_settings():
    assert repr(RandomShift(3)) == "RandomShift(max_shift=3, padding_mode='constant')"
    assert repr(RandomCrop(32, padding=4)) == ("RandomCrop(size=(32, 32), padding=4, fill=0, "
                                               "padding_mode='constant')")
    assert repr(Compose([RandomHorizontalFlip(0.3)])) == "Compose(RandomHorizontalFlip(p=0.3))"


# --- fit applies augment to training batches only ------------------------------------------------

def images(n: int, seed: int, offset: float = 0.0):
    """8×8 images whose class (0, 1) is the half holding a bright blob."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = 0.1 * rng.random((n, 1, 8, 8))
    for i, c in enumerate(y):
        x[i, 0, 2:6, 4 * c:4 * c + 3] += 1.0
    return x + offset, y.astype(np.int64)


def cnn(seed: int = 0) -> Sequential:
    r = np.random.default_rng(seed)
    return Sequential(Conv2d(1, 2, 3, padding=1, rng=r, dtype=F64), ReLU(), MaxPool2d(2),
                      Flatten(), Linear(2 * 4 * 4, 2, rng=r, dtype=F64))


class Recorder:
    """An augmentation that records every batch and generator it is given."""

    def __init__(self, inner=None):
        self.batches, self.rngs, self.inner = [], [], inner

    def __call__(self, x, rng):
        self.batches.append(x.copy())
        self.rngs.append(rng)
        return x.copy() if self.inner is None else self.inner(x, rng)


def test_fit_with_augment_is_the_documented_loop():
    """augment(x[B], rng) after each epoch's permutation, from fit's own generator."""
    (x, y), transform = images(40, 1), RandomShift(1)
    model, loss = cnn(), CrossEntropyLoss()
    opt = SGD(model.parameters(), lr=0.1)
    rng = np.random.default_rng(7)
    model.train()
    for _ in range(2):
        order = rng.permutation(len(x))
        for start in range(0, len(x), 8):
            b = order[start:start + 8]
            loss.forward(model.forward(transform(x[b], rng)), y[b])
            opt.zero_grad()
            model.backward(loss.backward())
            opt.step()
    fitted = cnn()
    fit(fitted, CrossEntropyLoss(), SGD(fitted.parameters(), lr=0.1), (x, y), epochs=2,
        batch_size=8, rng=7, augment=transform)
    state, fitted_state = model.state_dict(), fitted.state_dict()
    assert all(np.array_equal(state[k], fitted_state[k]) for k in state)


def test_augment_none_is_bit_identical_to_no_augment_argument():
    runs = []
    for kwargs in ({}, {"augment": None}, {"augment": lambda xb, rng: xb.copy()}):
        model = cnn()
        hist = fit(model, CrossEntropyLoss(), Adam(model.parameters(), lr=0.01), images(40, 1),
                   epochs=3, batch_size=8, rng=3, val_data=images(20, 2), **kwargs)
        runs.append((hist, model.state_dict()))
    for hist, state in runs[1:]:
        assert hist == runs[0][0]
        assert all(np.array_equal(state[k], runs[0][1][k]) for k in state)


def test_fit_with_augment_is_deterministic_and_changes_the_run():
    def run(transform):
        model = cnn()
        fit(model, CrossEntropyLoss(), Adam(model.parameters(), lr=0.01), images(40, 1),
            epochs=2, batch_size=8, rng=3, augment=transform)
        return model.state_dict()

    a, b, plain = run(RandomShift(2)), run(RandomShift(2)), run(None)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], plain[k]) for k in a)


def test_augment_sees_training_batches_only_and_validation_is_measured_clean():
    """Validation images (offset by 100) never reach augment; val numbers = evaluate on them."""
    train, val = images(40, 1), images(20, 2, offset=100.0)
    blank = Recorder(lambda xb, rng: np.zeros_like(xb))    # would ruin any image it touched
    model = cnn()
    hist = fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), train, epochs=3,
               batch_size=8, rng=0, val_data=val, augment=blank)
    assert len(blank.batches) == 1 + 3 * 5                 # the trial run, then every batch
    seen = np.concatenate(blank.batches)
    assert seen.max() < 100 and len(seen) == 1 + 3 * 40
    assert blank.rngs[0] is not blank.rngs[1]              # the trial run has its own generator
    assert all(g is blank.rngs[1] for g in blank.rngs[1:])
    clean = evaluate(model, CrossEntropyLoss(), val)
    assert hist.val_loss[-1] == pytest.approx(clean["loss"], rel=1e-12)
    assert hist.val_accuracy[-1] == clean["accuracy"]
    assert len(blank.batches) == 16                        # evaluate and predict added none
    predict(model, val[0])
    assert len(blank.batches) == 16


def test_evaluate_and_predict_take_no_augmentation():
    for f in (evaluate, predict):
        assert "augment" not in inspect.signature(f).parameters


def test_the_trial_run_leaves_fits_generator_alone():
    """With an augmentation that draws nothing, the batches come in a plain run's order."""
    record, (x, y) = Recorder(), images(16, 1)
    model = cnn()
    fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), (x, y), epochs=2,
        batch_size=4, rng=5, augment=record)
    assert np.array_equal(record.batches[0], x[:1])        # the trial run
    g = np.random.default_rng(5)
    order = np.concatenate([g.permutation(16), g.permutation(16)])
    assert np.array_equal(np.concatenate(record.batches[1:]), x[order])


def test_a_crop_to_a_smaller_size_trains_a_model_of_that_size():
    (x, y) = images(24, 1)
    r = np.random.default_rng(0)
    model = Sequential(Flatten(), Linear(36, 2, rng=r, dtype=F64))      # 6×6 inputs only
    before = x.copy()
    fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), (x, y), epochs=1,
        batch_size=8, rng=0, shuffle=False, augment=RandomCrop(6))
    assert np.array_equal(x, before)                       # batches were views: untouched
    wide = Sequential(Flatten(), Linear(64, 2, rng=0, dtype=F64))       # 8×8 inputs
    with pytest.raises(ValueError, match=r"^train_data \(augmented\): samples of shape "
                                         r"\(1, 6, 6\) do not fit the model"):
        fit(wide, CrossEntropyLoss(), SGD(wide.parameters(), lr=0.1), (x, y), epochs=1,
            batch_size=8, rng=0, augment=RandomCrop(6))


def test_the_module_is_reexported_from_data():
    from cnnlab import data
    for name in ("RandomShift", "RandomCrop", "RandomHorizontalFlip", "GaussianNoise",
                 "Compose", "translate"):
        assert getattr(data, name) is getattr(aug, name) and name in data.__all__
