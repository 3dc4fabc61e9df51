"""A client for another cluster, from a kubeconfig held in a Secret (docs/multi-cluster.md).

Kept apart from :class:`~clew.cluster.client.Cluster`'s own constructors because the rules
differ: the kubeconfig comes from whoever may write the Secret, so only embedded data is used
(no file paths, no exec plugins), and the connect timeout is short, so that an unreachable
cluster fails an attempt in seconds instead of holding a worker.
"""

from __future__ import annotations

from clew.cluster import kubeconfig
from clew.cluster.client import Cluster

__all__ = ["CONNECT_TIMEOUT", "from_kubeconfig_text"]

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
