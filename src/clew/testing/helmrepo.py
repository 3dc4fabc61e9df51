"""A real Helm chart repository for tests: charts packaged by the real ``helm package``, indexed
by the real ``helm repo index``, served over HTTPS with HTTP Basic auth.

ChartMuseum is not served by the Go module proxy this project builds from, so the server is a
static file server (the standard library's, in a thread, TLS from :class:`clew.testing.pki.PKI`)
serving exactly the directory helm wrote: ``index.yaml`` and the ``.tgz`` archives. The index
and archives are helm's own bytes; only the transport is ours. Every request is recorded (path,
user, status) so tests can count index downloads.

::

    with HelmRepoServer(tmp / "repo", users={"clew": "pw"}, helm=tools.binary("helm")) as repo:
        repo.add_chart("podinfo", "6.0.0", templates={"cm.yaml": "..."})
        repo.url        # https://127.0.0.1:PORT
        repo.ca_pem     # trust this
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ssl
import subprocess
import tempfile
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import yaml

from clew.testing.pki import PKI

__all__ = ["HelmRepoServer", "RequestRecord", "package_chart"]


@dataclass(frozen=True)
class RequestRecord:
    path: str
    user: str | None
    status: int


def package_chart(
    helm: Path,
    workdir: Path,
    name: str,
    version: str,
    *,
    templates: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
    dependencies: list[dict[str, Any]] | None = None,
    files: Mapping[str, str] | None = None,
) -> Path:
    """Write a chart and package it with the real ``helm package``; returns the ``.tgz``."""
    src = Path(tempfile.mkdtemp(prefix=f"{name}-{version}-", dir=workdir)) / name
    meta: dict[str, Any] = {"apiVersion": "v2", "name": name, "version": version}
    if dependencies:
        meta["dependencies"] = dependencies
    (src / "templates").mkdir(parents=True)
    (src / "Chart.yaml").write_text(yaml.safe_dump(meta))
    (src / "values.yaml").write_text(yaml.safe_dump(dict(values or {})))
    for rel, text in (templates or {}).items():
        (src / "templates" / rel).write_text(text)
    for rel, text in (files or {}).items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    out = workdir / "packaged"
    out.mkdir(exist_ok=True)
    subprocess.run(
        [str(helm), "package", str(src), "--destination", str(out)],
        check=True,
        capture_output=True,
        env=_helm_env(workdir),
    )
    return out / f"{name}-{version}.tgz"


def _helm_env(workdir: Path) -> dict[str, str]:
    home = workdir / "helm-home"
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    app: HelmRepoServer


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_GET(self) -> None:
        app = self.server.app
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        user = self._user()
        if app.users and user is None:
            app._record(path, None, 401)
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="charts"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        file = (app.dir / path.lstrip("/")).resolve()
        if not file.is_file() or app.dir.resolve() not in file.parents:
            app._record(path, user, 404)
            self.send_error(404)
            return
        body = file.read_bytes()
        app._record(path, user, 200)
        self.send_response(200)
        kind = "application/x-yaml" if file.suffix == ".yaml" else "application/gzip"
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _user(self) -> str | None:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        expected = self.server.app.users.get(user)
        if expected is None or not hmac.compare_digest(expected, password):
            return None
        return user


class HelmRepoServer:
    """A chart repository in ``directory``, served on loopback over HTTPS; ``users`` (name ->
    password) empty means anonymous access."""

    def __init__(self, directory: Path, *, users: Mapping[str, str], helm: Path) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.users = dict(users)
        self.helm = helm
        self.requests: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._work = Path(tempfile.mkdtemp(prefix="clew-helmrepo-"))
        self._pki = PKI(self._work / "pki")
        pair = self._pki.issue(
            "server", common_name="127.0.0.1", ips=("127.0.0.1",), dns=("localhost",), server=True
        )
        self.ca_pem = self._pki.ca_pem.decode()
        self.ca_file = self._pki.ca.cert
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(pair.cert, pair.key)
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.app = self
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        self.reindex()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _record(self, path: str, user: str | None, status: int) -> None:
        with self._lock:
            self.requests.append(RequestRecord(path, user, status))

    def count(self, path: str, *, status: int | None = 200) -> int:
        with self._lock:
            return sum(
                1
                for r in self.requests
                if r.path == path and (status is None or r.status == status)
            )

    def add_chart(self, name: str, version: str, **chart: Any) -> Path:
        """Package a chart into the repository and re-index it (``helm repo index --merge``)."""
        archive = package_chart(self.helm, self._work, name, version, **chart)
        target = self.dir / archive.name
        archive.replace(target)
        self.reindex()
        return target

    def reindex(self) -> None:
        argv = [str(self.helm), "repo", "index", str(self.dir)]
        if (self.dir / "index.yaml").is_file():
            argv += ["--merge", str(self.dir / "index.yaml")]
        subprocess.run(argv, check=True, capture_output=True, env=_helm_env(self._work))
