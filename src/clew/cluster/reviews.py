"""Asking the API server who a bearer token belongs to (TokenReview) and whether that user may
do one thing (SubjectAccessReview): what the secure metrics endpoint and the web UI both decide
access by. Callers cache the answers; the token is never stored or logged here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clew.cluster.client import Cluster

__all__ = ["User", "allowed", "authenticate"]


@dataclass(frozen=True, slots=True)
class User:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: dict[str, list[str]] = field(default_factory=dict, compare=False, hash=False)


async def authenticate(cluster: Cluster, token: str) -> User | None:
    """The user behind ``token``; None when the API server does not accept it."""
    review = await cluster.request(
        "POST",
        "/apis/authentication.k8s.io/v1/tokenreviews",
        body={
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": token},
        },
    )
    status = review.get("status") or {}
    if not status.get("authenticated"):
        return None
    info = status.get("user") or {}
    return User(
        name=str(info.get("username") or ""),
        uid=str(info.get("uid") or ""),
        groups=tuple(info.get("groups") or ()),
        extra={k: list(v) for k, v in (info.get("extra") or {}).items()},
    )


async def allowed(
    cluster: Cluster,
    user: User,
    *,
    resource: dict[str, Any] | None = None,
    non_resource: dict[str, Any] | None = None,
) -> bool:
    """May ``user`` do what ``resource`` (resourceAttributes) or ``non_resource``
    (nonResourceAttributes) describe? Errors are the caller's to treat as a no."""
    spec: dict[str, Any] = {
        "user": user.name,
        "uid": user.uid,
        "groups": list(user.groups),
        "extra": user.extra,
    }
    if resource is not None:
        spec["resourceAttributes"] = resource
    if non_resource is not None:
        spec["nonResourceAttributes"] = non_resource
    review = await cluster.request(
        "POST",
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        body={
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": spec,
        },
    )
    return bool((review.get("status") or {}).get("allowed"))
