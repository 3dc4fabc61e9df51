"""The ``clew`` commands for Applications: pull-based GitOps from a terminal.

Two spellings of each command, one implementation: the group ``clew app VERB [NAME]`` and the
kubectl-like ``clew VERB app NAME`` (``clew get apps``, ``clew describe app shop``, …). Register
both on the root app with :func:`register`; ``clew diff app NAME`` goes through :func:`diff_app`
because ``clew diff DIR`` already exists.

The commands only read and patch the Application (an annotation, ``spec.suspend``, ``spec.pin``)
or push a revert commit to Git; the controller does the applying. Exit codes: 0 ok, 1 the
operation ran and failed (not Ready after ``--wait``, differences for ``diff``, a push refused),
2 usage or connection errors (nothing was changed).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from clew.cli import appsets, clusters, lazy
from clew.cli.apps_common import (
    EXIT_ERROR,
    EXIT_FAILED,
    EXIT_OK,
    Name,
    Namespace,
    err,
    out,
    run,
)
from clew.cli.apps_rollback import rollback_app
from clew.cli.durations import duration_option
from clew.cli.options import AllNamespaces, Context, Kubeconfig
from clew.cli.tree import tree_app

if TYPE_CHECKING:
    from rich import markup

    from clew import cluster as kube
    from clew import model
    from clew.cli import apps_describe
    from clew.cli import apps_ops as ops
    from clew.cli import apps_view as view
    from clew.cluster import Cluster
else:  # loaded by the command that runs, not by `clew --help` (see clew.cli.lazy)
    markup = lazy.module("rich.markup")
    kube = lazy.module("clew.cluster")
    model = lazy.module("clew.model")
    apps_describe = lazy.module("clew.cli.apps_describe")
    ops = lazy.module("clew.cli.apps_ops")
    view = lazy.module("clew.cli.apps_view")

__all__ = ["EXIT_ERROR", "EXIT_FAILED", "EXIT_OK", "diff_app", "group", "register", "verbs"]


class GetFormat(StrEnum):
    TABLE = "table"
    WIDE = "wide"  # the table with more columns, as kubectl's -o wide
    JSON = "json"
    YAML = "yaml"


class HistoryFormat(StrEnum):
    TABLE = "table"
    WIDE = "wide"
    JSON = "json"
    CSV = "csv"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# -- reading ---------------------------------------------------------------------------------


def get_apps(
    all_namespaces: AllNamespaces = False,
    output: Annotated[
        GetFormat, typer.Option("--output", "-o", help="table, wide, json or yaml.")
    ] = GetFormat.TABLE,
    namespace: Namespace = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
) -> None:
    """List Applications: ready, reason, applied revision, health, suspended, age.

    ``-o wide`` adds the repository, ref, path, destination and the time of the last sync."""

    async def act(cluster: Cluster, ns: str) -> int:
        apps = await ops.list_apps(cluster, None if all_namespaces else ns)
        if output is GetFormat.JSON:
            sys.stdout.write(view.apps_json(apps))
        elif output is GetFormat.YAML:
            sys.stdout.write(view.apps_yaml(apps))
        elif not apps:
            where = "any namespace" if all_namespaces else f"namespace {ns}"
            err().print(f"No Applications found in {where}.")
        else:
            wide = output is GetFormat.WIDE
            out().print(view.apps_table(apps, _now(), all_namespaces, wide=wide))
        return EXIT_OK

    raise typer.Exit(run(kubeconfig, context, namespace, act))


def describe_app(
    name: Name, namespace: Namespace = None, kubeconfig: Kubeconfig = None, context: Context = None
) -> None:
    """Show an Application: source, options, conditions, inventory, history, Events.

    Also the destination, drift counters, and the last 10 Events.
    """

    async def act(cluster: Cluster, ns: str) -> int:
        app = await ops.get_app(cluster, ns, name)
        events: list[dict[str, Any]] = []
        with contextlib.suppress(kube.Forbidden):  # describing needs no right to read Events
            events = await ops.app_events(cluster, ns, name)
        out().print(apps_describe.describe(app, events, _now()))
        return EXIT_OK

    raise typer.Exit(run(kubeconfig, context, namespace, act))


def events_app(
    name: Name, namespace: Namespace = None, kubeconfig: Kubeconfig = None, context: Context = None
) -> None:
    """Show the Events about an Application (the API server keeps about an hour), newest last."""

    async def act(cluster: Cluster, ns: str) -> int:
        await ops.get_app(cluster, ns, name)
        events = await ops.app_events(cluster, ns, name)
        if events:
            out().print(view.events_table(events))
        else:
            err().print(f"No Events about Application {ns}/{name}.")
        return EXIT_OK

    raise typer.Exit(run(kubeconfig, context, namespace, act))


def history_app(
    name: Name,
    output: Annotated[
        HistoryFormat, typer.Option("--output", "-o", help="table, wide, json or csv.")
    ] = HistoryFormat.TABLE,
    namespace: Namespace = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
) -> None:
    """Show the revisions an Application synced, newest first (the status keeps ten); ``-o wide``
    shows whole commit SHAs."""

    async def act(cluster: Cluster, ns: str) -> int:
        app = await ops.get_app(cluster, ns, name)
        entries = list((app.get("status") or {}).get("history") or [])
        if output is HistoryFormat.JSON:
            sys.stdout.write(view.history_json(entries))
        elif output is HistoryFormat.CSV:
            sys.stdout.write(view.history_csv(entries))
        elif entries:
            out().print(view.history_table(entries, wide=output is HistoryFormat.WIDE))
        else:
            err().print(f"Application {ns}/{name} has not synced yet.")
        return EXIT_OK

    raise typer.Exit(run(kubeconfig, context, namespace, act))


def diff_app(name: str, namespace: str | None, kubeconfig: Path | None, context: str | None) -> int:
    """What applying Git now would change for Application ``name``: unified diffs on stdout,
    Secret values masked. Returns the exit code: 0 no difference, 1 differences, 2 error."""

    from clew.cli.sync_output import write_diff

    async def act(cluster: Cluster, ns: str) -> int:
        app = await ops.get_app(cluster, ns, name)
        result = await ops.dry_run(cluster, app)
        if not result.ok:
            raise model.ClewError(f"{result.reason}: {result.error}")
        return EXIT_FAILED if write_diff(result, sys.stdout.write) else EXIT_OK

    return run(kubeconfig, context, namespace, act)


def diff_app_command(
    name: Name, namespace: Namespace = None, kubeconfig: Kubeconfig = None, context: Context = None
) -> None:
    """Show what applying Git now would change (dry run), Secret values masked.

    Exit 0: no differences; 1: differences; 2: error.
    """
    raise typer.Exit(diff_app(name, namespace, kubeconfig, context))


# -- acting ----------------------------------------------------------------------------------


def reconcile_app(
    name: Name,
    wait_: Annotated[
        bool, typer.Option("--wait", help="Wait until the controller handled the request.")
    ] = False,
    timeout: Annotated[float, duration_option("How long --wait may take (90s, 5m).")] = 300,
    namespace: Namespace = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
) -> None:
    """Reconcile now: the controller looks at Git again at once (no webhook needed)."""

    async def act(cluster: Cluster, ns: str) -> int:
        stamp = view.reconcile_timestamp()
        app = await ops.request_reconcile(cluster, ns, name, stamp)
        err().print(f"reconcile of {ns}/{name} requested at {stamp}")
        if (app.get("spec") or {}).get("suspend"):
            err().print(f"[yellow]it is suspended:[/] run `clew resume app {markup.escape(name)}`")
        if not wait_:
            return EXIT_OK
        app = await ops.wait_for(
            cluster,
            ns,
            name,
            lambda a: (a.get("status") or {}).get("lastHandledReconcileAt") == stamp,
            timeout,
        )
        status, reason, message = view.ready(app)
        out().print(f"Ready={status} {reason}: {markup.escape(message)}")
        return EXIT_OK if status == "True" else EXIT_FAILED

    raise typer.Exit(run(kubeconfig, context, namespace, act))


def suspend_app(
    name: Name, namespace: Namespace = None, kubeconfig: Kubeconfig = None, context: Context = None
) -> None:
    """Stop all changes to the Application's objects (status is still reported)."""

    async def act(cluster: Cluster, ns: str) -> int:
        app = await ops.get_app(cluster, ns, name)
        if (app.get("spec") or {}).get("suspend"):
            out().print(f"{ns}/{name} is already suspended")
            return EXIT_OK
        await ops.patch_spec(cluster, ns, name, {"suspend": True})
        out().print(
            f"suspended {ns}/{name}: nothing changes until `clew resume app {markup.escape(name)}`"
        )
        return EXIT_OK

    raise typer.Exit(run(kubeconfig, context, namespace, act))


