"""``clew get clusters``: the destination clusters the Applications name
(``destination.kubeConfig.secretRef``, docs/multi-cluster.md), read from what the API server
holds: each kubeConfig Secret, the server its kubeconfig points at (never its credentials), the
Applications using it, and its health as their status reports it (``ClusterUnreachable`` and
``ClusterConfigInvalid`` are the controller's words for a cluster it cannot use).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from clew.cli import lazy
from clew.cli.apps_common import EXIT_OK, Namespace, err, out, run
from clew.cli.options import AllNamespaces, Context, Kubeconfig

if TYPE_CHECKING:  # imported by the command that runs, not by `clew --help`
    from clew.cli import apps_view as view
    from clew.cluster import Cluster
else:
    view = lazy.module("clew.cli.apps_view")

__all__ = ["COLUMNS", "ClusterRow", "get_clusters", "server_of", "summarize"]

COLUMNS = ["NAMESPACE", "SECRET", "SERVER", "APPLICATIONS", "HEALTH", "SINCE", "MESSAGE"]
_UNREACHABLE, _INVALID = "ClusterUnreachable", "ClusterConfigInvalid"


@dataclass(frozen=True)
class ClusterRow:
    namespace: str
    secret: str
    server: str  # "" when the Secret cannot be read or holds no usable kubeconfig
    applications: list[str]
    health: str  # Reachable, Unreachable, Invalid, Unknown
    since: str  # when the newest of their Ready conditions changed (RFC 3339)
    message: str
    # The newest sync in their histories (each reached the cluster), "" when none (RFC 3339).
    last_contact: str = ""


def server_of(secret: dict[str, Any] | None, key: str) -> str:
    """The server URL of the Secret's kubeconfig (its current context), without user
    information; "" if there is none. Nothing else of the kubeconfig leaves this function."""
    from clew.cluster.remote import public_server  # not at start-up: `clew --help` is light

    return public_server(secret, key)


def _ready(app: dict[str, Any]) -> dict[str, Any]:
    conditions = (app.get("status") or {}).get("conditions") or []
    return next((dict(c) for c in conditions if c.get("type") == "Ready"), {})


def summarize(
    apps: list[dict[str, Any]], secrets: dict[tuple[str, str], dict[str, Any] | None]
) -> list[ClusterRow]:
    """One row per kubeConfig Secret the Applications name, sorted; ``secrets`` holds each
    Secret by (namespace, name), None when it could not be read."""
    users: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for app in apps:
        ref = ((app.get("spec") or {}).get("destination") or {}).get("kubeConfig") or {}
        name = (ref.get("secretRef") or {}).get("name")
        if name:
            key = str((ref.get("secretRef") or {}).get("key") or "value")
            users.setdefault((app["metadata"]["namespace"], name, key), []).append(app)
    rows = []
    for (namespace, name, key), using in sorted(users.items(), key=lambda item: item[0]):
        readies = [_ready(app) for app in using]
        reasons = [r.get("reason") for r in readies]
        failing = next((r for r in readies if r.get("reason") in (_UNREACHABLE, _INVALID)), {})
        if failing:
            health = "Unreachable" if failing["reason"] == _UNREACHABLE else "Invalid"
        else:
            health = "Reachable" if any(reasons) else "Unknown"
        times = [str(r.get("lastTransitionTime") or "") for r in readies]
        synced = [_newest_sync(app) for app in using]
        rows.append(
            ClusterRow(
                namespace=namespace,
                secret=name,
                server=server_of(secrets.get((namespace, name)), key),
                applications=sorted(app["metadata"]["name"] for app in using),
                health=health,
                since=max(times, default=""),
                message=str(failing.get("message") or ""),
                last_contact=max(synced, default=""),
            )
        )
    return rows


def _newest_sync(app: dict[str, Any]) -> str:
    history = (app.get("status") or {}).get("history") or []
    return str(history[0].get("time") or "") if history and isinstance(history[0], dict) else ""


def get_clusters(
    all_namespaces: AllNamespaces = False,
    output: Annotated[str, typer.Option("--output", "-o", help="table or json.")] = "table",
    namespace: Namespace = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
) -> None:
    """List destination clusters: kubeConfig Secret, server, Applications, health."""

    from clew.cluster import ClusterError
    from clew.controller.api.spec import API_VERSION, KIND

    async def act(cluster: Cluster, ns: str) -> int:
        apps, _ = await cluster.list_objects(API_VERSION, KIND, None if all_namespaces else ns)
        secrets: dict[tuple[str, str], dict[str, Any] | None] = {}
        for row in summarize(apps, {}):
            try:
                secrets[row.namespace, row.secret] = await cluster.get(
                    "v1", "Secret", row.secret, row.namespace
                )
            except ClusterError:  # not found, or not allowed: the server column stays empty
                secrets[row.namespace, row.secret] = None
        rows = summarize(apps, secrets)
        if output == "json":
            sys.stdout.write(json.dumps({"clusters": [asdict(r) for r in rows]}) + "\n")
        elif not rows:
            where = "any namespace" if all_namespaces else f"namespace {ns}"
            err().print(f"No Application in {where} names a destination cluster.")
        else:
            now = dt.datetime.now(dt.UTC)
            cells = (
                [
                    r.namespace,
                    r.secret,
                    r.server or "-",
                    ",".join(r.applications),
                    r.health,
                    view.age(r.since, now),
                    r.message,
                ]
                for r in rows
            )
            columns, start = (COLUMNS, 0) if all_namespaces else (COLUMNS[1:], 1)
            out().print(view.table(columns, (c[start:] for c in cells)))
        return EXIT_OK

    raise typer.Exit(run(kubeconfig, context, namespace, act))
