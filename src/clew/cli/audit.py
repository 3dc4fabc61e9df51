"""``clew audit``: export the audit trail — every sync, with its commit, author, time, result and
the objects it changed — for one Application or many, over a time range (docs/audit.md).

It reads the ``clew-audit-<name>`` ConfigMaps the controller writes (:mod:`clew.report.audit`)
with the user's own kubeconfig, so it needs ``get`` (one Application) or ``list`` (``-n``/``-A``)
on ConfigMaps. Output: ``-o table`` (one row per sync), ``json`` (a list of records, oldest
first) or ``csv`` (one row per changed object). Exit codes: 0 ok (also when nothing matched),
2 usage or connection errors.

The formatting is made of pure functions of trails, tested without a cluster.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from clew.cli import lazy
from clew.cli.apps_common import EXIT_ERROR, EXIT_OK, Name, err, out, run
from clew.cli.options import AllNamespaces, Context, Kubeconfig

if TYPE_CHECKING:
    from rich import markup
    from rich.table import Table

    from clew import model
    from clew.cli import apps_ops as ops
    from clew.cli import apps_view as view
    from clew.cluster import Cluster
    from clew.report.audit import AuditTrail

    TrailsOf = Callable[[Cluster, str], Awaitable[tuple[list[AuditTrail], str]]]
else:  # loaded by the command that runs, not by `clew --help` (see clew.cli.lazy)
    markup = lazy.module("rich.markup")
    model = lazy.module("clew.model")
    ops = lazy.module("clew.cli.apps_ops")
    view = lazy.module("clew.cli.apps_view")

__all__ = [
    "CSV_FIELDS",
    "AuditFormat",
    "TimeRange",
    "app",
    "audit_csv",
    "audit_json",
    "audit_table",
    "parse_moment",
    "select",
]

CSV_FIELDS = (
    "time",
    "namespace",
    "application",
    "revision",
    "subject",
    "author",
    "result",
    "message",
    "action",
    "group",
    "object",
)
SHORT = 12  # characters of a commit SHA in tables
TABLE_OBJECTS = 10  # objects listed per sync in a table; JSON and CSV list them all

_ACTION_MARK = {"created": "+", "configured": "~", "deleted": "-"}


class AuditFormat(StrEnum):
    TABLE = "table"
    WIDE = "wide"  # the table with whole revisions and every object
    JSON = "json"
    CSV = "csv"


# -- time ---------------------------------------------------------------------------------------


def parse_moment(text: str, now: dt.datetime) -> dt.datetime:
    """A point in time: RFC 3339 (``2026-11-01T00:00:00Z``, any offset; no offset means UTC), a
    date (``2026-11-01``, midnight UTC), or a duration before ``now`` (``24h``, ``30m``, ``7d``,
    ``1h30m``, ``2w``). Raises :class:`ClewError` otherwise."""
    value = text.strip()
    from clew.model.duration import parse_duration

    with contextlib.suppress(ValueError):
        return now - dt.timedelta(seconds=parse_duration(value, days=True))
    moment = _parse_time(value)
    if moment is None:
        raise model.ClewError(
            f"{text!r} is neither a time nor a duration",
            hint="use RFC 3339 (2026-11-01T00:00:00Z), a date (2026-11-01) or a duration "
            "before now (24h, 30m, 7d, 1h30m)",
        )
    return moment


def _parse_time(text: str) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


@dataclass(frozen=True, slots=True)
class TimeRange:
    """``since`` inclusive, ``until`` exclusive, so consecutive ranges never overlap."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None

    @classmethod
    def parse(cls, since: str | None, until: str | None, now: dt.datetime) -> TimeRange:
        span = cls(
            parse_moment(since, now) if since else None,
            parse_moment(until, now) if until else None,
        )
        if span.since and span.until and span.since >= span.until:
            raise model.ClewError(
                f"--since {since} is not before --until {until}",
                hint="swap them, or widen the range",
            )
        return span

    def __contains__(self, moment: dt.datetime) -> bool:
        return (self.since is None or moment >= self.since) and (
            self.until is None or moment < self.until
        )


# -- selecting and rendering (pure) -------------------------------------------------------------


