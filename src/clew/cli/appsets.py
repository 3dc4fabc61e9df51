"""The ``clew`` commands for ApplicationSets: ``clew get appsets`` and ``clew diff appset NAME``.

``diff appset`` runs the set's generators and template as the controller would, with the user's
own access (Git credentials are read from the set's namespace), and prints which Applications
would be created, changed (with a diff) and deleted; nothing is written. Exit codes as for the
Application commands: 0 no difference, 1 differences, 2 error (a failing generator included:
the controller would then change nothing, and the error says why).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from clew.cli import lazy
from clew.cli.apps_common import EXIT_FAILED, EXIT_OK, Namespace, err, out, run
from clew.cli.options import AllNamespaces, Context, Kubeconfig
from clew.cli.paths import cache_dir

if TYPE_CHECKING:  # the rest is imported by the command that runs, not by `clew --help`
    from clew.cli import apps_view as view
    from clew.cluster import Cluster
    from clew.controller.appsets.preview import Preview
else:
    view = lazy.module("clew.cli.apps_view")

__all__ = ["COLUMNS", "diff_appset", "get_appsets", "print_preview", "row"]

COLUMNS = ["NAMESPACE", "NAME", "READY", "REASON", "POLICY", "APPLICATIONS", "AGE"]


def row(obj: dict[str, Any], now: dt.datetime) -> list[str]:
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    conditions: list[dict[str, Any]] = status.get("conditions") or []
    ready = next((c for c in conditions if c.get("type") == "Ready"), {})
    return [
        str(meta.get("namespace") or ""),
        str(meta.get("name") or ""),
        str(ready.get("status") or "Unknown"),
        str(ready.get("reason") or ""),
        str((obj.get("spec") or {}).get("syncPolicy") or ""),
        str(status.get("applicationCount", "")),
        view.age(str(meta.get("creationTimestamp") or ""), now),
    ]


def get_appsets(
    all_namespaces: AllNamespaces = False,
    output: Annotated[str, typer.Option("--output", "-o", help="table or json.")] = "table",
    namespace: Namespace = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
) -> None:
    """List ApplicationSets: ready, reason, policy, how many Applications, age."""

    from clew.controller.appsets import API_VERSION, KIND

    async def act(cluster: Cluster, ns: str) -> int:
        sets, _ = await cluster.list_objects(API_VERSION, KIND, None if all_namespaces else ns)
        if output == "json":
            sys.stdout.write(json.dumps({"apiVersion": "v1", "kind": "List", "items": sets}))
            sys.stdout.write("\n")
        elif not sets:
            where = "any namespace" if all_namespaces else f"namespace {ns}"
            err().print(f"No ApplicationSets found in {where}.")
        else:
            now = dt.datetime.now(dt.UTC)
            columns = COLUMNS if all_namespaces else COLUMNS[1:]
            rows = (row(s, now)[0 if all_namespaces else 1 :] for s in sets)
            out().print(view.table(columns, rows))
        return EXIT_OK

    raise typer.Exit(run(kubeconfig, context, namespace, act))


def diff_appset(
    name: str, namespace: str | None, kubeconfig: Path | None, context: str | None
) -> int:
    """Print what reconciling ApplicationSet ``name`` now would do; the exit code."""

    from clew.cluster import NotFound
    from clew.controller.appsets import API_VERSION, KIND
    from clew.controller.appsets.preview import preview
    from clew.model import ClewError
    from clew.source import SnapshotCache

    async def act(cluster: Cluster, ns: str) -> int:
        try:
            obj = await cluster.get(API_VERSION, KIND, name, ns)
        except NotFound:
            raise ClewError(f"ApplicationSet {ns}/{name} not found") from None
        try:
            result = await preview(cluster, obj, SnapshotCache(cache_dir() / "sources"))
        except ClewError as exc:
            raise ClewError(
                f"{exc.message}; the controller would create, change and delete nothing",
                hint=exc.hint,
            ) from None
        print_preview(result, ns)
        return EXIT_FAILED if result.differs else EXIT_OK

    return run(kubeconfig, context, namespace, act)


def print_preview(result: Preview, namespace: str) -> None:
    write = sys.stdout.write
    for name in result.created:
        write(f"+ Application/{namespace}/{name} (created)\n")
    for name, diff in result.changed.items():
        write(f"~ Application/{namespace}/{name} (changed)\n{diff}")
    for name in result.deleted:
        write(f"- Application/{namespace}/{name} (deleted)\n")
    for name in result.conflicts:
        write(f"! Application/{namespace}/{name} exists, not owned by this set: left alone\n")
    quiet = len(result.unchanged) + len(result.kept)
    if quiet:
        err().print(f"{quiet} Applications unchanged.")
