"""The :class:`Notifier`: the controller's observer that turns each :class:`SyncNotice` into
notifications, per the NotificationPolicies of the Application's namespace.

It must never slow a sync, so :meth:`Notifier.notify` does no I/O: it matches the notice against
the cached policies, drops repeats (:class:`~clew.notify.limits.Deduper`), and appends one item
per target to that target's bounded queue — dropping (and counting) the oldest waiting item when
the queue is full. Each queue is drained by its own task, started when work arrives and ended
when the queue is empty, which waits for the target's token bucket, reads the target's Secret,
builds the request and sends it with retries. One slow or failing receiver therefore delays only
its own queue. Outcomes go to ``clew_notifications_total`` and to the policy's status.

What is queued lives in memory only: a controller that stops leading drops it.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from clew.cluster import Cluster, ClusterError, NotFound, RetryableError
from clew.model import Reason
from clew.notify.http import Sender, UrllibSender
from clew.notify.limits import Deduper, TokenBucket
from clew.notify.policy import InvalidPolicy, Policy, RateLimit, Target, parse
from clew.notify.retry import Backoff, send_with_retries
from clew.notify.status import StatusBook
from clew.notify.targets import TargetError, build_request, secret_values
from clew.report.metrics import Metrics, NotificationOutcome
from clew.report.notices import NoticeKind, SyncNotice

__all__ = ["Notifier", "NotifierSettings"]

log = logging.getLogger("clew.notify")

PolicySource = Callable[[], Iterable[Mapping[str, Any]]]
AppLookup = Callable[[str, str], Mapping[str, Any] | None]


@dataclass(frozen=True, slots=True)
class NotifierSettings:
    queue_size: int = 100  # notices waiting per target
    backoff: Backoff = field(default_factory=Backoff)
    status_debounce: float = 1.0  # at most one status write per policy this often


@dataclass(frozen=True, slots=True)
class _Item:
    notice: SyncNotice
    policy: Policy  # as it was when the notice came
    target: Target
    time: str  # when the outcome was observed, RFC 3339
    delivery: str  # one id for every attempt
    scope: Hashable
    fingerprint: Hashable


class _Lane:
    """One target's queue, token bucket, and (while there is work) draining task."""

    def __init__(self, rate: RateLimit, size: int, clock: Callable[[], float]) -> None:
        self.rate = rate
        self.bucket = TokenBucket(rate.per_minute / 60.0, rate.burst, clock=clock)
        self.items: deque[_Item] = deque()
        self.size = size
        self.task: asyncio.Task[None] | None = None

    def put(self, item: _Item) -> _Item | None:
        """Queue ``item``; returns the oldest item if it had to be dropped for it."""
        dropped = self.items.popleft() if len(self.items) >= self.size else None
        self.items.append(item)
        return dropped