def resume_app(
    name: Name, namespace: Namespace = None, kubeconfig: Kubeconfig = None, context: Context = None
) -> None:
    """Resume a suspended Application, and remove a rollback pin: it follows its ref again."""

    async def act(cluster: Cluster, ns: str) -> int:
        app = await ops.get_app(cluster, ns, name)
        spec = app.get("spec") or {}
        pin = str((spec.get("pin") or {}).get("revision") or "")
        if not spec.get("suspend") and not pin:
            out().print(f"{ns}/{name} is neither suspended nor pinned: nothing to resume")
            return EXIT_OK
        patch: dict[str, Any] = {"suspend": False}
        if pin:
            patch["pin"] = None  # a merge patch removes a field set to null
        await ops.patch_spec(cluster, ns, name, patch)
        ref = (spec.get("source") or {}).get("ref", "main")
        out().print(f"resumed {ns}/{name}")
        if pin:
            out().print(
                f"removed the rollback pin to {pin[:12]}: following {markup.escape(ref)} again"
            )
        return EXIT_OK

    raise typer.Exit(run(kubeconfig, context, namespace, act))


# -- registration ------------------------------------------------------------------------------

group = typer.Typer(
    help="Applications (pull-based GitOps): list, inspect, reconcile, suspend, roll back.",
    no_args_is_help=True,
)
_COMMANDS: dict[str, Callable[..., None]] = {
    "get": get_apps,
    "describe": describe_app,
    "reconcile": reconcile_app,
    "suspend": suspend_app,
    "resume": resume_app,
    "diff": diff_app_command,
    "history": history_app,
    "events": events_app,
    "rollback": rollback_app,
    "tree": tree_app,
}
for _verb, _command in _COMMANDS.items():
    group.command(_verb)(_command)


