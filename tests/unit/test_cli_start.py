"""`clew apply|diff|render` start without importing the controller, the notifier or the other
nouns (start-up time is most of a small apply); `clew render` of a local directory imports no
Typer, click, pydantic, rich, asyncio, cluster client, apply stage or orchestrator (it is
compared with `kubectl kustomize`), and only the renderer the source needs (a Kustomization
loads no Helm, Jsonnet or plain-tree reader), nor the change sets, hooks and health;
`clew --help` on an 80-column terminal prints Typer's own text, equal to the constant, without
importing Typer, click, typing or any of clew's stages, on a narrower one Typer's wrapped text,
and imports none of clew's stages, the engine, the cluster client or the controller (every
command imports them when it runs), nor rich's console; it still lists every command, and the
defaults the flags write out equal the render limits."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path
from unittest.mock import patch

import pytest

PROBE = """
import sys
sys.argv = ["clew", "render", sys.argv[1]]
extra = tuple(m for m in sys.argv[2].split(",") if m)
from clew.cli import main
try:
    main.main()
except SystemExit as exc:
    assert exc.code in (0, None), exc.code
heavy = ("clew.controller", "clew.notify", "clew.cli.apps", "typer", "click", "pydantic",
         "rich", "asyncio", "lightkube", "httpx2", "clew.cluster", "clew.apply", "clew.wait",
         "clew.report", "clew.engine.orchestrator", "clew.engine.result", "clew.plan.fast",
         "opentelemetry", "cryptography", "pyrage", "clew.render.helm", "clew.render.hooks",
         "clew.model.changes", "clew.model.hooks", "clew.model.health", "clew.plan.order") + extra
print("HEAVY", sorted(m for m in sys.modules if m.startswith(heavy)), file=sys.stderr)
"""
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
# What a Kustomization's render does not need: the plain tree's reader, Jsonnet, the parse cache.
NOT_KUSTOMIZE = "clew.render.plain,clew.render.jsonnet,clew.render.parsecache,pickle"


@pytest.mark.parametrize("kustomization", [False, True], ids=["plain", "kustomize"])
def test_render_imports_only_what_a_render_needs(tmp_path: Path, kustomization: bool) -> None:
    (tmp_path / "cm.yaml").write_text(CM)
    if kustomization:
        (tmp_path / "kustomization.yaml").write_text("resources: [cm.yaml]\nnamespace: demo\n")
    extra = NOT_KUSTOMIZE if kustomization else ""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path), extra],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "name: a" in done.stdout
    assert ("namespace: demo" in done.stdout) == kustomization
    assert "HEAVY []" in done.stderr, done.stderr


def test_help_lists_every_command() -> None:
    from typer.testing import CliRunner

    from clew.cli.main import app

    out = CliRunner().invoke(app, ["--help"]).output
    for command in ("apply", "diff", "render", "controller", "install", "local", "app", "audit"):
        assert f" {command} " in out, command


HELP_PROBE = """
import sys
extra = tuple(m for m in sys.argv[1].split(",") if m)
sys.argv = ["clew", "--help"]
from clew.cli import main
try:
    main.main()
except SystemExit as exc:
    assert exc.code in (0, None), exc.code
heavy = ("clew.engine", "clew.cluster", "clew.controller", "clew.render", "clew.source",
         "clew.plan", "clew.apply", "clew.report", "clew.notify", "clew.model", "lightkube",
         "httpx2", "yaml", "asyncio", "opentelemetry", "rich.console", "rich.markdown",
         "typer.rich_utils", "pydantic") + extra
