"""The scale-out artifact store: a bucket (and optional prefix) on any S3-compatible server, via s3fs.

Objects live at ``s3://<bucket>/<prefix>/sha256/ab/cd/<digest>``. S3 makes an object visible only once its
upload completed, so a crash never exposes half an artifact; large files go up as a multipart upload that
is completed only after the bytes were re-hashed and matched (an abandoned one stays invisible — a bucket
lifecycle rule that aborts incomplete multipart uploads reclaims its space).

The endpoint is, in order: the ``endpoint_url`` argument, ``endpoint_url`` in the s3fs options, the
``CTML_S3_ENDPOINT_URL`` variable, then ``AWS_ENDPOINT_URL``; with none of them, AWS itself.

Failures are translated at this one boundary, so users see ctml errors, not botocore tracebacks:

- the endpoint cannot be reached -> :class:`~ctml.errors.BackendUnavailableError` naming the endpoint;
- the bucket does not exist -> :class:`~ctml.errors.ConfigError` naming the bucket (a misconfiguration,
  not a missing artifact, so it is never reported as "not found" and ``exists`` never answers ``False``);
- no credentials -> :class:`~ctml.errors.ConfigError` saying where credentials come from.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from ctml.errors import BackendUnavailableError, ConfigError, ConflictError, MissingExtraError
from ctml.hashing import sha256_bytes, sha256_file
from ctml.store._base import (
    CHUNK_SIZE,
    not_found,
    object_key,
    require_digest,
    verified,
    write_verified,
)

__all__ = ["S3ArtifactStore"]

_MIN_PART = 5 * 2**20  # S3's smallest multipart part
_DEFAULT_BLOCK = 16 * 2**20
_FSSPEC_OPTIONS = {"skip_instance_cache", "use_listings_cache", "listings_expiry_time", "max_paths"}


class S3ArtifactStore:
    """Artifacts as objects in an S3 bucket, written and read in streamed blocks.

    Parameters
    ----------
    url:
        ``s3://bucket`` or ``s3://bucket/prefix``.
    endpoint_url:
        The server, for S3-compatible stores (MinIO, Ceph, R2, moto); see the module docstring for fallbacks.
    connect_timeout, max_attempts:
        Seconds to wait for a connection, and tries per request (s3fs and botocore each retry; this caps
        both).
        ``None`` keeps their defaults, which ride out short outages at the cost of slow failure.
    block_size:
        Bytes per multipart part and per ranged read: the memory one transfer holds at most. At least 5 MiB.
    environ:
        Where the endpoint variables are read; ``os.environ`` when ``None``. Read here, not at import.
    storage_options:
        Passed to ``s3fs.S3FileSystem`` (``key``, ``secret``, ``client_kwargs``, ``config_kwargs``, ...).
    """

    def __init__(
        self,
        url: str,
        *,
        endpoint_url: str | None = None,
        connect_timeout: float | None = None,
        max_attempts: int | None = None,
        block_size: int = _DEFAULT_BLOCK,
        environ: Mapping[str, str] | None = None,
        **storage_options: Any,
    ) -> None:
        self._bucket, self._prefix = _parse_url(url)
        if block_size < _MIN_PART:
            raise ConfigError(
                f"The 'block_size' parameter of S3ArtifactStore must be at least {_MIN_PART} bytes (5 MiB, "
                f"the smallest S3 multipart part). Got {block_size} instead."
            )
        if max_attempts is not None and max_attempts < 1:
            raise ConfigError(
                f"The 'max_attempts' parameter of S3ArtifactStore must be an int >= 1. Got {max_attempts}."
            )
        s3fs = _import_s3fs()
        _reject_unknown_options(s3fs, storage_options)
        options = dict(storage_options)
        self._endpoint = _resolve_endpoint(endpoint_url, options, os.environ if environ is None else environ)
        if self._endpoint is not None and "endpoint_url" not in (options.get("client_kwargs") or {}):
            options["endpoint_url"] = self._endpoint
        config = dict(options.pop("config_kwargs", None) or {})
        if connect_timeout is not None:
            config["connect_timeout"] = connect_timeout
        if max_attempts is not None:
            config["retries"] = {"total_max_attempts": max_attempts}
        # A private, uncached file system: listings cached by a shared instance would make exists() stale.
        options.setdefault("skip_instance_cache", True)
        options.setdefault("use_listings_cache", False)
        self._fs = s3fs.S3FileSystem(config_kwargs=config, **options)
        if max_attempts is not None:
            self._fs.retries = max_attempts
        self._block_size = block_size
        self._bucket_seen = False

    @classmethod
    def from_url(cls, url: str, **options: Any) -> S3ArtifactStore:
        """The store for an ``s3://`` URL, as :func:`ctml.store.open_store` calls it."""
        return cls(url, **options)

    @property
    def url(self) -> str:
        return f"s3://{self._bucket}/{self._prefix}".rstrip("/")

    def __repr__(self) -> str:
        return f"S3ArtifactStore({self.url!r}, endpoint_url={self._endpoint!r})"

    def put_bytes(self, data: bytes) -> str:
        digest = sha256_bytes(data)
        key = self._key(digest)
        with self._translated():
            if self._stored_size(key) != len(data):
                self._write(lambda: self._fs.pipe_file(key, data))
        return digest

    def put_file(self, path: str | os.PathLike[str]) -> str:
        # Hash first, so content that is already stored costs a read of the local file and one HEAD.
        digest = sha256_file(os.fspath(path))
        size = os.path.getsize(path)
        key = self._key(digest)
        with self._translated():
            if self._stored_size(key) != size:
                self._write(lambda: self._upload(path, digest, key))
        return digest

    def get_bytes(self, digest: str) -> bytes:
        key = self._key(require_digest(digest))
        with self._translated():
            try:
                data: bytes = self._fs.cat_file(key)
            except FileNotFoundError:
                raise self._missing(digest) from None
        return verified(digest, data, f"s3://{key}")

    def get_file(self, digest: str, dest: str | os.PathLike[str]) -> Path:
        key = self._key(require_digest(digest))
        with self._translated():
            try:
                remote = self._fs.open(key, "rb", block_size=self._block_size, cache_type="none")
            except FileNotFoundError:
                raise self._missing(digest) from None
            with remote:
                chunks = iter(lambda: bytes(remote.read(self._block_size)), b"")
                return write_verified(digest, chunks, dest, f"s3://{key}")

    def exists(self, digest: str) -> bool:
        key = self._key(require_digest(digest))
        with self._translated():
            return self._stored_size(key) is not None

    def delete(self, digest: str) -> None:
        key = self._key(require_digest(digest))
        with self._translated():
            try:
                self._fs.rm_file(key)
            except FileNotFoundError:
                # S3 deletes of absent keys succeed; this is the bucket itself missing.
                self._require_bucket()
                raise

    def _key(self, digest: str) -> str:
        return "/".join(part for part in (self._bucket, self._prefix, object_key(digest)) if part)

    def _stored_size(self, key: str) -> int | None:
        bucket, _, name = key.partition("/")
        try:
            head = self._fs.call_s3("head_object", Bucket=bucket, Key=name)
        except FileNotFoundError:
            self._require_bucket()
            return None
        return int(head["ContentLength"])

    def _write(self, upload: Callable[[], object]) -> None:
        try:
            upload()
        except FileNotFoundError:
            self._require_bucket()
            raise

    def _upload(self, path: str | os.PathLike[str], digest: str, key: str) -> None:
        """Stream a file up as a multipart upload that is completed only if the bytes still match ``digest``.

        The file is read twice (hashed, then sent); if it changed in between, the upload is aborted rather
        than leaving other bytes under this digest's key.
        """
        remote = self._fs.open(key, "wb", block_size=self._block_size, autocommit=False)
        hasher = hashlib.sha256()
        try:
            with open(path, "rb") as source:
                while chunk := source.read(CHUNK_SIZE):
                    hasher.update(chunk)
                    remote.write(chunk)
            remote.close()
            if hasher.hexdigest() != digest:
                raise ConflictError(
                    f"The file {os.fspath(path)!r} changed while it was being stored (its digest went from "
                    f"{digest} to {hasher.hexdigest()}); nothing was stored. Store it once it is complete."
                )
            remote.commit()
        except BaseException:
            with suppress(Exception):
                remote.close()
            with suppress(Exception):
                remote.discard()
            raise

    def _missing(self, digest: str) -> Exception:
        self._require_bucket()
        return not_found(digest, self.url)

    def _require_bucket(self) -> None:
        """Tell a missing bucket (a configuration error) apart from a missing object; checked once."""
        if self._bucket_seen:
            return
        try:
            self._fs.call_s3("head_bucket", Bucket=self._bucket)
        except FileNotFoundError:
            raise ConfigError(
                f"The bucket {self._bucket!r} of artifact store {self.url} does not exist at "
                f"{self._endpoint_text()}. Create it (for example: aws s3 mb s3://{self._bucket}) or fix the "
                "store URL."
            ) from None
        except PermissionError:
            pass  # allowed to use objects but not to look at the bucket: it exists
        self._bucket_seen = True

    def _endpoint_text(self) -> str:
        return self._endpoint or "the default AWS endpoint"

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """Turn transport and credential failures into ctml errors that say what to check."""
        # botocore comes with s3fs; imported by name so that this module imports without it.
        boto = importlib.import_module("botocore.exceptions")
        try:
            yield
        except (boto.ConnectionError, boto.HTTPClientError, TimeoutError) as exc:
            raise BackendUnavailableError(
                f"Cannot reach the S3 endpoint {self._endpoint_text()} for artifact store {self.url}: {exc}. "
                "Check that the server is running and that endpoint_url, CTML_S3_ENDPOINT_URL or "
                "AWS_ENDPOINT_URL points at it."
            ) from exc
        except boto.NoCredentialsError as exc:
            raise ConfigError(
                f"No S3 credentials for artifact store {self.url}. Set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, configure an AWS profile, or pass key= and secret= to open_store."
            ) from exc


