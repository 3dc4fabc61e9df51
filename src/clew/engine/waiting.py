"""The wait stage of a sync: health of every desired object, read from the controller's watch
caches where they can answer, followed on their events where they cover a kind, and watched
(one LIST and WATCH per kind and namespace) for the rest.

A cached object settles the wait only when its cached state is at least as new as the version
this sync's apply produced (or recorded, for an unchanged object) and is healthy by the same
kstatus rules the watcher uses: a state from before clew's write is not read at all, and one not
yet healthy is waited on. Where the cache also hands out its events (:class:`LiveFeed`, the
controller's informers), the wait re-reads an object each time an event names it and opens no
watch of its own; a kind no informer covers is watched as before. Without a cache
(``clew apply``) every object is watched.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from clew import plan, wait
from clew.cluster import Cluster
from clew.engine.result import SyncOptions
from clew.model import ChangeSet, Health, HealthResult, Manifest, ObjectRef

__all__ = ["Followed", "LiveFeed", "wait_for_health"]

_NOT_SEEN = HealthResult(Health.UNKNOWN, "not observed yet")


class Followed(Protocol):
    """One kind's cached objects while a wait follows them; ``close`` ends the following."""

    def get(self, namespace: str, name: str) -> dict[str, Any] | None: ...
    def seen(self, namespace: str) -> int | None: ...
    def close(self) -> None: ...


@runtime_checkable
class LiveFeed(Protocol):
    """A :class:`clew.plan.LiveCache` that also wakes a wait on its events: ``follow`` calls
    ``wake`` whenever an event names one of ``names`` ((namespace, name)), or returns None when
    it does not cover every namespace of that kind."""

    def follow(
        self,
        cluster: Cluster,
        api_version: str,
        kind: str,
        namespaces: set[str],
        names: set[tuple[str, str]],
        wake: Callable[[], None],
    ) -> Followed | None: ...


async def wait_for_health(
    cluster: Cluster, desired: list[Manifest], applied: ChangeSet, options: SyncOptions
) -> wait.WaitResult:
    live = options.live
    settled = _from_cache(cluster, desired, applied, live) if live else {}
    rest = [m for m in desired if m.ref not in settled]
    if not rest:
        return wait.WaitResult(settled, timed_out=False, failed=[], duration=0.0)
    follower = _Follower(cluster, live, _versions(applied)) if isinstance(live, LiveFeed) else None
    if follower is not None:
        rest = follower.take(rest)
    start = time.monotonic()

    async def watch() -> wait.WaitResult | None:
        if not rest:
            return None
        return await wait.wait_for(cluster, [m.obj for m in rest], timeout=options.timeout)

    async def follow() -> bool:
        return await follower.run(options.timeout) if follower is not None else False

    try:
        watched, follow_timed_out = await asyncio.gather(watch(), follow())
    finally:
        if follower is not None:
            follower.close()
    followed: dict[ObjectRef, HealthResult] = follower.results if follower else {}
    if watched is not None and not settled and not followed:
        return watched  # nothing from a cache: the watcher's result as it was
    results: dict[ObjectRef, HealthResult] = {}
    for m in desired:
        found = settled.get(m.ref) or followed.get(m.ref)
        if found is None and watched is not None:
            found = watched.results.get(m.ref)
        if found is not None:
            results[m.ref] = found
    timed_out = follow_timed_out or (watched is not None and watched.timed_out)
    failed = [ref for ref, r in results.items() if r.health is Health.FAILED]
    return wait.WaitResult(results, timed_out, failed, time.monotonic() - start)


