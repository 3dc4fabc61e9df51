"""What the pages show, as pure functions of Application, object and Event dicts: the list's
rows and filters, and the application page's resource tree. The UI is a presenter: every value
comes from what the API server and the controller already hold (status, the inventory, owner
references), never from a truth of its own. Tested from fixed dicts (tests/unit/test_ui_present.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from clew.cli import apps_view as view
from clew.model import ObjectRef
from clew.source.git import redact_url
from clew.wait import compute

__all__ = [
    "Filters",
    "Node",
    "Row",
    "cluster_of",
    "filter_rows",
    "row",
    "tree",
]

SHORT = view.SHORT


@dataclass(frozen=True, slots=True)
class Row:
    namespace: str
    name: str
    ready: str  # True, False, Unknown or "-" before the controller saw it
    reason: str
    message: str
    revision: str
    health: dict[str, int]  # counts by kstatus, from status.resources
    suspended: bool
    pinned: str
    destination: str
    repo: str  # credentials in the URL are never shown
    last_sync: str  # the newest history entry's time, "" when none
    labels: dict[str, str] = field(default_factory=dict)
    cluster: str = ""  # the kubeConfig Secret of another cluster; "" for the controller's own

    @property
    def status(self) -> str:
        """One word for filtering and colour: ready, failed, progressing, suspended, unknown."""
        if self.suspended:
            return "suspended"
        if self.ready == "True":
            return "ready"
        if self.ready == "False":
            return "failed"
        if self.reason == "Progressing" or self.ready == "Unknown":
            return "progressing"
        return "unknown"

    @property
    def id(self) -> str:
        """The row's HTML id: a namespace has no ".", so ``ns.name`` names one Application."""
        return f"app-{self.namespace}.{self.name}"

    def health_text(self) -> str:
        total = sum(self.health.values())
        return f"{self.health.get('current', 0)}/{total}" if total else "-"


def row(app: Mapping[str, Any]) -> Row:
    meta = app.get("metadata") or {}
    spec = app.get("spec") or {}
    status = app.get("status") or {}
    ready, reason, message = view.ready(app)
    history = status.get("history") or []
    newest = history[0] if history and isinstance(history[0], Mapping) else {}
    return Row(
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name") or ""),
        ready=ready,
        reason=reason,
        message=message,
        revision=str(status.get("lastAppliedRevision") or ""),
        health={str(k): int(v or 0) for k, v in view.health_counts(status).items()},
        suspended=bool(spec.get("suspend")),
        pinned=str((spec.get("pin") or {}).get("revision") or ""),
        destination=str((spec.get("destination") or {}).get("namespace") or ""),
        repo=redact_url(str((spec.get("source") or {}).get("repoURL") or "")),
        last_sync=str(newest.get("time") or ""),
        labels={str(k): str(v) for k, v in (meta.get("labels") or {}).items()},
        cluster=cluster_of(app),
    )


def cluster_of(app: Mapping[str, Any]) -> str:
    """The kubeConfig Secret an Application deploys through, "" for the controller's cluster."""
    destination = (app.get("spec") or {}).get("destination") or {}
    return str(((destination.get("kubeConfig") or {}).get("secretRef") or {}).get("name") or "")


@dataclass(frozen=True, slots=True)
class Filters:
    namespace: str = ""
    status: str = ""  # one of Row.status's words
    label: str = ""  # key or key=value, comma-separated (all must match)
    query: str = ""  # a substring of namespace/name, reason, revision or message

    def match(self, r: Row) -> bool:
        if self.namespace and r.namespace != self.namespace:
            return False
        if self.status and r.status != self.status:
            return False
        for term in (t.strip() for t in self.label.split(",")):
            if not term:
                continue
            key, eq, value = term.partition("=")
            if key.strip() not in r.labels or (eq and r.labels[key.strip()] != value.strip()):
                return False
        if self.query:
            needle = self.query.lower()
            haystack = f"{r.namespace}/{r.name} {r.reason} {r.revision} {r.message}".lower()
            return needle in haystack
        return True


def filter_rows(apps: Iterable[Mapping[str, Any]], filters: Filters) -> list[Row]:
    rows = (row(app) for app in apps)
    return sorted((r for r in rows if filters.match(r)), key=lambda r: (r.namespace, r.name))


def since(timestamp: str, now: dt.datetime | None = None) -> str:
    """``5m ago`` (kubectl's short ages); ``-`` for none."""
    text = view.age(timestamp, now or dt.datetime.now(dt.UTC))
    return "-" if text == "-" else f"{text} ago"


# -- the resource tree -------------------------------------------------------------------------


@dataclass(slots=True)
class Node:
    kind: str
    namespace: str
    name: str
    group: str = ""
    health: str = "NotFound"
    reason: str = ""  # the health message, shown on hover
    managed: bool = True  # in the inventory (False: found through owner references)
    children: list[Node] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.name}"


def tree(
    members: Sequence[ObjectRef],
    live: Mapping[ObjectRef, Mapping[str, Any] | None],
    owned: Iterable[Mapping[str, Any]],
) -> list[Node]:
    """The inventory's objects (``live[ref]``, None when missing) with, under each, the objects
    that name it in their owner references, recursively (Deployment → ReplicaSet → Pod).

    ``owned`` are candidate children (the ReplicaSets and Pods of the namespaces involved); a
    candidate whose owner is not in the tree is left out.
    """
    by_uid: dict[str, Node] = {}
    roots: list[Node] = []
    for ref in sorted(members, key=lambda r: (r.namespace or "", r.kind, r.name)):
        obj = live.get(ref)
        node = _node(ref.kind, ref.namespace or "", ref.name, ref.group, obj, managed=True)
        roots.append(node)
        if obj is not None:
            by_uid[str((obj.get("metadata") or {}).get("uid") or "")] = node
    pending = list(owned)
    # Children may appear before their parents in ``owned``: repeat until nothing attaches.
    while pending:
        left = []
        for obj in pending:
            meta = obj.get("metadata") or {}
            parent = next(
                (
                    by_uid[o["uid"]]
                    for o in meta.get("ownerReferences") or []
                    if o.get("uid") in by_uid
                ),
                None,
            )
            if parent is None:
                left.append(obj)
                continue
            group = str(obj.get("apiVersion") or "").rpartition("/")[0]
            child = _node(
                str(obj.get("kind") or ""),
                str(meta.get("namespace") or ""),
                str(meta.get("name") or ""),
                group,
                obj,
                managed=False,
            )
            parent.children.append(child)
            by_uid[str(meta.get("uid") or "")] = child
        if len(left) == len(pending):
            break
        pending = left
    for node in by_uid.values():
        node.children.sort(key=lambda n: (n.kind, n.name))
    return roots


def _node(
    kind: str,
    namespace: str,
    name: str,
    group: str,
    obj: Mapping[str, Any] | None,
    *,
    managed: bool,
) -> Node:
    result = compute(dict(obj) if obj is not None else None)
    return Node(kind, namespace, name, group, result.health.value, result.message, managed)
