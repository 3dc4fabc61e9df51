"""Watch objects until every one has the desired health, one has failed, or time runs out.

One list-then-watch per (apiVersion, kind, namespace): the list gives each object's health now and
a resourceVersion, the watch streams every change after it, so nothing is polled. A watch whose
resourceVersion was compacted (410 Gone) re-lists; one the server closed at its timeout resumes
from the last version seen (bookmarks keep that version fresh). An object that reaches the desired
health is settled and no longer updated, as cli-utils' wait task does, so a set is done once each
member has been seen healthy, and a group's watch closes once all its members are settled.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from clew.cluster import Cluster, Gone, PermanentError, Resource, RetryableError
from clew.model import Health, HealthResult, ObjectRef
from clew.wait.health import compute

OnChange = Callable[[ObjectRef, HealthResult], None]
"""Called with an object's new health each time it changes (first observation included)."""

_NOT_OBSERVED = HealthResult(Health.UNKNOWN, "not observed yet")
_MAX_BACKOFF = 5.0


@dataclass(frozen=True, slots=True)
class WaitResult:
    """What a wait saw: each object's last health, and why the wait ended."""

    results: Mapping[ObjectRef, HealthResult]
    timed_out: bool
    failed: list[ObjectRef]
    duration: float  # seconds
    until: Health = Health.CURRENT

    @property
    def ok(self) -> bool:
        """Every object reached the desired health."""
        return all(r.health is self.until for r in self.results.values())

    @property
    def pending(self) -> list[ObjectRef]:
        """Objects neither at the desired health nor FAILED: what a timeout is waiting on."""
        return [
            ref
            for ref, r in self.results.items()
            if r.health is not self.until and r.health is not Health.FAILED
        ]

    def summary(self) -> str:
        """One line per object not at the desired health: ``Deployment/ns/web: 1/3 replicas
        available``; empty when all are."""
        return "\n".join(
            f"{ref}: {r.message or r.health.value}"
            for ref, r in self.results.items()
            if r.health is not self.until
        )


@dataclass(frozen=True, slots=True)
class _Group:
    api_version: str
    kind: str
    namespace: str | None  # None: cluster-scoped
    names: dict[str, ObjectRef] = field(default_factory=dict)
    unsettled: set[ObjectRef] = field(default_factory=set)  # so "all settled?" is O(1)


