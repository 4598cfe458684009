"""Checkers for the book's exercises whose answer is a number, a small array or a small function.

``check(exercise_id, answer)`` prints and returns a verdict: ``✓ Correct.`` or
``✗ Not yet: <hint>``.  A hint points at the concept behind a likely mistake; it
never shows the expected value, and it never says where the answer lies: no "too
large" or "too small", no count or position of the wrong entries of an array, so
trial and error cannot home in on the answer.  What it does say depends on the
answer given alone (not a number, text, ``None``, not a whole number, the wrong
shape) or on an exact match with a known slip (a typical mistake of the exercise,
a wrong power of ten, the opposite sign, a transposed, flipped or rescaled array).

``exercise_id`` is the exercise's label in the book (``"ex-conv-by-hand-size"``;
the ``ex-`` prefix may be left out).  An
exercise that asks for several things has one checker per part, named
``"<label>:<part>"``; pass the part either way::

    check("ex-backprop-by-hand:weight", dW)
    check("ex-backprop-by-hand", dW, part="weight")

Expected values are computed with ``cnnlab`` from the exercise's numbers (the
calculators, the kernels or the layers), lazily, at the first check.  Numbers
accept ``int``, ``float``, NumPy scalars and one-element arrays; arrays accept
lists, tuples and arrays (extra axes of length 1, as in an ``(N, C, H, W)``
output, are ignored); functions are called on several inputs, edge cases
included, and compared with ``cnnlab``'s answer.

Auto-checkable exercises (``list_exercises()`` prints the same, with kinds):

- convolution_by_hand: ex-conv-by-hand-size, ex-conv-by-hand-plus
- convolution_layer: ex-conv-layer-same-even, ex-conv-layer-two-channels,
  ex-conv-layer-fashion, ex-conv-layer-saturation
- why_convolution: ex-why-conv-cifar, ex-why-conv-reach (numbers and a function),
  ex-why-conv-global, ex-why-conv-third, ex-why-conv-pattern
- tracking_shapes: ex-shapes-by-hand, ex-shapes-no-padding, ex-shapes-bias-bn,
  ex-shapes-vgg16, ex-shapes-gap
- pooling_and_receptive_field: ex-pooling-rf-size, ex-pooling-rf-backward,
  ex-pooling-rf-vgg, ex-pooling-rf-softmax
- backpropagation: ex-backprop-by-hand, ex-backprop-stride-edge, ex-backprop-overlap
- gradient_checking: ex-gradcheck-taylor, ex-gradcheck-scale (a number and a function)
- loss_and_batch_norm: ex-loss-bn-softmax-by-hand, ex-loss-bn-two-classes, ex-loss-bn-by-hand,
  ex-loss-bn-backward-sums, ex-loss-bn-fold-by-hand
- training: ex-training-patience, ex-training-dropout, ex-training-bn-momentum
- learned_invariance: ex-invariance-padding, ex-invariance-count, ex-invariance-jump,
  ex-invariance-test-pipeline
- what_networks_look_at: ex-interpret-cam-by-hand, ex-interpret-linear-saliency,
  ex-interpret-occlusion-by-hand, ex-interpret-saturation
- beyond_images: ex-beyond-conv1d-hand, ex-beyond-wavenet (numbers and a function),
  ex-beyond-separable-ratio, ex-beyond-inception, ex-beyond-groups
- classic_architectures: ex-arch-vgg-block, ex-arch-inception, ex-arch-alexnet-conv1,
  ex-arch-separable, ex-arch-macs, ex-arch-activation-memory, ex-arch-resolution
- resnet_block: ex-resnet-params, ex-resnet-skip-grad, ex-resnet-projection
- transposed_convolution: ex-transposed-sizes, ex-transposed-adjoint,
  ex-transposed-checkerboard, ex-transposed-conv1d (a function), ex-transposed-gradient
- to_pytorch: ex-pytorch-state-keys, ex-pytorch-init, ex-pytorch-view, ex-pytorch-params
- performance: ex-perf-columns, ex-perf-madds, ex-perf-layout,
  ex-perf-gemm-shapes (a function and two numbers)

Not checkable here (proofs, experiments, trained models or free-form answers):
ex-conv-by-hand-stride, ex-conv-by-hand-flip, ex-conv-layer-sobel-layer,
ex-why-conv-stride, ex-backprop-adjoint, ex-backprop-avgpool-conv,
ex-gradcheck-upstream, ex-gradcheck-dropout, ex-gradcheck-network,
ex-pooling-rf-padding, ex-pooling-rf-linear-stack, ex-training-tanh,
ex-training-confusion, ex-beyond-causal, ex-arch-fc-share, ex-resnet-mlp, ex-resnet-depth,
ex-loss-bn-fold-sequential, ex-interpret-fill, ex-interpret-difference,
ex-invariance-noise, ex-pytorch-copy-back.
"""
from __future__ import annotations

