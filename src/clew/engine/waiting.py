"""The wait stage of a sync: health of every desired object, read from the controller's watch
caches where they can answer, watched (one LIST and WATCH per kind and namespace) for the rest.

A cached object settles the wait only when its cached state is at least as new as the version
this sync's apply produced (or recorded, for an unchanged object) and is healthy by the same
kstatus rules the watcher uses: a state from before clew's write, or one not yet healthy, is
left to the watcher. Without a cache (``clew apply``) every object is watched, as before.
"""

from __future__ import annotations

from typing import Any

from clew import plan, wait
from clew.cluster import Cluster
from clew.engine.result import SyncOptions
from clew.model import ChangeSet, Health, HealthResult, Manifest, ObjectRef

__all__ = ["wait_for_health"]


async def wait_for_health(
    cluster: Cluster, desired: list[Manifest], applied: ChangeSet, options: SyncOptions
) -> wait.WaitResult:
    settled = _from_cache(cluster, desired, applied, options.live) if options.live else {}
    rest = [m.obj for m in desired if m.ref not in settled]
    if not rest:
        return wait.WaitResult(settled, timed_out=False, failed=[], duration=0.0)
    watched = await wait.wait_for(cluster, rest, timeout=options.timeout)
    if not settled:
        return watched
    results = {
        m.ref: settled[m.ref] if m.ref in settled else watched.results[m.ref]
        for m in desired
        if m.ref in settled or m.ref in watched.results
    }
    return wait.WaitResult(results, watched.timed_out, watched.failed, watched.duration)


def _from_cache(
    cluster: Cluster, desired: list[Manifest], applied: ChangeSet, cache: plan.LiveCache
) -> dict[ObjectRef, HealthResult]:
    """The desired objects the cache shows healthy at (or after) this sync's version."""
    versions = {c.ref: plan.version_number(c.version) for c in applied.changes if c.version}
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
