"""``clew apply``, ``clew diff`` and ``clew render``: the push-based path, for CI and terminals.

Exit codes (documented in docs/cli.md):

- ``apply``: 0 synced (and healthy with ``--wait``); 1 the sync failed while changing the cluster
  (an object rejected, prune failed, unhealthy or timed out); 2 nothing was changed because of an
  error before apply (bad arguments, fetch, render, unreachable cluster).
- ``diff``: 0 no differences; 1 differences; 2 error (as ``kubectl diff``).
- ``render``: 0 rendered; 2 error.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from clew import engine, render
from clew.cli import sources
from clew.cli.durations import duration_option
from clew.cli.local_source import Filename, SourceArg, default_name, pick
from clew.cli.options import (
    PASSWORD_ENV,
    CaFile,
    Chart,
    ChartVersion,
    Context,
    HelmRepo,
    KnownHosts,
    Kubeconfig,
    MaxBytes,
    MaxObjects,
    PasswordEnv,
    SshKey,
    Username,
    Values,
    render_options,
)
from clew.cli.render_flags import (
    JsonnetExtVar,
    JsonnetTla,
    ReleaseName,
    SopsAgeKeyFile,
    Substitute,
    with_inputs,
)
from clew.cluster import Cluster, ClusterError
from clew.model import Action, Change, ChangeSet, ClewError, Reason
from clew.report import tracing

err = Console(stderr=True, highlight=False)

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2
_EARLY = {Reason.FETCH_FAILED, Reason.RENDER_FAILED}

Repo = Annotated[str | None, typer.Option(help="Git repository URL (https:// or ssh://).")]
Ref = Annotated[str, typer.Option(help="Branch, tag, semver range (e.g. '>=1.2 <2') or commit.")]
SubPath = Annotated[str, typer.Option("--path", help="Directory inside the source to render.")]
Namespace = Annotated[
    str,
    typer.Option(
        "--namespace",
        "-n",
        help="Namespace for namespaced objects without one, and for the inventory.",
    ),
]
Name = Annotated[
    str | None, typer.Option(help="Inventory name (default: the directory or repository name).")
]
Output = Annotated[str, typer.Option("--output", "-o", help="text or json.")]
Adopt = Annotated[
    bool,
    typer.Option(
        help="Take over objects another inventory owns (their ApplySet label moves here); "
        "without it such an object is a conflict and left alone."
    ),
]


class _Printer(engine.Progress):
    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def stage(self, name: str, message: str) -> None:
        if not self.quiet:
            err.print(f"[bold cyan]{name:>7}[/] {message}")

    def change(self, change: Change) -> None:
        if not self.quiet and change.action is not Action.UNCHANGED:
            err.print(f"        {_styled(change.action)} {change.ref}")


def _styled(action: Action) -> str:
    color = {
        Action.CREATED: "green",
        Action.CONFIGURED: "yellow",
        Action.DELETED: "magenta",
        Action.FAILED: "red",
        Action.SKIPPED: "dim",
    }.get(action, "dim")
    return f"[{color}]{action.value:<10}[/]"


def _summary_table(changes: ChangeSet, title: str) -> Table:
    table = Table(title=title, show_edge=False)
    table.add_column("object")
    table.add_column("action")
    table.add_column("detail", overflow="fold")
    for change in changes.changes:
        if change.action is Action.UNCHANGED:
            continue
        table.add_row(str(change.ref), _styled(change.action), change.error or change.reason)
    return table


def _result_json(result: engine.SyncResult) -> dict[str, Any]:
    snap = result.snapshot
    return {
        "ok": result.ok,
        "reason": result.reason,
        "error": result.error,
        "revision": snap.revision if snap else None,
        "counts": engine.count(result.changes()),
        "changes": [
            {"object": str(c.ref), "action": c.action.value, "reason": c.reason, "error": c.error}
            for c in result.changes().changes
        ],
        "warnings": result.warnings,
        "durations": {k: round(v, 3) for k, v in result.durations.items()},
        "requests": result.requests,
    }


def _run(
    kubeconfig: Path | None,
    context: str | None,
    fetch: engine.FetchSnapshot,
    options: engine.SyncOptions,
    quiet: bool,
) -> engine.SyncResult:
    async def go() -> engine.SyncResult:
        async with Cluster.from_kubeconfig(kubeconfig, context=context) as cluster:
            result = await engine.sync(cluster, fetch, options, _Printer(quiet))
            result.requests = dict(cluster.requests)
            return result

    with tracing.from_env():  # OTEL_* variables; nothing happens unless they ask for traces
        return asyncio.run(go())


def _fail(exc: Exception | str) -> typer.Exit:
    err.print(f"[red]error:[/] {exc}")
    return typer.Exit(EXIT_ERROR)


def apply_command(
    src: SourceArg = None,
    filename: Filename = None,
    repo: Repo = None,
    helm_repo: HelmRepo = None,
    chart: Chart = None,
    version: ChartVersion = None,
    ca_file: CaFile = None,
    ref: Ref = "main",
    path: SubPath = ".",
    name: Name = None,
    namespace: Namespace = "default",
    prune: Annotated[
        bool,
        typer.Option(
            help="Delete objects this inventory applied before that are no longer in the source."
        ),
    ] = False,
    allow_empty: Annotated[
        bool, typer.Option(help="With --prune, allow an empty source to delete everything.")
    ] = False,
    wait_: Annotated[
        bool, typer.Option("--wait", help="Wait until every object is healthy.")
    ] = False,
    timeout: Annotated[float, duration_option("How long --wait may take (90s, 5m).")] = 300,
    dry_run: Annotated[
        bool, typer.Option(help="Plan only: print what would change; change nothing.")
    ] = False,
    force_conflicts: Annotated[
        bool, typer.Option(help="Take ownership of fields other managers own.")
    ] = False,
    recreate: Annotated[
        bool, typer.Option(help="Delete and re-create objects whose immutable fields changed.")
    ] = False,
    adopt: Adopt = False,
    values: Values = None,
    release_name: ReleaseName = None,
    sops_age_key_file: SopsAgeKeyFile = None,
    substitute: Substitute = None,
    jsonnet_tla: JsonnetTla = None,
    jsonnet_ext_var: JsonnetExtVar = None,
    max_render_bytes: MaxBytes = render.MAX_RENDER_BYTES,
    max_objects: MaxObjects = render.MAX_OBJECTS,
    output: Output = "text",
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    username: Username = None,
    password_env: PasswordEnv = PASSWORD_ENV,
    ssh_key: SshKey = None,
    known_hosts: KnownHosts = None,
) -> None:
    """Sync a directory or a Git repository to the cluster, once (push-based GitOps)."""
    try:
        creds = sources.credentials(username, password_env, ssh_key, known_hosts)
        charts = sources.Charts(helm_repo, chart, version, ca_file)
        fetch = sources.fetcher(src := pick(src, filename), repo, ref, path, creds, charts)
        inputs = with_inputs(
            render_options(namespace, values, max_render_bytes, max_objects),
            age_key_file=sops_age_key_file,
            substitute=substitute,
            jsonnet_tla=jsonnet_tla,
            jsonnet_ext_var=jsonnet_ext_var,
            release_name=release_name,
        )
    except (ClewError, OSError) as exc:
        raise _fail(exc) from None
    options = engine.SyncOptions(
        name=name or default_name(src, repo or chart),
        namespace=namespace,
        prune=prune,
        allow_empty=allow_empty,
        dry_run=dry_run,
        force=force_conflicts,
        recreate=recreate,
        adopt=adopt,
        wait=wait_,
        timeout=timeout,
        render=inputs,
    )
    try:
        result = _run(kubeconfig, context, fetch, options, quiet=output == "json")
    except ClusterError as exc:
        raise _fail(
            f"{exc}; check --kubeconfig/--context and that the cluster is reachable"
        ) from None
    if output == "json":
        sys.stdout.write(json.dumps(_result_json(result), indent=2) + "\n")
    else:
        changes = result.changes()
        counts = ", ".join(f"{n} {a}" for a, n in engine.count(changes).items()) or "nothing"
        revision = result.snapshot.revision[:12] if result.snapshot else "?"
        if any(c.action is not Action.UNCHANGED for c in changes.changes):
            err.print(_summary_table(changes, f"{options.name} @ {revision}"))
        err.print(_summary_line(changes, counts, dry_run=dry_run, ok=result.ok))
        if not result.ok:
            err.print(f"[red]sync failed: {result.reason}[/]: {result.error}")
    if result.ok:
        raise typer.Exit(EXIT_OK)
    # Exit 2 when nothing was applied: fetch, render, or the cluster unreachable before apply.
    nothing = result.reason == Reason.APPLY_FAILED and not result.changes().changes
    raise typer.Exit(EXIT_ERROR if result.reason in _EARLY or nothing else EXIT_FAILED)


def _summary_line(changes: ChangeSet, counts: str, *, dry_run: bool, ok: bool) -> str:
    if any(c.action is not Action.UNCHANGED for c in changes.changes):
        verb = "would be" if dry_run else "were"
        return (
            f"[bold]{counts}[/] ({'dry run; ' if dry_run else ''}objects {verb} changed as shown)"
        )
    if changes.changes:
        return f"[bold]{counts}[/] (nothing {'would change' if dry_run else 'changed'})"
    return "[bold]nothing to do[/]" if ok else "[bold]nothing was changed[/]"


def diff_command(
    src: SourceArg = None,
    filename: Filename = None,
    app_name: Annotated[
        str | None,
        typer.Argument(help="After `app`: the Application to diff.", show_default=False),
    ] = None,
    repo: Repo = None,
    helm_repo: HelmRepo = None,
    chart: Chart = None,
    version: ChartVersion = None,
    ca_file: CaFile = None,
    ref: Ref = "main",
    path: SubPath = ".",
    name: Name = None,
    namespace: Annotated[
        str | None, typer.Option("--namespace", "-n", help="Namespace (default: default).")
    ] = None,
    prune: Annotated[
        bool, typer.Option(help="Also show objects a --prune apply would delete.")
    ] = False,
    adopt: Adopt = False,
    values: Values = None,
    release_name: ReleaseName = None,
    sops_age_key_file: SopsAgeKeyFile = None,
    substitute: Substitute = None,
    jsonnet_tla: JsonnetTla = None,
    jsonnet_ext_var: JsonnetExtVar = None,
    max_render_bytes: MaxBytes = render.MAX_RENDER_BYTES,
    max_objects: MaxObjects = render.MAX_OBJECTS,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    username: Username = None,
    password_env: PasswordEnv = PASSWORD_ENV,
    ssh_key: SshKey = None,
    known_hosts: KnownHosts = None,
) -> None:
    """Show what `clew apply` would change, as a unified YAML diff (Secret values masked).

    Exit 0: no differences; 1: differences; 2: error. `clew diff app NAME` diffs an Application,
    `clew diff appset NAME` an ApplicationSet.
    """
    if app_name is not None:
        if src in (Path("appset"), Path("applicationset")):
            from clew.cli import appsets  # a lazy import, as for `diff app`

            raise typer.Exit(appsets.diff_appset(app_name, namespace, kubeconfig, context))
        if src != Path("app"):
            raise _fail(f"unexpected argument {app_name!r} (an Application: `clew diff app NAME`)")
        from clew.cli import apps  # only `diff app` needs the apps commands: a lazy import

        raise typer.Exit(apps.diff_app(app_name, namespace, kubeconfig, context))
    namespace = namespace or "default"
    try:
        creds = sources.credentials(username, password_env, ssh_key, known_hosts)
        charts = sources.Charts(helm_repo, chart, version, ca_file)
        fetch = sources.fetcher(src := pick(src, filename), repo, ref, path, creds, charts)
        inputs = with_inputs(
            render_options(namespace, values, max_render_bytes, max_objects),
            age_key_file=sops_age_key_file,
            substitute=substitute,
            jsonnet_tla=jsonnet_tla,
            jsonnet_ext_var=jsonnet_ext_var,
            release_name=release_name,
        )
    except (ClewError, OSError) as exc:
        raise _fail(exc) from None
    options = engine.SyncOptions(
        name=name or default_name(src, repo or chart),
        namespace=namespace,
        prune=prune,
        adopt=adopt,
        dry_run=True,
        render=inputs,
    )
    try:
        result = _run(kubeconfig, context, fetch, options, quiet=True)
    except ClusterError as exc:
        raise _fail(exc) from None
    if not result.ok:
        raise _fail(f"{result.reason}: {result.error}")
    changed = False
    for change in result.changes().changes:
        if change.action in (Action.CREATED, Action.CONFIGURED) and change.diff:
            sys.stdout.write(change.diff)
            changed = True
        elif change.action is Action.CREATED:
            sys.stdout.write(f"+++ {change.ref} (created: {change.reason})\n")
            changed = True
        elif change.action is Action.DELETED:
            sys.stdout.write(f"--- {change.ref} (deleted: {change.reason})\n")
            changed = True
    raise typer.Exit(EXIT_FAILED if changed else EXIT_OK)
