"""The one error model: a single root, whether a retry can help, and the reasons status shows.

Every error clew raises on purpose derives from :class:`ClewError`. Stages raise subclasses; the
engine and CLI catch by stage, the controller decides how to retry from ``retryable`` and
``delay`` alone (kopf's ``TemporaryError(delay=…)``/``PermanentError`` model)::

    ClewError                      retryable unless a subclass says otherwise; ``delay`` or None
    ├── SourceError                fetching or resolving the source (clew.source.errors)
    │   ├── Unreachable            retryable
    │   └── AuthenticationFailed, HostNotTrusted, RepositoryNotFound, RefNotFound,
    │       SignatureRejected, PathEscapes, PathNotFound      permanent: a person must act
    ├── RenderError                permanent: the same snapshot renders the same way
    │   └── InvalidManifestError, UnsafeSourceError, ToolError, ... (clew.render.errors)
    ├── InvalidSpec                permanent: the Application must change (clew.controller.api.spec)
    ├── TargetError                a notification target failed (clew.notify.targets)
    └── ClusterError               the API server boundary (clew.cluster.errors)
        ├── RetryableError         retryable; ``delay`` from Retry-After when the server sent one
        └── PermanentError         permanent: 4xx, unknown kinds, objects too large

A *permanent* error stalls an Application (``Stalled=True``): it is tried again only at its
interval or when its spec changes. A *retryable* one backs off, after ``delay`` when given.

Every message says what failed and, in ``hint``, what to do next; none carries a secret.
"""

from __future__ import annotations

import enum
from typing import ClassVar


class Reason(enum.StrEnum):
    """The reasons written to conditions, Events, history and the audit trail. Values are the
    strings users and alerts already match on; never compare against a literal instead."""

    SUCCEEDED = "Succeeded"
    PROGRESSING = "Progressing"
    FETCH_FAILED = "FetchFailed"
    RENDER_FAILED = "RenderFailed"
    APPLY_FAILED = "ApplyFailed"
    PRUNE_FAILED = "PruneFailed"
    HEALTH_CHECK_FAILED = "HealthCheckFailed"
    HOOK_FAILED = "HookFailed"
    DEPENDENCY_NOT_READY = "DependencyNotReady"
    SUSPENDED = "Suspended"
    OUT_OF_SYNC = "OutOfSync"
    INVALID_SPEC = "InvalidSpec"
    DESTINATION_NOT_ALLOWED = "DestinationNotAllowed"
    CROSS_NAMESPACE_REF = "CrossNamespaceRef"
    RECONCILE_ERROR = "ReconcileError"  # an unexpected exception: a bug, reported not hidden
    INTERRUPTED = "Interrupted"  # the previous attempt never finished (the process died)
    DRIFT_CORRECTED = "DriftCorrected"
    DELETED = "Deleted"
    # A destination cluster (docs/multi-cluster.md): its kubeConfig Secret, or the connection.
    CLUSTER_CONFIG_INVALID = "ClusterConfigInvalid"
    CLUSTER_UNREACHABLE = "ClusterUnreachable"
    # An ApplicationSet's Ready condition (docs/applicationsets.md).
    GENERATOR_FAILED = "GeneratorFailed"
    TEMPLATE_FAILED = "TemplateFailed"
    # A NotificationPolicy's Ready condition.
    ACCEPTED = "Accepted"
    DELIVERY_FAILED = "DeliveryFailed"


class ClewError(Exception):
    """The root of every clew error. ``retryable`` (per class) says whether the same attempt
    may succeed later; ``delay`` (seconds, per instance) is when to try, None for backoff."""

    retryable: ClassVar[bool] = True

    def __init__(self, message: str, *, hint: str = "", delay: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.delay = delay

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class SourceError(ClewError):
    """Fetching or resolving the source failed (unreachable, auth, missing ref, bad signature)."""


class RenderError(ClewError):
    """Rendering failed; ``file`` and ``line`` locate it in the snapshot when known."""

    retryable = False

    def __init__(
        self, message: str, *, file: str = "", line: int | None = None, hint: str = ""
    ) -> None:
        where = f"{file}:{line}: " if file and line else (f"{file}: " if file else "")
        super().__init__(where + message, hint=hint)
        self.file = file
        self.line = line
