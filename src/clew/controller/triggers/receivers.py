"""The controller's public HTTP app: the webhook receivers and the liveness and readiness probes.
It is served by :func:`clew.controller.runtime.server.serve`; the only port a Service exposes::

    POST /hooks/github | /hooks/gitlab | /hooks/generic   a receiver exists only when its secret
                                                          is configured (else 404)
    GET  /healthz    200 while the process serves
    GET  /readyz     200 when ready() holds, else 503

A webhook body is read once, as raw bytes (signatures are over them), and capped (413 beyond).
Secrets, tokens and signatures are never logged or echoed; rejections answer with a short reason.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

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

__all__ = ["MAX_BODY", "OnPush", "ReceiverSecrets", "create_app"]

MAX_BODY = 5 * 1024 * 1024

OnPush = Callable[[PushEvent], Awaitable[int]]
"""Trigger the Applications a push concerns; returns how many were triggered."""

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
