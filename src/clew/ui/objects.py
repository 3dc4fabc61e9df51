"""What the Application page reads with the signed-in user's own token: the inventory and the
live objects of the resource tree, the Events, and the dry run behind the diff (the code of
``clew diff app``, so Secret values are masked the same way). A read the user's RBAC refuses
leaves that part of the page with the API server's message, never with someone else's view.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clew import apply, wait
from clew.cli import apps_ops as ops
from clew.cli import tree
from clew.cluster import Cluster, ClusterError
from clew.controller.api.spec import AppKey, parse
from clew.controller.reconcile.inputs import inventory_name
from clew.model import Action, ClewError
from clew.wait.tree import Node

__all__ = ["application_tree", "events_of", "object_diffs"]


async def application_tree(cluster: Cluster, app: Mapping[str, Any]) -> tuple[list[Node], str, str]:
    """The resource tree, read as ``clew tree app`` reads it (:func:`clew.wait.read_tree`: one
    LIST per kind and namespace, children by owner references, kstatus health and reason), an
    error to show instead of it, and a note on where it comes from. A kind the user may not list
    shows its objects Unknown with the API server's message. An Application on another cluster
    shows ``status.resources``, as ``clew tree app`` does."""
    meta = app["metadata"]
    try:
        spec = parse(dict(app), namespace=meta["namespace"])
        if spec.kube_config is not None:
            return tree.status_nodes(app), "", tree.REMOTE_NOTE
        name = inventory_name(AppKey(meta["namespace"], meta["name"]))
        inventory = await apply.load(cluster, name, spec.destination_namespace)
    except (ClewError, ClusterError) as exc:
        return [], f"the inventory could not be read: {exc}", ""
    members = [(m.ref, m.api_version) for m in inventory.members]
    return await wait.read_tree(cluster, members), "", ""


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
