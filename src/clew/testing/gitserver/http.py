"""Smart HTTP Git server: `git http-backend` as a CGI behind a threaded loopback HTTP server
with HTTP Basic authentication, recording every request."""

from __future__ import annotations

import base64
import binascii
import hmac
import io
import itertools
import logging
import shlex
import shutil
import subprocess
import tempfile
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self, cast

from clew.testing.gitserver.common import (
    _LOOPBACK,
    GitServerError,
    _write_private,
    clean_git_env,
    repo_dirname,
)

__all__ = ["GitHttpServer", "HttpRequestRecord"]

_log = logging.getLogger(__name__)

_COPY_CHUNK = 64 * 1024


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
        self,
        root: Path,
        *,
        users: Mapping[str, str],
        anonymous_read: bool = False,
        port: int = 0,
    ) -> None:
        self.root = Path(root).resolve()
        self._port = port  # 0: a free one; kept after the first start, so a restart reuses it
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
        self._httpd = _HttpServer((_LOOPBACK, self._port), _GitHttpHandler)
        self._port = int(self._httpd.server_address[1])
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
