"""What the Application page reads with the signed-in user's own token: the inventory and the
live objects of the resource tree, the Events, and the dry run behind the diff (the code of
``clew diff app``, so Secret values are masked the same way). A read the user's RBAC refuses
leaves that part of the page with the API server's message, never with someone else's view.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from clew import apply
from clew.cli import apps_ops as ops
from clew.cluster import Cluster, ClusterError, NotFound
from clew.controller.api.spec import parse
from clew.model import Action, ClewError, ObjectRef
from clew.ui import present

__all__ = ["application_tree", "events_of", "object_diffs"]

_CONCURRENCY = 8
# Kinds whose children (by owner references) the tree shows, and the kinds of those children.
_PARENTS = {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob"}
_CHILD_KINDS = (("apps/v1", "ReplicaSet"), ("v1", "Pod"), ("batch/v1", "Job"))


def _inventory_place(app: Mapping[str, Any]) -> tuple[str, str]:
    """The inventory's name and namespace, as the reconciler names them
    (``clew.controller.reconcile.inputs.inventory_name``)."""
    meta = app["metadata"]
    spec = parse(dict(app), namespace=meta["namespace"])
    return f"{meta['namespace']}.{meta['name']}", spec.destination_namespace


async def application_tree(
    cluster: Cluster, app: Mapping[str, Any]
) -> tuple[list[present.Node], str]:
    """The resource tree and an error to show instead of (part of) it."""
    try:
        name, namespace = _inventory_place(app)
        inventory = await apply.load(cluster, name, namespace)
    except (ClewError, ClusterError) as exc:
        return [], f"the inventory could not be read: {exc}"
    members = {m.ref: m.api_version for m in inventory.members}
    gate = asyncio.Semaphore(_CONCURRENCY)

    async def live(ref: ObjectRef, api_version: str) -> dict[str, Any] | None:
        async with gate:
            try:
                return await cluster.get(api_version, ref.kind, ref.name, ref.namespace or None)
            except NotFound:
                return None

    try:
        objects = await asyncio.gather(*(live(r, v) for r, v in members.items()))
        found = dict(zip(members, objects, strict=True))
        owned: list[dict[str, Any]] = []
        namespaces = sorted({r.namespace for r in members if r.kind in _PARENTS and r.namespace})
        for ns in namespaces:
            for api_version, kind in _CHILD_KINDS:
                items, _ = await cluster.list_objects(api_version, kind, ns)
                owned.extend(items)
    except (ClewError, ClusterError) as exc:
        return [], f"objects could not be read: {exc}"
    return present.tree(list(members), found, owned), ""


async def events_of(cluster: Cluster, app: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """The Application's Events, newest first."""
    meta = app["metadata"]
    try:
        events = await ops.app_events(cluster, meta["namespace"], meta["name"])
    except (ClewError, ClusterError) as exc:
        return [], f"Events could not be read: {exc}"

    def when(e: Mapping[str, Any]) -> str:
        return str(e.get("eventTime") or (e.get("metadata") or {}).get("creationTimestamp") or "")

    return sorted(events, key=when, reverse=True)[:50], ""


async def object_diffs(cluster: Cluster, app: Mapping[str, Any]) -> list[dict[str, str]]:
    """Per object: what applying Git now would change, as ``clew diff app`` computes it (a
    server-side dry run as the user; Secret values masked)."""
    result = await ops.dry_run(cluster, dict(app))
    if not result.ok:
        raise ClewError(f"{result.reason}: {result.error}")
    out = []
    for change in result.changes().changes:
        if change.action is Action.UNCHANGED:
            continue
        out.append({"object": str(change.ref), "action": change.action.value, "diff": change.diff})
    return out
