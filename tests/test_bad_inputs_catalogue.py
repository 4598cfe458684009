"""The bad-input catalogue as a whole: at least 150 cases, spread over every part of cnnlab.

Each case asserts the exception type and that the message names the argument (or, for a
file, the file): the kernels and calculators (``test_bad_inputs_kernels``), the layers,
containers, optimisers and initialisers (``test_bad_inputs_layers``), state dicts,
checkpoints and fit/evaluate/predict (``test_bad_inputs_training``), the data readers,
downloads, augmentation transforms and exercise checkers (``test_bad_inputs_data``) and the
command line (``test_cli.USER_ERRORS``: one line ``cnnlab: error: argument ...`` each).
"""
from __future__ import annotations

import test_bad_inputs_data
import test_bad_inputs_kernels
import test_bad_inputs_layers
import test_bad_inputs_training
import test_cli

PREFIXES = {
    "containers": ("concat_", "residual_", "identity_", "sequential_", "meta_", "summary_"),
    "checkpoints": ("state_", "save_", "load_", "checkpoint_"),
    "fit/evaluate/predict": ("fit_", "evaluate_", "predict_", "confusion_"),
    "data readers": ("idx_", "cifar_", "load_", "fetch_", "remote_", "sample_", "split_"),
    "augmentation": ("augment_",),
    "checkers": ("check_", "hint_", "list_"),
}


def ids() -> dict[str, list[str]]:
    by_part: dict[str, list[str]] = {part: [] for part in
                                     ("kernels", "layers", *PREFIXES, "command line")}
    by_part["kernels"] = [case.id for case in test_bad_inputs_kernels.CASES]
    by_part["command line"] = [" ".join(args) or "(none)" for args, _, _ in
                               test_cli.USER_ERRORS]
    for module, parts in ((test_bad_inputs_layers, ("containers",)),
                          (test_bad_inputs_training, ("checkpoints", "fit/evaluate/predict")),
                          (test_bad_inputs_data, ("data readers", "augmentation", "checkers"))):
        for row in module.BAD:
            part = next((p for p in parts if row[0].startswith(PREFIXES[p])),
                        "layers" if module is test_bad_inputs_layers else None)
            assert part is not None, f"{module.__name__}: no part for {row[0]}"
            by_part[part].append(row[0])
    return by_part


def test_at_least_150_cases_over_every_part():
    by_part = ids()
    counts = {part: len(names) for part, names in by_part.items()}
    assert sum(counts.values()) >= 150, counts
    assert all(n >= 5 for n in counts.values()), counts