class _Follower:
    """Objects whose kind an informer covers, re-read from its cache each time one of its events
    names them, until each is healthy at (or after) this sync's version, one fails, or time runs
    out. Reading the cache is enough: it only ever holds a state at least as new as the event."""

    def __init__(self, cluster: Cluster, feed: LiveFeed, versions: dict[ObjectRef, int]) -> None:
        self.cluster = cluster
        self.feed = feed
        self.versions = versions
        self.refs: dict[ObjectRef, int] = {}  # followed, with the version this sync wrote
        self.results: dict[ObjectRef, HealthResult] = {}
        self._open: list[tuple[Followed, list[ObjectRef]]] = []
        self._settled: set[ObjectRef] = set()
        self._wake = asyncio.Event()

    def take(self, manifests: list[Manifest]) -> list[Manifest]:
        """Follow what a feed covers; returns the rest (to be watched)."""
        kinds: dict[tuple[str, str], list[Manifest]] = {}
        left = []
        for m in manifests:
            if m.ref in self.versions:
                kinds.setdefault((str(m.obj["apiVersion"]), m.ref.kind), []).append(m)
            else:
                left.append(m)  # no version to compare a cached state with
        for (api_version, kind), group in kinds.items():
            names = {(m.ref.namespace, m.ref.name) for m in group}
            namespaces = {ns for ns, _ in names}
            followed = self.feed.follow(
                self.cluster, api_version, kind, namespaces, names, self._wake.set
            )
            if followed is None:
                left.extend(group)
                continue
            self._open.append((followed, [m.ref for m in group]))
            for m in group:
                self.refs[m.ref] = self.versions[m.ref]
                self.results[m.ref] = _NOT_SEEN
        return left

    async def run(self, timeout: float) -> bool:
        """Follow until done; True if time ran out first."""
        if not self._open:
            return False
        deadline = asyncio.timeout(timeout)
        try:
            async with deadline:
                while True:
                    self._wake.clear()  # before reading: an event from now on wakes us again
                    if self._check():
                        return False
                    await self._wake.wait()
        except TimeoutError:
            if not deadline.expired():
                raise
            return True

    def _check(self) -> bool:
        """Read every unsettled object; True when the wait is over (all healthy, or one failed)."""
        pending = False
        for followed, refs in self._open:
            for ref in refs:
                if ref in self._settled:
                    continue
                result = self._read(followed, ref)
                self.results[ref] = result
                if result.health is Health.FAILED:
                    return True
                if result.health is Health.CURRENT:
                    self._settled.add(ref)
                else:
                    pending = True
        return not pending

    def _read(self, followed: Followed, ref: ObjectRef) -> HealthResult:
        mine = self.refs[ref]
        live = followed.get(ref.namespace, ref.name)
        if live is None:
            seen = followed.seen(ref.namespace)
            # Gone from a cache that is past this sync's write: deleted since.
            return wait.compute(None) if seen is not None and seen > mine else _NOT_SEEN
        meta = live.get("metadata") or {}
        version = plan.version_number(meta.get("resourceVersion"))
        if version is None or version < mine:
            return self.results.get(ref, _NOT_SEEN)  # the cache has not seen this sync's write
        return _health(live, str(meta.get("uid") or ""), version)

    def close(self) -> None:
        for followed, _ in self._open:
            followed.close()
        self._open = []


def _versions(applied: ChangeSet) -> dict[ObjectRef, int]:
    found = {c.ref: plan.version_number(c.version) for c in applied.changes if c.version}
    return {ref: v for ref, v in found.items() if v is not None}


def _from_cache(
    cluster: Cluster, desired: list[Manifest], applied: ChangeSet, cache: plan.LiveCache
) -> dict[ObjectRef, HealthResult]:
    """The desired objects the cache shows healthy at (or after) this sync's version."""
    versions = _versions(applied)
    kinds: dict[tuple[str, str], list[Manifest]] = {}
    for m in desired:
        kinds.setdefault((str(m.obj["apiVersion"]), m.ref.kind), []).append(m)
    settled: dict[ObjectRef, HealthResult] = {}
    for (api_version, kind), manifests in kinds.items():
        namespaces = {m.ref.namespace for m in manifests}
        get = cache.reader(cluster, api_version, kind, namespaces, 0)
        if get is None:
            continue
        for m in manifests:
            live, mine = get(m.ref.namespace, m.ref.name), versions.get(m.ref)
            if live is None or mine is None:
                continue
            meta = live.get("metadata") or {}
            seen = plan.version_number(meta.get("resourceVersion"))
            if seen is None or seen < mine:
                continue  # the cache has not seen this sync's write yet
            health = _health(live, str(meta.get("uid") or ""), seen)
            if health.health is Health.CURRENT:
                settled[m.ref] = health
    return settled


# The health of one object state, by (uid, resourceVersion): a state never changes, and a sync
# of 5,000 unchanged objects would compute the same 5,000 results again on every push.
_HEALTH: dict[tuple[str, int], HealthResult] = {}
_HEALTH_MAX = 100_000


def _health(obj: dict[str, Any], uid: str, version: int) -> HealthResult:
    key = (uid, version)
    found = _HEALTH.get(key)
    if found is None:
        found = _HEALTH[key] = wait.compute(obj)
        if len(_HEALTH) > _HEALTH_MAX:  # forget the oldest half
            for old in list(_HEALTH)[: _HEALTH_MAX // 2]:
                del _HEALTH[old]
    return found
