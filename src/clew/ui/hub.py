"""One list+watch of Applications for the whole UI server, shared by every browser.

The hub keeps the current Applications in memory (the list page renders from it, so 1,000
Applications cost no API call per page view) and tells each subscriber (one queue per open
server-sent-events stream) which Application changed. Browsers never poll; the API server sees
one watch however many pages are open. A compacted watch (410 Gone) re-lists; any other error
re-lists after a short pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from clew.cluster import Cluster, ClusterError, Gone
from clew.controller.api.spec import API_VERSION, KIND

__all__ = ["AppHub", "Change", "running"]

_log = logging.getLogger(__name__)
_QUEUE_LIMIT = 1000  # a subscriber this far behind is told to resync instead


@dataclass(frozen=True, slots=True)
class Change:
    """``type`` is ADDED, MODIFIED, DELETED, or RESYNC (reload everything: ``key`` is empty)."""

    type: str
    key: tuple[str, str]


class AppHub:
    def __init__(self, cluster: Cluster, *, retry_seconds: float = 2.0) -> None:
        self.cluster = cluster
        self.apps: dict[tuple[str, str], dict[str, Any]] = {}
        self.synced = asyncio.Event()
        self._subscribers: set[asyncio.Queue[Change]] = set()
        self._retry = retry_seconds

    def subscribe(self) -> asyncio.Queue[Change]:
        queue: asyncio.Queue[Change] = asyncio.Queue(_QUEUE_LIMIT)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Change]) -> None:
        self._subscribers.discard(queue)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def _publish(self, change: Change) -> None:
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(change)
            except asyncio.QueueFull:  # a stalled browser: drop its backlog, ask it to reload
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(Change("RESYNC", ("", "")))

    async def run(self) -> None:
        """List, then watch from the list's resourceVersion, forever (cancel to stop)."""
        while True:
            try:
                version = await self._relist()
                while True:
                    version = await self._watch(version)
            except Gone:
                continue
            except ClusterError as exc:
                _log.warning("watch on Applications failed, listing again: %s", exc)
                await asyncio.sleep(self._retry)
            except Exception:
                # A bug here must not leave every page frozen on stale data: log, list again.
                _log.exception("watch on Applications failed, listing again")
                await asyncio.sleep(self._retry)

    async def _relist(self) -> str:
        items, version = await self.cluster.list_objects(API_VERSION, KIND, None)
        self.apps = {_key(app): app for app in items}
        self.synced.set()
        self._publish(Change("RESYNC", ("", "")))
        return version

    async def _watch(self, version: str) -> str:
        async for event in self.cluster.watch(
            API_VERSION, KIND, None, resource_version=version, timeout_seconds=300
        ):
            meta = event.object.get("metadata") or {}
            version = str(meta.get("resourceVersion") or version)
            if event.type == "BOOKMARK":
                continue
            key = _key(event.object)
            if event.type == "DELETED":
                self.apps.pop(key, None)
            else:
                self.apps[key] = event.object
            self._publish(Change(event.type, key))
        return version


def _key(app: dict[str, Any]) -> tuple[str, str]:
    meta = app.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


@contextlib.asynccontextmanager
async def running(hub: AppHub) -> AsyncIterator[AppHub]:
    """Run ``hub`` in the background for the duration of the block."""
    task = asyncio.create_task(hub.run())
    try:
        yield hub
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
