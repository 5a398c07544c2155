"""The artifact store conformance suite: the checks every :class:`~ctml.store.ArtifactStore` must pass.

In the spirit of scikit-learn's ``check_estimator``: each check is a plain function that takes a *harness*
and raises ``AssertionError`` saying what was wrong. The harness makes fresh, empty stores and can read and
overwrite a stored object's raw bytes behind the store's back — how to do that is backend specific, and it is
the only way to prove that a store refuses tampered or truncated artifacts instead of returning them.

Run them all with :func:`check_artifact_store`, or one test per check with pytest::

    @pytest.mark.parametrize("check", ARTIFACT_STORE_CHECKS, ids=lambda check: check.__name__)
    def test_conformance(check, tmp_path):
        check(LocalStoreHarness(tmp_path))

>>> import tempfile
>>> check_artifact_store(LocalStoreHarness(tempfile.mkdtemp()))
"""

from __future__ import annotations

import os
import random
import tempfile
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ctml.errors import ArtifactNotFoundError, ConfigError, CorruptArtifactError
from ctml.hashing import sha256_bytes, sha256_file
from ctml.store import ArtifactStore, LocalArtifactStore, S3ArtifactStore
from ctml.testing._assertions import expect as _expect
from ctml.testing._assertions import raises as _raises

__all__ = [
    "ARTIFACT_STORE_CHECKS",
    "BAD_DIGESTS",
    "LocalStoreHarness",
    "S3StoreHarness",
    "StoreHarness",
    "check_artifact_store",
    "check_bytes_round_trip",
    "check_concurrent_puts",
    "check_corrupt_artifact_refused",
    "check_empty_artifact",
    "check_exists_and_delete",
    "check_file_round_trip",
    "check_malformed_digest_refused",
    "check_missing_artifact_not_found",
    "check_put_is_idempotent",
    "check_put_repairs_truncated_artifact",
    "check_truncated_artifact_refused",
]

_E = TypeVar("_E", bound=BaseException)

BAD_DIGESTS = (
    "",
    "abc",
    "A" * 64,  # upper case: two spellings of one digest would mean two objects
    "g" * 64,
    "0" * 63,
    "0" * 65,
    "../" + "0" * 61,
    " " + "0" * 63,
    "0" * 64 + "\n",
)
_MULTI_MB = 6 * 2**20 + 7  # above S3's 5 MiB part size, and not a multiple of any block size


class StoreHarness(Protocol):
    """What the checks need from a backend's test set-up."""

    def new_store(self) -> ArtifactStore:
        """A fresh, empty store; each check asks for its own."""
        ...

    def read_raw(self, store: ArtifactStore, digest: str) -> bytes:
        """The bytes stored for ``digest``, read without verification."""
        ...

    def write_raw(self, store: ArtifactStore, digest: str, data: bytes) -> None:
        """Overwrite the object stored for ``digest`` with ``data``, bypassing the store (bit rot, a bad disk,
        an interrupted copy, a tampering attacker)."""
        ...


class LocalStoreHarness:
    """Local stores in fresh subdirectories of ``base``."""

    def __init__(self, base: str | os.PathLike[str]) -> None:
        self.base = Path(base)

    def new_store(self) -> ArtifactStore:
        return LocalArtifactStore(self.base / f"store-{uuid.uuid4().hex[:12]}")

    def read_raw(self, store: ArtifactStore, digest: str) -> bytes:
        return self._path(store, digest).read_bytes()

    def write_raw(self, store: ArtifactStore, digest: str, data: bytes) -> None:
        path = self._path(store, digest)
        path.chmod(0o644)
        path.write_bytes(data)
        path.chmod(0o444)

    @staticmethod
    def _path(store: ArtifactStore, digest: str) -> Path:
        if not isinstance(store, LocalArtifactStore):
            raise TypeError(f"LocalStoreHarness works on LocalArtifactStore, not {type(store).__name__}")
        return store._path(digest)


