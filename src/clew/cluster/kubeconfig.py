"""Which kubeconfig a client uses, read as kubectl reads it.

``--kubeconfig FILE`` names one file. Without it: ``$KUBECONFIG``, a list of files separated by
``:`` (``;`` on Windows) merged as kubectl merges them; else the ServiceAccount when running in a
Pod; else ``~/.kube/config``. The merge (client-go's ``clientcmd`` loading
rules): files that do not exist are skipped; for clusters, users and contexts the first file that
defines a name wins; ``current-context`` comes from the first file that sets one. Relative paths
in an entry (certificates, keys, token files) are relative to the file that holds the entry.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx2 as httpx
import yaml
from lightkube.config import client_adapter
from lightkube.config.kubeconfig import KubeConfig
from lightkube.config.models import User
from lightkube.core.exceptions import ConfigError

from clew.cluster import errors

__all__ = [
    "DEFAULT",
    "connector",
    "describe",
    "inline_connector",
    "load",
    "merge",
    "paths_from_env",
    "public_url",
]

DEFAULT = Path("~/.kube/config")
_SECTIONS = (("clusters", "cluster"), ("users", "user"), ("contexts", "context"))
# Fields holding a file path, per section entry; exec's command only when it names a path.
_PATH_FIELDS = {
    "cluster": ("certificate-authority",),
    "user": ("client-certificate", "client-key", "tokenFile"),
}


def paths_from_env(environ: Mapping[str, str]) -> list[Path]:
    """The files ``$KUBECONFIG`` lists, in order, without empty entries and duplicates."""
    raw = environ.get("KUBECONFIG", "")
    entries = [p for p in raw.split(os.pathsep) if p]
    return [Path(p).expanduser() for p in dict.fromkeys(entries)]


def _absolute(entry: dict[str, Any], kind: str, base: Path) -> dict[str, Any]:
    fields = dict(entry)
    for name in _PATH_FIELDS.get(kind, ()):
        value = fields.get(name)
        if isinstance(value, str) and value and not os.path.isabs(value):
            fields[name] = str(base / value)
    exec_ = fields.get("exec")
    if kind == "user" and isinstance(exec_, dict):
        command = exec_.get("command")
        if isinstance(command, str) and os.sep in command and not os.path.isabs(command):
            fields["exec"] = {**exec_, "command": str(base / command)}
    return fields


def merge(files: list[tuple[Path, Mapping[str, Any]]]) -> dict[str, Any]:
    """One kubeconfig from several, as kubectl merges ``$KUBECONFIG``: the first definition of a
    name wins, and the first ``current-context`` set wins."""
    merged: dict[str, Any] = {"clusters": [], "users": [], "contexts": []}
    seen: dict[str, set[str]] = {section: set() for section, _ in _SECTIONS}
    for path, doc in files:
        base = path.expanduser().absolute().parent
        if not merged.get("current-context") and doc.get("current-context"):
            merged["current-context"] = doc["current-context"]
        for section, kind in _SECTIONS:
            for item in doc.get(section) or ():
                name = item.get("name") if isinstance(item, dict) else None
                if not isinstance(name, str) or name in seen[section]:
                    continue
                seen[section].add(name)
                body = item.get(kind)
                if isinstance(body, dict):
                    item = {**item, kind: _absolute(body, kind, base)}
                merged[section].append(item)
    return merged


def describe(path: str | Path | None, environ: Mapping[str, str] | None = None) -> str:
    """Where :func:`load` reads from, for error messages."""
    if path:
        return str(path)
    listed = (os.environ if environ is None else environ).get("KUBECONFIG")
    return f"KUBECONFIG={listed}" if listed else f"{DEFAULT} (or the Pod's ServiceAccount)"


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read kubeconfig {path}: {exc}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError(f"kubeconfig {path} is not a mapping")
    return doc


def load(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> KubeConfig:
    """The kubeconfig to use: ``path``; else ``$KUBECONFIG`` merged; else the Pod's
    ServiceAccount; else ``~/.kube/config``. Raises lightkube's ``ConfigError``."""
    if path:
        return KubeConfig.from_file(path)
    listed = paths_from_env(os.environ if environ is None else environ)
    if not listed:
        try:
            return KubeConfig.from_service_account()
        except ConfigError:
            return KubeConfig.from_file(DEFAULT)
    present = [p for p in listed if p.is_file()]
    if not present:
        names = os.pathsep.join(str(p) for p in listed)
        raise ConfigError(f"none of the files in KUBECONFIG exists ({names})")
    if len(present) == 1:
        return KubeConfig.from_file(present[0])
    merged = merge([(p, _read(p)) for p in present])
    return KubeConfig.from_dict(merged, fname=present[0])


