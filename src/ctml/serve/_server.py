"""The ASGI app: predict, feedback, health, readiness, metrics and the OpenAPI document, for one or more apps.

The predict path does no I/O: it reads the app's :class:`ActiveRoutes` once, checks the body against the
served version's signature, predicts, queues the log record and answers. Loading models, writing the log and
refreshing tokens happen on threads. Every bad request is a 4xx whose message names the field.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ctml.clock import Clock, WallClock
from ctml.ids import new_id
from ctml.meta import MetaStore
from ctml.registry import ModelRegistry
from ctml.serve._auth import TokenAuth, TokenCache
from ctml.serve._block import Block, BlockAnswer, answer_block
from ctml.serve._codec import BadRequest, dumps, parse_json
from ctml.serve._config import ServeConfig
from ctml.serve._feedback import parse_feedback
from ctml.serve._learner import Learners
from ctml.serve._loaded import LoadedModel
from ctml.serve._log import LogChunk, PredictionLog
from ctml.serve._metrics import ServeMetrics
from ctml.serve._openapi import openapi_document
from ctml.serve._router import ActiveRoutes, Router
from ctml.serve._watcher import AppSlot, Watcher

__all__ = ["ModelServer"]

_log = logging.getLogger("ctml.serve")
_JSON = "application/json"


class ModelServer:
    """Serves registry aliases over HTTP. ``server.app`` is the ASGI app; run it with uvicorn.

    Starting (the ASGI lifespan, or :meth:`start`) starts the log writer and loads every app's models in the
    background; ``/readyz`` answers 200 once all are loaded. Stopping flushes the prediction log.
    """

    def __init__(
        self,
        config: ServeConfig,
        registry: ModelRegistry,
        *,
        clock: Clock | None = None,
        router: Router | None = None,
    ) -> None:
        self.config = config
        self.registry = registry
        self.meta: MetaStore = registry.meta
        self.clock = clock or WallClock()
        self.router = router or Router()
        self.slots = {spec.name: AppSlot(spec) for spec in config.apps}
        self.log = PredictionLog(
            self.meta, capacity=config.log_capacity, batch_rows=config.log_batch_rows, clock=self.clock
        )
        self.metrics = ServeMetrics(self.log)
        self._children: dict[tuple[str, str, int, str, int], tuple[Any, Any, Any]] = {}
        self.tokens = TokenCache(self.meta, self.clock)
        self.learners = Learners(self.meta, registry.artifacts, self.clock, every_labels=config.snapshot_labels,
                                 every_s=config.snapshot_s, learn=config.learn)  # fmt: skip
        self.watcher = Watcher(
            registry,
            list(self.slots.values()),
            poll_s=config.poll_s,
            max_rows=config.max_batch_rows,
            fast_path=config.fast_path,
            on_swap=lambda slot: self.metrics.swaps.labels(slot.spec.name).inc(),
            on_failure=lambda slot: self.metrics.load_failures.labels(slot.spec.name).inc(),
            on_poll=self.tokens.refresh,
            prepare=self.learners.restore if config.learn else self.learners.follow,
            on_routes=self._routes_changed,
            refresh=None if config.learn else self.learners.newer,
        )
        self._started = False
        self.app = Starlette(
            routes=[  # predict first: Starlette tries the routes in order, on every request
                Route("/v1/apps/{app}/predict", self._predict, methods=["POST"]),
                Route("/healthz", self._healthz, methods=["GET"]),
                Route("/readyz", self._readyz, methods=["GET"]),
                Route("/metrics", self._metrics, methods=["GET"]),
                Route("/openapi.json", self._openapi, methods=["GET"]),
                Route("/v1/apps", self._apps, methods=["GET"]),
                Route("/v1/apps/{app}", self._app_info, methods=["GET"]),
                Route("/v1/apps/{app}/feedback", self._feedback, methods=["POST"]),
                Route("/v1/apps/{app}/reload", self._reload, methods=["POST"]),
            ],
            middleware=[Middleware(TokenAuth, tokens=self.tokens, rule=self._rule)],
            exception_handlers={HTTPException: self._http_error, Exception: self._internal_error},
            lifespan=self._lifespan,
        )

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self, *, wait: bool = False) -> None:
        """Start the log writer and the watcher; load models now (``wait``) or in the background."""
        if self._started:
            return
        self._started = True
        self.log.start()
        self.tokens.refresh()
        if wait:
            self.watcher.poll()
            self.watcher.start()
        else:
            self.watcher.start()
            self.watcher.trigger()

    def stop(self) -> bool:
        """Stop polling, snapshot what the learners learned and write every queued prediction; True when nothing
        was left unwritten."""
        self.watcher.stop()
        try:
            self.learners.flush()
        except Exception:  # a failed snapshot costs a replay at the next start, never the stop
            _log.exception("Writing the learners' snapshots failed; the next start re-learns from the log.")
        done = self.log.close()
        self._started = False
        return done

    @property
    def ready(self) -> bool:
        return all(slot.routes is not None for slot in self.slots.values())

    @asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self.start()
        try:
            yield
        finally:
            await run_in_threadpool(self.stop)

    def answer_block(self, app: str, block: Block) -> BlockAnswer:
        """Answer a block of known traffic (rows, and the labels that arrive among them) as ``/predict`` and
        ``/feedback`` would, row by row, without a request per row: see :mod:`ctml.serve._block`."""
        return answer_block(self, app, block)

    # -- auth rules ----------------------------------------------------------------------------------------------

    def _rule(self, method: str, path: str) -> str | None:
        if path in ("/healthz", "/readyz", "/openapi.json"):
            return None
        if path.startswith("/v1/apps/") and method == "POST":
            if path.endswith(("/predict", "/feedback")):
                return "predict" if self.config.require_token_for_predict else None
            return "operate"
        if path == "/metrics" or (method == "GET" and path.startswith("/v1/apps") and path.count("/") <= 3):
            return "read"
        return None  # no such endpoint: let it be a plain 404

    # -- endpoints -----------------------------------------------------------------------------------------------

    async def _healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def _readyz(self, request: Request) -> Response:
        waiting = {name: slot.last_error for name, slot in self.slots.items() if slot.routes is None}
        if waiting:
            return JSONResponse({"status": "loading", "waiting": waiting}, status_code=503)
        return JSONResponse({"status": "ready", "apps": {n: r.versions for n, r in self._loaded()}})

    async def _metrics(self, request: Request) -> Response:
        return Response(self.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    async def _openapi(self, request: Request) -> Response:
        return JSONResponse(openapi_document(self))

    async def _apps(self, request: Request) -> Response:
        return JSONResponse({"apps": [self._describe(slot) for slot in self.slots.values()]})

    async def _app_info(self, request: Request) -> Response:
        try:
            return JSONResponse(self._describe(self._slot(request)))
        except BadRequest as exc:
            return self._error(exc, "-", "info")

    async def _reload(self, request: Request) -> Response:
        try:
            slot = self._slot(request)
        except BadRequest as exc:
            return self._error(exc, "-", "reload")
        await run_in_threadpool(self.watcher.poll)
        return JSONResponse(self._describe(slot))

    async def _predict(self, request: Request) -> Response:
        started = self.clock.monotonic()
        name = request.path_params["app"]
        try:
            slot = self._slot(request)
            routes = slot.routes  # read once: this request is answered from these versions, whatever swaps next
            if routes is None:
                raise BadRequest(503, f"The app {name!r} is still loading its models; retry shortly.")
            body = await self._body(request)
            payload = parse_json(body)
            served, route, rows, X = self._route(name, routes, request, payload)
        except BadRequest as exc:
            return self._error(exc, name, "predict", started)
        try:
            if served.loaded.learns:
                with self.learners.lock(name):  # never while a label is being learned into it
                    predictions, probabilities = served.predict(X)
            else:
                predictions, probabilities = served.predict(X)
        except Exception as exc:  # the model failed on valid input: log it for the roll-out guards, answer 500
            return self._model_failed(name, served, route, body, rows, exc, started)
        now = self.clock.now()
        batch = new_id(now)
        self.learners.remember(name, batch, X)
        body_out: dict[str, Any] = {
            "ids": [f"{batch}-{i}" for i in range(len(rows))],
            "predictions": predictions,
            "model": served.model,
            "version": served.version,
            "route": route,
        }
        if probabilities is not None:
            body_out["classes"] = list(served.classes or ())
            body_out["probabilities"] = probabilities
        answer = dumps(body_out)
        latency_ms = (self.clock.monotonic() - started) * 1000.0
        at_ms = int(now.timestamp() * 1000)
        inputs = _text(body, rows)
        output = answer.decode()
        self.log.offer(
            LogChunk(name, served.model, served.version, route, batch, len(rows), inputs, output, latency_ms, at_ms)
        )
        shadow = None
        if routes.shadow is not None or routes.challengers:
            shadow = BackgroundTask(self._listen, name, routes, served.version, rows, inputs, batch, at_ms)
        self._count(name, "predict", 200, started, route, served.version, len(rows))
        return Response(answer, media_type="application/json", background=shadow)

    def _model_failed(
        self, name: str, served: Any, route: str, body: bytes, rows: list[Any], exc: Exception, started: float
    ) -> Response:
        _log.warning("%s v%s failed on %d row(s): %s: %s", served.model, served.version, len(rows),
                     type(exc).__name__, exc)  # fmt: skip
        now = self.clock.now()
        batch = new_id(now)
        error = f"{type(exc).__name__}: {exc}"[:500]
        latency_ms = (self.clock.monotonic() - started) * 1000.0
        output = dumps({"predictions": None, "probabilities": None, "error": error}).decode()
        chunk = LogChunk(name, served.model, served.version, route, batch, len(rows), _text(body, rows), output,
                         latency_ms, int(now.timestamp() * 1000))  # fmt: skip
        self.log.offer(chunk)
        self.metrics.errors.labels(name, "predict", "500").inc()
        self._count(name, "predict", 500, started, route, served.version, 0)
        message = f"The model {served.model} v{served.version} failed on this request ({type(exc).__name__})."
        return JSONResponse({"error": {"status": 500, "message": message, "field": None}}, status_code=500)

    async def _feedback(self, request: Request) -> Response:
        started = self.clock.monotonic()
        name = request.path_params["app"]
        try:
            self._slot(request)
            labels = parse_feedback(parse_json(await self._body(request)), self.config.max_batch_rows)
        except BadRequest as exc:
            return self._error(exc, name, "feedback", started)
        result = await run_in_threadpool(self.learners.feedback, name, labels)
        unknown = list(result.unknown)
        if unknown and self.log.pending:
            # a label can overtake its prediction's log write (queued, or in the writer's open transaction):
            # wait for the log, then look once more
            await run_in_threadpool(self.log.flush, 5.0)
            retry = await run_in_threadpool(self.learners.feedback, name, {u: labels[u] for u in unknown})
            unknown = list(retry.unknown)
            result = type(result)(result.accepted + retry.accepted, tuple(unknown))
        body: dict[str, Any] = {"accepted": result.accepted, "unknown": unknown}
        if unknown:
            body["message"] = (
                f"{len(unknown)} prediction id(s) are not logged predictions of {name!r} (wrong app, mistyped, "
                "or dropped from the log under back-pressure); their labels were not stored."
            )
        status = 404 if unknown and not result.accepted else 200
        self._count(name, "feedback", status, started)
        return JSONResponse(body, status_code=status)

    # -- helpers -------------------------------------------------------------------------------------------------

    def _route(
        self, name: str, routes: ActiveRoutes, request: Request, payload: Any
    ) -> tuple[Any, str, list[dict[str, Any]], Any]:
        route = "champion"
        if routes.canary is not None:
            first = payload if isinstance(payload, dict) else {}
            if isinstance(first.get("rows"), list) and first["rows"] and isinstance(first["rows"][0], dict):
                first = first["rows"][0]
            key = self.router.sticky_key(routes, request.headers, first)
            route = self.router.choose(name, routes, key)
        served = routes.canary if route == "canary" and routes.canary is not None else routes.champion
        rows, X = served.codec.rows(payload)
        return served, route, rows, X

    async def _listen(
        self, name: str, routes: ActiveRoutes, answered: int, rows: list[Any], inputs: str, batch: str, at_ms: int
    ) -> None:
        """The shadow's and every challenger's answers to a request already answered, logged beside it."""
        if routes.shadow is not None:
            self._shadow(name, routes.shadow, "shadow", rows, inputs, batch, at_ms)
        done = {answered, None if routes.shadow is None else routes.shadow.version}
        for challenger in routes.challengers:
            if challenger.version not in done:
                done.add(challenger.version)
                self._shadow(name, challenger, "challenger", rows, inputs, batch, at_ms)

    def _shadow(
        self, name: str, shadow: LoadedModel, route: str, rows: list[Any], inputs: str, batch: str, at_ms: int
    ) -> None:
        started = self.clock.monotonic()
        try:
            X = shadow.codec.matrix(rows)
            if shadow.loaded.learns:
                with self.learners.lock(name):
                    predictions, probabilities = shadow.predict(X)
            else:
                predictions, probabilities = shadow.predict(X)
        except BadRequest as exc:  # the shadow's signature differs: count it, the answer was already sent
            self.metrics.errors.labels(name, "shadow", str(exc.status)).inc()
            return
        except Exception as exc:  # the shadow model failed: it must not fail the request it shadows
            _log.warning("shadow %s v%s failed: %s: %s", shadow.model, shadow.version, type(exc).__name__, exc)
            self.metrics.errors.labels(name, "shadow", "500").inc()
            return
        latency_ms = (self.clock.monotonic() - started) * 1000.0
        output = dumps({"predictions": predictions, "probabilities": probabilities, "shadow_of": batch}).decode()
        chunk = LogChunk(
            name, shadow.model, shadow.version, route, new_id(self.clock.now()), len(rows), inputs, output,
            latency_ms, at_ms,
        )  # fmt: skip
        self.log.offer(chunk)
        self.metrics.predictions.labels(name, route, str(shadow.version)).inc(len(rows))

    def _routes_changed(self, slot: AppSlot) -> None:
        if slot.routes is not None:
            self.learners.serve(slot.spec.name, slot.routes.loaded)

    def _slot(self, request: Request) -> AppSlot:
        name = request.path_params["app"]
        slot = self.slots.get(name)
        if slot is None:
            raise BadRequest(404, f"No app {name!r} is served here. Served apps: {sorted(self.slots)}.", "app")
        return slot

    async def _body(self, request: Request) -> bytes:
        limit = self.config.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise BadRequest(413, f"The body is {declared} bytes; this server takes at most {limit}.")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BadRequest(413, f"The body is over {limit} bytes, the most this server takes.")
            chunks.append(chunk)
        return b"".join(chunks)

    def _count(
        self, app: str, endpoint: str, status: int, started: float, route: str = "", version: int = 0, rows: int = 0
    ) -> None:
        key = (app, endpoint, status, route, version)
        children = self._children.get(key)
        if children is None:  # a label lookup per request is a measurable share of a small request's cost
            m = self.metrics
            children = self._children[key] = (
                m.requests.labels(app, endpoint, str(status)),
                m.latency.labels(app, endpoint),
                m.predictions.labels(app, route, str(version)),
            )
        requests, latency, predictions = children
        requests.inc()
        latency.observe(self.clock.monotonic() - started)
        if rows:
            predictions.inc(rows)

    def _error(self, exc: BadRequest, app: str, endpoint: str, started: float | None = None) -> Response:
        app = app if app in self.slots else "-"  # unknown names must not grow the metric's label set
        self.metrics.errors.labels(app, endpoint, str(exc.status)).inc()
        if started is not None:
            self.metrics.requests.labels(app, endpoint, str(exc.status)).inc()
            self.metrics.latency.labels(app, endpoint).observe(self.clock.monotonic() - started)
        return JSONResponse(exc.as_json(), status_code=exc.status)

    async def _http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        detail = exc.detail if exc.status_code != 404 else f"No endpoint at {request.url.path}; see /openapi.json."
        return JSONResponse(
            {"error": {"status": exc.status_code, "message": detail, "field": None}},
            status_code=exc.status_code,
            headers=exc.headers,
        )

    async def _internal_error(self, request: Request, exc: Exception) -> Response:
        _log.exception("Unexpected error serving %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse(
            {"error": {"status": 500, "message": f"Internal error: {type(exc).__name__}.", "field": None}},
            status_code=500,
        )

    def _loaded(self) -> list[tuple[str, ActiveRoutes]]:
        return [(n, s.routes) for n, s in self.slots.items() if s.routes is not None]

    def _describe(self, slot: AppSlot) -> dict[str, Any]:
        routes = slot.routes
        return {
            "name": slot.spec.name,
            "model": slot.spec.model,
            "alias": slot.spec.alias,
            "ready": routes is not None,
            "routes": None if routes is None else routes.spec.to_json(),
            "route_revision": None if routes is None else routes.revision,
            "versions": None if routes is None else routes.versions,
            "last_error": slot.last_error,
        }


def _text(body: bytes, rows: list[Any]) -> str:
    """The request body as the log keeps it: as sent when it is UTF-8 (it parsed as JSON), else re-encoded."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:  # JSON may come as UTF-16 or UTF-32
        return dumps({"rows": rows}).decode()
