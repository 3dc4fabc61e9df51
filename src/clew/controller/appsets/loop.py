"""The ApplicationSet controller: informers feed a work queue, workers reconcile sets.

A cluster-wide chore, so it runs only while its process leads (the runner starts :meth:`run`
when it wins the Lease and cancels it when it loses it). A set is queued when it changes
(generation or the reconcile-request annotation), when one of its Applications changes spec or
disappears (someone edited or deleted it by hand), and again at its interval: Git generators
are polled. A failure the source says is temporary (an unreachable server) comes back with the
queue's exponential backoff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from clew.cluster import Cluster, ClusterError
from clew.controller.api.spec import API_VERSION as APP_API_VERSION
from clew.controller.api.spec import KIND as APP_KIND
from clew.controller.api.spec import RECONCILE_ANNOTATION, AppKey
from clew.controller.appsets.reconciler import AppSetReconciler
from clew.controller.appsets.spec import API_VERSION, KIND, SET_LABEL
from clew.controller.runtime.informer import EventType, InformerFactory
from clew.controller.runtime.queue import QueueShutdown, WorkQueue
from clew.controller.triggers.events import PushEvent
from clew.source import SnapshotCache

__all__ = ["AppSetController"]

log = logging.getLogger("clew.controller.appsets")


class AppSetController:
    def __init__(
        self,
        cluster: Cluster,
        snapshots: SnapshotCache,
        namespace: str | None = None,
        workers: int = 2,
    ) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.workers = workers
        self.reconciler = AppSetReconciler(cluster, snapshots)
        self.queue: WorkQueue[AppKey] = WorkQueue(max_delay=300.0)
        self._items: Callable[[], list[dict[str, Any]]] = list

    async def run(self) -> None:
        """Reconcile ApplicationSets until cancelled; stops its informers on the way out."""
        self.queue = WorkQueue(max_delay=300.0)
        factory = InformerFactory(self.cluster)
        sets = factory.informer(API_VERSION, KIND, self.namespace)
        apps = factory.informer(APP_API_VERSION, APP_KIND, self.namespace, label_selector=SET_LABEL)
        self._items = sets.items
        sets.on_event(self._on_set)
        apps.on_event(self._on_application)
        workers: list[asyncio.Task[None]] = []
        try:
            await factory.start_all()
            await sets.has_synced.wait()
            workers = [asyncio.create_task(self._worker()) for _ in range(self.workers)]
            await asyncio.gather(*workers)
        finally:
            await self.queue.aclose()
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            await factory.stop_all()
            self._items = list

    def on_push(self, event: PushEvent) -> int:
        """Queue each set with a Git generator on the pushed repository; how many. A push to
        any ref counts: a generator's revision may be a range or a tag."""
        triggered = 0
        for obj in self._items():
            urls = _repo_urls((obj.get("spec") or {}).get("generators"))
            if any(event.matches(url) for url in urls):
                self.queue.add(AppKey.of(obj))
                triggered += 1
        return triggered

    def _on_set(self, kind: EventType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if kind == "DELETED":
            return  # its Applications are the garbage collector's
        meta, old_meta = obj.get("metadata") or {}, (old or {}).get("metadata") or {}
        if (
            old is None
            or meta.get("generation") != old_meta.get("generation")
            or (meta.get("annotations") or {}).get(RECONCILE_ANNOTATION)
            != (old_meta.get("annotations") or {}).get(RECONCILE_ANNOTATION)
        ):
            self.queue.add(AppKey.of(obj))

    def _on_application(
        self, kind: EventType, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> None:
        meta = obj.get("metadata") or {}
        owner = (meta.get("labels") or {}).get(SET_LABEL)
        if not owner:
            return
        old_meta = (old or {}).get("metadata") or {}
        if kind == "DELETED" or (
            old is not None
            and (
                meta.get("generation") != old_meta.get("generation")
                or meta.get("labels") != old_meta.get("labels")
            )
        ):
            self.queue.add(AppKey(str(meta.get("namespace") or ""), str(owner)))

    async def _worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except QueueShutdown:
                return
            after: float | None = None
            try:
                outcome = await self.reconciler.reconcile(key)
            except ClusterError as exc:
                log.warning("ApplicationSet %s: %s", key, exc)
                self.queue.add_rate_limited(key, at_least=exc.delay or 0.0)
            except Exception:  # a bug: report it, retry with backoff, keep the worker alive
                log.exception("ApplicationSet %s: reconcile crashed", key)
                self.queue.add_rate_limited(key)
            else:
                log.log(
                    logging.INFO if outcome.ok else logging.WARNING,
                    "ApplicationSet %s reconciled: %s",
                    key,
                    outcome.reason,
                )
                if outcome.backoff:
                    self.queue.add_rate_limited(key)
                else:
                    self.queue.forget(key)
                    after = outcome.requeue_after
            finally:
                self.queue.done(key)
            if after is not None:
                self.queue.add_after(key, after)


def _repo_urls(generators: Any) -> list[str]:
    """The repositories of every Git generator in ``generators`` (raw, nested)."""
    out: list[str] = []
    for generator in generators if isinstance(generators, list) else []:
        for kind, body in generator.items() if isinstance(generator, dict) else []:
            if not isinstance(body, dict):
                continue
            if kind == "git" and isinstance(body.get("repoURL"), str):
                out.append(body["repoURL"])
            out.extend(_repo_urls(body.get("generators")))
    return out
