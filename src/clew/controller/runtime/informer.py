"""Shared informers: one list-then-watch per (apiVersion, kind, namespace, label selector), an
in-memory cache of what it saw, and events for every subscriber.

Controllers read the cache instead of the API server and react to events instead of polling; a
second controller interested in the same objects subscribes to the same informer instead of
opening a second watch (:class:`InformerFactory` hands out one instance per key).

The informer never lets a subscriber miss a state. It lists, then watches from the list's
resourceVersion, keeping the version of the last event or bookmark. A watch the server closed
(its timeout) or that broke (``ConnectionFailed``, other retryable errors, with backoff) resumes
from that version; a version the server no longer has (410 ``Gone``) re-lists, and the re-list is
compared with the cache: objects that changed meanwhile come out as ``ADDED``/``MODIFIED``, those
that vanished as ``DELETED``. ``run()`` after ``stop()`` resumes the same way, keeping the cache.

Each subscriber has its own mailbox and task, so a slow handler delays only itself; events reach
it in order. Cached objects are shared, read-only dicts: copy before changing one.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from clew.cluster import Cluster, ClusterError, Gone
from clew.controller.runtime.queue import jittered

__all__ = ["EventType", "Handler", "Informer", "InformerFactory", "InformerKey"]

EventType = Literal["ADDED", "MODIFIED", "DELETED"]
Handler = Callable[[EventType, dict[str, Any], dict[str, Any] | None], Awaitable[None] | None]
"""``handler(type, obj, old_obj)``: ``old_obj`` is the previous state on ``MODIFIED``, else None."""

_QUICK_END = 1.0  # a watch the server ends this fast, with nothing in it, counts as a failure

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class InformerKey:
    """What one informer watches; ``namespace=None`` watches every namespace."""

    api_version: str
    kind: str
    namespace: str | None = None
    label_selector: str | None = None

    def __str__(self) -> str:
        where = f" in {self.namespace}" if self.namespace else ""
        selected = f" [{self.label_selector}]" if self.label_selector else ""
        return f"{self.api_version} {self.kind}{where}{selected}"


class _Subscriber:
    """One handler's mailbox, drained in order by its own task while the informer runs."""

    def __init__(self, handler: Handler, name: str) -> None:
        self.handler = handler
        self.name = name
        self.pending: deque[tuple[EventType, dict[str, Any], dict[str, Any] | None]] = deque()
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def push(self, kind: EventType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        self.pending.append((kind, obj, old))
        self.wake.set()

    def start(self) -> None:
        if self.task is None:
            self.task = asyncio.create_task(self._drain(), name=self.name)

    async def stop(self) -> None:
        """Cancel the task; undelivered events stay in the mailbox for the next run."""
        task, self.task = self.task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task})

    async def _drain(self) -> None:
        while True:
            while self.pending:
                kind, obj, old = self.pending[0]
                try:
                    outcome = self.handler(kind, obj, old)
                    if inspect.isawaitable(outcome):
                        await outcome
                except Exception:
                    # One subscriber's bug must not stop the informer or starve the others.
                    _log.exception("%s: handler %r failed on %s", self.name, self.handler, kind)
                self.pending.popleft()
            self.wake.clear()
            await self.wake.wait()


