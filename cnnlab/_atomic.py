"""Write a file so that it is either complete or absent (internal).

Used by checkpoints (:mod:`cnnlab.checkpoints`) and downloads (:mod:`cnnlab._download`).
:func:`atomic_write` writes into a temporary ``.<name>.<random>.part`` file in the
target's folder and renames it over the target only once everything is written and
flushed to disk (:func:`os.replace` is atomic within one file system).  Whatever
stops the writing, an exception, Ctrl-C, SIGTERM or SIGKILL, the target keeps its
previous content.

A process that is killed cannot delete its ``.part`` file.  The next write of the same
target removes such leftovers (:func:`remove_stale_parts`): a writer holds an exclusive
``flock`` on its ``.part`` file while it writes (POSIX), which the kernel releases when
the process dies, so a part that can be locked, and was last modified more than
``STALE_AFTER`` seconds ago, belongs to nobody.  (The age guards the instant between
creating a part and locking it.)  Elsewhere a part that can be deleted is not open.
"""
from __future__ import annotations

import glob
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: an open file cannot be deleted, which protects it instead
    fcntl = None

STALE_AFTER = 2.0  # seconds since a part's last write before it may be removed
PART_MODE = 0o644  # permissions of a finished file (mkstemp makes it private to this user)


def _parts(path: Path) -> list[Path]:
    return [Path(p) for p in glob.glob(os.path.join(glob.escape(str(path.parent)),
                                                    f".{glob.escape(path.name)}.*.part"))]


def remove_stale_parts(path: Path) -> list[Path]:
    """Delete the ``.part`` files that killed writers of ``path`` left behind; return them.

    A part that another process is writing (locked, or modified in the last
    ``STALE_AFTER`` seconds) is left alone, and so is one that cannot be deleted.
    """
    removed = []
    for part in _parts(path):
        try:
            if time.time() - part.stat().st_mtime < STALE_AFTER:
                continue
            fd = os.open(part, os.O_RDONLY)
        except OSError:
            continue
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held by a live writer: fails
            part.unlink()
            removed.append(part)
        except OSError:
            pass
        finally:
            os.close(fd)
    return removed


@contextmanager
def atomic_write(path: Path) -> Iterator:
    """Yield a binary file to write; on success it becomes ``path``, on failure nothing changes.

    The folder ``path.parent`` must exist.  Leftover parts of earlier, killed
    writers of ``path`` are removed first.  The finished file gets mode
    ``PART_MODE``.
    """
    remove_stale_parts(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    tmp, done = Path(name), False
    try:
        with os.fdopen(fd, "wb") as f:
            if fcntl is not None:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            yield f
            f.flush()
            os.fsync(f.fileno())
            os.chmod(tmp, PART_MODE)
            if os.name == "posix":  # rename while still locked
                os.replace(tmp, path)
                done = True
        if not done:  # Windows cannot rename an open file
            os.replace(tmp, path)
            done = True
        _sync_folder(path.parent)
    finally:
        if not done:
            tmp.unlink(missing_ok=True)


def _sync_folder(folder: Path) -> None:
    """Flush the folder entry of a rename to disk where the OS allows (POSIX)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
