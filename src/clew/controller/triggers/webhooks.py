"""Webhook receivers: authenticate a push notification from GitHub, GitLab or a generic HMAC
sender, refuse replays, and turn it into a typed :class:`PushEvent`.

Pure: no I/O. The HTTP server hands in the headers and the raw body exactly as received
(signatures are over raw bytes) and maps the outcome to a status::

    PushEvent       202  the controller triggers the Applications that follow the repo and ref
    Ignored         200  GitHub's ping; 202 any other event we do not act on
    NotAuthenticated 401  missing or wrong signature or token, generic timestamp out of window
    Malformed       400  not JSON, or a push without the fields we need
    Replayed        409  a delivery already accepted within the TTL

A delivery is authenticated before anything else is looked at, so an unauthenticated caller
learns nothing but 401. Replays: the provider's delivery id is not covered by its signature, so
on its own it would let anyone holding one captured request resend it under a fresh id. The
receiver therefore also remembers the verified signature: GitHub's covers the body (which carries
the push time), the generic one covers the timestamp. GitLab's token is not a per-message
signature, so there the delivery id is all there is.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping

from clew.controller.triggers import payloads
from clew.controller.triggers.events import (
    Ignored,
    Malformed,
    NotAuthenticated,
    Provider,
    PushEvent,
    RefKind,
    Replayed,
    WebhookRejected,
)

__all__ = [
    "Ignored",
    "Malformed",
    "NotAuthenticated",
    "Provider",
    "PushEvent",
    "Receiver",
    "RefKind",
    "ReplayGuard",
    "Replayed",
    "WebhookRejected",
]

TIMESTAMP_TOLERANCE = 300.0  # seconds a generic X-Clew-Timestamp may be off, either way


class ReplayGuard:
    """Remembers the keys it admitted for ``ttl`` seconds, at most ``capacity`` of them (the
    oldest are forgotten first). One guard per receiver; not thread-safe (one event loop)."""

    def __init__(
        self,
        *,
        capacity: int = 10_000,
        ttl: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._capacity = capacity
        self._ttl = ttl
        self._clock = clock
        # key -> (expiry, the delivery that brought it); insertion order is expiry order
        self._expiry: OrderedDict[str, tuple[float, str]] = OrderedDict()

    def admit(self, keys: Iterable[str], delivery: str = "") -> bool:
        """Record ``keys`` (brought by ``delivery``) and return True, or return False if any of
        them was seen already."""
        keys = tuple(keys)
        now = self._clock()
        while self._expiry and next(iter(self._expiry.values()))[0] <= now:
            self._expiry.popitem(last=False)
        if any(key in self._expiry for key in keys):
            return False
        for key in keys:
            self._expiry[key] = (now + self._ttl, delivery)
        while len(self._expiry) > self._capacity:
            self._expiry.popitem(last=False)
        return True

    def original(self, keys: Iterable[str]) -> str:
        """The delivery that first brought any of ``keys`` ("" if none is remembered)."""
        return next((self._expiry[k][1] for k in keys if k in self._expiry), "")

    def forget(self, keys: Iterable[str]) -> None:
        """Drop ``keys``, so a redelivery of a request that failed downstream is accepted."""
        for key in keys:
            self._expiry.pop(key, None)

    def __len__(self) -> int:
        return len(self._expiry)


class Receiver:
    """One provider's endpoint: its secret, the clock, and the deliveries it already accepted."""

    def __init__(
        self,
        provider: Provider,
        secret: str,
        *,
        replays: ReplayGuard | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not secret:
            raise ValueError(f"the {provider} receiver needs a non-empty secret")
        self.provider = provider
        self._secret = secret.encode()
        self._replays = replays if replays is not None else ReplayGuard()
        self._clock = clock

    def __repr__(self) -> str:
        return f"Receiver({self.provider.value!r})"

    def receive(self, headers: Mapping[str, str], body: bytes) -> PushEvent | Ignored:
        """Authenticate, parse and de-duplicate one request; raise :class:`WebhookRejected`."""
        h = _lower(headers)
        if self.provider is Provider.GITHUB:
            _check_hmac(h, "x-hub-signature-256", self._secret, body)
            result = payloads.github(h, body)
        elif self.provider is Provider.GITLAB:
            _check_token(h, self._secret)
            result = payloads.gitlab(h, body)
        else:
            _check_generic(h, self._secret, body, self._clock())
            result = payloads.generic(h, body)
        keys = self._keys(h)
        if isinstance(result, PushEvent) and not self._replays.admit(keys, result.delivery):
            original = self._replays.original(keys)
            if original and original != result.delivery:  # the same push under a fresh id
                raise Replayed(
                    f"delivery {result.delivery} repeats delivery {original}, already received"
                )
            raise Replayed(f"delivery {result.delivery} was already received")
        return result

    def release(self, headers: Mapping[str, str]) -> None:
        """Forget an accepted request whose trigger failed, so the sender may deliver it again."""
        self._replays.forget(self._keys(_lower(headers)))

    def _keys(self, h: Mapping[str, str]) -> tuple[str, ...]:
        delivery, signature = _HEADERS[self.provider]
        keys = [f"delivery:{h.get(delivery, '')}"]
        if signature:
            keys.append(f"signature:{h.get(signature, '')}")
        return tuple(keys)


# provider -> (delivery id header, per-message signature header or "")
_HEADERS = {
    Provider.GITHUB: ("x-github-delivery", "x-hub-signature-256"),
    Provider.GITLAB: ("x-gitlab-event-uuid", ""),
    Provider.GENERIC: ("x-clew-delivery", "x-clew-signature"),
}


# -- authentication ---------------------------------------------------------------------------


def _check_hmac(h: Mapping[str, str], header: str, secret: bytes, message: bytes) -> None:
    given = h.get(header)
    if not given:
        raise NotAuthenticated(f"missing {header} header")
    scheme, _, digest = given.partition("=")
    if scheme != "sha256" or not digest:
        raise NotAuthenticated(f"{header} must be sha256=<hex digest>")
    expected = hmac.new(secret, message, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(digest.encode(), expected.encode()):
        raise NotAuthenticated(f"{header} does not match the body")


def _check_token(h: Mapping[str, str], secret: bytes) -> None:
    token = h.get("x-gitlab-token")
    if not token:
        raise NotAuthenticated("missing x-gitlab-token header")
    if not hmac.compare_digest(token.encode(), secret):
        raise NotAuthenticated("x-gitlab-token does not match")


def _check_generic(h: Mapping[str, str], secret: bytes, body: bytes, now: float) -> None:
    stamp = h.get("x-clew-timestamp")
    if not stamp:
        raise NotAuthenticated("missing x-clew-timestamp header")
    if not re.fullmatch(r"\d{1,12}", stamp):
        raise NotAuthenticated("x-clew-timestamp must be unix seconds")
    _check_hmac(h, "x-clew-signature", secret, stamp.encode() + b"." + body)
    skew = now - int(stamp)
    if skew > TIMESTAMP_TOLERANCE:
        raise NotAuthenticated("x-clew-timestamp is more than 5 minutes old")
    if skew < -TIMESTAMP_TOLERANCE:
        raise NotAuthenticated("x-clew-timestamp is more than 5 minutes in the future")


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value.strip() for name, value in headers.items()}
