"""``clew install``: the manifests that install the clew controller.

Only ``--export`` exists for now: it prints the manifests as one YAML stream to review, commit or
apply with any tool. Applying them directly from this command is not implemented (exit 2).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from clew import __version__

# clew.controller.api.install's names, written out: the flags' defaults are read at every start
# (`clew --help`), and importing the controller's API takes longer than the rest of it
# (tests/unit/test_install.py keeps them equal). The manifests are built when the command runs.
DEFAULT_NAMESPACE = "clew-system"
DEFAULT_IMAGE = f"ghcr.io/clew-dev/clew:{__version__}"
APPLY_ROLE = "clew-controller-apply"
WEBHOOK_SECRET = "clew-webhooks"  # noqa: S105 - the name of a Secret, not a secret

EXIT_ERROR = 2

_HEADER = f"""\
# clew {__version__}: the Application CRD and the controller (clew install --export).
# Least privilege: Applications apply as ServiceAccounts (spec.serviceAccountName or
# --default-service-account). The ClusterRole {APPLY_ROLE} (every resource, the verbs of
# apply, prune and watch) is bound cluster-wide only with --cluster-admin.
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
    cluster_admin: Annotated[
        bool,
        typer.Option(
            "--cluster-admin",
            help=f"Bind {APPLY_ROLE} (apply any kind anywhere) to the controller itself.",
        ),
    ] = False,
    default_service_account: Annotated[
        str | None,
        typer.Option(
            help="Applications without spec.serviceAccountName apply as this ServiceAccount of "
            "their own namespace."
        ),
    ] = None,
    no_cross_namespace_refs: Annotated[
        bool,
        typer.Option("--no-cross-namespace-refs", help="Refuse dependsOn across namespaces."),
    ] = False,
    metrics_secure: Annotated[
        bool,
        typer.Option(
            "--metrics-secure",
            help="Serve /metrics on the Pods' port 8443 over HTTPS, for callers bound to "
            "clew-metrics-reader (default: the Pods' localhost only).",
        ),
    ] = False,
    webhook_secret: Annotated[
        str,
        typer.Option(help="Secret with the webhook secrets (keys github, gitlab, generic)."),
    ] = WEBHOOK_SECRET,
) -> None:
    """Print the manifests that install the Application CRD and the clew controller."""
    import yaml
    from rich.console import Console

    from clew.controller.api.install import manifests
    from clew.model import ClewError

    err = Console(stderr=True, highlight=False)
    try:
        objects = manifests(
            namespace,
            image,
            replicas,
            cluster_admin=cluster_admin,
            metrics_secure=metrics_secure,
            default_service_account=default_service_account,
            no_cross_namespace_refs=no_cross_namespace_refs,
            webhook_secret=webhook_secret,
        )
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
