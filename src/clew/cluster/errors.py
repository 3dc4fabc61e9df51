"""The errors of the cluster boundary.

Every failure of a call to the API server becomes one of these, so callers decide on the class,
never on HTTP codes or strings. ``ClusterError`` is a :class:`clew.model.ClewError` (the one
root, where the whole tree is drawn); ``retryable`` and ``delay`` are what the controller's
backoff reads::

    ClusterError
    ├── RetryableError          try again later (``delay`` says when, if the server said)
    │   ├── ConnectionFailed    the server could not be reached or the connection broke
    │   ├── TooManyRequests     429: priority and fairness pushed back (honours Retry-After)
    │   └── ServerError         5xx
    └── PermanentError          the same request will fail again
        ├── BadRequest          400
        ├── Unauthorized        401: credentials missing or rejected
        ├── Forbidden           403: RBAC said no
        ├── NotFound            404
        ├── Conflict            409: resourceVersion or field-manager conflict
        │   └── AlreadyExists   409 with reason AlreadyExists
        ├── Gone                410: a watch's resourceVersion is too old; re-list
        ├── Invalid             422: the object failed validation (``causes`` lists the fields)
        ├── RequestTooLarge     413, or over :data:`MAX_REQUEST_BYTES` before sending; also
        │                       storage's "too large" (a 500 from etcd's size limit)
        └── UnknownKind         discovery does not know the apiVersion/kind

Messages name the object as ``Kind/namespace/name`` and never carry request bodies, so a Secret's
data cannot leak through an error.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from clew.model.errors import ClewError
from clew.model.refs import ObjectRef

MAX_REQUEST_BYTES = 3 * 1024 * 1024
"""kube-apiserver's limit on a request body (``MaxRequestBodyBytes``); it answers 413 above it, or
drops the connection while a larger body is still being sent."""

# etcd refusing an object the API server passed on: "etcdserver: request is too large", or the
# gRPC client's "trying to send message larger than max". Permanent, though it comes as a 500.
_STORAGE_TOO_LARGE = re.compile(r"request is too large|message larger than max", re.IGNORECASE)


class ClusterError(ClewError):
    """Base of every error raised by :mod:`clew.cluster`."""

    code: int = 0

    def __init__(
        self,
        message: str,
        *,
        ref: ObjectRef | None = None,
        reason: str = "",
        code: int | None = None,
        delay: float | None = None,
    ) -> None:
        super().__init__(message, delay=delay)
        self.ref = ref
        self.reason = reason
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"{self.ref}: {self.message}" if self.ref else self.message


class RetryableError(ClusterError):
    """The request may succeed if repeated; ``delay`` is the server's hint in seconds, if any."""

    retryable = True


class ConnectionFailed(RetryableError):
    pass


class TooManyRequests(RetryableError):
    code = 429


class ServerError(RetryableError):
    code = 500


class PermanentError(ClusterError):
    """Repeating the same request will fail the same way."""

    retryable: ClassVar[bool] = False


class BadRequest(PermanentError):
    code = 400


class Unauthorized(PermanentError):
    code = 401


class Forbidden(PermanentError):
    code = 403


class NotFound(PermanentError):
    code = 404


class Conflict(PermanentError):
    code = 409


class AlreadyExists(Conflict):
    pass


class Gone(PermanentError):
    code = 410


class Invalid(PermanentError):
    code = 422

    def __init__(self, message: str, *, causes: list[dict[str, Any]] | None = None, **kw: Any):
        super().__init__(message, **kw)
        self.causes = causes or []


class RequestTooLarge(PermanentError):
    """The object is too large for the API server's request limit or for its storage."""

    code = 413


class UnknownKind(PermanentError):
    """The server does not serve this apiVersion/kind (yet: a CRD may not be established)."""


def request_too_large(size: int, ref: ObjectRef | None) -> RequestTooLarge:
    """The error for a body of ``size`` bytes over :data:`MAX_REQUEST_BYTES`, raised before
    sending it: the server would answer 413, or reset the connection while the body is still
    being sent (which reads as "cannot reach the API server")."""
    return RequestTooLarge(
        f"the request is {size} bytes, over the API server's {MAX_REQUEST_BYTES} byte limit",
        ref=ref,
        reason="RequestEntityTooLarge",
    )


_BY_CODE: dict[int, type[ClusterError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    413: RequestTooLarge,
    422: Invalid,
    429: TooManyRequests,
}


def from_status(
    code: int, status: dict[str, Any] | None, *, ref: ObjectRef | None, retry_after: float | None
) -> ClusterError:
    """Build the error for an HTTP failure from the server's ``Status`` object."""
    status = status or {}
    reason = str(status.get("reason") or "")
    message = str(status.get("message") or f"HTTP {code}")
    if code == 409 and reason == "AlreadyExists":
        return AlreadyExists(message, ref=ref, reason=reason, code=code)
    if code == 413 or (code >= 500 and _STORAGE_TOO_LARGE.search(message)):
        return RequestTooLarge(
            f"the object is too large for the API server: {message}",
            ref=ref,
            reason=reason or "RequestEntityTooLarge",
            code=code,
        )
    cls = _BY_CODE.get(code)
    if cls is None:
        cls = ServerError if code >= 500 else PermanentError
    if cls is Invalid:
        causes = list((status.get("details") or {}).get("causes") or [])
        return Invalid(message, ref=ref, reason=reason, code=code, causes=causes)
    if issubclass(cls, RetryableError):
        return cls(message, ref=ref, reason=reason, code=code, delay=retry_after)
    return cls(message, ref=ref, reason=reason, code=code)
