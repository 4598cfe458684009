"""Classic image filters: their defining properties, the sample photograph, bad inputs."""
from __future__ import annotations

import numpy as np
import pytest

from cnnlab import filters
from cnnlab.conv import conv2d

KERNELS = {
    "identity": filters.identity, "box_blur": filters.box_blur,
    "gaussian_blur": filters.gaussian_blur, "sobel_x": filters.sobel_x,
    "sobel_y": filters.sobel_y, "laplacian": filters.laplacian, "sharpen": filters.sharpen,
}


def step_image(size: int = 8, axis: int = 1) -> np.ndarray:
    """Dark (0) before the middle and bright (1) after it, along ``axis``."""
    ramp = (np.arange(size) >= size // 2).astype(float)
    return np.tile(ramp, (size, 1)) if axis == 1 else np.tile(ramp[:, None], (1, size))


@pytest.mark.parametrize("name", KERNELS)
def test_kernels_are_square_float64_and_fresh(name):
    k = KERNELS[name]()
    assert k.dtype == np.float64 and k.ndim == 2 and k.shape[0] == k.shape[1]
    assert k.shape[0] % 2 == 1
    k[...] = 99.0  # a caller's edit must not leak into the next call
    assert not np.any(KERNELS[name]() == 99.0)


@pytest.mark.parametrize("size", [1, 3, 5, 7])
def test_blur_kernels_sum_to_one(size):
    assert filters.box_blur(size).shape == (size, size)
    assert np.allclose(filters.box_blur(size), 1 / size**2, rtol=0, atol=1e-15)
    for sigma in (0.5, 1.0, 3.0):
        g = filters.gaussian_blur(size, sigma)
        assert abs(g.sum() - 1) < 1e-12
        assert np.array_equal(g, g.T) and np.array_equal(g, g[::-1, ::-1])


def test_gaussian_peaks_at_the_centre_and_falls_off():
    g = filters.gaussian_blur(7, 1.5)
    row = g[3]
    assert np.argmax(g) == 3 * 7 + 3
    assert np.all(np.diff(row[:4]) > 0) and np.all(np.diff(row[3:]) < 0)
    # ratio of neighbouring weights is exp(-(2d + 1) / (2 sigma^2)) along an axis
    assert np.isclose(g[3, 4] / g[3, 3], np.exp(-1 / (2 * 1.5**2)), rtol=1e-12)


def test_gaussian_limits_are_identity_and_box():
    assert np.allclose(filters.gaussian_blur(5, 0.05), filters.identity(5), atol=1e-12)
    assert np.allclose(filters.gaussian_blur(5, 1e4), filters.box_blur(5), atol=1e-9)


def test_sobel_x_responds_to_a_vertical_edge_with_the_right_sign():
    dark_to_bright = step_image(axis=1)
    gx = filters.apply_filter(dark_to_bright, filters.sobel_x(), padding="valid")
    gy = filters.apply_filter(dark_to_bright, filters.sobel_y(), padding="valid")
    # valid output column j sees input columns j..j+2; the step is between input columns 3, 4
    assert np.all(gx[:, 2:4] == 4.0)      # 1 + 2 + 1 across the step
    assert np.all(gx[:, [0, 1, 4, 5]] == 0.0)
    assert np.all(gy == 0.0)
    bright_to_dark = 1.0 - dark_to_bright
    assert np.all(filters.apply_filter(bright_to_dark, filters.sobel_x(),
                                       padding="valid")[:, 2:4] == -4.0)


def test_sobel_y_responds_to_a_horizontal_edge():
    dark_above = step_image(axis=0)
    gy = filters.apply_filter(dark_above, filters.sobel_y(), padding="valid")
    assert np.all(gy[2:4] == 4.0) and np.all(gy[[0, 1, 4, 5]] == 0.0)
    assert np.array_equal(filters.sobel_y(), filters.sobel_x().T)


@pytest.mark.parametrize("diagonals, centre", [(False, -4.0), (True, -8.0)])
def test_laplacian_vanishes_on_planes_but_not_on_edges(diagonals, centre):
    lap = filters.laplacian(diagonals)
    assert lap[1, 1] == centre and lap.sum() == 0
    i, j = np.mgrid[0:6, 0:6]
    plane = 0.5 + 0.25 * i - 0.125 * j
    assert np.allclose(filters.apply_filter(plane, lap, padding="valid"), 0.0, atol=1e-14)
    assert np.abs(filters.apply_filter(step_image(), lap, padding="valid")).max() > 0


def test_sharpen_is_identity_minus_laplacian():
    assert np.array_equal(filters.sharpen(0.0), filters.identity(3))
    assert np.array_equal(filters.sharpen(), [[0, -1, 0], [-1, 5, -1], [0, -1, 0]])
    n4 = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]]) / 4
    for a in (0.3, 1.0, 2.5):
        s = filters.sharpen(a)
        assert np.allclose(s, filters.identity(3) + 4 * a * (filters.identity(3) - n4),
                           rtol=0, atol=1e-14)
        assert np.isclose(s.sum(), 1.0, rtol=0, atol=1e-14)


