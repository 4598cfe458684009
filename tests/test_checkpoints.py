"""cnnlab.checkpoints: atomic saves, loads that check everything before changing anything.

Issue 15: an interrupted save turned a good checkpoint into an unreadable one (item 3);
a crafted header made ``load_parameters`` allocate before comparing names (item 15);
``x.NPZ`` became ``x.NPZ.npz`` and a folder was saved beside itself (items 2, 15);
``load_state_dict`` overwrote the entries before a failing one (item 4); a shape-only
model saved zeros (item 5).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from cnnlab import _atomic
from cnnlab.checkpoints import checkpoint_path, load_parameters, save_parameters
from cnnlab.init import meta
from cnnlab.layers import Linear, ReLU
from cnnlab.models import vgg16
from cnnlab.module import Sequential
from cnnlab.norm import BatchNorm1d

F64 = np.float64


def model(seed: int = 0) -> Sequential:
    return Sequential(Linear(3, 5, rng=seed, dtype=F64), BatchNorm1d(5, dtype=F64), ReLU(),
                      Linear(5, 2, rng=seed + 1, dtype=F64))


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


# --- atomic saves (item 3) ------------------------------------------------------------

def test_an_interrupted_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = save_parameters(model(0), tmp_path / "ckpt")
    good = path.read_bytes()
    written = []
    real = np.lib.format.write_array

    def interrupted(fp, array, *args, **kwargs):  # Ctrl-C while the third array is written
        if len(written) == 2:
            fp.write(b"\x93NUMPY partial")
            raise KeyboardInterrupt
        written.append(array)
        return real(fp, array, *args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_parameters(model(1), path)
    assert path.read_bytes() == good                  # the old checkpoint, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.npz"]  # no .part left
    monkeypatch.undo()
    restored = model(5)
    load_parameters(restored, path)
    assert same(restored.state_dict(), model(0).state_dict())


def test_a_failed_save_of_a_new_file_leaves_nothing(tmp_path, monkeypatch):
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np.lib.format, "write_array", disk_full)
    with pytest.raises(OSError, match="No space left"):
        save_parameters(model(), tmp_path / "new.npz")
    assert list(tmp_path.iterdir()) == []


SAVE_FOREVER = textwrap.dedent("""
    import sys, time
    import numpy as np
    from cnnlab.checkpoints import save_parameters
    from cnnlab.layers import Linear
    from cnnlab.module import Sequential
    real = np.lib.format.write_array
    def slow(fp, array, *args, **kwargs):
        real(fp, array, *args, **kwargs)
        fp.flush()
        print("writing", flush=True)
        time.sleep(60)
    np.lib.format.write_array = slow
    save_parameters(Sequential(Linear(3, 2, rng=1)), sys.argv[1])
