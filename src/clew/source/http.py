"""HTTP(S) for the artifact sources (Helm repositories, OCI registries): one request, bounded.

The standard library's client, run in a thread by the async callers: the HTTP client clew ships
(an httpx fork) is reserved to :mod:`clew.cluster` by the import contracts. Credentials travel
only in an ``Authorization`` header that is never forwarded on a redirect (a chart archive served
from another host gets none, as with helm's default ``--pass-credentials=false``). A custom CA
replaces the system's trust store for that request. Bodies are read up to a byte cap, so a
hostile server cannot fill the memory or the disk.

Failures map to :mod:`clew.source.errors`: 401/403 to :class:`AuthenticationFailed`, 404 to
:class:`RepositoryNotFound` (callers that know better re-raise), 5xx and network errors to
:class:`Unreachable`, a certificate that does not verify to :class:`HostNotTrusted`.
"""

from __future__ import annotations

import base64
import contextlib
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

from clew.source.errors import (
    AuthenticationFailed,
    HostNotTrusted,
    RepositoryNotFound,
    SourceError,
    Unreachable,
)
from clew.source.git import redact, redact_url

__all__ = ["HttpAuth", "Response", "TooLarge", "request", "status_error"]

DEFAULT_TIMEOUT = 60.0
_CHUNK = 1 << 16


class TooLarge(SourceError):
    """A body exceeded the cap the caller set (an index, a chart or a layer)."""

    retryable = False


@dataclass(frozen=True)
class HttpAuth:
    """Login for an artifact server. ``repr`` never shows a secret.

    ``username``/``password``: HTTP Basic; ``token``: ``Authorization: Bearer``; ``ca_pem``: the
    PEM of the CA(s) to trust instead of the system's.
    """

    username: str | None = None
    password: str | None = None
    token: str | None = None
    ca_pem: str | None = None

    def __repr__(self) -> str:
        parts = [f"username={self.username!r}"]
        if self.password:
            parts.append("password='***'")
        if self.token:
            parts.append("token='***'")
        if self.ca_pem:
            parts.append("ca_pem=<PEM>")
        return f"HttpAuth({', '.join(parts)})"

    __str__ = __repr__

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.password, self.token) if s)

    def header(self) -> str | None:
        """The ``Authorization`` value for these credentials, or None for anonymous."""
        if self.token:
            return f"Bearer {self.token}"
        if self.username or self.password:
            pair = f"{self.username or ''}:{self.password or ''}".encode()
            return "Basic " + base64.b64encode(pair).decode()
        return None


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes = b""
    url: str = ""  # after redirects


def _context(auth: HttpAuth | None) -> ssl.SSLContext:
    if auth is not None and auth.ca_pem:
        return ssl.create_default_context(cadata=auth.ca_pem)
    return ssl.create_default_context()


class _NoDowngrade(urllib.request.HTTPRedirectHandler):
    """urllib keeps "unredirected" headers off redirects already; this also refuses a redirect
    from https to plain http, where the body could be swapped in transit."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        if req.full_url.startswith("https:") and not newurl.startswith("https:"):
            return None
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def request(
    url: str,
    auth: HttpAuth | None = None,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    data: bytes | None = None,
    max_bytes: int,
    timeout: float = DEFAULT_TIMEOUT,
    authorization: str | None = None,
    what: str = "request",
    check: bool = True,
) -> Response:
    """Send one request; with ``check`` a status >= 400 raises the matching source error.

    ``authorization`` overrides the header ``auth`` would send (an OCI registry's bearer token)."""
    if not url.startswith(("https://", "http://")):
        raise SourceError(f"{what} {redact_url(url)}: only https:// and http:// URLs are fetched")
    req = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - checked above
    for name, value in (headers or {}).items():
        req.add_header(name, value)
    header = authorization or (auth.header() if auth is not None else None)
    if header:
        req.add_unredirected_header("Authorization", header)
    secrets = (auth.secrets() if auth is not None else ()) + (
        (authorization,) if authorization else ()
    )
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=_context(auth)), _NoDowngrade()
    )
    shown = redact_url(url)
    try:
        with opener.open(req, timeout=timeout) as resp:
            body = _read(resp, max_bytes, shown, what)
            return Response(resp.status, dict(resp.headers.items()), body, resp.geturl())
    except urllib.error.HTTPError as exc:
        body = b""
        with contextlib.suppress(OSError):
            body = exc.read(4096)
        response = Response(exc.code, dict(exc.headers.items()) if exc.headers else {}, body, url)
        if check:
            raise status_error(response, shown, what, secrets) from None
        return response
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, ssl.SSLCertVerificationError):
            raise HostNotTrusted(
                f"{what} {shown}: the TLS certificate does not verify: {reason.verify_message}",
                hint="give the server's CA (key ca.crt in the Secret, or --ca-file)",
            ) from None
        raise Unreachable(
            f"{what} {shown} failed: {redact(str(reason), secrets)}",
            hint="check the URL and that the server is up; retrying later",
        ) from None
    except (TimeoutError, ConnectionError, ssl.SSLError) as exc:
        raise Unreachable(
            f"{what} {shown} failed: {redact(str(exc), secrets)}", hint="retrying later"
        ) from None


def _read(resp: object, max_bytes: int, shown: str, what: str) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = resp.read(_CHUNK)  # type: ignore[attr-defined]
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > max_bytes:
            raise TooLarge(
                f"{what} {shown} is larger than {max_bytes} bytes",
                hint="raise the limit if this is expected",
            )
        chunks.append(chunk)


def status_error(
    response: Response, shown: str, what: str, secrets: tuple[str, ...]
) -> SourceError:
    detail = redact(response.body.decode("utf-8", "replace").strip()[:300], secrets)
    message = f"{what} {shown}: HTTP {response.status}" + (f": {detail}" if detail else "")
    if response.status in (401, 403):
        return AuthenticationFailed(
            message, hint="check the credentials in the Secret (or --username/--password-env)"
        )
    if response.status == 404:
        return RepositoryNotFound(message, hint="check the URL and the name")
    if response.status >= 500 or response.status == 429:
        return Unreachable(message, hint="the server failed; retrying later")
    return SourceError(message, hint="the server refused the request")
