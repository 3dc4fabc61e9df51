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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from opentelemetry import trace

from clew import apply, engine
from clew.cluster import Cluster, ClusterError, NotFound
from clew.controller.api.spec import (
    API_VERSION,
    FINALIZER,
    KIND,
    RECONCILE_ANNOTATION,
    AppKey,
    AppSpec,
    InvalidSpec,
    parse,
)
from clew.controller.api.tenancy import Destinations, Tenancy, destinations
from clew.controller.reconcile import driftrecord, inputs, outcomes
from clew.controller.reconcile.inputs import inventory_name
from clew.controller.reconcile.revisions import RevisionCache
from clew.model import (
    Action,
    Change,
    ChangeSet,
    Health,
    Manifest,
    ObjectRef,
    Reason,
    Snapshot,
)
from clew.report import audit, conditions, history, tracing
from clew.report.events import EventRecorder
from clew.report.metrics import Metrics
from clew.report.notices import NoticeKind, Observer, SyncNotice, deliver
from clew.source import GitSource, SnapshotCache
from clew.source.urls import normalize_repo_url

DEPENDENCY_RETRY = 10.0

_tracer = trace.get_tracer(tracing.TRACER)
log = logging.getLogger("clew.controller")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the controller does next with this key."""

    requeue_after: float | None  # None: wait for a change to the Application
    ok: bool
    reason: str
    stalled: bool = False  # a permanent failure: no retry before the interval or a spec change


class DriftSink(Protocol):
    def track(
        self, key: AppKey, spec: AppSpec, objects: list[Manifest], versions: dict[Any, str]
    ) -> None: ...
    def untrack(self, key: AppKey) -> None: ...
    def pause(self, key: AppKey) -> None: ...
    def resume(self, key: AppKey) -> None: ...


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
        audit_log: audit.AuditRecorder | None = None,
        tenancy: Tenancy | None = None,
    ) -> None:
        self.cluster = cluster
        self.snapshots = snapshots
        self.revisions = revisions
        self.events = events
        self.metrics = metrics
        self.drift = drift
        self.helm_binary = helm_binary
        self.observers = list(observers)
        self.audit = audit_log or audit.AuditRecorder(cluster)  # docs/audit.md
        self._rng = rng
        self.tenancy = tenancy or Tenancy()
        self._failures: dict[AppKey, int] = {}
        self._requested: dict[AppKey, str] = {}  # the `clew reconcile` request each run handles
        self._impersonated: dict[str, Cluster] = {}
        # The Application of each attempt under way, and whether its Reconciling was written.
        self._attempts: dict[AppKey, dict[str, Any]] = {}
        self._open: set[AppKey] = set()
        self._audits: dict[int, audit.AuditRecorder] = {}  # by impersonating client

    async def aclose(self) -> None:
        for client in self._impersonated.values():
            await client.aclose()
        self._impersonated.clear()

    # -- the entry point ------------------------------------------------------------------------

    async def reconcile(self, key: AppKey) -> Outcome:
        """One attempt. An unexpected exception (a bug, a full disk) ends it like any failure:
        Ready=False ``ReconcileError`` with a one-line message, and a backoff. Only an API
        error before anything was written is raised: then no status can be written either."""
        try:
            return await self._reconcile(key)
        except Exception as exc:
            app = self._attempts.get(key)
            if app is None or (isinstance(exc, ClusterError) and key not in self._open):
                raise
            if isinstance(exc, ClusterError):  # the API server went away mid-attempt
                log.warning("reconcile failed: %s", exc)
            else:
                log.exception("reconcile crashed")
            return await self._crashed(key, app, exc)
        finally:
            self._attempts.pop(key, None)
            self._open.discard(key)

    async def _reconcile(self, key: AppKey) -> Outcome:
        try:
            app = await self.cluster.get(API_VERSION, KIND, key.name, key.namespace)
        except NotFound:
            self._forget(key)
            return Outcome(None, True, Reason.DELETED)
        self._attempts[key] = app
        if (app.get("metadata") or {}).get("deletionTimestamp"):
            return await self._finalize(key, app)
        requested = ((app["metadata"].get("annotations") or {}).get(RECONCILE_ANNOTATION)) or ""
        if requested:
            # `clew reconcile`: look at Git again now; remember which request this run handles.
            self._invalidate_source(app)
        self._requested[key] = requested
        await self._ensure_finalizer(key, app)
        try:
            spec = parse(app, namespace=key.namespace)
        except InvalidSpec as exc:
            await self._finish(
                app, ok=False, reason=Reason.INVALID_SPEC, message=str(exc), stalled=True
            )
            await self._event(app, "Warning", Reason.INVALID_SPEC, str(exc))
            return Outcome(None, False, Reason.INVALID_SPEC, stalled=True)
        root = trace.get_current_span()  # the runner's ``reconcile`` span
        root.set_attribute(tracing.REPOSITORY, tracing.safe_url(spec.source.repo_url))
        if spec.suspend:
            await self._finish(
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
            await self._finish(
                app, ok=False, reason=refusal.reason, message=refusal.message, stalled=True
            )
            await self._event(app, "Warning", refusal.reason, refusal.message)
            return Outcome(self._jittered(spec.interval), False, refusal.reason, stalled=True)
        waiting = await self._unready_dependencies(spec)
        if waiting:
            message = "waiting for " + ", ".join(waiting)
            await self._finish(app, ok=False, reason=Reason.DEPENDENCY_NOT_READY, message=message)
            return Outcome(DEPENDENCY_RETRY, False, Reason.DEPENDENCY_NOT_READY)

        started = time.monotonic()
        if self.drift is not None:
            self.drift.pause(key)  # the engine's own writes are not drift
        try:
            result = await self._sync(key, spec, allowed, app)
            # Track while still paused: the engine's own writes must not look like drift, and an
            # edit made the moment Ready turns True already must.
            if (
                self.drift is not None
                and result.desired
                and result.reason in ("", Reason.HEALTH_CHECK_FAILED)
            ):
                versions = {c.ref: c.version for c in result.applied.changes if c.version}
                self.drift.track(key, spec, result.desired, versions)
        finally:
            if self.drift is not None:
                self.drift.resume(key)
        elapsed = time.monotonic() - started
        if root.is_recording():  # the runner records the result
            if result.snapshot is not None:
                root.set_attribute(tracing.REVISION, result.snapshot.revision)
            tracing.record_counts(root, engine.count(result.changes()))
        retry = None
        if not result.ok:
            failures = self._failures[key] = self._failures.get(key, 0) + 1
            retry = outcomes.after_failure(
                result.cause,
                failures,
                initial=spec.retry.initial_delay,
                maximum=spec.retry.max_delay,
                interval=spec.interval,
            )
        with _tracer.start_as_current_span("report"):
            await self._record(app, spec, result, elapsed, stalled=bool(retry and retry.stalled))
        if retry is None:
            self._failures.pop(key, None)
            return Outcome(self._jittered(spec.interval), True, Reason.SUCCEEDED)
        if retry.stalled:
            return Outcome(self._jittered(retry.after), False, result.reason, stalled=True)
        return Outcome(retry.after, False, result.reason)

    # -- steps ----------------------------------------------------------------------------------

    async def _sync(
        self, key: AppKey, spec: AppSpec, allowed: Destinations, app: dict[str, Any]
    ) -> engine.SyncResult:
        options = self._options(key, spec, allowed)
        fetcher = self._fetcher(key, spec)

        async def fetch() -> Snapshot:
            snapshot = await fetcher()
            await self._begin(app, snapshot.revision)  # before the long work
            return snapshot

        return await engine.sync(self._client_for(key, spec), fetch, options)

    async def _begin(self, app: dict[str, Any], revision: str) -> None:
        """Say that an attempt of ``revision`` is under way: one status write."""
        key = AppKey.of(app)
        status = app.get("status") or {}
        note = outcomes.interrupted(
            conditions.get_condition(app, conditions.RECONCILING),
            str(status.get("lastAttemptedRevision") or ""),
        )
        message = f"syncing revision {revision[:12]}" + (f"; {note}" if note else "")
        generation = int(app["metadata"].get("generation", 0))
        await self._patch_status(
            app,
            {
                "conditions": conditions.progressing(_conditions(app), message, generation),
                "lastAttemptedRevision": revision,
            },
        )
        self._open.add(key)
        if note:
            await self._event(app, "Warning", Reason.INTERRUPTED, note, revision=revision)

    async def _crashed(self, key: AppKey, app: dict[str, Any], exc: Exception) -> Outcome:
        """End an attempt that raised: best effort, as the API server may be the cause."""
        message = outcomes.crash_message(exc)
        failures = self._failures[key] = self._failures.get(key, 0) + 1
        with contextlib.suppress(ClusterError):
            await self._finish(app, ok=False, reason=Reason.RECONCILE_ERROR, message=message)
            await self._event(app, "Warning", Reason.RECONCILE_ERROR, message)
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

    def _fetcher(self, key: AppKey, spec: AppSpec, revision: str = "") -> engine.FetchSnapshot:
        """Fetch ``revision``, else the pinned one, else what the ref resolves to now."""

        async def resolve(source: GitSource) -> str:
            return await self.revisions.resolve(source, ttl=spec.interval)

        return inputs.fetcher(
            self.cluster,
            spec,
            self.snapshots,
            revision=revision,
            resolve=resolve,
            observe=self._observe_fetch,
        )

    def _options(
        self, key: AppKey, spec: AppSpec, allowed: Destinations | None = None
    ) -> engine.SyncOptions:
        return inputs.sync_options(spec, helm_binary=self.helm_binary, allowed=allowed)

    def _client_for(self, key: AppKey, spec: AppSpec) -> Cluster:
        """The controller's client, or one impersonating the Application's ServiceAccount.

        Only Impersonate-User: the API server adds a ServiceAccount's groups itself, and
        impersonating groups would need a grant the installed role does not give."""
        account = self.tenancy.service_account(spec)
        if not account:
            return self.cluster
        user = f"system:serviceaccount:{key.namespace}:{account}"
        if user not in self._impersonated:
            self._impersonated[user] = self.cluster.impersonating(user)
        return self._impersonated[user]

    def _audit_for(self, key: AppKey, spec: AppSpec) -> audit.AuditRecorder:
        """The trail is written as whoever applies: a tenant's account may write ConfigMaps in
        its namespace, the least-privilege controller may not."""
        client = self._client_for(key, spec)
        if client is self.cluster:
            return self.audit
        if id(client) not in self._audits:
            self._audits[id(client)] = audit.AuditRecorder(client)
        return self._audits[id(client)]

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

    async def _finalize(self, key: AppKey, app: dict[str, Any]) -> Outcome:
        finalizers = list(app["metadata"].get("finalizers") or [])
        if FINALIZER not in finalizers:
            return Outcome(None, True, Reason.DELETED)
        if self.drift is not None:
            self.drift.untrack(key)  # deleting its objects now is not drift to repair
        try:
            spec: AppSpec | None = parse(app, namespace=key.namespace)
        except InvalidSpec:
            spec = None  # never prune on a spec we cannot read
        if spec is not None and spec.prune and not spec.suspend:
            # Delete hooks are rendered from what was last applied, as helm uninstalls a release;
            # in a namespace being deleted they cannot run (nor can credentials be read).
            applied = str((app.get("status") or {}).get("lastAppliedRevision") or "")
            going = await self._terminating(key.namespace, spec.destination_namespace)
            if going:
                note = f"namespace {going} is being deleted: delete hooks, if any, are not run"
                await self._event(app, "Warning", "HooksSkipped", note)
            result = await engine.uninstall(
                self._client_for(key, spec),
                self._fetcher(key, spec, applied),
                self._options(key, spec),
                hooks=not going,
            )
            if not result.ok:
                await self._finish(app, ok=False, reason=result.reason, message=result.error)
                await self._event(app, "Warning", result.reason, result.error)
                return Outcome(30.0, False, result.reason)
            hooks = f", ran {len(result.hook_changes.changes)} hooks" if result.hooks else ""
            deleted = result.pruned.counts()[Action.DELETED]
            await self._event(app, "Normal", "Pruned", f"deleted {deleted} objects{hooks}")
            await self._kept_event(app, result.pruned)
        finalizers.remove(FINALIZER)
        await self.cluster.patch(
            API_VERSION,
            KIND,
            key.name,
            {
                "metadata": {
                    "finalizers": finalizers,
                    "resourceVersion": app["metadata"]["resourceVersion"],
                }
            },
            namespace=key.namespace,
        )
        self._forget(key)
        return Outcome(None, True, Reason.DELETED)

    async def _terminating(self, *namespaces: str) -> str:
        """The first of ``namespaces`` that is being deleted (or is gone), else ""."""
        for name in dict.fromkeys(namespaces):
            try:
                namespace = await self.cluster.get("v1", "Namespace", name)
            except NotFound:
                return name
            except ClusterError:  # cannot tell (e.g. not allowed to read Namespaces): run them
                continue
            if (namespace.get("metadata") or {}).get("deletionTimestamp"):
                return name
        return ""

    async def _ensure_finalizer(self, key: AppKey, app: dict[str, Any]) -> None:
        finalizers = list(app["metadata"].get("finalizers") or [])
        if FINALIZER in finalizers:
            return
        await self.cluster.patch(
            API_VERSION,
            KIND,
            key.name,
            {
                "metadata": {
                    "finalizers": [*finalizers, FINALIZER],
                    "resourceVersion": app["metadata"]["resourceVersion"],
                }
            },
            namespace=key.namespace,
        )
        app["metadata"] = (await self.cluster.get(API_VERSION, KIND, key.name, key.namespace))[
            "metadata"
        ]

    # -- recording ------------------------------------------------------------------------------

    async def record_drift(
        self,
        key: AppKey,
        refs: list[ObjectRef],
        note: str,
        *,
        corrected: bool,
        new: int | None = None,
    ) -> None:
        """Drift seen (or reverted, ``corrected``) in ``refs``: status.drift and the audit trail
        (:func:`clew.controller.reconcile.driftrecord.record`)."""
        await driftrecord.record(
            self.cluster,
            lambda spec: self._audit_for(key, spec),
            key,
            refs,
            note,
            corrected=corrected,
            new=new,
        )

    async def _record(
        self,
        app: dict[str, Any],
        spec: AppSpec,
        result: engine.SyncResult,
        elapsed: float,
        *,
        stalled: bool = False,
    ) -> None:
        snapshot = result.snapshot
        revision = snapshot.revision if snapshot else ""
        changes = result.changes()
        counts = changes.counts()
        created, configured = counts[Action.CREATED], counts[Action.CONFIGURED]
        deleted = counts[Action.DELETED]
        outcome_reason = Reason.SUCCEEDED if result.ok else result.reason
        if result.ok:
            message = (
                f"applied revision {revision[:12]}: {created} created, "
                f"{configured} configured, {deleted} deleted"
            )
        else:
            message = result.error
        if kept := _not_owned(result.pruned):
            message += f"; kept {len(kept)} objects not owned (see Events)"
        status: dict[str, Any] = {
            "conditions": conditions.outcome(
                _conditions(app),
                ready=result.ok,
                reason=outcome_reason,
                message=message,
                generation=int(app["metadata"].get("generation", 0)),
                stalled=stalled,
            ),
            "observedGeneration": int(app["metadata"].get("generation", 0)),
        }
        if revision:
            status["lastAttemptedRevision"] = revision
        if revision and result.reason in ("", Reason.HEALTH_CHECK_FAILED):
            status["lastAppliedRevision"] = revision
            status["inventory"] = {"entries": len(result.desired)}
        if result.health is not None:
            status["resources"] = _health_counts(result.health.results.values())
        if snapshot is not None:
            commit = snapshot.commit
            status["history"] = history.push(
                list((app.get("status") or {}).get("history") or []),
                history.entry(
                    revision=revision,
                    subject=commit.subject if commit else "",
                    author=f"{commit.author} <{commit.email}>" if commit else "",
                    time=conditions.now_rfc3339(),
                    result=outcome_reason,
                    created=created,
                    configured=configured,
                    deleted=deleted,
                ),
            )
        await self._patch_status(app, status)
        await self._audit_for(AppKey.of(app), spec).write(  # best effort: never raises
            app,
            audit.record(
                revision=revision,
                commit=snapshot.commit if snapshot else None,
                result=outcome_reason,
                changes=changes,
                message="" if result.ok else message,
                duration=elapsed,
            ),
        )
        await self._kept_event(app, result.pruned)
        if not (result.ok and not changes.changed):  # a no-op sync is not worth an Event
            await self._event(
                app,
                "Normal" if result.ok else "Warning",
                "Synced" if result.ok else outcome_reason,
                message,
                revision=revision,
            )
        await deliver(self.observers, _notice(app, spec, result, outcome_reason, message, counts))
        if self.metrics is not None:
            key = AppKey.of(app)
            self.metrics.observe_reconcile(outcome_reason, elapsed)
            self.metrics.record_changes(counts)
            self.metrics.set_application_ready(key.namespace, key.name, result.ok)

    async def _finish(
        self, app: dict[str, Any], *, ok: bool, reason: str, message: str, stalled: bool = False
    ) -> None:
        generation = int(app["metadata"].get("generation", 0))
        status = {
            "conditions": conditions.outcome(
                _conditions(app),
                ready=ok,
                reason=reason,
                message=message,
                generation=generation,
                stalled=stalled,
            ),
            "observedGeneration": generation,
        }
        await self._patch_status(app, status)
        if self.metrics is not None:
            key = AppKey.of(app)
            self.metrics.set_application_ready(key.namespace, key.name, ok)

    async def _patch_status(self, app: dict[str, Any], status: dict[str, Any]) -> None:
        meta = app["metadata"]
        # The request this reconcile started with, not one that arrived while it ran.
        requested = self._requested.get(AppKey.of(app))
        if requested and "conditions" in status and not _reconciling(status):
            status["lastHandledReconcileAt"] = requested  # `clew reconcile --wait` watches this
        updated = await self.cluster.patch(
            API_VERSION,
            KIND,
            meta["name"],
            {"status": status},
            namespace=meta["namespace"],
            subresource="status",
        )
        app["status"] = updated.get("status") or {}
        app["metadata"] = updated["metadata"]

    async def _event(
        self, app: dict[str, Any], type_: str, reason: str, note: str, *, revision: str = ""
    ) -> None:
        annotations = {"clew.dev/revision": revision} if revision else None
        await self.events.emit(
            app, type_=type_, reason=reason, note=note, action="Reconcile", annotations=annotations
        )

    async def _kept_event(self, app: dict[str, Any], pruned: ChangeSet) -> None:
        """Prune kept objects that are not this Application's: say which, and why."""
        kept = _not_owned(pruned)
        if kept:
            more = f" (and {len(kept) - 3} more)" if len(kept) > 3 else ""
            note = "; ".join(f"{c.ref}: {c.reason}" for c in kept[:3]) + more
            await self._event(app, "Warning", "PruneSkipped", note)

    def _observe_fetch(self, result: str, started: float) -> None:
        if self.metrics is not None:
            self.metrics.observe_fetch(result, time.monotonic() - started)

    def _invalidate_source(self, app: dict[str, Any]) -> None:
        url = ((app.get("spec") or {}).get("source") or {}).get("repoURL")
        if url:
            with contextlib.suppress(ValueError):
                self.revisions.invalidate(normalize_repo_url(str(url)))

    def _forget(self, key: AppKey) -> None:
        self._failures.pop(key, None)
        self._requested.pop(key, None)
        if self.drift is not None:
            self.drift.untrack(key)
        if self.metrics is not None:
            self.metrics.forget_application(key.namespace, key.name)

    def _jittered(self, interval: float) -> float:
        return interval * (0.9 + 0.2 * self._rng())