class _Waiter:
    def __init__(
        self, cluster: Cluster, until: Health, on_change: OnChange | None, concurrency: int
    ) -> None:
        self.cluster = cluster
        self.until = until
        self.on_change = on_change
        self.watches = asyncio.Semaphore(concurrency)
        self.expected: list[ObjectRef] = []
        self.results: dict[ObjectRef, HealthResult] = {}
        self.settled: set[ObjectRef] = set()
        # Expected and not settled yet, so each event checks "all settled?" in constant time.
        self.unsettled: set[ObjectRef] = set()
        self.groups_of: dict[ObjectRef, list[_Group]] = {}
        self.finished = asyncio.Event()

    # -- bookkeeping ----------------------------------------------------------------------------

    def observe(self, ref: ObjectRef, result: HealthResult, *, final: bool = False) -> None:
        """Record ``result``; ``final`` settles the object whatever its health (it cannot be
        observed any further)."""
        if ref in self.settled:
            return
        if self.results.get(ref) != result:
            self.results[ref] = result
            if self.on_change is not None:
                self.on_change(ref, result)
        failed = result.health is Health.FAILED and self.until is Health.CURRENT
        if final or failed or result.health is self.until:
            self.settled.add(ref)
            self.unsettled.discard(ref)
            for group in self.groups_of.get(ref, ()):
                group.unsettled.discard(ref)
        if failed or not self.unsettled:
            self.finished.set()

    def outcome(self, timed_out: bool, duration: float) -> WaitResult:
        results = {ref: self.results.get(ref, _NOT_OBSERVED) for ref in self.expected}
        failed = [ref for ref, r in results.items() if r.health is Health.FAILED]
        return WaitResult(results, timed_out, failed, duration, self.until)

    # -- the wait -------------------------------------------------------------------------------

    async def run(self, objects: Sequence[Mapping[str, Any]]) -> None:
        # Until discovery answers, name objects as given, so a timeout right away still lists them.
        self.expected = list(dict.fromkeys(ObjectRef.from_object(dict(o)) for o in objects))
        resources = await self.discover({_type_of(o) for o in objects})
        groups: dict[tuple[str, str, str | None], _Group] = {}
        unresolved: dict[ObjectRef, str] = {}
        expected: dict[ObjectRef, None] = {}  # an ordered set: results keep the caller's order
        for obj in objects:
            api_version, kind = _type_of(obj)
            meta = obj.get("metadata") or {}
            resource = resources[(api_version, kind)]
            if isinstance(resource, str):
                ref = ObjectRef.from_object(dict(obj))
                unresolved[ref] = resource
            else:
                ns = None
                if resource.namespaced:
                    # Like kubectl: a namespaced object without a namespace is in the default one.
                    ns = str(meta.get("namespace") or self.cluster.namespace)
                ref = ObjectRef(resource.group, kind, ns or "", str(meta.get("name") or ""))
                group = groups.setdefault((api_version, kind, ns), _Group(api_version, kind, ns))
                group.names[ref.name] = ref
                group.unsettled.add(ref)
                self.groups_of.setdefault(ref, []).append(group)
            expected[ref] = None
        self.expected = list(expected)
        self.unsettled = set(expected).difference(self.settled)
        for ref, why in unresolved.items():
            self.observe(ref, HealthResult(Health.UNKNOWN, why), final=True)
        if groups and not self.finished.is_set():
            await self.supervise(list(groups.values()))

    async def supervise(self, groups: list[_Group]) -> None:
        """Run one watch task per group until the wait is finished; always cancel them all."""
        pending: set[asyncio.Task[Any]] = {asyncio.create_task(self.watch_group(g)) for g in groups}
        pending.add(asyncio.create_task(self.finished.wait()))
        try:
            while not self.finished.is_set():
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()  # a bug in a group must surface, not hang the wait
        finally:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def discover(self, types: set[tuple[str, str]]) -> dict[tuple[str, str], Resource | str]:
        """The resource of each (apiVersion, kind), or why it cannot be watched."""
        found: dict[tuple[str, str], Resource | str] = {}
        # One at a time: the discovery cache refreshes on a miss, and parallel misses would each
        # download the whole table.
        for api_version, kind in sorted(types):
            attempt = 0
            while (api_version, kind) not in found:
                try:
                    found[(api_version, kind)] = await self.cluster.resource_for(api_version, kind)
                except RetryableError as exc:
                    await asyncio.sleep(_backoff(attempt, exc.delay))
                    attempt += 1
                except PermanentError as exc:
                    found[(api_version, kind)] = f"cannot watch {kind}: {exc.message}"
        return found

    async def watch_group(self, group: _Group) -> None:
        """List then watch one (apiVersion, kind, namespace) until its objects are settled."""
        async with self.watches:
            attempt = 0
            while True:
                try:
                    await self._list_and_watch(group)
                    return
                except Gone:
                    continue  # our resourceVersion was compacted: re-list from now
                except RetryableError as exc:
                    await asyncio.sleep(_backoff(attempt, exc.delay))
                    attempt += 1
                except PermanentError as exc:  # forbidden, kind removed…: no way to observe
                    blind = HealthResult(Health.UNKNOWN, f"cannot watch: {exc.message}")
                    for ref in group.names.values():
                        self.observe(ref, blind, final=True)
                    return

    async def _list_and_watch(self, group: _Group) -> None:
        # A single object is selected by name on the server; several are filtered here, since a
        # field selector cannot say "one of these names".
        only = next(iter(group.names)) if len(group.names) == 1 else None
        selector = f"metadata.name={only}" if only is not None else None
        items, version = await self.cluster.list_objects(
            group.api_version, group.kind, group.namespace, field_selector=selector
        )
        live = {str((item.get("metadata") or {}).get("name")): item for item in items}
        for name, ref in group.names.items():
            self.observe(ref, compute(live.get(name)))
        while not self._settled(group):
            # Closing the generator (aclosing) ends the watch request.
            events = self.cluster.watch(
                group.api_version,
                group.kind,
                group.namespace,
                resource_version=version,
                field_selector=selector,
            )
            async with contextlib.aclosing(events):
                async for event in events:
                    meta = event.object.get("metadata") or {}
                    version = str(meta.get("resourceVersion") or version)
                    changed = group.names.get(str(meta.get("name")))
                    if event.type == "BOOKMARK" or changed is None:
                        continue
                    obj = None if event.type == "DELETED" else event.object
                    self.observe(changed, compute(obj))
                    if self._settled(group):
                        return
            # The server ended the watch at its timeout; go on from the last version seen.

    def _settled(self, group: _Group) -> bool:
        return not group.unsettled


def _type_of(obj: Mapping[str, Any]) -> tuple[str, str]:
    return str(obj.get("apiVersion") or ""), str(obj.get("kind") or "")


def _backoff(attempt: int, hint: float | None) -> float:
    return min(hint if hint else 0.25 * 2**attempt, _MAX_BACKOFF)


async def wait_for(
    cluster: Cluster,
    objects: Sequence[Mapping[str, Any]],
    timeout: float,
    *,
    until: Health = Health.CURRENT,
    on_change: OnChange | None = None,
    concurrency: int = 32,
) -> WaitResult:
    """Watch ``objects`` (dicts with apiVersion, kind and metadata name/namespace, e.g. what
    apply returned) until each has health ``until``.

    With ``until=CURRENT`` (the default) the first FAILED object ends the wait early; use
    ``until=NOT_FOUND`` to wait for deletions. An object that cannot be observed at all (unknown
    kind, forbidden) is settled as UNKNOWN with the reason rather than waited on. At ``timeout``
    seconds the wait returns with ``timed_out`` set; :meth:`WaitResult.summary` names every object
    still not there and why. At most ``concurrency`` watches are open at once; a group waits for
    a free one, and all are closed when the wait returns.
    """
    if until not in (Health.CURRENT, Health.NOT_FOUND):
        raise ValueError(f"can wait until Current or NotFound, not {until.value}")
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    waiter = _Waiter(cluster, until, on_change, concurrency)
    start = time.monotonic()
    deadline = asyncio.timeout(timeout)
    try:
        async with deadline:
            await waiter.run(objects)
    except TimeoutError:
        if not deadline.expired():
            raise
    return waiter.outcome(deadline.expired(), time.monotonic() - start)
