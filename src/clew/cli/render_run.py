"""What ``clew render`` does once its flags are read, by Typer (:mod:`clew.cli.render_cmd`) or
by the fast path (:mod:`clew.cli.quick`): fetch and render the source, print the objects as YAML
(Secret values masked unless asked for) and the render's warnings on standard error. Neither
Typer nor rich is imported here unless there is something to warn about."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from clew.cli.render_inputs import SourceArgs

__all__ = ["EXIT_ERROR", "RenderArgs", "print_error", "run"]

EXIT_ERROR = 2  # as clew.cli.sync: `render` exits 0 rendered, 2 error


@dataclass(frozen=True)
class RenderArgs(SourceArgs):
    """The flags of ``clew render``, by their parameter names, with the same defaults."""

    show_secrets: bool = False


def run(args: RenderArgs) -> None:
    """Render what ``args`` name and print it; raises :class:`clew.model.ClewError` (or
    ``OSError``) for bad flags and failed fetches or renders, having printed nothing."""
    from clew.cli import sources
    from clew.engine.stages import fetch_and_render, render_here
    from clew.plan import mask, to_yaml

    _, fetch, options = args.prepare()
    # A local directory is read and rendered in this thread: no event loop to start or import.
    snapshot = fetch.now() if isinstance(fetch, sources.LocalFetch) else None
    if snapshot is not None:
        rendered = render_here(snapshot, options)
    else:
        import asyncio

        _, rendered = asyncio.run(fetch_and_render(fetch, options))
    if rendered.warnings:
        from rich.console import Console

        for warning in rendered.warnings:
            Console(stderr=True).print(f"[yellow]warning:[/] {warning}", highlight=False)
    manifests = rendered.manifests
    docs = [to_yaml(m.obj if args.show_secrets else mask(m.obj)) for m in manifests]
    sys.stdout.write(
        "---\n".join(f"# Source: {m.origin}\n{d}" for m, d in zip(manifests, docs, strict=True))
    )


def print_error(exc: Exception | str) -> None:
    """``error: …`` on standard error, as every command prints one."""
    from rich.console import Console

    Console(stderr=True, highlight=False).print(f"[red]error:[/] {exc}")