class S3StoreHarness:
    """S3 stores under fresh prefixes of ``url`` (``s3://bucket[/prefix]``, the bucket must exist)."""

    def __init__(self, url: str, **options: Any) -> None:
        self.url = url.rstrip("/")
        self.options = options

    def new_store(self) -> ArtifactStore:
        return S3ArtifactStore(f"{self.url}/{uuid.uuid4().hex[:12]}", **self.options)

    def read_raw(self, store: ArtifactStore, digest: str) -> bytes:
        s3 = self._s3(store)
        data: bytes = s3._fs.cat_file(s3._key(digest))
        return data

    def write_raw(self, store: ArtifactStore, digest: str, data: bytes) -> None:
        s3 = self._s3(store)
        s3._fs.pipe_file(s3._key(digest), data)

    @staticmethod
    def _s3(store: ArtifactStore) -> S3ArtifactStore:
        if not isinstance(store, S3ArtifactStore):
            raise TypeError(f"S3StoreHarness works on S3ArtifactStore, not {type(store).__name__}")
        return store


# --- the checks --------------------------------------------------------------------------------------------


def check_bytes_round_trip(harness: StoreHarness) -> None:
    """``put_bytes`` returns the sha256 of the bytes, and ``get_bytes`` gives them back exactly."""
    store = harness.new_store()
    for data in (b"x", bytes(range(256)) * 4, random.Random(0).randbytes(300_000)):
        digest = store.put_bytes(data)
        _expect(digest == sha256_bytes(data), f"put_bytes returned {digest!r}, not the sha256 of the bytes")
        _expect(store.exists(digest), "exists() is False right after put_bytes")
        _expect(store.get_bytes(digest) == data, "get_bytes did not return the bytes that were put")
    _expect(isinstance(store.url, str) and bool(store.url), f"url must be a non-empty str, got {store.url!r}")


def check_file_round_trip(harness: StoreHarness) -> None:
    """A multi-MB file goes in with ``put_file`` and comes out identical with ``get_file`` and ``get_bytes``;
    files and bytes of the same content share one digest."""
    store = harness.new_store()
    data = random.Random(1).randbytes(_MULTI_MB)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp, "model.bin")
        source.write_bytes(data)
        digest = store.put_file(source)
        _expect(digest == sha256_file(source), "put_file did not return the sha256 of the file")
        dest = Path(tmp, "not", "yet", "there", "copy.bin")
        returned = store.get_file(digest, dest)
        _expect(Path(returned) == dest, f"get_file returned {returned!r}, not the destination {dest!r}")
        _expect(dest.read_bytes() == data, "get_file wrote different bytes than were put")
        _expect(store.get_bytes(digest) == data, "get_bytes of a put_file artifact differs from the file")
        _expect(store.put_bytes(data) == digest, "put_bytes and put_file of the same content differ")
        dest.write_bytes(b"stale")
        store.get_file(digest, dest)
        _expect(dest.read_bytes() == data, "get_file did not replace an existing destination file")
        _expect(_leftovers(dest.parent, keep=dest) == [], "get_file left temporary files beside dest")


def check_put_is_idempotent(harness: StoreHarness) -> None:
    """Storing content that is already there is a no-op that returns the same digest."""
    store = harness.new_store()
    data = b"same content" * 1000
    first = store.put_bytes(data)
    _expect(store.put_bytes(data) == first, "a second put_bytes of the same content gave another digest")
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp, "same.bin")
        source.write_bytes(data)
        _expect(store.put_file(source) == first, "put_file of stored content gave another digest")
        _expect(store.put_file(source) == first, "a second put_file gave another digest")
    _expect(store.get_bytes(first) == data, "content changed after putting it again")


