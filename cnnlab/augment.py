"""Data augmentation: random shifts and crops, flips and noise for training batches.

Each transform is a callable ``transform(x, rng) -> x_new`` on a batch of images
``x`` of shape ``(N, C, H, W)`` (float32 or float64): it draws what it needs for
every image from ``rng`` (a ``numpy.random.Generator`` or an integer seed), returns
a new array of ``x``'s dtype and never modifies ``x``.  That is the form
:func:`cnnlab.train.fit` takes as ``augment=``: it applies the transform to each
*training* mini-batch, never to validation or test data, whose images must stay
as they are for the measurement to mean anything.

=========================  ==================================================
``RandomShift(k)``         move each image by up to ``k`` pixels in each direction
``RandomCrop(size, p)``    pad by ``p``, cut a random ``size`` window (torchvision's)
``RandomHorizontalFlip``   mirror left-right with probability ``p``
``GaussianNoise``          add ``N(mean, sigma^2)`` noise to every pixel
``Compose([...])``         apply several transforms in turn
``translate(x, dy, dx)``   the deterministic shift the random ones are made of
=========================  ==================================================

Names and arguments follow torchvision's transforms (``RandomCrop(size, padding,
fill=..., padding_mode=...)``, ``RandomHorizontalFlip(p)``, ``GaussianNoise(mean,
sigma, clip)``, ``Compose``), but the transforms work on whole NCHW batches and
take their randomness from ``rng`` instead of a global generator.  The padding
modes are torchvision's: ``"constant"`` (the value ``fill``, zeros by default),
``"edge"``, ``"reflect"`` and ``"symmetric"``; padding ``[1, 2, 3]`` by two gives
``[0, 0, 1, 2, 3, 0, 0]``, ``[1, 1, 1, 2, 3, 3, 3]``, ``[3, 2, 1, 2, 3, 2, 1]`` and
``[2, 1, 1, 2, 3, 3, 2]``.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._validate import as_pair, check_array, check_choice, check_float, check_int, check_rng

__all__ = ["Compose", "GaussianNoise", "PADDING_MODES", "RandomCrop", "RandomHorizontalFlip",
           "RandomShift", "Transform", "translate"]

PADDING_MODES = ("constant", "edge", "reflect", "symmetric")


def _check_images(x) -> np.ndarray:
    return check_array(x, "x", ndim=4)


def _pad(x: np.ndarray, ph: int, pw: int, mode: str, fill: float, name: str) -> np.ndarray:
    """``x`` with ``ph`` rows above and below and ``pw`` columns left and right."""
    h, w = x.shape[-2:]
    limit = {"reflect": 1, "symmetric": 0}.get(mode)
    if limit is not None and (ph > h - limit or pw > w - limit):
        raise ValueError(f"{name}: {mode!r} padding reaches at most {h - limit} rows and "
                         f"{w - limit} columns beyond an image of {h} x {w} (one "
                         f"reflection), got {ph} rows and {pw} columns")
    width = ((0, 0), (0, 0), (ph, ph), (pw, pw))
    if mode == "constant":
        return np.pad(x, width, mode="constant", constant_values=fill)
    return np.pad(x, width, mode=mode)


def _crop(padded: np.ndarray, top: np.ndarray, left: np.ndarray, h: int, w: int) -> np.ndarray:
    """Image ``n`` cut at rows ``top[n]:top[n]+h`` and columns ``left[n]:left[n]+w``."""
    windows = sliding_window_view(padded, (h, w), axis=(2, 3))  # (N, C, Hp-h+1, Wp-w+1, h, w)
    return windows[np.arange(len(padded)), :, top, left]         # (N, C, h, w), a copy


def _offsets(value, name: str, n: int) -> np.ndarray:
    """An int or one int per image, as an (n,) int64 array."""
    if isinstance(value, np.ndarray):
        if value.shape != (n,) or not np.issubdtype(value.dtype, np.integer):
            raise TypeError(f"{name} must be an integer or an integer array of shape ({n},), "
                            f"one per image, got {value.dtype} of shape {value.shape}")
        return value.astype(np.int64)
    return np.full(n, check_int(value, name), dtype=np.int64)


def translate(x: np.ndarray, dy, dx, *, padding_mode: str = "constant",
              fill: float = 0.0) -> np.ndarray:
    """Move the content of each image down by ``dy`` and right by ``dx`` pixels.

    Parameters
    ----------
    x : (N, C, H, W) ndarray of float32 or float64
    dy, dx : int or (N,) ndarray of int
        The shift of every image, or one per image; negative values move up or
        left.
    padding_mode : {'constant', 'edge', 'reflect', 'symmetric'}, default 'constant'
        What comes in at the border (see the module docstring); ``'reflect'``
        allows shifts up to ``H - 1`` (``W - 1``), ``'symmetric'`` up to ``H``.
    fill : float, default 0.0
        The value of ``'constant'`` padding.

    Returns
    -------
    (N, C, H, W) ndarray of ``x.dtype``
        A new array; content moved past the border is lost.

    Notes
    -----
    With :math:`\\tilde x` the image extended beyond its border by the padding,
    ``out[n, c, i, j]`` :math:`= \\tilde x[n, c, i - dy_n, j - dx_n]`.  The shifted
    image is a window of the padded one: pad by :math:`p = \\max |dy|` rows (and
    :math:`\\max |dx|` columns) and cut :math:`H \\times W` at row
    :math:`p - dy_n`, which is how :class:`RandomCrop` shifts too.
    """
    x = _check_images(x)
    mode = check_choice(padding_mode, "padding_mode", PADDING_MODES)
    fill = check_float(fill, "fill")
    n, _, h, w = x.shape
    dy, dx = _offsets(dy, "dy", n), _offsets(dx, "dx", n)
    ph, pw = (int(np.abs(d).max(initial=0)) for d in (dy, dx))
    if mode == "constant":  # shifts beyond the image move everything out
        ph, pw = min(ph, h), min(pw, w)
        dy, dx = np.clip(dy, -ph, ph), np.clip(dx, -pw, pw)
    return _crop(_pad(x, ph, pw, mode, fill, "dy, dx"), ph - dy, pw - dx, h, w)


def _random_crop(x: np.ndarray, rng: np.random.Generator, size: tuple[int, int], p: int,
                 mode: str, fill: float, name: str) -> np.ndarray:
    """Pad by ``p``, then cut a ``size`` window at a random place of each image."""
    (h, w), hp, wp = size, x.shape[2] + 2 * p, x.shape[3] + 2 * p
    if h > hp or w > wp:
        raise ValueError(f"size: a crop of {h} x {w} does not fit in images of "
                         f"{x.shape[2]} x {x.shape[3]} padded by {p} ({hp} x {wp})")
    padded = _pad(x, p, p, mode, fill, name)
    top = rng.integers(0, hp - h + 1, size=len(x))
    left = rng.integers(0, wp - w + 1, size=len(x))
    return _crop(padded, top, left, h, w)


class Transform:
    """Base class of the transforms: checks ``x`` and ``rng``, then calls ``apply``.

    Subclasses implement ``apply(x, rng)`` on a checked batch and a
    ``Generator``; ``transform(x, rng)`` is what :func:`cnnlab.train.fit` calls.
    """

    def __call__(self, x: np.ndarray, rng: np.random.Generator | int) -> np.ndarray:
        return self.apply(_check_images(x), check_rng(rng))

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class RandomCrop(Transform):
    """Pad every image by ``padding`` pixels, then cut a ``size`` window at a random place.

    Parameters
    ----------
    size : int or (int, int)
        Height and width of the crops, at most those of the padded images
        (checked at each call: ``ValueError``).
    padding : int >= 0, default 0
        Pixels added on each side first.
    fill : float, default 0.0
        The value of ``'constant'`` padding.
    padding_mode : {'constant', 'edge', 'reflect', 'symmetric'}, default 'constant'

    Notes
    -----
    For each call on ``N`` images the transform draws ``rng.integers(0, H + 2p - h + 1,
    N)`` (the top rows), then ``rng.integers(0, W + 2p - w + 1, N)`` (the left
    columns).  With ``size`` equal to the image size, a crop at row ``t`` is the
    image shifted down by ``p - t``: ``RandomCrop(32, padding=4)`` (the usual
    CIFAR-10 recipe) shifts each image by up to 4 pixels in each direction.
    """

    def __init__(self, size, padding: int = 0, *, fill: float = 0.0,
                 padding_mode: str = "constant") -> None:
        self.size = as_pair(size, "size", 1)
        self.padding = check_int(padding, "padding", 0)
        self.fill = check_float(fill, "fill")
        self.padding_mode = check_choice(padding_mode, "padding_mode", PADDING_MODES)

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return _random_crop(x, rng, self.size, self.padding, self.padding_mode, self.fill,
                            "padding")

    def extra_repr(self) -> str:
        return (f"size={self.size}, padding={self.padding}, fill={self.fill:g}, "
                f"padding_mode={self.padding_mode!r}")


class RandomShift(Transform):
    """Move each image by a random whole number of pixels, up to ``max_shift`` each way.

    Parameters
    ----------
    max_shift : int >= 0
        The largest shift along each axis; the shifts ``dy`` and ``dx`` of an image
        are drawn uniformly from ``-max_shift, ..., max_shift``.
    padding_mode : {'constant', 'edge', 'reflect', 'symmetric'}, default 'constant'
        What comes in at the border: zeros (``fill``) by default, which suits dark
        backgrounds such as MNIST's.
    fill : float, default 0.0

    Notes
    -----
    Exactly ``RandomCrop((H, W), padding=max_shift)``, with the same draws: a crop
    at row ``t`` and column ``l`` is :func:`translate` by ``dy = max_shift - t`` and
    ``dx = max_shift - l``.
    """

    def __init__(self, max_shift: int, *, padding_mode: str = "constant",
                 fill: float = 0.0) -> None:
        self.max_shift = check_int(max_shift, "max_shift", 0)
        self.padding_mode = check_choice(padding_mode, "padding_mode", PADDING_MODES)
        self.fill = check_float(fill, "fill")

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return _random_crop(x, rng, x.shape[2:], self.max_shift, self.padding_mode, self.fill,
                            "max_shift")

    def extra_repr(self) -> str:
        return f"max_shift={self.max_shift}, padding_mode={self.padding_mode!r}"


class RandomHorizontalFlip(Transform):
    """Mirror each image left to right with probability ``p``.

    Use it where a mirrored image shows the same class: photographs of objects and
    scenes (CIFAR-10's cars, cats and ships face either way).  Do not use it for
    digits, letters and other symbols (a mirrored 2, 3, 4 or 7 is no digit at all),
    nor where the direction is the label (a "turn left" sign).

    Parameters
    ----------
    p : float in [0, 1], default 0.5

    Notes
    -----
    Draws ``rng.random(N)`` and flips the images whose draw is below ``p``:
    ``out[n, c, i, j] = x[n, c, i, W - 1 - j]`` for those.
    """

    def __init__(self, p: float = 0.5) -> None:
        self.p = check_float(p, "p", 0.0, 1.0)

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        flip = rng.random(len(x)) < self.p
        out = x.copy()
        out[flip] = x[flip, :, :, ::-1]
        return out

    def extra_repr(self) -> str:
        return f"p={self.p:g}"


class GaussianNoise(Transform):
    """Add independent Gaussian noise to every pixel.

    Parameters
    ----------
    mean : float, default 0.0
    sigma : float >= 0, default 0.1
        Standard deviation of the noise, in pixel units (images in [0, 1]).
    clip : bool, default True
        Clip the result to [0, 1], the range of the book's images.

    Notes
    -----
    ``out = x + mean + sigma * z`` with ``z = rng.standard_normal(x.shape,
    dtype=x.dtype)``, then clipped to [0, 1] if ``clip``.
    """

    def __init__(self, mean: float = 0.0, sigma: float = 0.1, clip: bool = True) -> None:
        self.mean = check_float(mean, "mean")
        self.sigma = check_float(sigma, "sigma", 0.0)
        if not isinstance(clip, bool):
            raise TypeError(f"clip must be True or False, got {clip!r}")
        self.clip = clip

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        noise = rng.standard_normal(x.shape, dtype=x.dtype)
        out = x + x.dtype.type(self.mean) + x.dtype.type(self.sigma) * noise
        return np.clip(out, 0, 1, out=out) if self.clip else out

    def extra_repr(self) -> str:
        return f"mean={self.mean:g}, sigma={self.sigma:g}, clip={self.clip}"


class Compose(Transform):
    """Apply several transforms in turn, each drawing from the same ``rng``.

    Parameters
    ----------
    transforms : list of callables ``(x, rng) -> x``
        Applied first to last, e.g. ``Compose([RandomShift(2), GaussianNoise(sigma=0.05)])``.
    """

    def __init__(self, transforms) -> None:
        if not isinstance(transforms, (list, tuple)):
            raise TypeError(f"transforms must be a list of transforms, got "
                            f"{type(transforms).__name__}")
        for i, t in enumerate(transforms):
            if not callable(t):
                raise TypeError(f"transforms[{i}] must be a callable (x, rng) -> x, got "
                                f"{type(t).__name__}")
        self.transforms = list(transforms)

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = x.copy()
        for t in self.transforms:
            out = t(out, rng)
        return out

    def extra_repr(self) -> str:
        return ", ".join(map(repr, self.transforms))
