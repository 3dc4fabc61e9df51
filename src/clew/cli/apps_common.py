"""What every Application command shares: its name and namespace arguments, its consoles, and
one way to run an async action with a client that turns errors into exit codes (0 ok, 1 the
operation failed, 2 usage or connection error) with a hint saying what to do next. The flags
shared with other commands (``--kubeconfig``, ``--context``, ...) are in :mod:`clew.cli.options`."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from clew.cli.apps_ops import OperationFailed
from clew.cluster import Cluster, ClusterError, ConnectionFailed, Forbidden, Unauthorized
from clew.model import ClewError

__all__ = [
    "EXIT_ERROR",
    "EXIT_FAILED",
    "EXIT_OK",
    "Name",
    "Namespace",
    "err",
    "out",
    "run",
]

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2

Name = Annotated[str, typer.Argument(help="The Application's name.", show_default=False)]
Namespace = Annotated[
    str | None,
    typer.Option(
        "--namespace",
        "-n",
        help="The Application's namespace (default: the kubeconfig context's, else default).",
        show_default=False,
    ),
]
ClusterAction = Callable[[Cluster, str], Awaitable[int]]


PIPE_WIDTH = 512  # piped output is not wrapped, so grep, awk and CI logs see whole lines


def _console(stderr: bool) -> Console:
    # Made per call: rich reads COLUMNS and the terminal when a console is created.
    stream = sys.stderr if stderr else sys.stdout
    wrap = stream.isatty() or "COLUMNS" in os.environ
    return Console(stderr=stderr, highlight=False, width=None if wrap else PIPE_WIDTH)


def out() -> Console:
    """Results: tables, descriptions, what a command did."""
    return _console(stderr=False)


def err() -> Console:
    """Progress, warnings and errors."""
    return _console(stderr=True)


def _report(exc: BaseException) -> None:
    console = err()
    if isinstance(exc, ClewError) and not isinstance(exc, ClusterError):
        console.print(f"[red]error:[/] {escape(exc.message)}")
        if exc.hint:
            console.print(f"  {escape(exc.hint)}")
        return
    hint = "check --kubeconfig and --context"
    if isinstance(exc, ConnectionFailed):
        hint = "check --kubeconfig/--context and that the cluster is reachable"
    elif isinstance(exc, Unauthorized):
        hint = "the cluster rejected your credentials: refresh the kubeconfig"
    elif isinstance(exc, Forbidden):
        hint = "ask for access to applications.clew.dev (and Secrets, Events) in that namespace"
    console.print(f"[red]error:[/] {escape(str(exc))}\n  {escape(hint)}")


def run(
    kubeconfig: Path | None, context: str | None, namespace: str | None, act: ClusterAction
) -> int:
    """Run ``act`` with a client and the namespace to use (``-n``, else the context's); map
    errors to exit codes."""

    async def go() -> int:
        async with Cluster.from_kubeconfig(kubeconfig, context=context) as cluster:
            return await act(cluster, namespace or cluster.namespace or "default")

    try:
        return asyncio.run(go())
    except OperationFailed as exc:
        _report(exc)
        return EXIT_FAILED
    except (ClewError, ClusterError, OSError) as exc:
        _report(exc)
        return EXIT_ERROR