""")


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_a_killed_save_keeps_the_checkpoint_and_the_next_save_cleans_up(tmp_path):
    path = save_parameters(Sequential(Linear(3, 2, rng=0)), tmp_path / "ckpt.npz")
    good = path.read_bytes()
    proc = subprocess.Popen([sys.executable, "-c", SAVE_FOREVER, str(path)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "writing\n"
        parts = [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
        assert len(parts) == 1 and parts[0].name.startswith(".ckpt.npz.")
        assert _atomic.remove_stale_parts(path) == []  # locked by the live writer: kept
        os.utime(parts[0], (time.time() - 60, time.time() - 60))
        assert _atomic.remove_stale_parts(path) == []  # old, but still locked
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
        proc.stdout.close()
    assert path.read_bytes() == good
    assert parts[0].exists()  # a killed process cannot clean up after itself
    save_parameters(Sequential(Linear(3, 2, rng=2)), path)  # the next save does
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.npz"]


def test_a_fresh_part_of_another_writer_is_left_alone(tmp_path):
    target = tmp_path / "ckpt.npz"
    part = tmp_path / ".ckpt.npz.abc123.part"
    part.write_bytes(b"being written")  # unlocked, but modified just now
    save_parameters(model(), target)
    assert part.exists()
    os.utime(part, (time.time() - 60, time.time() - 60))
    save_parameters(model(), target)
    assert not part.exists()


def test_saved_files_are_readable_by_others(tmp_path):
    path = save_parameters(model(), tmp_path / "m.npz")
    assert path.stat().st_mode & 0o777 == 0o644


# --- paths (items 2 and 15) ----------------------------------------------------------------

@pytest.mark.parametrize("given, written", [("m", "m.npz"), ("m.npz", "m.npz"),
                                            ("m.NPZ", "m.NPZ"), ("m.Npz", "m.Npz"),
                                            ("m.pt", "m.pt.npz"), ("run.1", "run.1.npz")])
def test_the_npz_suffix_is_added_only_when_missing(tmp_path, given, written):
    assert save_parameters(model(), tmp_path / given) == tmp_path / written
    assert [p.name for p in tmp_path.iterdir()] == [written]


def test_a_folder_is_never_saved_beside_itself(tmp_path):
    (tmp_path / "out").mkdir()
    for path in (tmp_path / "out", f"{tmp_path / 'out'}{os.sep}", f"{tmp_path / 'new'}{os.sep}"):
        with pytest.raises(ValueError, match="is a folder"):
            save_parameters(model(), path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert list((tmp_path / "out").iterdir()) == []


def test_checkpoint_path_checks_without_writing(tmp_path):
    assert checkpoint_path(tmp_path / "a") == tmp_path / "a.npz"
    assert list(tmp_path.iterdir()) == []


# --- loading checks everything first (items 4 and 15) ----------------------------------------

def test_a_crafted_header_allocates_nothing(tmp_path):
    """The header of '3.weight' announces 10**12 numbers: refused from the header alone."""
    path = save_parameters(model(), tmp_path / "m.npz")
    with zipfile.ZipFile(path) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            if name == "3.weight.npy":
                with archive.open(name, "w") as f:
                    np.lib.format.write_array_header_1_0(
                        f, {"descr": "<f8", "fortran_order": False, "shape": (10 ** 12,)})
            else:
                archive.writestr(name, content)
    target = model(3)
    before = target.state_dict()
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"mismatched: 3.weight float64\(1000000000000,\)"):
            load_parameters(target, path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20
    assert same(before, target.state_dict())


def test_a_nan_in_the_last_entry_changes_nothing(tmp_path):
    state = model(1).state_dict()
    state["3.bias"][1] = np.nan
    np.savez(tmp_path / "nan.npz", **state)
    target = model(0)
    before = target.state_dict()
    with pytest.raises(ValueError, match=r"entry '3.bias' must be finite, got nan"):
        load_parameters(target, tmp_path / "nan.npz")
    assert same(before, target.state_dict())


@pytest.mark.parametrize("entry, value, error", [
    ("3.bias", np.zeros(2, np.float32), TypeError),       # last: all others would be written
    ("3.bias", np.array(["a", "b"]), TypeError),           # failed while copying, after the rest
    ("3.bias", np.array([1.0, np.inf]), ValueError),
    ("3.bias", np.array([1 + 1j, 2]), TypeError),          # complex lost its imaginary part
    ("1.running_var", np.ones(5, bool), TypeError),        # bool was cast to 1.0
    ("1.running_mean", np.zeros(5, np.float32), TypeError),
])
def test_load_state_dict_changes_nothing_when_an_entry_fails(entry, value, error):
    target = model(0)
    before = target.state_dict()
    state = model(1).state_dict()
    state[entry] = value
    with pytest.raises(error, match=rf"^state\['{entry}'\]"):
        target.load_state_dict(state)
    assert same(before, target.state_dict())
    target.load_state_dict(model(1).state_dict())  # a good state still loads
    assert same(target.state_dict(), model(1).state_dict())


# --- shape-only models (item 5) ----------------------------------------------------------------

def test_a_meta_model_is_refused_without_allocating(tmp_path):
    with meta():
        big = vgg16()
    tracemalloc.start()
    try:
        with pytest.raises(RuntimeError, match="not saved"):
            big.state_dict()                      # used to allocate 553 MB of zeros
        with pytest.raises(RuntimeError, match="^model: Sequential was built .*not saved"):
            save_parameters(big, tmp_path / "vgg")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20
    assert list(tmp_path.iterdir()) == []


def test_a_meta_model_cannot_be_loaded_into(tmp_path):
    path = save_parameters(model(), tmp_path / "m")
    with meta():
        shape_only = model()
    with pytest.raises(RuntimeError, match="^model: Sequential was built inside .*not loaded"):
        load_parameters(shape_only, path)


def test_save_and_load_are_reexported_from_train():
    import cnnlab.train
    assert cnnlab.train.save_parameters is save_parameters
    assert cnnlab.train.load_parameters is load_parameters
    assert Path(sys.modules["cnnlab.checkpoints"].__file__).name == "checkpoints.py"
