"""Secure metrics (``--metrics-secure``): who may scrape ``/metrics``, decided by the API server.

As controller-runtime's ``filters.WithAuthenticationAndAuthorization``: the scrape's bearer token
goes to a TokenReview (who is this?), the user it names to a SubjectAccessReview for the
non-resource URL ``/metrics`` with verb ``get`` (may they?). Prometheus' ServiceAccount gets that
through a ClusterRole such as ``clew-metrics-reader`` (``clew install --metrics-secure``). The
serving certificate is self-signed at start unless one is given (``--metrics-cert-dir``).

Answers are cached for a short while by a digest of the token, so a scrape every few seconds
costs no API calls; the token itself is never stored or logged.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from clew.cluster import Cluster, ClusterError, reviews
from clew.controller.runtime.server import RunningServer, create_metrics_app, serve
from clew.report.metrics import Metrics

__all__ = ["MetricsAuthorizer", "self_signed", "serve_metrics"]

_log = logging.getLogger(__name__)


async def serve_metrics(
    metrics: Metrics,
    host: str,
    port: int,
    *,
    cluster: Cluster | None = None,
    cert_dir: Path | None = None,
    scratch: Path,
) -> RunningServer:
    """``/metrics`` on its own port: plain HTTP without ``cluster``; with it, HTTPS (the
    certificate of ``cert_dir``, else a self-signed one written to ``scratch``) for callers the
    API server admits."""
    if cluster is None:
        return await serve(create_metrics_app(metrics), host, port)
    if cert_dir is not None:
        tls = (str(cert_dir / "tls.crt"), str(cert_dir / "tls.key"))
    else:
        tls = self_signed(scratch)
    app = create_metrics_app(metrics, MetricsAuthorizer(cluster))
    return await serve(app, host, port, tls=tls)


class MetricsAuthorizer:
    """``await authorizer(token)`` is 200 (allowed), 401 (no or invalid token) or 403."""

    def __init__(
        self,
        cluster: Cluster,
        *,
        ttl: float = 60.0,
        denied_ttl: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 1024,
    ) -> None:
        self.cluster = cluster
        self.ttl = ttl
        self.denied_ttl = denied_ttl  # short: a binding made just now soon takes effect
        self._clock = clock
        self._max = max_entries
        self._answers: dict[bytes, tuple[float, int]] = {}

    async def __call__(self, token: str | None) -> int:
        if not token:
            return 401
        digest = hashlib.sha256(token.encode()).digest()
        cached = self._answers.get(digest)
        now = self._clock()
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            status = await self._review(token)
        except ClusterError as exc:  # not cached: the next scrape asks again
            _log.warning("metrics authorization failed: %s", exc)
            return 403
        if len(self._answers) >= self._max:
            self._answers.clear()
        self._answers[digest] = (now + (self.ttl if status == 200 else self.denied_ttl), status)
        return status

    async def _review(self, token: str) -> int:
        user = await reviews.authenticate(self.cluster, token)
        if user is None:
            return 401
        path = {"path": "/metrics", "verb": "get"}
        return 200 if await reviews.allowed(self.cluster, user, non_resource=path) else 403


def self_signed(directory: Path, host: str = "localhost") -> tuple[str, str]:
    """Write a self-signed serving certificate and key (valid a year) into ``directory``;
    return their paths. Scrapers then skip verification, as with controller-runtime's default."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "clew-metrics")])
    now = datetime.datetime.now(datetime.UTC)
    names: list[x509.GeneralName] = [x509.DNSName(host)]
    names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "tls.crt", directory / "tls.key"
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    key_path.unlink(missing_ok=True)
    # Created private: never readable by others, not even for a moment.
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(pem)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(cert_path), str(key_path)
