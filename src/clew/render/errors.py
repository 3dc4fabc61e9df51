"""The render stage's errors. All are :class:`clew.model.RenderError`, so callers that only care
that rendering failed catch that; the subclasses say why::

    RenderError                  (clew.model)
    ├── InvalidManifestError     malformed YAML/JSON, a document that is no object, a missing
    │                            apiVersion/kind/metadata.name, a file too large, a duplicate object
    ├── UnsafeSourceError        the source would read outside the snapshot (symlink, ``..``), fetch
    │                            from the network (remote base) or run a plugin: refused, not tried
    ├── ToolError                helm or kustomize is missing, failed, or timed out; the message
    │                            carries the tool's own words
    ├── DecryptionError          a SOPS file without a key that opens it, with a MAC that does
    │                            not match, or in a form clew cannot read
    └── SubstitutionError        a ``${VAR}`` with no value and no default, or a malformed one

Every one is permanent for a given snapshot: rendering the same commit again fails the same way
(except a :class:`ToolError` for a timeout), so the engine should not retry before the source moves.
"""

from __future__ import annotations

from clew.model import RenderError


class InvalidManifestError(RenderError):
    """The snapshot holds something that is not a list of Kubernetes objects."""


class UnsafeSourceError(RenderError):
    """The snapshot asks to read outside itself, reach the network or run a plugin."""


class ToolError(RenderError):
    """helm or kustomize could not be run, or failed; ``timed_out`` tells a timeout apart."""

    def __init__(
        self,
        message: str,
        *,
        file: str = "",
        line: int | None = None,
        hint: str = "",
        timed_out: bool = False,
    ) -> None:
        super().__init__(message, file=file, line=line, hint=hint)
        self.timed_out = timed_out


class DecryptionError(RenderError):
    """A SOPS-encrypted file could not be decrypted or verified; never quotes a value."""


class SubstitutionError(RenderError):
    """Post-build variable substitution failed; names the object and the variable."""
