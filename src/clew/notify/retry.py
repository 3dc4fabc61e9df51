"""Sending one request until it is delivered, refused, or out of attempts.

Which answers are worth another attempt (:func:`classify`):

    2xx                                   delivered
    no answer (refused, reset, timeout)   retry
    408, 429, 5xx                         retry
    403 with Retry-After, or with
      x-ratelimit-remaining: 0 (GitHub)   retry: that is GitHub's rate limit, not a refusal
    anything else (3xx, 4xx)              give up: another attempt would get the same answer

Delays double from ``initial`` up to ``maximum`` with ±20 % jitter, so receivers that come back
are not hit by every sender at once; a ``Retry-After`` the server sends is honoured up to
``maximum``.
"""

from __future__ import annotations

import asyncio
import email.utils
import enum
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from clew.notify.http import HttpRequest, HttpResponse, Sender, TransportError

__all__ = ["Backoff", "Delivery", "Verdict", "classify", "retry_after", "send_with_retries"]

_DETAIL_MAX = 200


class Verdict(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    GIVE_UP = "give_up"


@dataclass(frozen=True, slots=True)
class Backoff:
    attempts: int = 5  # in all, the first included
    initial: float = 1.0
    maximum: float = 30.0

    def delay(self, failures: int, rng: Callable[[], float] = random.random) -> float:
        """Seconds to wait after the ``failures``-th failed attempt (1-based)."""
        base = min(self.initial * 2 ** (failures - 1), self.maximum)
        return float(base * (0.8 + 0.4 * rng()))


@dataclass(frozen=True, slots=True)
class Delivery:
    """How sending went. ``error`` is safe to record: a status and the server's short reason."""

    ok: bool
    attempts: int
    status: int | None = None
    error: str = ""


def classify(response: HttpResponse | None) -> Verdict:
    """What to do after ``response`` (None: no answer at all)."""
    if response is None:
        return Verdict.RETRY
    status = response.status
    if 200 <= status < 300:
        return Verdict.DELIVERED
    if status in (408, 429) or 500 <= status < 600:
        return Verdict.RETRY
    if status == 403 and (
        "retry-after" in response.headers or response.headers.get("x-ratelimit-remaining") == "0"
    ):
        return Verdict.RETRY
    return Verdict.GIVE_UP


def retry_after(response: HttpResponse | None, now: float | None = None) -> float | None:
    """Seconds the server asked us to wait (``Retry-After`` as seconds or an HTTP date)."""
    value = (response.headers.get("retry-after") or "").strip() if response else ""
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


async def send_with_retries(
    sender: Sender,
    request: HttpRequest,
    backoff: Backoff,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rng: Callable[[], float] = random.random,
) -> Delivery:
    """Send ``request`` until delivered, refused, or ``backoff.attempts`` are used up."""
    error = ""
    status: int | None = None
    for attempt in range(1, backoff.attempts + 1):
        response: HttpResponse | None
        try:
            response = await sender.send(request)
        except TransportError as exc:
            response, status, error = None, None, str(exc)
        else:
            status, error = response.status, _describe(response)
        verdict = classify(response)
        if verdict is Verdict.DELIVERED:
            return Delivery(True, attempt, status)
        if verdict is Verdict.GIVE_UP or attempt == backoff.attempts:
            suffix = "" if verdict is Verdict.GIVE_UP else f" after {attempt} attempts"
            return Delivery(False, attempt, status, error + suffix)
        delay = backoff.delay(attempt, rng)
        asked = retry_after(response)
        if asked is not None:
            delay = max(delay, min(asked, backoff.maximum))
        await sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover - attempts >= 1


def _describe(response: HttpResponse) -> str:
    """``HTTP 404: <the server's reason>``, from a JSON ``message``/``error`` or the text."""
    text = response.body.decode("utf-8", "replace").strip()
    detail = text
    try:
        doc = json.loads(text) if text.startswith("{") else None
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        found = doc.get("message") or doc.get("error")
        detail = found if isinstance(found, str) else ""
    detail = " ".join(detail.split())[:_DETAIL_MAX]
    return f"HTTP {response.status}" + (f": {detail}" if detail else "")
