"""``{{param}}`` substitution in an ApplicationSet's template, as Argo CD's fasttemplate mode.

Every string value of the template (never a key) may hold ``{{name}}`` placeholders, spaces
inside the braces allowed (``{{ path.basename }}``). Unlike Argo CD, a placeholder naming no
parameter is an error, not left in place: a half-filled Application is worse than none, and the
error stops the set before anything is created or deleted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from clew.model import ClewError

__all__ = ["TemplateError", "fill"]

_PLACEHOLDER = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")


class TemplateError(ClewError):
    """A template names a parameter no generator gives. Permanent: the set must change."""

    retryable = False


def fill(template: Any, params: Mapping[str, str], where: str = "spec.template") -> Any:
    """A copy of ``template`` with each placeholder replaced by its parameter."""
    if isinstance(template, str):
        return _string(template, params, where)
    if isinstance(template, Mapping):
        return {k: fill(v, params, f"{where}.{k}") for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, params, f"{where}[{i}]") for i, v in enumerate(template)]
    return template


def _string(text: str, params: Mapping[str, str], where: str) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in params:
            known = ", ".join(sorted(params)) or "none"
            raise TemplateError(
                f"{where}: no parameter {name!r} (the generator gives: {known})",
                hint="fix the placeholder or the generator",
            )
        return params[name]

    return _PLACEHOLDER.sub(one, text)
