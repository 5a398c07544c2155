"""The embedded artifact store: a directory on a local (or mounted) file system.

Objects live at ``<root>/sha256/ab/cd/<digest>``. Every write goes to a temporary file on the same file
system, is fsynced, made read-only and then renamed into place with :func:`os.replace`. A rename within a
file system is atomic, so a crash (or ``kill -9``) never leaves a half-written object under its final name,
and two processes storing the same content at once both succeed: each renames a complete, identical copy.
Interrupted writes leave only temporary files (``.*.part`` beside the object, or in ``<root>/tmp``), which
are never read and may be deleted at any time.

>>> import tempfile
>>> store = LocalArtifactStore(tempfile.mkdtemp())
>>> digest = store.put_bytes(b"ctml")
>>> digest
'adc94afbf23715840619bf1ce3b29ccdd4a9e0361f90159bbda8e909e5c5a800'
>>> store.get_bytes(digest)
b'ctml'
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit
from urllib.request import url2pathname

from ctml.errors import ConfigError
from ctml.hashing import sha256_bytes
from ctml.store._base import (
    CHUNK_SIZE,
    fsync_dir,
    not_found,
    object_key,
    require_digest,
    verified,
    write_verified,
)

__all__ = ["LocalArtifactStore"]

_READ_ONLY = 0o444


class LocalArtifactStore:
    """Artifacts as read-only files under ``root``, created on the first write.

    Parameters
    ----------
    root:
        The store's directory, as a path or a ``file:///abs/path`` URL. Relative paths are made absolute
        once, here, so the store does not move if the process changes directory later.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        raw = os.fspath(root)
        if not raw:
            raise ConfigError(
                "The local artifact store needs a directory, as a path or a file:///abs/path URL. Got an empty string."
            )
        self._root = _path_from_url(raw) if raw.startswith("file:") else Path(raw).expanduser().absolute()

    @classmethod
    def from_url(cls, url: str, **options: Any) -> LocalArtifactStore:
        """The store for a ``file://`` URL or a plain path, as :func:`ctml.store.open_store` calls it."""
        if options:
            raise ConfigError(
                f"The local artifact store takes no options. Got {', '.join(sorted(options))} for {url!r}."
            )
        return cls(url)

    @property
    def url(self) -> str:
        return self._root.as_uri()

    @property
    def root(self) -> Path:
        """The directory the store writes under."""
        return self._root

    def __repr__(self) -> str:
        return f"LocalArtifactStore({str(self._root)!r})"

    def put_bytes(self, data: bytes) -> str:
        digest = sha256_bytes(data)
        final = self._path(digest)
        if not _holds(final, len(data)):
            final.parent.mkdir(parents=True, exist_ok=True)
            temp, _, _ = _write_temp(final.parent, [data])
            _install(temp, final)
        return digest

    def put_file(self, path: str | os.PathLike[str]) -> str:
        # The digest is only known once the whole file has been read, so the bytes are staged in
        # <root>/tmp (same file system, so the final rename is still atomic) while they are hashed.
        staging = self._root / "tmp"
        staging.mkdir(parents=True, exist_ok=True)
        with open(path, "rb") as source:
            temp, digest, size = _write_temp(staging, _chunks(source))
        final = self._path(digest)
        if _holds(final, size):
            temp.unlink()
        else:
            final.parent.mkdir(parents=True, exist_ok=True)
            _install(temp, final)
        return digest

    def get_bytes(self, digest: str) -> bytes:
        final = self._path(require_digest(digest))
        try:
            data = final.read_bytes()
        except FileNotFoundError:
            raise not_found(digest, self.url) from None
        return verified(digest, data, str(final))

    def get_file(self, digest: str, dest: str | os.PathLike[str]) -> Path:
        final = self._path(require_digest(digest))
        try:
            source = open(final, "rb")  # noqa: SIM115 - closed below; opened first so a miss writes nothing
        except FileNotFoundError:
            raise not_found(digest, self.url) from None
        with source:
            return write_verified(digest, _chunks(source), dest, str(final))

    def exists(self, digest: str) -> bool:
        return self._path(require_digest(digest)).is_file()

    def delete(self, digest: str) -> None:
        final = self._path(require_digest(digest))
        try:
            # Unlinking a read-only file is allowed on POSIX (it is the directory that changes), but not on
            # Windows, so make it writable first.
            final.chmod(0o644)
            final.unlink()
        except FileNotFoundError:
            return

    def _path(self, digest: str) -> Path:
        return self._root / object_key(digest)


def _path_from_url(url: str) -> Path:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise ConfigError(
            f"A local artifact store URL needs an absolute path after 'file://'. Got {url!r}, whose host "
            f"part is {parts.netloc!r}; did you mean 'file:///{parts.netloc}{parts.path}' (three slashes)?"
        )
    if not parts.path.startswith("/"):
        raise ConfigError(f"A local artifact store URL needs an absolute path, like file:///srv/ctml. Got {url!r}.")
    return Path(url2pathname(parts.path)).absolute()


def _chunks(source: BinaryIO) -> Iterator[bytes]:
    while chunk := source.read(CHUNK_SIZE):
        yield chunk


def _holds(final: Path, size: int) -> bool:
    """Whether an object is already stored. Checking the size too means that storing the same content again
    repairs a truncated object instead of trusting it."""
    try:
        return final.stat().st_size == size
    except FileNotFoundError:
        return False


def _write_temp(directory: Path, chunks: Iterable[bytes]) -> tuple[Path, str, int]:
    """Write ``chunks`` to a new fsynced temporary file in ``directory``: its path, sha256 and size.

    The file is removed again if anything fails, so an interrupted write leaves nothing behind.
    """
    handle, temp_name = tempfile.mkstemp(dir=directory, prefix=".", suffix=".part")
    temp = Path(temp_name)
    hasher = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(handle, "wb") as out:
            for chunk in chunks:
                hasher.update(chunk)
                size += len(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp, hasher.hexdigest(), size


def _install(temp: Path, final: Path) -> None:
    """Make ``temp`` read-only and atomically rename it to ``final``, durably."""
    try:
        temp.chmod(_READ_ONLY)
        os.replace(temp, final)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_dir(final.parent)
