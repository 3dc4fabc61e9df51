"""What a test namespace holds, read back for assertions."""

from __future__ import annotations

from clew.cluster import Cluster

__all__ = ["user_configmaps"]

# Every namespace gets the root CA ConfigMap; clew-* are inventories: neither is the user's.
_NOT_THE_USERS = ("kube-root-ca", "clew-")


async def user_configmaps(cluster: Cluster, namespace: str) -> dict[str, dict[str, str]]:
    """The data of each ConfigMap in ``namespace`` by name, without the server's and clew's own."""
    items, _ = await cluster.list_objects("v1", "ConfigMap", namespace)
    return {
        i["metadata"]["name"]: i.get("data") or {}
        for i in items
        if not i["metadata"]["name"].startswith(_NOT_THE_USERS)
    }
