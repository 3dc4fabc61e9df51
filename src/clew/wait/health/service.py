"""Service health: a LoadBalancer needs an ingress address; every other type is CURRENT.

kstatus only checks that a LoadBalancer has a cluster IP. clew follows gitops-engine and waits
for ``status.loadBalancer.ingress``, since that is when clients can reach the Service.
"""

from __future__ import annotations

from typing import Any

from clew.model import HealthResult
from clew.wait.health.conditions import current, field, in_progress, text


def service(obj: dict[str, Any]) -> HealthResult:
    kind = text(obj, "spec", "type", default="ClusterIP")
    if kind != "LoadBalancer":
        return current(f"{kind} Service")
    ingress = field(obj, "status", "loadBalancer", "ingress")
    addresses = [
        str(entry.get("ip") or entry.get("hostname") or "")
        for entry in (ingress if isinstance(ingress, list) else [])
        if isinstance(entry, dict)
    ]
    addresses = [a for a in addresses if a]
    if not addresses:
        return in_progress("waiting for a load balancer address")
    return current(f"load balancer at {', '.join(addresses)}")
