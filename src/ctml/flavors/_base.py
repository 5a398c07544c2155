"""The flavor port: one small protocol every model kind implements, and the checkpoint protocol beside it.

A flavor is stateless: it knows how to fit, update, predict with, save and load *one kind* of model, and the
fitted objects it returns are opaque to the rest of ctml. Labels reach a flavor as integer codes ``0..k-1``
(see :func:`~ctml.flavors._signature.encode_labels`), so every flavor answers ``predict_proba`` with the
columns in the same order, and label types (strings, booleans) never reach a library that dislikes them.

Checkpoints are ``(progress, state)`` pairs: progress counts finished units of work (epochs, boosting
rounds), state is flavor-defined bytes. Each state is prefixed with a key derived from the estimator's
parameters, the seed and the data, so a checkpoint left by *another* training is refused instead of being
silently resumed.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import struct
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ctml.errors import ConfigError, CorruptArtifactError, MissingExtraError
from ctml.flavors._signature import Signature, Task
from ctml.hashing import canonical_json

__all__ = [
    "CAPABILITIES",
    "Checkpointer",
    "FileCheckpointer",
    "Learns",
    "ModelFlavor",
    "jsonable_params",
    "pack",
    "require",
    "resume",
    "save_progress",
    "training_key",
    "unpack",
]

CAPABILITIES = frozenset({"proba", "warm_start", "incremental", "checkpoint", "learn"})
"""What a flavor may declare: ``proba`` (class probabilities), ``warm_start`` (``fit(init=...)`` continues from a
fitted model), ``incremental`` (``partial_fit``), ``checkpoint`` (``fit(checkpoint=...)`` saves and resumes),
``learn`` (``learn(fitted, X, y, signature)`` updates a fitted object in place: what a server does with labels;
see :class:`Learns`)."""


@runtime_checkable
class ModelFlavor(Protocol):
    """Fit, update, predict with, save and load one kind of model.

    ``X`` is always a C-contiguous float64 matrix in the signature's column order; ``y`` holds integer class
    codes (classification) or float64 targets (regression). Fitted objects are never mutated: ``fit`` and
    ``partial_fit`` return new ones.
    """

    name: str
    """The registry name, stored in every envelope (``sklearn``, ``lightgbm``, ...)."""
    format: str
    """The payload format ``dumps`` writes, stored in every envelope (``skops``, ``pickle``, ...)."""
    capabilities: frozenset[str]
    """A subset of :data:`CAPABILITIES`."""
    requires: tuple[str, ...]
    """The distributions whose versions the envelope records."""

    def task_of(self, estimator: Any) -> Task:
        """Whether an unfitted estimator is a classifier or a regressor."""
        ...

    def fit(
        self,
        estimator: Any,
        X: np.ndarray,
        y: np.ndarray,
        signature: Signature,
        *,
        seed: int,
        init: Any = None,
        checkpoint: Checkpointer | None = None,
    ) -> Any:
        """A fitted copy of ``estimator``; ``init`` (a fitted object of this flavor) is continued from."""
        ...

    def partial_fit(self, fitted: Any, X: np.ndarray, y: np.ndarray, signature: Signature) -> Any:
        """A copy of ``fitted`` that has also learned from ``X``, ``y``."""
        ...

    def predict(self, fitted: Any, X: np.ndarray, signature: Signature) -> np.ndarray:
        """Class codes (classification) or float64 values (regression), one per row."""
        ...

    def predict_proba(self, fitted: Any, X: np.ndarray, signature: Signature) -> np.ndarray:
        """Probabilities of shape ``(rows, len(signature.classes))``, rows summing to 1."""
        ...

    def dumps(self, fitted: Any) -> bytes:
        """The fitted object in this flavor's ``format``."""
        ...

    def loads(self, data: bytes) -> Any:
        """The fitted object ``dumps`` wrote. Callers verify the bytes' digest first."""
        ...


@runtime_checkable
class Learns(Protocol):
    """A flavor that updates a fitted object in place, row after row (``learn`` in its capabilities)."""

    def learns(self, fitted: Any) -> bool:
        """Whether this fitted object can learn in place (a flavor may hold some kinds that cannot)."""
        ...

    def learn(self, fitted: Any, X: np.ndarray, y: np.ndarray, signature: Signature) -> None:
        """Learn ``X``, ``y`` into ``fitted`` itself, in row order (the only flavor call that mutates)."""
        ...


@runtime_checkable
class Checkpointer(Protocol):
    """Where a long training saves its progress, so a killed or preempted run resumes instead of restarting."""

    def load(self) -> tuple[int, bytes] | None:
        """The last saved ``(progress, state)``, or ``None`` when nothing was saved yet."""
        ...

    def save(self, progress: int, state: bytes) -> None:
        """Replace the saved progress and state, atomically: a crash leaves the old pair or the new, never half."""
        ...


