"""What the Application commands print, as pure functions of Application and Event dicts.

Kept apart from the commands so every table, JSON, YAML and CSV rendering, and the choice of a
rollback revision, is tested from fixed dicts without a cluster. Tables are rich renderables;
every cell is a :class:`rich.text.Text`, so a commit subject such as ``[bold]`` is printed as
written, never read as markup.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml
from rich.table import Table
from rich.text import Text

from clew.model import ClewError
from clew.source.git import redact_url

__all__ = [
    "APP_COLUMNS",
    "HISTORY_FIELDS",
    "WIDE_COLUMNS",
    "NotInHistory",
    "age",
    "app_row",
    "apps_json",
    "apps_table",
    "apps_yaml",
    "default_rollback_target",
    "event_rows",
    "events_table",
    "health_counts",
    "history_csv",
    "history_json",
    "history_table",
    "ready",
    "reconcile_timestamp",
    "resolve_revision",
    "source_ref",
    "table",
    "wide_row",
]

APP_COLUMNS = ("NAMESPACE", "NAME", "READY", "REASON", "REVISION", "HEALTH", "SUSPENDED", "AGE")
# ``-o wide`` adds where the Application comes from and goes to, and when it last synced.
WIDE_COLUMNS = ("REPO", "REF", "PATH", "DESTINATION", "LAST SYNC")
HISTORY_FIELDS = (
    "revision",
    "subject",
    "author",
    "time",
    "result",
    "created",
    "configured",
    "deleted",
)
SHORT = 12  # characters of a commit SHA in tables, as the controller's messages print them
MIN_PREFIX = 4  # as git: shorter prefixes are too easy to mistype into a match

_HEX = re.compile(r"[0-9a-f]+")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class NotInHistory(ClewError):
    """A revision that no history entry starts with (``rollback --force`` may still pin it)."""


# -- time ------------------------------------------------------------------------------------


def reconcile_timestamp(now: dt.datetime | None = None) -> str:
    """The ``clew.dev/reconcile-requested-at`` value: RFC 3339 in UTC with microseconds.

    Sub-second precision matters: two requests within one second must differ, or the second
    would not change the annotation and the controller would never see it.
    """
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(text: str) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def age(timestamp: str, now: dt.datetime) -> str:
    """kubectl's short age: ``42s``, ``5m``, ``3h``, ``2d``; ``-`` for no or a bad timestamp."""
    moment = _parse_time(timestamp)
    if moment is None:
        return "-"
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 2 * 3600:
        return f"{seconds // 60}m"
    if seconds < 2 * 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


# -- get apps ------------------------------------------------------------------------------


def _status(app: Mapping[str, Any]) -> Mapping[str, Any]:
    return app.get("status") or {}


def _spec(app: Mapping[str, Any]) -> Mapping[str, Any]:
    return app.get("spec") or {}


def ready(app: Mapping[str, Any]) -> tuple[str, str, str]:
    """(status, reason, message) of the Ready condition; ``-`` before the controller saw it."""
    for condition in _status(app).get("conditions") or []:
        if condition.get("type") == "Ready":
            return (
                str(condition.get("status") or "-"),
                str(condition.get("reason") or "-"),
                str(condition.get("message") or ""),
            )
    return "-", "-", ""


def health_counts(status: Mapping[str, Any]) -> Mapping[str, Any]:
    """Objects by health at the last check: ``status.healthCounts``, or ``status.resources`` as
    earlier clew wrote it (the counts; it is the list of objects now)."""
    counts = status.get("healthCounts")
    if isinstance(counts, Mapping):
        return counts
    legacy = status.get("resources")
    return legacy if isinstance(legacy, Mapping) else {}


def _health(app: Mapping[str, Any]) -> str:
    counts = health_counts(_status(app))
    if not counts:
        return "-"
    total = sum(int(v or 0) for v in counts.values())
    return f"{int(counts.get('current') or 0)}/{total}"


def _last_sync(app: Mapping[str, Any], now: dt.datetime) -> str:
    """How long ago the newest history entry (the last sync that got as far as recording)."""
    history = _status(app).get("history") or []
    newest = history[0] if history and isinstance(history[0], Mapping) else {}
    return age(str(newest.get("time") or ""), now)


def wide_row(app: Mapping[str, Any], now: dt.datetime) -> dict[str, str]:
    """The columns ``-o wide`` adds, keyed by :data:`WIDE_COLUMNS`; credentials in a repository
    URL are never shown."""
    spec = _spec(app)
    source = spec.get("source") or {}
    destination = spec.get("destination") or {}
    return {
        "REPO": redact_url(str(source.get("repoURL") or "-")),
        "REF": source_ref(source),
        "PATH": str(source.get("path") or "."),
        "DESTINATION": str(destination.get("namespace") or "-"),
        "LAST SYNC": _last_sync(app, now),
    }


def app_row(app: Mapping[str, Any], now: dt.datetime) -> dict[str, str]:
    """One row of ``clew get apps``, keyed by :data:`APP_COLUMNS`."""
    meta = app.get("metadata") or {}
    status, reason, _ = ready(app)
    return {
        "NAMESPACE": str(meta.get("namespace") or ""),
        "NAME": str(meta.get("name") or ""),
        "READY": status,
        "REASON": reason,
        "REVISION": str(_status(app).get("lastAppliedRevision") or "-")[:SHORT],
        "HEALTH": _health(app),
        "SUSPENDED": "true" if _spec(app).get("suspend") else "false",
        "AGE": age(str(meta.get("creationTimestamp") or ""), now),
    }


