"""The controller's HTTP servers: the public one (webhook receivers, liveness and readiness
probes) and the metrics one, on its own port (localhost by default, or authenticated).

Routes of :func:`create_app`, the only port a Service exposes::

    POST /hooks/github | /hooks/gitlab | /hooks/generic   a receiver exists only when its secret
                                                          is configured (else 404)
    GET  /healthz    200 while the process serves
    GET  /readyz     200 when ready() holds, else 503

Routes of :func:`create_metrics_app`::

    GET  /metrics    the Prometheus (or OpenMetrics, by Accept) exposition of the Metrics registry;
                     with an ``authorize`` check, 401/403 unless it admits the bearer token

A webhook body is read once, as raw bytes (signatures are over them), and capped (413 beyond).
Secrets, tokens and signatures are never logged or echoed; rejections answer with a short reason.
:func:`serve` runs the app in-process on the running event loop, on a socket bound here (port 0
picks a free port), without taking over the process's signal handlers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass, field
from types import TracebackType

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp

from clew.controller.triggers.webhooks import (
    Ignored,
    Malformed,
    NotAuthenticated,
    Provider,
    PushEvent,
    Receiver,
    Replayed,
    WebhookRejected,
)
from clew.report.metrics import Metrics, WebhookOutcome

__all__ = [
    "MAX_BODY",
    "Authorize",
    "OnPush",
    "ReceiverSecrets",
    "RunningServer",
    "create_app",
    "create_metrics_app",
    "serve",
]

MAX_BODY = 5 * 1024 * 1024

OnPush = Callable[[PushEvent], Awaitable[int]]
"""Trigger the Applications a push concerns; returns how many were triggered."""

Authorize = Callable[[str | None], Awaitable[int]]
"""Check a scrape's bearer token (None: no Authorization header); returns 200, 401 or 403."""

_log = logging.getLogger(__name__)

_ENV = {
    Provider.GITHUB: "CLEW_WEBHOOK_GITHUB_SECRET",
    Provider.GITLAB: "CLEW_WEBHOOK_GITLAB_TOKEN",
    Provider.GENERIC: "CLEW_WEBHOOK_GENERIC_SECRET",
}


@dataclass(frozen=True)
class ReceiverSecrets:
    """The shared secret of each receiver; None disables it. The repr never shows a secret."""

    github: str | None = field(default=None, repr=False)
    gitlab: str | None = field(default=None, repr=False)
    generic: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ReceiverSecrets:
        """Read ``CLEW_WEBHOOK_GITHUB_SECRET``, ``CLEW_WEBHOOK_GITLAB_TOKEN`` and
        ``CLEW_WEBHOOK_GENERIC_SECRET``; unset or blank leaves that receiver disabled. Surrounding
        whitespace is dropped (a Secret mounted from a file often ends in a newline)."""
        env = os.environ if environ is None else environ
        values = {p.value: (env.get(name) or "").strip() or None for p, name in _ENV.items()}
        return cls(**values)

    def for_provider(self, provider: Provider) -> str | None:
        secret: str | None = getattr(self, provider.value)
        return secret

    def __repr__(self) -> str:
        state = ", ".join(
            f"{p.value}={'set' if self.for_provider(p) else 'disabled'}" for p in Provider
        )
        return f"ReceiverSecrets({state})"


_OUTCOMES: dict[type[WebhookRejected], WebhookOutcome] = {
    NotAuthenticated: WebhookOutcome.UNAUTHORIZED,
    Malformed: WebhookOutcome.INVALID,
    Replayed: WebhookOutcome.REPLAYED,
}


class _TooLarge(Exception):
    pass


_UNTRACED = frozenset({"/healthz", "/readyz", "/metrics"})


def create_app(
    *,
    secrets: ReceiverSecrets,
    on_push: OnPush,
    ready: Callable[[], bool],
    metrics: Metrics,
    max_body: int = MAX_BODY,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """The controller's ASGI app. ``on_push`` is awaited for each accepted push and returns how
    many Applications it triggered (answered as ``{"triggered": n}``, 202); ``clock`` is the wall
    clock generic timestamps are checked against."""
    app = FastAPI(
        title="clew controller",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        # Webhook requests join the caller's trace; probes and scrapes would only be noise.
        telemetry={"exclude": lambda scope: scope.get("path") in _UNTRACED, "metrics": False},
    )
    for provider in Provider:
        secret = secrets.for_provider(provider)
        if secret:
            receiver = Receiver(provider, secret, clock=clock)
            endpoint = _hook(receiver, on_push, metrics, max_body)
            app.add_api_route(f"/hooks/{provider.value}", endpoint, methods=["POST"])

    @app.get("/healthz")
    async def healthz() -> Response:
        return JSONResponse({"status": "ok"})

    @app.get("/readyz")
    async def readyz() -> Response:
        try:
            is_ready = ready()
        except Exception:
            _log.exception("readiness check raised")
            is_ready = False
        if is_ready:
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "not ready"}, status_code=503)

    return app


