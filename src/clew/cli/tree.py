"""``clew tree app NAME``: an Application's managed objects (its inventory) with their live
children through owner references (Deployment → ReplicaSet → Pod, Job → Pod, …), each with its
health, a one-line reason and, for a managed object, its sync state from ``status.resources``.

A presenter: the objects are read with the user's own access (one LIST per kind and namespace,
:func:`clew.wait.read_tree`), health is the kstatus rules', the sync state is what the
controller wrote. ``-o json`` prints the same tree as data.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from clew.cli import lazy
from clew.cli.apps_common import EXIT_OK, Name, Namespace, out, run
from clew.cli.options import Context, Kubeconfig

if TYPE_CHECKING:  # the rest is imported by the command that runs, not by `clew --help`
    from clew.cli import apps_view as view
    from clew.cluster import Cluster
    from clew.wait import Node
else:
    view = lazy.module("clew.cli.apps_view")

__all__ = [
    "REMOTE_NOTE",
    "TreeFormat",
    "rows",
    "status_nodes",
    "sync_states",
    "tree_app",
    "tree_json",
]

COLUMNS = ("OBJECT", "NAMESPACE", "HEALTH", "SYNC", "REASON")
_KEYS = ("group", "kind", "namespace", "name")


class TreeFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


def sync_states(app: Mapping[str, Any]) -> dict[tuple[str, str, str, str], str]:
    """(group, kind, namespace, name) -> sync state, from ``status.resources``."""
    listed = (app.get("status") or {}).get("resources")
    if not isinstance(listed, list):  # none yet, or the counts earlier clew wrote there
        return {}
    return {_key(e): str(e.get("sync") or "") for e in listed if isinstance(e, Mapping)}


REMOTE_NOTE = (
    "on another cluster: the objects as the controller last saw them (status.resources); "
    "live children are read only on the controller's cluster"
)


def status_nodes(app: Mapping[str, Any]) -> list[Node]:
    """The managed objects of ``status.resources`` as tree nodes without children: what can be
    shown of an Application whose objects (and inventory) live on another cluster."""
    from clew.wait.tree import Node

    listed = (app.get("status") or {}).get("resources")
    if not isinstance(listed, list):
        return []
    return [
        Node(
            group=str(e.get("group") or ""),
            version=str(e.get("version") or ""),
            kind=str(e.get("kind") or ""),
            namespace=str(e.get("namespace") or ""),
            name=str(e.get("name") or ""),
            health=str(e.get("health") or "Unknown"),
            reason=str(e.get("message") or ""),
            managed=True,
        )
        for e in listed
        if isinstance(e, Mapping)
    ]


def _key(entry: Mapping[str, Any]) -> tuple[str, str, str, str]:
    group, kind, namespace, name = (str(entry.get(k) or "") for k in _KEYS)
    return (group, kind, namespace, name)


def rows(
    nodes: Sequence[Node], sync: Mapping[tuple[str, str, str, str], str]
) -> Iterator[list[str]]:
    """One table row per object, children indented under their owner with tree lines."""

    def walk(node: Node, lead: str, branch: str) -> Iterator[list[str]]:
        state = (
            sync.get((node.group, node.kind, node.namespace, node.name), "") if node.managed else ""
        )
        yield [
            f"{lead}{branch}{node.kind}/{node.name}",
            node.namespace or "-",
            node.health,
            state or "-",
            node.reason,
        ]
        inner = lead + ("" if not branch else ("    " if branch == "└── " else "│   "))
        for i, child in enumerate(node.children):
            last = i == len(node.children) - 1
            yield from walk(child, inner, "└── " if last else "├── ")

    for node in nodes:
        yield from walk(node, "", "")


def tree_json(app: Mapping[str, Any], nodes: Sequence[Node], source: str = "live") -> str:
    """``source``: ``live`` (read from the cluster) or ``status`` (:func:`status_nodes`)."""
    sync = sync_states(app)
    meta = app.get("metadata") or {}

    def plain(node: Node) -> dict[str, Any]:
        data = node.to_dict()
        if node.managed:
            data["sync"] = sync.get((node.group, node.kind, node.namespace, node.name), "")
        data["children"] = [plain(c) for c in node.children]
        return data

    body = {
        "application": {"namespace": meta.get("namespace"), "name": meta.get("name")},
        "source": source,
        "objects": [plain(n) for n in nodes],
    }
    return json.dumps(body, indent=2)


def tree_app(
    name: Name,
    namespace: Namespace = None,
    output: Annotated[
        TreeFormat, typer.Option("--output", "-o", help="text (a tree) or json.")
    ] = TreeFormat.TEXT,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
) -> None:
    """Show an Application's objects with their live children, health and sync state.

    Children are found through owner references: Deployment → ReplicaSet → Pod, StatefulSet,
    DaemonSet and Job → Pod, CronJob → Job.
    """

    from clew import apply, wait
    from clew.cli import apps_ops as ops
    from clew.controller.api.spec import AppKey, parse
    from clew.controller.reconcile.inputs import inventory_name

    async def act(cluster: Cluster, ns: str) -> int:
        app = await ops.get_app(cluster, ns, name)
        spec = parse(app, namespace=ns)
        remote = spec.kube_config is not None
        if remote:  # its inventory and objects are on the destination cluster
            nodes = status_nodes(app)
        else:
            inventory = await apply.load(
                cluster, inventory_name(AppKey.of(app)), spec.destination_namespace
            )
            members = [(m.ref, m.api_version) for m in inventory.members]
            nodes = await wait.read_tree(cluster, members)
        if output is TreeFormat.JSON:
            out().print_json(tree_json(app, nodes, source="status" if remote else "live"))
            return EXIT_OK
        status, reason, _ = view.ready(app)
        out().print(f"Application {ns}/{name}: Ready={status} ({reason})", markup=False)
        if remote:
            out().print(REMOTE_NOTE, markup=False)
        if not nodes:
            out().print("no managed objects yet (has the controller synced it?)")
            return EXIT_OK
        out().print(view.table(COLUMNS, rows(nodes, sync_states(app))))
        return EXIT_OK

    raise typer.Exit(run(kubeconfig, context, namespace, act))
