"""Checkpoints: a model's parameters and buffers in an ``.npz`` file, saved and loaded safely.

* :func:`save_parameters` writes ``model.state_dict()`` as a plain ``.npz`` archive of
  arrays (``numpy.savez``), **atomically**: into a temporary ``.part`` file beside the
  target, renamed over it only when complete.  An interrupted save (an exception,
  Ctrl-C, a killed process) leaves the previous checkpoint as it was; the next save
  removes the ``.part`` file a killed process left behind.
* :func:`load_parameters` reads the archive with ``allow_pickle=False`` (loading never
  runs code).  It compares every entry's name, shape and dtype, read from the
  ``.npy`` headers alone, with the model *before* reading any array, so a crafted
  header cannot make it allocate more than the model's own size; then it checks that
  every value is finite, and only then changes the model.
* :func:`check_state` is that validation for an in-memory state dict; it is what
  :meth:`cnnlab.module.Module.load_state_dict` runs.
* :func:`checkpoint_path` is the file :func:`save_parameters` would write, checked
  (a folder, a missing folder, one that cannot be written): the command line calls it
  before training, so a bad ``--save`` is reported before any work is done.

``save_parameters`` and ``load_parameters`` are also importable from :mod:`cnnlab.train`.
"""
from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ._atomic import atomic_write
from ._validate import check_finite
from .init import check_not_meta

__all__ = ["check_state", "checkpoint_path", "load_parameters", "save_parameters"]

SUFFIX = ".npz"
_NPY_MAGIC = b"\x93NUMPY"


def _check_model(model):
    from .module import Module  # this module is imported by cnnlab.module
    if not isinstance(model, Module):
        raise TypeError(f"model must be a cnnlab Module, got {type(model).__name__}")
    return model


# --- validation -----------------------------------------------------------------

def _targets(model) -> dict[str, np.ndarray]:
    """The model's live arrays by state-dict name: parameters' ``data`` and buffers."""
    targets = {name: p.data for name, p in model.named_parameters()}
    targets.update(model.named_buffers())
    return targets


def _differences(expected: dict, found: dict) -> list[str]:
    """``["missing: a, b", "unexpected: c", "mismatched: d float64(2,) (model: float32(2,))"]``.

    ``expected`` and ``found`` map names to ``(shape, dtype)``.
    """
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    wrong = [f"{name} {found[name][1]}{found[name][0]} (model: {expected[name][1]}"
             f"{expected[name][0]})" for name in expected
             if name in found and found[name] != expected[name]]
    return [f"{label}: {', '.join(items)}" for label, items in
            (("missing", missing), ("unexpected", unexpected), ("mismatched", wrong)) if items]


