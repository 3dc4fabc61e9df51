"""Leader election through a ``coordination.k8s.io/v1`` Lease, as client-go's leaderelection does.

Several operator replicas may run; only the one holding the Lease reconciles, so two replicas
never fight over an object. The API server is the only arbiter: every write of the Lease carries
the ``resourceVersion`` that was read, so of two candidates writing at once one gets ``409
Conflict`` and knows it lost. There is no client-side locking.

The timing rules keep two leaders from ever acting at once:

- a holder renews every ``retry_period``; if it has not renewed for ``renew_deadline`` (shorter
  than the lease), it stops its work *before* anyone else may consider the lease expired;
- a candidate takes a held lease only when it is expired twice over: its ``renewTime`` is more than
  ``leaseDurationSeconds`` old by our wall clock, *and* we have seen it unchanged for that long by
  our monotonic clock (client-go's rule, which does not trust the holder's clock);
- a graceful shutdown clears ``holderIdentity`` so a successor takes over at its next try.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from clew.cluster import AlreadyExists, Cluster, ClusterError, Conflict, NotFound, RetryableError
from clew.controller.runtime.queue import jittered
from clew.model.refs import ObjectRef

__all__ = [
    "LEASE_API_VERSION",
    "LeaderElector",
    "format_micro_time",
    "lease_expired",
    "parse_micro_time",
]

LEASE_API_VERSION = "coordination.k8s.io/v1"
_JITTER = 0.2  # retries spread ±20% so candidates started together do not collide for ever

_log = logging.getLogger(__name__)


def format_micro_time(moment: datetime) -> str:
    """A Kubernetes MicroTime: RFC 3339, UTC, microseconds: ``2026-11-26T10:00:00.000000Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_micro_time(text: object) -> datetime | None:
    """The moment of a MicroTime (or a plain RFC 3339 Time); ``None`` if absent or malformed."""
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class LeaderElector:
    """Campaign for one Lease and run a coroutine while holding it.

    ``await elector.run(on_started_leading, on_stopped_leading)`` waits until this identity holds
    the lease, runs ``on_started_leading()`` as a task while renewing, and returns when leadership
    ends: the lease could not be renewed within ``renew_deadline`` or someone else holds it (the
    task is cancelled; the lease is left to expire), ``release()`` was called, or the task ended
    by itself (both clear the lease). ``on_stopped_leading()`` is awaited after the task has
    ended, only if leadership was ever held. An exception of the task is raised from ``run``.
    Cancelling ``run`` stops the task and, with ``release_on_cancel``, clears the lease.

    While campaigning, an unreachable server is retried; a permanent error (``Forbidden``: no
    RBAC for Leases) is raised, since a replica that can never lead must say so.
    """

    def __init__(
        self,
        cluster: Cluster,
        namespace: str,
        name: str,
        identity: str,
        lease_duration: float = 15,
        renew_deadline: float = 10,
        retry_period: float = 2,
        *,
        release_on_cancel: bool = True,
    ) -> None:
        if not identity:
            raise ValueError("a leader election identity must not be empty")
        if not lease_duration > renew_deadline > retry_period * (1 + _JITTER) > 0:
            raise ValueError(
                "need lease_duration > renew_deadline > 1.2 * retry_period > 0, got "
                f"{lease_duration}, {renew_deadline}, {retry_period}"
            )
        self.cluster = cluster
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.release_on_cancel = release_on_cancel
        self._lease: dict[str, Any] | None = None  # the last version read or written
        self._observed: tuple[Any, ...] | None = None  # the lease's spec as last seen changed ...
        self._observed_at = 0.0  # ... and when (monotonic)
        self._renewed_at = 0.0  # monotonic time just before our last successful write
        self._leading = False
        self._running = False
        self._stop: asyncio.Future[None] | None = None
        self._done = asyncio.Event()

    @property
    def is_leader(self) -> bool:
        """True while this identity holds the lease and its task may act."""
        return self._leading

    @property
    def leader(self) -> str | None:
        """The holder seen at the last read or write of the lease (``None``: nobody, or unread)."""
        spec = (self._lease or {}).get("spec") or {}
        return str(spec.get("holderIdentity") or "") or None

    @property
    def _ref(self) -> ObjectRef:
        return ObjectRef("coordination.k8s.io", "Lease", self.namespace, self.name)

    # -- the campaign ---------------------------------------------------------------------------

    async def run(
        self,
        on_started_leading: Callable[[], Awaitable[None]],
        on_stopped_leading: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        if self._running:
            raise RuntimeError(f"leader election for {self._ref} is already running")
        self._running = True
        self._done.clear()
        self._stop = asyncio.get_running_loop().create_future()
        try:
            if await self._acquire():
                await self._lead(on_started_leading, on_stopped_leading)
        finally:
            self._running = False
            self._stop = None
            self._done.set()

    async def release(self) -> None:
        """Step down: stop the leading task and clear ``holderIdentity`` so a successor takes over
        at once. Also ends a campaign that has not won yet. Call it from outside the leading task
        (from inside, return from the task instead)."""
        if self._stop is not None and not self._stop.done():
            self._stop.set_result(None)
        if self._running:
            await self._done.wait()
        else:
            await self._clear_lease()

    async def _acquire(self) -> bool:
        """Try every retry period until the lease is ours (True) or we are told to stop."""
        while not self._stopping():
            try:
                if await self._try_acquire_or_renew():
                    _log.info("%s acquired %s", self.identity, self._ref)
                    return True
            except RetryableError as exc:
                _log.warning("cannot reach the lease %s: %s", self._ref, exc)
            await self._pause(jittered(self.retry_period, _JITTER))
        return False

    async def _lead(
        self,
        on_started_leading: Callable[[], Awaitable[None]],
        on_stopped_leading: Callable[[], Awaitable[None]] | None,
    ) -> None:
        self._leading = True
        task = asyncio.create_task(_call(on_started_leading), name=f"leading {self._ref}")
        lost = False
        cancelled = True  # until the renew loop returns, an exit is a cancellation of run()
        try:
            lost = await self._renew_until_lost(task)
            cancelled = False
        finally:
            self._leading = False
            task.cancel()
            await asyncio.wait({task})  # never raises: the task's own outcome is read below
            if lost:
                _log.warning("%s lost %s", self.identity, self._ref)
            elif not cancelled or self.release_on_cancel:
                await self._clear_lease()
            if on_stopped_leading is not None:
                await on_stopped_leading()
        error = None if task.cancelled() else task.exception()
        if error is not None:
            raise error

    async def _renew_until_lost(self, task: asyncio.Task[None]) -> bool:
        """Renew every retry period. True when leadership is lost; False when the task ended or
        ``release()`` was called."""
        assert self._stop is not None
        while True:
            # Wake at the renew deadline at the latest, not a retry period past it: a leader cut
            # off stops then, as client-go's does, whatever the retries' rhythm.
            left = self._renewed_at + self.renew_deadline - time.monotonic()
            done, _ = await asyncio.wait(
                {task, self._stop},
                timeout=max(0.0, min(jittered(self.retry_period, _JITTER), left)),
                return_when=asyncio.FIRST_COMPLETED,
            )
            if done:
                return False
            remaining = self._renewed_at + self.renew_deadline - time.monotonic()
            renewed = False
            try:
                async with asyncio.timeout(remaining):
                    renewed = await self._try_acquire_or_renew()
            except (TimeoutError, ClusterError) as exc:
                _log.warning("%s could not renew %s: %s", self.identity, self._ref, exc)
            if not renewed and self.leader not in (None, self.identity):
                return True  # someone else holds it: stop at once, not at the deadline
            if time.monotonic() - self._renewed_at >= self.renew_deadline:
                return True

    # -- one attempt ----------------------------------------------------------------------------

    async def _try_acquire_or_renew(self) -> bool:
        """One read-decide-write round; True if the lease is now ours and freshly renewed."""
        started = time.monotonic()
        now = datetime.now(UTC)
        if self._leading and self._lease is not None:
            # The fast path: we hold it, so write over the version we wrote last. A Conflict
            # means someone else wrote meanwhile: read it and decide afresh.
            with contextlib.suppress(Conflict, NotFound):
                return await self._write(self._lease, now, started)
        try:
            lease = await self.cluster.get(LEASE_API_VERSION, "Lease", self.name, self.namespace)
        except NotFound:
            return await self._create(now, started)
        self._observe(lease, time.monotonic())
        spec = lease.get("spec") or {}
        holder = str(spec.get("holderIdentity") or "")
        if holder and holder != self.identity and not self._expired(spec, now, started):
            return False
        try:
            return await self._write(lease, now, started)
        except (Conflict, NotFound):
            return False  # another candidate wrote (or deleted) first: it won this round

    async def _create(self, now: datetime, started: float) -> bool:
        lease = {
            "apiVersion": LEASE_API_VERSION,
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": math.ceil(self.lease_duration),
                "acquireTime": format_micro_time(now),
                "renewTime": format_micro_time(now),
                "leaseTransitions": 0,
            },
        }
        try:
            created = await self.cluster.create(lease)
        except AlreadyExists:
            return False
        self._accept(created, started)
        return True

    async def _write(self, lease: dict[str, Any], now: datetime, started: float) -> bool:
        spec = dict(lease.get("spec") or {})
        stamp = format_micro_time(now)
        if spec.get("holderIdentity") != self.identity:
            spec["acquireTime"] = stamp
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        spec["holderIdentity"] = self.identity
        spec["leaseDurationSeconds"] = math.ceil(self.lease_duration)
        spec["renewTime"] = stamp
        # The body keeps metadata.resourceVersion: the server refuses it if the lease changed.
        written = await self._put({**lease, "spec": spec})
        self._accept(written, started)
        return True

    async def _put(self, lease: dict[str, Any]) -> dict[str, Any]:
        resource = await self.cluster.resource_for(LEASE_API_VERSION, "Lease")
        path = resource.path(self.namespace, self.name)
        return await self.cluster.request("PUT", path, body=lease, ref=self._ref)

    async def _clear_lease(self) -> None:
        """Give the lease up if we hold it, so a successor need not wait for it to expire."""
        lease = self._lease
        if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.identity:
            return
        now = format_micro_time(datetime.now(UTC))
        spec = {
            **(lease.get("spec") or {}),
            "holderIdentity": "",
            "leaseDurationSeconds": 1,
            "acquireTime": now,
            "renewTime": now,
        }
        try:
            async with asyncio.timeout(self.renew_deadline):
                self._lease = await self._put({**lease, "spec": spec})
            _log.info("%s released %s", self.identity, self._ref)
        except Conflict:
            pass  # written by someone else since: it is no longer ours to release
        except (TimeoutError, ClusterError) as exc:
            _log.warning("%s could not release %s: %s", self.identity, self._ref, exc)

    # -- bookkeeping ----------------------------------------------------------------------------

    def _accept(self, lease: dict[str, Any], started: float) -> None:
        self._observe(lease, started)
        self._renewed_at = started

    def _observe(self, lease: dict[str, Any], at: float) -> None:
        self._lease = lease
        spec = lease.get("spec") or {}
        record = tuple(sorted((k, str(v)) for k, v in spec.items()))
        if record != self._observed:
            self._observed = record
            self._observed_at = at

    def _expired(self, spec: dict[str, Any], now: datetime, now_monotonic: float) -> bool:
        return lease_expired(spec, now, now_monotonic - self._observed_at, self.lease_duration)

    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.done()

    async def _pause(self, seconds: float) -> None:
        """Wait ``seconds`` or until ``release()``, whichever comes first."""
        if self._stop is not None:
            await asyncio.wait({self._stop}, timeout=seconds)


def lease_expired(
    spec: dict[str, Any], now: datetime, unchanged_for: float, default_duration: float
) -> bool:
    """Whether a Lease's holder has stopped by client-go's rule: its ``renewTime`` is more than
    ``leaseDurationSeconds`` old by our wall clock *and* we have seen the lease unchanged for that
    long (``unchanged_for``, by our monotonic clock), so neither clock alone decides."""
    duration = float(spec.get("leaseDurationSeconds") or default_duration)
    renewed = parse_micro_time(spec.get("renewTime")) or parse_micro_time(spec.get("acquireTime"))
    stale_by_stamp = renewed is None or renewed + timedelta(seconds=duration) < now
    return stale_by_stamp and unchanged_for > duration


async def _call(fn: Callable[[], Awaitable[None]]) -> None:
    await fn()
