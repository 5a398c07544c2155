"""Content hashing: sha256 of bytes, files and canonical JSON.

Artifacts are addressed by the sha256 of their bytes; params and specs by the sha256 of their canonical JSON
(sorted keys, no whitespace), so equal values give equal digests on every machine.

>>> sha256_bytes(b"ctml")
'adc94afbf23715840619bf1ce3b29ccdd4a9e0361f90159bbda8e909e5c5a800'
>>> sha256_json({"b": 1, "a": [1, 2]}) == sha256_json({"a": [1, 2], "b": 1})
True
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

__all__ = ["DIGEST_RE", "canonical_json", "is_digest", "sha256_bytes", "sha256_file", "sha256_json"]

DIGEST_RE = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20


def is_digest(value: str) -> bool:
    """Whether ``value`` is a lowercase hex sha256 digest."""
    return bool(DIGEST_RE.fullmatch(value))


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    """Digest of a file's bytes, read in 1 MiB chunks so memory stays flat."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: one text per value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def sha256_json(value: Any) -> str:
    return sha256_bytes(canonical_json(value).encode())
