"""Tests of cnnlab.exercises: right answers pass, wrong ones get hints that never show the
answer."""
from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cnnlab import exercises as ex
from cnnlab.exercises import EXERCISES, UnknownExerciseError, check

BOOK = Path(__file__).resolve().parents[1] / "book"

# The right answers, typed in from the notebooks' solutions (not computed with cnnlab), or, for
# function exercises, the rule the solution states.
SOLUTIONS = {
    "ex-conv-by-hand-size": 4,
    "ex-conv-by-hand-plus:value": 2,
    "ex-conv-by-hand-plus:output": [[1, 5, 3], [3, 2, 3], [2, 3, 2]],
    "ex-conv-by-hand-plus:strongest": (0, 1),
    "ex-conv-layer-same-even:a": 11,
    "ex-conv-layer-same-even:padding": (1, 2, 1, 2),
    "ex-conv-layer-same-even:b": 10,
    "ex-conv-layer-two-channels:value": 4.5,
    "ex-conv-layer-two-channels:output": [[1.5, 3.5], [4.5, 1.5]],
    "ex-conv-layer-two-channels:weight_shape": (1, 2, 2, 2),
    "ex-conv-layer-fashion:conv1": 416,
    "ex-conv-layer-fashion:conv2": 12_832,
    "ex-conv-layer-fashion:linear": 15_690,
    "ex-conv-layer-saturation:sigmoid": np.log(((1 + np.sqrt(0.96)) / 2)
                                               / (1 - (1 + np.sqrt(0.96)) / 2)),
    "ex-conv-layer-saturation:tanh": np.arctanh(np.sqrt(0.99)),
    "ex-why-conv-cifar:conv": 896,
    "ex-why-conv-cifar:fc_image": 1_573_376,
    "ex-why-conv-cifar:fc_document": 2_097_664,
    "ex-why-conv-reach:pixels": [1, 6, 9],
    "ex-why-conv-reach:rule": lambda r: min(5, r) - max(0, r - 2) + 1,
    "ex-why-conv-global": 10,
    "ex-why-conv-third:horizontal": 1 / 3,
    "ex-why-conv-third:diagonal": 1 / 7,
    "ex-why-conv-pattern:nmk": (1, 2, 2),
    "ex-why-conv-pattern:total": 2_122_186,
    "ex-shapes-by-hand:flatten": 5_408,
    "ex-shapes-by-hand:params": [1_216, 4_640, 54_090],
    "ex-shapes-by-hand:total": 59_946,
    "ex-shapes-no-padding:flatten": 512,
    "ex-shapes-no-padding:linear": 5_130,
    "ex-shapes-bias-bn:saved": 48,
    "ex-shapes-bias-bn:total": 28_986,
    "ex-shapes-vgg16:total": 138_357_544,
    "ex-shapes-vgg16:fc_share": 89.4,
    "ex-shapes-gap:total": 94_538,
    "ex-shapes-gap:factor": 12.1,
    "ex-pooling-rf-size:a": 3,
    "ex-pooling-rf-size:b": 4,
    "ex-pooling-rf-size:unread": [6],
    "ex-pooling-rf-backward:max": [[1, 0, 0, 0], [0, 0, -1, 0], [0, 0, 0.5, 0], [0, 2, 0, 0]],
    "ex-pooling-rf-backward:avg": [[0.25, 0.25, -0.25, -0.25], [0.25, 0.25, -0.25, -0.25],
                                   [0.5, 0.5, 0.125, 0.125], [0.5, 0.5, 0.125, 0.125]],
    "ex-pooling-rf-vgg:rf": [3, 5, 6, 10, 14, 16],
    "ex-pooling-rf-vgg:jump": [1, 1, 2, 2, 2, 4],
    "ex-pooling-rf-vgg:doubling": 28,
    "ex-pooling-rf-softmax:overflow": 88.72,
    "ex-pooling-rf-softmax:probs": [0.999955, 0.000045],
    "ex-backprop-by-hand:bias": 2,
    "ex-backprop-by-hand:weight": [[1, 8], [-1, 0]],
    "ex-backprop-by-hand:centre": 5,
    "ex-backprop-stride-edge:size": 2,
    "ex-backprop-stride-edge:unread": [5],
    "ex-backprop-overlap:max": [[0, 0, 0, 0], [0, 3, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]],
    "ex-backprop-overlap:avg": 4 / 9,
    "ex-gradcheck-taylor:forward": 0.005,
    "ex-gradcheck-taylor:central": 1.667e-5,
    "ex-gradcheck-scale:error": lambda r: abs(r - 1) / (abs(r) + 1),
    "ex-gradcheck-scale:threshold": (1 + 1e-7) / (1 - 1e-7),
    "ex-loss-bn-softmax-by-hand:probs": [0.125, 0.25, 0.625],
    "ex-loss-bn-softmax-by-hand:loss": np.log(4),
    "ex-loss-bn-softmax-by-hand:grad": [0.125, -0.75, 0.625],
    "ex-loss-bn-two-classes:loss": np.log(1 + np.exp(1.5)),
    "ex-loss-bn-two-classes:dz1": 1 / (1 + np.exp(1.5)) - 1,
    "ex-loss-bn-by-hand:out": [-1, 3, 3, -1],
    "ex-loss-bn-by-hand:running_mean": 0.3,
    "ex-loss-bn-by-hand:running_var": 0.9 + 0.1 * 16 / 3,
    "ex-loss-bn-backward-sums:dx": [0.25, 0, 0, -0.25],
    "ex-loss-bn-fold-by-hand:weight": 1.5,
    "ex-loss-bn-fold-by-hand:bias": -2.5,
    "ex-training-patience:plain": (8, 5),
    "ex-training-patience:min_delta": (6, 3),
    "ex-training-dropout:kept": [1.25, 2.5, 3.75, 5, 6.25],
    "ex-training-dropout:expected_sum": 15,
    "ex-training-bn-momentum:momentum": 0.01,
    "ex-training-bn-momentum:keras": 230,
    "ex-training-bn-momentum:pytorch": 22,
    "ex-invariance-padding:edge": [1, 1, 1, 5],
    "ex-invariance-padding:reflect": [2, 5, 1, 5],
    "ex-invariance-padding:symmetric": [5, 1, 1, 5],
    "ex-invariance-count:shifts": 49,
    "ex-invariance-count:unchanged": 0.0204,
    "ex-invariance-count:crops": 25,
    "ex-invariance-jump:pool1": 2,
    "ex-invariance-jump:pool2": 4,
    "ex-invariance-test-pipeline:versions": 162,
    "ex-invariance-test-pipeline:unchanged": 0.0062,
    "ex-pytorch-state-keys:cnnlab": 15,
    "ex-pytorch-state-keys:pytorch": 18,
    "ex-pytorch-init:pytorch": 0.0289,
    "ex-pytorch-init:he": 0.0707,
    "ex-pytorch-init:ratio": 2.449,
    "ex-pytorch-view:per_digit": 1_152,
    "ex-pytorch-view:rows": 36,
    "ex-pytorch-params": 1_146_890,
    "ex-interpret-cam-by-hand:cam": [[0.5, 6], [3, 0.5]],
    "ex-interpret-cam-by-hand:logit": 1.5,
    "ex-interpret-linear-saliency:raw": [[[-1, 0, 2]], [[-3, 4, 1]]],
    "ex-interpret-linear-saliency:max_abs": [3, 4, 2],
    "ex-interpret-occlusion-by-hand:drops": [0.5 - 1 / (1 + np.e ** 2),
                                             0.5 - 1 / (1 + np.e ** -2)],
    "ex-interpret-saturation:factor": 0.98 * 0.02,
    "ex-beyond-conv1d-hand:length": 3,
    "ex-beyond-conv1d-hand:output": [1, 1, 7],
    "ex-beyond-wavenet:field": lambda b: 1 + 1023 * b,
    "ex-beyond-wavenet:blocks": 16,
    "ex-beyond-wavenet:layers": 160,
    "ex-beyond-wavenet:undilated": 16_368,
    "ex-beyond-separable-ratio:standard": 209_715_200,
    "ex-beyond-separable-ratio:separable": 11_665_408,
    "ex-beyond-separable-ratio:ratio": 0.0556,
    "ex-beyond-inception:direct_weights": 221_184,
    "ex-beyond-inception:reduced_weights": 129_024,
    "ex-beyond-inception:direct_madds": 173_408_256,
    "ex-beyond-inception:reduced_madds": 101_154_816,
    "ex-beyond-groups:grouped": 307_456,
    "ex-beyond-groups:ungrouped": 614_656,
    "ex-arch-vgg-block:params": 1_475_328,
    "ex-arch-vgg-block:shape": (256, 28, 28),
    "ex-arch-inception:reduced": 376_176,
    "ex-arch-inception:direct": 1_567_168,
    "ex-arch-inception:channels": (512, 928),
    "ex-arch-alexnet-conv1:conv": 55,
    "ex-arch-alexnet-conv1:pool": 27,
    "ex-arch-alexnet-conv1:conv_224": 55,
    "ex-arch-alexnet-conv1:params": 34_944,
    "ex-arch-separable:depthwise": 9_216,
    "ex-arch-separable:pointwise": 1_048_576,
    "ex-arch-separable:full": 9_437_184,
    "ex-arch-separable:ratio": 0.1121,
    "ex-arch-macs:conv1": 224 * 224 * 64 * 27,
    "ex-arch-macs:fc6": 25_088 * 4_096,
    "ex-arch-macs:uses": 50_176,
    "ex-arch-activation-memory:conv1_bytes": 12_845_056,
    "ex-arch-activation-memory:batch": 5,
    "ex-arch-resolution:params": 4_231_976,
    "ex-arch-resolution:macs": 290_675_200,
    "ex-arch-resolution:ratio": 0.5111,
    "ex-resnet-params:basic": 295_424,
    "ex-resnet-params:bottleneck": 280_064,
    "ex-resnet-skip-grad:output": [0.525, 0.555],
    "ex-resnet-skip-grad:jacobian": [[1.08, -0.03], [-0.02, 1.13]],
    "ex-resnet-projection:total": 173_824,
    "ex-resnet-projection:option_a": 0,
    "ex-transposed-sizes:a": 11,
    "ex-transposed-sizes:padding": 1,
    "ex-transposed-sizes:output_padding": 1,
    "ex-transposed-adjoint:matrix": [[1, 2, -1, 0, 0], [0, 1, 2, -1, 0], [0, 0, 1, 2, -1]],
    "ex-transposed-adjoint:transposed": [1, 2, 1, 4, -2],
    "ex-transposed-adjoint:inner": 6,
    "ex-transposed-checkerboard:size": 9,
    "ex-transposed-checkerboard:counts": [4, 2, 1],
    "ex-transposed-checkerboard:kernel": 4,
    "ex-transposed-conv1d:function": lambda x, w, s: sum(
        np.pad(xi * np.asarray(w, float), (i * s, (len(x) - 1 - i) * s)) for i, xi in enumerate(x)),
    "ex-transposed-gradient:output_padding": 1,
    "ex-transposed-gradient:params": 219,
    "ex-perf-columns:bytes": 115_605_504,
    "ex-perf-columns:ratio": 9,
    "ex-perf-columns:strided_ratio": 2.25,
    "ex-perf-madds:forward": 30_720_000,
    "ex-perf-madds:backward": 61_440_000,
    "ex-perf-madds:flops": 184_320_000,
    "ex-perf-layout:columns": [8_704, 4_096, 512],
    "ex-perf-layout:extra": 0.0625,
    "ex-perf-gemm-shapes:shapes": lambda x, w, s, p: np.array(
        [(w[0], w[1] * w[2] * w[3], x[0] * ((x[2] + 2 * p - w[2]) // s + 1)
          * ((x[3] + 2 * p - w[3]) // s + 1))])[:, [0, 1, 2, 0, 2, 1, 1, 0, 2]].reshape(3, 3),
    "ex-perf-gemm-shapes:intensity_thin": 2.42,
    "ex-perf-gemm-shapes:intensity_large": 28.77,
}

IDS = sorted(EXERCISES)
NUMERIC = [k for k in IDS if EXERCISES[k].kind != "function"]
FUNCTIONS = [k for k in IDS if EXERCISES[k].kind == "function"]


def _notebook_text(chapter: str) -> tuple[set[str], str]:
    """Exercise labels and all the text (sources and outputs) of book/<chapter>.ipynb."""
    nb = json.loads((BOOK / f"{chapter}.ipynb").read_text())
    text = []
    for cell in nb["cells"]:
        text.append("".join(cell["source"]))
        for out in cell.get("outputs", []):
            text.append("".join(out.get("text", "") or out.get("data", {}).get("text/plain", "")))
    joined = "\n".join(text)
    return set(re.findall(r":label:\s*(ex-[\w-]+)", joined)), joined


def _all_labels() -> dict[str, str]:
    labels = {}
    for path in sorted(BOOK.glob("*.ipynb")):
        for label in _notebook_text(path.stem)[0]:
            labels[label] = path.stem
    return labels


def _numbers_in(message: str) -> list[float]:
    """Every number written in a message (thousands separators allowed)."""
    tokens = re.findall(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?:e-?\d+)?(?![\w])", message)
    return [float(t.replace(",", "")) for t in tokens if t.replace(",", "").strip("-")]


def assert_not_revealed(message: str, expected) -> None:
    """The expected value's text does not appear in the message."""
    expected = np.asarray(expected, dtype=np.float64)
    if expected.size == 1:
        value = float(expected.ravel()[0])
        for number in _numbers_in(message):
            if value == round(value):           # a count or a size: the exact number
                assert number != value, (message, value)
            elif number != round(number):       # a fraction: its leading digits
                assert not math.isclose(number, value, rel_tol=1e-3), (message, value)
        return
    flat = expected.ravel().tolist()
    for text in (str(expected), np.array2string(expected), str(flat),
                 ", ".join(f"{v:g}" for v in flat), str(tuple(flat))):
        assert text not in message, (message, text)
    # no two neighbouring entries written one after the other (positions are allowed)
    body = re.sub(r"\(the first at index [^)]*\)", "", message)
    for a, b in zip(flat, flat[1:], strict=False):
        for text in (f"{a:g}, {b:g}", f"{a:g} {b:g}"):
            assert text not in body, (message, text)


def run(exercise_id, answer, capsys):
    ok = check(exercise_id, answer)
    printed = capsys.readouterr().out.strip()
    return ok, printed


def test_every_checker_has_a_solution_value():
    assert set(SOLUTIONS) == set(EXERCISES)


def test_every_checker_is_an_exercise_of_the_book():
    labels = _all_labels()
    for key, checker in EXERCISES.items():
        assert checker.label in labels, f"{key}: no exercise labelled {checker.label} in book/"
        assert checker.chapter == labels[checker.label], key
        assert checker.kind in ex.KINDS


def test_at_least_two_checked_exercises_per_chapter_with_numeric_exercises():
    chapters = {}
    for checker in EXERCISES.values():
        chapters.setdefault(checker.chapter, set()).add(checker.label)
    for chapter, labels in chapters.items():
        assert len(labels) >= 2, chapter


def test_module_docstring_lists_every_checked_exercise():
    for label in {c.label for c in EXERCISES.values()}:
        assert label in ex.__doc__, label


@pytest.mark.parametrize("key", IDS)
def test_right_answer_passes(key, capsys):
    ok, printed = run(key, SOLUTIONS[key], capsys)
    assert ok and printed == "✓ Correct.", printed


@pytest.mark.parametrize("key", [k for k in NUMERIC if EXERCISES[k].integer])
def test_integer_answers_appear_in_the_notebook_solution(key):
    """Cross-check with the book: the whole-number answer is written in its chapter."""
    value = int(round(float(np.asarray(SOLUTIONS[key]))))
    text = _notebook_text(EXERCISES[key].chapter)[1]
    forms = {f"{value:,}", f"{value:,}".replace(",", "{,}"), str(value),
             f"{value:_}"}
    assert any(f in text for f in forms), (key, value)


@pytest.mark.parametrize("key", NUMERIC)
def test_wrong_answers_fail_without_revealing(key, capsys):
    checker = EXERCISES[key]
    expected = np.squeeze(checker.answer)
    wrong = [expected + 1, expected * 3 + 2, -expected - 7]
    if expected.size > 1:
        shifted = expected.copy()
        shifted.flat[-1] += 1
        wrong.append(shifted)
    wrong += [np.asarray(v, dtype=np.float64) for v, _ in checker.mistakes()
              if not np.allclose(np.squeeze(np.asarray(v, dtype=float)), expected)]
    for answer in wrong:
        ok, printed = run(key, answer, capsys)
        assert not ok and printed.startswith("✗ Not yet: "), (key, answer, printed)
        assert_not_revealed(printed, expected)


@pytest.mark.parametrize("key", NUMERIC)
def test_every_mistake_gets_its_targeted_hint(key, capsys):
    checker = EXERCISES[key]
    expected = np.squeeze(checker.answer)
    for value, message in checker.mistakes():
        if np.allclose(np.squeeze(np.asarray(value, dtype=float)), expected):
            continue
        ok, printed = run(key, value, capsys)
        assert not ok and printed.startswith("✗ Not yet: ") and message in printed, (key, printed)


@pytest.mark.parametrize("key", [k for k in NUMERIC if EXERCISES[k].kind == "number"])
def test_number_checkers_reject_arrays_and_text(key, capsys):
    ok, printed = run(key, [1.0, 2.0], capsys)
    assert not ok and "expected a single number, got an array of shape (2,)" in printed
    ok, printed = run(key, "four", capsys)
    assert not ok and "expected a number, got str" in printed
    ok, printed = run(key, True, capsys)
    assert not ok and "bool" in printed


@pytest.mark.parametrize("key", [k for k in NUMERIC if EXERCISES[k].kind == "array"])
def test_array_checkers_reject_wrong_shapes(key, capsys):
    expected = np.squeeze(EXERCISES[key].answer)
    wrong_shape = np.zeros(tuple(n + 1 for n in expected.shape) or (2, 2))
    ok, printed = run(key, wrong_shape, capsys)
    assert not ok and f"got shape {wrong_shape.shape}" in printed, printed
    assert "expected " in printed
    assert_not_revealed(printed, expected)


def test_shape_hint_names_both_shapes(capsys):
    ok, printed = run("ex-backprop-by-hand:weight", np.zeros((3, 3)), capsys)
    assert not ok and "expected a 2×2 array, got shape (3, 3)" in printed


def test_accepts_numpy_scalars_and_batched_arrays(capsys):
    assert run("ex-conv-by-hand-size", np.int64(4), capsys)[0]
    assert run("ex-conv-by-hand-size", np.array([4.0]), capsys)[0]
    out = np.array([[1.5, 3.5], [4.5, 1.5]])[None, None]          # (1, 1, 2, 2) like conv2d's
    assert run("ex-conv-layer-two-channels:output", out, capsys)[0]


def test_targeted_hints_name_the_concept(capsys):
    cases = [("ex-conv-by-hand-size", 3, "padding"),
             ("ex-conv-by-hand-size", 7, "stride"),
             ("ex-conv-layer-fashion:conv1", 400, "biases"),
             ("ex-shapes-by-hand:flatten", 6272, "floor"),
             ("ex-backprop-by-hand:weight", [[0, -1], [8, 1]], "flip"),
             ("ex-backprop-overlap:avg", 1 / 9, "more than one window"),
             ("ex-training-dropout:kept", [0.8, 1.6, 2.4, 3.2, 4.0], "1 − p"),
             ("ex-pooling-rf-backward:max", [[0, 0, 0, 0], [0, 1, -1, 0], [0, 0, 0.5, 0],
                                             [0, 2, 0, 0]], "reading order")]
    for key, answer, word in cases:
        ok, printed = run(key, answer, capsys)
        assert not ok and word in printed, (key, printed)


def test_non_integer_size_gets_the_floor_hint(capsys):
    ok, printed = run("ex-pooling-rf-size:a", 3.5, capsys)
    assert not ok and "floor" in printed


def test_tolerance_follows_the_precision_asked(capsys):
    assert run("ex-conv-layer-saturation:sigmoid", 4.59, capsys)[0]
    assert run("ex-conv-layer-saturation:sigmoid", -4.585, capsys)[0]      # |x|
    assert not run("ex-conv-layer-saturation:sigmoid", 4.7, capsys)[0]
    assert run("ex-shapes-vgg16:fc_share", 0.894, capsys)[0]                # fraction or percent
    assert run("ex-gradcheck-scale:threshold", 1 - 2e-7, capsys)[0]         # the root below 1
    assert not run("ex-why-conv-third:diagonal", 0.15, capsys)[0]


@pytest.mark.parametrize("key", FUNCTIONS)
def test_wrong_functions_fail_on_a_shown_input(key, capsys):
    checker = EXERCISES[key]
    reference = checker.answer
    for wrong in (lambda *a: 0.0, lambda *a: SOLUTIONS[key](*a) + 1.0):
        ok, printed = run(key, wrong, capsys)
        assert not ok and "for the input " in printed
        shown = re.search(r"for the input (.*?) your function", printed).group(1)
        args = next(a for a in checker.inputs if checker._show(a) == shown)
        assert_not_revealed(printed.replace(shown, ""), reference(*args))


def test_function_edge_cases_are_reported(capsys):
    ok, printed = run("ex-gradcheck-scale:error", lambda r: (r - 1) / (r + 1), capsys)
    assert not ok and "r=0.5" in printed and "|r − 1|" in printed
    ok, printed = run("ex-why-conv-reach:rule", lambda r: 3, capsys)
    assert not ok and "r=0" in printed and "border" in printed


def test_function_checker_reports_exceptions_and_non_functions(capsys):
    ok, printed = run("ex-beyond-wavenet:field", lambda b: 1 / 0, capsys)
    assert not ok and "ZeroDivisionError" in printed and "n_blocks=1" in printed
    ok, printed = run("ex-beyond-wavenet:field", 1024, capsys)
    assert not ok and "expected a function" in printed
    ok, printed = run("ex-gradcheck-taylor:forward", lambda: 0.005, capsys)
    assert not ok and "got a function" in printed


def test_ids_without_prefix_and_part_keyword(capsys):
    assert check("conv-by-hand-size", 4)
    assert check("ex-backprop-by-hand", [[1, 8], [-1, 0]], part="weight")
    capsys.readouterr()


def test_unknown_id_lists_close_matches():
    with pytest.raises(KeyError) as info:
        check("ex-conv-by-hand-sise", 4)
    assert isinstance(info.value, UnknownExerciseError)
    assert "ex-conv-by-hand-size" in str(info.value)
    with pytest.raises(UnknownExerciseError, match="list_exercises"):
        check("ex-no-such-thing-at-all", 1)
    with pytest.raises(TypeError, match="exercise_id"):
        check(7, 1)


def test_exercise_with_parts_asks_for_a_part():
    with pytest.raises(UnknownExerciseError, match="several parts.*'weight'"):
        check("ex-backprop-by-hand", 2)


def test_hint_and_list(capsys):
    ex.hint("ex-conv-by-hand-size")
    assert capsys.readouterr().out.startswith("Hint: use ⌊(W − F + 2P)/S⌋ + 1")
    ex.hint("ex-backprop-by-hand")
    out = capsys.readouterr().out
    assert out.count("Hint:") == 3 and "weight:" in out
    ids = ex.list_exercises("backpropagation")
    out = capsys.readouterr().out
    assert ids and all(i in out for i in ids) and all(i.startswith("ex-backprop") for i in ids)
    for key in NUMERIC:
        assert_not_revealed(EXERCISES[key].hint, EXERCISES[key].answer)


def test_core_stays_numpy_only():
    code = ("import sys, cnnlab.exercises as e\n"
            "[c.answer for c in e.EXERCISES.values()]\n"
            "bad = {'matplotlib', 'ipywidgets', 'torch'} & set(sys.modules)\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_performance_hints_name_the_slip(capsys):
    cases = [("ex-perf-columns:bytes", 28_901_376, "bytes"),
             ("ex-perf-columns:bytes", 12_845_056, "its own column"),
             ("ex-perf-madds:backward", 30_720_000, "two backward products"),
             ("ex-perf-madds:flops", 92_160_000, "two flops"),
             ("ex-perf-layout:columns", [8_192, 4_096, 512], "wide order"),
             ("ex-perf-layout:extra", 2 / 34, "useful work"),
             ("ex-perf-gemm-shapes:intensity_thin", 1.21, "two flops")]
    for key, answer, word in cases:
        ok, printed = run(key, answer, capsys)
        assert not ok and word in printed, (key, printed)
    assert run("ex-perf-layout:extra", 6.25, capsys)[0]                     # percent accepted
    ok, printed = run("ex-perf-gemm-shapes:shapes",
                      lambda x, w, s, p: ((w[0], w[1] * w[2] * w[3], x[0] * x[2] * x[3]),) * 3,
                      capsys)
    assert not ok and "x_shape=" in printed and "your function returned" in printed
    ok, printed = run("ex-perf-gemm-shapes:shapes", lambda x, w, s, p: [[1, 2], [3, 4]], capsys)
    assert not ok and "not right" in printed


# --- no bisection: a wrong answer's message tells no direction (issue 15, item 17) -------------

def _generic_wrong(checker, answer) -> bool:
    """Wrong, and no listed mistake or structural slip matches it (those are exact matches)."""
    a = np.squeeze(np.asarray(answer, dtype=np.float64))
    if checker.normalize is not None:
        a = np.asarray(checker.normalize(a), dtype=np.float64)
    want = np.squeeze(checker.answer)
    return (not checker.verdict(answer)[0] and checker._targeted(a) is None
            and checker._slip(a, want) is None)


@pytest.mark.parametrize("key", NUMERIC)
def test_wrong_answers_all_get_the_same_message(key):
    """"Too large / too small" recovers a count in ~40 tries and "N of M entries are wrong (the
    first at i)" an array entry by entry: every generic wrong answer gets one message instead."""
    checker = EXERCISES[key]
    want = np.squeeze(checker.answer)
    if want.size == 1:
        value = float(want)
        steps = (1, 2, 3, 7, 13, 100, -1, -2, -5) if checker.integer else (0.13, 0.37, 1.5, -0.21,
                                                                          -0.77, 4.0)
        candidates = [value + d * (1 if checker.integer else max(abs(value), 1.0)) for d in steps]
    else:
        candidates = []
        for i in range(want.size):
            for d in (1, -2, 5):
                c = want.copy()
                c.flat[i] += d
                candidates.append(c)
    messages = {checker.verdict(c)[1] for c in candidates if _generic_wrong(checker, c)}
    assert len(messages) == 1, messages
    (message,) = messages
    assert not re.search(r"too (large|small)|the first at|\d+ of \d+ entries", message), message
    assert_not_revealed(message, want)


def test_a_bisection_learns_nothing(capsys):
    """A learner halving an interval needs a direction; the checker gives none."""
    lo, hi, seen = 0, 10_000, set()
    for _ in range(20):
        mid = (lo + hi) // 2
        ok, printed = run("ex-shapes-vgg16:total", mid, capsys)
        seen.add(printed)
        lo = mid  # without a direction the learner cannot tell which half to keep
    assert seen == {"✗ Not yet: " + EXERCISES["ex-shapes-vgg16:total"].hint}


@pytest.mark.parametrize("answer, words", [
    (None, "got None: does your cell or function return a value?"),
    ("4", "got str '4': write the number without quotes"),
    (b"4", "got bytes"),
    (10 ** 400, "too large for a float"),
    (float("inf"), "contains infinity"),
    (float("nan"), "contains NaN"),
    (np.bool_(True), "got a bool"),
    (3 + 0j, "got complex numbers"),
    ([4, None], "got None among the entries"),
])
def test_answers_that_are_not_numbers_are_named(answer, words, capsys):
    ok, printed = run("ex-conv-by-hand-size", answer, capsys)
    assert not ok and printed.startswith("✗ Not yet: ") and words in printed, printed


@pytest.mark.parametrize("answer, words", [
    ([["1", 8], [-1, 0]], "without quotes"),
    ([[True, False], [False, True]], "got True/False values"),
    ([[1, 8], [-1]], "got list"),
    ([[1, 8], [-1, None]], "got None among the entries"),
])
def test_arrays_that_are_not_numbers_are_named(answer, words, capsys):
    ok, printed = run("ex-backprop-by-hand:weight", answer, capsys)
    assert not ok and words in printed, printed


@pytest.mark.parametrize("key, answer, words", [
    ("ex-conv-by-hand-size", -4, "right up to the sign"),
    ("ex-conv-by-hand-size", 400, "not the power of ten"),
    ("ex-shapes-gap:factor", 1.21, "not the power of ten"),
    ("ex-backprop-by-hand:weight", [[-1, -8], [1, 0]], "opposite sign"),
    ("ex-backprop-by-hand:weight", [[0, -1], [8, 1]], "flip"),
    ("ex-backprop-by-hand:weight", [[3, 24], [-3, 0]], "off by the same factor"),
    ("ex-pooling-rf-vgg:rf", [16, 14, 10, 6, 5, 3], "reverse order"),
])
def test_exact_slips_get_their_hint(key, answer, words, capsys):
    ok, printed = run(key, answer, capsys)
    assert not ok and words in printed, printed
    assert_not_revealed(printed, EXERCISES[key].answer)


def test_function_results_that_are_not_numbers_are_named(capsys):
    ok, printed = run("ex-beyond-wavenet:field", lambda b: None, capsys)
    assert not ok and "returned None" in printed and "return statement" in printed
    ok, printed = run("ex-beyond-wavenet:field", lambda b: 10 ** 400, capsys)
    assert not ok and "too large for a float" in printed     # no OverflowError from check()
    ok, printed = run("ex-beyond-wavenet:field", lambda b: str(1 + 1023 * b), capsys)
    assert not ok and "without quotes" in printed            # "1024" is text, not a number
