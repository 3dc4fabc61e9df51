"""The cluster boundary: the only package that imports the Kubernetes client library.

Everything else in clew talks to API servers through :class:`Cluster` and catches the errors of
:mod:`clew.cluster.errors`.
"""

from clew.cluster.client import FIELD_MANAGER, Cluster
from clew.cluster.discocache import DiscoveryCache
from clew.cluster.discovery import Discovery, Resource
from clew.cluster.errors import (
    AlreadyExists,
    ClusterError,
    Conflict,
    ConnectionFailed,
    Forbidden,
    Gone,
    Invalid,
    NotFound,
    PermanentError,
    RequestTooLarge,
    RetryableError,
    ServerError,
    TooManyRequests,
    Unauthorized,
    UnknownKind,
)
from clew.cluster.watch import WatchEvent

__all__ = [
    "FIELD_MANAGER",
    "AlreadyExists",
    "Cluster",
    "ClusterError",
    "Conflict",
    "ConnectionFailed",
    "Discovery",
    "DiscoveryCache",
    "Forbidden",
    "Gone",
    "Invalid",
    "NotFound",
    "PermanentError",
    "RequestTooLarge",
    "Resource",
    "RetryableError",
    "ServerError",
    "TooManyRequests",
    "Unauthorized",
    "UnknownKind",
    "WatchEvent",
]
