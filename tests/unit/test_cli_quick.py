"""`clew render`'s fast path reads the same flags as the Typer command, with the same defaults,
and prints the same output; whatever it is unsure of (help, unknown flags, bad values, two
sources) goes to Typer, so usage errors read as before."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from clew.cli import quick
from clew.cli.main import _app
from clew.cli.render_run import RenderArgs

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: ${{V}}\n"
SECRET = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  token: hunter2\n"


def _render_params() -> list[typer.core.TyperOption | typer.core.TyperArgument]:
    group = typer.main.get_command(_app("render"))
    return list(group.commands["render"].params)  # type: ignore[attr-defined]


def test_the_table_is_the_typer_commands_options() -> None:
    fields = {f.name: f.default for f in dataclasses.fields(RenderArgs)}
    seen: set[str] = set()
    for param in _render_params():
        assert param.name in fields, param.name
        assert param.default == fields[param.name], param.name
        if param.param_type_name == "argument":
            assert param.name == "src"
            continue
        if getattr(param, "is_flag", False):
            for flag in (*param.opts, *param.secondary_opts):
                assert quick.SWITCHES[flag][0] == param.name, flag
                seen.add(flag)
            continue
        for flag in param.opts:
            name, kind = quick.OPTIONS[flag]
            assert name == param.name, flag
            assert (kind in ("list", "pairs")) == param.multiple, flag
            seen.add(flag)
    assert seen == set(quick.OPTIONS) | set(quick.SWITCHES)
    assert {p.name for p in _render_params()} == set(fields)


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["-h"],
        ["a", "b"],
        ["--no-such-flag"],
        ["--max-objects", "0"],
        ["--max-objects", "x"],
        ["--max-render-bytes", "64MB"],
        ["--substitute", "NOEQUALS"],
        ["--namespace"],
        ["--namespace", "--show-secrets"],
        ["-nfoo"],
        ["--", "dir"],
    ],
)
def test_typer_parses_what_the_fast_path_is_unsure_of(argv: list[str]) -> None:
    assert quick.parse_render(argv) is None


def test_flags_are_read_as_typer_reads_them() -> None:
    params = quick.parse_render(
        [
            *("d", "-n", "x", "--namespace=y", "--values", "a.yaml", "--values=b.yaml"),
            *("--max-render-bytes", "1Mi", "--max-objects", "3", "--show-secrets"),
            *("--substitute", "A=1", "--substitute=B=2=3", "-f", "-"),
        ]
    )
    assert params == {
        "src": Path("d"),
        "namespace": "y",  # given twice: the last wins
        "values": ["a.yaml", "b.yaml"],
        "max_render_bytes": 2**20,
        "max_objects": 3,
        "show_secrets": True,
        "substitute": ["A=1", "B=2=3"],
        "filename": Path("-"),
    }


def test_other_commands_are_left_to_typer() -> None:
    assert quick.run(["apply", "."]) is None
    assert quick.run([]) is None


def _clew(*argv: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from clew.cli.main import main; sys.argv[0] = 'clew'; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, check=False
    )


def test_same_output_as_typer(tmp_path: Path) -> None:
    (tmp_path / "cm.yaml").write_text(CM.format(name="a"))
    (tmp_path / "secret.yaml").write_text(SECRET)
    argv = ["render", str(tmp_path), "--substitute", "V=value", "-n", "demo"]
    fast = _clew(*argv)
    slow = CliRunner().invoke(_app("render"), argv)
    assert fast.returncode == slow.exit_code == 0, fast.stderr
    assert fast.stdout == slow.stdout
    assert "k: value" in fast.stdout
    assert "hunter2" not in fast.stdout  # masked unless --show-secrets
    assert "hunter2" in _clew(*argv, "--show-secrets").stdout


def test_errors_exit_2_with_one_line(tmp_path: Path) -> None:
    missing = _clew("render", str(tmp_path / "nowhere"))
    assert missing.returncode == 2
    assert missing.stdout == ""
    assert missing.stderr.startswith("error: ")
    usage = _clew("render", str(tmp_path), "--max-objects", "0")  # Typer's usage error
    assert usage.returncode == 2
    assert "--max-objects" in usage.stderr