def check_empty_artifact(harness: StoreHarness) -> None:
    """The empty artifact is an artifact like any other (an empty feature list, an empty profile)."""
    store = harness.new_store()
    digest = store.put_bytes(b"")
    _expect(digest == sha256_bytes(b""), "put_bytes(b'') did not return the sha256 of no bytes")
    _expect(store.get_bytes(digest) == b"", "get_bytes of the empty artifact is not b''")
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp, "empty")
        empty.write_bytes(b"")
        _expect(store.put_file(empty) == digest, "put_file of an empty file gave another digest")
        dest = store.get_file(digest, Path(tmp, "out"))
        _expect(Path(dest).read_bytes() == b"", "get_file of the empty artifact wrote bytes")


def check_exists_and_delete(harness: StoreHarness) -> None:
    """``exists`` follows ``put`` and ``delete``; deleting twice, or something never stored, is a no-op."""
    store = harness.new_store()
    data = b"to be deleted"
    digest = sha256_bytes(data)
    _expect(not store.exists(digest), "exists() is True in a fresh store")
    store.delete(digest)  # never stored: no error
    store.put_bytes(data)
    _expect(store.exists(digest), "exists() is False after put")
    store.delete(digest)
    _expect(not store.exists(digest), "exists() is True after delete")
    with _raises(ArtifactNotFoundError, "get_bytes after delete"):
        store.get_bytes(digest)
    store.delete(digest)  # already gone: no error
    _expect(store.put_bytes(data) == digest and store.get_bytes(digest) == data, "re-put after delete failed")


def check_missing_artifact_not_found(harness: StoreHarness) -> None:
    """Reading an absent digest raises ArtifactNotFoundError naming the digest and the store, and
    ``get_file`` writes nothing."""
    store = harness.new_store()
    digest = sha256_bytes(b"never stored")
    with _raises(ArtifactNotFoundError, "get_bytes of a missing artifact") as raised:
        store.get_bytes(digest)
    message = str(raised.value)
    _expect(digest in message and store.url in message, f"message must name digest and store: {message!r}")
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp, "missing.bin")
        with _raises(ArtifactNotFoundError, "get_file of a missing artifact"):
            store.get_file(digest, dest)
        _expect(not dest.exists(), "get_file of a missing artifact created the destination")


def check_corrupt_artifact_refused(harness: StoreHarness) -> None:
    """An object with one flipped byte is refused by ``get_bytes`` and ``get_file``."""
    store = harness.new_store()
    data = random.Random(2).randbytes(100_000)
    digest = store.put_bytes(data)
    raw = bytearray(harness.read_raw(store, digest))
    raw[len(raw) // 2] ^= 0x01
    harness.write_raw(store, digest, bytes(raw))
    _expect_refused(store, digest, actual=sha256_bytes(bytes(raw)), what="a flipped byte")


def check_truncated_artifact_refused(harness: StoreHarness) -> None:
    """An object cut short (an interrupted copy) or emptied is refused by ``get_bytes`` and ``get_file``."""
    store = harness.new_store()
    data = random.Random(3).randbytes(100_000)
    digest = store.put_bytes(data)
    for kept in (len(data) // 2, 0):
        harness.write_raw(store, digest, data[:kept])
        _expect_refused(store, digest, actual=sha256_bytes(data[:kept]), what=f"truncation to {kept} bytes")


def check_put_repairs_truncated_artifact(harness: StoreHarness) -> None:
    """Putting the content again replaces a truncated object rather than trusting it as already stored."""
    store = harness.new_store()
    data = random.Random(4).randbytes(50_000)
    digest = store.put_bytes(data)
    harness.write_raw(store, digest, data[:100])
    store.put_bytes(data)
    _expect(_intact(store, digest, data), "put_bytes did not repair a truncated object")
    harness.write_raw(store, digest, data[:100])
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp, "again.bin")
        source.write_bytes(data)
        store.put_file(source)
    _expect(_intact(store, digest, data), "put_file did not repair a truncated object")


def check_malformed_digest_refused(harness: StoreHarness) -> None:
    """Digests that are not 64 lowercase hex characters raise ConfigError before touching storage."""
    store = harness.new_store()
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp, "out")
        for bad in BAD_DIGESTS:
            calls: dict[str, Callable[[], object]] = {
                "get_bytes": partial(store.get_bytes, bad),
                "get_file": partial(store.get_file, bad, dest),
                "exists": partial(store.exists, bad),
                "delete": partial(store.delete, bad),
            }
            for name, call in calls.items():
                with _raises(ConfigError, f"{name}({bad!r})") as raised:
                    call()
                _expect("64" in str(raised.value), f"{name}: the message must say what a digest looks like")
        _expect(not dest.exists(), "get_file with a malformed digest created the destination")


