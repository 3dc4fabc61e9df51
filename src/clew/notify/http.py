"""A tiny HTTP client for notifications: one request in, one response (or
:class:`TransportError`) out, behind the :class:`Sender` protocol so tests may hand in another.

:class:`UrllibSender` uses the standard library in a worker thread (``httpx`` is kept to
:mod:`clew.cluster`). It never follows redirects: a redirected POST would lose its body, or
worse, carry a signature or token to another host. Proxies come from the usual environment
variables (``HTTPS_PROXY``, ``NO_PROXY``). Error messages name neither the URL nor any header,
since for Slack the URL is the secret.
"""

from __future__ import annotations

import asyncio
import email.message
import http.client
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["HttpRequest", "HttpResponse", "Sender", "TransportError", "UrllibSender"]

_MAX_BODY = 64 * 1024  # of a response: only a short error detail is ever read from it


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One request. Its repr shows only the method: the URL and headers may be secrets."""

    method: str
    url: str = field(repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    body: bytes = field(default=b"", repr=False)
    ca_pem: str | None = field(default=None, repr=False)  # trust this CA (PEM), self-hosted


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)  # names lowercased
    body: bytes = b""


class TransportError(Exception):
    """No HTTP answer: refused, reset, timed out, TLS failed. The message is safe to record."""


class Sender(Protocol):
    async def send(self, request: HttpRequest) -> HttpResponse: ...


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # urllib then raises HTTPError with the 3xx status


class UrllibSender:
    """Sends with ``urllib`` in a thread; at most ``concurrency`` requests at once."""

    def __init__(self, *, timeout: float = 10.0, concurrency: int = 8) -> None:
        self.timeout = timeout
        self._slots = asyncio.Semaphore(concurrency)

    async def send(self, request: HttpRequest) -> HttpResponse:
        async with self._slots:
            return await asyncio.to_thread(self._send, request)

    def _send(self, request: HttpRequest) -> HttpResponse:
        context = ssl.create_default_context(cadata=request.ca_pem) if request.ca_pem else None
        opener = urllib.request.build_opener(
            _NoRedirects(), urllib.request.HTTPSHandler(context=context)
        )
        if not request.url.startswith(("https://", "http://")):
            raise TransportError("only http and https URLs can be sent to")
        req = urllib.request.Request(  # noqa: S310 - the scheme is checked above
            request.url, data=request.body, headers=dict(request.headers), method=request.method
        )
        try:
            with opener.open(req, timeout=self.timeout) as resp:
                return HttpResponse(resp.status, _lower(resp.headers), resp.read(_MAX_BODY))
        except urllib.error.HTTPError as exc:
            with exc:
                return HttpResponse(exc.code, _lower(exc.headers), exc.read(_MAX_BODY))
        except urllib.error.URLError as exc:
            raise TransportError(_reason(exc.reason)) from None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise TransportError(_reason(exc)) from None


def _lower(headers: email.message.Message | None) -> dict[str, str]:
    return {k.lower(): v for k, v in (headers.items() if headers is not None else ())}


def _reason(reason: object) -> str:
    if isinstance(reason, TimeoutError):
        return "timed out"
    if isinstance(reason, BaseException):
        detail = str(reason) or type(reason).__name__
        return f"{type(reason).__name__}: {detail}"
    return str(reason)
