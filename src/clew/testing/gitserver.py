"""Real Git servers on loopback for tests, and helpers to make repositories to serve.

- `GitHttpServer`: smart HTTP, `git http-backend` run as CGI behind a tiny threaded HTTP server,
  with HTTP Basic authentication (a token is a password: GitHub-style `x-access-token:<token>`
  works by registering the user `x-access-token`).
- `GitSshServer`: OpenSSH `sshd` as a child process, public-key authentication only.
- `create_repo` / `Repo`: bare repositories under a root directory, written through a private
  work tree with the git CLI.

Both servers serve the same layout (`<root>/<name>.git`), so given the same root they serve
the same repositories. Secrets never appear on a command line or in a URL: git gets them from
0600 files through `GIT_ASKPASS`, and they are never logged.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import io
import itertools
import logging
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self, cast

__all__ = [
    "DEFAULT_AUTHOR",
    "GitCommandError",
    "GitHttpServer",
    "GitServerError",
    "GitSshServer",
    "HttpRequestRecord",
    "Repo",
    "clean_git_env",
    "create_repo",
    "repo_dirname",
]

_log = logging.getLogger(__name__)

DEFAULT_AUTHOR = ("Clew Test", "clew-test@example.invalid")
_LOOPBACK = "127.0.0.1"
_GIT_TIMEOUT = 60.0
# Commits get a fake, strictly increasing clock so shas are reproducible run to run.
_EPOCH = 1_700_000_000
_COPY_CHUNK = 64 * 1024


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


# --------------------------------------------------------------------------------------------
# Smart HTTP
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpRequestRecord:
    """One request seen by `GitHttpServer` (never holds credentials)."""

    method: str
    path: str  # PATH_INFO, e.g. "/app.git/git-upload-pack"
    query: str
    user: str | None  # authenticated user; None for anonymous or rejected requests
    status: int
    git_protocol: str | None  # the Git-Protocol header, e.g. "version=2"
    chunked: bool  # request body came with Transfer-Encoding: chunked


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    app: GitHttpServer


class _GitHttpHandler(BaseHTTPRequestHandler):
    """Runs `git http-backend` as a CGI for each request."""

    server: _HttpServer
    # HTTP/1.1 so git (curl) may keep connections alive and send chunked request bodies.
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        # The request line holds no secrets (they travel in the Authorization header).
        _log.debug("git-http %s: " + format, self.address_string(), *args)

    def _serve(self) -> None:
        app = self.server.app
        url = urllib.parse.urlsplit(self.path)
        path_info = urllib.parse.unquote(url.path)
        chunked = self.headers.get("Transfer-Encoding", "").lower() == "chunked"
        user = self._authenticate()
        is_push = path_info.endswith("/git-receive-pack") or "git-receive-pack" in url.query
        status: int
        if user is None and (is_push or not app.anonymous_read):
            status = self._unauthorized()
        else:
            status = self._run_backend(app, path_info, url.query, user, chunked)
        app._record(
            HttpRequestRecord(
                method=self.command,
                path=path_info,
                query=url.query,
                user=user,
                status=status,
                git_protocol=self.headers.get("Git-Protocol"),
                chunked=chunked,
            )
        )

    def _authenticate(self) -> str | None:
        scheme, _, encoded = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, _, password = decoded.partition(":")
        expected = self.server.app.users.get(user)
        if expected is not None and hmac.compare_digest(password.encode(), expected.encode()):
            return user
        _log.debug("git-http: rejected credentials for user %r", user)
        return None

    def _unauthorized(self) -> int:
        body = b"Authentication required\n"
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="clew"')
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        # The request body (if any) is left unread, so this connection cannot be reused.
        self.send_header("Connection", "close")
        self.close_connection = True
        self.end_headers()
        self.wfile.write(body)
        return 401

    def _run_backend(
        self, app: GitHttpServer, path_info: str, query: str, user: str | None, chunked: bool
    ) -> int:
        env = clean_git_env(app._home)
        env.update(
            {
                "GIT_PROJECT_ROOT": str(app.root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "GATEWAY_INTERFACE": "CGI/1.1",
                "SERVER_PROTOCOL": "HTTP/1.1",
                "REQUEST_METHOD": self.command,
                "PATH_INFO": path_info,
                "QUERY_STRING": query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "REMOTE_ADDR": self.client_address[0],
                # Pushing is only for authenticated users (http-backend's default, made
                # explicit so a repository config cannot change it).
                "GIT_CONFIG_COUNT": "1",
                "GIT_CONFIG_KEY_0": "http.receivepack",
                "GIT_CONFIG_VALUE_0": "true" if user else "false",
            }
        )
        if user:
            env["REMOTE_USER"] = user
        if protocol := self.headers.get("Git-Protocol"):
            # GIT_PROTOCOL selects protocol v2; newer http-backends read HTTP_GIT_PROTOCOL.
            env["GIT_PROTOCOL"] = protocol
            env["HTTP_GIT_PROTOCOL"] = protocol
        if encoding := self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = encoding  # http-backend inflates gzip itself

        with tempfile.TemporaryFile() as body, tempfile.TemporaryFile() as stderr:
            if chunked:
                # Like Apache's mod_cgi: no CONTENT_LENGTH, the CGI reads to EOF. With a
                # length, http-backend would buffer the body and cap it at 10 MiB.
                self._read_chunked(body)
            else:
                length = int(self.headers.get("Content-Length") or 0)
                _copy_exact(self.rfile, body, length)
                if self.command == "POST":
                    env["CONTENT_LENGTH"] = str(length)
            body.seek(0)
            with subprocess.Popen(
                ["git", "http-backend"], stdin=body, stdout=subprocess.PIPE, stderr=stderr, env=env
            ) as proc:
                try:
                    status = self._relay_response(cast(io.BufferedReader, proc.stdout))
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
                    proc.kill()
                    status = 499  # client went away
            stderr.seek(0)
            if errors := stderr.read().decode(errors="replace").strip():
                _log.debug("git http-backend stderr (%s %s): %s", self.command, path_info, errors)
        return status

    def _read_chunked(self, sink: IO[bytes]) -> None:
        while True:
            size_line = self.rfile.readline(1024)
            if not size_line:
                raise ConnectionError("request body ended inside chunked encoding")
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                while self.rfile.readline(65536).strip():  # optional trailers
                    pass
                return
            _copy_exact(self.rfile, sink, size)
            self.rfile.readline(16)  # CRLF closing the chunk

    def _relay_response(self, cgi_out: io.BufferedReader) -> int:
        """Turn the CGI's header block into a response line, then stream its body."""
        status, reason = 200, "OK"
        headers: list[tuple[str, str]] = []
        saw_header = False
        while (line := cgi_out.readline()).strip():
            saw_header = True
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "status":
                code, _, reason = value.strip().partition(" ")
                status = int(code)
            else:
                headers.append((name.strip(), value.strip()))
        if not saw_header:
            status, reason = 502, "git http-backend produced no response"
            headers = [("Content-Length", "0")]
        self.send_response(status, reason or None)
        for name, value in headers:
            self.send_header(name, value)
        # Without a length, stream in chunks so the connection can still be kept alive.
        streamed = not any(name.lower() == "content-length" for name, _ in headers)
        if streamed:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        while data := cgi_out.read1(_COPY_CHUNK):
            self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data) if streamed else data)
        if streamed:
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        return status


