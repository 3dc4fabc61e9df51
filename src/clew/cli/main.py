"""Entry point of the ``clew`` command: one Typer app, one sub-app per noun."""

from __future__ import annotations

import typer

from clew import __version__
from clew.cli import apps, audit, controller, install, local, sync

app = typer.Typer(
    name="clew",
    help="clew: a GitOps engine for Kubernetes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(local.app, name="local")
app.command("apply")(sync.apply_command)
app.command("diff")(sync.diff_command)
app.command("render")(sync.render_command)
app.command("controller")(controller.controller_command)
app.command("install")(install.install_command)
apps.register(app)
app.add_typer(audit.app, name="audit")


@app.command()
def version() -> None:
    """Print clew's version."""
    typer.echo(__version__)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