def check_state(model, state: Mapping[str, np.ndarray], name: str = "state",
                source: str | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Check ``state`` against ``model`` entry by entry; return ``(target, value)`` pairs.

    Nothing is changed here: the caller copies each ``value`` into its ``target``
    (``target[...] = value``), which cannot fail once every pair has passed.

    Parameters
    ----------
    model : Module
    state : mapping of str to ndarray
        E.g. from ``state_dict()``.
    name : str, default "state"
        The argument, as messages name it: ``state['0.weight']: ...``.
    source : str, optional
        Where the arrays came from (a file); messages then read
        ``<name>: <source>: entry '0.weight' ...``.

    Returns
    -------
    list of (ndarray, ndarray)
        The model's array and the new value, in the model's order.

    Raises
    ------
    RuntimeError
        ``model`` was built inside :func:`cnnlab.init.meta`.
    TypeError
        ``state`` is not a mapping, an entry is not an ndarray, or its dtype is
        not the model's (no silent casts: float64 into float32, bool, complex).
    KeyError
        Entries are missing or unexpected (the message lists them).
    ValueError
        An entry's shape is not the model's, it holds NaN or infinity, or the
        model's array is read-only.
    """
    check_not_meta(model, "loaded", "model" if source is not None else None)
    entry = ((lambda key: f"{name}[{key!r}]") if source is None
             else (lambda key: f"{name}: {source}: entry {key!r}"))
    if not isinstance(state, Mapping):
        raise TypeError(f"{name} must be a dict of arrays (from state_dict()), got "
                        f"{type(state).__name__}")
    targets = _targets(model)
    missing = sorted(set(targets) - set(state))
    unexpected = sorted(set(state) - set(targets), key=str)
    if missing or unexpected:
        raise KeyError(f"{name}: missing entries {missing}, unexpected entries {unexpected}")
    pairs = []
    for key, target in targets.items():
        value = state[key]
        if not isinstance(value, np.ndarray):
            raise TypeError(f"{entry(key)} must be a numpy.ndarray, got {type(value).__name__}")
        if value.shape != target.shape:
            raise ValueError(f"{entry(key)}: expected shape {target.shape}, got {value.shape}")
        if value.dtype != target.dtype:
            raise TypeError(f"{entry(key)}: dtype {value.dtype} does not match the model's "
                            f"{target.dtype} (nothing is cast silently: convert it with "
                            f".astype(np.{target.dtype}) if that is what you mean)")
        check_finite(value, entry(key))
        if not target.flags.writeable:
            raise ValueError(f"{entry(key)}: the model's array is read-only, so nothing can be "
                             f"loaded into it")
        pairs.append((target, value))
    return pairs


# --- paths ----------------------------------------------------------------------

def checkpoint_path(path: str | os.PathLike) -> Path:
    """The file :func:`save_parameters` writes for ``path``, after checking it can be written.

    ``.npz`` is appended unless ``path`` ends with it (in any case: ``x.NPZ``
    stays ``x.NPZ``).

    Raises
    ------
    TypeError
        ``path`` is not a str or path-like.
    ValueError
        ``path`` is empty or names a folder (an existing one, or ends with ``/``).
    FileNotFoundError
        Its folder does not exist.
    NotADirectoryError
        Its "folder" is a file.
    PermissionError
        Its folder cannot be written.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or path-like, got {type(path).__name__}")
    text = os.fspath(path)
    if not isinstance(text, str):
        text = os.fsdecode(text)
    if not text:
        raise ValueError("path must name a file, got an empty string")
    seps = tuple(s for s in (os.sep, os.altsep) if s)
    target = Path(text)
    if text.endswith(seps) or target.is_dir():
        raise ValueError(f"path: {text!r} is a folder; give a file name such as "
                         f"{str(target / ('model' + SUFFIX))!r}")
    if target.suffix.lower() != SUFFIX:
        target = target.with_name(target.name + SUFFIX)
        if target.is_dir():
            raise ValueError(f"path: {str(target)!r} is a folder; give another file name")
    folder = target.absolute().parent
    if not folder.exists():
        raise FileNotFoundError(f"path: folder {folder} does not exist")
    if not folder.is_dir():
        raise NotADirectoryError(f"path: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"path: cannot write into folder {folder} (permission denied)")
    return target


# --- saving and loading ----------------------------------------------------------

def save_parameters(model, path: str | os.PathLike) -> Path:
    """Write ``model.state_dict()`` (parameters and buffers) to an ``.npz`` archive, atomically.

    ``.npz`` is appended to ``path`` if it lacks it (any case), as ``numpy.savez``
    does.  The archive holds one plain numeric array per entry, named like
    ``"0.weight"`` or ``"1.running_mean"``; no Python object is pickled.  The
    file is written under a temporary name and renamed into place when
    complete: an existing checkpoint at ``path`` is replaced whole or not at all.

    Parameters
    ----------
    model : Module
        Not built inside :func:`cnnlab.init.meta` (it has no values to save).
    path : str or path-like
        The file; its folder must exist and be writable, and ``path`` must not
        name a folder (``ValueError``, ``FileNotFoundError``,
        ``NotADirectoryError``, ``PermissionError``, checked before anything is
        written).

    Returns
    -------
    Path
        The file written.
    """
    model = _check_model(model)
    check_not_meta(model, "saved", "model")
    target = checkpoint_path(path)
    state = model.state_dict()
    with atomic_write(target) as f:
        np.savez(f, **state)
    return target


def _header(archive: zipfile.ZipFile, member: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of one ``.npy`` member, from its header alone (no data is read)."""
    with archive.open(member) as f:
        version = np.lib.format.read_magic(f)
        read = {(1, 0): np.lib.format.read_array_header_1_0,
                (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read is None:
            raise ValueError(f"unsupported .npy format version {version}")
        shape, _, dtype = read(f)
    return tuple(shape), dtype


def _read_headers(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    with open(path, "rb") as f:
        if f.read(len(_NPY_MAGIC)) == _NPY_MAGIC:
            raise ValueError(f"path: {path} holds a single array, not an .npz archive of "
                             f"parameters")
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.namelist()
            headers = {}
            for member in members:
                key = member[:-4] if member.endswith(".npy") else member
                if key in headers or members.count(member) > 1:
                    raise ValueError(f"entry {key!r} appears twice")
                headers[key] = _header(archive, member)
    except (zipfile.BadZipFile, EOFError, OSError) as err:
        raise ValueError(f"path: cannot read {path} as an .npz archive of parameters "
                         f"({err})") from err
    except ValueError as err:
        raise ValueError(f"path: cannot read the arrays in {path} ({err})") from err
    for key, (_, dtype) in headers.items():
        if dtype.hasobject:
            raise ValueError(f"path: cannot read the arrays in {path}: entry {key!r} holds "
                             f"Python objects, which only pickle could load (and cnnlab never "
                             f"unpickles)")
    return headers


def load_parameters(model, path: str | os.PathLike) -> None:
    """Load an archive written by :func:`save_parameters` into ``model``, in place.

    The file is read with ``allow_pickle=False``.  The entries' names, shapes
    and dtypes are compared with the model's parameters and buffers from the
    ``.npy`` headers, before any array is read; then every value must be
    finite.  Nothing is changed unless everything matches.

    Raises
    ------
    TypeError
        ``model`` is not a Module or ``path`` not a path.
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        The file is not an ``.npz`` archive of plain arrays, it was saved from
        a different architecture (the message lists the differences), or it
        holds NaN or infinity.
    RuntimeError
        ``model`` was built inside :func:`cnnlab.init.meta`.
    """
    model = _check_model(model)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or path-like, got {type(path).__name__}")
    path = Path(path)
    check_not_meta(model, "loaded", "model")
    if path.is_dir():
        raise ValueError(f"path: {path} is a folder, not a checkpoint file")
    if not path.exists():
        raise FileNotFoundError(f"path: {path} does not exist")
    headers = _read_headers(path)
    expected = {name: (a.shape, a.dtype) for name, a in _targets(model).items()}
    differences = _differences(expected, headers)
    if differences:
        raise ValueError(f"path: {path} was saved from a different architecture; "
                         + "; ".join(differences))
    try:
        with np.load(path, allow_pickle=False) as archive:
            state = {name: archive[name] for name in expected}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"path: cannot read the arrays in {path} ({err})") from err
    for target, value in check_state(model, state, "path", source=str(path)):
        target[...] = value
