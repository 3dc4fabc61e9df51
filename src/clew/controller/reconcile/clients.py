"""Whom an Application's writes go as: the controller's own client, or one impersonating the
Application's ServiceAccount (docs/operator.md, tenancy). The reconciler, the drift watcher and
the audit trail share one :class:`Clients`, so each identity has one client."""

from __future__ import annotations

from clew.cluster import Cluster
from clew.controller.api.spec import AppKey, AppSpec
from clew.controller.api.tenancy import Tenancy
from clew.report import audit

__all__ = ["Clients"]


class Clients:
    def __init__(self, cluster: Cluster, tenancy: Tenancy | None = None) -> None:
        self.cluster = cluster
        self.tenancy = tenancy or Tenancy()
        self.audit = audit.AuditRecorder(cluster)  # docs/audit.md
        self._impersonated: dict[str, Cluster] = {}
        self._audits: dict[int, audit.AuditRecorder] = {}  # by impersonating client

    def for_app(self, key: AppKey, spec: AppSpec) -> Cluster:
        """The controller's client, or one impersonating the Application's ServiceAccount.

        Only Impersonate-User: the API server adds a ServiceAccount's groups itself, and
        impersonating groups would need a grant the installed role does not give."""
        account = self.tenancy.service_account(spec)
        if not account:
            return self.cluster
        user = f"system:serviceaccount:{key.namespace}:{account}"
        if user not in self._impersonated:
            self._impersonated[user] = self.cluster.impersonating(user)
        return self._impersonated[user]

    def audit_for(self, key: AppKey, spec: AppSpec) -> audit.AuditRecorder:
        """The trail is written as whoever applies: a tenant's account may write ConfigMaps in
        its namespace, the least-privilege controller may not."""
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
