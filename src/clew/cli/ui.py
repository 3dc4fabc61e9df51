"""``clew ui``: serve the web UI (docs/ui.md) until interrupted."""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path
from typing import Annotated

import typer

from clew.cli.options import Context, Kubeconfig


def ui_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8090,
    read_only: Annotated[
        bool, typer.Option("--read-only", help="Show everything, allow no action.")
    ] = False,
    session_ttl: Annotated[
        int, typer.Option(min=60, help="Seconds a sign-in lasts (default 8 hours).")
    ] = 8 * 3600,
    session_key_file: Annotated[
        Path | None,
        typer.Option(
            help="File with a Fernet key (32 url-safe base64 bytes) that seals session cookies; "
            "share it between replicas. Default: a random key per start (restarts sign out)."
        ),
    ] = None,
    secure_cookies: Annotated[
        bool, typer.Option(help="Mark cookies Secure (serve behind HTTPS).")
    ] = False,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
) -> None:
    """Serve the web UI: Applications, resource trees, diffs, history, Events and actions.

    Users sign in with a bearer token (`kubectl create token NAME`); what they see and may do
    is what their RBAC allows. The UI's own identity needs to list and watch Applications and
    to create tokenreviews and subjectaccessreviews.
    """
    import asyncio

    from clew.cluster import Cluster
    from clew.ui import build, serve

    key = session_key_file.read_bytes().strip() if session_key_file else None

    async def main() -> None:
        async with Cluster.from_kubeconfig(kubeconfig, context=context) as cluster:
            ui = build(
                cluster,
                read_only=read_only,
                session_key=key,
                session_ttl=session_ttl,
                secure_cookies=secure_cookies,
            )
            server = await serve(ui, host, port)
            typer.echo(f"clew ui on http://{host}:{server.port}/", err=True)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            waiter = asyncio.create_task(stop.wait())
            await asyncio.wait({waiter, server.task}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            await server.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
