"""Keeping notifications few: a token bucket per target, and deduplication of repeats.

Both take a clock, so tests drive time by hand instead of sleeping.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable

__all__ = ["Deduper", "TokenBucket"]


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; starts full."""

    def __init__(
        self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock()

    def try_take(self) -> float:
        """Take a token and return 0, or return the seconds until one is there (taking none)."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.rate

    async def take(self, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> float:
        """Wait for a token and take it; returns the seconds waited (by the bucket's clock)."""
        waited = 0.0
        while (wait := self.try_take()) > 0:
            await sleep(wait)
            waited += wait
        return waited


class Deduper:
    """Suppresses a notice that repeats the last one admitted in its scope within a window.

    A scope is one target and one Application's stream of outcomes; a fingerprint is what makes
    two notices the same (kind, revision, reason...). Only the last fingerprint per scope is kept,
    so a change of state always goes through (synced, degraded, synced again at the same revision
    is three sends), while the interval reconciles that report the same success over and over
    send once per window. The oldest scopes are forgotten beyond ``capacity``.
    """

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, capacity: int = 10_000
    ) -> None:
        self._clock = clock
        self._capacity = capacity
        self._last: OrderedDict[Hashable, tuple[Hashable, float]] = OrderedDict()

    def admit(self, scope: Hashable, fingerprint: Hashable, window: float) -> bool:
        """True (and remembered) unless the scope's last admitted fingerprint is this one and was
        admitted less than ``window`` seconds ago."""
        now = self._clock()
        last = self._last.get(scope)
        if last is not None and last[0] == fingerprint and now - last[1] < window:
            return False
        self._last[scope] = (fingerprint, now)
        self._last.move_to_end(scope)
        while len(self._last) > self._capacity:
            self._last.popitem(last=False)
        return True

    def forget(self, scope: Hashable, fingerprint: Hashable) -> None:
        """Undo :meth:`admit` for a notice that could not be delivered, so a repeat is sent."""
        last = self._last.get(scope)
        if last is not None and last[0] == fingerprint:
            del self._last[scope]

    def __len__(self) -> int:
        return len(self._last)
