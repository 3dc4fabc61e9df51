"""Running the git CLI: a clean environment, a timeout, and stderr turned into typed errors.

Every git process gets an environment built from nothing (no system or global config, no
credential helpers, no terminal prompts, English messages), runs in its own process group so a
timeout or a cancellation kills ssh and git-remote-http with it, and on failure raises a
:mod:`clew.source.errors` class chosen from git's stderr, with secrets redacted.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from clew.model import CommitInfo

if TYPE_CHECKING:
    import asyncio
from clew.source.errors import (
    AuthenticationFailed,
    HostNotTrusted,
    RefNotFound,
    RepositoryNotFound,
    SourceError,
    Unreachable,
)

__all__ = [
    "COMMIT_FORMAT",
    "DEFAULT_TIMEOUT",
    "NETWORK_OPTIONS",
    "REMOTE_PROTOCOLS",
    "classify",
    "clean_env",
    "parse_commit_info",
    "redact",
    "redact_url",
    "run",
    "run_git",
]

DEFAULT_TIMEOUT = 60.0

# Network transports git may use. `file` is added only when the cache allows local URLs:
# in a shared operator a local path would read the operator's own disk. `ext` never.
REMOTE_PROTOCOLS = "https:http:ssh:git"

# Passed through from the caller's environment: what is needed to reach servers at all.
# Deliberately absent: GIT_SSL_NO_VERIFY, GIT_* tracing, SSH_AUTH_SOCK, credential helpers.
_PASS_THROUGH = (
    "TMPDIR",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)

# Options for every git call: no credential helper may answer for us, and protocol v2 lets a
# fetch name a commit directly (one round trip instead of two) and ls-remote filter by prefix.
NETWORK_OPTIONS = ("-c", "credential.helper=", "-c", "protocol.version=2")


# `git log -1 --format=COMMIT_FORMAT`: NUL-separated, so a subject can hold any character.
COMMIT_FORMAT = "%H%x00%an%x00%ae%x00%s%x00%cI"


def parse_commit_info(text: str) -> CommitInfo:
    sha, author, email, subject, time = text.strip("\n").split("\0")
    return CommitInfo(sha=sha, author=author, email=email, subject=subject, time=time)


def clean_env(home: Path, *, protocols: str = REMOTE_PROTOCOLS) -> dict[str, str]:
    """A minimal environment for git; `home` is an empty private directory."""
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(home),
        # git still reads $XDG_CONFIG_HOME/git/{attributes,ignore} with GIT_CONFIG_GLOBAL unset.
        "XDG_CONFIG_HOME": str(home / ".config"),
        "LC_ALL": "C",  # stderr is classified by its English text
        "LANG": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_ATTR_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",  # fail at once instead of waiting on a prompt
        "GIT_ALLOW_PROTOCOL": protocols,
    }
    for name in _PASS_THROUGH:
        if name in os.environ:
            env[name] = os.environ[name]
    return env


_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@")


def redact_url(url: str) -> str:
    """The URL with any userinfo (a user name may be a token) replaced by ``***``."""
    return _USERINFO.sub(r"\g<scheme>***@", url)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with URL userinfo and each secret (also percent-encoded) replaced by ``***``."""
    text = redact_url(text)
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        for form in {secret, urllib.parse.quote(secret, safe="")}:
            text = text.replace(form, "***")
    return text


