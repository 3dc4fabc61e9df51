"""The plan's live versions from the controller's drift informers, instead of a LIST per kind.

The controller already watches every object it manages (one informer per client, kind and
namespace, label-selected to ApplySet members: :mod:`clew.controller.runner`). A sync's plan may
read those caches (:class:`clew.plan.LiveCache`) under two rules that keep a cache that lags
the server from hiding a needed apply:

- **Version floor.** An informer stands in for a LIST only once it is synced and its watch has
  reached the newest resourceVersion clew's own applies produced for that kind (the inventory's
  records): events come in resourceVersion order, so it then holds every object at least as
  new as clew's last write. Otherwise the plan lists, as before.
- **Replay after the sync.** A change made by hand just before the plan, whose event had not
  reached the cache yet, is judged unchanged by the plan, and its event then arrives while the
  Application's drift checks are paused. When the sync ends, :meth:`InformerCache.replay` hands
  the drift watcher every object whose cached state is newer than what the sync recorded and
  is more than a status write, so such a change is reverted (or reported) at once rather than
  at the next interval. Events that arrive later find drift checks running again.

The wait follows the same informers (:meth:`InformerCache.follow`): one subscription per
informer, made the first time a wait needs it, wakes each waiting sync when an event names one
of its objects, so a sync opens no LIST or WATCH of its own for a kind an informer covers.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from clew.cluster import Cluster
from clew.controller.runtime.informer import Informer
from clew.model import Change, Manifest
from clew.plan import CachedObject, only_status_changed, version_number

__all__ = ["Followed", "InformerCache", "Lookup"]

Lookup = Callable[[Cluster, str, str, str], "Informer | None"]
"""The informer that watches objects of (client, apiVersion, kind) in a namespace ("" for
cluster-scoped objects), if the controller runs one."""


class InformerCache:
    """A :class:`clew.plan.LiveCache` over the informers ``lookup`` finds."""

    def __init__(self, lookup: Lookup) -> None:
        self._lookup = lookup
        self.hits = 0  # kinds answered from a cache, and LISTs left to the plan: for tests
        self.misses = 0
        self.followed = 0  # kinds a wait followed on an informer's events: for tests
        # One subscription per informer, kept as long as the informer lives.
        self._feeds: weakref.WeakKeyDictionary[Informer, _Feed] = weakref.WeakKeyDictionary()

    def reader(
        self, cluster: Cluster, api_version: str, kind: str, namespaces: set[str], floor: int
    ) -> CachedObject | None:
        informers: dict[str, Informer] = {}
        for namespace in namespaces:
            informer = self._lookup(cluster, api_version, kind, namespace)
            if informer is None or not informer.has_synced.is_set():
                self.misses += 1
                return None
            seen = version_number(informer.resource_version)
            if seen is None or seen < floor:
                self.misses += 1
                return None
            informers[namespace] = informer
        self.hits += 1

        def get(namespace: str, name: str) -> dict[str, Any] | None:
            informer = informers.get(namespace)
            return informer.get(namespace, name) if informer is not None else None

        return get

    def follow(
        self,
        cluster: Cluster,
        api_version: str,
        kind: str,
        namespaces: set[str],
        names: set[tuple[str, str]],
        wake: Callable[[], None],
    ) -> Followed | None:
        """Call ``wake`` whenever an event names one of ``names`` ((namespace, name) pairs),
        and read their cached states; None when a running, synced informer does not cover every
        namespace (the wait then watches on its own). Close the result when done."""
        informers: dict[str, Informer] = {}
        for namespace in namespaces:
            informer = self._lookup(cluster, api_version, kind, namespace)
            if informer is None or not informer.running or not informer.has_synced.is_set():
                return None
            informers[namespace] = informer
        feeds = []
        for informer in set(informers.values()):
            feed = self._feeds.get(informer)
            if feed is None:
                feed = self._feeds[informer] = _Feed()
                informer.on_event(feed.handle)
            feeds.append(feed)
        event = asyncio.Event()  # one per follower, so that closing removes exactly ours
        for feed in feeds:
            feed.add(names, event, wake)
        self.followed += 1
        return Followed(informers, feeds, names, event)

    def replay(
        self,
        cluster: Cluster,
        desired: Iterable[Manifest],
        changes: Iterable[Change],
        handle: Callable[[str, dict[str, Any]], None],
    ) -> int:
        """Hand ``handle`` (the drift watcher's) each desired object whose cached state is
        newer than the version the sync recorded for it and more than a status write, or that
        the cache saw deleted after it; returns how many."""
        recorded = {c.ref: c for c in changes if c.version}
        informers: dict[tuple[str, str, str], Informer | None] = {}
        replayed = 0
        for m in desired:
            change = recorded.get(m.ref)
            if change is None:
                continue
            ref = m.ref
            where = (str(m.obj["apiVersion"]), ref.kind, ref.namespace)
            if where not in informers:  # one lookup per kind and namespace, not per object
                informers[where] = self._lookup(cluster, *where)
            informer = informers[where]
            mine = version_number(change.version)
            if informer is None or not informer.has_synced.is_set() or mine is None:
                continue  # a new informer's first list reaches drift as ADDED events anyway
            live = informer.get(ref.namespace, ref.name)
            if live is None:
                seen = version_number(informer.resource_version)
                if seen is not None and seen > mine:  # gone after clew's write: deleted
                    handle("DELETED", m.obj)
                    replayed += 1
                continue
            meta = live.get("metadata") or {}
            version = version_number(meta.get("resourceVersion"))
            if version is None or version <= mine:
                continue  # clew's own write, or older: its later events are still to come
            if only_status_changed(m.obj, meta, change.generation, change.uid):
                continue
            handle("MODIFIED", live)
            replayed += 1
        return replayed


class _Feed:
    """One informer's events, handed to the waits that follow objects it names."""

    def __init__(self) -> None:
        self._waiting: dict[tuple[str, str], dict[asyncio.Event, Callable[[], None]]] = {}

    def add(
        self, names: set[tuple[str, str]], token: asyncio.Event, wake: Callable[[], None]
    ) -> None:
        for key in names:
            self._waiting.setdefault(key, {})[token] = wake

    def remove(self, names: set[tuple[str, str]], token: asyncio.Event) -> None:
        for key in names:
            waiting = self._waiting.get(key)
            if waiting is not None:
                waiting.pop(token, None)
                if not waiting:
                    del self._waiting[key]

    def handle(self, _kind: str, obj: dict[str, Any], _old: dict[str, Any] | None) -> None:
        meta = obj.get("metadata") or {}
        waiting = self._waiting.get((str(meta.get("namespace") or ""), str(meta.get("name"))))
        for wake in list((waiting or {}).values()):
            wake()


class Followed:
    """What a wait reads while it follows: the cached states, and how new the caches are."""

    def __init__(
        self,
        informers: dict[str, Informer],
        feeds: list[_Feed],
        names: set[tuple[str, str]],
        token: asyncio.Event,
    ) -> None:
        self._informers = informers
        self._feeds = feeds
        self._names = names
        self._token = token

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        informer = self._informers.get(namespace)
        return informer.get(namespace, name) if informer is not None else None

    def seen(self, namespace: str) -> int | None:
        """The newest resourceVersion the cache of ``namespace`` has reached."""
        informer = self._informers.get(namespace)
        return version_number(informer.resource_version) if informer is not None else None

    def close(self) -> None:
        for feed in self._feeds:
            feed.remove(self._names, self._token)
