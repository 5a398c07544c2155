"""The servers ``ctml bench serve`` measures, each started as its own process under one uvicorn worker.

``python -m ctml.bench._serve_apps ctml META_URL ARTIFACTS PORT``: ``ctml serve``'s server (``run_server``),
logging on. ``ctml_sklearn`` instead of ``ctml``: the same, as ``ctml serve --no-fast-path`` (the model answered
through scikit-learn's ``predict`` and ``predict_proba``, as the bare app does).
``python -m ctml.bench._serve_apps bare MODEL_FILE PORT``: a bare Starlette app: parse, predict, answer;
no validation beyond what numpy does, no ids, no log, no metrics.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np


def _run(app: Any, port: int) -> None:
    import uvicorn

    uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)).run()


def ctml_server(meta_url: str, artifacts: str, *, fast_path: bool = True) -> Any:
    from ctml.meta import open_meta
    from ctml.registry import ModelRegistry
    from ctml.serve import AppSpec, ModelServer, ServeConfig
    from ctml.store import open_store

    registry = ModelRegistry(open_meta(meta_url), open_store(artifacts))
    return ModelServer(ServeConfig([AppSpec("elec", "elec")], poll_s=5.0, fast_path=fast_path), registry)


def bare_app(model_file: str) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from ctml.flavors import Model

    with open(model_file, "rb") as f:
        model = Model.from_bytes(f.read())
    names = model.signature.feature_names
    estimator = model.estimator
    classes = np.asarray(model.signature.classes, dtype=object)

    async def predict(request: Request) -> JSONResponse:
        payload = json.loads(await request.body())
        rows = payload.get("rows", [payload])
        X = np.array([[r[n] for n in names] for r in rows], dtype=np.float64)
        labels = classes[estimator.predict(X)].tolist()
        proba = estimator.predict_proba(X).tolist()
        return JSONResponse({"predictions": labels, "probabilities": proba})

    async def ping(request: Request) -> JSONResponse:
        return JSONResponse({})

    return Starlette(routes=[Route("/predict", predict, methods=["POST"]), Route("/ping", ping)])


if __name__ == "__main__":
    kind = sys.argv[1]
    if kind in ("ctml", "ctml_sklearn"):
        from ctml.serve import run_server

        # exactly what `ctml serve` runs
        run_server(ctml_server(sys.argv[2], sys.argv[3], fast_path=kind == "ctml"), port=int(sys.argv[4]))
    else:
        _run(bare_app(sys.argv[2]), int(sys.argv[3]))
