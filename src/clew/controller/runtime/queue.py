"""The controller's work queue: the semantics of client-go's rate-limited workqueue, on asyncio.

A controller reconciles *keys*, not events: however often an object changes, its key is queued
once, and a key is never handed to two workers at the same time. Three rules give that:

- ``add`` dedupes: a key already waiting is not queued again.
- a key added while a worker holds it is not queued beside it; it is queued once more when the
  worker calls ``done``, so the change that arrived mid-reconcile is not lost.
- delays (``add_after``, ``add_rate_limited``) are timers that end in ``add``; for one key the
  earliest timer wins, so a retry in 1 s is not pushed back by an interval of 5 min.

Failures back off per key (``base * 2**failures``, capped, and never sooner than the error's
own delay) until the controller calls ``forget`` after a success. Time comes from an injected
:class:`Clock`, so tests drive timers by hand instead of sleeping; readiness is computed from
the clock whenever the queue is looked at, and a single timer task only exists to wake waiting
workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import random
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Generic, Protocol, TypeVar

__all__ = ["Clock", "MonotonicClock", "QueueShutdown", "WorkQueue", "jittered"]

K = TypeVar("K", bound=Hashable)

_MAX_EXPONENT = 62  # 2**62 times any sane base is past any cap; stops float overflow


class QueueShutdown(Exception):
    """Raised by :meth:`WorkQueue.get` once the queue is shut down: the worker should exit."""


class Clock(Protocol):
    """The queue's source of time: seconds on a monotonic scale, and a way to wait for them."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class MonotonicClock:
    """The real clock: ``time.monotonic`` and ``asyncio.sleep``."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def jittered(
    interval: float, fraction: float = 0.1, rng: Callable[[], float] = random.random
) -> float:
    """``interval`` moved by a random amount up to ``fraction`` of it, either way.

    Many applications created together would otherwise poll their repositories in lock-step for
    ever; spreading symmetrically keeps the mean period at ``interval``. ``rng`` returns a float
    in [0, 1) (injectable for tests).
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"jitter fraction must be in [0, 1), not {fraction}")
    return interval * (1 + fraction * (2 * rng() - 1))


class WorkQueue(Generic[K]):
    """A deduplicating, delaying, per-key rate-limited queue of keys for N async workers.

    A worker loops ``key = await q.get()``, reconciles, then ``q.forget(key)`` on success or
    ``q.add_rate_limited(key)`` on failure, and always ``q.done(key)``. ``len(q)`` is the number
    of keys ready to be handed out (delayed keys are not counted), for the queue-depth metric;
    note that it makes an empty queue falsy.
    """

    def __init__(
        self,
        *,
        base_delay: float = 0.005,
        max_delay: float = 300.0,
        clock: Clock | None = None,
    ) -> None:
        if base_delay <= 0 or max_delay < base_delay:
            raise ValueError("need 0 < base_delay <= max_delay")
        self._base = base_delay
        self._max = max_delay
        self._clock: Clock = clock or MonotonicClock()
        self._queue: deque[K] = deque()
        self._dirty: set[K] = set()  # wants processing: queued, or added while processing
        self._processing: set[K] = set()
        self._failures: dict[K, int] = {}
        self._due: dict[K, float] = {}  # key -> earliest pending timer
        self._timers: list[tuple[float, int, K]] = []  # heap; stale entries skipped on pop
        self._seq = itertools.count()  # keys need not be orderable: ties break on this
        self._timer_task: asyncio.Task[None] | None = None
        self._timer_at = float("inf")
        self._ready = asyncio.Event()
        self._shutting_down = False

    # -- adding -----------------------------------------------------------------------------------

    def add(self, key: K) -> None:
        """Queue ``key`` unless it is already waiting; if a worker holds it, queue it again once
        that worker is done."""
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._queue.append(key)
            self._ready.set()

    def add_after(self, key: K, delay: float) -> None:
        """Queue ``key`` after ``delay`` seconds; an earlier timer for the key wins over a later."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key)
            return
        due = self._clock.now() + delay
        if self._due.get(key, float("inf")) <= due:
            return
        self._due[key] = due
        heapq.heappush(self._timers, (due, next(self._seq), key))
        self._arm_timer()

    def add_rate_limited(self, key: K, at_least: float = 0.0) -> None:
        """Queue ``key`` after its backoff, ``base_delay * 2**failures`` capped at ``max_delay``,
        and count one more failure for it. ``at_least`` is the error's own delay (a server's
        Retry-After): the backoff never retries sooner than that."""
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        self.add_after(key, max(self.backoff(failures), at_least))

    def backoff(self, failures: int) -> float:
        """The delay after ``failures`` earlier failures (0 for the first retry)."""
        return min(self._base * float(2 ** min(failures, _MAX_EXPONENT)), self._max)

    def forget(self, key: K) -> None:
        """Reset ``key``'s failure count (after a success); pending timers still fire."""
        self._failures.pop(key, None)

    def num_requeues(self, key: K) -> int:
        """How many rate-limited re-queues ``key`` has had since it was last forgotten."""
        return self._failures.get(key, 0)

    # -- taking -----------------------------------------------------------------------------------

    async def get(self) -> K:
        """Wait for a key and hand it to the caller, who must call :meth:`done` with it.

        Raises :class:`QueueShutdown` once the queue is shut down, even if keys remain: a
        controller that lost its leadership must stop at once, not drain a backlog it no longer
        owns.
        """
        while True:
            if self._shutting_down:
                raise QueueShutdown
            self._promote_due()
            if self._queue:
                key = self._queue.popleft()
                self._processing.add(key)
                self._dirty.discard(key)
                if not self._queue:
                    self._ready.clear()
                return key
            self._ready.clear()
            await self._ready.wait()

    def done(self, key: K) -> None:
        """Release ``key``; if it was added meanwhile, it is queued again now."""
        self._processing.discard(key)
        if key in self._dirty and not self._shutting_down:
            self._queue.append(key)
            self._ready.set()

    def __len__(self) -> int:
        self._promote_due()
        return len(self._queue)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def shutdown(self) -> None:
        """Refuse new keys, cancel timers and wake every waiting worker with
        :class:`QueueShutdown`."""
        self._shutting_down = True
        self._timers.clear()
        self._due.clear()
        if self._timer_task is not None:
            self._timer_task.cancel()
            self._timer_task = None
        self._ready.set()

    async def aclose(self) -> None:
        """Shut down and wait for the timer task to end (no task is left behind)."""
        task = self._timer_task
        self.shutdown()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- timers -----------------------------------------------------------------------------------

    def _promote_due(self) -> None:
        now = self._clock.now()
        while self._timers and self._timers[0][0] <= now:
            due, _, key = heapq.heappop(self._timers)
            if self._due.get(key) == due:  # else superseded by an earlier timer, already fired
                del self._due[key]
                self.add(key)

    def _arm_timer(self) -> None:
        """Make sure a task wakes the workers when the earliest timer is due."""
        while self._timers and self._due.get(self._timers[0][2]) != self._timers[0][0]:
            heapq.heappop(self._timers)  # drop superseded entries so they do not arm a timer
        if not self._timers:
            return
        at = self._timers[0][0]
        if self._timer_task is not None and not self._timer_task.done():
            if self._timer_at <= at:
                return
            self._timer_task.cancel()
        self._timer_at = at
        self._timer_task = asyncio.get_running_loop().create_task(self._fire(at))

    async def _fire(self, at: float) -> None:
        await self._clock.sleep(max(0.0, at - self._clock.now()))
        self._timer_task = None
        self._timer_at = float("inf")
        self._promote_due()
        self._arm_timer()
