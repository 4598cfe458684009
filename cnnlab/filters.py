"""Classic hand-made image filters, and a sample photograph to apply them to.

Long before networks learned their filters, image processing used hand-made
ones: finite differences that respond to edges, averages that blur, and their
combinations that sharpen.  A convolutional layer with these as its weights
computes the same feature maps, which makes them a good first look at what a
learned filter can do.

Every kernel is returned as a float64 array of shape ``(k, k)``, oriented for
*cross-correlation* (:func:`cnnlab.conv.conv2d`, PyTorch's ``conv2d``): the
weight at row ``m``, column ``n`` multiplies the input pixel at offset
``(m - k // 2, n - k // 2)`` from the output position.  To use one as the
weight of a ``Conv2d`` with one input channel, give it the shape
``(1, 1, k, k)``.
"""
from __future__ import annotations

import numpy as np

from ._validate import check_array, check_float, check_int
from .conv import conv2d
from .shapes import Padding

__all__ = ["identity", "box_blur", "gaussian_blur", "sobel_x", "sobel_y", "laplacian",
           "sharpen", "apply_filter", "sample_image"]

# ITU-R BT.601 luma weights, the usual RGB -> grey conversion.
_LUMA = np.array([0.299, 0.587, 0.114])


def _odd_size(size, name: str = "size") -> int:
    size = check_int(size, name, 1)
    if size % 2 == 0:
        raise ValueError(f"{name} must be odd so that the kernel has a centre pixel, got {size}")
    return size


def identity(size: int = 3) -> np.ndarray:
    """The kernel that leaves an image unchanged: 1 at the centre, 0 elsewhere.

    Parameters
    ----------
    size : int, default 3
        Odd kernel side ``k``.

    Returns
    -------
    (k, k) ndarray of float64
    """
    size = _odd_size(size)
    kernel = np.zeros((size, size))
    kernel[size // 2, size // 2] = 1.0
    return kernel


def box_blur(size: int = 3) -> np.ndarray:
    """Mean of the ``k × k`` neighbourhood: every weight is ``1 / k**2``.

    Parameters
    ----------
    size : int, default 3
        Odd kernel side ``k``.

    Returns
    -------
    (k, k) ndarray of float64
        Sums to 1, so a constant image stays constant (away from the border).
    """
    size = _odd_size(size)
    return np.full((size, size), 1.0 / size**2)


def gaussian_blur(size: int = 5, sigma: float = 1.0) -> np.ndarray:
    """Weighted mean with Gaussian weights: near pixels count more than far ones.

    Parameters
    ----------
    size : int, default 5
        Odd kernel side ``k``; about ``6 * sigma`` captures almost all the weight.
    sigma : float, default 1.0
        Standard deviation in pixels, > 0.

    Returns
    -------
    (k, k) ndarray of float64
        Symmetric, sums to 1.

    Notes
    -----
    .. math:: G_{mn} \\propto \\exp\\!\\left(-\\frac{(m - c)^2 + (n - c)^2}{2\\sigma^2}\\right),
              \\qquad c = \\lfloor k/2 \\rfloor,

    normalised so that the weights sum to 1 (the kernel is cut off at the
    border, so the continuous normalising constant would be slightly wrong).
    """
    size = _odd_size(size)
    sigma = check_float(sigma, "sigma", low=0.0, low_inclusive=False)
    d = np.arange(size) - size // 2
    g = np.exp(-(d[:, None] ** 2 + d[None, :] ** 2) / (2.0 * sigma**2))
    return g / g.sum()


def sobel_x() -> np.ndarray:
    """Sobel filter for the horizontal derivative (it responds to vertical edges).

    Returns
    -------
    (3, 3) ndarray of float64
        ``[[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]``.

    Notes
    -----
    A central difference across the columns, smoothed by ``[1, 2, 1]`` down the
    rows.  With cross-correlation the response is positive where the image gets
    brighter from left to right, negative where it gets darker, and 0 on flat
    regions (the weights sum to 0).
    """
    return np.outer([1.0, 2.0, 1.0], [-1.0, 0.0, 1.0])


def sobel_y() -> np.ndarray:
    """Sobel filter for the vertical derivative (it responds to horizontal edges).

    Returns
    -------
    (3, 3) ndarray of float64
        ``[[-1, -2, -1], [0, 0, 0], [1, 2, 1]]``, the transpose of :func:`sobel_x`:
        positive where the image gets brighter from top to bottom.
    """
    return sobel_x().T.copy()


def laplacian(diagonals: bool = False) -> np.ndarray:
    """Discrete Laplacian: the sum of the neighbours minus their number times the centre.

    Parameters
    ----------
    diagonals : bool, default False
        ``False``: the four edge neighbours, ``[[0, 1, 0], [1, -4, 1], [0, 1, 0]]``.
        ``True``: all eight neighbours, ``[[1, 1, 1], [1, -8, 1], [1, 1, 1]]``.

    Returns
    -------
    (3, 3) ndarray of float64
        Sums to 0: flat regions and linear ramps give 0, edges and fine detail do not.
    """
    if not isinstance(diagonals, bool):
        raise TypeError(f"diagonals must be a bool, got {diagonals!r}")
    if diagonals:
        return np.array([[1.0, 1, 1], [1, -8, 1], [1, 1, 1]])
    return np.array([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]])


