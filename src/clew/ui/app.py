"""The UI's Starlette application: routes, security headers, compression, and the shared
Application watch started with the server and stopped with it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clew.cluster import Cluster
from clew.ui import actions, auth, clusters, pages
from clew.ui.access import Access
from clew.ui.hub import AppHub, running
from clew.ui.session import SessionCodec
from clew.ui.state import HERE, Ui

__all__ = ["UiServer", "create_app", "serve"]

# Everything comes from this server (air-gapped clusters): no CDN, no inline script or style.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class _SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + _HEADERS
            await send(message)

        await self.app(scope, receive, with_headers)


async def _health(_: Request) -> Response:
    return Response("ok", media_type="text/plain")


def create_app(ui: Ui) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with running(ui.hub):
            yield

    app = Starlette(
        routes=[
            Route("/", pages.apps_list),
            Route("/login", auth.login_form, methods=["GET"]),
            Route("/login", auth.login_submit, methods=["POST"]),
            Route("/logout", auth.logout, methods=["POST"]),
            Route("/events", pages.stream),
            Route("/healthz", _health),
            Route("/clusters", clusters.clusters_page),
            Route("/apps/{namespace}/{name}", pages.app_page),
            Route("/apps/{namespace}/{name}/diff", pages.app_diff),
            Route("/apps/{namespace}/{name}/actions/{action}", actions.act, methods=["POST"]),
            Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
        ],
        middleware=[Middleware(_SecurityHeaders), Middleware(GZipMiddleware, minimum_size=500)],
        lifespan=lifespan,
    )
    app.state.ui = ui
    return app


def build(
    cluster: Cluster,
    *,
    read_only: bool = False,
    session_key: bytes | None = None,
    session_ttl: int = 8 * 3600,
    secure_cookies: bool = False,
) -> Ui:
    return Ui(
        cluster=cluster,
        hub=AppHub(cluster),
        access=Access(cluster),
        sessions=SessionCodec(session_key, session_ttl),
        read_only=read_only,
        secure_cookies=secure_cookies,
    )


@dataclass
class UiServer:
    """A UI served on ``host:port`` by uvicorn in this event loop (``stop`` ends it)."""

    server: uvicorn.Server
    task: asyncio.Task[None]
    ui: Ui

    @property
    def port(self) -> int:
        sockets = self.server.servers[0].sockets
        return int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        self.server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


async def serve(ui: Ui, host: str = "127.0.0.1", port: int = 0) -> UiServer:
    """Start serving; returns once the socket listens (``port=0``: a free one)."""
    config = uvicorn.Config(
        create_app(ui),
        host=host,
        port=port,
        log_level="warning",
        lifespan="on",
        # Event streams never end by themselves: give open browsers a moment, then close them.
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the UI server stopped while starting")
        await asyncio.sleep(0.02)
    return UiServer(server, task, ui)
