"""Download data files once into a local cache, verified by SHA-256.

Private helper of :mod:`cnnlab.data`.  A file is described by a
:class:`RemoteFile` (its name in the cache, its SHA-256, its mirrors);
:func:`fetch` returns the path of a verified copy, downloading it when the
cache has none or a corrupt one.  A download goes to a temporary file in the
cache folder and is moved into place with :func:`os.replace` only after its
checksum matched, so a download never leaves a partial or wrong file behind.
"""
from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ChecksumError", "DataNotAvailableError", "RemoteFile", "data_home", "fetch",
           "sha256_of"]

ENV_VAR = "CNNLAB_DATA"
TIMEOUT = 60.0  # seconds to wait for a server at each step
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


def _download(url: str, remote: RemoteFile, target: Path) -> None:
    """Write the bytes at ``url`` into ``target``; raise unless they match ``remote``."""
    request = urllib.request.Request(url, headers={"User-Agent": "cnnlab"})
    digest = hashlib.sha256()
    received = 0
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response, \
            open(target, "wb") as out:
        while chunk := response.read(_CHUNK):
            received += len(chunk)
            if remote.size is not None and received > remote.size:
                raise ChecksumError(f"the server sent more than the expected "
                                    f"{remote.size:,} bytes")
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != remote.sha256:
        raise ChecksumError(f"SHA-256 mismatch: got {digest.hexdigest()} "
                            f"({received:,} bytes), expected {remote.sha256}")


def fetch(remote: RemoteFile, folder: str | os.PathLike, download: bool = True) -> Path:
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

    Returns
    -------
    pathlib.Path
        ``folder / remote.name``, whose SHA-256 is ``remote.sha256``.

    Raises
    ------
    DataNotAvailableError
        ``download`` is false and there is no valid copy, or every mirror
        failed (offline, HTTP error, wrong bytes); the last failure is chained
        as ``__cause__``.
    """
    if not isinstance(download, bool):
        raise TypeError(f"download must be True or False, got {download!r}")
    path = Path(folder) / remote.name
    if path.is_file():
        actual = sha256_of(path)
        if actual == remote.sha256:
            return path
        problem = f"the cached copy is corrupt (its SHA-256 is {actual})"
    else:
        problem = "it is not in the cache"
    if not download:
        raise DataNotAvailableError(_message(remote, path, f"{problem} and download=False"))

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{remote.name}.", suffix=".part",
                                        dir=path.parent)
    os.close(handle)
    tmp = Path(tmp_name)
    failures, last_error = [], None
    try:
        for url in remote.urls:
            _log.info("downloading %s", url)
            try:
                _download(url, remote, tmp)
            except (OSError, http.client.HTTPException, ChecksumError) as err:
                failures.append(f"{url}: {err}")
                last_error = err
                continue
            os.chmod(tmp, 0o644)  # mkstemp made it private to this user
            os.replace(tmp, path)
            return path
    finally:
        tmp.unlink(missing_ok=True)
    raise DataNotAvailableError(_message(remote, path, f"{problem} and every download failed",
                                         failures)) from last_error
