"""``open_store``: from a URL to an artifact store, importing only the backend the URL names.

Backends are registered by URL scheme with an import path, not imported up front (Metaflow's plugin
registry does the same): ``import ctml`` stays fast, and the S3 extra is only needed by someone who asks
for ``s3://``. A plain path, with no scheme, means a local directory.

>>> import tempfile
>>> open_store(tempfile.mkdtemp()).url.startswith("file:///")
True
>>> open_store("ftp://host/artifacts")
Traceback (most recent call last):
  ...
ctml.errors.UnknownBackendError: Unknown artifact store URL scheme 'ftp' in 'ftp://host/artifacts'. \
Expected one of: file, s3, for example file:///path.
"""

from __future__ import annotations

import importlib
import re
from typing import Any, cast

from ctml.errors import ConfigError, UnknownBackendError
from ctml.store._base import ArtifactStore

__all__ = ["BACKENDS", "open_store"]

BACKENDS: dict[str, str] = {
    "file": "ctml.store._local:LocalArtifactStore",
    "s3": "ctml.store._s3:S3ArtifactStore",
}
"""URL scheme -> ``module:Class`` of the backend; the class has ``from_url(url, **options)``.
``file`` comes first because it is the example shown when a scheme is unknown."""

# Two characters at least, so that a Windows drive ('C:\\x') reads as a path, not as the scheme 'c'.
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")


def open_store(url: str, **options: Any) -> ArtifactStore:
    """The artifact store at ``url``: ``file:///abs/path``, a plain path, or ``s3://bucket/prefix``.

    ``options`` go to the backend: for S3, for example ``endpoint_url``, ``connect_timeout``,
    ``max_attempts``, ``key`` and ``secret``; a local directory takes none.
    """
    if not url:
        raise ConfigError("The artifact store URL is empty. Give a directory, file:///abs/path or s3://bucket/prefix.")
    match = _SCHEME.match(url)
    scheme = match.group(1).lower() if match else "file"
    target = BACKENDS.get(scheme)
    if target is None:
        raise UnknownBackendError(url, "artifact store", list(BACKENDS))
    module_name, _, class_name = target.partition(":")
    backend = getattr(importlib.import_module(module_name), class_name)
    return cast(ArtifactStore, backend.from_url(url, **options))
