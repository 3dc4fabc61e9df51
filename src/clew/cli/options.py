"""The flags several commands share, declared once: the cluster (``--kubeconfig``, ``--context``),
Git credentials (``--username``, ``--password-env``, ``--ssh-key``, ``--known-hosts``),
listing (``-A``), and the render flags of ``clew apply``, ``diff`` and ``render``: Helm values
and the render limits (``--max-render-bytes 64Mi``, ``--max-objects 20000``; defaults in
:mod:`clew.render.limits`).

It imports no command module, so every command can import it; and nothing heavy, since every
command's signature is read at start-up (`clew --help`): clew's packages are imported where a
command runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clew.cli.render_inputs import MAX_OBJECTS, MAX_RENDER_BYTES, PASSWORD_ENV

__all__ = [
    "MAX_OBJECTS",
    "MAX_RENDER_BYTES",
    "PASSWORD_ENV",
    "AllNamespaces",
    "CaFile",
    "Chart",
    "ChartVersion",
    "Context",
    "Filename",
    "HelmRepo",
    "KnownHosts",
    "Kubeconfig",
    "MaxBytes",
    "MaxObjects",
    "PasswordEnv",
    "SourceArg",
    "SshKey",
    "Username",
    "Values",
    "byte_size",
]

_SOURCES = "a directory, a manifest file, or - for standard input"
SourceArg = Annotated[
    Path | None,
    typer.Argument(help=f"What to sync: {_SOURCES} (or use --repo).", show_default=False),
]
Filename = Annotated[
    Path | None,
    typer.Option(
        "--filename", "-f", help=f"As the first argument: {_SOURCES}.", show_default=False
    ),
]


# Not bound to $KUBECONFIG by typer: that variable is a list of files, merged by clew.cluster.
Kubeconfig = Annotated[
    Path | None,
    typer.Option(
        help="Kubeconfig file (default: $KUBECONFIG, whose ':'-separated files are merged as "
        "kubectl does; else ~/.kube/config).",
        show_default=False,
    ),
]
Context = Annotated[str | None, typer.Option(help="Kubeconfig context.")]
Username = Annotated[
    str | None, typer.Option(help="HTTPS user; the password or token is read from --password-env.")
]
PasswordEnv = Annotated[
    str, typer.Option(help="Environment variable holding the HTTPS password or token.")
]
SshKey = Annotated[Path | None, typer.Option(help="SSH private key file for ssh:// repositories.")]
KnownHosts = Annotated[Path | None, typer.Option(help="known_hosts file (host keys are verified).")]
AllNamespaces = Annotated[
    bool, typer.Option("--all-namespaces", "-A", help="Applications in every namespace.")
]


def byte_size(value: str | int) -> int:
    """A size in bytes, plain or as a Kubernetes quantity (``64Mi``, ``500k``)."""
    if isinstance(value, int):  # a default
        return value
    from clew.cli.render_inputs import parse_size

    size = parse_size(value)
    if size is None:
        raise typer.BadParameter(f"{value!r} is not a size such as 64Mi or 1000000")
    return size


HelmRepo = Annotated[
    str | None,
    typer.Option(
        help="Helm chart repository (https://): with --chart, the source; without, where the "
        "chart's dependencies come from (with --username/--password-env)."
    ),
]
Chart = Annotated[str | None, typer.Option(help="Chart name in --helm-repo.")]
ChartVersion = Annotated[
    str | None,
    typer.Option(help="Chart version: exact or a semver range (default: the newest release)."),
]
CaFile = Annotated[
    Path | None,
    typer.Option(help="PEM CA certificate(s) to trust for --helm-repo and OCI registries."),
]
Values = Annotated[
    list[str] | None,
    typer.Option("--values", help="Helm values file inside the source (repeatable)."),
]
MaxBytes = Annotated[
    int,
    typer.Option(
        parser=byte_size,
        metavar="SIZE",
        help="Most manifests to read and objects to render, in bytes (e.g. 64Mi).",
    ),
]
MaxObjects = Annotated[int, typer.Option(min=1, help="Most objects one render may produce.")]
