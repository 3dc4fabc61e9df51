"""The controller process: informers feed a work queue, workers reconcile, drift is watched,
webhooks trigger, and only the elected leader reconciles (with sharding: each replica its share,
docs/sharding.md). ApplicationSets (:mod:`clew.controller.appsets`) run while this process leads.

``Controller.run()`` serves HTTP at once (webhooks and probes on the public port, ``/metrics`` on
its own, localhost unless secured), then campaigns for the Lease and, once leading, starts the
informers and workers. Losing the lease stops them; SIGTERM releases the lease.

Every replica is ready as soon as it serves, leader or not: a Deployment's rollout and a node
drain must not wait for leadership. So any replica may receive a webhook. The leader queues the
Applications it concerns at once; a standby (or any shard) asks their owner through the API,
setting the same reconcile-request annotation as ``clew reconcile`` on each of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from opentelemetry import trace

from clew.cluster import Cluster, ClusterError
from clew.controller.api.spec import API_VERSION, KIND, RECONCILE_ANNOTATION, AppKey
from clew.controller.appsets import AppSetController
from clew.controller.config import ControllerConfig
from clew.controller.reconcile import Outcome, Reconciler
from clew.controller.reconcile.clients import Clients
from clew.controller.reconcile.driftrecord import DriftReporter
from clew.controller.reconcile.livecache import InformerCache
from clew.controller.reconcile.revisions import RevisionCache
from clew.controller.runtime.informer import InformerFactory
from clew.controller.runtime.leader import LeaderElector
from clew.controller.runtime.metrics_auth import serve_metrics
from clew.controller.runtime.queue import QueueShutdown, WorkQueue
from clew.controller.runtime.server import RunningServer, serve
from clew.controller.runtime.sharding import NotOwned, Shard
from clew.controller.triggers.depends import dependants
from clew.controller.triggers.drift import DriftWatcher
from clew.controller.triggers.driftinformers import DriftInformers
from clew.controller.triggers.push import follows, request_reconciles
from clew.controller.triggers.receivers import create_app
from clew.controller.triggers.webhooks import PushEvent
from clew.model import ObjectRef, Reason
from clew.notify import API_VERSION as POLICY_API_VERSION
from clew.notify import KIND as POLICY_KIND
from clew.notify import Notifier
from clew.report import conditions, logs, tracing
from clew.report.events import EventRecorder
from clew.report.metrics import Metrics
from clew.report.notices import Observer
from clew.source import SnapshotCache
from clew.source.urls import normalize_repo_url

log = logging.getLogger("clew.controller")
_tracer = trace.get_tracer(tracing.TRACER)


class Controller:
    def __init__(
        self,
        cluster: Cluster,
        config: ControllerConfig,
        metrics: Metrics | None = None,
        observers: Sequence[Observer] = (),
    ) -> None:
        self.observers = list(observers)
        self.cluster = cluster
        self.config = config
        self.metrics = metrics or Metrics()
        self.snapshots = SnapshotCache(config.cache_dir, config.cache_max_bytes)
        self.revisions = RevisionCache(self.snapshots)
        self.events = EventRecorder(cluster, config.identity)
        self.queue: WorkQueue[AppKey] = WorkQueue(max_delay=300.0)
        self.factory = InformerFactory(cluster)
        self.notifier: Notifier | None = None
        if config.notifications:
            self._policies = self.factory.informer(
                POLICY_API_VERSION, POLICY_KIND, config.namespace
            )
            self.notifier = Notifier(
                cluster,
                self._policies.items,
                lambda namespace, name: self._apps.get(namespace, name),
                metrics=self.metrics,
            )
            self.observers.append(self.notifier)
        # One client per identity (the controller's, each Application's ServiceAccount), shared
        # by the reconciler and the drift watcher.
        self.clients = Clients(cluster, config.tenancy)
        # Drift informers per cluster and identity, let go when no Application uses them.
        self.drift_informers = DriftInformers(
            self.factory, lambda t, obj, server: self.drift.handle(t, obj, server), self.metrics
        )
        self.drift = DriftWatcher(
            self.clients.for_app,
            on_corrected=self._drift_corrected,
            on_out_of_sync=self._out_of_sync,
            metrics=self.metrics,
            on_kinds=self.drift_informers.update,
        )
        self.reconciler = Reconciler(
            cluster,
            self.snapshots,
            self.revisions,
            self.events,
            metrics=self.metrics,
            drift=self.drift,
            helm_binary=config.helm_binary,
            observers=self.observers,
            clients=self.clients,
            live=InformerCache(self.drift_informers.informer),
        )
        self.drift_reporter = DriftReporter(
            self.reconciler.status, self.clients, self.events, self.observers
        )
        self.leading = False
        self.serving = False
        self.became_leader = asyncio.Event()  # set each time this instance starts leading
        self.server: RunningServer | None = None
        self.metrics_server: RunningServer | None = None
        self._apps = self.factory.informer(API_VERSION, KIND, config.namespace)
        # A cluster-wide chore: leader-only, with its own informers and queue, so a set's
        # trouble (or a missing CRD) never holds up Applications.
        self.appsets = (
            AppSetController(cluster, self.snapshots, config.namespace)
            if config.applicationsets
            else None
        )
        self.shard: Shard[AppKey] | None = None
        if config.sharding:
            self.shard = Shard(
                cluster,
                config.lease_namespace,
                config.identity,
                name=str,
                keys=lambda: (AppKey.of(app) for app in self._apps.items()),
                on_gained=lambda key: self.queue.add(key),
                on_dropped=self._dropped,
                timing=(config.lease_duration, config.renew_deadline, config.retry_period),
                metrics=self.metrics,
            )
        # The queue carries keys only: a webhook's W3C traceparent waits here for the next
        # reconcile of its key, whose root span continues the caller's trace (latest push wins).
        self._traceparents: dict[AppKey, str] = {}

    # -- lifecycle ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Serve and (when elected) reconcile until cancelled; always cleans up."""
        app = create_app(
            secrets=self.config.secrets,
            on_push=self.on_push,
            ready=lambda: self.serving,
            metrics=self.metrics,
        )
        self.server = await serve(app, self.config.host, self.config.port)
        log.info("serving webhooks and probes on port %d", self.server.port)
        try:
            config = self.config
            if config.metrics_port is not None:
                self.metrics_server = await serve_metrics(
                    self.metrics,
                    config.metrics_host,
                    config.metrics_port,
                    cluster=self.cluster if config.metrics_secure else None,
                    cert_dir=config.metrics_cert_dir,
                    scratch=config.cache_dir.parent / "metrics-tls",
                )
                log.info("serving /metrics at %s", self.metrics_server.url)
            self.serving = True
            if self.shard is not None:
                # Each replica works on its share; one leader runs the cluster-wide chores.
                sets = self.appsets.run if self.appsets is not None else asyncio.Event().wait
                chores = asyncio.create_task(self._campaign(sets))
                try:
                    await self.shard.run(self._lead)
                finally:
                    chores.cancel()
                    await asyncio.gather(chores, return_exceptions=True)
            else:
                await self._campaign(self._lead, elect=self.config.leader_elect)
        finally:
            self.serving = False
            if self.metrics_server is not None:
                await self.metrics_server.stop()
            await self.server.stop()
            await self.reconciler.aclose()

    async def _campaign(self, lead: Callable[[], Awaitable[object]], elect: bool = True) -> None:
        async def leading() -> None:
            self.metrics.set_leader(True)
            try:
                await lead()
            finally:
                self.metrics.set_leader(False)

        if not elect:
            return await leading()
        c = self.config
        timing = (c.lease_duration, c.renew_deadline, c.retry_period)
        elector = LeaderElector(self.cluster, c.lease_namespace, c.lease_name, c.identity, *timing)
        while True:  # a lost lease means campaigning again, not exiting
            await elector.run(leading)

    async def _lead(self) -> None:
        log.info("leading: %s", self.config.identity)
        self.queue = WorkQueue(max_delay=300.0)
        self._traceparents.clear()
        unsubscribe = self._apps.on_event(self._on_application)
        if self.notifier is not None:
            unsubscribe_policies = self._policies.on_event(self.notifier.on_policy)
        workers: list[asyncio.Task[None]] = []
        appsets = None
        if self.appsets is not None and self.shard is None:
            appsets = asyncio.create_task(self.appsets.run())
        try:
            await self.factory.start_all()
            await self._apps.has_synced.wait()
            workers = [asyncio.create_task(self._worker(i)) for i in range(self.config.workers)]
            self.leading = True
            self.became_leader.set()
            await asyncio.gather(*workers)
        finally:
            self.leading = False
            self.became_leader.clear()
            unsubscribe()
            if self.notifier is not None:
                unsubscribe_policies()
            self.queue.shutdown()
            for task in workers:
                task.cancel()
            if appsets is not None:
                appsets.cancel()
            await asyncio.gather(*workers, *([appsets] if appsets else []), return_exceptions=True)
            await self.drift.aclose()
            await self.drift_reporter.aclose()
            if self.notifier is not None:  # last: a cancelled sync or a drift check may notify
                await self.notifier.aclose()
            await self.factory.stop_all()
            await self.drift_informers.aclose()
            log.info("stopped leading")

    # -- events ---------------------------------------------------------------------------------

    def _on_application(self, kind: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        key = AppKey.of(obj)
        if kind in ("ADDED", "DELETED") or old is None:
            self._queue(key)
            return
        meta, old_meta = obj.get("metadata") or {}, old.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        old_annotations = old_meta.get("annotations") or {}
        if (
            meta.get("generation") != old_meta.get("generation")
            or meta.get("deletionTimestamp") != old_meta.get("deletionTimestamp")
            or annotations.get(RECONCILE_ANNOTATION) != old_annotations.get(RECONCILE_ANNOTATION)
        ):
            if annotations.get(RECONCILE_ANNOTATION) != old_annotations.get(RECONCILE_ANNOTATION):
                self._invalidate(obj)  # `clew reconcile`: look at Git again, now
            self._queue(key)
        if conditions.is_ready(obj) and not conditions.is_ready(old):
            for dependant in dependants(self._apps.items(), key):
                self._queue(dependant)

    def _queue(self, key: AppKey) -> None:  # unless another shard owns it: its owner will
        if self.shard is None or self.shard.owns(key):
            self.queue.add(key)

    def _invalidate(self, app: dict[str, Any]) -> None:
        url = ((app.get("spec") or {}).get("source") or {}).get("repoURL")
        if url:
            with contextlib.suppress(ValueError):
                self.revisions.invalidate(normalize_repo_url(str(url)))

    async def on_push(self, event: PushEvent) -> int:
        """A webhook push: forget cached revisions of the repository, reconcile its followers
        (Applications, and ApplicationSets whose Git generators read it).

        The leader queues them; a standby (no informers, no queue) or a shard asks their owner
        through the API, for Applications only: sets then follow at their interval."""
        if not self.leading or self.shard is not None:
            return await request_reconciles(self.cluster, self.config.namespace, event)
        for url in event.repo_urls:
            self.revisions.invalidate(url)
        triggered = 0
        for app in self._apps.items():
            if not follows(app, event):
                continue
            if event.traceparent:
                self._traceparents[AppKey.of(app)] = event.traceparent
            self.queue.add(AppKey.of(app))
            triggered += 1
        if self.appsets is not None:  # sets with Git generators on the repository
            triggered += self.appsets.on_push(event)
        return triggered

    # -- work -----------------------------------------------------------------------------------

    async def _worker(self, number: int) -> None:
        while True:
            try:
                key = await self.queue.get()
            except QueueShutdown:
                return
            self.metrics.set_queue_depth(len(self.queue))
            if self.shard is not None and not self.shard.may_start(key):
                self.queue.done(key)
                self._not_ours(key, self.shard.owns(key))
                continue
            parent = tracing.remote_parent(self._traceparents.pop(key, None))
            with (
                logs.bound(
                    application=str(key), reconcile_id=uuid.uuid4().hex[:12], worker=str(number)
                ),
                _tracer.start_as_current_span(
                    "reconcile", context=parent, attributes={tracing.APPLICATION: str(key)}
                ) as span,
            ):
                try:
                    outcome = await self._reconcile(key)
                except NotOwned as exc:  # moved to another shard while it ran: cancelled
                    outcome = Outcome(None, True, str(exc))
                    self._not_ours(key, exc.still_owned)
                except ClusterError as exc:  # the API server before any status was written
                    log.warning("reconcile failed: %s", exc)
                    outcome = Outcome(None, False, Reason.RECONCILE_ERROR)
                    self.queue.add_rate_limited(key, at_least=exc.delay or 0.0)
                except Exception:  # the reconciler reports its own crashes; this is a bug there
                    log.exception("reconcile crashed")
                    outcome = Outcome(None, False, Reason.RECONCILE_ERROR)
                    self.queue.add_rate_limited(key)
                else:
                    self.queue.forget(key)
                finally:
                    self.queue.done(key)
                span.set_attribute(tracing.RESULT, outcome.reason)
                if not outcome.ok:
                    tracing.fail(span, outcome.reason)
                # A failed reconcile is a warning: it is what an operator's alerting looks for.
                log.log(
                    logging.INFO if outcome.ok else logging.WARNING,
                    "reconciled: %s",
                    outcome.reason,
                )
            if outcome.requeue_after is not None:
                self.queue.add_after(key, outcome.requeue_after)

    def _not_ours(self, key: AppKey, still_owned: bool) -> None:  # or not yet: try again soon
        self.queue.forget(key)
        if still_owned:
            self.queue.add_after(key, self.config.retry_period)

    def _dropped(self, key: AppKey) -> None:  # another shard's now: its drift, its series
        self.drift.untrack(key, notify=False)
        self.metrics.forget_application(key.namespace, key.name)

    async def _reconcile(self, key: AppKey) -> Outcome:
        if self.shard is None:
            return await self.reconciler.reconcile(key)
        log.info("reconciling as %s", self.config.identity)  # who acted, for a shard's audit
        return await self.shard.act(key, lambda: self.reconciler.reconcile(key))

    # -- drift ----------------------------------------------------------------------------------

    async def _drift_corrected(self, key: AppKey, ref: ObjectRef, note: str) -> None:
        app = self._apps.get(key.namespace, key.name)
        await self.drift_reporter.corrected(key, ref, note, app)

    async def _out_of_sync(self, key: AppKey, refs: list[ObjectRef]) -> None:
        await self.drift_reporter.out_of_sync(key, refs)
