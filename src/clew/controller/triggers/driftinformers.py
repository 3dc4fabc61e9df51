"""The informers drift needs, started as the drift watcher asks for kinds: cluster-wide per kind
as the controller, or per namespace as an Application's ServiceAccount (which may list only
there). They start only for kinds that tracked Applications manage: with sharding, only this
replica's own Applications are tracked, so only their kinds are watched."""

from __future__ import annotations

import asyncio

from clew.apply import PART_OF
from clew.cluster import Cluster
from clew.controller.runtime.informer import InformerFactory
from clew.controller.triggers.drift import DriftWatcher, Watch

__all__ = ["DriftInformers"]


class DriftInformers:
    def __init__(self, cluster: Cluster, factory: InformerFactory, drift: DriftWatcher) -> None:
        self.cluster = cluster
        self.factory = factory  # the controller's own, started and stopped with it
        self.drift = drift
        self._watches: set[tuple[int, str, str, str | None]] = set()
        # Drift informers of Applications applied as a ServiceAccount run as that account.
        self._factories: dict[int, InformerFactory] = {}
        self._starting: set[asyncio.Task[None]] = set()

    def watch(self, watches: set[Watch]) -> None:
        for client, api_version, kind, namespace in watches:
            own = client is self.cluster
            where = None if own or not namespace else namespace
            seen = (id(client), api_version, kind, where)
            if seen in self._watches:
                continue
            self._watches.add(seen)
            factory = self.factory if own else self._factory(client)
            informer = factory.informer(api_version, kind, where, label_selector=PART_OF)
            informer.on_event(lambda t, obj, _old: self.drift.handle(t, obj))

    def _factory(self, client: Cluster) -> InformerFactory:
        factory = self._factories.get(id(client))
        if factory is None:
            factory = self._factories[id(client)] = InformerFactory(client)
            # Started on the next loop turn, with the informers asked for until then.
            task = asyncio.create_task(factory.start_all())
            self._starting.add(task)
            task.add_done_callback(self._starting.discard)
        return factory

    async def stop(self) -> None:
        """Stop the informers of other identities (the controller stops its own factory)."""
        for task in list(self._starting):  # no informer may start after this
            task.cancel()
        await asyncio.gather(*self._starting, return_exceptions=True)
        for factory in self._factories.values():
            await factory.stop_all()
        self._factories.clear()
        self._watches.clear()
