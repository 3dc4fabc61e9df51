"""What every Application command shares: its name and namespace arguments, its consoles, and
one way to run an async action with a client that turns errors into exit codes (0 ok, 1 the
operation failed, 2 usage or connection error) with a hint saying what to do next. The flags
shared with other commands (``--kubeconfig``, ``--context``, ...) are in :mod:`clew.cli.options`."""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from clew.cli import lazy

if TYPE_CHECKING:
    from rich import console as rich_console
    from rich import markup

    from clew import cluster as kube
    from clew import model
    from clew.cli import apps_ops
    from clew.cluster import Cluster

    ClusterAction = Callable[[Cluster, str], Awaitable[int]]
else:  # loaded by the command that runs, not by `clew --help` (see clew.cli.lazy)
    rich_console = lazy.module("rich.console")
    markup = lazy.module("rich.markup")
    kube = lazy.module("clew.cluster")
    model = lazy.module("clew.model")
    apps_ops = lazy.module("clew.cli.apps_ops")

__all__ = [
    "DEFAULT_AUTHOR",
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
DEFAULT_AUTHOR = "clew <clew@localhost>"  # of a revert commit (`clew rollback app --revert`)

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

PIPE_WIDTH = 512  # piped output is not wrapped, so grep, awk and CI logs see whole lines


def _console(stderr: bool) -> rich_console.Console:
    # Made per call: rich reads COLUMNS and the terminal when a console is created.
    stream = sys.stderr if stderr else sys.stdout
    wrap = stream.isatty() or "COLUMNS" in os.environ
    return rich_console.Console(stderr=stderr, highlight=False, width=None if wrap else PIPE_WIDTH)


def out() -> rich_console.Console:
    """Results: tables, descriptions, what a command did."""
    return _console(stderr=False)


def err() -> rich_console.Console:
    """Progress, warnings and errors."""
    return _console(stderr=True)


def _report(exc: BaseException) -> None:
    console = err()
    if isinstance(exc, model.ClewError) and not isinstance(exc, kube.ClusterError):
        console.print(f"[red]error:[/] {markup.escape(exc.message)}")
        if exc.hint:
            console.print(f"  {markup.escape(exc.hint)}")
        return
    hint = "check --kubeconfig and --context"
    if isinstance(exc, kube.ConnectionFailed):
        hint = "check --kubeconfig/--context and that the cluster is reachable"
    elif isinstance(exc, kube.Unauthorized):
        hint = "the cluster rejected your credentials: refresh the kubeconfig"
    elif isinstance(exc, kube.Forbidden):
        hint = "ask for access to applications.clew.dev (and Secrets, Events) in that namespace"
    console.print(f"[red]error:[/] {markup.escape(str(exc))}\n  {markup.escape(hint)}")


def run(
    kubeconfig: Path | None, context: str | None, namespace: str | None, act: ClusterAction
) -> int:
    """Run ``act`` with a client and the namespace to use (``-n``, else the context's); map
    errors to exit codes."""

    async def go() -> int:
        async with kube.Cluster.from_kubeconfig(kubeconfig, context=context) as cluster:
            return await act(cluster, namespace or cluster.namespace or "default")

    import asyncio

    try:
        return asyncio.run(go())
    except apps_ops.OperationFailed as exc:
        _report(exc)
        return EXIT_FAILED
    except (model.ClewError, kube.ClusterError, OSError) as exc:
        _report(exc)
        return EXIT_ERROR
