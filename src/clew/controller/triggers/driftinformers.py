"""The informers drift needs, kept per cluster and identity, and let go when unused.

:class:`~clew.controller.triggers.drift.DriftWatcher` says what it must watch (a set of
:data:`~clew.controller.triggers.drift.Watch`: client, apiVersion, kind, namespace) each time
what it tracks changes. Objects the controller applies as itself are watched cluster-wide per
kind by the controller's own informer factory (shared with the Application informer, kept while
leading). Every other client (an Application's ServiceAccount, which may list only in its
namespaces, or another cluster's client, docs/multi-cluster.md) gets a factory of its own, and
that factory is stopped as soon as no tracked Application uses that client: the last Application
on a remote cluster deleted or moved means no watch is left open on it, and no closed client is
watched.

``clew_drift_informers{cluster}`` counts the informers per API server, so that release can be
seen from outside.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Protocol

from clew.apply import PART_OF
from clew.cluster import Cluster
from clew.controller.runtime.informer import EventType, Handler, Informer, InformerFactory
from clew.controller.triggers.drift import Watch

__all__ = ["DriftInformers", "server_label"]

log = logging.getLogger("clew.controller.triggers.driftinformers")

Handle = Callable[[str, dict[str, Any], str], None]
"""``handle(event_type, obj, server)``: :meth:`DriftWatcher.handle`."""


class InformerMetrics(Protocol):
    def set_drift_informers(self, counts: Mapping[str, int]) -> None: ...


def server_label(server: str) -> str:
    """An API server URL as clients print it (httpx adds a trailing slash), without it."""
    return server.rstrip("/")


class DriftInformers:
    def __init__(
        self, own: InformerFactory, handle: Handle, metrics: InformerMetrics | None = None
    ) -> None:
        self._own = own
        self._handle = handle
        self._metrics = metrics
        self._watches: set[tuple[int, str, str, str | None]] = set()  # by id of the client
        self._factories: dict[int, InformerFactory] = {}  # holds the client: ids stay unique
        self._tasks: set[asyncio.Task[None]] = set()

    def update(self, watches: set[Watch]) -> None:
        """Start what ``watches`` asks for and is not running; stop the factories of clients
        no longer asked for."""
        own_id = id(self._own.cluster)
        for client, api_version, kind, namespace in watches:
            own = id(client) == own_id
            where = None if own or not namespace else namespace
            seen = (id(client), api_version, kind, where)
            if seen in self._watches:
                continue
            self._watches.add(seen)
            factory = self._own if own else self._factory_for(id(client), client)
            informer = factory.informer(api_version, kind, where, label_selector=PART_OF)
            informer.on_event(self._handler(client.server))  # as DriftWatcher.track keys it
        used = {id(client) for client, *_ in watches}
        for ident in [i for i in self._factories if i not in used]:
            factory = self._factories.pop(ident)
            self._watches = {w for w in self._watches if w[0] != ident}
            log.info("drift: no Application watched on %s any more", factory.cluster.server)
            self._later(self._stop(factory))
        if self._metrics is not None:
            self._metrics.set_drift_informers(self.counts())

    def informer(self, client: Cluster, api_version: str, kind: str, ns: str) -> Informer | None:
        """The drift informer :meth:`update` started for these objects, if any (the engine's
        plan reads live versions from it: :mod:`clew.controller.reconcile.livecache`)."""
        own = id(client) == id(self._own.cluster)
        where = None if own or not ns else ns
        factory = self._own if own else self._factories.get(id(client))
        if factory is None or (id(client), api_version, kind, where) not in self._watches:
            return None
        return factory.informer(api_version, kind, where, label_selector=PART_OF)

    def _handler(self, server: str) -> Handler:
        def handler(kind: EventType, obj: dict[str, Any], _old: dict[str, Any] | None) -> None:
            self._handle(kind, obj, server)

        return handler

    def counts(self) -> dict[str, int]:
        """Running drift informers per API server (impersonating clients count with theirs)."""
        servers = {id(self._own.cluster): server_label(self._own.cluster.server)}
        servers.update({i: server_label(f.cluster.server) for i, f in self._factories.items()})
        out: dict[str, int] = {}
        for ident, *_ in self._watches:
            out[servers[ident]] = out.get(servers[ident], 0) + 1
        return out

    def _factory_for(self, ident: int, client: Cluster) -> InformerFactory:
        factory = self._factories.get(ident)
        if factory is None:
            factory = self._factories[ident] = InformerFactory(client)
            # Started on the next loop turn, with the informers asked for until then.
            self._later(factory.start_all())
        return factory

    def _later(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _stop(factory: InformerFactory) -> None:
        try:
            await factory.stop_all()
        except Exception as exc:  # a watch on a closed client may end in error
            log.debug("drift informers on %s ended with %r", factory.cluster.server, exc)

    async def aclose(self) -> None:
        """Stop every factory of its own (the shared one is its owner's to stop)."""
        # Starts return at once and stops must finish: wait for both, cancel neither.
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for factory in self._factories.values():
            await self._stop(factory)
        self._factories.clear()
        self._watches.clear()
        if self._metrics is not None:
            self._metrics.set_drift_informers({})
