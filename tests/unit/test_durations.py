"""One duration parser for the CLI flags, the Application CRD and NotificationPolicies: Go's form
(90s, 5m, 1h30m, 500ms) everywhere; plain seconds only for flags (they took seconds before);
days and weeks only for look-backs (`clew audit --since 7d`); every CLI duration flag takes it."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from clew.cli.durations import seconds
from clew.cli.main import app
from clew.controller.api import spec as app_spec
from clew.model.duration import parse_duration
from clew.notify import policy


@pytest.mark.parametrize(
    ("text", "expected"),
    [("90s", 90.0), ("5m", 300.0), ("1h30m", 5400.0), ("1.5h", 5400.0), ("500ms", 0.5)],
)
def test_go_durations(text: str, expected: float) -> None:
    assert parse_duration(text) == expected
    assert app_spec.parse_duration(text) == policy.parse_duration(text) == expected
    assert seconds(text) == expected


def test_days_only_for_look_backs_and_bare_seconds_only_for_flags() -> None:
    assert parse_duration("7d", days=True) == 7 * 86400
    assert parse_duration("2w1d", days=True) == 15 * 86400
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration("7d")
    assert parse_duration("300", bare_seconds=True) == 300.0
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration("300")  # the CRD and policies keep Go's form


@pytest.mark.parametrize("text", ["", "5 minutes", "-1s", "1us", "5M", "1h 30m", "s"])
def test_flags_refuse_what_is_no_duration(text: str) -> None:
    with pytest.raises(typer.BadParameter, match="is not a duration"):
        seconds(text)


@pytest.mark.parametrize(
    "argv",
    [
        ["apply", "/nonexistent-dir", "--timeout", "{}"],
        ["reconcile", "app", "x", "--timeout", "{}"],
        ["local", "up", "--name", "never-started", "--timeout", "{}"],
        ["controller", "--lease-duration", "{}"],
    ],
)
def test_every_duration_flag_takes_a_duration(argv: list[str]) -> None:
    runner = CliRunner()
    bad = runner.invoke(app, [a.format("5minutes") for a in argv])
    assert bad.exit_code == 2
    words = bad.output.replace("│", " ").split()  # rich draws the error in a box
    assert "is not a duration such as 30s" in " ".join(words)


def test_apply_accepts_60s() -> None:
    # Past option parsing: it fails only on the directory, with clew's own error.
    result = CliRunner().invoke(app, ["apply", "/nonexistent-dir", "--timeout", "60s"])
    assert "Invalid value" not in result.output
    assert "error:" in result.output
