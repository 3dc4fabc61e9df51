"""Duration flags: ``--timeout 90s``, ``--timeout 5m`` or plain seconds (``--timeout 300``), parsed
by the same parser as the Application CRD and NotificationPolicies (:mod:`clew.model.duration`)."""

from __future__ import annotations

from typing import Any

import typer

__all__ = ["duration_option", "seconds"]


def seconds(value: str | float) -> float:
    """A flag's value in seconds; typer reports the ValueError as a usage error (exit 2)."""
    if isinstance(value, int | float):  # a default, not typed by a user
        return float(value)
    from clew.model.duration import parse_duration  # only when a flag is given: start-up time

    try:
        return parse_duration(value.strip(), bare_seconds=True)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def duration_option(help: str) -> Any:
    """A ``typer.Option`` taking a duration; annotate the parameter ``float`` (seconds)."""
    return typer.Option(parser=seconds, metavar="DURATION", help=help)