def _cell(value: Any) -> Text:
    return Text(str(value))


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    """A plain kubectl-like table: bold headers, no borders, long cells folded."""
    table = Table(box=None, show_edge=False, pad_edge=False, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(v) for v in row))
    return table


def apps_table(
    apps: Sequence[Mapping[str, Any]], now: dt.datetime, all_namespaces: bool, wide: bool = False
) -> Table:
    """``clew get apps``: the NAMESPACE column only with ``-A``, as kubectl; ``wide`` adds
    :data:`WIDE_COLUMNS`."""
    columns = (APP_COLUMNS if all_namespaces else APP_COLUMNS[1:]) + (WIDE_COLUMNS * wide)
    rows = [app_row(app, now) | (wide_row(app, now) if wide else {}) for app in apps]
    return table(columns, ([row[c] for c in columns] for row in rows))


def _without_managed_fields(app: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(app)
    meta = {k: v for k, v in (app.get("metadata") or {}).items() if k != "managedFields"}
    out["metadata"] = meta
    return out


def _as_list(apps: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A kubectl-style ``List``, so scripts read ``-o json`` as they read kubectl's."""
    return {
        "apiVersion": "v1",
        "kind": "List",
        "items": [_without_managed_fields(app) for app in apps],
    }


def apps_json(apps: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps(_as_list(apps), indent=2, sort_keys=False) + "\n"


def apps_yaml(apps: Sequence[Mapping[str, Any]]) -> str:
    return yaml.safe_dump(_as_list(apps), sort_keys=False)


# -- history -----------------------------------------------------------------------------------


def history_table(entries: Sequence[Mapping[str, Any]], wide: bool = False) -> Table:
    """Newest first, as the status stores it; revisions shortened to 12 characters (whole with
    ``wide``)."""
    columns = [f.upper() for f in HISTORY_FIELDS]
    cut = None if wide else SHORT
    rows = (
        [str(e.get("revision") or "")[:cut], *(e.get(f, "") for f in HISTORY_FIELDS[1:])]
        for e in entries
    )
    return table(columns, rows)


def history_json(entries: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps([{f: e.get(f) for f in HISTORY_FIELDS} for e in entries], indent=2) + "\n"


def history_csv(entries: Sequence[Mapping[str, Any]]) -> str:
    """A header line, then one line per entry with the full revision (the csv module quotes
    subjects holding commas or quotes)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HISTORY_FIELDS)
    for entry in entries:
        writer.writerow([entry.get(f, "") for f in HISTORY_FIELDS])
    return out.getvalue()


def resolve_revision(history: Sequence[Mapping[str, Any]], prefix: str) -> str:
    """The one full history revision starting with ``prefix`` (case-insensitive).

    Raises :class:`ClewError` for a prefix that is not hex, too short or ambiguous, and
    :class:`NotInHistory` when no entry matches.
    """
    wanted = prefix.strip().lower()
    if not _HEX.fullmatch(wanted) or len(wanted) < MIN_PREFIX:
        raise ClewError(
            f"{prefix!r} is not a commit SHA or a prefix of one",
            hint=f"give at least {MIN_PREFIX} hex characters, as `clew history app` shows them",
        )
    matches = sorted({str(e.get("revision") or "") for e in history} - {""})
    found = [r for r in matches if r.startswith(wanted)]
    if len(found) > 1:
        raise ClewError(
            f"{prefix} matches {len(found)} revisions in the history: "
            + ", ".join(r[:SHORT] for r in found),
            hint="give more characters",
        )
    if not found:
        raise NotInHistory(
            f"revision {prefix} is not in the Application's history",
            hint="pick one from `clew history app NAME`",
        )
    return found[0]


def default_rollback_target(
    history: Sequence[Mapping[str, Any]], last_applied: str
) -> Mapping[str, Any] | None:
    """The newest entry that succeeded with a revision other than the one applied now: the
    last known good state before the current one. None when there is none."""
    for entry in history:
        revision = entry.get("revision")
        if entry.get("result") == "Succeeded" and revision and revision != last_applied:
            return entry
    return None


# -- events ----------------------------------------------------------------------------------


def _event_time(event: Mapping[str, Any]) -> str:
    series = event.get("series") or {}
    return str(
        series.get("lastObservedTime")
        or event.get("eventTime")
        or event.get("deprecatedLastTimestamp")
        or (event.get("metadata") or {}).get("creationTimestamp")
        or ""
    )


def event_rows(events: Iterable[Mapping[str, Any]]) -> list[tuple[str, str, str, str]]:
    """(time, type, reason, note), oldest first so the newest ends up next to the prompt.

    Sorted by the full event time (microseconds): syncs often finish within one second.
    """
    timed = sorted(
        ((_parse_time(_event_time(e)), e) for e in events),
        key=lambda pair: pair[0] or _EPOCH,
    )
    return [
        (
            moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else "-",
            str(event.get("type") or ""),
            str(event.get("reason") or ""),
            str(event.get("note") or ""),
        )
        for moment, event in timed
    ]


def events_table(events: Iterable[Mapping[str, Any]], limit: int | None = None) -> Table:
    rows = event_rows(events)
    return table(("TIME", "TYPE", "REASON", "NOTE"), rows[-limit:] if limit else rows)


def source_ref(source: Mapping[str, Any]) -> str:
    """What the source follows: a Git ref, ``chart@version`` for a chart, an OCI artifact's
    version (``latest`` when none)."""
    if source.get("chart"):
        return f"{source['chart']}@{source.get('version') or 'latest'}"
    if str(source.get("repoURL") or "").startswith("oci://"):
        return str(source.get("version") or "latest")
    return str(source.get("ref") or "-")
