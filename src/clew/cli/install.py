"""``clew install``: the manifests that install the clew controller.

Only ``--export`` exists for now: it prints the manifests as one YAML stream to review, commit or
apply with any tool. Applying them directly from this command is not implemented (exit 2).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
import yaml
from rich.console import Console

from clew import __version__
from clew.controller.install import APPLY_ROLE, DEFAULT_IMAGE, DEFAULT_NAMESPACE, manifests
from clew.model import ClewError

err = Console(stderr=True, highlight=False)

EXIT_ERROR = 2

_HEADER = f"""\
# clew {__version__}: the Application CRD and the controller (clew install --export).
# The ClusterRole {APPLY_ROLE} is the widest grant: every resource, the verbs of apply, prune
# and watch. --no-cluster-wide-apply leaves it unbound, to bind per namespace.
"""


def install_command(
    export: Annotated[
        bool, typer.Option("--export", help="Print the manifests as a YAML stream.")
    ] = False,
    namespace: Annotated[
        str, typer.Option("--namespace", "-n", help="Namespace of the controller.")
    ] = DEFAULT_NAMESPACE,
    image: Annotated[str, typer.Option(help="Controller image.")] = DEFAULT_IMAGE,
    replicas: Annotated[
        int, typer.Option(min=1, help="Controller replicas (one leads, the others stand by).")
    ] = 2,
    cluster_wide_apply: Annotated[
        bool,
        typer.Option(help=f"Bind {APPLY_ROLE} (apply any kind anywhere) to the controller."),
    ] = True,
) -> None:
    """Print the manifests that install the Application CRD and the clew controller."""
    try:
        objects = manifests(namespace, image, replicas, cluster_wide_apply=cluster_wide_apply)
    except ClewError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(EXIT_ERROR) from None
    if not export:
        err.print(
            "[red]error:[/] installing directly is not implemented yet; export the manifests and "
            "apply them:\n"
            "  clew install --export | kubectl apply --server-side -f -\n"
            "or, with clew:\n"
            "  mkdir clew-install && clew install --export > clew-install/clew.yaml\n"
            "  clew apply clew-install"
        )
        raise typer.Exit(EXIT_ERROR)
    docs = [yaml.safe_dump(obj, sort_keys=False, width=100) for obj in objects]
    sys.stdout.write(_HEADER + "---\n" + "---\n".join(docs))
