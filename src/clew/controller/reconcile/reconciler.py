"""Reconcile one Application: the engine's sync, wrapped in what an operator adds — spec
parsing, suspend, dependsOn, credentials from Secrets, impersonation, the deletion finalizer,
status conditions and history, Events, metrics, and drift registration.

The engine does the GitOps work; this module only decides whether to run it and records what
happened. ``reconcile`` never raises for an Application's own failures: they become status.

Each attempt is visible while it runs: once the revision is known, before the long work,
status says ``Reconciling=True`` (its ``lastTransitionTime`` is the attempt's start) with
``lastAttemptedRevision``. The attempt ends in one outcome write, whatever ended it: a stage
failure, a permanent error (``Stalled=True``, retried at the interval, see
:mod:`clew.controller.reconcile.outcomes`), or an unexpected exception (``ReconcileError``).
A Reconciling condition still True when an attempt begins was left by a process that died
mid-reconcile: the new attempt says so (its message, and an ``Interrupted`` Event).
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from opentelemetry import trace

from clew import engine
from clew.cluster import Cluster, ClusterError, NotFound
from clew.controller.api.spec import (
    API_VERSION,
    KIND,
    RECONCILE_ANNOTATION,
    AppKey,
    AppSpec,
    InvalidSpec,
    parse,
)
from clew.controller.api.tenancy import Destinations, Tenancy, destinations
from clew.controller.reconcile import finalizer, inputs, outcomes
from clew.controller.reconcile.attempt import FIRST_SYNC_GRACE, Attempt
from clew.controller.reconcile.clients import Clients, DestinationUnavailable
from clew.controller.reconcile.livecache import InformerCache
from clew.controller.reconcile.outcomes import Outcome
from clew.controller.reconcile.revisions import RevisionCache
from clew.controller.reconcile.status import StatusWriter
from clew.controller.runtime.reads import ReadCache
from clew.model import (
    Manifest,
    Reason,
)
from clew.report import conditions, tracing
from clew.report.events import EventRecorder
from clew.report.metrics import Metrics
from clew.report.notices import Observer
from clew.source import GitSource, SnapshotCache
from clew.source.urls import normalize_repo_url

DEPENDENCY_RETRY = 10.0

_tracer = trace.get_tracer(tracing.TRACER)
log = logging.getLogger("clew.controller")


class DriftSink(Protocol):
    def track(
        self, key: AppKey, spec: AppSpec, objects: list[Manifest], versions: dict[Any, str]
    ) -> None: ...
    def untrack(self, key: AppKey) -> None: ...
    def pause(self, key: AppKey) -> None: ...
    def resume(self, key: AppKey) -> None: ...
    def handle(self, event_type: str, obj: dict[str, Any], server: str) -> None: ...


class Reconciler:
    def __init__(
        self,
        cluster: Cluster,
        snapshots: SnapshotCache,
        revisions: RevisionCache,
        events: EventRecorder,
        *,
        metrics: Metrics | None = None,
        drift: DriftSink | None = None,
        helm_binary: str | None = None,
        observers: Sequence[Observer] = (),
        rng: Callable[[], float] = random.random,
        tenancy: Tenancy | None = None,
        clients: Clients | None = None,
        live: InformerCache | None = None,
    ) -> None:
        self.cluster = cluster
        self.snapshots = snapshots
        self.revisions = revisions
        self.events = events
        self.metrics = metrics
        self.drift = drift
        self.helm_binary = helm_binary
        self.observers = list(observers)
        self.clients = clients or Clients(cluster, tenancy)
        self.tenancy = self.clients.tenancy
        self.status = StatusWriter(cluster)  # the one writer of Application status
        self.live = live  # the drift informers' caches: the plan's live versions
        self._rng = rng
        self._failures: dict[AppKey, int] = {}
        # The Application of each attempt under way, and whether its Reconciling was written.
        self._attempts: dict[AppKey, dict[str, Any]] = {}
        self.began: set[AppKey] = set()  # attempts whose Reconciling status was written
        # A first sync (no status yet) done within this many seconds writes only its outcome.
        self.first_sync_grace = FIRST_SYNC_GRACE
        # Git credentials, read once per burst of syncs: runtime/reads.py
        self.reads = ReadCache()
        self._get = self.reads.for_client(cluster)

    async def aclose(self) -> None:
        await self.clients.aclose()

    # -- the entry point ------------------------------------------------------------------------

    async def reconcile(self, key: AppKey) -> Outcome:
        """One attempt. An unexpected exception (a bug, a full disk) ends it like any failure:
        Ready=False ``ReconcileError`` with a one-line message, and a backoff. Only an API
        error before anything was written is raised: then no status can be written either."""
        try:
            return await self._reconcile(key)
        except Exception as exc:
            app = self._attempts.get(key)
            if app is None or (isinstance(exc, ClusterError) and key not in self.began):
                raise
            if isinstance(exc, ClusterError):  # the API server went away mid-attempt
                log.warning("reconcile failed: %s", exc)
            else:
                log.exception("reconcile crashed")
            return await self._crashed(key, app, exc)
        finally:
            self._attempts.pop(key, None)
            self.began.discard(key)

    async def _reconcile(self, key: AppKey) -> Outcome:
        started = time.monotonic()  # the next poll counts from here
        try:
            app = await self.cluster.get(API_VERSION, KIND, key.name, key.namespace)
        except NotFound:
            self.forget(key)
            await self.clients.release(key)
            return Outcome(None, True, Reason.DELETED)
        self._attempts[key] = app
        if (app.get("metadata") or {}).get("deletionTimestamp"):
            return await finalizer.finalize(self, key, app)
        requested = ((app["metadata"].get("annotations") or {}).get(RECONCILE_ANNOTATION)) or ""
        if requested:
            # `clew reconcile`: look at Git again now; remember which request this run handles.
            self._invalidate_source(app)
        self.status.requested[key] = requested
        await finalizer.ensure(self.cluster, key, app)
        try:
            spec = parse(app, namespace=key.namespace)
        except InvalidSpec as exc:
            await self.finish(
                app, ok=False, reason=Reason.INVALID_SPEC, message=str(exc), stalled=True
            )
            await self.event(app, "Warning", Reason.INVALID_SPEC, str(exc))
            return Outcome(None, False, Reason.INVALID_SPEC, stalled=True)
        root = trace.get_current_span()  # the runner's ``reconcile`` span
        root.set_attribute(tracing.REPOSITORY, tracing.safe_url(spec.source.repo_url))
        if spec.suspend:
            await self.finish(
                app,
                ok=False,
                reason=Reason.SUSPENDED,
                message="reconciliation is suspended; run `clew resume`",
            )
            return Outcome(None, True, Reason.SUSPENDED)
        # Tenancy first: a refused reference or destination is never read (docs/operator.md).
        refusal = self.tenancy.check_refs(spec)
        allowed = await destinations(self.cluster, key.namespace)
        refusal = refusal or allowed.check_destination(spec.destination_namespace)
        if refusal is not None:  # permanent: only a change to the Application or policy helps
            await self.finish(
                app, ok=False, reason=refusal.reason, message=refusal.message, stalled=True
            )
            await self.event(app, "Warning", refusal.reason, refusal.message)
            return Outcome(self._jittered(spec.interval), False, refusal.reason, stalled=True)
        waiting = await self._unready_dependencies(spec)
        if waiting:
            message = "waiting for " + ", ".join(waiting)
            await self.finish(app, ok=False, reason=Reason.DEPENDENCY_NOT_READY, message=message)
            return Outcome(DEPENDENCY_RETRY, False, Reason.DEPENDENCY_NOT_READY)

        try:  # another cluster: connected, and answering (docs/multi-cluster.md)
            target = await self.clients.resolve(key, spec)
        except DestinationUnavailable as exc:
            await self.finish(app, ok=False, reason=exc.reason, message=exc.message)
            await self.event(app, "Warning", exc.reason, exc.message)
            return Outcome(exc.after, False, exc.reason)
        attempt = Attempt(self, key, spec, app, root)
        if self.drift is not None:
            self.drift.pause(key)  # the engine's own writes are not drift
        try:
            await engine.sync(
                target,
                self.fetcher(key, spec),
                self.options(key, spec, allowed),
                attempt,  # reports the revision, then the result (status, Events, audit)
            )
        finally:
            attempt.close()  # a Reconciling write still waiting must not come after the end
            if self.drift is not None:
                self.drift.resume(key)
        result, retry = attempt.result, attempt.retry
        if retry is None:
            self._failures.pop(key, None)
            elapsed = time.monotonic() - started
            after = outcomes.next_poll(spec.interval, elapsed, self._rng())
            return Outcome(after, True, Reason.SUCCEEDED)
        if retry.stalled:
            return Outcome(self._jittered(retry.after), False, result.reason, stalled=True)
        return Outcome(retry.after, False, result.reason)

    # -- steps ----------------------------------------------------------------------------------

    async def _crashed(self, key: AppKey, app: dict[str, Any], exc: Exception) -> Outcome:
        """End an attempt that raised: best effort, as the API server may be the cause."""
        message = outcomes.crash_message(exc)
        failures = self._failures[key] = self._failures.get(key, 0) + 1
        with contextlib.suppress(ClusterError):
            await self.finish(app, ok=False, reason=Reason.RECONCILE_ERROR, message=message)
            await self.event(app, "Warning", Reason.RECONCILE_ERROR, message)
        if self.metrics is not None:
            self.metrics.observe_reconcile(Reason.RECONCILE_ERROR, 0.0)
        try:
            spec = parse(app, namespace=key.namespace)
            initial, maximum, interval = (
                spec.retry.initial_delay,
                spec.retry.max_delay,
                spec.interval,
            )
        except InvalidSpec:
            initial, maximum, interval = 1.0, 300.0, 300.0
        retry = outcomes.after_failure(
            exc, failures, initial=initial, maximum=maximum, interval=interval
        )
        return Outcome(retry.after, False, Reason.RECONCILE_ERROR)

    def after_failure(
        self, key: AppKey, spec: AppSpec, cause: BaseException | None
    ) -> outcomes.Retry:
        """Count one more failure in a row of ``key`` and say when to try again."""
        failures = self._failures[key] = self._failures.get(key, 0) + 1
        return outcomes.after_failure(
            cause,
            failures,
            initial=spec.retry.initial_delay,
            maximum=spec.retry.max_delay,
            interval=spec.interval,
        )

    def fetcher(self, key: AppKey, spec: AppSpec, revision: str = "") -> engine.FetchSnapshot:
        """Fetch ``revision``, else the pinned one, else what the ref resolves to now."""

        async def resolve(source: GitSource) -> str:
            ttl = spec.interval * outcomes.REVISION_REUSE
            return await self.revisions.resolve(source, ttl=ttl)

        return inputs.fetcher(
            self.cluster,
            spec,
            self.snapshots,
            revision=revision,
            resolve=resolve,
            observe=self._observe_fetch,
            get=self._get,
        )

    def options(
        self, key: AppKey, spec: AppSpec, allowed: Destinations | None = None
    ) -> engine.SyncOptions:
        return inputs.sync_options(
            spec,
            helm_binary=self.helm_binary,
            allowed=allowed,
            cluster=self.cluster,
            live=self.live,
        )

    async def _unready_dependencies(self, spec: AppSpec) -> list[str]:
        waiting: list[str] = []
        for dep in spec.depends_on:
            try:
                other = await self.cluster.get(API_VERSION, KIND, dep.name, dep.namespace)
            except NotFound:
                waiting.append(f"{dep.namespace}/{dep.name} (not found)")
                continue
            if not conditions.is_ready(other):
                waiting.append(f"{dep.namespace}/{dep.name}")
        return waiting

    # -- recording ------------------------------------------------------------------------------

    async def finish(
        self, app: dict[str, Any], *, ok: bool, reason: str, message: str, stalled: bool = False
    ) -> None:
        """End an attempt that did not sync: its conditions, and the Ready metric."""
        status = outcomes.finished(app, ok=ok, reason=reason, message=message, stalled=stalled)
        await self.status.patch(app, status)
        if self.metrics is not None:
            key = AppKey.of(app)
            self.metrics.set_application_ready(key.namespace, key.name, ok)

    async def event(
        self, app: dict[str, Any], type_: str, reason: str, note: str, *, revision: str = ""
    ) -> None:
        annotations = {"clew.dev/revision": revision} if revision else None
        await self.events.emit(
            app, type_=type_, reason=reason, note=note, action="Reconcile", annotations=annotations
        )

    def _observe_fetch(self, result: str, started: float) -> None:
        if self.metrics is not None:
            self.metrics.observe_fetch(result, time.monotonic() - started)

    def _invalidate_source(self, app: dict[str, Any]) -> None:
        url = ((app.get("spec") or {}).get("source") or {}).get("repoURL")
        if url:
            with contextlib.suppress(ValueError):
                self.revisions.invalidate(normalize_repo_url(str(url)))

    def forget(self, key: AppKey) -> None:
        self._failures.pop(key, None)
        self.status.requested.pop(key, None)
        if self.drift is not None:
            self.drift.untrack(key)
        if self.metrics is not None:
            self.metrics.forget_application(key.namespace, key.name)

    def _jittered(self, interval: float) -> float:
        return interval * (0.9 + 0.2 * self._rng())
