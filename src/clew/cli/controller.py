"""``clew controller``: the pull-based operator (in a Pod, or anywhere with a kubeconfig)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Annotated

import typer

from clew.cli.durations import duration_option
from clew.cli.paths import cache_dir


def controller_command(
    kubeconfig: Annotated[
        Path | None, typer.Option(envvar="KUBECONFIG", help="Kubeconfig; in a Pod, leave unset.")
    ] = None,
    context: Annotated[str | None, typer.Option(help="Kubeconfig context.")] = None,
    namespace: Annotated[
        str | None, typer.Option(help="Watch Applications in this namespace only (default: all).")
    ] = None,
    workers: Annotated[int, typer.Option(help="Applications reconciled at once.")] = 4,
    leader_elect: Annotated[
        bool, typer.Option(help="Campaign for a Lease; only the leader reconciles.")
    ] = False,
    lease_namespace: Annotated[
        str, typer.Option(help="Namespace of the leader Lease.")
    ] = "clew-system",
    lease_duration: Annotated[
        float, duration_option("How long a leader's Lease lasts without renewal (10s).")
    ] = 10.0,
    renew_deadline: Annotated[
        float, duration_option("How long the leader may fail to renew before stepping down.")
    ] = 7.0,
    retry_period: Annotated[float, duration_option("Time between Lease attempts (2s).")] = 2.0,
    identity: Annotated[
        str | None, typer.Option(help="Leader-election identity (default: host name + suffix).")
    ] = None,
    host: Annotated[
        str, typer.Option(help="Address for webhooks, /metrics and health.")
    ] = "0.0.0.0",  # noqa: S104
    port: Annotated[int, typer.Option(help="Port for webhooks, /metrics and health.")] = 8080,
    log_format: Annotated[str, typer.Option(help="json or text.")] = "json",
    log_level: Annotated[str, typer.Option(help="debug, info, warning.")] = "info",
) -> None:
    """Run the controller: watch Applications and keep the cluster matching Git.

    Webhook secrets come from CLEW_WEBHOOK_GITHUB_SECRET, CLEW_WEBHOOK_GITLAB_TOKEN and
    CLEW_WEBHOOK_GENERIC_SECRET (a receiver without a secret is disabled).
    """
    from clew.cluster import Cluster
    from clew.controller.runner import Controller, ControllerConfig
    from clew.controller.server import ReceiverSecrets
    from clew.report import logs, tracing
    from clew.testing import tools

    logs.configure(log_level, json_lines=log_format == "json")
    try:
        helm: str | None = str(tools.binary("helm"))
    except tools.ToolsMissing:
        helm = None
    extra = {"identity": identity} if identity else {}
    config = ControllerConfig(
        **extra,  # type: ignore[arg-type]
        namespace=namespace,
        workers=workers,
        leader_elect=leader_elect,
        lease_namespace=lease_namespace,
        lease_duration=lease_duration,
        renew_deadline=renew_deadline,
        retry_period=retry_period,
        host=host,
        port=port,
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
            with contextlib.suppress(asyncio.CancelledError):
                await Controller(cluster, config).run()

    with tracing.from_env():  # OTEL_* variables; nothing happens unless they ask for traces
        asyncio.run(main())
