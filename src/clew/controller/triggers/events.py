"""What a webhook receiver hands on: a verified :class:`PushEvent`, an :class:`Ignored` event,
or a :class:`WebhookRejected` error whose ``status`` is the HTTP answer."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar

from clew.model import ClewError
from clew.source.urls import normalize_repo_url

__all__ = [
    "Ignored",
    "Malformed",
    "NotAuthenticated",
    "Provider",
    "PushEvent",
    "RefKind",
    "Replayed",
    "WebhookRejected",
]


class Provider(enum.StrEnum):
    GITHUB = "github"
    GITLAB = "gitlab"
    GENERIC = "generic"


class RefKind(enum.StrEnum):
    BRANCH = "branch"
    TAG = "tag"
    UNKNOWN = "unknown"  # a generic sender named a bare ref ("main"): a branch or a tag


@dataclass(frozen=True, slots=True)
class PushEvent:
    """A verified push: which repository (every URL it is known by, normalised), which ref."""

    provider: Provider
    repo_urls: tuple[str, ...]
    ref: str  # branch or tag name, without refs/heads/ or refs/tags/
    revision: str | None  # the pushed commit; None when the sender did not say or deleted the ref
    delivery: str
    traceparent: str | None = None
    ref_kind: RefKind = RefKind.BRANCH
    pusher: str | None = None

    def matches(self, repo_url: str) -> bool:
        """Whether ``repo_url`` (as an Application spells it) names the pushed repository."""
        try:
            return normalize_repo_url(repo_url) in self.repo_urls
        except ValueError:
            return False


@dataclass(frozen=True, slots=True)
class Ignored:
    """An authenticated event that triggers nothing (a ping, a merge request, a note ref...)."""

    provider: Provider
    event: str
    reason: str

    @property
    def ping(self) -> bool:
        return self.provider is Provider.GITHUB and self.event == "ping"


class WebhookRejected(ClewError):
    """A request refused before anything was triggered. ``status`` is the HTTP answer; the
    message is safe to send back and to log (it never quotes a secret or a signature)."""

    status: ClassVar[int] = 400


class NotAuthenticated(WebhookRejected):
    status = 401


class Malformed(WebhookRejected):
    status = 400


class Replayed(WebhookRejected):
    status = 409