# clew.cli.lazy registers a module it has not run yet: that one is not imported.
loaded = [m for m, mod in sys.modules.items() if type(mod).__name__ != "_LazyModule"]
print("HEAVY", sorted(m for m in loaded if m.startswith(heavy)), file=sys.stderr)
"""


# At the constant's width nothing but the interpreter's start and clew.cli.main runs.
NOT_AT_80 = "typer,click,typing,dataclasses,rich,clew.cli.quick,clew.cli.render_cmd"


@pytest.mark.parametrize("columns", ["60", "80"])
def test_help_imports_only_the_commands_signatures(columns: str) -> None:
    extra = NOT_AT_80 if columns == "80" else ""
    done = subprocess.run(
        [sys.executable, "-c", HELP_PROBE, extra],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, COLUMNS=columns),
    )
    assert " apply " in done.stdout
    assert "HEAVY []" in done.stderr, done.stderr


def _typer_help(columns: int) -> str:
    """``clew --help`` as Typer prints it (:func:`clew.cli.main.typer_main`)."""
    from clew.cli.main import typer_main

    out = io.StringIO()
    env = patch.dict(os.environ, COLUMNS=str(columns))
    with env, redirect_stdout(out), pytest.raises(SystemExit) as done:
        typer_main(["--help"])
    assert done.value.code in (0, None)
    return out.getvalue()


def test_top_level_help_is_typers_text() -> None:
    from clew.cli import top_help

    typers = _typer_help(80)
    assert typers == top_help.HELP, f"a command changed; paste into top_help.HELP:\n{typers}"
    assert _typer_help(200) == top_help.HELP  # click caps the width at 80 columns
    assert top_help.text(["--help", "x"]) is None
    assert top_help.text(["render", "--help"]) is None


@pytest.mark.parametrize("columns", ["60", "80", "120"])
def test_help_prints_typers_text_at_any_width(columns: str) -> None:
    """Without Typer where the width is the constant's; a narrower terminal gets Typer itself
    (the constant would wrap wrongly there)."""
    probe = HELP_PROBE + "print('TYPER', 'typer' in sys.modules, file=sys.stderr)\n"
    done = subprocess.run(
        [sys.executable, "-c", probe, ""],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, COLUMNS=columns),
    )
    assert done.stdout == _typer_help(int(columns))
    assert f"TYPER {columns == '60'}" in done.stderr, done.stderr


def test_flag_defaults_are_the_render_limits() -> None:
    from clew import render
    from clew.cli import options

    assert options.MAX_RENDER_BYTES == render.MAX_RENDER_BYTES
    assert options.MAX_OBJECTS == render.MAX_OBJECTS


def test_lazy_names_are_not_their_namesake_modules() -> None:
    """A lazily exported function named like its module (``clew.engine.uninstall``) is the
    function after its module was imported, whichever name came first."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from clew import engine, plan\n"
            "import clew.plan.mask, clew.plan.normalize\n"
            "engine.delete_all\n"
            "print(callable(engine.uninstall), callable(plan.mask), callable(plan.normalize))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == ["True", "True", "True"]


APPLY_PROBE = """
import sys
loaded = []
def first_connect(event, args):
    if event == "socket.connect" and not loaded:
        loaded.extend(m for m, mod in list(sys.modules.items()) if mod is not None)
sys.addaudithook(first_connect)
sys.argv = ["clew", "apply", sys.argv[1], "--kubeconfig", sys.argv[2]]
from clew.cli import main
try:
    main.main()
except SystemExit as exc:
    assert exc.code == 2, exc.code  # nothing applied: the API server is not there
heavy = ("trio", "prometheus_client", "clew.report.metrics", "clew.wait.watcher",
         "clew.wait.livetree", "clew.wait.tree", "rich.table", "clew.controller", "clew.notify",
         "typer", "pydantic", "fastapi")
print("CONNECTED", bool(loaded), file=sys.stderr)
print("HEAVY", sorted(m for m in loaded if m.startswith(heavy)), file=sys.stderr)
print("TRIO BLOCKED", "trio" in sys.modules and sys.modules["trio"] is None, file=sys.stderr)
"""
KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
"""


def test_apply_imports_before_its_first_request_only_what_it_uses(tmp_path: Path) -> None:
    """Up to its first connection (here to a port nothing listens on): no metrics, no
    watcher, no result table, not the trio that the HTTP pool imports when installed; and trio
    is importable again once the run is over."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "cm.yaml").write_text(CM)
    (tmp_path / "kubeconfig").write_text(KUBECONFIG)
    done = subprocess.run(
        [sys.executable, "-c", APPLY_PROBE, str(tmp_path / "app"), str(tmp_path / "kubeconfig")],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, CLEW_CACHE_DIR=str(tmp_path / "cache")),
    )
    assert "CONNECTED True" in done.stderr, done.stderr
    assert "HEAVY []" in done.stderr, done.stderr
    assert "TRIO BLOCKED False" in done.stderr, done.stderr
