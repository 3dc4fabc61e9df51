"""``clew controller``: the pull-based operator (in a Pod, or anywhere with a kubeconfig)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from clew.cli.durations import duration_option
from clew.cli.paths import cache_dir


def controller_command(
    kubeconfig: Annotated[
        Path | None,
        typer.Option(help="Kubeconfig (default: $KUBECONFIG, merged); in a Pod, leave unset."),
    ] = None,
    context: Annotated[str | None, typer.Option(help="Kubeconfig context.")] = None,
    namespace: Annotated[
        str | None, typer.Option(help="Watch Applications in this namespace only (default: all).")
    ] = None,
    workers: Annotated[int, typer.Option(help="Applications reconciled at once.")] = 4,
    leader_elect: Annotated[
        bool, typer.Option(help="Campaign for a Lease; only the leader reconciles.")
    ] = False,
    sharding: Annotated[
        bool,
        typer.Option(
            help="Spread Applications over the replicas, each with a membership Lease; one "
            "leader still runs ApplicationSets (docs/sharding.md)."
        ),
    ] = False,
    lease_namespace: Annotated[
        str,
        typer.Option(
            envvar="POD_NAMESPACE",
            help="Namespace of the leader (and shard) Leases (in a Pod: its own).",
        ),
    ] = "clew-system",
    lease_duration: Annotated[
        float, duration_option("How long a leader's Lease lasts without renewal (10s).")
    ] = 10.0,
    renew_deadline: Annotated[
        float, duration_option("How long the leader may fail to renew before stepping down.")
    ] = 7.0,
    retry_period: Annotated[float, duration_option("Time between Lease attempts (2s).")] = 2.0,
    identity: Annotated[
        str | None,
        typer.Option(
            envvar="POD_NAME", help="Leader-election identity (default: host name + suffix)."
        ),
    ] = None,
    host: Annotated[
        str, typer.Option(help="Address for webhooks and health probes (the public port).")
    ] = "0.0.0.0",  # noqa: S104
    port: Annotated[int, typer.Option(help="Port for webhooks and health probes.")] = 8080,
    metrics_bind_address: Annotated[
        str,
        typer.Option(
            help="HOST:PORT for /metrics (':8443' is every address; '0' serves none). Bind it "
            "beyond localhost only with --metrics-secure."
        ),
    ] = "127.0.0.1:8081",
    metrics_secure: Annotated[
        bool,
        typer.Option(
            help="Serve /metrics over HTTPS to callers whose bearer token passes a TokenReview "
            "and a SubjectAccessReview (get /metrics)."
        ),
    ] = False,
    metrics_cert_dir: Annotated[
        Path | None,
        typer.Option(help="tls.crt and tls.key for --metrics-secure (default: self-signed)."),
    ] = None,
    default_service_account: Annotated[
        str | None,
        typer.Option(
            help="Apply Applications without spec.serviceAccountName as this ServiceAccount "
            "of their own namespace, never as the controller."
        ),
    ] = None,
    no_cross_namespace_refs: Annotated[
        bool,
        typer.Option(
            "--no-cross-namespace-refs",
            help="Refuse dependsOn on Applications of another namespace.",
        ),
    ] = False,
    ui_bind_address: Annotated[
        str,
        typer.Option(
            help="HOST:PORT to also serve the web UI from this process (docs/ui.md); '0' "
            "(default) serves none. It needs tokenreviews and subjectaccessreviews create."
        ),
    ] = "0",
    log_format: Annotated[str, typer.Option(help="json or text.")] = "json",
    log_level: Annotated[str, typer.Option(help="debug, info, warning.")] = "info",
) -> None:
    """Run the controller: watch Applications and keep the cluster matching Git.

    Webhook secrets come from CLEW_WEBHOOK_GITHUB_SECRET, CLEW_WEBHOOK_GITLAB_TOKEN and
    CLEW_WEBHOOK_GENERIC_SECRET (a receiver without a secret is disabled).
    """
    import asyncio  # here, with clew's packages: `clew --help` imports this module
    import contextlib
    import signal

    from clew.cluster import Cluster
    from clew.controller.api.rules import DNS_LABEL_RE
    from clew.controller.api.tenancy import Tenancy
    from clew.controller.config import ControllerConfig
    from clew.controller.runner import Controller
    from clew.controller.triggers.receivers import ReceiverSecrets
    from clew.report import logs, tracing
    from clew.tools import cached_helm

    logs.configure(log_level, json_lines=log_format == "json")
    helm = cached_helm()
    extra = {"identity": identity} if identity else {}
    try:
        metrics_host, metrics_port = parse_bind_address(metrics_bind_address)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--metrics-bind-address") from None
    try:
        ui_host, ui_port = parse_bind_address(ui_bind_address)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--ui-bind-address") from None
    if default_service_account is not None and not re.fullmatch(
        DNS_LABEL_RE, default_service_account
    ):
        raise typer.BadParameter(
            f"{default_service_account!r} is not a ServiceAccount name",
            param_hint="--default-service-account",
        )
    config = ControllerConfig(
        **extra,  # type: ignore[arg-type]
        namespace=namespace,
        workers=workers,
        leader_elect=leader_elect,
        sharding=sharding,
        lease_namespace=lease_namespace,
        lease_duration=lease_duration,
        renew_deadline=renew_deadline,
        retry_period=retry_period,
        host=host,
        port=port,
        metrics_host=metrics_host,
        metrics_port=metrics_port,
        metrics_secure=metrics_secure,
        metrics_cert_dir=metrics_cert_dir,
        tenancy=Tenancy(default_service_account, no_cross_namespace_refs),
        cache_dir=cache_dir() / "sources",
        helm_binary=helm,
        secrets=ReceiverSecrets.from_env(),
    )

    async def main() -> None:
        async with Cluster.from_kubeconfig(kubeconfig, context=context) as cluster:
            task = asyncio.current_task()
            assert task is not None
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, task.cancel)  # graceful: release the lease, stop
            ui = None
            if ui_port is not None:
                from clew.ui import build, serve

                ui = await serve(build(cluster), ui_host, ui_port)
            try:
                with contextlib.suppress(asyncio.CancelledError):
                    await Controller(cluster, config).run()
            finally:
                if ui is not None:
                    await ui.stop()

    with tracing.from_env():  # OTEL_* variables; nothing happens unless they ask for traces
        asyncio.run(main())


def parse_bind_address(text: str) -> tuple[str, int | None]:
    """``HOST:PORT``, ``:PORT`` (every address) or ``0`` (off), as controller-runtime reads
    ``--metrics-bind-address``."""
    if text.strip() == "0":
        return "127.0.0.1", None
    host, sep, port = text.strip().rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{text!r} is not HOST:PORT, :PORT or 0")
    host = host.strip("[]") or "0.0.0.0"  # noqa: S104 - ":PORT" asks for every address
    return host, int(port)
