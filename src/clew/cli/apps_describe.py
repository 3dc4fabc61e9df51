"""``clew describe app``: everything about one Application on one screen.

Built from the Application as stored (defaults filled in for fields the API server did not
default), not from the parsed spec, so an Application with an invalid spec can still be
described: that is when it is needed most.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from clew.cli.apps_view import (
    age,
    events_table,
    health_counts,
    history_table,
    ready,
    source_ref,
    table,
)
from clew.controller.api import sources as appsources
from clew.controller.api import spec as appspec
from clew.source.git import redact_url

__all__ = ["describe"]


def _fields(pairs: Iterable[tuple[str, Any]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for key, value in pairs:
        grid.add_row(Text(key), Text(str("-" if value in (None, "") else value)))
    return grid


def _heading(text: str) -> Text:
    return Text(f"\n{text}", style="bold underline")


def _options(spec: Mapping[str, Any]) -> list[tuple[str, Any]]:
    retry = spec.get("retry") or {}
    depends = ", ".join(
        f"{d.get('namespace') + '/' if d.get('namespace') else ''}{d.get('name')}"
        for d in spec.get("dependsOn") or []
    )
    render = spec.get("render") or {}
    return [
        ("Render", render.get("kind", appsources.DEFAULT_RENDER_KIND.value)),
        ("Interval", spec.get("interval", appspec.DEFAULT_INTERVAL)),
        ("Timeout", spec.get("timeout", appspec.DEFAULT_TIMEOUT)),
        ("Prune", spec.get("prune", appspec.DEFAULT_PRUNE)),
        ("Self-heal", spec.get("selfHeal", appspec.DEFAULT_SELF_HEAL)),
        ("Wait", spec.get("wait", appspec.DEFAULT_WAIT)),
        ("Suspended", spec.get("suspend", appspec.DEFAULT_SUSPEND)),
        ("Adopt", spec.get("adopt", appspec.DEFAULT_ADOPT)),
        (
            "Retry",
            f"{retry.get('initialDelay', appspec.DEFAULT_INITIAL_DELAY)} doubling up to "
            f"{retry.get('maxDelay', appspec.DEFAULT_MAX_DELAY)}",
        ),
        ("Depends on", depends),
        ("Service account", spec.get("serviceAccountName")),
    ]


def describe(
    app: Mapping[str, Any], events: Sequence[Mapping[str, Any]], now: dt.datetime
) -> RenderableType:
    """Everything ``clew describe app`` shows, from the Application as stored (defaults filled in
    for fields the API server did not default), so an invalid spec can still be described."""
    meta, spec, status = app.get("metadata") or {}, app.get("spec") or {}, app.get("status") or {}
    source = spec.get("source") or {}
    ready_status, reason, message = ready(app)
    resources = health_counts(status)
    drift = status.get("drift") or {}
    conditions = [
        (
            c.get("type", ""),
            c.get("status", ""),
            c.get("reason", ""),
            age(str(c.get("lastTransitionTime") or ""), now),
            c.get("message", ""),
        )
        for c in status.get("conditions") or []
    ]
    history = list(status.get("history") or [])
    parts: list[RenderableType] = [
        _fields(
            [
                ("Name", meta.get("name")),
                ("Namespace", meta.get("namespace")),
                ("Age", age(str(meta.get("creationTimestamp") or ""), now)),
                ("Ready", f"{ready_status} ({reason}) {message}".strip()),
                ("Applied revision", status.get("lastAppliedRevision")),
                ("Attempted revision", status.get("lastAttemptedRevision")),
            ]
        ),
        _heading("Source"),
        _fields(
            [
                ("Repository", redact_url(str(source.get("repoURL") or ""))),
                ("Ref", source_ref(source)),
                ("Path", source.get("path", appsources.DEFAULT_PATH)),
                ("Credentials", (source.get("secretRef") or {}).get("name")),
                ("Signers", ((source.get("verify") or {}).get("secretRef") or {}).get("name")),
                ("Pinned to", (spec.get("pin") or {}).get("revision")),
            ]
        ),
        _heading("Destination"),
        _fields(
            [("Namespace", (spec.get("destination") or {}).get("namespace", meta.get("namespace")))]
        ),
        _heading("Options"),
        _fields(_options(spec)),
        _heading("Conditions"),
        table(("TYPE", "STATUS", "REASON", "AGE", "MESSAGE"), conditions)
        if conditions
        else Text("none yet (is the controller running?)"),
        _heading("Inventory"),
        _fields(
            [
                ("Objects", (status.get("inventory") or {}).get("entries")),
                *(
                    (label, resources.get(key, 0) if resources else None)
                    for label, key in (
                        ("Current", "current"),
                        ("In progress", "inProgress"),
                        ("Failed", "failed"),
                        ("Other", "other"),
                    )
                ),
            ]
        ),
        _heading("Drift"),
        _fields(
            [
                ("Detected", drift.get("detected")),
                ("Corrected", drift.get("corrected")),
                ("Last corrected", drift.get("lastCorrected")),
                ("Objects", ", ".join(drift.get("lastObjects") or []) or None),
            ]
        ),
        _heading("History"),
        history_table(history) if history else Text("no syncs yet"),
        _heading("Events"),
        events_table(events, limit=10) if events else Text("none in the last hour"),
    ]
    return Group(*parts)