def sharpen(amount: float = 1.0) -> np.ndarray:
    """Sharpening filter: the identity minus ``amount`` times the 4-neighbour Laplacian.

    Parameters
    ----------
    amount : float, default 1.0
        Strength, >= 0; 0 gives the identity, 1 the classic
        ``[[0, -1, 0], [-1, 5, -1], [0, -1, 0]]``.

    Returns
    -------
    (3, 3) ndarray of float64
        Sums to 1, so flat regions keep their brightness.

    Notes
    -----
    .. math:: S = I - a\\,L = I + 4a\\,(I - N_4),

    where :math:`I` is :func:`identity`, :math:`L` is :func:`laplacian` and
    :math:`N_4` averages the four edge neighbours.  The second form is *unsharp
    masking*: each pixel moves further away from the mean of its neighbours,
    which exaggerates differences, i.e. edges and detail.
    """
    amount = check_float(amount, "amount", low=0.0)
    return identity(3) - amount * laplacian()


def apply_filter(image: np.ndarray, kernel: np.ndarray, padding: Padding = "same") -> np.ndarray:
    """Cross-correlate a 2-D image with a 2-D kernel using :func:`cnnlab.conv.conv2d`.

    Parameters
    ----------
    image : (H, W) ndarray of float32 or float64
    kernel : (kH, kW) ndarray
        Converted to the image's dtype.
    padding : int, (int, int), "same" or "valid", default "same"
        Zero padding, as in :func:`cnnlab.conv.conv2d`.

    Returns
    -------
    (H_out, W_out) ndarray
        The feature map; ``(H, W)`` with ``padding="same"``.
    """
    check_array(image, "image", ndim=2)
    kernel = check_array(np.asarray(kernel), "kernel", ndim=2, floating=False)
    weight = kernel.astype(image.dtype)[None, None]
    return conv2d(image[None, None], weight, padding=padding)[0, 0]


def sample_image(downsample: int = 1) -> np.ndarray:
    """Matplotlib's sample photograph of Grace Hopper as a grey image in [0, 1].

    Parameters
    ----------
    downsample : int, default 1
        Integer factor ``f`` >= 1: each ``f × f`` block of pixels is replaced by
        its mean (rows and columns that do not fill a block are dropped).

    Returns
    -------
    (600 // f, 512 // f) ndarray of float64
        Luma ``0.299 R + 0.587 G + 0.114 B`` scaled to [0, 1].

    Notes
    -----
    The file ships with matplotlib (``matplotlib.cbook.get_sample_data``), so
    no download is needed; matplotlib is imported only when this is called.
    """
    f = check_int(downsample, "downsample", 1)
    import matplotlib.cbook as cbook
    import matplotlib.image as mpimg

    with cbook.get_sample_data("grace_hopper.jpg") as fh:
        rgb = np.asarray(mpimg.imread(fh, format="jpeg"), dtype=np.float64)  # (600, 512, 3)
    grey = rgb[..., :3] @ _LUMA / 255.0
    h, w = (grey.shape[0] // f) * f, (grey.shape[1] // f) * f
    if h == 0 or w == 0:
        raise ValueError(f"downsample must be at most the image size {grey.shape}, got {f}")
    return grey[:h, :w].reshape(h // f, f, w // f, f).mean(axis=(1, 3))
