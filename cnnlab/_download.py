"""Download data files once into a local cache, verified by SHA-256.

Private helper of :mod:`cnnlab.data`.  A file is described by a
:class:`RemoteFile` (its name in the cache, its SHA-256, its mirrors);
:func:`fetch` returns the path of a verified copy, downloading it when the
cache has none or a corrupt one.  A download goes to a temporary ``.part``
file in the cache folder and is moved into place with :func:`os.replace` only
after its checksum matched, so a download never leaves a partial or wrong file
behind; a ``.part`` file left by a killed process is removed by the next
:func:`fetch` of that file (``cnnlab._atomic``).  Every step waits at most
``TIMEOUT`` seconds for the server, and a whole :func:`fetch` gives up after
``DEADLINE`` seconds, so a server that keeps trickling bytes cannot keep it busy
for ever.
"""
from __future__ import annotations

import errno
import hashlib
import http.client
import logging
import os
import re
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ._atomic import atomic_write, remove_stale_parts
from ._validate import check_float

__all__ = ["ChecksumError", "DataNotAvailableError", "RemoteFile", "data_home", "fetch",
           "sha256_of"]

ENV_VAR = "CNNLAB_DATA"
TIMEOUT = 60.0  # seconds to wait for a server at each step
DEADLINE = 3600.0  # seconds for a whole fetch, every mirror included (CIFAR-10 at 50 kB/s)
_CHUNK = 1 << 20
_SHA256 = re.compile(r"[0-9a-f]{64}")
_log = logging.getLogger("cnnlab.data")


class DataNotAvailableError(FileNotFoundError):
    """A data file is not in the cache and could not be downloaded.

    The message names the file, its expected SHA-256, the full path where a
    copy should be put and the addresses it can be downloaded from.
    """


class ChecksumError(ValueError):
    """The bytes of a file do not have the expected SHA-256."""


@dataclass(frozen=True)
class RemoteFile:
    """One downloadable file of a data set.

    Attributes
    ----------
    name : str
        File name in the data set's cache folder.
    sha256 : str
        Expected SHA-256 of the file, 64 lowercase hexadecimal digits.
    urls : tuple of str
        Addresses of identical copies, tried in order.
    size : int or None
        Size in bytes, if known; a server sending more is cut off.
    """

    name: str
    sha256: str
    urls: tuple[str, ...]
    size: int | None = None

    def __post_init__(self):
        if not self.name or Path(self.name).name != self.name:
            raise ValueError(f"name must be a bare file name, got {self.name!r}")
        if not _SHA256.fullmatch(self.sha256):
            raise ValueError(f"sha256 must be 64 lowercase hex digits, got {self.sha256!r}")
        if isinstance(self.urls, str) or len(self.urls) == 0:
            raise ValueError(f"urls must be a non-empty tuple of addresses, got {self.urls!r}")


def data_home(root: str | os.PathLike | None = None) -> Path:
    """The folder that holds the downloaded data sets.

    Parameters
    ----------
    root : str or path-like, optional
        Use this folder.  Without it: the environment variable ``CNNLAB_DATA``
        if set and non-empty, else ``~/.cache/cnnlab``.

    Returns
    -------
    pathlib.Path
        Absolute path; the folder is not created here.
    """
    if root is None:
        root = os.environ.get(ENV_VAR) or Path("~", ".cache", "cnnlab")
    elif not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a path (str or os.PathLike) or None, "
                        f"got {type(root).__name__}")
    return Path(root).expanduser().absolute()


