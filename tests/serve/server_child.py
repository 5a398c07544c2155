"""Run a model server in its own process: ``python server_child.py META_URL ARTIFACTS PORT CAPACITY BATCH``."""

from __future__ import annotations

import sys

from ctml.meta import open_meta
from ctml.registry import ModelRegistry
from ctml.serve import AppSpec, ModelServer, ServeConfig, run_server
from ctml.store import open_store

if __name__ == "__main__":
    meta_url, artifacts, port, capacity, batch = sys.argv[1:6]
    registry = ModelRegistry(open_meta(meta_url), open_store(artifacts))
    config = ServeConfig([AppSpec("elec", "elec")], poll_s=0.2, log_capacity=int(capacity), log_batch_rows=int(batch))
    run_server(ModelServer(config, registry), port=int(port))
