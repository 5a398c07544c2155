"""Checkpoints in the artifact store, with their pointer in the metadata store.

:class:`StoreCheckpointer` implements the flavors' :class:`~ctml.flavors.Checkpointer` protocol. A save
writes the state to the content-addressed artifact store first, then moves the pointer, the run tag
``ctml.checkpoint.<name>`` holding ``{"progress", "sha256", "size"}``, in one metadata transaction. A process
killed at any moment leaves the previous pointer (and its state) or the new one, never half of either, and a
read verifies the state's digest before handing it to a flavor. Any process that can open both stores resumes
the training: another host, after a preemption.

The state a pointer leaves behind is deleted once the pointer has moved on. A state is prefixed with the key of
its training (estimator parameters, seed, data, starting model), so another training never has the same bytes;
if two checkpointers save the *same* training to one store, give them one name.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ctml.errors import ConfigError
from ctml.hashing import canonical_json

if TYPE_CHECKING:
    from ctml.meta import MetaStore
    from ctml.store import ArtifactStore

__all__ = ["CHECKPOINT_TAG", "StoreCheckpointer"]

CHECKPOINT_TAG = "ctml.checkpoint."
"""Prefix of the run tag that points at a checkpoint: ``ctml.checkpoint.<name>``."""


class StoreCheckpointer:
    """A checkpoint of run ``run_id`` named ``name``: state in ``store``, pointer in ``meta``.

    >>> import tempfile
    >>> from ctml.meta import open_meta
    >>> from ctml.store import open_store
    >>> folder = tempfile.mkdtemp()
    >>> meta, store = open_meta(f"sqlite:///{folder}/meta.db"), open_store(f"{folder}/artifacts")
    >>> run_id = meta.runs.create("train")
    >>> checkpoint = StoreCheckpointer(store, meta, run_id, "fit")
    >>> checkpoint.load() is None
    True
    >>> checkpoint.save(2, b"state after 2 epochs")
    >>> StoreCheckpointer(store, meta, run_id, "fit").load()
    (2, b'state after 2 epochs')
    >>> sorted(json.loads(meta.runs.get(run_id).tags["ctml.checkpoint.fit"]))
    ['progress', 'sha256', 'size']
    >>> meta.close()
    """

    def __init__(self, store: ArtifactStore, meta: MetaStore, run_id: str, name: str = "train") -> None:
        if not isinstance(name, str) or not name or len(name) > 200:
            raise ConfigError(f"The 'name' parameter of StoreCheckpointer must be a non-empty string. Got {name!r}.")
        self.store = store
        self.meta = meta
        self.run_id = run_id
        self.name = name

    def __repr__(self) -> str:
        return f"StoreCheckpointer(run_id={self.run_id!r}, name={self.name!r})"

    @property
    def tag(self) -> str:
        return CHECKPOINT_TAG + self.name

    def pointer(self) -> dict[str, int | str] | None:
        """The saved ``{"progress", "sha256", "size"}``, or ``None`` when nothing was saved yet."""
        text = self.meta.runs.get(self.run_id).tags.get(self.tag)
        if text is None:
            return None
        try:
            value = json.loads(text)
            pointer: dict[str, int | str] = {
                "progress": int(value["progress"]),
                "sha256": str(value["sha256"]),
                "size": int(value["size"]),
            }
        except (ValueError, KeyError, TypeError):
            raise ConfigError(
                f"The run tag {self.tag!r} of run {self.run_id} is not a checkpoint pointer: {text!r}."
            ) from None
        return pointer

    def load(self) -> tuple[int, bytes] | None:
        pointer = self.pointer()
        if pointer is None:
            return None
        return int(pointer["progress"]), self.store.get_bytes(str(pointer["sha256"]))

    def save(self, progress: int, state: bytes) -> None:
        previous = self.pointer()
        digest = self.store.put_bytes(state)
        pointer = {"progress": int(progress), "sha256": digest, "size": len(state)}
        self.meta.runs.log(self.run_id, tags={self.tag: canonical_json(pointer)})
        if previous is not None and previous["sha256"] != digest:
            self.store.delete(str(previous["sha256"]))