def verbs() -> dict[str, typer.Typer]:
    """The kubectl-like spellings: ``clew get apps``, ``clew describe app NAME``, … (not
    ``diff``, which exists for directories: see :func:`diff_app`)."""
    subs = {}
    for verb, command in _COMMANDS.items():
        if verb == "diff":
            continue
        visible = "apps" if verb == "get" else "app"
        summary = (command.__doc__ or "").split("\n")[0]
        sub = typer.Typer(help=f"`clew {verb} {visible}`: {summary}", no_args_is_help=True)
        sub.command(visible, help=command.__doc__)(command)
        for alias in sorted({"app", "apps", "application", "applications"} - {visible}):
            sub.command(alias, hidden=True)(command)
        subs[verb] = sub
    return subs


def register(root: typer.Typer) -> None:
    """Add ``clew app …`` and the kubectl-like ``clew VERB app …`` commands to ``root``, and
    ``clew get appsets`` and ``clew get clusters``."""
    root.add_typer(group, name="app")
    subs = verbs()
    subs["get"].command("appsets", help=appsets.get_appsets.__doc__)(appsets.get_appsets)
    for alias in ("appset", "applicationset", "applicationsets"):
        subs["get"].command(alias, hidden=True)(appsets.get_appsets)
    subs["get"].command("clusters", help=clusters.get_clusters.__doc__)(clusters.get_clusters)
    subs["get"].command("cluster", hidden=True)(clusters.get_clusters)
    for verb, sub in subs.items():
        root.add_typer(sub, name=verb)
