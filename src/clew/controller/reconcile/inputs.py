"""What a sync of an Application takes: its fetch and its :class:`~clew.engine.SyncOptions`.

The one place that turns an Application's spec into engine inputs, shared by the reconciler (pull)
and ``clew diff app`` (a dry run of the same spec), so the diff shows what the next reconcile
would change: the same inventory, namespace, prune, render and credentials.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from clew import engine, plan, render
from clew.cluster import Cluster
from clew.controller.api import postbuild
from clew.controller.api.spec import AppKey, AppSpec
from clew.controller.api.tenancy import Destinations
from clew.controller.reconcile import artifacts, credentials
from clew.model import ClewError, Snapshot
from clew.source import GitSource, SnapshotCache

__all__ = ["Resolve", "fetcher", "inventory_name", "sync_options"]

Resolve = Callable[[GitSource], Awaitable[str]]
"""The commit a source's ref points at now (the reconciler's cached ``ls-remote``)."""


def inventory_name(key: AppKey) -> str:
    """Applications in different namespaces may share a name and a destination."""
    return f"{key.namespace}.{key.name}"


def sync_options(
    spec: AppSpec,
    *,
    helm_binary: str | None,
    allowed: Destinations | None = None,
    dry_run: bool = False,
    cluster: Cluster | None = None,
    live: plan.LiveCache | None = None,
) -> engine.SyncOptions:
    """The engine's options for ``spec``. ``dry_run`` (``clew diff app``) also forces: a field
    someone else took over by hand is a difference to show, not a conflict that hides the diff
    (the drift watcher's own dry runs force too). With ``selfHeal`` a sync forces ownership as
    a revert does: a field taken over by hand while drift checks paused is taken back, not an
    ApplyFailed conflict that no revert would ever clear. ``live``: the controller's watch caches,
    for the plan's live versions."""
    helm = spec.render.helm
    return engine.SyncOptions(
        name=inventory_name(spec.key),
        namespace=spec.destination_namespace,
        prune=spec.prune,
        dry_run=dry_run,
        force=dry_run or spec.self_heal,  # Git wins, as a revert does (and Flux always does)
        wait=spec.wait and not dry_run,
        timeout=spec.timeout,
        correct_drift=spec.self_heal,
        adopt=spec.adopt,
        render=render.RenderOptions(
            kind=spec.render.kind.value,
            release_name=helm.release_name,
            namespace=spec.destination_namespace,
            values_files=helm.values_files,
            values=dict(helm.values),
            helm_binary=helm_binary,
            jsonnet_tla=dict(spec.render.jsonnet.tlas),
            jsonnet_ext_vars=dict(spec.render.jsonnet.ext_vars),
        ),
        render_inputs=postbuild.render_inputs(spec.key.namespace, spec.decryption, spec.post_build),
        admit=allowed.admit if allowed is not None and allowed.restricted else None,
        values_from=_values_from(cluster, spec),
        live=live if spec.kube_config is None else None,  # another cluster: LISTs (not tried yet)
    )


def _values_from(cluster: Cluster | None, spec: AppSpec) -> engine.ValuesFrom | None:
    """Read ``render.helm.valuesFrom`` at sync time (``cluster`` reads the namespace)."""
    if cluster is None or not spec.render.helm.values_from:
        return None
    helm = spec.render.helm

    async def values() -> dict[str, object]:
        return await artifacts.helm_values(cluster, spec.key.namespace, helm)

    return values


def fetcher(
    cluster: Cluster,
    spec: AppSpec,
    snapshots: SnapshotCache,
    *,
    revision: str = "",
    resolve: Resolve | None = None,
    observe: Callable[[str, float], None] | None = None,
    get: credentials.Get | None = None,
) -> engine.FetchSnapshot:
    """Fetch ``revision``, else the pinned one, else what ``resolve`` says the ref points at
    (without ``resolve``: the ref itself). Credentials and signing keys are read from the
    Application's namespace with ``cluster``'s access (through ``get``, a cache, if given);
    ``observe(result, started)`` is told how the fetch went and when (``time.monotonic()``)
    it started."""
    source_spec = spec.source
    namespace = spec.key.namespace
    if source_spec.kind != "git":  # charts and OCI artifacts: controller/reconcile/artifacts.py
        return artifacts.artifact_fetcher(
            cluster, spec, snapshots, revision=revision, observe=observe
        )
    charts = artifacts.chart_cache(snapshots)

    async def fetch() -> Snapshot:
        creds = await credentials.credentials(cluster, namespace, source_spec.secret_name, get)
        policy = await credentials.signature_policy(
            cluster, namespace, source_spec.verify_secret_name, get
        )
        source = GitSource(source_spec.repo_url, source_spec.ref, creds, policy)
        started = time.monotonic()
        try:
            commit = revision or spec.pin_revision
            if not commit:
                commit = await resolve(source) if resolve is not None else source_spec.ref
            pinned = GitSource(source_spec.repo_url, commit, creds, policy)
            snapshot = await snapshots.fetch(pinned, source_spec.path)
            snapshot = await artifacts.with_dependencies(cluster, spec, charts, snapshot)
        except ClewError:
            if observe is not None:
                observe("failed", started)
            raise
        if observe is not None:
            observe("succeeded", started)
        return snapshot

    return fetch
