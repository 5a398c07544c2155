"""The dashboard as an ASGI app: server-rendered HTML (Jinja2), inline SVG charts, one small stylesheet.

:func:`create_dashboard` returns a Starlette app with relative routes; ``ctml serve`` mounts it at ``/ui``
and ``ctml ui`` serves it alone (also at ``/ui``, so links and cookies are the same either way). Reads are
open, like the server's ``/healthz``; the POST actions need an API token of role ``operate`` (sent as
``Authorization: Bearer``, or kept in an HttpOnly, SameSite=Strict cookie by the sign-in page).
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

from ctml.clock import Clock
from ctml.dashboard._actions import Denied, Operations, Operator, OperatorTokens
from ctml.dashboard._pages import PageData, Pages
from ctml.dashboard._reports import get_report
from ctml.errors import ConfigError, ConflictError, CtmlError, MissingExtraError, NotFoundError
from ctml.workspace import Workspace

__all__ = ["COOKIE", "create_dashboard", "standalone"]

COOKIE = "ctml_ui_token"
_HERE = Path(__file__).parent
_MAX_FORM = 64_000


def _environment() -> Any:
    try:
        import jinja2
    except ImportError as exc:  # pragma: no cover - the serve extra brings it
        raise MissingExtraError("serve", "The dashboard", "jinja2") from exc
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=_when, ms=_from_ms, num=_num, pct=_pct, dur=_dur, pretty=lambda v: json.dumps(v, indent=2))
    return env


def _when(moment: datetime | None) -> str:
    return "—" if moment is None else f"{moment:%Y-%m-%d %H:%M:%S}"


def _from_ms(at_ms: int | None) -> str:
    return "—" if at_ms is None else _when(datetime.fromtimestamp(at_ms / 1000, tz=UTC))


def _num(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:,.{digits}g}" if abs(value) < 1e6 else f"{value:,.0f}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _dur(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def _int(request: Request, name: str, default: int = 1) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"The query parameter {name!r} must be a whole number >= 1. Got {raw!r}.")
    return int(raw)


def _opt(request: Request, name: str) -> str | None:
    return request.query_params.get(name) or None


class Dashboard:
    def __init__(self, workspace: Workspace, reports: Path, clock: Clock) -> None:
        self.workspace = workspace
        self.clock = clock
        self.pages = Pages(workspace.meta, workspace.artifacts, reports)
        self.reports = reports
        self.tokens = OperatorTokens(workspace, clock)
        self.operations = Operations(workspace, self.pages.queries)
        self.env = _environment()
        self.css = (_HERE / "static" / "style.css").read_text()

    # -- rendering -----------------------------------------------------------------------------------------------

    def render(self, request: Request, page: PageData, status: int = 200, **extra: Any) -> HTMLResponse:
        base = request.scope.get("root_path", "").rstrip("/")
        operator = self.tokens.who(request.cookies.get(COOKIE))
        context = {
            **page.context,
            **extra,
            "base": base,
            "operator": operator,
            "now": self.clock.now(),
            "path": request.url.path,
            "flash": request.query_params.get("done"),
        }
        body = self.env.get_template(page.template).render(context)
        return HTMLResponse(body, status_code=status, headers={"cache-control": "no-store"})

    def error(self, request: Request, status: int, title: str, message: str) -> HTMLResponse:
        return self.render(
            request, PageData("error.html", {"status": status, "title": title, "message": message}), status
        )

    def page(self, build: Callable[[Request], PageData]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                data = await run_in_threadpool(build, request)
                return await run_in_threadpool(self.render, request, data)
            except CtmlError as exc:
                return await run_in_threadpool(self._fail, request, exc)

        return endpoint

    def _fail(self, request: Request, exc: Exception) -> HTMLResponse:
        if isinstance(exc, Denied):
            title = "Sign in needed" if exc.status == 401 else "Not allowed"
            return self.error(request, exc.status, title, exc.message)
        if isinstance(exc, NotFoundError):
            return self.error(request, 404, "Not found", str(exc))
        if isinstance(exc, ConflictError):
            return self.error(request, 409, "Conflict", str(exc))
        return self.error(request, 400, "Bad request", str(exc))

    # -- actions -------------------------------------------------------------------------------------------------

    def action(
        self, act: Callable[[Request, Operator, dict[str, str]], str]
    ) -> Callable[[Request], Awaitable[Response]]:
        """A POST form: read the body, check the token and the origin, act, and redirect to the result."""

        async def endpoint(request: Request) -> Response:
            body = await request.body()
            try:
                if len(body) > _MAX_FORM:
                    raise ConfigError(f"The form is too large ({len(body)} bytes; at most {_MAX_FORM}).")
                _same_origin(request)
                form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
                secret = _bearer(request) or request.cookies.get(COOKIE)
                operator = await run_in_threadpool(self.tokens.require, secret)
                target = await run_in_threadpool(act, request, operator, form)
            except (CtmlError, Denied) as exc:
                return await run_in_threadpool(self._fail, request, exc)
            base = request.scope.get("root_path", "").rstrip("/")
            return RedirectResponse(base + target, status_code=303)

        return endpoint

    def approve(self, request: Request, operator: Operator, form: dict[str, str]) -> str:
        decision_id = request.path_params["decision"]
        guarded = form.get("mode") == "rollout"
        done = self.operations.approve(operator, decision_id, form.get("reason", ""), guarded=guarded)
        return f"/decisions/{decision_id}?done=approved+by+{operator.name}&approval={done.id}"

    def decline(self, request: Request, operator: Operator, form: dict[str, str]) -> str:
        decision_id = request.path_params["decision"]
        self.operations.decline(operator, decision_id, form.get("reason", ""))
        return f"/decisions/{decision_id}?done=declined+by+{operator.name}"

    def promote(self, request: Request, operator: Operator, form: dict[str, str]) -> str:
        model = request.path_params["model"]
        raw = form.get("version", "").strip().removeprefix("v")
        if not raw.isdigit():
            raise ConfigError(f"Promote needs a version number (like 12). Got {form.get('version', '')!r}.")
        self.operations.promote(operator, model, int(raw), form.get("reason", ""), app=form.get("app") or None)
        return f"/models/{model}?v={raw}&done=promoted+v{raw}"

    def rollback(self, request: Request, operator: Operator, form: dict[str, str]) -> str:
        model = request.path_params["model"]
        done = self.operations.rollback(operator, model, form.get("reason", ""), app=form.get("app") or None)
        return f"/models/{model}?done=rolled+back&decision={done.id}"

    async def login(self, request: Request) -> Response:
        base = request.scope.get("root_path", "").rstrip("/")
        if request.method == "GET":
            return self.render(request, PageData("login.html", {"error": None}))
        body = await request.body()
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        secret = form.get("token", "").strip()
        operator = await run_in_threadpool(self.tokens.who, secret)
        if operator is None:
            page = PageData(
                "login.html", {"error": "Unknown or revoked token. Make one with `ctml tokens create --role operate`."}
            )
            return await run_in_threadpool(self.render, request, page, 401)
        response = RedirectResponse(base + "/", status_code=303)
        response.set_cookie(
            COOKIE,
            secret,
            httponly=True,
            samesite="strict",
            path=(base or "") + "/",
            secure=request.url.scheme == "https",
            max_age=12 * 3600,
        )
        return response

    async def logout(self, request: Request) -> Response:
        base = request.scope.get("root_path", "").rstrip("/")
        response = RedirectResponse(base + "/", status_code=303)
        response.delete_cookie(COOKIE, path=(base or "") + "/")
        return response

    async def report_html(self, request: Request) -> Response:
        try:
            report = get_report(self.reports, request.path_params["name"])
        except NotFoundError as exc:
            return self.error(request, 404, "Not found", str(exc))
        if report.html_path is None:
            return self.error(request, 404, "Not found", f"Report {report.name!r} has no HTML page.")
        # The report is our own self-contained page; still, it is shown sandboxed and may not run scripts.
        return HTMLResponse(report.html_path.read_text(), headers={"content-security-policy": "script-src 'none'"})

    async def stylesheet(self, request: Request) -> Response:
        return Response(self.css, media_type="text/css", headers={"cache-control": "max-age=300"})


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _same_origin(request: Request) -> None:
    """A form posted from another site is refused (the cookie is SameSite=Strict too; this is the second lock)."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host", ""):
        raise Denied(403, f"This form was posted from another site ({html.escape(origin)}); refused.")