def _notice(
    app: dict[str, Any],
    spec: AppSpec,
    result: engine.SyncResult,
    reason: str,
    message: str,
    counts: Mapping[Action, int],
) -> SyncNotice:
    if result.ok:
        kind = NoticeKind.ROLLBACK if spec.pin_revision else NoticeKind.SYNCED
    elif result.reason == Reason.HEALTH_CHECK_FAILED:
        kind = NoticeKind.HEALTH_DEGRADED
    else:
        kind = NoticeKind.FAILED
    snapshot = result.snapshot
    commit = snapshot.commit if snapshot else None
    return SyncNotice(
        kind=kind,
        namespace=app["metadata"]["namespace"],
        name=app["metadata"]["name"],
        revision=snapshot.revision if snapshot else "",
        repo_url=spec.source.repo_url,
        reason=reason,
        message=message,
        commit_subject=commit.subject if commit else "",
        commit_author=f"{commit.author} <{commit.email}>" if commit else "",
        counts={a.value: n for a, n in counts.items() if n},
    )


def _not_owned(pruned: ChangeSet) -> list[Change]:
    """Objects prune kept because the live object is not the inventory's (not the opt-outs)."""
    return [
        c for c in pruned.changes if c.action is Action.SKIPPED and c.reason != apply.PRUNE_DISABLED
    ]


def _reconciling(status: dict[str, Any]) -> bool:
    return any(c.get("type") == conditions.RECONCILING for c in status.get("conditions") or [])


def _conditions(app: dict[str, Any]) -> list[dict[str, Any]]:
    return list((app.get("status") or {}).get("conditions") or [])


def _health_counts(results: Any) -> dict[str, int]:
    counts = {"current": 0, "inProgress": 0, "failed": 0, "other": 0}
    for result in results:
        health = result.health
        if health is Health.CURRENT:
            counts["current"] += 1
        elif health is Health.IN_PROGRESS:
            counts["inProgress"] += 1
        elif health is Health.FAILED:
            counts["failed"] += 1
        else:
            counts["other"] += 1
    return counts


__all__ = [
    "Outcome",
    "Reconciler",
    "inventory_name",
]
