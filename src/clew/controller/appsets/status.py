"""An ApplicationSet's status, as a pure function of what one reconcile found and did.

Ready=True ``Succeeded`` when every generated Application is as the policy wants it; else
Ready=False with one reason: ``InvalidSpec``, ``FetchFailed`` (Git), ``GeneratorFailed``,
``TemplateFailed`` (nothing was created, changed or deleted for those), or ``ApplyFailed``
(some Applications could not be written, or exist without belonging to the set).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from clew.controller.api.appset_crd import APPLICATIONS_MAX
from clew.controller.api.fields import InvalidSpec
from clew.controller.appsets.templating import TemplateError
from clew.model import ClewError, Reason, SourceError
from clew.report.conditions import set_condition

__all__ = ["APPLICATIONS_MAX", "Done", "failed_reason", "status"]


@dataclass(slots=True)
class Done:
    """What one successful generation led to."""

    names: list[str]
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # "name: error"
    conflicts: list[str] = field(default_factory=list)

    def message(self) -> str:
        parts = [f"{len(self.names)} Applications"]
        for label, names in (
            ("created", self.created),
            ("updated", self.updated),
            ("deleted", self.deleted),
        ):
            if names:
                parts.append(f"{label} {_list(names)}")
        if self.conflicts:
            parts.append(f"not owned by this set, left alone: {_list(self.conflicts)}")
        if self.failed:
            parts.append(f"failed: {'; '.join(self.failed[:5])}")
        return "; ".join(parts)


def _list(names: list[str]) -> str:
    shown = ", ".join(names[:10])
    return shown + (f" and {len(names) - 10} more" if len(names) > 10 else "")


def failed_reason(exc: BaseException) -> Reason:
    if isinstance(exc, InvalidSpec):
        return Reason.INVALID_SPEC
    if isinstance(exc, SourceError):
        return Reason.FETCH_FAILED
    if isinstance(exc, TemplateError):
        return Reason.TEMPLATE_FAILED
    if isinstance(exc, ClewError):
        return Reason.GENERATOR_FAILED
    return Reason.RECONCILE_ERROR


def status(
    obj: Mapping[str, Any],
    *,
    done: Done | None = None,
    error: BaseException | None = None,
    now: str | None = None,
) -> dict[str, Any]:
    """The status to write: after ``done``, or after ``error`` (the list of Applications from
    the last good generation stays, as nothing was changed)."""
    previous = dict(obj.get("status") or {})
    generation = int((obj.get("metadata") or {}).get("generation") or 0)
    conditions = list(previous.get("conditions") or [])
    out: dict[str, Any] = {"observedGeneration": generation}
    if done is not None:
        ok = not done.failed and not done.conflicts
        reason = Reason.SUCCEEDED if ok else Reason.APPLY_FAILED
        message = done.message()
        out["applications"] = sorted(done.names)[:APPLICATIONS_MAX]
        out["applicationCount"] = len(done.names)
    else:
        ok = False
        reason = failed_reason(error) if error is not None else Reason.RECONCILE_ERROR
        message = f"{error}; no Application was created, changed or deleted"
    out["conditions"] = set_condition(conditions, "Ready", ok, reason, message, generation, now)
    return out