class Notifier:
    """An :class:`~clew.report.notices.Observer` sending notices to NotificationPolicy targets.

    ``policies()`` returns the NotificationPolicy objects to consider (an informer's cache) and
    ``applications(namespace, name)`` an Application's object (for its labels, and to fill in
    the revision and repository of drift notices). ``on_policy`` is an informer handler that
    keeps each policy's status current; ``aclose`` stops every task.
    """

    def __init__(
        self,
        cluster: Cluster,
        policies: PolicySource,
        applications: AppLookup,
        *,
        metrics: Metrics | None = None,
        sender: Sender | None = None,
        settings: NotifierSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._cluster = cluster
        self._policies = policies
        self._applications = applications
        self._metrics = metrics
        self._sender = sender or UrllibSender()
        self.settings = settings or NotifierSettings()
        self._clock = clock
        self._wall = wall_clock
        self._dedupe = Deduper(clock=clock)
        self._lanes: dict[tuple[str, str, str], _Lane] = {}
        self._parsed: dict[tuple[str, str], tuple[str, Policy | InvalidPolicy]] = {}
        self.status = StatusBook(cluster, debounce=self.settings.status_debounce)

    # -- the observer -----------------------------------------------------------------------------

    async def notify(self, notice: SyncNotice) -> None:
        """Queue ``notice`` for every target whose policy selects it; returns at once."""
        app = self._applications(notice.namespace, notice.name)
        notice = _completed(notice, app)
        labels = ((app or {}).get("metadata") or {}).get("labels") or {}
        now = dt.datetime.fromtimestamp(self._wall(), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        channel = "drift" if notice.kind is NoticeKind.DRIFT_CORRECTED else "sync"
        fingerprint = (notice.kind, notice.revision, notice.reason, notice.objects)
        for policy in self._selecting(notice, labels):
            for target in policy.targets:
                scope = (policy.namespace, policy.name, target.name, notice.name, channel)
                if not self._dedupe.admit(scope, fingerprint, policy.dedupe_window):
                    self._count(target, NotificationOutcome.DEDUPLICATED)
                    continue
                item = _Item(notice, policy, target, now, uuid.uuid4().hex, scope, fingerprint)
                self._enqueue(item)

    # -- policies ----------------------------------------------------------------------------------

    def on_policy(self, kind: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        """Informer handler for NotificationPolicies: accept or refuse each generation in its
        status; a deleted policy's queued notices are dropped."""
        meta = obj.get("metadata") or {}
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        if kind == "DELETED":
            self._parsed.pop((namespace, name), None)
            self.status.forget(namespace, name)
            for key in [k for k in self._lanes if k[:2] == (namespace, name)]:
                lane = self._lanes.pop(key)
                lane.items.clear()
                if lane.task is not None:
                    lane.task.cancel()
            return
        parsed = self._parse(obj)
        stored = dict(obj.get("status") or {})
        if isinstance(parsed, InvalidPolicy):
            generation = int(meta.get("generation") or 0)
            self.status.invalid(namespace, name, generation, str(parsed), stored)
        else:
            self.status.observe(parsed, stored)

    def _selecting(self, notice: SyncNotice, labels: Mapping[str, str]) -> list[Policy]:
        selected = []
        for obj in self._policies():
            if (obj.get("metadata") or {}).get("namespace") != notice.namespace:
                continue
            policy = self._parse(obj)
            if isinstance(policy, Policy) and policy.selects(
                notice.kind, notice.namespace, notice.name, labels
            ):
                selected.append(policy)
        return sorted(selected, key=lambda p: p.name)

    def _parse(self, obj: Mapping[str, Any]) -> Policy | InvalidPolicy:
        """The parsed policy or what is wrong with it, cached per resourceVersion."""
        meta = obj.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        version = str(meta.get("resourceVersion") or "")
        cached = self._parsed.get(key)
        if cached is not None and cached[0] == version and version:
            return cached[1]
        try:
            policy: Policy | InvalidPolicy = parse(obj)
        except InvalidPolicy as exc:
            policy = exc
        self._parsed[key] = (version, policy)
        return policy

    # -- queues ------------------------------------------------------------------------------------

    def _enqueue(self, item: _Item) -> None:
        key = (item.policy.namespace, item.policy.name, item.target.name)
        lane = self._lanes.get(key)
        if lane is None or lane.rate != item.target.rate_limit:
            previous = lane
            lane = self._lanes[key] = _Lane(
                item.target.rate_limit, self.settings.queue_size, self._clock
            )
            if previous is not None:  # the rate changed: keep what waits, and its worker
                lane.items, lane.task = previous.items, previous.task
        dropped = lane.put(item)
        if dropped is not None:
            self._dedupe.forget(dropped.scope, dropped.fingerprint)
            self._count(dropped.target, NotificationOutcome.DROPPED)
            log.warning(
                "notification queue of %s/%s target %s is full: dropped the oldest (%s of %s)",
                *key,
                dropped.notice.kind.value,
                dropped.notice.name,
            )
        if lane.task is None or lane.task.done():
            lane.task = asyncio.create_task(self._drain(key), name=f"notify {'/'.join(key)}")

    async def _drain(self, key: tuple[str, str, str]) -> None:
        while True:
            lane = self._lanes.get(key)  # replaced when the rate changes; gone when deleted
            if lane is None or not lane.items:
                return
            await lane.bucket.take()
            if not lane.items:
                continue
            item = lane.items.popleft()
            try:
                await self._deliver(item)
            except Exception:  # a bug here must not stop this target's queue
                log.exception("notifying %s target %s failed", item.policy.name, item.target.name)

    async def _deliver(self, item: _Item) -> None:
        target, notice = item.target, item.notice
        secret: dict[str, str] = {}
        try:
            secret = await self._secret(item.policy.namespace, target.secret_name)
            request = build_request(
                target,
                notice,
                secret,
                time=item.time,
                timestamp=str(int(self._wall())),
                delivery=item.delivery,
            )
        except TargetError as exc:
            self._finish(item, ok=False, error=str(exc))
            return
        if request is None:
            self._count(target, NotificationOutcome.SKIPPED)
            return
        delivery = await send_with_retries(self._sender, request, self.settings.backoff)
        self._finish(item, ok=delivery.ok, error=_redact(delivery.error, secret_values(secret)))

    def _finish(self, item: _Item, *, ok: bool, error: str) -> None:
        target, notice = item.target, item.notice
        self._count(target, NotificationOutcome.SENT if ok else NotificationOutcome.FAILED)
        self.status.record(
            item.policy,
            target.name,
            target.type.value,
            ok=ok,
            error=error,
            when=dt.datetime.fromtimestamp(self._wall(), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        where = f"{item.policy.namespace}/{item.policy.name} target {target.name}"
        if ok:
            log.info("notified %s of %s %s", where, notice.kind.value, notice.name)
            return
        self._dedupe.forget(item.scope, item.fingerprint)  # a repeat may try again
        log.warning(
            "notifying %s of %s %s failed: %s", where, notice.kind.value, notice.name, error
        )

    async def _secret(self, namespace: str, name: str | None) -> dict[str, str]:
        """The Secret's keys, decoded and stripped (``ca.crt`` kept whole); {} without one."""
        if name is None:
            return {}
        obj = await self._read_secret(namespace, name)
        decoded = {}
        for key, value in (obj.get("data") or {}).items():
            try:
                text = base64.b64decode(value).decode()
            except ValueError:
                raise TargetError(f"Secret {namespace}/{name} key {key!r} is not UTF-8") from None
            decoded[key] = text if key == "ca.crt" else text.strip()
        return decoded

    async def _read_secret(self, namespace: str, name: str) -> dict[str, Any]:
        backoff = self.settings.backoff
        attempt = 1
        while True:
            try:
                return await self._cluster.get("v1", "Secret", name, namespace)
            except NotFound:
                raise TargetError(f"Secret {namespace}/{name} not found") from None
            except RetryableError as exc:
                if attempt >= backoff.attempts:
                    raise TargetError(f"Secret {namespace}/{name} not readable: {exc}") from None
            except ClusterError as exc:
                raise TargetError(f"Secret {namespace}/{name} not readable: {exc}") from None
            await asyncio.sleep(backoff.delay(attempt))
            attempt += 1

    def _count(self, target: Target, outcome: NotificationOutcome) -> None:
        if self._metrics is not None:
            self._metrics.notification(target.type.value, outcome)

    # -- lifecycle ---------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Stop sending: queued notices are dropped, status not yet written is lost."""
        while self._lanes:  # a notice handed over while we wait starts a lane: stop it too
            lanes, self._lanes = list(self._lanes.values()), {}
            tasks = [lane.task for lane in lanes if lane.task is not None]
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks)
        await self.status.aclose()

    async def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait until every queue is empty and its last send finished (for tests and shutdown)."""
        async with asyncio.timeout(timeout):
            while True:
                tasks = [lane.task for lane in self._lanes.values() if lane.task is not None]
                pending = [t for t in tasks if not t.done()]
                if not pending:
                    return
                await asyncio.wait(pending)


def _completed(notice: SyncNotice, app: Mapping[str, Any] | None) -> SyncNotice:
    """A drift notice names no reason, revision or repository: say DriftCorrected, and take
    the others from the Application."""
    if not notice.reason and notice.kind is NoticeKind.DRIFT_CORRECTED:
        notice = replace(notice, reason=Reason.DRIFT_CORRECTED)
    if app is None or (notice.revision and notice.repo_url):
        return notice
    status, source = app.get("status") or {}, (app.get("spec") or {}).get("source") or {}
    return replace(
        notice,
        revision=notice.revision or str(status.get("lastAppliedRevision") or ""),
        repo_url=notice.repo_url or str(source.get("repoURL") or ""),
    )


def _redact(text: str, secrets: list[str]) -> str:
    for value in secrets:
        if value:
            text = text.replace(value, "[redacted]")
    return text
