"""Small objects every reconcile reads (an Application's Git credentials), kept for a few
seconds so that a burst of syncs in one namespace costs one GET, not one each.

Unlike the informers, nothing tells this cache of a change: a changed object is seen once its
entry expires (``ttl``), never later. So it is not for what must be seen at once: the tenancy
annotations of a Namespace (a narrowed destination list applies to the very next sync) are
read fresh every time. Concurrent reads of one object share one request; an
error is never kept (the next read asks again). Entries are per client: a client that
impersonates another identity never sees what one with more access read.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable
from typing import Any

from clew.cluster import Cluster

__all__ = ["READ_TTL", "ReadCache"]

READ_TTL = 5.0  # seconds: how late a rotated Secret may be seen

_Key = tuple[str, str, str, str]  # apiVersion, kind, namespace, name


class ReadCache:
    def __init__(self, ttl: float = READ_TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._clients: weakref.WeakKeyDictionary[
            Cluster, dict[_Key, tuple[float, asyncio.Task[dict[str, Any]]]]
        ] = weakref.WeakKeyDictionary()

    def for_client(self, cluster: Cluster) -> Callable[..., Any]:
        """``get(api_version, kind, name, namespace)`` through this cache, for ``cluster``."""

        async def get(
            api_version: str, kind: str, name: str, namespace: str | None = None
        ) -> dict[str, Any]:
            return await self.get(cluster, api_version, kind, name, namespace)

        return get

    async def get(
        self, cluster: Cluster, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any]:
        """The object as read at most ``ttl`` seconds ago (read-only: shared); raises what
        :meth:`Cluster.get` raises."""
        entries = self._clients.setdefault(cluster, {})
        key = (api_version, kind, namespace or "", name)
        now = self._clock()
        found = entries.get(key)
        if found is None or found[0] <= now:
            if len(entries) > 1024:  # drop what has expired, now and then
                for old in [k for k, (until, _) in entries.items() if until <= now]:
                    del entries[old]
            read = asyncio.ensure_future(cluster.get(api_version, kind, name, namespace))
            found = entries[key] = (now + self.ttl, read)
        try:
            return await asyncio.shield(found[1])
        except Exception:
            if entries.get(key) is found:
                del entries[key]  # an error is not kept
            raise
