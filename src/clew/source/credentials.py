"""Credentials for a Git remote, and the private files that hand them to git for one call.

Secrets never go on a command line, into the environment or into a URL: HTTPS passwords and
tokens are read by a ``GIT_ASKPASS`` script from 0600 files, SSH keys and known_hosts are 0600
files named in ``GIT_SSH_COMMAND``; all of them live in a 0700 directory removed after the call.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import tempfile
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from clew.source.errors import HostNotTrusted, SourceError
from clew.source.git import REMOTE_PROTOCOLS, clean_env, redact_url

__all__ = ["Credentials", "git_session", "is_ssh_url", "split_userinfo"]

# User name sent with a token when none is given: GitHub, Gitea and Forgejo accept it, GitLab
# accepts any non-empty name with a personal access token.
TOKEN_USERNAME = "x-access-token"  # noqa: S105 - a user name, not a secret

_SCP_LIKE = re.compile(r"^(?:[^@/:]+@)?[^/:]+:(?!//)")


@dataclass(frozen=True)
class Credentials:
    """How to log in to a Git remote. ``repr`` never shows a secret.

    ``password`` is a password or a token (``username`` defaults to ``x-access-token``).
    ``known_hosts`` is the text of a known_hosts file; SSH remotes need it unless
    ``insecure_ignore_host_key`` is set (which lets anyone in the middle serve the content).
    """

    username: str | None = None
    password: str | None = None
    ssh_private_key: str | None = None
    known_hosts: str | None = None
    insecure_ignore_host_key: bool = False

    def __repr__(self) -> str:
        parts = [f"username={self.username!r}"]
        if self.password is not None:
            parts.append("password='***'")
        if self.ssh_private_key is not None:
            parts.append("ssh_private_key='***'")
        if self.known_hosts is not None:
            parts.append(f"known_hosts=<{len(self.known_hosts.splitlines())} lines>")
        if self.insecure_ignore_host_key:
            parts.append("insecure_ignore_host_key=True")
        return f"Credentials({', '.join(parts)})"

    __str__ = __repr__

    def secrets(self) -> tuple[str, ...]:
        """Values to redact from any message: the password and the key's long lines."""
        found = [self.password or ""]
        if self.ssh_private_key:
            found += [line for line in self.ssh_private_key.splitlines() if len(line) >= 16]
        return tuple(s for s in found if s)


def is_ssh_url(url: str) -> bool:
    """``ssh://``, ``git+ssh://`` or scp-like ``user@host:path``."""
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme in ("ssh", "git+ssh", "ssh+git"):
        return True
    return "://" not in url and bool(_SCP_LIKE.match(url)) and not url.startswith(("/", "."))


def split_userinfo(url: str) -> tuple[str, str | None, str | None]:
    """``https://user:pass@host/x`` -> (``https://host/x``, user, pass) for HTTP(S) URLs.

    Credentials written into a URL are taken out of it, so the URL can be logged and passed on a
    command line. SSH URLs keep their user (``git@``): it is a login name, not a secret.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or "@" not in parts.netloc:
        return url, None, None
    userinfo, _, host = parts.netloc.rpartition("@")
    user, sep, password = userinfo.partition(":")
    clean = urllib.parse.urlunsplit(parts._replace(netloc=host))
    return (
        clean,
        urllib.parse.unquote(user) or None,
        urllib.parse.unquote(password) if sep else None,
    )


@contextlib.contextmanager
def git_session(
    url: str, credentials: Credentials | None, *, protocols: str = REMOTE_PROTOCOLS
) -> Iterator[dict[str, str]]:
    """The environment for one git call against `url`, with its private files.

    Raises :class:`HostNotTrusted` before any network access when an SSH remote has no
    known_hosts and the host key check was not explicitly switched off.
    """
    directory = Path(tempfile.mkdtemp(prefix="clew-git-"))  # mkdtemp: 0700, owned by us
    try:
        (directory / "home").mkdir(mode=0o700)
        env = clean_env(directory / "home", protocols=protocols)
        if is_ssh_url(url):
            env["GIT_SSH_COMMAND"] = _ssh_command(directory, url, credentials)
            env["GIT_SSH_VARIANT"] = "ssh"
        elif credentials is not None and (credentials.password or credentials.username):
            env["GIT_ASKPASS"] = _askpass(directory, credentials)
        yield env
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _ssh_command(directory: Path, url: str, credentials: Credentials | None) -> str:
    creds = credentials or Credentials()
    ssh = ["ssh", "-F", os.devnull, "-o", "BatchMode=yes", "-o", "IdentityAgent=none"]
    ssh += ["-o", "IdentitiesOnly=yes", "-o", f"GlobalKnownHostsFile={os.devnull}"]
    if creds.ssh_private_key:
        key = creds.ssh_private_key.replace("\r\n", "\n")
        # ssh-keygen's keys load only with the final newline, which YAML often strips.
        _write_private(directory / "identity", key if key.endswith("\n") else key + "\n")
        ssh += ["-i", str(directory / "identity")]
    else:
        ssh += ["-o", "IdentityFile=none"]  # never fall back to the operator's own ~/.ssh keys
    if creds.username:
        ssh += ["-o", f"User={creds.username}"]
    if creds.known_hosts:
        _write_private(directory / "known_hosts", creds.known_hosts.strip() + "\n")
        ssh += ["-o", f"UserKnownHostsFile={directory / 'known_hosts'}"]
        ssh += ["-o", "StrictHostKeyChecking=yes"]
    elif creds.insecure_ignore_host_key:
        ssh += ["-o", f"UserKnownHostsFile={os.devnull}", "-o", "StrictHostKeyChecking=no"]
    else:
        raise HostNotTrusted(
            f"no known_hosts for SSH remote {redact_url(url)}: its host key cannot be verified",
            hint="add known_hosts with the server's key (ssh-keyscan, checked out of band) "
            "to the credentials",
        )
    return shlex.join(ssh)


def _askpass(directory: Path, credentials: Credentials) -> str:
    _write_private(directory / "username", credentials.username or TOKEN_USERNAME)
    _write_private(directory / "password", credentials.password or "")
    # git calls the script with its prompt: "Username for '...': " or "Password for '...': ".
    script = (
        "#!/bin/sh\n"
        'case "$1" in\n'
        f"  Username*) cat {shlex.quote(str(directory / 'username'))} ;;\n"
        f"  *) cat {shlex.quote(str(directory / 'password'))} ;;\n"
        "esac\n"
    )
    _write_private(directory / "askpass", script, mode=0o700)
    return str(directory / "askpass")


def _write_private(path: Path, text: str, mode: int = 0o600) -> None:
    """Create `path` with `mode` from the start: a secret is never briefly world-readable."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except OSError as exc:  # pragma: no cover - a fresh private directory
        raise SourceError(f"cannot write a credentials file: {exc.strerror}") from None
    with os.fdopen(fd, "w") as f:
        f.write(text)