def connector(
    path: str | Path | None, *, context: str | None, timeout: float
) -> tuple[Callable[[str | None], httpx.AsyncClient], str, str]:
    """How to open a connection with ``path``'s ``context`` (lightkube does TLS and the
    authentication) or, given a bearer token, as that token's owner to the same server; that
    context's namespace; and the server's key in the discovery cache (its URL and the CA the
    kubeconfig trusts for it). Raises PermanentError naming the file."""
    where = describe(path)
    try:
        single = load(path).get(context)
    except ConfigError as exc:
        raise errors.PermanentError(f"cannot load kubeconfig {where}: {exc}") from exc
    if single is None:
        raise errors.PermanentError(f"kubeconfig {where} has no context {context or ''}")
    # Loopback control planes must not be sent through a proxy from the environment.
    params = client_adapter.ConnectionParams(timeout=httpx.Timeout(timeout), trust_env=False)

    def connect(token: str | None = None) -> httpx.AsyncClient:
        # With a token: the server and its CA from the kubeconfig, the identity from the token.
        config = single if token is None else single._replace(user=User(token=token))
        return client_adapter.AsyncClient(config, params)

    return connect, single.namespace, _server_key(single.cluster)


def _server_key(cluster: Any) -> str:
    from clew.cluster.discocache import cache_key

    ca = cluster.certificate_auth_data or ""
    if not ca and cluster.certificate_auth:
        try:
            ca = Path(cluster.certificate_auth).read_text()
        except OSError:
            ca = str(cluster.certificate_auth)
    return cache_key(str(cluster.server), f"{ca}\0{bool(cluster.insecure)}")


# What a kubeconfig from a Secret may not use: each would make the controller read its own files
# or run a program on behalf of whoever can write the Secret (docs/multi-cluster.md).
_FORBIDDEN = {
    "cluster": ("certificate-authority",),
    "user": ("client-certificate", "client-key", "tokenFile", "exec", "auth-provider"),
}


def inline_connector(
    text: str, *, where: str, timeout: float, connect_timeout: float
) -> tuple[Callable[[str | None], httpx.AsyncClient], str, str]:
    """Like :func:`connector`, for a self-contained kubeconfig held in a Secret (its current
    context): data fields only, no file paths, no exec plugins. Returns also the server URL.
    Errors name ``where``, never the kubeconfig's contents."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        raise errors.PermanentError(f"{where} is not a YAML kubeconfig") from None
    if not isinstance(doc, dict):
        raise errors.PermanentError(f"{where} is not a kubeconfig mapping")
    for section, kind in _SECTIONS[:2]:
        for item in doc.get(section) or ():
            body = item.get(kind) if isinstance(item, dict) else None
            for name in _FORBIDDEN[kind]:
                if isinstance(body, dict) and body.get(name):
                    raise errors.PermanentError(
                        f"{where}: {kind} field {name!r} is not allowed in a kubeconfig "
                        "from a Secret (embed the data instead)"
                    )
    try:
        single = KubeConfig.from_dict(doc).get(None)
    except (ConfigError, KeyError, TypeError, ValueError, AttributeError):
        raise errors.PermanentError(f"{where} is not a usable kubeconfig") from None
    if single is None:
        raise errors.PermanentError(f"{where} has no current-context")
    params = client_adapter.ConnectionParams(
        timeout=httpx.Timeout(timeout, connect=connect_timeout), trust_env=False
    )

    def connect(token: str | None = None) -> httpx.AsyncClient:
        config = single if token is None else single._replace(user=User(token=token))
        return client_adapter.AsyncClient(config, params)

    return connect, single.namespace, public_url(str(single.cluster.server))


def public_url(url: str) -> str:
    """``url`` without user information (``https://user:password@host`` is basic auth to
    httpx): the form a server is named in errors, logs, status and metrics."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