def _copy_exact(src: io.BufferedIOBase, dst: IO[bytes], size: int) -> None:
    while size > 0:
        data = src.read(min(size, _COPY_CHUNK))
        if not data:
            raise ConnectionError("request body shorter than announced")
        dst.write(data)
        size -= len(data)


class GitHttpServer:
    """Smart HTTP Git over loopback for the bare repositories under `root`.

    `users` maps user name to password; a token is just a password, so a GitHub-style
    `x-access-token:<token>` login works with `users={"x-access-token": token}`. Reads need
    credentials unless `anonymous_read`; pushes always do. Use as a context manager::

        with GitHttpServer(root, users={"clew": password}) as srv:
            env = srv.git_env_with_credentials("clew", password)
            subprocess.run(["git", "clone", srv.repo_url("app"), dest], env=env, check=True)
    """

    def __init__(
        self, root: Path, *, users: Mapping[str, str], anonymous_read: bool = False
    ) -> None:
        self.root = Path(root).resolve()
        self.users: Mapping[str, str] = dict(users)
        self.anonymous_read = anonymous_read
        self._lock = threading.Lock()
        self._records: list[HttpRequestRecord] = []
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._tmp: Path | None = None
        self._credential_sets = itertools.count()

    def start(self) -> None:
        if self._httpd is not None:
            raise GitServerError("GitHttpServer already started")
        self._tmp = Path(tempfile.mkdtemp(prefix="clew-git-http-"))
        (self._tmp / "home").mkdir()
        self._httpd = _HttpServer((_LOOPBACK, 0), _GitHttpHandler)
        self._httpd.app = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="clew-git-http",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
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

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise GitServerError("GitHttpServer is not running")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:40123`."""
        return f"http://{_LOOPBACK}:{self.port}"

    def repo_url(self, name: str) -> str:
        """URL of repository `name` (no credentials in it, ever)."""
        return f"{self.url}/{urllib.parse.quote(repo_dirname(name))}"

    def git_env_with_credentials(self, user: str, password: str) -> dict[str, str]:
        """A clean git environment that answers this server's login prompt with user/password.

        The secret goes to a 0600 file read by a `GIT_ASKPASS` script, so it is never on a
        command line, in a URL or in the environment. Valid until the server stops.
        """
        directory = self._private_dir() / f"credentials-{next(self._credential_sets)}"
        directory.mkdir(mode=0o700)
        _write_private(directory / "username", user.encode())
        _write_private(directory / "password", password.encode())
        script = (
            "#!/bin/sh\n"
            '# git passes the prompt: "Username for ..." or "Password for ...".\n'
            'case "$1" in\n'
            f"  Username*) cat {shlex.quote(str(directory / 'username'))} ;;\n"
            f"  *) cat {shlex.quote(str(directory / 'password'))} ;;\n"
            "esac\n"
        )
        _write_private(directory / "askpass", script.encode(), mode=0o700)
        env = clean_git_env(self._private_dir() / "home")
        env["GIT_ASKPASS"] = str(directory / "askpass")
        return env

    @property
    def requests(self) -> list[HttpRequestRecord]:
        """Every request served so far, oldest first."""
        with self._lock:
            return list(self._records)

    def count(self, endpoint: str, repo: str | None = None) -> int:
        """Successful (status < 400) requests to `endpoint`, optionally for one repository.

        `endpoint` is the last part of the path: "info/refs", "git-upload-pack" (one per
        fetch/ls-refs round) or "git-receive-pack" (one per push).
        """
        prefix = f"/{repo_dirname(repo)}/" if repo is not None else "/"
        return sum(
            1
            for r in self.requests
            if r.status < 400 and r.path.startswith(prefix) and r.path.endswith(f"/{endpoint}")
        )

    def clear_requests(self) -> None:
        with self._lock:
            self._records.clear()

    def _record(self, record: HttpRequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    @property
    def _home(self) -> Path:
        return self._private_dir() / "home"

    def _private_dir(self) -> Path:
        if self._tmp is None:
            raise GitServerError("GitHttpServer is not running")
        return self._tmp


# --------------------------------------------------------------------------------------------
# SSH
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Repositories
# --------------------------------------------------------------------------------------------


def create_repo(
    root: Path, name: str, *, workdir: Path | None = None, default_branch: str = "main"
) -> Repo:
    """Create the bare repository `<root>/<name>.git` (empty, HEAD -> `default_branch`).

    `workdir` (empty or missing) holds the private work tree; by default a temporary
    directory removed when the `Repo` is garbage-collected or the interpreter exits.
    """
    bare = Path(root).resolve() / repo_dirname(name)
    if bare.exists():
        raise GitServerError(f"repository {bare} already exists")
    return Repo(bare, workdir=workdir, default_branch=default_branch, init=True)


class Repo:
    """A bare repository plus a private work tree to write commits, tags and rewrites into it.

    Every write starts from the bare repository's current state, so pushes made by the
    code under test (over HTTP or SSH) are picked up.
    """

    def __init__(
        self,
        bare: Path,
        *,
        workdir: Path | None = None,
        default_branch: str = "main",
        init: bool = False,
    ) -> None:
        self.path = Path(bare)
        self.name = self.path.name.removesuffix(".git")
        self.default_branch = default_branch
        if workdir is None:
            workdir = Path(tempfile.mkdtemp(prefix=f"clew-repo-{self.name}-"))
            self._cleanup = weakref.finalize(self, shutil.rmtree, workdir, ignore_errors=True)
        self.workdir = Path(workdir)
        self.worktree = self.workdir / "tree"
        (self.workdir / "home").mkdir(parents=True, exist_ok=True)
        self._env = clean_git_env(self.workdir / "home")
        self._clock = itertools.count()
        if init:
            self._git("init", "-q", "--bare", f"--initial-branch={default_branch}", str(self.path))
        self._git("clone", "-q", str(self.path), str(self.worktree))

    # -- writing -----------------------------------------------------------------------------

    def commit(
        self,
        files: Mapping[str, str | bytes | None],
        message: str = "Update",
        *,
        branch: str | None = None,
        author: tuple[str, str] = DEFAULT_AUTHOR,
    ) -> str:
        """Commit `files` (path -> content; None deletes) on `branch` and push it; return the sha.

        A new branch starts from the default branch, or as a root commit in an empty repo.
        """
        branch = branch or self.default_branch
        self._checkout(branch)
        for rel, content in files.items():
            target = self._tree_path(rel)
            if content is None:
                self._git("rm", "-r", "-q", "--ignore-unmatch", "--", rel, cwd=self.worktree)
                if target.is_dir():  # untracked leftovers git rm does not touch
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content.encode() if isinstance(content, str) else content)
        self._git("add", "-A", cwd=self.worktree)
        self._git(
            *self._identity(author),
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            message,
            cwd=self.worktree,
            env=self._dated_env(),
        )
        sha = self._rev_parse("HEAD")
        self._git("push", "-q", "origin", f"HEAD:refs/heads/{branch}", cwd=self.worktree)
        return sha

    def orphan_commit(
        self,
        files: Mapping[str, str | bytes],
        message: str = "Unrelated history",
        *,
        author: tuple[str, str] = DEFAULT_AUTHOR,
    ) -> str:
        """Make a parentless commit holding exactly `files`, on no branch; return its sha.

        Publish it with `force_push(branch, sha)` to replace a branch with unrelated history.
        """
        index_env = {**self._dated_env(), "GIT_INDEX_FILE": str(self.workdir / "orphan-index")}
        Path(index_env["GIT_INDEX_FILE"]).unlink(missing_ok=True)
        for rel, content in files.items():
            self._tree_path(rel)  # validates the path
            data = content.encode() if isinstance(content, str) else content
            blob = self._git(
                "hash-object", "-w", "--stdin", cwd=self.worktree, input_bytes=data
            ).strip()
            self._git(
                "update-index",
                "--add",
                "--cacheinfo",
                f"100644,{blob},{rel}",
                cwd=self.worktree,
                env=index_env,
            )
        tree = self._git("write-tree", cwd=self.worktree, env=index_env).strip()
        return self._git(
            *self._identity(author),
            "commit-tree",
            tree,
            "-m",
            message,
            cwd=self.worktree,
            env=index_env,
        ).strip()

    def force_push(self, branch: str, sha: str) -> None:
        """Point `branch` at `sha` with `git push --force` (older commit, unrelated history...)."""
        self._git("fetch", "-q", "--prune", "origin", cwd=self.worktree)
        commit = self._rev_parse(f"{sha}^{{commit}}")
        self._git(
            "push", "-q", "--force", "origin", f"{commit}:refs/heads/{branch}", cwd=self.worktree
        )

    def tag(
        self,
        name: str,
        ref: str = "HEAD",
        *,
        annotated: bool = False,
        message: str | None = None,
        force: bool = False,
    ) -> str:
        """Tag `ref` (resolved in the bare repository: HEAD is the default branch's tip).

        Returns the sha of the tagged commit. `force` moves an existing tag.
        """
        args = [*self._identity(DEFAULT_AUTHOR), "tag"]
        if force:
            args.append("-f")
        if annotated:
            args += ["-a", "-m", message or f"Tag {name}"]
        self._git(*args, name, ref, cwd=self.path, env=self._dated_env())
        return self._git(
            "rev-parse", "--verify", f"refs/tags/{name}^{{commit}}", cwd=self.path
        ).strip()

    # -- reading -----------------------------------------------------------------------------

    def head(self, branch: str | None = None) -> str:
        """The sha `branch` (default: the default branch) points to in the bare repository."""
        ref = f"refs/heads/{branch or self.default_branch}^{{commit}}"
        return self._git("rev-parse", "--verify", ref, cwd=self.path).strip()

    # -- internals ---------------------------------------------------------------------------

    def _checkout(self, branch: str) -> None:
        """Reset the work tree to the bare repository's `branch` (or its start point)."""
        self._git("fetch", "-q", "--prune", "origin", cwd=self.worktree)
        for start in (branch, self.default_branch):
            if self._ref_exists(f"refs/remotes/origin/{start}"):
                self._git(
                    "checkout", "-q", "-f", "-B", branch, f"origin/{start}", cwd=self.worktree
                )
                break
        else:
            self._git("checkout", "-q", "-f", "--orphan", branch, cwd=self.worktree)
            self._git("rm", "-r", "-q", "--cached", "--ignore-unmatch", ".", cwd=self.worktree)
        self._git("clean", "-q", "-f", "-d", "-x", cwd=self.worktree)

    def _tree_path(self, rel: str) -> Path:
        target = (self.worktree / rel).resolve()
        tree = self.worktree.resolve()
        if target == tree or tree not in target.parents or ".git" in Path(rel).parts:
            raise ValueError(f"path {rel!r} is not a file inside the repository")
        return target

    def _identity(self, author: tuple[str, str]) -> list[str]:
        name, email = author
        return ["-c", f"user.name={name}", "-c", f"user.email={email}"]

    def _dated_env(self) -> dict[str, str]:
        date = f"@{_EPOCH + 60 * next(self._clock)} +0000"
        return {**self._env, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}

    def _ref_exists(self, ref: str) -> bool:
        proc = _run_git(
            ["rev-parse", "--verify", "-q", ref], env=self._env, cwd=self.worktree, check=False
        )
        return proc.returncode == 0

    def _rev_parse(self, rev: str) -> str:
        return self._git("rev-parse", "--verify", rev, cwd=self.worktree).strip()

    def _git(
        self,
        *args: str,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        input_bytes: bytes | None = None,
    ) -> str:
        proc = _run_git(args, env=env or self._env, cwd=cwd, input_bytes=input_bytes)
        return proc.stdout.decode()
