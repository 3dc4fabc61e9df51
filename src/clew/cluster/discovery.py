"""API discovery: which resource serves an apiVersion/kind, and whether it is namespaced.

Uses aggregated discovery (``apidiscovery.k8s.io/v2``, GA in Kubernetes 1.30): two requests
describe every group, instead of one request per group version. The table is cached and refreshed
once when a kind is missing, because a CRD applied earlier in the same run adds kinds. The CLI
also keeps it on disk between runs (:mod:`clew.cluster.discocache`); a kind missing from a table
read from disk is asked of the server too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from clew.cluster.errors import UnknownKind

if TYPE_CHECKING:
    from clew.cluster.client import Cluster
    from clew.cluster.discocache import DiscoveryCache

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"


@dataclass(frozen=True, slots=True)
class Resource:
    """One served resource: enough to build its URL."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    verbs: frozenset[str]
    subresources: frozenset[str]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        """The collection or object URL; a namespaced kind without ``namespace`` lists all."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        return f"{base}/{name}" if name else base


def parse_aggregated(doc: dict[str, Any]) -> dict[tuple[str, str], Resource]:
    """Map ``(apiVersion, kind)`` to its resource from one ``APIGroupDiscoveryList``."""
    table: dict[tuple[str, str], Resource] = {}
    for group_doc in doc.get("items") or []:
        group = str((group_doc.get("metadata") or {}).get("name") or "")
        for version_doc in group_doc.get("versions") or []:
            version = str(version_doc.get("version"))
            for res in version_doc.get("resources") or []:
                kind = str((res.get("responseKind") or {}).get("kind") or "")
                if not kind:
                    continue
                resource = Resource(
                    group=group,
                    version=version,
                    kind=kind,
                    plural=str(res["resource"]),
                    namespaced=res.get("scope") == "Namespaced",
                    verbs=frozenset(res.get("verbs") or ()),
                    subresources=frozenset(
                        str(s.get("subresource")) for s in res.get("subresources") or ()
                    ),
                )
                table[(resource.api_version, kind)] = resource
    return table


class Discovery:
    """A cached view of the server's resources, refreshed on a miss; with ``disk`` (and the
    server's ``key`` in it), first read from there when the entry may be trusted."""

    def __init__(self, cluster: Cluster, disk: DiscoveryCache | None = None, key: str = "") -> None:
        self._cluster = cluster
        self._disk = disk if key else None
        self._key = key
        self._table: dict[tuple[str, str], Resource] | None = None
        self._version: str | None = None
        self._capabilities: tuple[tuple[str, ...], str] | None = None

    async def server_version(self) -> str:
        """The server's ``gitVersion``, read once per client."""
        if self._version is None:
            info = await self._cluster.request("GET", "/version")
            self._version = str(info.get("gitVersion", ""))
        return self._version

    async def refresh(self) -> None:
        """Read the table from the server (and write it to disk, when there is a disk cache)."""
        table: dict[tuple[str, str], Resource] = {}
        for root in ("/api", "/apis"):
            doc = await self._cluster.request("GET", root, accept=AGGREGATED)
            table.update(parse_aggregated(doc))
        self._table = table
        if self._disk is not None:
            self._disk.save(self._key, await self.server_version(), table)

    async def _first(self) -> None:
        if self._disk is not None:
            self._table = self._disk.load(self._key, await self.server_version())
        if self._table is None:
            await self.refresh()

    async def resource(self, api_version: str, kind: str) -> Resource:
        """The resource for ``apiVersion``/``kind``; raises :class:`UnknownKind` if not served."""
        key = (api_version, kind)
        if self._table is None:
            await self._first()
        assert self._table is not None
        if key not in self._table:  # never trusted for a kind it lacks: ask the server
            await self.refresh()
        assert self._table is not None
        found = self._table.get(key)
        if found is None:
            raise UnknownKind(
                f"the server does not serve {kind} in {api_version}; "
                "check the apiVersion, or apply the CustomResourceDefinition that defines it first"
            )
        return found

    async def capabilities(self) -> tuple[tuple[str, ...], str]:
        """What Helm's ``.Capabilities`` should say of this server: every served group/version
        and group/version/Kind (``--api-versions``), and the server's version
        (``--kube-version``). Read once per client."""
        if self._capabilities is None:
            resources = await self.all()
            versions = {r.api_version for r in resources}
            versions |= {f"{r.api_version}/{r.kind}" for r in resources}
            self._capabilities = (tuple(sorted(versions)), await self.server_version())
        return self._capabilities

    async def all(self) -> list[Resource]:
        if self._table is None:
            await self._first()
        assert self._table is not None
        return list(self._table.values())
