"""What each target is sent, as pure functions of a :class:`SyncNotice`: the generic JSON body,
the Slack message, and GitHub and GitLab commit statuses; and the HMAC signature of the generic
body. Golden JSON fixtures in tests/unit/fixtures/notify pin every shape.

Nothing here sees a secret: URLs and tokens are added by :mod:`clew.notify.targets` as headers
or the request URL, and the repository URL is sent without any credentials written into it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from clew.report.notices import NoticeKind, SyncNotice

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "commit_state",
    "encode",
    "github_status",
    "gitlab_status",
    "public_repo_url",
    "sign",
    "slack_message",
    "status_context",
    "webhook_body",
]

SIGNATURE_HEADER = "X-Clew-Signature"
TIMESTAMP_HEADER = "X-Clew-Timestamp"
_MESSAGE_MAX = 4000  # in the generic body
_SLACK_TEXT_MAX = 2900  # a section's text may hold 3000 characters
_GITHUB_DESCRIPTION_MAX = 140
_GITLAB_DESCRIPTION_MAX = 255

_TITLES = {
    NoticeKind.SYNCED: (":white_check_mark:", "Synced"),
    NoticeKind.FAILED: (":x:", "Sync failed"),
    NoticeKind.HEALTH_DEGRADED: (":warning:", "Health degraded"),
    NoticeKind.DRIFT_CORRECTED: (":wrench:", "Drift corrected"),
    NoticeKind.ROLLBACK: (":rewind:", "Rolled back"),
}

# A commit status says how the commit's deployment went. Self-heal keeps the commit deployed and
# changes nothing about it, so drift has no status.
_GITHUB_STATES = {
    NoticeKind.SYNCED: "success",
    NoticeKind.ROLLBACK: "success",
    NoticeKind.FAILED: "failure",
    NoticeKind.HEALTH_DEGRADED: "failure",
}
_GITLAB_STATES = {
    NoticeKind.SYNCED: "success",
    NoticeKind.ROLLBACK: "success",
    NoticeKind.FAILED: "failed",
    NoticeKind.HEALTH_DEGRADED: "failed",
}


def encode(body: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON: the exact bytes that are sent (and signed)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 over ``<timestamp>.<body>``, as clew's generic receiver
    verifies it (:mod:`clew.controller.triggers.webhooks`)."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def webhook_body(notice: SyncNotice, time: str) -> dict[str, Any]:
    """The generic JSON body; ``time`` (RFC 3339) is when the outcome was observed."""
    body: dict[str, Any] = {
        "application": notice.name,
        "namespace": notice.namespace,
        "kind": notice.kind.value,
        "revision": notice.revision,
        "reason": notice.reason,
        "message": _truncate(notice.message, _MESSAGE_MAX),
        "counts": dict(sorted(notice.counts.items())),
        "commit": {"subject": notice.commit_subject, "author": notice.commit_author},
        "objects": list(notice.objects),
        "repoURL": public_repo_url(notice.repo_url),
        "time": time,
    }
    if notice.trace_id:
        body["traceId"] = notice.trace_id
    return body


def slack_message(notice: SyncNotice) -> dict[str, Any]:
    """A Slack incoming-webhook message: ``text`` (the notification's fallback) and blocks."""
    emoji, title = _TITLES[notice.kind]
    app = f"{notice.namespace}/{notice.name}"
    at = f" at `{notice.revision[:12]}`" if notice.revision else ""
    blocks: list[dict[str, Any]] = [_mrkdwn_section(f"{emoji} *{title}*: `{app}`{at}")]
    if notice.message:
        blocks.append(_mrkdwn_section(_truncate(_escape(notice.message), _SLACK_TEXT_MAX)))
    context = [f"*{_escape(notice.reason)}*"] if notice.reason else []
    if notice.commit_subject:
        context.append(_escape(notice.commit_subject))
    if notice.commit_author:
        context.append(_escape(notice.commit_author))
    if notice.counts:
        context.append(_counts(notice.counts))
    if context:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": _truncate(" · ".join(context), _SLACK_TEXT_MAX)}
                ],
            }
        )
    text = f"{emoji} {title}: {app}" + (f" at {notice.revision[:12]}" if notice.revision else "")
    if notice.reason and notice.kind in (NoticeKind.FAILED, NoticeKind.HEALTH_DEGRADED):
        text += f" ({_escape(notice.reason)})"
    return {"text": text, "blocks": blocks}


def status_context(notice: SyncNotice) -> str:
    """The commit status context (GitHub) or name (GitLab): one per Application."""
    return f"clew/{notice.namespace}/{notice.name}"


def commit_state(notice: SyncNotice, provider: str) -> str | None:
    """The status state for ``provider`` (github or gitlab); None: this notice sets none."""
    states = _GITHUB_STATES if provider == "github" else _GITLAB_STATES
    return states.get(notice.kind)


def github_status(notice: SyncNotice, target_url: str | None = None) -> dict[str, Any] | None:
    """The body of ``POST /repos/{owner}/{repo}/statuses/{sha}``; None for drift."""
    state = commit_state(notice, "github")
    if state is None:
        return None
    body = {
        "state": state,
        "context": status_context(notice),
        "description": _truncate(_description(notice), _GITHUB_DESCRIPTION_MAX),
    }
    if target_url:
        body["target_url"] = _expand(target_url, notice)
    return body


def gitlab_status(notice: SyncNotice, target_url: str | None = None) -> dict[str, Any] | None:
    """The body of ``POST /projects/{id}/statuses/{sha}``; None for drift."""
    state = commit_state(notice, "gitlab")
    if state is None:
        return None
    body = {
        "state": state,
        "name": status_context(notice),
        "description": _truncate(_description(notice), _GITLAB_DESCRIPTION_MAX),
    }
    if target_url:
        body["target_url"] = _expand(target_url, notice)
    return body


def public_repo_url(url: str) -> str:
    """``url`` without credentials someone may have written into it (``https://u:t@host/...``)."""
    if "://" not in url:
        return url  # scp-like: git@host:path names a user, never a password
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, ""))


def _description(notice: SyncNotice) -> str:
    if notice.kind is NoticeKind.SYNCED:
        return f"Synced: {_counts(notice.counts)}"
    if notice.kind is NoticeKind.ROLLBACK:
        return f"Rolled back to this revision: {_counts(notice.counts)}"
    first_line = notice.message.strip().splitlines()[0] if notice.message.strip() else ""
    return f"{notice.reason}: {first_line}" if first_line else notice.reason


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts.get(a, 0)} {a}" for a in ("created", "configured", "deleted"))


def _expand(template: str, notice: SyncNotice) -> str:
    """``{namespace}``, ``{name}`` and ``{revision}`` in a target URL (plain replacement: any
    other braces are left alone)."""
    return (
        template.replace("{namespace}", notice.namespace)
        .replace("{name}", notice.name)
        .replace("{revision}", notice.revision)
    )


def _mrkdwn_section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _escape(text: str) -> str:
    """Slack's three control characters (it reads ``<...>`` as links and mentions)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
