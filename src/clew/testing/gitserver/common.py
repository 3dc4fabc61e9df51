"""Shared plumbing for the test Git servers: errors, a clean git environment, running git,
free loopback ports and writing private (0600) files."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = [
    "GitCommandError",
    "GitServerError",
    "clean_git_env",
    "repo_dirname",
]

_LOOPBACK = "127.0.0.1"
_GIT_TIMEOUT = 60.0


class GitServerError(RuntimeError):
    """A test Git server could not be started or used."""


class GitCommandError(GitServerError):
    """A git command run by these helpers failed; carries its stderr for the test report."""

    def __init__(self, args: Sequence[str], returncode: int, stderr: str) -> None:
        self.args_run = list(args)
        self.returncode = returncode
        self.stderr = stderr
        super().__init__(f"{shlex.join(args)} exited with {returncode}: {stderr.strip()}")


def repo_dirname(name: str) -> str:
    """Directory name of repository `name` under a root: `name` plus `.git` unless present."""
    if not name or name.startswith(("/", ".")) or ".." in name.split("/"):
        raise ValueError(f"invalid repository name {name!r}")
    return name if name.endswith(".git") else f"{name}.git"


def clean_git_env(home: Path) -> dict[str, str]:
    """A minimal, reproducible environment for git: no system/global config, no prompts.

    `home` should be an empty directory: git still reads `$HOME/.config/git/*` (attributes,
    ignore) even when the global config file is `/dev/null`.
    """
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        # English messages, so tests can match "Authentication failed" and friends.
        "LC_ALL": "C",
        "LANG": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_ATTR_NOSYSTEM": "1",
        # Fail instead of waiting on a terminal prompt that nobody will answer.
        "GIT_TERMINAL_PROMPT": "0",
    }
    if tmpdir := os.environ.get("TMPDIR"):
        env["TMPDIR"] = tmpdir
    return env


def _run_git(
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path | None = None,
    input_bytes: bytes | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    argv = ["git", *args]
    proc = subprocess.run(
        argv,
        cwd=cwd,
        env=dict(env),
        input=input_bytes,
        capture_output=True,
        check=False,
        timeout=_GIT_TIMEOUT,
    )
    if check and proc.returncode != 0:
        raise GitCommandError(argv, proc.returncode, proc.stderr.decode(errors="replace"))
    return proc


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def _write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Create `path` with `mode` from the start, so a secret is never briefly world-readable."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
