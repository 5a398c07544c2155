"""The artifact store port: a protocol of six verbs, and the rules every backend shares.

An artifact is addressed by the sha256 of its bytes, so the address *is* the checksum: whoever reads an
artifact can prove it got what was written. That is why every read here verifies before it returns, and why
the helpers that do the verifying live in this module rather than in each backend — a backend that forgets to
verify would quietly hand tampered or truncated bytes to ``pickle.loads``.

The layout under a store's root is the same for every backend, ``sha256/ab/cd/<digest>``: two levels of
fan-out keep directories (and S3 listing pages) small, and the leading ``sha256`` leaves room for another
algorithm later without a migration.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol, runtime_checkable

from ctml.errors import ArtifactNotFoundError, ConfigError, CorruptArtifactError
from ctml.hashing import is_digest, sha256_bytes

__all__ = [
    "CHUNK_SIZE",
    "ArtifactStore",
    "fsync_dir",
    "not_found",
    "object_key",
    "require_digest",
    "verified",
    "write_verified",
]

CHUNK_SIZE = 1 << 20
"""Bytes read or written per step when streaming, so memory stays flat for any artifact size."""

_EXAMPLE = sha256_bytes(b"")


@runtime_checkable
class ArtifactStore(Protocol):
    """Content-addressed storage for artifacts (models, datasets, profiles), keyed by sha256 hex digest.

    Writing the same content twice is a no-op that returns the same digest, so callers never need to check
    first. Every read verifies the digest and raises :class:`~ctml.errors.CorruptArtifactError` instead of
    returning bytes that do not match it.
    """

    @property
    def url(self) -> str:
        """Where the store lives, in the form :func:`ctml.store.open_store` accepts."""
        ...

    def put_bytes(self, data: bytes) -> str:
        """Store ``data`` and return its digest."""
        ...

    def put_file(self, path: str | os.PathLike[str]) -> str:
        """Store a file's bytes, streamed in bounded memory, and return its digest."""
        ...

    def get_bytes(self, digest: str) -> bytes:
        """The verified bytes of an artifact."""
        ...

    def get_file(self, digest: str, dest: str | os.PathLike[str]) -> Path:
        """Write a verified copy of an artifact to ``dest``; ``dest`` never holds unverified bytes."""
        ...

    def exists(self, digest: str) -> bool:
        """Whether the store has an object for ``digest`` (present, not necessarily intact)."""
        ...

    def delete(self, digest: str) -> None:
        """Remove an artifact; deleting one that is not there is a no-op, so garbage collection can retry."""
        ...


def require_digest(digest: object) -> str:
    """``digest`` if it is a sha256 hex digest, else a :class:`ConfigError` showing what one looks like.

    Checked before anything touches storage: a malformed digest must never become a path such as ``../x``.
    """
    if isinstance(digest, str) and is_digest(digest):
        return digest
    raise ConfigError(
        f"An artifact digest must be a sha256 hex digest: 64 lowercase hexadecimal characters, "
        f"like {_EXAMPLE!r}. Got {digest!r} instead."
    )


def object_key(digest: str) -> str:
    """Where an artifact lives relative to a store's root: ``sha256/ab/cd/<digest>``."""
    return f"sha256/{digest[:2]}/{digest[2:4]}/{digest}"


def not_found(digest: str, url: str) -> ArtifactNotFoundError:
    return ArtifactNotFoundError(
        f"No artifact {digest} in the artifact store {url}. "
        "Check the digest, and that this is the store it was written to."
    )


def verified(digest: str, data: bytes, where: str) -> bytes:
    """``data`` if it hashes to ``digest``; otherwise the bytes are refused, never returned."""
    actual = sha256_bytes(data)
    if actual != digest:
        raise CorruptArtifactError(digest, actual, where)
    return data


def write_verified(digest: str, chunks: Iterable[bytes], dest: str | os.PathLike[str], where: str) -> Path:
    """Stream ``chunks`` to ``dest`` and keep them only if they hash to ``digest``.

    The bytes go to a temporary file beside ``dest`` and are renamed over it only after the digest matched,
    so ``dest`` either keeps what it held before or holds the verified artifact; never a partial or tampered
    copy that a later ``load`` might trust. The temporary file is removed on every failure.
    """
    target = Path(dest)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    temp = Path(temp_name)
    try:
        hasher = hashlib.sha256()
        with os.fdopen(handle, "wb") as out:
            for chunk in chunks:
                hasher.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        actual = hasher.hexdigest()
        if actual != digest:
            raise CorruptArtifactError(digest, actual, where)
        # mkstemp makes the file private (0o600); a fetched artifact is an ordinary readable file.
        temp.chmod(0o644)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return target


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable; a no-op where directories cannot be opened (Windows)."""
    try:
        handle = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)
