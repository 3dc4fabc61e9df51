"""What the Application commands ask of the API server, with the user's own kubeconfig.

The commands never reconcile anything themselves: they patch the Application (an annotation,
``spec.suspend``, ``spec.pin``) and the controller acts; or, for ``diff app``, run the engine in
dry-run on the Application's spec exactly as the reconciler would, so what it prints is what the
next reconcile would change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from clew import engine
from clew.cli.paths import cache_dir
from clew.cluster import Cluster, Gone, NotFound, UnknownKind
from clew.controller.api.spec import API_VERSION, KIND, RECONCILE_ANNOTATION, parse
from clew.controller.reconcile import inputs
from clew.model import ClewError
from clew.source import SnapshotCache
from clew.tools import cached_helm

__all__ = [
    "EVENTS_API",
    "AppNotFound",
    "OperationFailed",
    "app_events",
    "dry_run",
    "get_app",
    "list_apps",
    "patch_spec",
    "request_reconcile",
    "wait_for",
]

EVENTS_API = "events.k8s.io/v1"
_NOT_INSTALLED = "install clew first: `clew install | kubectl apply -f -`"


class OperationFailed(ClewError):
    """The operation ran and did not succeed (exit 1), as opposed to a usage or connection
    error (exit 2)."""


class AppNotFound(ClewError):
    pass


async def get_app(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    try:
        return await cluster.get(API_VERSION, KIND, name, namespace)
    except NotFound:
        raise AppNotFound(
            f"Application {namespace}/{name} not found",
            hint=f"list them with `clew get apps -n {namespace}` (or -A for all namespaces)",
        ) from None
    except UnknownKind:
        raise ClewError("the cluster does not know Applications", hint=_NOT_INSTALLED) from None


async def list_apps(cluster: Cluster, namespace: str | None) -> list[dict[str, Any]]:
    """Applications in ``namespace`` (None: all), sorted by namespace and name."""
    try:
        items, _ = await cluster.list_objects(API_VERSION, KIND, namespace)
    except UnknownKind:
        raise ClewError("the cluster does not know Applications", hint=_NOT_INSTALLED) from None
    return sorted(items, key=lambda a: (a["metadata"]["namespace"], a["metadata"]["name"]))


async def patch_spec(
    cluster: Cluster, namespace: str, name: str, spec: dict[str, Any]
) -> dict[str, Any]:
    """A merge patch of ``spec`` (a None value removes the field). The Application is read
    first, so a wrong name is "not found" rather than a patch error."""
    await get_app(cluster, namespace, name)
    return await cluster.patch(API_VERSION, KIND, name, {"spec": spec}, namespace=namespace)


async def request_reconcile(
    cluster: Cluster, namespace: str, name: str, stamp: str
) -> dict[str, Any]:
    """Set the reconcile annotation: the controller forgets its cached revision of the
    repository and reconciles now, then writes ``stamp`` to ``status.lastHandledReconcileAt``."""
    await get_app(cluster, namespace, name)
    patch = {"metadata": {"annotations": {RECONCILE_ANNOTATION: stamp}}}
    return await cluster.patch(API_VERSION, KIND, name, patch, namespace=namespace)


async def wait_for(
    cluster: Cluster,
    namespace: str,
    name: str,
    predicate: Callable[[dict[str, Any]], bool],
    timeout: float,
) -> dict[str, Any]:
    """The Application once ``predicate`` holds, watched (not polled); raises
    :class:`OperationFailed` on timeout or when the Application is deleted."""

    async def watch() -> dict[str, Any]:
        while True:
            app = await get_app(cluster, namespace, name)
            if predicate(app):
                return app
            try:
                async for event in cluster.watch(
                    API_VERSION,
                    KIND,
                    namespace,
                    resource_version=app["metadata"]["resourceVersion"],
                    field_selector=f"metadata.name={name}",
                    timeout_seconds=max(1, int(timeout)),
                ):
                    if event.type == "DELETED":
                        raise OperationFailed(f"Application {namespace}/{name} was deleted")
                    if event.type != "BOOKMARK" and predicate(event.object):
                        return event.object
            except Gone:
                continue  # the watch fell behind: read it again

    try:
        return await asyncio.wait_for(watch(), timeout)
    except TimeoutError:
        raise OperationFailed(
            f"Application {namespace}/{name} was not handled within {timeout:g}s",
            hint="is the controller running? `kubectl -n clew-system get pods`; "
            "or wait longer with --timeout",
        ) from None


async def app_events(cluster: Cluster, namespace: str, name: str) -> list[dict[str, Any]]:
    """Events about the Application. The field selector narrows it on the server; the API
    group is checked here, because other tools (Argo CD) also have a kind ``Application``."""
    selector = f"regarding.kind={KIND},regarding.name={name}"
    items, _ = await cluster.list_objects(EVENTS_API, "Event", namespace, field_selector=selector)
    group = API_VERSION.split("/")[0] + "/"
    return [
        e for e in items if str((e.get("regarding") or {}).get("apiVersion", "")).startswith(group)
    ]


async def dry_run(cluster: Cluster, app: dict[str, Any]) -> engine.SyncResult:
    """What applying Git now (or the pinned commit) would change; reads the Application's
    credentials and signing keys with the user's own access, and changes nothing. The inputs
    are the reconciler's own (:mod:`clew.controller.reconcile.inputs`), as a dry run."""
    spec = parse(app, namespace=app["metadata"]["namespace"])
    fetch = inputs.fetcher(cluster, spec, SnapshotCache(cache_dir() / "sources"))
    options = inputs.sync_options(spec, helm_binary=cached_helm(), dry_run=True, cluster=cluster)
    return await engine.sync(cluster, fetch, options)