import difflib

from ._common import OUTPUT_SIZE  # noqa: F401  (was public in the single module)
from ._core import CORRECT, EXERCISES, KINDS, NOT_YET, Checker  # noqa: F401

__all__ = ["Checker", "EXERCISES", "UnknownExerciseError", "check", "hint", "list_exercises"]


class UnknownExerciseError(KeyError):
    """An exercise id that no checker has; the message lists close matches."""

    def __str__(self) -> str:  # KeyError would show the message's repr
        return str(self.args[0])


def _resolve(exercise_id: str, part: str | None = None) -> Checker:
    if not isinstance(exercise_id, str):
        raise TypeError(f"exercise_id must be a string such as 'ex-conv-by-hand-size', "
                        f"got {exercise_id!r}")
    key = exercise_id.strip()
    if not key.startswith("ex-"):
        key = "ex-" + key
    if part is not None:
        key = f"{key}:{part}"
    if key in EXERCISES:
        return EXERCISES[key]
    parts = [k for k in EXERCISES if k.startswith(key + ":")]
    if parts:
        names = ", ".join(repr(k.split(":", 1)[1]) for k in parts)
        raise UnknownExerciseError(f"exercise {key!r} has several parts: pass part=... with one "
                                   f"of {names} (or use the id '{parts[0]}')")
    close = difflib.get_close_matches(key, list(EXERCISES), n=5, cutoff=0.6)
    labels = sorted({k.split(":")[0] for k in EXERCISES})
    close += [k for k in difflib.get_close_matches(key.split(":")[0], labels, n=3, cutoff=0.6)
              if k not in close]
    suggestion = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise UnknownExerciseError(f"no checker for exercise {key!r}.{suggestion} "
                               f"list_exercises() shows them all.")


def check(exercise_id: str, answer, part: str | None = None) -> bool:
    """Check an answer; print ``✓ Correct.`` or ``✗ Not yet: <hint>`` and return the verdict.

    Parameters
    ----------
    exercise_id : str
        The exercise's label, e.g. ``"ex-conv-by-hand-size"`` (``"ex-"`` optional),
        with ``":<part>"`` for exercises with several parts.
    answer : number, array-like or function
        What the exercise asks for.
    part : str, optional
        The part, as an alternative to the ``":<part>"`` suffix.

    Returns
    -------
    bool

    Raises
    ------
    UnknownExerciseError
        (a ``KeyError``) for an unknown id; the message lists close matches.
    """
    ok, message = _resolve(exercise_id, part).verdict(answer)
    print(message if ok else NOT_YET + message)
    return ok


def hint(exercise_id: str, part: str | None = None) -> None:
    """Print the general hint of an exercise (of every part, if it has several)."""
    try:
        checkers = [_resolve(exercise_id, part)]
    except UnknownExerciseError:
        key = exercise_id if exercise_id.startswith("ex-") else "ex-" + exercise_id
        checkers = [c for k, c in EXERCISES.items() if k.startswith(key + ":") and part is None]
        if not checkers:
            raise
    for c in checkers:
        prefix = f"{c.id.split(':', 1)[1]}: " if ":" in c.id and len(checkers) > 1 else ""
        print(f"Hint: {prefix}{c.hint}")


def list_exercises(chapter: str | None = None) -> list[str]:
    """Print a table of the checkers (id, chapter, kind, title) and return their ids."""
    chapters = sorted({c.chapter for c in EXERCISES.values()})
    if chapter is not None and chapter not in chapters:
        raise ValueError(f"chapter must be one of {chapters} (or None for all), got {chapter!r}")
    rows = [c for c in EXERCISES.values() if chapter is None or c.chapter == chapter]
    width = max((len(c.id) for c in rows), default=0)
    for c in rows:
        print(f"{c.id:<{width}}  {c.chapter:<28} {c.kind:<8}  {c.title}")
    return [c.id for c in rows]


# --- the exercises ------------------------------------------------------------------------------
# Registered on import, in the book's order (list_exercises() shows them in this order).  Every
# expected value is computed from the exercise's numbers with cnnlab; the "mistakes" are the same
# computation with one typical slip, so that a hint can name the slip.
from . import (  # noqa: E402, F401
    _architectures,
    _foundations,
    _interpret,  # noqa: E402, F401
    _invariance,  # noqa: E402, F401
    _learning,
    _loss_batch_norm,  # noqa: E402, F401
    _performance,  # noqa: E402, F401
    _pytorch,  # noqa: E402, F401
    _shapes_pooling,
    _transposed,  # noqa: E402, F401
)
