"""Entry point of the ``clew`` command: one Typer app, one sub-app per noun."""

from __future__ import annotations

import typer

from clew import __version__
from clew.cli import local

app = typer.Typer(
    name="clew",
    help="clew: a GitOps engine for Kubernetes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(local.app, name="local")


@app.command()
def version() -> None:
    """Print clew's version."""
    typer.echo(__version__)


def main() -> None:
    app()