class FileCheckpointer:
    """A checkpoint in one local file, replaced atomically (temporary file, fsync, rename, fsync of the folder).

    >>> import tempfile, os
    >>> c = FileCheckpointer(os.path.join(tempfile.mkdtemp(), "run.ckpt"))
    >>> c.load() is None
    True
    >>> c.save(3, b"state")
    >>> c.load()
    (3, b'state')
    """

    _HEADER = struct.Struct(">8sQ32s")
    _MAGIC = b"ctmlckpt"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"FileCheckpointer({str(self.path)!r})"

    def load(self) -> tuple[int, bytes] | None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        if len(data) < self._HEADER.size:
            raise CorruptArtifactError("(checkpoint)", "(truncated)", str(self.path))
        magic, progress, digest = self._HEADER.unpack_from(data)
        state = data[self._HEADER.size :]
        actual = hashlib.sha256(state).digest()
        if magic != self._MAGIC or actual != digest:
            raise CorruptArtifactError(digest.hex(), actual.hex(), str(self.path))
        return int(progress), state

    def save(self, progress: int, state: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        header = self._HEADER.pack(self._MAGIC, progress, hashlib.sha256(state).digest())
        handle, temp_name = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(header)
                out.write(state)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp_name, self.path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        _fsync_dir(self.path.parent)


def _fsync_dir(directory: Path) -> None:
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


# --- helpers the flavors share ------------------------------------------------------------------------------


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Import ``module``, or raise :class:`MissingExtraError` naming ``pip install 'ctml[extra]'``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(extra, purpose, module.split(".", maxsplit=1)[0]) from exc


_LEN = struct.Struct(">Q")


def pack(header: dict[str, Any], *blobs: bytes) -> bytes:
    """A JSON header and binary blobs in one byte string: each part is length-prefixed (8 bytes, big-endian)."""
    parts = [canonical_json(header).encode(), *blobs]
    return b"".join(_LEN.pack(len(part)) + part for part in parts)


def unpack(data: bytes, blobs: int) -> tuple[dict[str, Any], list[bytes]]:
    """The header and exactly ``blobs`` blobs :func:`pack` wrote; anything else is a :class:`ConfigError`."""
    parts: list[bytes] = []
    offset = 0
    while offset < len(data):
        if offset + _LEN.size > len(data):
            break
        (size,) = _LEN.unpack_from(data, offset)
        offset += _LEN.size
        if offset + size > len(data):
            break
        parts.append(data[offset : offset + size])
        offset += size
    if offset != len(data) or len(parts) != blobs + 1:
        raise ConfigError("These bytes are not a ctml model payload: their framing is broken or truncated.")
    try:
        header = json.loads(parts[0])
    except ValueError:
        raise ConfigError("These bytes are not a ctml model payload: the header is not JSON.") from None
    if not isinstance(header, dict):
        raise ConfigError("These bytes are not a ctml model payload: the header is not a JSON object.")
    return header, parts[1:]


def training_key(params: Any, seed: int, X: np.ndarray, y: np.ndarray, init: bytes | None = None) -> bytes:
    """32 bytes that identify one training: estimator parameters, seed, data and starting model."""
    digest = hashlib.sha256(canonical_json({"params": params, "seed": seed, "shape": list(X.shape)}).encode())
    digest.update(np.ascontiguousarray(X).tobytes())
    digest.update(np.ascontiguousarray(y).tobytes())
    digest.update(init or b"")
    return digest.digest()


def resume(checkpoint: Checkpointer | None, key: bytes) -> tuple[int, bytes] | None:
    """The saved ``(progress, state)`` of *this* training, ``None`` to start afresh.

    A checkpoint saved by another training (other parameters, seed, data or starting model) is refused: resuming
    it would mix two trainings into a model nobody asked for.
    """
    if checkpoint is None:
        return None
    saved = checkpoint.load()
    if saved is None:
        return None
    progress, state = saved
    if state[: len(key)] != key:
        raise ConfigError(
            f"The checkpoint {checkpoint!r} was saved by another training (different parameters, seed, data or "
            "starting model), so it cannot be resumed here. Delete it, or give this training its own checkpoint."
        )
    return progress, state[len(key) :]


def save_progress(checkpoint: Checkpointer | None, key: bytes, progress: int, state: bytes) -> None:
    if checkpoint is not None:
        checkpoint.save(progress, key + state)


def jsonable_params(params: dict[str, Any]) -> dict[str, Any]:
    """Estimator parameters with anything that is not plain JSON replaced by its ``repr``."""
    out: dict[str, Any] = {}
    for name, value in sorted(params.items()):
        if isinstance(value, float) and not np.isfinite(value):
            out[name] = repr(value)  # NaN and inf are not JSON
        elif value is None or isinstance(value, bool | int | float | str):
            out[name] = value
        elif isinstance(value, list | tuple) and all(isinstance(v, bool | int | float | str) for v in value):
            out[name] = list(value)
        else:
            out[name] = repr(value)
    return out
