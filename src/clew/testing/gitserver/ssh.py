"""Git-over-SSH server: OpenSSH `sshd` as a child process on loopback, public-key login only."""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from clew.testing.gitserver.common import (
    _GIT_TIMEOUT,
    _LOOPBACK,
    GitServerError,
    _free_port,
    clean_git_env,
    repo_dirname,
)

__all__ = ["GitSshServer"]


def _find_sshd() -> str:
    # sshd refuses to start unless run by absolute path (it re-executes itself).
    for candidate in ("/usr/sbin/sshd", shutil.which("sshd")):
        if candidate and os.path.isabs(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise GitServerError(
        "OpenSSH sshd not found at /usr/sbin/sshd: install it with `apt-get install openssh-server`"
    )


def _keygen(path: Path, comment: str) -> None:
    if shutil.which("ssh-keygen") is None:
        raise GitServerError(
            "ssh-keygen not found: install it with `apt-get install openssh-client`"
        )
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
        timeout=_GIT_TIMEOUT,
    )


class GitSshServer:
    """OpenSSH `sshd` on loopback serving the bare repositories under `root` over Git-over-SSH.

    Only public-key login for `user` (default: the current user) with a generated ed25519
    client key; the host key is generated too and pinned in a known_hosts file, so clients
    built from `git_env()` verify it strictly.
    """

    def __init__(
        self, root: Path, *, user: str | None = None, startup_timeout: float = 10.0
    ) -> None:
        self.root = Path(root).resolve()
        self.user = user or pwd.getpwuid(os.getuid()).pw_name
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmp: Path | None = None
        self._port: int | None = None

    def start(self) -> None:
        if self._proc is not None:
            raise GitServerError("GitSshServer already started")
        sshd = _find_sshd()
        self._tmp = Path(tempfile.mkdtemp(prefix="clew-git-ssh-"))
        (self._tmp / "home").mkdir()
        _keygen(self._tmp / "host_ed25519", "clew-test-host")
        _keygen(self._tmp / "client_ed25519", "clew-test-client")
        shutil.copyfile(self._tmp / "client_ed25519.pub", self._tmp / "authorized_keys")
        # sshd exits at once if its privilege-separation directory is missing.
        Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
        try:
            # The port is probed free then handed to sshd, which cannot report a port 0 bind;
            # on the rare lost race sshd exits and we try another port.
            for _attempt in range(3):
                self._port = _free_port()
                if self._spawn(sshd):
                    break
                if "Address already in use" not in self._log_tail():
                    raise GitServerError(f"sshd did not start:\n{self._log_tail()}")
            else:
                raise GitServerError(f"sshd found no free port:\n{self._log_tail()}")
        except BaseException:
            self.stop()
            raise
        self.known_hosts.write_text(self.known_hosts_line() + "\n")

    def _spawn(self, sshd: str) -> bool:
        assert self._tmp is not None
        config = self._tmp / "sshd_config"
        config.write_text(self._config())
        log = (self._tmp / "sshd.log").open("ab")
        with log:
            self._proc = subprocess.Popen(
                [sshd, "-D", "-e", "-f", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # keep terminal signals (Ctrl-C) for pytest
            )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._proc = None
                return False
            try:
                socket.create_connection((_LOOPBACK, self.port), timeout=0.5).close()
            except OSError:
                time.sleep(0.02)  # polling interval while sshd binds, not a synchronisation
                continue
            return True
        self._terminate()
        raise GitServerError(
            f"sshd did not accept connections within {self.startup_timeout}s:\n{self._log_tail()}"
        )

    def _config(self) -> str:
        assert self._tmp is not None
        options = {
            "Port": str(self.port),
            "ListenAddress": _LOOPBACK,
            "HostKey": str(self._tmp / "host_ed25519"),
            "AuthorizedKeysFile": str(self._tmp / "authorized_keys"),
            "PidFile": str(self._tmp / "sshd.pid"),
            "AllowUsers": self.user,
            "PubkeyAuthentication": "yes",
            "PasswordAuthentication": "no",
            "KbdInteractiveAuthentication": "no",
            "UsePAM": "no",
            # Our temp files live in a shared /tmp; StrictModes would reject them.
            "StrictModes": "no",
            "PermitRootLogin": "prohibit-password",  # tests commonly run as root in containers
            # Lets git negotiate protocol v2 over SSH (git sends it with SendEnv).
            "AcceptEnv": "GIT_PROTOCOL",
            # The server-side git ignores the login user's ~/.gitconfig and /etc/gitconfig.
            "SetEnv": f"GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL={os.devnull}",
            "PermitUserRC": "no",
            "PermitTTY": "no",
            "AllowTcpForwarding": "no",
            "X11Forwarding": "no",
            "LogLevel": "INFO",
        }
        return "".join(f"{key} {value}\n" for key, value in options.items())

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def stop(self) -> None:
        self._terminate()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _log_tail(self, lines: int = 30) -> str:
        if self._tmp is None or not (self._tmp / "sshd.log").exists():
            return "(no sshd log)"
        text = (self._tmp / "sshd.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def _private_dir(self) -> Path:
        if self._tmp is None:
            raise GitServerError("GitSshServer is not running")
        return self._tmp

    @property
    def port(self) -> int:
        if self._port is None:
            raise GitServerError("GitSshServer is not running")
        return self._port

    @property
    def client_key(self) -> Path:
        """Private ed25519 key (0600) authorised to log in."""
        return self._private_dir() / "client_ed25519"

    @property
    def known_hosts(self) -> Path:
        """A known_hosts file holding exactly this server's host key."""
        return self._private_dir() / "known_hosts"

    @property
    def log_path(self) -> Path:
        """sshd's own log (`-e`): useful when a login is refused."""
        return self._private_dir() / "sshd.log"

    def known_hosts_line(self) -> str:
        """`[127.0.0.1]:PORT ssh-ed25519 AAAA...` for this server's host key."""
        key_type, key = (self._private_dir() / "host_ed25519.pub").read_text().split()[:2]
        return f"[{_LOOPBACK}]:{self.port} {key_type} {key}"

    def repo_url(self, name: str) -> str:
        """`ssh://user@127.0.0.1:PORT/<absolute path of the bare repository>`."""
        return f"ssh://{self.user}@{_LOOPBACK}:{self.port}{self.root / repo_dirname(name)}"

    def git_env(self, known_hosts: Path | None = None) -> dict[str, str]:
        """A clean git environment that logs in with the client key and checks the host key.

        `known_hosts` replaces the server's own file, e.g. to prove a wrong key is refused.
        """
        ssh = [
            "ssh",
            "-F",
            os.devnull,  # ignore the user's ~/.ssh/config
            "-i",
            str(self.client_key),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            f"UserKnownHostsFile={known_hosts or self.known_hosts}",
            "-o",
            f"GlobalKnownHostsFile={os.devnull}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
        ]
        env = clean_git_env(self._private_dir() / "home")
        env["GIT_SSH_COMMAND"] = shlex.join(ssh)
        return env