def select(trails: Sequence[AuditTrail], span: TimeRange) -> list[dict[str, Any]]:
    """The records of ``trails`` within ``span``, each with its namespace and Application,
    oldest first (records of one Application keep their written order among equal times)."""
    rows: list[tuple[dt.datetime, dict[str, Any]]] = []
    for trail in trails:
        for entry in trail.records:
            moment = _parse_time(str(entry.get("time") or ""))
            if moment is not None and moment in span:
                where = {"namespace": trail.namespace, "application": trail.application}
                rows.append((moment, {**where, **entry}))
    rows.sort(key=lambda pair: pair[0])  # stable: equal times keep the written order
    return [row for _, row in rows]


def truncated(trails: Sequence[AuditTrail], span: TimeRange) -> list[str]:
    """Warnings for trails that dropped records the range may have wanted."""
    notes = []
    for trail in trails:
        if not trail.dropped or not trail.records:
            continue
        oldest = _parse_time(str(trail.records[0].get("time") or ""))
        if oldest is not None and (span.since is None or span.since < oldest):
            notes.append(
                f"{trail.namespace}/{trail.application}: {trail.dropped} older record(s) were "
                f"dropped at the trail's bound; it starts at {trail.records[0]['time']}"
            )
    return notes


def audit_json(rows: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps(list(rows), indent=2, ensure_ascii=False) + "\n"


def audit_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """One line per changed object; a sync that changed none still gets one line (empty
    ``action``, ``group`` and ``object``), and objects a record left out are one line with
    action ``omitted`` and their number as the object."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for row in rows:
        sync = [row.get(f, "") for f in CSV_FIELDS[:-3]]
        objects = list(row.get("objects") or [])
        for obj in objects:
            writer.writerow([*sync, obj.get("action", ""), obj.get("group", ""), obj.get("object")])
        omitted = int(row.get("objectsOmitted") or 0)
        if omitted:
            writer.writerow([*sync, "omitted", "", str(omitted)])
        if not objects and not omitted:
            writer.writerow([*sync, "", "", ""])
    return buffer.getvalue()


def _changes(row: Mapping[str, Any]) -> str:
    counts = row.get("counts") or {}
    parts = [f"{mark}{counts.get(action, 0)}" for action, mark in _ACTION_MARK.items()]
    failed = counts.get("failed", 0)
    return " ".join(parts) + (f" !{failed}" if failed else "")


def _objects(row: Mapping[str, Any], limit: int | None) -> str:
    objects = list(row.get("objects") or [])
    lines = [f"{o.get('action', '')} {o.get('object', '')}" for o in objects[:limit]]
    more = len(objects) - len(lines) + int(row.get("objectsOmitted") or 0)
    if more:
        lines.append(f"… and {more} more (-o json lists them)")
    return "\n".join(lines) or "-"


def audit_table(rows: Sequence[Mapping[str, Any]], *, many: bool, wide: bool = False) -> Table:
    """One row per sync; ``many`` adds the NAMESPACE and APPLICATION columns. CHANGES counts
    created (+), configured (~), deleted (-) and failed (!) objects. ``wide`` shows whole
    revisions and every object recorded."""
    columns = ["TIME", "REVISION", "AUTHOR", "SUBJECT", "RESULT", "CHANGES", "OBJECTS"]
    if many:
        columns[1:1] = ["NAMESPACE", "APPLICATION"]
    body = []
    for row in rows:
        moment = _parse_time(str(row.get("time") or ""))
        cells = [
            moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else "-",
            str(row.get("revision") or "-")[: None if wide else SHORT],
            row.get("author") or "-",
            row.get("subject") or "-",
            row.get("result") or "-",
            _changes(row),
            _objects(row, None if wide else TABLE_OBJECTS),
        ]
        if many:
            cells[1:1] = [row.get("namespace", ""), row.get("application", "")]
        body.append(cells)
    return view.table(columns, body)


def _emit(rows: Sequence[Mapping[str, Any]], output: AuditFormat, *, many: bool) -> None:
    if output is AuditFormat.JSON:
        sys.stdout.write(audit_json(rows))
    elif output is AuditFormat.CSV:
        sys.stdout.write(audit_csv(rows))
    elif rows:
        out().print(audit_table(rows, many=many, wide=output is AuditFormat.WIDE))


# -- commands -----------------------------------------------------------------------------------

Since = Annotated[
    str | None,
    typer.Option(help="From this time on (inclusive): RFC 3339, a date, or a duration (24h, 7d)."),
]
Until = Annotated[
    str | None, typer.Option(help="Before this time (exclusive): as --since.", show_default=False)
]
Output = Annotated[
    AuditFormat | None,
    typer.Option("--output", "-o", help="table (default), wide, json or csv.", show_default=False),
]
Namespace = Annotated[
    str | None,
    typer.Option(
        "--namespace",
        "-n",
        help="The namespace of the Applications (default: the kubeconfig context's).",
        show_default=False,
    ),
]


@dataclass(frozen=True, slots=True)
class _Shared:
    """Options given before ``app`` (``clew audit -o json app NAME``) apply to it too."""

    since: str | None
    until: str | None
    output: AuditFormat | None
    namespace: str | None


def _span(since: str | None, until: str | None) -> TimeRange:
    """The range, or exit 2 with a hint before anything connects to the cluster."""
    try:
        return TimeRange.parse(since, until, dt.datetime.now(dt.UTC))
    except model.ClewError as exc:
        err().print(f"[red]error:[/] {markup.escape(exc.message)}")
        if exc.hint:
            err().print(f"  {markup.escape(exc.hint)}")
        raise typer.Exit(EXIT_ERROR) from None


def _export(
    trails_of: TrailsOf, span: TimeRange, output: AuditFormat, many: bool
) -> Callable[[Cluster, str], Awaitable[int]]:
    """The action of both commands: read the trails, select the range, print."""

    async def act(cluster: Cluster, ns: str) -> int:
        trails, where = await trails_of(cluster, ns)
        rows = select(trails, span)
        for note in truncated(trails, span):
            err().print(f"[yellow]note:[/] {markup.escape(note)}")
        _emit(rows, output, many=many)
        if not rows and output in (AuditFormat.TABLE, AuditFormat.WIDE):
            err().print(f"No syncs recorded for {markup.escape(where)} in that time range.")
        return EXIT_OK

    return act


app = typer.Typer(
    help="Export the audit trail: every sync with its commit, author, time, result and the "
    "objects it changed.",
)


@app.callback(invoke_without_command=True)
def audit_command(
    ctx: typer.Context,
    all_namespaces: AllNamespaces = False,
    since: Since = None,
    until: Until = None,
    output: Output = None,
    namespace: Namespace = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
) -> None:
    """Export the audit trail of every Application in a namespace (-n) or all (-A), or of one:
    `clew audit app NAME`."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = _Shared(since, until, output, namespace)
        return

    async def trails(cluster: Cluster, ns: str) -> tuple[list[AuditTrail], str]:
        from clew.report.audit import list_trails

        scope = None if all_namespaces else ns
        where = "any namespace" if scope is None else f"namespace {scope}"
        return await list_trails(cluster, scope), f"Applications in {where}"

    act = _export(trails, _span(since, until), output or AuditFormat.TABLE, many=True)
    raise typer.Exit(run(kubeconfig, context, namespace, act))


def audit_app(
    ctx: typer.Context,
    name: Name,
    since: Since = None,
    until: Until = None,
    output: Output = None,
    namespace: Namespace = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
) -> None:
    """Export the audit trail of one Application."""
    shared = ctx.obj if isinstance(ctx.obj, _Shared) else _Shared(None, None, None, None)

    async def trails(cluster: Cluster, ns: str) -> tuple[list[AuditTrail], str]:
        from clew.report.audit import read_trail

        trail = await read_trail(cluster, ns, name)
        if trail is None:
            await ops.get_app(cluster, ns, name)  # says "not found" when there is no Application
            return [], f"Application {ns}/{name}"
        return [trail], f"Application {ns}/{name}"

    act = _export(
        trails,
        _span(since or shared.since, until or shared.until),
        output or shared.output or AuditFormat.TABLE,
        many=False,
    )
    raise typer.Exit(run(kubeconfig, context, namespace or shared.namespace, act))


app.command("app")(audit_app)
for _alias in ("apps", "application", "applications"):
    app.command(_alias, hidden=True)(audit_app)
