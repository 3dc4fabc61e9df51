"""Sessions without a user database: the bearer token lives in the browser, in a cookie that is
encrypted and signed (Fernet: AES-CBC + HMAC-SHA256) and expires.

The cookie carries the token (re-checked with a TokenReview on every request, so revoking it in
Kubernetes ends the session), the session's CSRF token and the time it was issued. It is HttpOnly
and SameSite=Strict; JavaScript never sees the bearer token, and another site cannot read or
replay the CSRF token. The key is random per process unless given (``--session-key-file``), so a
restart signs everyone out, which is the safe default.
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken

__all__ = ["COOKIE", "Session", "SessionCodec", "csrf_matches"]

COOKIE = "clew_session"


@dataclass(frozen=True, slots=True)
class Session:
    token: str  # the user's bearer token
    csrf: str  # sent back with every action (form field or X-CSRF-Token header)
    issued: float


class SessionCodec:
    """Seals and opens session cookies; ``ttl`` seconds after sign-in a cookie is refused."""

    def __init__(self, key: bytes | None = None, ttl: int = 8 * 3600) -> None:
        self._fernet = Fernet(key or Fernet.generate_key())
        self.ttl = ttl

    def new(self, token: str) -> tuple[Session, str]:
        """A fresh session for ``token`` and its cookie value."""
        session = Session(token, secrets.token_urlsafe(32), time.time())
        payload = json.dumps({"t": session.token, "c": session.csrf, "i": session.issued})
        return session, self._fernet.encrypt(payload.encode()).decode()

    def open(self, cookie: str | None) -> Session | None:
        """The session in ``cookie``; None when absent, forged, tampered with or expired."""
        if not cookie:
            return None
        try:
            raw = self._fernet.decrypt(cookie.encode(), ttl=self.ttl)
            data = json.loads(raw)
            return Session(str(data["t"]), str(data["c"]), float(data["i"]))
        except (InvalidToken, ValueError, KeyError, TypeError):
            return None


def csrf_matches(session: Session, sent: str | None) -> bool:
    """Constant-time comparison of the CSRF token a request sent with the session's."""
    return bool(sent) and hmac.compare_digest(session.csrf.encode(), str(sent).encode())
