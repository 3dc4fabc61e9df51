"""Entry point of the ``clew`` command: one Typer app, one sub-app per noun.

``clew apply|diff|render`` (what CI runs, where start-up time counts) build an app with only
those commands, so they skip importing the controller, the notifier and the other nouns.
"""

from __future__ import annotations

import sys

import typer

from clew import __version__
from clew.cli import render_cmd, sync

_SYNC = ("apply", "diff", "render")


def _app(only: str | None = None) -> typer.Typer:
    app = typer.Typer(
        name="clew",
        help="clew: a GitOps engine for Kubernetes.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
    )
    if only is not None:
        module = render_cmd if only == "render" else sync
        app.command(only)(getattr(module, f"{only}_command"))
        app.callback()(_group)  # a group still, not the lone command in its place
        return app
    from clew.cli import apps, audit, controller, install, local, push

    app.add_typer(local.app, name="local")
    app.command("apply")(sync.apply_command)
    app.command("diff")(sync.diff_command)
    app.command("render")(render_cmd.render_command)
    app.command("controller")(controller.controller_command)
    app.command("install")(install.install_command)
    apps.register(app)
    app.add_typer(audit.app, name="audit")
    app.add_typer(push.app, name="push")
    app.command()(version)
    return app


def _group() -> None:
    """clew: a GitOps engine for Kubernetes."""


def version() -> None:
    """Print clew's version."""
    typer.echo(__version__)


def __getattr__(name: str) -> typer.Typer:
    # ``clew.cli.main.app``, the whole command tree, is built on first use (tests, docs).
    if name == "app":
        globals()["app"] = built = _app()
        return built
    raise AttributeError(name)


def main() -> None:
    first = sys.argv[1] if len(sys.argv) > 1 else ""
    _app(first if first in _SYNC else None)(prog_name="clew")


if __name__ == "__main__":
    main()
