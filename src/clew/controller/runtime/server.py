"""The controller's HTTP plumbing: :func:`serve` runs an ASGI app in-process on the running event
loop, on a socket bound here (port 0 picks a free port), without taking over the process's signal
handlers; :func:`create_metrics_app` is the metrics port. The public app (webhooks, probes) is
:mod:`clew.controller.triggers.receivers`.

Routes of :func:`create_metrics_app`::

    GET  /metrics    the Prometheus (or OpenMetrics, by Accept) exposition of the Metrics registry;
                     with an ``authorize`` check, 401/403 unless it admits the bearer token
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass, field
from types import TracebackType

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp

from clew.report.metrics import Metrics

__all__ = ["Authorize", "RunningServer", "create_metrics_app", "serve"]

Authorize = Callable[[str | None], Awaitable[int]]
"""Check a scrape's bearer token (None: no Authorization header); returns 200, 401 or 403."""


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
