"""The fast path of `clew render` and `clew apply` reads the same flags as the Typer commands,
with the same defaults, and `clew render` prints the same output either way; whatever it is
unsure of (help, unknown flags, bad values, two sources) goes to Typer, so usage errors read
as before. (`clew apply` through it runs in tests/integration/test_sync.py's CLI runs.)"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from clew.cli import quick
from clew.cli.apply_run import ApplyArgs
from clew.cli.main import _app
from clew.cli.render_run import RenderArgs

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: ${{V}}\n"
SECRET = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  token: hunter2\n"


def _params(command: str) -> list[typer.core.TyperOption | typer.core.TyperArgument]:
    group = typer.main.get_command(_app(command))
    return list(group.commands[command].params)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("command", "args"), [("render", RenderArgs), ("apply", ApplyArgs)])
def test_the_tables_are_the_typer_commands_options(command: str, args: type) -> None:
    options, switches = quick.COMMANDS[command]
    fields = {f.name: f.default for f in dataclasses.fields(args)}
    seen: set[str] = set()
    for param in _params(command):
        assert param.name in fields, param.name
        assert param.default == fields[param.name], param.name
        assert not getattr(param, "envvar", None), f"{param.name}: the fast path reads no env"
        if param.param_type_name == "argument":
            assert param.name == "src"
            continue
        if getattr(param, "is_flag", False):
            for flag in (*param.opts, *param.secondary_opts):
                assert switches[flag][0] == param.name, flag
                seen.add(flag)
            continue
        for flag in param.opts:
            name, kind = options[flag]
            assert name == param.name, flag
            assert (kind in ("list", "pairs")) == param.multiple, flag
            seen.add(flag)
    assert seen == set(options) | set(switches)
    assert {p.name for p in _params(command)} == set(fields)


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
    assert quick.parse("render", argv) is None
    assert quick.parse("apply", argv) is None


def test_flags_are_read_as_typer_reads_them() -> None:
    params = quick.parse(
        "render",
        [
            *("d", "-n", "x", "--namespace=y", "--values", "a.yaml", "--values=b.yaml"),
            *("--max-render-bytes", "1Mi", "--max-objects", "3", "--show-secrets"),
            *("--substitute", "A=1", "--substitute=B=2=3", "-f", "-"),
        ],
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


def test_apply_flags() -> None:
    params = quick.parse(
        "apply",
        ["d", "--prune", "--wait", "--timeout", "5m", "-o", "json", "--no-prune", "--kubeconfig=k"],
    )
    assert params == {
        "src": Path("d"),
        "prune": False,
        "wait_": True,
        "timeout": 300.0,
        "output": "json",
        "kubeconfig": Path("k"),
    }
    assert quick.parse("apply", ["d", "--timeout", "soon"]) is None  # Typer's usage error
    assert quick.parse("apply", ["d", "--show-secrets"]) is None  # render's, not apply's


def test_other_commands_are_left_to_typer() -> None:
    assert quick.run(["diff", "."]) is None
    assert quick.run(["--help"]) is None
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


APPLY_PROBE = """
import sys
sys.argv = ["clew", "apply", sys.argv[1], "--kubeconfig", sys.argv[2], "-o", "json"]
from clew.cli import main
try:
    main.main()
except SystemExit as exc:
    print("EXIT", exc.code, file=sys.stderr)
print("TYPER", sorted(m for m in sys.modules if m.split(".")[0] in ("typer", "pydantic")),
      file=sys.stderr)
"""


def test_apply_runs_without_typer(tmp_path: Path) -> None:
    (tmp_path / "cm.yaml").write_text(CM.format(name="a"))
    missing = tmp_path / "no-such-kubeconfig"
    done = subprocess.run(
        [sys.executable, "-c", APPLY_PROBE, str(tmp_path), str(missing)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "EXIT 2" in done.stderr, done.stderr  # nothing changed: the cluster is unknown
    assert str(missing) in done.stderr
    assert "TYPER []" in done.stderr, done.stderr
