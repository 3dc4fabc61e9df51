"""The base errors of each stage. Stages raise subclasses; the engine and CLI catch by stage.

Every message says what failed and, in ``hint``, what to do next; none carries a secret.
"""

from __future__ import annotations


class ClewError(Exception):
    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class SourceError(ClewError):
    """Fetching or resolving the source failed (unreachable, auth, missing ref, bad signature)."""


class RenderError(ClewError):
    """Rendering failed; ``file`` and ``line`` locate it in the snapshot when known."""

    def __init__(
        self, message: str, *, file: str = "", line: int | None = None, hint: str = ""
    ) -> None:
        where = f"{file}:{line}: " if file and line else (f"{file}: " if file else "")
        super().__init__(where + message, hint=hint)
        self.file = file
        self.line = line
