"""``clew render``: print the objects a source renders to, as YAML, without a cluster; Secret
values masked unless asked for, and the render's warnings on standard error. The flags are
declared here; what the command does is :func:`clew.cli.render_run.run`, which the fast path
(:mod:`clew.cli.quick`) also calls without Typer."""

from __future__ import annotations

from typing import Annotated

import typer

from clew.cli.options import (
    MAX_OBJECTS,
    MAX_RENDER_BYTES,
    PASSWORD_ENV,
    CaFile,
    Chart,
    ChartVersion,
    Filename,
    HelmRepo,
    KnownHosts,
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
from clew.cli.sync import Namespace, Ref, Repo, SubPath, _fail


def render_command(
    src: SourceArg = None,
    filename: Filename = None,
    repo: Repo = None,
    helm_repo: HelmRepo = None,
    chart: Chart = None,
    version: ChartVersion = None,
    ca_file: CaFile = None,
    ref: Ref = "main",
    path: SubPath = ".",
    namespace: Namespace = "default",
    values: Values = None,
    release_name: ReleaseName = None,
    sops_age_key_file: SopsAgeKeyFile = None,
    substitute: Substitute = None,
    jsonnet_tla: JsonnetTla = None,
    jsonnet_ext_var: JsonnetExtVar = None,
    max_render_bytes: MaxBytes = MAX_RENDER_BYTES,
    max_objects: MaxObjects = MAX_OBJECTS,
    show_secrets: Annotated[
        bool, typer.Option(help="Print Secret values instead of masking them.")
    ] = False,
    username: Username = None,
    password_env: PasswordEnv = PASSWORD_ENV,
    ssh_key: SshKey = None,
    known_hosts: KnownHosts = None,
) -> None:
    """Print the objects the source renders to, as YAML (no cluster needed)."""
    from clew.cli import render_run
    from clew.model import ClewError

    args = render_run.RenderArgs(
        src=src,
        filename=filename,
        repo=repo,
        helm_repo=helm_repo,
        chart=chart,
        version=version,
        ca_file=ca_file,
        ref=ref,
        path=path,
        namespace=namespace,
        values=values,
        release_name=release_name,
        sops_age_key_file=sops_age_key_file,
        substitute=substitute,
        jsonnet_tla=jsonnet_tla,
        jsonnet_ext_var=jsonnet_ext_var,
        max_render_bytes=max_render_bytes,
        max_objects=max_objects,
        show_secrets=show_secrets,
        username=username,
        password_env=password_env,
        ssh_key=ssh_key,
        known_hosts=known_hosts,
    )
    try:
        render_run.run(args)
    except (ClewError, OSError) as exc:
        raise _fail(exc) from None
