"""Whom an Application's writes go as, and to which cluster: the controller's own client, one
impersonating the Application's ServiceAccount (docs/operator.md, tenancy), or a client for
another cluster named by ``destination.kubeConfig.secretRef`` (docs/multi-cluster.md). The
reconciler, the drift watcher and the audit trail share one :class:`Clients`, so each identity
on each cluster has one client.

Remote clients are kept per (Secret uid, resourceVersion): Applications naming the same Secret
share one; a changed Secret gets a new client; a client no Application uses any more is closed.
Each remote cluster has its own backoff: while it is unreachable, attempts fail at once with
``ClusterUnreachable`` and never wait on the network, so no worker is held by a dead cluster.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from dataclasses import dataclass, field

from clew.cluster import Cluster, ClusterError, NotFound, PermanentError
from clew.cluster.remote import CONNECT_TIMEOUT, from_kubeconfig_text
from clew.controller.api.spec import AppKey, AppSpec
from clew.controller.api.tenancy import Tenancy
from clew.model import Reason
from clew.report import audit

__all__ = ["Clients", "DestinationUnavailable"]

_BACKOFF_MAX = 120.0
_CONFIG_RETRY = 30.0  # a missing or bad Secret: until someone fixes it
_Ident = tuple[str, str]  # the Secret's uid and resourceVersion


class DestinationUnavailable(Exception):
    """The destination cluster cannot be used now: ``reason``, a message naming the cluster
    (never its credentials), and when to try again."""

    def __init__(self, reason: Reason, message: str, after: float) -> None:
        super().__init__(message)
        self.reason, self.message, self.after = reason, message, after


@dataclass
class _Remote:
    cluster: Cluster
    server: str
    users: set[AppKey] = field(default_factory=set)
    impersonated: dict[str, Cluster] = field(default_factory=dict)
    failures: int = 0
    retry_at: float = 0.0
    error: str = ""

    async def aclose(self) -> None:
        for client in (self.cluster, *self.impersonated.values()):
            await client.aclose()


class Clients:
    def __init__(self, cluster: Cluster, tenancy: Tenancy | None = None) -> None:
        self.cluster = cluster
        self.tenancy = tenancy or Tenancy()
        self.audit = audit.AuditRecorder(cluster)  # docs/audit.md
        self._impersonated: dict[str, Cluster] = {}
        self._audits: dict[int, audit.AuditRecorder] = {}  # by impersonating client
        self._remotes: dict[_Ident, _Remote] = {}
        self._bound: dict[AppKey, _Ident] = {}

    def _user(self, key: AppKey, spec: AppSpec) -> str:
        account = self.tenancy.service_account(spec)
        return f"system:serviceaccount:{key.namespace}:{account}" if account else ""

    def for_app(self, key: AppKey, spec: AppSpec) -> Cluster:
        """The client for ``spec``'s destination, impersonating its ServiceAccount if any.
        A remote destination must have been :meth:`resolve`-d first.

        Only Impersonate-User: the API server adds a ServiceAccount's groups itself, and
        impersonating groups would need a grant the installed role does not give."""
        user = self._user(key, spec)
        if spec.kube_config is not None:
            ident = self._bound.get(key)
            if ident is None:
                raise PermanentError(f"the destination cluster of {key} is not connected")
            remote = self._remotes[ident]
            if not user:
                return remote.cluster
            if user not in remote.impersonated:
                remote.impersonated[user] = remote.cluster.impersonating(user)
            return remote.impersonated[user]
        if not user:
            return self.cluster
        if user not in self._impersonated:
            self._impersonated[user] = self.cluster.impersonating(user)
        return self._impersonated[user]

    async def resolve(self, key: AppKey, spec: AppSpec) -> Cluster:
        """:meth:`for_app`, after connecting to a remote destination and checking that it
        answers; raises :class:`DestinationUnavailable`."""
        ref = spec.kube_config
        if ref is None:
            await self.release(key)
            return self.for_app(key, spec)
        where = f"Secret {key.namespace}/{ref.name} (key {ref.key})"
        try:
            secret = await self.cluster.get("v1", "Secret", ref.name, key.namespace)
        except NotFound:
            raise self._bad(f"kubeConfig {where} not found") from None
        meta = secret["metadata"]
        ident = (str(meta.get("uid")), str(meta.get("resourceVersion")))
        remote = self._remotes.get(ident)
        if remote is None:
            remote = self._remotes[ident] = self._connect(secret, ref.key, where)
        if self._bound.get(key) != ident:
            await self.release(key)
            self._bound[key] = ident
        remote.users.add(key)
        await self._probe(remote, where)
        return self.for_app(key, spec)

    def _connect(self, secret: dict[str, object], data_key: str, where: str) -> _Remote:
        value = (secret.get("data") or {}).get(data_key)  # type: ignore[attr-defined]
        if not isinstance(value, str) or not value:
            raise self._bad(f"kubeConfig {where}: the Secret has no such key")
        try:
            text = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise self._bad(f"kubeConfig {where} is not base64 text") from None
        try:
            cluster, server = from_kubeconfig_text(text, where=f"kubeConfig {where}")
        except PermanentError as exc:
            raise self._bad(str(exc)) from None
        return _Remote(cluster, server)

    @staticmethod
    def _bad(message: str) -> DestinationUnavailable:
        return DestinationUnavailable(Reason.CLUSTER_CONFIG_INVALID, message, _CONFIG_RETRY)

    async def _probe(self, remote: _Remote, where: str) -> None:
        """One GET /version with a bounded wait; while the cluster is in backoff, not even
        that. Failures in a row double the wait, for every Application on that cluster."""
        now = time.monotonic()
        if remote.retry_at > now:
            raise self._unreachable(remote, where, remote.retry_at - now)
        try:
            await asyncio.wait_for(remote.cluster.version(), CONNECT_TIMEOUT + 1.0)
        except (ClusterError, TimeoutError) as exc:
            remote.failures += 1
            remote.error = _one_line(exc) or type(exc).__name__
            delay = min(_BACKOFF_MAX, 2.0 ** min(remote.failures, 10))
            remote.retry_at = time.monotonic() + delay
            raise self._unreachable(remote, where, delay) from None
        remote.failures, remote.retry_at, remote.error = 0, 0.0, ""

    @staticmethod
    def _unreachable(remote: _Remote, where: str, after: float) -> DestinationUnavailable:
        message = (
            f"cluster {remote.server} (kubeConfig {where}) is unreachable: {remote.error}; "
            f"next try in {after:.0f}s"
        )
        return DestinationUnavailable(Reason.CLUSTER_UNREACHABLE, message, after)

    async def release(self, key: AppKey) -> None:
        """``key`` no longer uses its remote cluster; close that client if no one else does."""
        ident = self._bound.pop(key, None)
        remote = self._remotes.get(ident) if ident is not None else None
        if remote is None or ident is None:
            return
        remote.users.discard(key)
        if not remote.users:
            del self._remotes[ident]
            for client in (remote.cluster, *remote.impersonated.values()):
                self._audits.pop(id(client), None)
            await remote.aclose()

    def connected(self) -> dict[tuple[str, str], int]:
        """The open remote clients, by (Secret uid, resourceVersion): how many Applications
        use each."""
        return {ident: len(remote.users) for ident, remote in self._remotes.items()}

    def audit_for(self, key: AppKey, spec: AppSpec) -> audit.AuditRecorder:
        """The trail is written as whoever applies, where it applies: a tenant's account may
        write ConfigMaps in its namespace, the least-privilege controller may not."""
        client = self.for_app(key, spec)
        if client is self.cluster:
            return self.audit
        if id(client) not in self._audits:
            self._audits[id(client)] = audit.AuditRecorder(client)
        return self._audits[id(client)]

    async def aclose(self) -> None:
        for client in self._impersonated.values():
            await client.aclose()
        self._impersonated.clear()
        for remote in self._remotes.values():
            await remote.aclose()
        self._remotes.clear()
        self._bound.clear()


def _one_line(exc: BaseException) -> str:
    # A timeout's own text is empty: "cannot reach … https://host: " ends in a bare colon.
    return str(exc).splitlines()[0][:200].rstrip(": ") if str(exc) else ""