def sha256_of(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes as 64 lowercase hex digits, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _message(remote: RemoteFile, path: Path, reason: str, failures=()) -> str:
    size = f" ({remote.size:,} bytes)" if remote.size is not None else ""
    lines = [f"data file {remote.name!r}{size} is not available: {reason}.",
             f"  expected SHA-256: {remote.sha256}",
             f"  put a copy at:    {path}",
             f"  download it from: {remote.urls[0]}"]
    lines += [f"                    {url}" for url in remote.urls[1:]]
    if failures:
        lines += ["  download attempts:"] + [f"    {failure}" for failure in failures]
    lines.append(f"  (pass root=... or set {ENV_VAR} to use another cache folder)")
    return "\n".join(lines)


def _download(url: str, remote: RemoteFile, out, deadline: float, budget: float) -> None:
    """Write the bytes at ``url`` into the file ``out``; raise unless they match ``remote``.

    ``deadline`` is a :func:`time.monotonic` time; ``budget`` the seconds it
    stands for, for the message.
    """
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError(f"not tried: the deadline of {budget:g} s had passed")
    request = urllib.request.Request(url, headers={"User-Agent": "cnnlab"})
    digest = hashlib.sha256()
    received = 0
    with urllib.request.urlopen(request, timeout=min(TIMEOUT, remaining)) as response:
        read = getattr(response, "read1", response.read)  # returns what has arrived
        while chunk := read(_CHUNK):
            received += len(chunk)
            if remote.size is not None and received > remote.size:
                raise ChecksumError(f"the server sent more than the expected "
                                    f"{remote.size:,} bytes")
            digest.update(chunk)
            out.write(chunk)
            if time.monotonic() > deadline:
                raise TimeoutError(f"the download did not finish within the deadline of "
                                   f"{budget:g} s ({received:,} bytes received)")
    if digest.hexdigest() != remote.sha256:
        raise ChecksumError(f"SHA-256 mismatch: got {digest.hexdigest()} "
                            f"({received:,} bytes), expected {remote.sha256}")


def _folder_problem(folder: Path) -> str | None:
    """Why ``folder`` cannot be (or become) a folder: a file in its place or above it."""
    for path in (folder, *folder.parents):
        if path.exists():
            return None if path.is_dir() else (
                f"the cache folder {folder} cannot be used: {path} is a file, not a folder")
    return None


def fetch(remote: RemoteFile, folder: str | os.PathLike, download: bool = True, *,
          deadline: float | None = None) -> Path:
    """Return the path of a verified copy of ``remote`` in ``folder``.

    A cached copy is checked against ``remote.sha256`` on every call.  If it is
    missing or corrupt and ``download`` is true, each of ``remote.urls`` is
    tried in order until one delivers the right bytes.

    Parameters
    ----------
    remote : RemoteFile
        What to fetch.
    folder : str or path-like
        Cache folder of the data set; created if needed.
    download : bool, default True
        Whether a missing or corrupt file may be downloaded.
    deadline : float > 0, optional
        Seconds after which the downloads (all mirrors together) are abandoned;
        default ``DEADLINE``.  Each read also waits at most ``TIMEOUT`` seconds.

    Returns
    -------
    pathlib.Path
        ``folder / remote.name``, whose SHA-256 is ``remote.sha256``.

    Raises
    ------
    DataNotAvailableError
        ``download`` is false and there is no valid copy; every mirror failed
        (offline, HTTP error, wrong bytes, the deadline), with the last failure
        chained as ``__cause__``; or the cache folder cannot be used (a file
        stands in its place, or it cannot be written).
    """
    if not isinstance(download, bool):
        raise TypeError(f"download must be True or False, got {download!r}")
    budget = DEADLINE if deadline is None else check_float(deadline, "deadline", 0.0,
                                                           low_inclusive=False)
    folder = Path(folder)
    path = folder / remote.name
    problem = _folder_problem(folder)
    if problem is not None:
        raise DataNotAvailableError(_message(remote, path, problem))
    remove_stale_parts(path)  # left by a download that was killed
    if path.is_file():
        actual = sha256_of(path)
        if actual == remote.sha256:
            return path
        problem = f"the cached copy is corrupt (its SHA-256 is {actual})"
    else:
        problem = "it is not in the cache"
    if not download:
        raise DataNotAvailableError(_message(remote, path, f"{problem} and download=False"))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, "Permission denied", str(folder))
    except OSError as err:
        raise DataNotAvailableError(_message(
            remote, path, f"{problem}, and the cache folder {folder} cannot be written "
            f"({err.strerror or err})")) from err
    end = time.monotonic() + budget
    failures, last_error = [], None
    for url in remote.urls:
        _log.info("downloading %s", url)
        try:
            with atomic_write(path) as out:
                _download(url, remote, out, end, budget)
        except (OSError, http.client.HTTPException, ChecksumError) as err:
            failures.append(f"{url}: {err}")
            last_error = err
            continue
        return path
    raise DataNotAvailableError(_message(remote, path, f"{problem} and every download failed",
                                         failures)) from last_error
