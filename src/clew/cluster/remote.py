"""A client for another cluster, from a kubeconfig held in a Secret (docs/multi-cluster.md).

Kept apart from :class:`~clew.cluster.client.Cluster`'s own constructors because the rules
differ: the kubeconfig comes from whoever may write the Secret, so only embedded data is used
(no file paths, no exec plugins), and the connect timeout is short, so that an unreachable
cluster fails an attempt in seconds instead of holding a worker.
"""

from __future__ import annotations

import base64
import binascii
import urllib.parse
from collections.abc import Mapping
from typing import Any

import yaml

from clew.cluster import kubeconfig
from clew.cluster.client import Cluster

__all__ = ["CONNECT_TIMEOUT", "DEFAULT_KEY", "from_kubeconfig_text", "public_server"]

DEFAULT_KEY = "value"  # the Secret's key holding the kubeconfig, as Flux

CONNECT_TIMEOUT = 5.0


def from_kubeconfig_text(
    text: str, *, where: str, timeout: float = 30.0, connect_timeout: float = CONNECT_TIMEOUT
) -> tuple[Cluster, str]:
    """A client for the current context of ``text``, and its server URL. ``where`` names the
    Secret in errors (PermanentError), which never quote the kubeconfig."""
    connect, namespace, server = kubeconfig.inline_connector(
        text, where=where, timeout=timeout, connect_timeout=connect_timeout
    )
    return Cluster(connect(None), namespace=namespace, reconnect=connect), server


def public_server(secret: Mapping[str, Any] | None, key: str = DEFAULT_KEY) -> str:
    """The server URL of the current context of the kubeconfig in ``secret``'s ``key``,
    without user information, query or fragment; "" if there is none. Nothing else of the
    kubeconfig leaves this function (``clew get clusters``, the UI, the clusters generator)."""
    raw = ((secret or {}).get("data") or {}).get(key)
    try:
        doc = yaml.safe_load(base64.b64decode(str(raw or ""), validate=True).decode())
    except (binascii.Error, UnicodeDecodeError, yaml.YAMLError):
        return ""
    if not isinstance(doc, dict):
        return ""
    contexts = {c.get("name"): c.get("context") for c in _dicts(doc.get("contexts"))}
    clusters = {c.get("name"): c.get("cluster") for c in _dicts(doc.get("clusters"))}
    context = contexts.get(doc.get("current-context"))
    cluster = clusters.get(context.get("cluster")) if isinstance(context, dict) else None
    server = cluster.get("server") if isinstance(cluster, dict) else None
    if not isinstance(server, str) or not server:
        return ""
    try:
        parts = urllib.parse.urlsplit(server)
        port = parts.port
    except ValueError:
        return ""
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = f"{host}:{port}" if port else host  # no user:password@
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc, query="", fragment=""))


def _dicts(items: Any) -> list[dict[str, Any]]:
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