# (pattern in stderr, error class, hint). First match wins, so specific patterns come first.
_RULES: Sequence[tuple[re.Pattern[str], type[SourceError], str]] = [
    (
        re.compile(r"REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed"),
        HostNotTrusted,
        "the server's SSH host key differs from known_hosts: confirm the new key out of band, "
        "then update known_hosts",
    ),
    (
        re.compile(r"Host key verification failed|No \S+ host key is known"),
        HostNotTrusted,
        "add the server's host key to known_hosts (ssh-keyscan, checked out of band)",
    ),
    (
        re.compile(r"SSL certificate problem|server certificate verification failed"),
        HostNotTrusted,
        "the server's TLS certificate is not trusted: install its CA (SSL_CERT_FILE)",
    ),
    (
        re.compile(r"could not read (Username|Password)"),
        AuthenticationFailed,
        "the server asks for credentials: give a username and password or token",
    ),
    (
        re.compile(
            r"Authentication failed|returned error: 40[13]|Permission denied \(|"
            r"Permission to .* denied|Invalid username or password"
        ),
        AuthenticationFailed,
        "check the credentials Secret: user name, password/token or SSH key, and its access",
    ),
    (
        re.compile(r"couldn't find remote ref|not our ref|unadvertised object|bad object"),
        RefNotFound,
        "check the ref; a commit must be reachable from a branch or tag on the server",
    ),
    (
        re.compile(
            r"repository '.*' not found|does not appear to be a git repository|"
            r"returned error: 404|Repository not found"
        ),
        RepositoryNotFound,
        "check the URL (hosts also answer 'not found' for private repositories without access)",
    ),
    (
        re.compile(
            r"Could not resolve host|Could not resolve hostname|Connection refused|"
            r"Failed to connect|Couldn't connect|timed out|Network is unreachable|"
            r"No route to host|Connection reset|Connection closed|returned error: 5\d\d|"
            r"early EOF|unexpected disconnect|RPC failed"
        ),
        Unreachable,
        "the server did not answer: check the URL, DNS and network policy; retrying later",
    ),
    (
        re.compile(r"transport '.*' not allowed|Unable to find remote helper"),
        SourceError,
        "use an https://, http://, ssh:// or user@host:path URL",
    ),
]


def classify(stderr: str, *, action: str, url: str, secrets: Iterable[str] = ()) -> SourceError:
    """The error for a failed git `action` (e.g. "ls-remote") on `url`, from git's stderr."""
    detail = _last_lines(redact(stderr, secrets))
    if not url:  # a local command: the network rules do not apply
        return SourceError(f"git {action} failed: {detail}", hint="see git's message")
    message = f"git {action} {redact_url(url)} failed: {detail}"
    for pattern, cls, hint in _RULES:
        if pattern.search(stderr):
            return cls(message, hint=hint)
    return SourceError(message, hint="see git's message; retrying later")


# Lines that say nothing about the cause: git's generic SSH advice, ssh's host-key banner and
# its advice about a temporary known_hosts file the user never sees.
_NOISE = re.compile(
    r"^(@+|@.*@|Please make sure you have the correct access rights|and the repository exists\.|"
    r"fatal: Could not read from remote repository\.|IT IS POSSIBLE THAT|Someone could be|"
    r"It is also possible that|Please contact your system|Add correct host key in|"
    r"Offending .* key in|remove with:|ssh-keygen -f|The fingerprint for|SHA256:)"
)


def _last_lines(text: str, limit: int = 4) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not _NOISE.match(ln.strip())]
    return " / ".join(lines[-limit:]) or "(no message)"


async def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    stdin: bytes | None = None,
) -> tuple[int, bytes, bytes]:
    """Run `argv` and return (exit status, stdout, stderr); raise :class:`TimeoutError`.

    On a timeout or a cancellation the whole process group is killed and reaped.
    """
    import asyncio  # here: `clew render` of a local directory reads this module, runs no loop

    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=dict(env),
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # one group: a kill reaches ssh / git-remote-https too
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    except BaseException:  # timed out or cancelled: leave no orphan process behind
        await _kill(proc)
        raise
    assert proc.returncode is not None  # communicate() waited for it
    return proc.returncode, out, err


async def run_git(
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    action: str = "",
    url: str = "",
    secrets: Iterable[str] = (),
) -> str:
    """Run ``git *args`` and return its stdout; raise a classified error on failure.

    `action` and `url` name the operation in error messages; `secrets` are redacted from them.
    """
    # The subcommand names the action: the first argument that is not an option or its value.
    action = action or next((a for a in args if not a.startswith("-") and "=" not in a), "")
    try:
        status, out, err = await run(["git", *args], env=env, cwd=cwd, timeout=timeout)
    except TimeoutError:
        where = f" {redact_url(url)}" if url else ""
        raise Unreachable(
            f"git {action}{where} timed out after {timeout:g}s",
            hint="the server is slow or unreachable; retrying later",
        ) from None
    if status != 0:
        raise classify(err.decode(errors="replace"), action=action, url=url, secrets=secrets)
    return out.decode(errors="replace")


async def _kill(proc: asyncio.subprocess.Process) -> None:
    import asyncio

    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    # Reap it, even if we are being cancelled, so no zombie and no "loop closed" warning.
    with contextlib.suppress(Exception):
        await asyncio.shield(proc.wait())
