"""Reconcile one ApplicationSet: generate, fill the template, apply what the policy allows.

The order is the safety: everything that can fail for the set as a whole (the spec, Git, the
generators, the template, validating each Application) runs before anything is written. Any
failure there ends the attempt with Ready=False and its reason, and nothing is created, changed
or deleted. Deletion (``sync`` only) runs last, and only when every create and update
succeeded, with the live object's UID as a precondition.

:func:`preview` runs the same steps without writing, for ``clew diff appset``.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clew.cluster import AlreadyExists, Cluster, ClusterError, NotFound, PermanentError
from clew.controller.api.spec import API_VERSION as APP_API_VERSION
from clew.controller.api.spec import KIND as APP_KIND
from clew.controller.api.spec import AppKey
from clew.controller.appsets import generators, plan
from clew.controller.appsets.clusters import CLUSTER_SELECTOR, ClusterSource, selected
from clew.controller.appsets.spec import (
    API_VERSION,
    FIELD_MANAGER,
    KIND,
    Clusters,
    GitSource,
    parse,
)
from clew.controller.appsets.status import Done, failed_reason, status
from clew.controller.reconcile import credentials
from clew.model import ClewError, Reason
from clew.source import GitSource as SourceRef
from clew.source import SnapshotCache

__all__ = ["AppSetReconciler", "Generated", "Outcome", "generate"]

log = logging.getLogger("clew.controller.appsets")


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    reason: str
    requeue_after: float | None = None  # the next run (the interval)
    backoff: bool = False  # a temporary failure: retry with the queue's backoff instead


@dataclass(frozen=True, slots=True)
class Generated:
    """A set's generation, before anything is written: the Applications and the plan."""

    desired: list[dict[str, Any]]
    plan: plan.Plan


def checkout(cluster: Cluster, namespace: str, snapshots: SnapshotCache) -> generators.Checkout:
    """Snapshots of a set's Git generators, with credentials from the set's namespace; one
    fetch per (repository, revision) per generation."""
    seen: dict[GitSource, Path] = {}

    async def fetch(source: GitSource) -> Path:
        if source not in seen:
            creds = await credentials.credentials(cluster, namespace, source.secret_name)
            snapshot = await snapshots.fetch(SourceRef(source.repo_url, source.revision, creds))
            seen[source] = snapshot.path
        return seen[source]

    return fetch


def registry(cluster: Cluster, namespace: str) -> ClusterSource:
    """The registered clusters of a set's namespace: the metadata of Secrets labelled
    ``clew.dev/cluster=true``, listed once per generation, then the selected ones read whole.
    A refusal (not allowed, gone meanwhile) is the generator's error: nothing is written."""
    listed: list[dict[str, Any]] | None = None

    async def read(generator: Clusters) -> list[dict[str, Any]]:
        nonlocal listed
        if listed is None:
            try:
                listed = await cluster.list_metadata(
                    "v1", "Secret", namespace, label_selector=CLUSTER_SELECTOR
                )
            except PermanentError as exc:
                raise generators.GeneratorError(
                    f"clusters: cannot list the cluster Secrets of {namespace}: {exc}"
                ) from None
        out = []
        for meta in selected(listed, generator):
            name = meta["metadata"]["name"]
            try:
                out.append(await cluster.get("v1", "Secret", name, namespace))
            except PermanentError as exc:
                raise generators.GeneratorError(
                    f"clusters: cannot read Secret {namespace}/{name}: {exc}"
                ) from None
        return out

    return read


async def generate(cluster: Cluster, obj: dict[str, Any], snapshots: SnapshotCache) -> Generated:
    """Parse, generate, fill, validate and plan; writes nothing. Raises on any failure."""
    spec = parse(obj)
    namespace = spec.key.namespace
    sets = await generators.generate(
        spec.generators, checkout(cluster, namespace, snapshots), registry(cluster, namespace)
    )
    desired = plan.applications(spec, sets)
    live = await cluster.list_metadata(APP_API_VERSION, APP_KIND, spec.key.namespace)
    return Generated(desired, plan.decide(spec, desired, live))


class AppSetReconciler:
    def __init__(self, cluster: Cluster, snapshots: SnapshotCache) -> None:
        self.cluster = cluster
        self.snapshots = snapshots

    async def reconcile(self, key: AppKey) -> Outcome:
        try:
            obj = await self.cluster.get(API_VERSION, KIND, key.name, key.namespace)
        except NotFound:
            return Outcome(True, Reason.DELETED)
        if (obj.get("metadata") or {}).get("deletionTimestamp"):
            return Outcome(True, Reason.DELETED)  # the garbage collector takes its Applications
        try:
            interval = parse(obj).interval
            generated = await generate(self.cluster, obj, self.snapshots)
        except ClusterError:
            raise  # the API server: the runner's backoff, no status can be trusted to land
        except ClewError as exc:
            reason = failed_reason(exc)
            log.warning("ApplicationSet %s: %s: %s", key, reason, exc)
            await self._status(obj, status(obj, error=exc))
            if reason is Reason.INVALID_SPEC:
                return Outcome(False, reason)  # only a change to the set helps
            if exc.retryable:
                return Outcome(False, reason, backoff=True)
            return Outcome(False, reason, requeue_after=interval)
        done = await self._write(generated)
        await self._status(obj, status(obj, done=done))
        ok = not done.failed and not done.conflicts
        reason = Reason.SUCCEEDED if ok else Reason.APPLY_FAILED
        return Outcome(ok, reason, requeue_after=interval, backoff=bool(done.failed))

    async def _write(self, generated: Generated) -> Done:
        decided = generated.plan
        done = Done(
            names=[a["metadata"]["name"] for a in generated.desired],
            conflicts=list(decided.conflicts),
        )
        for app in decided.create:
            name = app["metadata"]["name"]
            try:
                await self.cluster.create(app)
                done.created.append(name)
            except AlreadyExists:  # created meanwhile: the next run sees who owns it
                done.failed.append(f"{name}: created by someone else meanwhile")
            except ClusterError as exc:
                done.failed.append(f"{name}: {exc}")
        for app in decided.update:
            name = app["metadata"]["name"]
            try:
                stored = await self.cluster.apply(app, field_manager=FIELD_MANAGER, force=True)
            except ClusterError as exc:
                done.failed.append(f"{name}: {exc}")
                continue
            if _generation(stored) != _generation(_named(decided, name)):
                done.updated.append(name)
        if done.failed:  # deletion waits for a run in which everything else worked
            return done
        for live in decided.delete:
            meta = live["metadata"]
            try:
                await self.cluster.delete(
                    APP_API_VERSION, APP_KIND, meta["name"], meta["namespace"], uid=meta.get("uid")
                )
                done.deleted.append(meta["name"])
            except NotFound:
                done.deleted.append(meta["name"])
            except ClusterError as exc:
                done.failed.append(f"{meta['name']}: {exc}")
        return done

    async def _status(self, obj: dict[str, Any], new: dict[str, Any]) -> None:
        meta = obj["metadata"]
        with contextlib.suppress(NotFound):  # deleted meanwhile: nothing to report on
            await self.cluster.patch(
                API_VERSION,
                KIND,
                meta["name"],
                {"status": new},
                namespace=meta["namespace"],
                subresource="status",
            )


def _generation(obj: dict[str, Any] | None) -> Any:
    return ((obj or {}).get("metadata") or {}).get("generation")


def _named(decided: plan.Plan, name: str) -> dict[str, Any] | None:
    return decided.live.get(name)
