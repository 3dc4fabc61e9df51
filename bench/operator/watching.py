"""Following objects with list-then-watch, each event stamped with the moment it arrived here.

Every figure of the operator benchmarks ends at a watch event (what a user of the cluster would
see), so nothing is polled. The list gives a resourceVersion; a change made after it reaches the
watch even if the watch request itself is sent a moment later. A watch the server ends resumes
from the last version seen; a compacted one (410) lists again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from clew.cluster import Cluster, Gone


@dataclass(frozen=True, slots=True)
class Seen:
    at: float  # time.monotonic() when the event was decoded here
    type: str  # ADDED (from a list, or created), MODIFIED or DELETED
    obj: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.obj.get("metadata", {}).get("name", ""))


async def follow(
    cluster: Cluster,
    api_version: str,
    kind: str,
    namespace: str | None = None,
    *,
    label_selector: str | None = None,
    field_selector: str | None = None,
    listed: asyncio.Event | None = None,
) -> AsyncIterator[Seen]:
    """Every current object (as ADDED), then every change, for ever; ``listed`` is set once the
    first list is in, i.e. from when no change can be missed."""
    version = ""
    while True:
        if not version:
            items, version = await cluster.list_objects(
                api_version,
                kind,
                namespace,
                label_selector=label_selector,
                field_selector=field_selector,
            )
            now = time.monotonic()
            if listed is not None:
                listed.set()
            for item in items:
                yield Seen(now, "ADDED", item)
        stream = cluster.watch(
            api_version,
            kind,
            namespace,
            resource_version=version,
            label_selector=label_selector,
            field_selector=field_selector,
            timeout_seconds=600,
        )
        try:
            async with contextlib.aclosing(stream):
                async for event in stream:
                    at = time.monotonic()
                    version = str(event.object.get("metadata", {}).get("resourceVersion", version))
                    if event.type != "BOOKMARK":
                        yield Seen(at, event.type, event.object)
        except Gone:
            version = ""


class Consumer:
    """Feeds every event of :func:`follow` to ``sink`` in a task of its own until closed."""

    def __init__(self, events: AsyncIterator[Seen], sink: Callable[[Seen], None]) -> None:
        self._events = events
        self._sink = sink
        self._task: asyncio.Task[None] = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for seen in self._events:
            self._sink(seen)

    def check(self) -> None:
        """Raise what stopped the consumer, if anything did (a dead watch must not look idle)."""
        if self._task.done() and not self._task.cancelled():
            self._task.result()

    async def aclose(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class FirstSeen:
    """When each value (``key(obj)``) first appeared on a watch, and a way to wait for one."""

    def __init__(self, key: Callable[[dict[str, Any]], str | None]) -> None:
        self._key = key
        self.times: dict[str, float] = {}
        self._waiting: dict[str, asyncio.Future[float]] = {}

    def __call__(self, seen: Seen) -> None:
        value = self._key(seen.obj) if seen.type != "DELETED" else None
        if value is None or value in self.times:
            return
        self.times[value] = seen.at
        future = self._waiting.pop(value, None)
        if future is not None and not future.done():
            future.set_result(seen.at)

    async def wait(self, value: str, timeout: float) -> float:
        """The arrival time of ``value``, waiting up to ``timeout`` seconds for it."""
        if value in self.times:
            return self.times[value]
        future = self._waiting.setdefault(value, asyncio.get_running_loop().create_future())
        return await asyncio.wait_for(asyncio.shield(future), timeout)