def test_sharpen_exaggerates_an_edge_and_keeps_flat_regions():
    img = 0.25 + 0.5 * step_image()
    out = filters.apply_filter(img, filters.sharpen(), padding="valid")
    assert np.allclose(out[:, [0, 5]], [0.25, 0.75])
    assert np.allclose(out[:, 2], 0.25 - 0.5) and np.allclose(out[:, 3], 0.75 + 0.5)


@pytest.mark.parametrize("size", [1, 3, 5])
def test_identity_leaves_an_image_unchanged(size, rng):
    img = rng.random((7, 6))
    assert np.array_equal(filters.apply_filter(img, filters.identity(size)), img)


def test_apply_filter_is_conv2d_on_one_channel(rng):
    img = rng.random((9, 8)).astype(np.float32)
    k = rng.standard_normal((4, 3))
    out = filters.apply_filter(img, k)
    assert out.shape == img.shape and out.dtype == np.float32
    ref = conv2d(img[None, None], k.astype(np.float32)[None, None], padding="same")[0, 0]
    assert np.array_equal(out, ref)
    assert filters.apply_filter(img, k, padding="valid").shape == (6, 6)
    assert filters.apply_filter(img, [[1, 0], [0, 1]], padding=0).shape == (8, 7)


def test_apply_filter_matches_torch(torch, rng):
    img = rng.random((10, 9))
    k = filters.sobel_x() + 0.1 * rng.standard_normal((3, 3))
    ref = torch.nn.functional.conv2d(torch.from_numpy(img)[None, None],
                                     torch.from_numpy(k)[None, None], padding="same")
    np.testing.assert_allclose(filters.apply_filter(img, k), ref[0, 0].numpy(),
                               rtol=1e-12, atol=1e-12)


def test_sample_image_is_grey_in_unit_range():
    full = filters.sample_image()
    assert full.shape == (600, 512) and full.dtype == np.float64
    assert 0.0 <= full.min() and full.max() <= 1.0 and full.std() > 0.1
    small = filters.sample_image(downsample=4)
    assert small.shape == (150, 128)
    assert np.allclose(small[2, 3], full[8:12, 12:16].mean(), rtol=0, atol=1e-15)
    assert filters.sample_image(7).shape == (600 // 7, 512 // 7)
    assert np.array_equal(filters.sample_image(4), small)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: filters.box_blur(4), ValueError, r"^size must be odd .* got 4"),
    (lambda: filters.box_blur(0), ValueError, r"^size must be >= 1, got 0"),
    (lambda: filters.identity(2.0), TypeError, r"^size must be an integer"),
    (lambda: filters.gaussian_blur(6), ValueError, r"^size must be odd"),
    (lambda: filters.gaussian_blur(5, 0.0), ValueError, r"^sigma must be > 0"),
    (lambda: filters.gaussian_blur(5, -1), ValueError, r"^sigma must be > 0"),
    (lambda: filters.gaussian_blur(5, float("nan")), ValueError, r"^sigma must be finite"),
    (lambda: filters.gaussian_blur(5, "1"), TypeError, r"^sigma must be a real number"),
    (lambda: filters.sharpen(-0.5), ValueError, r"^amount must be >= 0"),
    (lambda: filters.laplacian(1), TypeError, r"^diagonals must be a bool"),
    (lambda: filters.apply_filter(np.zeros((1, 4, 4)), filters.sobel_x()), ValueError,
     r"^image must have 2 dimensions"),
    (lambda: filters.apply_filter(np.zeros((4, 4), int), filters.sobel_x()), TypeError,
     r"^image must have dtype float"),
    (lambda: filters.apply_filter(np.zeros((4, 4)), np.ones(3)), ValueError,
     r"^kernel must have 2 dimensions"),
    (lambda: filters.apply_filter(np.zeros((4, 4)), np.ones((3, 3)), padding="full"),
     ValueError, r"^padding must be"),
    (lambda: filters.sample_image(0), ValueError, r"^downsample must be >= 1, got 0"),
    (lambda: filters.sample_image(601), ValueError, r"^downsample must be at most"),
    (lambda: filters.sample_image(2.0), TypeError, r"^downsample must be an integer"),
])
def test_bad_arguments_name_the_argument(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
