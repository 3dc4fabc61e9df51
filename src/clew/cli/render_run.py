"""What ``clew render`` does once its flags are read, by Typer (:mod:`clew.cli.render_cmd`) or
by the fast path (:mod:`clew.cli.quick`): fetch and render the source, print the objects as YAML
(Secret values masked unless asked for) and the render's warnings on standard error. Neither
Typer nor rich is imported here unless there is something to warn about."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from clew.cli.render_inputs import MAX_OBJECTS, MAX_RENDER_BYTES, PASSWORD_ENV

__all__ = ["EXIT_ERROR", "RenderArgs", "print_error", "run"]

EXIT_ERROR = 2  # as clew.cli.sync: `render` exits 0 rendered, 2 error


@dataclass(frozen=True)
class RenderArgs:
    """The flags of ``clew render``, by their parameter names, with the same defaults."""

    src: Path | None = None
    filename: Path | None = None
    repo: str | None = None
    helm_repo: str | None = None
    chart: str | None = None
    version: str | None = None
    ca_file: Path | None = None
    ref: str = "main"
    path: str = "."
    namespace: str = "default"
    values: list[str] | None = None
    release_name: str | None = None
    sops_age_key_file: Path | None = None
    substitute: list[str] | None = None
    jsonnet_tla: list[str] | None = None
    jsonnet_ext_var: list[str] | None = None
    max_render_bytes: int = MAX_RENDER_BYTES
    max_objects: int = MAX_OBJECTS
    show_secrets: bool = False
    username: str | None = None
    password_env: str = PASSWORD_ENV
    ssh_key: Path | None = None
    known_hosts: Path | None = None


def run(args: RenderArgs) -> None:
    """Render what ``args`` name and print it; raises :class:`clew.model.ClewError` (or
    ``OSError``) for bad flags and failed fetches or renders, having printed nothing."""
    from clew.cli import sources
    from clew.cli.local_source import pick
    from clew.engine.stages import fetch_and_render, render_here
    from clew.plan import mask, to_yaml

    fetch, options = sources.prepare(
        pick(args.src, args.filename),
        args.repo,
        args.ref,
        args.path,
        login=(args.username, args.password_env, args.ssh_key, args.known_hosts),
        charts=sources.Charts(args.helm_repo, args.chart, args.version, args.ca_file),
        flags=sources.RenderFlags(
            args.namespace,
            args.values,
            args.max_render_bytes,
            args.max_objects,
            args.sops_age_key_file,
            args.substitute,
            args.jsonnet_tla,
            args.jsonnet_ext_var,
            args.release_name,
        ),
    )
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