def create_dashboard(workspace: Workspace, *, reports: Path | None = None, clock: Clock | None = None) -> Starlette:
    """The dashboard over ``workspace``; backtest reports are read from ``reports`` (default ``<home>/reports``)."""
    ui = Dashboard(workspace, reports or Path(workspace.settings.home) / "reports", clock or workspace.meta.clock)
    p = ui.pages
    routes = [
        Route("/", ui.page(lambda r: p.overview()), methods=["GET"]),
        Route("/apps/{app}", ui.page(lambda r: p.app(r.path_params["app"])), methods=["GET"]),
        Route("/models", ui.page(lambda r: p.models()), methods=["GET"]),
        Route(
            "/models/{model}",
            ui.page(lambda r: p.model(r.path_params["model"], _int(r, "page"), _int(r, "v", 0) or None)),
            methods=["GET"],
        ),
        Route("/models/{model}/promote", ui.action(ui.promote), methods=["POST"]),
        Route("/models/{model}/rollback", ui.action(ui.rollback), methods=["POST"]),
        Route(
            "/runs",
            ui.page(lambda r: p.runs(_opt(r, "app"), _opt(r, "kind"), _opt(r, "status"), _int(r, "page"))),
            methods=["GET"],
        ),
        Route("/runs/{run}", ui.page(lambda r: p.run(r.path_params["run"])), methods=["GET"]),
        Route(
            "/decisions",
            ui.page(lambda r: p.decisions(_opt(r, "app"), _opt(r, "kind"), _opt(r, "outcome"), _int(r, "page"))),
            methods=["GET"],
        ),
        Route("/decisions/{decision}", ui.page(lambda r: p.decision(r.path_params["decision"])), methods=["GET"]),
        Route("/decisions/{decision}/approve", ui.action(ui.approve), methods=["POST"]),
        Route("/decisions/{decision}/decline", ui.action(ui.decline), methods=["POST"]),
        Route("/audit", ui.page(lambda r: p.audit(_opt(r, "entity"), _int(r, "page"))), methods=["GET"]),
        Route("/backtests", ui.page(lambda r: p.backtests()), methods=["GET"]),
        Route("/backtests/{name}", ui.page(lambda r: p.backtest(r.path_params["name"])), methods=["GET"]),
        Route("/backtests/{name}/report.html", ui.report_html, methods=["GET"]),
        Route("/login", ui.login, methods=["GET", "POST"]),
        Route("/logout", ui.logout, methods=["POST"]),
        Route("/static/style.css", ui.stylesheet, methods=["GET"]),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        return ui.error(request, 404, "Not found", f"There is no page at {request.url.path}.")

    return Starlette(routes=routes, exception_handlers={404: not_found})


def standalone(dashboard: Starlette, prefix: str = "/ui") -> Starlette:
    """``dashboard`` at ``prefix``, with ``/`` redirecting there and ``/healthz`` for probes (``ctml ui``)."""

    async def home(request: Request) -> Response:
        return RedirectResponse(prefix + "/", status_code=307)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/", home), Route("/healthz", healthz), Mount(prefix, app=dashboard)])
