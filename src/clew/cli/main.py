"""Entry point of the ``clew`` command: one Typer app, one sub-app per noun.

``clew apply|diff|render`` (what CI runs, where start-up time counts) build an app with only
those commands, so they skip importing the controller, the notifier and the other nouns; and
``clew render`` with flags the standard library can read skips Typer too (:mod:`clew.cli.quick`).
``clew --help`` on a terminal 80 columns wide (or none) is printed from a constant equal to
Typer's text (:mod:`clew.cli.top_help`), without importing Typer; otherwise by click's plain
formatter: Typer's rich panels import rich's Markdown and table machinery, most of the time the
help took (docs/benchmarks.md).
"""

from __future__ import annotations

import sys

from clew import __version__

# Not ``typing.TYPE_CHECKING``: importing typing takes longer than ``clew --help`` has to print
# its text (mypy reads any constant of this name as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typer

_SYNC = ("apply", "diff", "render")


def _app(only: str | None = None) -> typer.Typer:
    import typer

    from clew.cli import render_cmd, sync

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
    from clew.cli import apps, audit, controller, install, local, push, ui

    app.add_typer(local.app, name="local")
    app.command("apply")(sync.apply_command)
    app.command("diff")(sync.diff_command)
    app.command("render")(render_cmd.render_command)
    app.command("controller")(controller.controller_command)
    app.command("install")(install.install_command)
    app.command("ui")(ui.ui_command)
    apps.register(app)
    app.add_typer(audit.app, name="audit")
    app.add_typer(push.app, name="push")
    app.command()(version)
    return app


def _group() -> None:
    """clew: a GitOps engine for Kubernetes."""


def version() -> None:
    """Print clew's version."""
    print(__version__)


def __getattr__(name: str) -> typer.Typer:
    # ``clew.cli.main.app``, the whole command tree, is built on first use (tests, docs).
    if name == "app":
        globals()["app"] = built = _app()
        return built
    raise AttributeError(name)


def main() -> None:
    from clew.cli import top_help

    helps = top_help.text(sys.argv[1:])
    if helps is not None:
        sys.stdout.write(helps)
        return
    from clew.cli import quick

    try:
        code = quick.run(sys.argv[1:])
    except KeyboardInterrupt:  # as click reports it on the Typer path
        print("\nAborted!", file=sys.stderr)
        sys.exit(1)
    if code is not None:
        sys.exit(code)
    typer_main(sys.argv[1:])


def typer_main(argv: list[str]) -> None:
    """``clew ARGV`` parsed and run by Typer (exits, as click does)."""
    import typer.main

    first = argv[0] if argv else ""
    group = typer.main.get_command(_app(first if first in _SYNC else None))
    if first not in _SYNC:
        group.rich_markup_mode = None  # type: ignore[attr-defined]
    group(args=argv, prog_name="clew")


if __name__ == "__main__":
    main()
