"""A model server that learns: ``python learner_child.py META_URL ARTIFACTS PORT SNAPSHOT_LABELS``."""

from __future__ import annotations

import sys

from ctml.meta import open_meta
from ctml.registry import ModelRegistry
from ctml.serve import AppSpec, ModelServer, ServeConfig, run_server
from ctml.store import open_store

if __name__ == "__main__":
    meta_url, artifacts, port, every = sys.argv[1:5]
    registry = ModelRegistry(open_meta(meta_url), open_store(artifacts))
    config = ServeConfig([AppSpec("online", "online")], poll_s=0.2, snapshot_labels=int(every), snapshot_s=3600)
    run_server(ModelServer(config, registry), port=int(port))