class Informer:
    """A cache of the objects of one :class:`InformerKey`, kept current by a watch.

    ``await run()`` until ``await stop()``; ``has_synced`` is set once the first list is in the
    cache. Retryable trouble never ends ``run``: it is logged, passed to ``on_error`` and retried
    with backoff (``min_backoff`` doubling to ``max_backoff``), as are permanent errors such as
    ``Forbidden`` or a kind not served yet, which an administrator may fix while we wait.
    """

    def __init__(
        self,
        cluster: Cluster,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        *,
        watch_timeout: int = 300,
        min_backoff: float = 0.2,
        max_backoff: float = 5.0,
        on_error: Callable[[ClusterError], None] | None = None,
    ) -> None:
        self.cluster = cluster
        self.key = InformerKey(api_version, kind, namespace or None, label_selector or None)
        self.watch_timeout = watch_timeout
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.on_error = on_error
        self.has_synced = asyncio.Event()
        self.last_error: ClusterError | None = None
        self.lists = 0  # list requests made (the first, then one per 410): for metrics and tests
        self.watches = 0  # watch requests made
        self._cache: dict[tuple[str, str], dict[str, Any]] = {}
        self._resource_version = ""
        self._subscribers: list[_Subscriber] = []
        self._task: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()

    # -- reading ----------------------------------------------------------------------------------

    def get(self, namespace: str | None, name: str) -> dict[str, Any] | None:
        """The cached object (read-only), or None; ``namespace`` is None or "" if cluster-wide."""
        return self._cache.get((namespace or "", name))

    def items(self) -> list[dict[str, Any]]:
        """Every cached object (read-only dicts), in no particular order."""
        return list(self._cache.values())

    @property
    def resource_version(self) -> str:
        """The version the next watch resumes from ("" until the first list)."""
        return self._resource_version

    @property
    def running(self) -> bool:
        return self._task is not None

    def on_event(self, handler: Handler) -> Callable[[], None]:
        """Subscribe ``handler(type, obj, old_obj)``, sync or async; returns an unsubscribe.

        A subscriber that comes after the first list first gets an ``ADDED`` for every cached
        object, so it starts from the same state as the others.
        """
        sub = _Subscriber(handler, f"informer {self.key} -> {getattr(handler, '__name__', '?')}")
        if self.has_synced.is_set():
            for obj in self._cache.values():
                sub.push("ADDED", obj, None)
        self._subscribers.append(sub)
        if self._task is not None:
            sub.start()

        def unsubscribe() -> None:
            if sub in self._subscribers:
                self._subscribers.remove(sub)
            if sub.task is not None:
                sub.task.cancel()
                sub.task = None

        return unsubscribe

    # -- running ----------------------------------------------------------------------------------

    async def run(self) -> None:
        """List (or resume from the last version seen) and watch until :meth:`stop`."""
        if self._task is not None:
            raise RuntimeError(f"informer {self.key} is already running")
        self._stopped.clear()
        task = self._task = asyncio.create_task(self._loop(), name=f"informer {self.key}")
        for sub in self._subscribers:
            sub.start()
        try:
            await asyncio.wait({task})
        finally:
            task.cancel()
            await asyncio.wait({task})
            for sub in self._subscribers:
                await sub.stop()
            self._task = None
            self._stopped.set()
        error = None if task.cancelled() else task.exception()
        if error is not None:
            raise error  # a bug, not trouble with the server: surface it

    async def stop(self) -> None:
        """End :meth:`run` (it returns normally) and wait until every task of ours is done."""
        if self._task is not None:
            self._task.cancel()
            await self._stopped.wait()

    async def _loop(self) -> None:
        failures = 0  # in a row, without an event to show the watch works
        while True:
            delay = 0.0
            try:
                if not self._resource_version:
                    await self._relist()
                started = time.monotonic()
                if await self._watch():
                    failures = 0
                    continue
                if time.monotonic() - started >= _QUICK_END:
                    continue  # the server's timeout on a quiet watch: resume at once
                raise _EmptyWatch(f"watch on {self.key} ended at once with no events")
            except Gone as exc:
                # Re-list at once the first time; a server that keeps answering 410 right after
                # a fresh list gets backoff like any other trouble.
                self._resource_version = ""
                self._note(exc)
                delay = self._backoff(failures - 1) if failures else 0.0
            except ClusterError as exc:
                self._note(exc)
                delay = self._backoff(failures)
            failures += 1
            if delay:
                await asyncio.sleep(delay)

    async def _relist(self) -> None:
        """List everything and bring the cache and the subscribers up to that state."""
        key = self.key
        self.lists += 1
        items, version = await self.cluster.list_objects(
            key.api_version, key.kind, key.namespace, label_selector=key.label_selector
        )
        fresh = {_cache_key(obj) for obj in items}
        for obj in items:
            self._apply("MODIFIED", obj)
        for cache_key in [k for k in self._cache if k not in fresh]:
            self._emit("DELETED", self._cache.pop(cache_key), None)
        self._resource_version = version
        self.has_synced.set()

    async def _watch(self) -> bool:
        """Follow one watch request to its end; True if it delivered anything."""
        key = self.key
        self.watches += 1
        stream = self.cluster.watch(
            key.api_version,
            key.kind,
            key.namespace,
            resource_version=self._resource_version,
            label_selector=key.label_selector,
            # Spread so that informers started together do not all re-watch at the same moment.
            timeout_seconds=max(1, round(jittered(self.watch_timeout, 0.5))),
        )
        delivered = False
        async with contextlib.aclosing(stream):
            async for event in stream:
                delivered = True
                if event.type != "BOOKMARK":
                    self._apply(event.type, event.object)
                version = (event.object.get("metadata") or {}).get("resourceVersion")
                if version:
                    self._resource_version = str(version)
        return delivered

    # -- the cache --------------------------------------------------------------------------------

    def _apply(self, kind: str, obj: dict[str, Any]) -> None:
        """Put one observed state into the cache and tell the subscribers what changed."""
        cache_key = _cache_key(obj)
        old = self._cache.get(cache_key)
        if kind == "DELETED":
            self._cache.pop(cache_key, None)
            self._emit("DELETED", obj, None)
            return
        if old is not None and _meta(old, "uid") != _meta(obj, "uid"):
            # Deleted and re-created while we were not watching: a different object.
            self._emit("DELETED", old, None)
            old = None
        self._cache[cache_key] = obj
        if old is None:
            self._emit("ADDED", obj, None)
        elif _meta(old, "resourceVersion") != _meta(obj, "resourceVersion"):
            self._emit("MODIFIED", obj, old)

    def _emit(self, kind: EventType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        for sub in self._subscribers:
            sub.push(kind, obj, old)

    def _note(self, exc: ClusterError) -> None:
        self.last_error = exc
        _log.warning("informer %s: %s", self.key, exc)
        if self.on_error is not None:
            self.on_error(exc)

    def _backoff(self, failures: int) -> float:
        return float(min(self.min_backoff * 2 ** min(failures, 32), self.max_backoff))


class _EmptyWatch(ClusterError):
    """The server closed a watch at once without a word: back off before asking again."""


class InformerFactory:
    """One shared :class:`Informer` per key for one cluster, started and stopped together.

    ``informer(...)`` returns the same instance for the same key; informers asked for after
    ``start_all()`` start at once. Options (``watch_timeout``, ``on_error``, backoff) apply to
    every informer made here.
    """

    def __init__(self, cluster: Cluster, **options: Any) -> None:
        self.cluster = cluster
        self._options = options
        self._informers: dict[InformerKey, Informer] = {}
        self._tasks: dict[InformerKey, asyncio.Task[None]] = {}
        self._started = False

    def informer(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
    ) -> Informer:
        key = InformerKey(api_version, kind, namespace or None, label_selector or None)
        informer = self._informers.get(key)
        if informer is None:
            informer = Informer(
                self.cluster, api_version, kind, namespace, label_selector, **self._options
            )
            self._informers[key] = informer
            if self._started:
                self._start(key, informer)
        return informer

    @property
    def informers(self) -> Mapping[InformerKey, Informer]:
        """The registry: one informer, hence one watch, per key."""
        return dict(self._informers)

    async def start_all(self) -> None:
        """Start every informer not running yet (again, after ``stop_all``, resuming where it
        stopped); returns at once (see :meth:`wait_for_sync`)."""
        self._started = True
        for key, informer in self._informers.items():
            task = self._tasks.get(key)
            if task is None or task.done():
                self._start(key, informer)

    async def wait_for_sync(self) -> None:
        """Wait until every informer has its first list in its cache (bound it with a timeout)."""
        await asyncio.gather(*(i.has_synced.wait() for i in self._informers.values()))

    async def stop_all(self) -> None:
        """Stop every informer and wait for their tasks; re-raise the first that failed."""
        self._started = False
        for key, informer in self._informers.items():
            if informer.running:
                await informer.stop()
            elif key in self._tasks:
                self._tasks[key].cancel()  # started a moment ago: its run() has not begun yet
        tasks, self._tasks = list(self._tasks.values()), {}
        if tasks:
            await asyncio.wait(tasks)
        for task in tasks:
            error = None if task.cancelled() else task.exception()
            if error is not None:
                raise error

    def _start(self, key: InformerKey, informer: Informer) -> None:
        old = self._tasks.get(key)
        if old is not None and not old.cancelled() and old.exception() is not None:
            _log.error("informer %s had failed, restarting it: %r", key, old.exception())
        self._tasks[key] = asyncio.create_task(informer.run(), name=f"informer {key}")


def _cache_key(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _meta(obj: dict[str, Any], field: str) -> Any:
    return (obj.get("metadata") or {}).get(field)
