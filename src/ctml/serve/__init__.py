"""Model serving (L2 domain): registry aliases over HTTP, every prediction logged without blocking.

:class:`ModelServer` is a Starlette app serving one or more apps (``POST /v1/apps/{app}/predict`` and
``/feedback``, ``/healthz``, ``/readyz``, ``/metrics``, ``/openapi.json``); requests are checked against the
model's signature. Predictions go to a bounded queue and a writer thread (:class:`PredictionLog`); a
:class:`Watcher` hot-swaps moved aliases; a :class:`Router` splits traffic by a route table read from the
store (champion / canary / shadow); :class:`TokenAuth` checks API tokens with roles;
:meth:`ModelServer.answer_block` answers a :class:`Block` of known traffic (a backtest) without a request a
row. ``docs/serving.md`` is the guide.
"""

from ctml.serve._auth import ROLES, TokenAuth, TokenCache, create_token, hash_token
from ctml.serve._block import Arrival, Block, BlockAnswer
from ctml.serve._codec import BadRequest, RowCodec
from ctml.serve._config import AppSpec, ServeConfig
from ctml.serve._loaded import LoadedModel, load_version
from ctml.serve._log import LogChunk, PredictionLog
from ctml.serve._router import ActiveRoutes, Router, RouteSpec, bucket
from ctml.serve._run import run_server
from ctml.serve._server import ModelServer
from ctml.serve._watcher import AppSlot, Watcher

__all__ = [
    "ROLES",
    "ActiveRoutes",
    "AppSlot",
    "AppSpec",
    "Arrival",
    "BadRequest",
    "Block",
    "BlockAnswer",
    "LoadedModel",
    "LogChunk",
    "ModelServer",
    "PredictionLog",
    "RouteSpec",
    "Router",
    "RowCodec",
    "ServeConfig",
    "TokenAuth",
    "TokenCache",
    "Watcher",
    "bucket",
    "create_token",
    "hash_token",
    "load_version",
    "run_server",
]
