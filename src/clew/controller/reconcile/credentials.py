"""Reading an Application's Git credentials and signing keys from Secrets in its namespace.

Keys follow Flux's conventions so existing Secrets work: ``username``/``password`` for HTTPS
(a token is a password), ``identity``/``known_hosts`` for SSH; for signature verification
``allowed_signers`` (SSH) and/or ``gpg_public_keys`` (armored). Values never leave this module
except inside the typed objects the source stage consumes.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Any

from clew.cluster import Cluster, NotFound
from clew.model import SourceError
from clew.source import Credentials, SignaturePolicy

Get = Callable[..., Awaitable[dict[str, Any]]]
"""``get(api_version, kind, name, namespace)``: :meth:`Cluster.get`, or a cache in front of it
(:class:`clew.controller.runtime.reads.ReadCache`)."""


async def _secret(
    cluster: Cluster, namespace: str, name: str, get: Get | None = None
) -> dict[str, str]:
    try:
        secret = await (get or cluster.get)("v1", "Secret", name, namespace)
    except NotFound:
        raise SourceError(
            f"Secret {namespace}/{name} not found",
            hint="create it, or fix spec.source.secretRef / spec.source.verify.secretRef",
        ) from None
    data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    data.update(secret.get("stringData") or {})
    return data


async def credentials(
    cluster: Cluster, namespace: str, name: str | None, get: Get | None = None
) -> Credentials | None:
    if not name:
        return None
    data = await _secret(cluster, namespace, name, get)
    return Credentials(
        username=data.get("username"),
        password=data.get("password") or data.get("token"),
        ssh_private_key=data.get("identity"),
        known_hosts=data.get("known_hosts"),
    )


async def signature_policy(
    cluster: Cluster, namespace: str, name: str | None, get: Get | None = None
) -> SignaturePolicy | None:
    if not name:
        return None
    data = await _secret(cluster, namespace, name, get)
    signers, gpg = data.get("allowed_signers"), data.get("gpg_public_keys")
    if not (signers or gpg):
        raise SourceError(
            f"Secret {namespace}/{name} has neither allowed_signers nor gpg_public_keys",
            hint="add the keys whose signatures this Application accepts",
        )
    return SignaturePolicy(ssh_allowed_signers=signers, gpg_public_keys=gpg)
