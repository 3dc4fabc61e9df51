"""A real OCI registry for tests: distribution/distribution v3 (``cmd/registry``), built from its
Go module into the tools cache (:mod:`clew.testing.tools`, tool ``registry``), serving TLS on a
free loopback port with htpasswd (bcrypt) authentication and storage in a temporary directory.

::

    with registry.running(tmp / "registry", users={"clew": "pw"}) as reg:
        reg.host      # 127.0.0.1:PORT  (oci://127.0.0.1:PORT/team/app)
        reg.ca_pem    # trust this

Ready means ``GET /v2/`` answers 401 (the registry is up and asks for credentials).
"""

from __future__ import annotations

import contextlib
import ssl
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clew.testing import tools
from clew.testing.pki import PKI
from clew.testing.processes import Component, free_port, log_tail, stop_pid

__all__ = ["Registry", "RegistryError", "running", "start"]

_CONFIG = """\
version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
  tls:
    certificate: {cert}
    key: {key}
  debug:
    addr: ""
auth:
  htpasswd:
    realm: clew-test-registry
    path: {htpasswd}
"""


class RegistryError(RuntimeError):
    """The registry did not start; the message holds its log's tail."""


def _bcrypt(password: str) -> str:
    # distribution reads only bcrypt htpasswd entries. Debian's libxcrypt does bcrypt through the
    # standard library's crypt module (deprecated in 3.11, still present through 3.12).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt

    # Cost 4, not 12: the registry checks the hash on every request, and at cost 12 that is
    # ~0.25 s each on these machines. A test password guards nothing worth the wait.
    salt = crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)  # noqa: S324 - bcrypt
    return crypt.crypt(password, salt)


@dataclass
class Registry:
    component: Component
    host: str  # 127.0.0.1:PORT
    ca_pem: str
    ca_file: Path
    users: Mapping[str, str]

    @property
    def url(self) -> str:
        return f"https://{self.host}"

    def oci(self, repository: str) -> str:
        return f"oci://{self.host}/{repository}"

    def stop(self) -> None:
        stop_pid(self.component.pid, timeout=10.0)

    def log(self) -> str:
        return log_tail(self.component.log, 40)


def start(
    work: Path, *, users: Mapping[str, str], timeout: float = 30.0, build: bool = True
) -> Registry:
    """Start a registry whose storage, config and certificates live in ``work``. With ``build``
    the binary is built first when missing (a few minutes, once per cache)."""
    if build and tools.missing(("registry",)):
        tools.build(lambda msg: print(msg, flush=True), ("registry",))
    binary = tools.binary("registry")
    work.mkdir(parents=True, exist_ok=True)
    pki = PKI(work / "pki")
    pair = pki.issue(
        "registry", common_name="127.0.0.1", ips=("127.0.0.1",), dns=("localhost",), server=True
    )
    htpasswd = work / "htpasswd"
    htpasswd.write_text("".join(f"{u}:{_bcrypt(p)}\n" for u, p in users.items()))
    port = free_port()
    config = work / "config.yml"
    config.write_text(
        _CONFIG.format(
            storage=work / "storage", port=port, cert=pair.cert, key=pair.key, htpasswd=htpasswd
        )
    )
    component = Component("registry", [str(binary), "serve", str(config)], work / "registry.log")
    component.start(env={"PATH": "/usr/bin:/bin", "OTEL_TRACES_EXPORTER": "none"})
    registry = Registry(component, f"127.0.0.1:{port}", pki.ca_pem.decode(), pki.ca.cert, users)
    context = ssl.create_default_context(cadata=registry.ca_pem)
    deadline = time.monotonic() + timeout
    while not _answers(f"{registry.url}/v2/", context):
        if not component.alive() or time.monotonic() > deadline:
            registry.stop()
            raise RegistryError(f"the registry did not become ready:\n{registry.log()}")
        time.sleep(0.05)  # starting; nothing to watch but its port
    return registry


@contextlib.contextmanager
def running(work: Path, **kwargs: Any) -> Iterator[Registry]:
    registry = start(work, **kwargs)
    try:
        yield registry
    finally:
        registry.stop()


def _answers(url: str, context: ssl.SSLContext) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1, context=context):  # noqa: S310 - loopback
            return True
    except urllib.error.HTTPError as exc:
        return exc.code == 401
    except OSError:
        return False
