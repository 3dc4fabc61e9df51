"""How a controller process is configured (``clew controller``'s flags, docs/operator.md)."""

from __future__ import annotations

import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from clew.controller.api.tenancy import Tenancy
from clew.controller.triggers.receivers import ReceiverSecrets

__all__ = ["ControllerConfig"]


@dataclass
class ControllerConfig:
    namespace: str | None = None  # watch Applications in one namespace; None: all
    workers: int = 4
    leader_elect: bool = False
    lease_namespace: str = "clew-system"
    lease_name: str = "clew-controller"
    identity: str = field(default_factory=lambda: f"{socket.gethostname()}-{uuid.uuid4().hex[:6]}")
    # A successor takes over at most lease_duration + retry_period after a leader dies.
    lease_duration: float = 10.0
    renew_deadline: float = 7.0
    retry_period: float = 2.0
    host: str = "0.0.0.0"  # noqa: S104 - in a Pod the Service must reach it
    port: int = 8080  # webhooks and probes: the only public port
    # /metrics: localhost unless secured (TokenReview + SubjectAccessReview, over HTTPS); a port
    # of None serves no metrics at all.
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = 8081
    metrics_secure: bool = False
    metrics_cert_dir: Path | None = None  # tls.crt and tls.key; None: self-signed at start
    cache_dir: Path = field(default_factory=lambda: Path("/tmp/clew-cache"))  # noqa: S108
    cache_max_bytes: int = 2 << 30
    helm_binary: str | None = None
    secrets: ReceiverSecrets = field(default_factory=ReceiverSecrets)
    notifications: bool = True  # send what NotificationPolicies ask for (docs/notifications.md)
    tenancy: Tenancy = field(default_factory=Tenancy)  # docs/operator.md, multi-tenancy
    applicationsets: bool = True  # run the ApplicationSet controller (docs/applicationsets.md)
    sharding: bool = False  # spread Applications over the replicas (docs/sharding.md)
