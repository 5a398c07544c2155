"""Content-addressed artifact storage (L1 port): models, datasets and profiles, keyed by their sha256.

Pick a backend by URL with :func:`open_store`; every backend satisfies :class:`ArtifactStore` and passes the
conformance suite in :mod:`ctml.testing.store`.

>>> import tempfile
>>> store = open_store(tempfile.mkdtemp())
>>> digest = store.put_bytes(b"model bytes")
>>> store.get_bytes(digest), store.put_bytes(b"model bytes") == digest
(b'model bytes', True)
"""

from ctml.store._base import ArtifactStore
from ctml.store._local import LocalArtifactStore
from ctml.store._open import open_store
from ctml.store._s3 import S3ArtifactStore

__all__ = ["ArtifactStore", "LocalArtifactStore", "S3ArtifactStore", "open_store"]
