"""The flags several commands share, declared once: the cluster (``--kubeconfig``, ``--context``),
Git credentials (``--username``, ``--password-env``, ``--ssh-key``, ``--known-hosts``),
listing (``-A``), and the render flags of ``clew apply``, ``diff`` and ``render``: Helm values
and the render limits (``--max-render-bytes 64Mi``, ``--max-objects 20000``; defaults in
:mod:`clew.render.limits`).

It imports no command module, so every command can import it; and nothing heavy, since every
command's signature is read at start-up (`clew --help`): clew's packages are imported where a
command runs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from clew import render

__all__ = [
    "MAX_OBJECTS",
    "MAX_RENDER_BYTES",
    "PASSWORD_ENV",
    "AllNamespaces",
    "CaFile",
    "Chart",
    "ChartVersion",
    "Context",
    "HelmRepo",
    "KnownHosts",
    "Kubeconfig",
    "MaxBytes",
    "MaxObjects",
    "PasswordEnv",
    "SshKey",
    "Username",
    "Values",
    "byte_size",
    "render_options",
]

PASSWORD_ENV = "CLEW_GIT_PASSWORD"  # noqa: S105 - the name of a variable, not a secret

# The defaults of clew.render.limits, written out: importing clew.render takes longer than the
# rest of `clew --help` (tests/unit/test_cli_start.py keeps the two equal).
MAX_RENDER_BYTES = 32 * 1024 * 1024
MAX_OBJECTS = 10_000

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

_SIZE = re.compile(r"([0-9]+)(Ki|Mi|Gi|k|M|G)?")
_FACTORS = {
    None: 1,
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "k": 1000,
    "M": 1000**2,
    "G": 1000**3,
}


def byte_size(value: str | int) -> int:
    """A size in bytes, plain or as a Kubernetes quantity (``64Mi``, ``500k``)."""
    if isinstance(value, int):  # a default
        return value
    match = _SIZE.fullmatch(value.strip())
    if match is None or int(match[1]) == 0:
        raise typer.BadParameter(f"{value!r} is not a size such as 64Mi or 1000000")
    return int(match[1]) * _FACTORS[match[2]]


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


def render_options(
    namespace: str, values: list[str] | None, max_bytes: int, max_objects: int
) -> render.RenderOptions:
    """Helm from clew's tools cache when it was built there; else $CLEW_HELM or PATH."""
    from clew import render
    from clew.tools import cached_helm

    return render.RenderOptions(
        namespace=namespace,
        values_files=tuple(values or ()),
        helm_binary=cached_helm(),
        max_bytes=max_bytes,
        max_objects=max_objects,
    )
