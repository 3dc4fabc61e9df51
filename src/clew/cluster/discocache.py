"""Discovery kept on disk between runs of ``clew apply`` and ``clew diff``, as kubectl keeps
``~/.kube/cache/discovery``: a short command then skips two discovery requests and the decoding
of their answers.

One file per API server under ``<cache>/discovery/<key>/resources.json``, where the key is a
digest of the server's URL and the CA that kubeconfig trusts for it (a cluster re-created at
the same address, as kind and local control planes are, has a new CA: a new key). An entry is
used only when all of these hold, else the table is read from the server and written anew:

- it is younger than :data:`TTL` (6 hours, kubectl's);
- the server's version (``GET /version``, one small request per run) is the one it was written
  for: an upgrade may add or remove resources;
- the file belongs to this user and nobody else can write it (directories are made ``0700``,
  files ``0600``): its plurals become request URLs.

A kind the entry lacks is never taken as unknown from it: :class:`clew.cluster.Discovery`
asks the server again (a CRD applied since), and writes the new table.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from clew.cluster.client import Cluster
    from clew.cluster.discovery import Resource

__all__ = ["TTL", "DiscoveryCache", "cache_key"]

TTL = 6 * 3600.0
_FORMAT = 1
_FILE = "resources.json"


def cache_key(server: str, ca: str) -> str:
    """The directory name of one API server: its URL and the CA trusted for it, hashed."""
    return hashlib.sha256(f"{server}\0{ca}".encode()).hexdigest()[:32]


class DiscoveryCache:
    """Discovery tables on disk under ``root``, one per server key."""

    def __init__(
        self, root: Path, *, ttl: float = TTL, clock: Callable[[], float] = time.time
    ) -> None:
        self.root = root
        self.ttl = ttl
        self._clock = clock

    def attach(self, cluster: Cluster) -> Cluster:
        """``cluster``, its discovery read from and written to this cache (a client made by
        :meth:`Cluster.from_kubeconfig`, which knows the server's key)."""
        from clew.cluster.discovery import Discovery

        cluster.discovery = Discovery(cluster, self, cluster.server_key)
        return cluster

    def path(self, key: str) -> Path:
        return self.root / key / _FILE

    def load(self, key: str, version: str) -> dict[tuple[str, str], Resource] | None:
        """The table written for ``key`` and the server ``version``, if it may be trusted."""
        from clew.cluster.discovery import Resource

        file = self.path(key)
        try:
            with file.open("rb") as handle:
                info = os.fstat(handle.fileno())
                if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                    return None
                doc: Any = msgspec.json.decode(handle.read())
        except (OSError, msgspec.DecodeError):
            return None
        try:
            if doc["format"] != _FORMAT or doc["version"] != version or not version:
                return None
            if not 0 <= self._clock() - float(doc["written"]) <= self.ttl:
                return None
            table: dict[tuple[str, str], Resource] = {}
            for group, ver, kind, plural, namespaced, verbs, subresources in doc["resources"]:
                resource = Resource(
                    group=str(group),
                    version=str(ver),
                    kind=str(kind),
                    plural=str(plural),
                    namespaced=bool(namespaced),
                    verbs=frozenset(map(str, verbs)),
                    subresources=frozenset(map(str, subresources)),
                )
                table[(resource.api_version, resource.kind)] = resource
        except (KeyError, TypeError, ValueError):
            return None  # written by another version of clew, or damaged: read the server
        return table

    def save(self, key: str, version: str, table: dict[tuple[str, str], Resource]) -> None:
        """Write ``table`` for ``key``; a cache that cannot be written is skipped silently."""
        if not version:
            return
        rows = [
            [
                r.group,
                r.version,
                r.kind,
                r.plural,
                r.namespaced,
                sorted(r.verbs),
                sorted(r.subresources),
            ]
            for r in table.values()
        ]
        doc = {"format": _FORMAT, "version": version, "written": self._clock(), "resources": rows}
        directory = self.path(key).parent
        try:
            for part in (self.root, directory):
                part.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=".resources-")  # mode 0600
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(msgspec.json.encode(doc))
                os.replace(tmp, directory / _FILE)  # readers see the old file or the new one
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError:
            return