def create_metrics_app(metrics: Metrics, authorize: Authorize | None = None) -> FastAPI:
    """``/metrics`` alone, for its own port. With ``authorize`` (``--metrics-secure``), a scrape
    needs a bearer token that it admits, as controller-runtime's secure metrics do."""
    app = FastAPI(
        title="clew metrics",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        telemetry={"exclude": lambda scope: True, "metrics": False},
    )

    @app.get("/metrics")
    async def metrics_endpoint(request: Request) -> Response:
        if authorize is not None:
            header = request.headers.get("authorization", "")
            scheme, _, token = header.partition(" ")
            bearer = token.strip() if scheme.lower() == "bearer" and token.strip() else None
            status = await authorize(bearer)
            if status != 200:
                error = "unauthorized" if status == 401 else "forbidden"
                return JSONResponse({"error": error}, status_code=status)
        body, content_type = metrics.exposition(request.headers.get("accept"))
        return Response(body, headers={"content-type": content_type})

    return app


def _hook(
    receiver: Receiver, on_push: OnPush, metrics: Metrics, max_body: int
) -> Callable[[Request], Awaitable[Response]]:
    provider = receiver.provider

    def answer(outcome: WebhookOutcome, status: int, body: dict[str, object]) -> Response:
        metrics.webhook_request(provider.value, outcome)
        return JSONResponse(body, status_code=status)

    async def receive(request: Request) -> Response:
        try:
            body = await _read_body(request, max_body)
        except _TooLarge:
            _log.warning("%s webhook refused: body larger than %d bytes", provider, max_body)
            error = f"body larger than {max_body} bytes"
            return answer(WebhookOutcome.INVALID, 413, {"error": error})
        try:
            result = receiver.receive(request.headers, body)
        except WebhookRejected as exc:
            _log.warning("%s webhook refused (%d): %s", provider, exc.status, exc.message)
            outcome = _OUTCOMES.get(type(exc), WebhookOutcome.INVALID)
            return answer(outcome, exc.status, {"error": exc.message})
        if isinstance(result, Ignored):
            _log.info("%s webhook ignored: %s", provider, result.reason)
            status = 200 if result.ping else 202
            return answer(WebhookOutcome.IGNORED, status, {"ignored": result.reason})
        try:
            triggered = await on_push(result)
        except Exception:
            _log.exception("%s webhook %s: triggering failed", provider, result.delivery)
            receiver.release(request.headers)  # let the sender deliver it again
            return answer(WebhookOutcome.ERROR, 500, {"error": "could not trigger a reconcile"})
        _log.info(
            "%s push %s of %s@%s triggered %d Application(s)",
            provider,
            result.delivery,
            result.repo_urls[0],
            result.ref,
            triggered,
        )
        return answer(WebhookOutcome.TRIGGERED, 202, {"triggered": triggered})

    return receive


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _TooLarge
    return bytes(body)


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its signal handlers: the process that embeds it owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@dataclass
class RunningServer:
    """A server started by :func:`serve`; ``await stop()`` (or ``async with``) shuts it down."""

    server: uvicorn.Server
    host: str
    port: int
    _task: asyncio.Task[None] = field(repr=False)

    scheme: str = "http"

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    async def stop(self) -> None:
        """Stop accepting, finish the requests in flight, and return when the server is done."""
        self.server.should_exit = True
        await self._task

    async def __aenter__(self) -> RunningServer:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


async def serve(
    app: ASGIApp,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    graceful_timeout: int = 5,
    tls: tuple[str, str] | None = None,
) -> RunningServer:
    """Start ``app`` on the running loop and return once it accepts connections. The socket is
    bound here, so a taken port raises OSError (uvicorn would call sys.exit) and port 0 works.
    ``tls`` is a (certificate file, key file) pair to serve HTTPS with."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_config=None,
        timeout_graceful_shutdown=graceful_timeout,
        ssl_certfile=tls[0] if tls else None,
        ssl_keyfile=tls[1] if tls else None,
    )
    server = _EmbeddedServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name=f"clew-http-{host}")
    while not server.started:
        if task.done():
            sock.close()
            task.result()  # raises what stopped the startup
            raise RuntimeError("the HTTP server exited during startup")
        await asyncio.sleep(0.01)
    bound: int = sock.getsockname()[1]
    scheme = "https" if tls else "http"
    return RunningServer(server=server, host=host, port=bound, _task=task, scheme=scheme)
