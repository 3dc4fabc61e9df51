"""``clew render``: print the objects a source renders to, as YAML, without a cluster; Secret
values masked unless asked for, and the render's warnings on standard error."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from clew.cli.local_source import Filename, SourceArg, pick
from clew.cli.options import (
    MAX_OBJECTS,
    MAX_RENDER_BYTES,
    PASSWORD_ENV,
    CaFile,
    Chart,
    ChartVersion,
    HelmRepo,
    KnownHosts,
    MaxBytes,
    MaxObjects,
    PasswordEnv,
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
    import asyncio  # here, like clew's packages: start-up time (see clew.cli.sync)

    from rich.console import Console

    from clew import engine
    from clew.cli import sources
    from clew.model import ClewError
    from clew.plan import mask, to_yaml

    try:
        fetch, options = sources.prepare(
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
        _, rendered = asyncio.run(engine.fetch_and_render(fetch, options))
    except (ClewError, OSError) as exc:
        raise _fail(exc) from None
    for warning in rendered.warnings:
        Console(stderr=True).print(f"[yellow]warning:[/] {warning}", highlight=False)
    manifests = rendered.manifests
    docs = [to_yaml(m.obj if show_secrets else mask(m.obj)) for m in manifests]
    sys.stdout.write(
        "---\n".join(f"# Source: {m.origin}\n{d}" for m, d in zip(manifests, docs, strict=True))
    )
