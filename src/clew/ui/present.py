"""What the pages show, as pure functions of Application, object and Event dicts: the list's
rows and filters (the resource tree is :func:`clew.wait.read_tree`'s, as in ``clew tree app``).
The UI is a presenter: every value comes from what the API server and the controller already
hold, never from a truth of its own. Tested from fixed dicts (tests/unit/test_ui_present.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from clew.cli import apps_view as view
from clew.source.git import redact_url

__all__ = [
    "Filters",
    "Row",
    "cluster_of",
    "filter_rows",
    "row",
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
