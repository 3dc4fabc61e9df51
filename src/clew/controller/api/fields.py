"""Reading one field of an Application at a time: each getter checks what the CRD schema checks
and raises :class:`InvalidSpec` naming the field as the API server would (``spec.retry.maxDelay``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from clew.model import ClewError
from clew.model.duration import parse_duration

__all__ = [
    "DURATION_MAX",
    "ESCAPING_PATH_RE",
    "REPO_PATH_MAX",
    "Fields",
    "InvalidSpec",
    "check_repo_path",
    "check_string",
    "type_name",
]

ESCAPING_PATH_RE = r"(^|/)[.][.](/|$)"
REPO_PATH_MAX = 1024
DURATION_MAX = 32


class InvalidSpec(ClewError):
    """An Application does not match its schema; ``field`` is the path, as the API server names
    it (``spec.dependsOn[1].name``). Permanent: only a change to the Application helps."""

    retryable = False

    def __init__(self, message: str, *, field: str = "", hint: str = "") -> None:
        super().__init__(f"{field}: {message}" if field else message, hint=hint)
        self.field = field


class Fields:
    """One mapping of the document and its path. The getters raise :class:`InvalidSpec` naming
    the field. A null value counts as absent, as the API server treats nulls in defaulted fields.
    """

    def __init__(self, data: Mapping[str, Any], path: str, *, present: bool = True) -> None:
        self.data = data
        self.path = path
        self.present = present

    @classmethod
    def of(cls, value: Any, path: str) -> Fields:
        if not isinstance(value, Mapping):
            raise InvalidSpec(f"must be a mapping, not {type_name(value)}", field=path)
        return cls(value, path)

    def child(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def only(self, *known: str) -> None:
        for key in self.data:
            if key not in known:
                raise InvalidSpec(
                    f"unknown field (known: {', '.join(known)})", field=self.child(str(key))
                )

    def mapping(self, key: str, *, required: bool = False) -> Fields:
        value = self.data.get(key)
        if value is None:
            if required:
                raise InvalidSpec("required", field=self.child(key))
            return Fields({}, self.child(key), present=False)
        return Fields.of(value, self.child(key))

    def items(self, key: str, *, max_items: int) -> list[tuple[Any, str]]:
        """The list's items with their paths (``spec.dependsOn[2]``)."""
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise InvalidSpec(f"must be a list, not {type_name(value)}", field=self.child(key))
        if len(value) > max_items:
            raise InvalidSpec(f"must have at most {max_items} items", field=self.child(key))
        return [(item, f"{self.child(key)}[{i}]") for i, item in enumerate(value)]

    def string(
        self,
        key: str,
        *,
        pattern: str | None = None,
        max_length: int | None = None,
        choices: Sequence[str] | None = None,
    ) -> str | None:
        value = self.data.get(key)
        if value is None:
            return None
        return check_string(
            value, self.child(key), pattern=pattern, max_length=max_length, choices=choices
        )

    def required_string(
        self, key: str, *, pattern: str | None = None, max_length: int | None = None
    ) -> str:
        return check_string(
            self.data.get(key),
            self.child(key),
            required=True,
            pattern=pattern,
            max_length=max_length,
        )

    def repo_path(self, key: str) -> str | None:
        value = self.string(key, max_length=REPO_PATH_MAX)
        return None if value is None else check_repo_path(value, self.child(key))

    def boolean(self, key: str, default: bool) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise InvalidSpec(
                f"must be true or false, not {type_name(value)}", field=self.child(key)
            )
        return value

    def duration(self, key: str, default: str) -> float:
        text = self.string(key, max_length=DURATION_MAX)
        try:
            seconds = parse_duration(default if text is None else text)
        except ValueError as exc:
            raise InvalidSpec(str(exc), field=self.child(key)) from None
        if seconds <= 0:
            raise InvalidSpec("must be longer than zero", field=self.child(key))
        return seconds


def check_string(
    value: Any,
    path: str,
    *,
    required: bool = False,
    pattern: str | None = None,
    max_length: int | None = None,
    choices: Sequence[str] | None = None,
) -> str:
    """Check one string value. Every string of the spec is non-empty (``minLength: 1``): an empty
    string is not absent, the server would store it instead of the default."""
    if value is None and required:
        raise InvalidSpec("required", field=path)
    if not isinstance(value, str):
        raise InvalidSpec(f"must be a string, not {type_name(value)}", field=path)
    if not value:
        raise InvalidSpec("must not be empty", field=path)
    if max_length is not None and len(value) > max_length:
        raise InvalidSpec(f"must be at most {max_length} characters", field=path)
    if choices is not None and value not in choices:
        raise InvalidSpec(f"{value!r} is not one of: {', '.join(choices)}", field=path)
    if pattern is not None and not re.fullmatch(pattern, value):
        raise InvalidSpec(f"{value!r} does not match ^{pattern}$", field=path)
    return value


def check_repo_path(value: str, path: str) -> str:
    if value.startswith("/") or re.search(ESCAPING_PATH_RE, value):
        raise InvalidSpec(
            f"{value!r} must be a relative path inside the repository (no leading / or ..)",
            field=path,
        )
    return value


def type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )
