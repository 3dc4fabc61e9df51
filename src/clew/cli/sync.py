"""``clew apply``, ``clew diff`` and ``clew render``: the push-based path, for CI and terminals.

Exit codes (documented in docs/cli.md):

- ``apply``: 0 synced (and healthy with ``--wait``); 1 the sync failed while changing the cluster
  (an object rejected, prune failed, unhealthy or timed out); 2 nothing was changed because of an
  error before apply (bad arguments, fetch, render, unreachable cluster).
- ``diff``: 0 no differences; 1 differences; 2 error (as ``kubectl diff``).
- ``render``: 0 rendered; 2 error.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from clew.cli.durations import duration_option
from clew.cli.local_source import default_name, pick
from clew.cli.options import (
    MAX_OBJECTS,
    MAX_RENDER_BYTES,
    PASSWORD_ENV,
    CaFile,
    Chart,
    ChartVersion,
    Context,
    Filename,
    HelmRepo,
    KnownHosts,
    Kubeconfig,
    MaxBytes,
    MaxObjects,
    PasswordEnv,
    SourceArg,
    SshKey,
    Username,
    Values,
)
from clew.cli.render_flags import (
    JsonnetExtVar,
    JsonnetTla,
    ReleaseName,
    SopsAgeKeyFile,
    Substitute,
)

# The engine, the cluster client and rich are imported inside the commands: this module is
# read at every start (`clew --help` lists the commands), and those imports take most of it.

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2

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


def _fail(exc: Exception | str) -> typer.Exit:
    from clew.cli.sync_output import err

    err().print(f"[red]error:[/] {exc}")
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
    max_render_bytes: MaxBytes = MAX_RENDER_BYTES,
    max_objects: MaxObjects = MAX_OBJECTS,
    output: Output = "text",
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    username: Username = None,
    password_env: PasswordEnv = PASSWORD_ENV,
    ssh_key: SshKey = None,
    known_hosts: KnownHosts = None,
) -> None:
    """Sync a directory or a Git repository to the cluster, once (push-based GitOps)."""
    from clew.cli import apply_run

    args = apply_run.ApplyArgs(
        src=src,
        filename=filename,
        repo=repo,
        helm_repo=helm_repo,
        chart=chart,
        version=version,
        ca_file=ca_file,
        ref=ref,
        path=path,
        name=name,
        namespace=namespace,
        prune=prune,
        allow_empty=allow_empty,
        wait_=wait_,
        timeout=timeout,
        dry_run=dry_run,
        force_conflicts=force_conflicts,
        recreate=recreate,
        adopt=adopt,
        values=values,
        release_name=release_name,
        sops_age_key_file=sops_age_key_file,
        substitute=substitute,
        jsonnet_tla=jsonnet_tla,
        jsonnet_ext_var=jsonnet_ext_var,
        max_render_bytes=max_render_bytes,
        max_objects=max_objects,
        output=output,
        kubeconfig=kubeconfig,
        context=context,
        username=username,
        password_env=password_env,
        ssh_key=ssh_key,
        known_hosts=known_hosts,
    )
    raise typer.Exit(apply_run.run(args))


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
    max_render_bytes: MaxBytes = MAX_RENDER_BYTES,
    max_objects: MaxObjects = MAX_OBJECTS,
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
    from clew import engine
    from clew.cli import sources
    from clew.cli.sync_output import run, write_diff
    from clew.cluster import ClusterError
    from clew.model import ClewError

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
        fetch, inputs = sources.prepare(
            src := pick(src, filename),
            repo,
            ref,
            path,
            login=(username, password_env, ssh_key, known_hosts),
            charts=sources.Charts(helm_repo, chart, version, ca_file),
            flags=sources.RenderFlags(
                namespace,
                values,
                max_render_bytes,
                max_objects,
                sops_age_key_file,
                substitute,
                jsonnet_tla,
                jsonnet_ext_var,
                release_name,
            ),
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
        result = run(kubeconfig, context, fetch, options, quiet=True)
    except ClusterError as exc:
        raise _fail(exc) from None
    if not result.ok:
        raise _fail(f"{result.reason}: {result.error}")
    raise typer.Exit(EXIT_FAILED if write_diff(result, sys.stdout.write) else EXIT_OK)