def check_concurrent_puts(harness: StoreHarness) -> None:
    """Threads storing the same content at once all succeed with one digest and leave one intact object."""
    store = harness.new_store()
    data = random.Random(5).randbytes(256 * 1024)
    digest = sha256_bytes(data)
    others = [random.Random(seed).randbytes(10_000) for seed in range(6, 14)]
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp, "same.bin")
        source.write_bytes(data)
        with ThreadPoolExecutor(max_workers=8) as pool:
            same = [pool.submit(store.put_bytes, data) for _ in range(12)]
            same += [pool.submit(store.put_file, source) for _ in range(4)]
            different = [pool.submit(store.put_bytes, other) for other in others]
            results = [future.result() for future in same]
            other_digests = [future.result() for future in different]
    _expect(set(results) == {digest}, f"concurrent puts of one content returned {set(results)}")
    _expect(store.get_bytes(digest) == data, "the object is not intact after concurrent puts")
    for other, other_digest in zip(others, other_digests, strict=True):
        _expect(store.get_bytes(other_digest) == other, "a concurrently stored artifact is not intact")


ARTIFACT_STORE_CHECKS: tuple[Callable[[StoreHarness], None], ...] = (
    check_bytes_round_trip,
    check_file_round_trip,
    check_put_is_idempotent,
    check_empty_artifact,
    check_exists_and_delete,
    check_missing_artifact_not_found,
    check_corrupt_artifact_refused,
    check_truncated_artifact_refused,
    check_put_repairs_truncated_artifact,
    check_malformed_digest_refused,
    check_concurrent_puts,
)
"""Every check, in a stable order; parametrize over it to get one test per check."""


def check_artifact_store(
    harness: StoreHarness, checks: Sequence[Callable[[StoreHarness], None]] = ARTIFACT_STORE_CHECKS
) -> None:
    """Run ``checks`` (all of them by default); the first failure propagates, noting which check it was."""
    for check in checks:
        try:
            check(harness)
        except Exception as exc:
            exc.add_note(f"in artifact store check {check.__name__}")
            raise


# --- helpers -----------------------------------------------------------------------------------------------


def _intact(store: ArtifactStore, digest: str, data: bytes) -> bool:
    try:
        return store.get_bytes(digest) == data
    except CorruptArtifactError:
        return False


def _leftovers(directory: Path, keep: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir() if path != keep)


def _expect_refused(store: ArtifactStore, digest: str, actual: str, what: str) -> None:
    with _raises(CorruptArtifactError, f"get_bytes after {what}") as raised:
        store.get_bytes(digest)
    error = raised.value
    _expect(error.digest == digest and error.actual == actual, f"CorruptArtifactError fields wrong: {error}")
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp, "fresh.bin")
        with _raises(CorruptArtifactError, f"get_file after {what}"):
            store.get_file(digest, dest)
        _expect(not dest.exists(), f"get_file after {what} left a file at dest")
        _expect(_leftovers(Path(tmp), keep=dest) == [], f"get_file after {what} left temporary files")
        kept = Path(tmp, "kept.bin")
        kept.write_bytes(b"previous version")
        with _raises(CorruptArtifactError, f"get_file over an existing file after {what}"):
            store.get_file(digest, kept)
        _expect(kept.read_bytes() == b"previous version", f"get_file after {what} clobbered dest")