def _parse_url(url: str) -> tuple[str, str]:
    scheme, sep, rest = url.partition("://")
    bucket, _, prefix = rest.partition("/")
    if scheme != "s3" or not sep or not bucket:
        raise ConfigError(
            f"An S3 artifact store URL looks like s3://bucket or s3://bucket/prefix. Got {url!r} instead."
        )
    return bucket, prefix.strip("/")


def _resolve_endpoint(explicit: str | None, options: dict[str, Any], environ: Mapping[str, str]) -> str | None:
    candidates = (
        explicit,
        options.pop("endpoint_url", None),
        (options.get("client_kwargs") or {}).get("endpoint_url"),
        environ.get("CTML_S3_ENDPOINT_URL"),
        environ.get("AWS_ENDPOINT_URL"),
    )
    return next((str(value) for value in candidates if value), None)


def _reject_unknown_options(s3fs: Any, options: Mapping[str, Any]) -> None:
    """Refuse a misspelt option now, rather than as a TypeError from aiobotocore at the first request."""
    session = importlib.import_module("aiobotocore.session").AioSession
    known = (
        set(inspect.signature(s3fs.S3FileSystem.__init__).parameters)
        | set(inspect.signature(session.__init__).parameters)  # s3fs passes the rest to the session
        | _FSSPEC_OPTIONS
    ) - {"self", "kwargs"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(
            f"The S3 artifact store does not take the option(s) {', '.join(map(repr, unknown))}. It takes "
            "endpoint_url, connect_timeout, max_attempts, block_size, environ, and the options of "
            f"s3fs.S3FileSystem: {', '.join(sorted(known))}."
        )


def _import_s3fs() -> Any:
    try:
        import s3fs
    except ImportError as exc:
        raise MissingExtraError("s3", "The S3 artifact store", "s3fs") from exc
    return s3fs
