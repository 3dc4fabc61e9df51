"""The local source of `clew render/apply/diff` may be a directory, one manifest file, or `-` for
standard input, as the first argument or with `-f` (kubectl's habit); a file is rendered alone
(its neighbours are not read), the inventory name follows it, and two sources are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from clew.cli.local_source import default_name
from clew.cli.main import app

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "one.yaml").write_text(CM.format(name="one"))
    (tmp_path / "two.yaml").write_text(CM.format(name="two"))
    return tmp_path


def rendered(*argv: str, stdin: str | None = None) -> list[str]:
    result = CliRunner().invoke(app, ["render", *argv], input=stdin)
    assert result.exit_code == 0, result.output
    return [line.split()[-1] for line in result.stdout.splitlines() if line.startswith("  name:")]


def test_directory_file_and_stdin(tree: Path) -> None:
    assert rendered(str(tree)) == ["one", "two"]
    assert rendered(str(tree / "one.yaml")) == ["one"]  # alone: two.yaml is not read
    assert rendered("-f", str(tree / "two.yaml")) == ["two"]
    assert rendered("-", stdin=CM.format(name="piped")) == ["piped"]
    assert rendered("-f", "-", stdin=CM.format(name="piped")) == ["piped"]


def test_two_sources_are_refused(tree: Path) -> None:
    result = CliRunner().invoke(app, ["render", str(tree), "-f", str(tree / "one.yaml")])
    assert result.exit_code == 2
    assert "two sources" in result.output


def test_bad_stdin_names_stdin() -> None:
    result = CliRunner().invoke(app, ["render", "-"], input="kind: [\n")
    assert result.exit_code == 2
    assert "stdin.yaml:2" in result.output


def test_default_inventory_names(tree: Path) -> None:
    assert default_name(tree / "one.yaml", None) == "one"
    assert default_name(Path("-"), None) == "stdin"
    assert default_name(tree, None) == tree.name
    assert default_name(None, "https://git.example.com/org/infra.git") == "infra"
