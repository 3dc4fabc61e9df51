"""The errors of the source stage: what failed, and in ``hint`` what to do about it.

Every class derives from :class:`clew.model.SourceError`, so the engine can catch the stage as a
whole. ``retryable`` separates a transient condition (the next poll may succeed unchanged) from one
that needs a change by a person (credentials, host keys, a ref name)::

    SourceError
    ├── Unreachable            retryable: connection refused, DNS, timeout, HTTP 5xx
    ├── AuthenticationFailed   the server refused our credentials (or we had none)
    ├── HostNotTrusted         unknown or changed SSH host key, untrusted TLS certificate
    ├── RepositoryNotFound     no repository at that URL (or it is hidden from us)
    ├── RefNotFound            no branch/tag/commit matches the ref; ``nearby`` lists candidates
    ├── SignatureRejected      unsigned, or not signed by an allowed key, or no verifier
    ├── PathEscapes            the path leaves the snapshot (absolute, ``..``, symlink)
    └── PathNotFound           the path does not exist in the snapshot

Messages never carry a secret: callers pass them through :func:`clew.source.git.redact` first.
"""

from __future__ import annotations

from typing import ClassVar

from clew.model import SourceError

__all__ = [
    "AuthenticationFailed",
    "HostNotTrusted",
    "PathEscapes",
    "PathNotFound",
    "RefNotFound",
    "RepositoryNotFound",
    "SignatureRejected",
    "SourceError",
    "Unreachable",
]


class _SourceFailure(SourceError):
    # Default for every subclass: a person has to change something before a retry helps.
    retryable: ClassVar[bool] = False


class Unreachable(_SourceFailure):
    """The server could not be reached or did not answer in time."""

    retryable = True


class AuthenticationFailed(_SourceFailure):
    """The server refused the credentials (HTTP 401/403, SSH publickey denied, none given)."""


class HostNotTrusted(_SourceFailure):
    """The server's identity could not be verified: SSH host key or TLS certificate."""


class RepositoryNotFound(_SourceFailure):
    """Nothing answers as a repository at the URL (hosting services say the same for private
    repositories when the credentials do not grant access)."""


class RefNotFound(_SourceFailure):
    """No ref matches; ``nearby`` holds the closest branch and tag names (maybe empty)."""

    def __init__(self, message: str, *, hint: str = "", nearby: tuple[str, ...] = ()) -> None:
        super().__init__(message, hint=hint)
        self.nearby = nearby


class SignatureRejected(_SourceFailure):
    """The commit is unsigned, signed by a key that is not allowed, or cannot be verified."""


class PathEscapes(_SourceFailure):
    """The requested path is absolute, climbs out with ``..``, or resolves outside through a
    symlink."""


class PathNotFound(_SourceFailure):
    """The requested path does not exist in the snapshot (or is not a directory)."""
