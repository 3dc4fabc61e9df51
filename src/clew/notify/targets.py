"""One notice for one target, as the HTTP request to send: the payload of
:mod:`clew.notify.payloads` plus what only the target knows — its URL, its credentials (from the
policy's Secret), the signature, and the headers its API asks for.

``build_request`` returns None when the notice means nothing to the target (a commit status for
drift, or for an outcome without a commit), and raises :class:`TargetError` when the target
cannot be served as configured (a Secret key missing, no repository to post a status to). Those
messages never quote a Secret's value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from urllib.parse import quote

from clew import __version__
from clew.model import ClewError
from clew.notify import payloads
from clew.notify.http import HttpRequest
from clew.notify.policy import SECRET_KEYS, Target, TargetType
from clew.notify.repos import (
    UnknownRepository,
    github_repository,
    gitlab_project,
    gitlab_project_id,
)
from clew.report.notices import SyncNotice

__all__ = ["DELIVERY_HEADER", "TargetError", "build_request", "secret_values"]

DELIVERY_HEADER = "X-Clew-Delivery"
EVENT_HEADER = "X-Clew-Event"
USER_AGENT = f"clew/{__version__}"
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


class TargetError(ClewError):
    """The target cannot be served as configured; another attempt would fail the same way."""


def build_request(
    target: Target,
    notice: SyncNotice,
    secret: Mapping[str, str],
    *,
    time: str,
    timestamp: str,
    delivery: str,
) -> HttpRequest | None:
    """The request that tells ``target`` about ``notice``; ``secret`` holds the decoded keys of
    the target's Secret (empty without one), ``time`` (RFC 3339) and ``timestamp`` (unix
    seconds) the moment to report and sign, ``delivery`` an id that stays the same on retries."""
    required, _ = SECRET_KEYS[target.type]
    for key in required:
        if not secret.get(key):
            raise TargetError(f"Secret {target.secret_name} has no key {key!r}")
    headers = {"User-Agent": USER_AGENT, "Content-Type": "application/json"}
    ca_pem = secret.get("ca.crt") or None
    if target.type is TargetType.WEBHOOK:
        url = secret.get("url") or target.url or ""
        body = payloads.encode(payloads.webhook_body(notice, time))
        headers |= {DELIVERY_HEADER: delivery, EVENT_HEADER: notice.kind.value}
        if secret.get("secret"):
            headers[payloads.TIMESTAMP_HEADER] = timestamp
            headers[payloads.SIGNATURE_HEADER] = payloads.sign(
                secret["secret"].encode(), timestamp, body
            )
        return HttpRequest("POST", _http_url(url, target), headers, body, ca_pem)
    if target.type is TargetType.SLACK:
        body = payloads.encode(payloads.slack_message(notice))
        return HttpRequest("POST", _http_url(secret["url"], target), headers, body, ca_pem)
    if not _SHA.fullmatch(notice.revision):
        return None  # nothing was fetched (or not from Git): there is no commit to mark
    if target.type is TargetType.GITHUB:
        status = payloads.github_status(notice, target.target_url)
        if status is None:
            return None
        repo = target.repository or _derived(github_repository, notice)
        path = "/".join(quote(part, safe="") for part in repo.split("/"))
        url = f"{target.api_base}/repos/{path}/statuses/{notice.revision}"
        headers |= {
            "Authorization": f"Bearer {secret['token']}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
    else:
        status = payloads.gitlab_status(notice, target.target_url)
        if status is None:
            return None
        project = target.repository or _derived(gitlab_project, notice)
        url = f"{target.api_base}/projects/{gitlab_project_id(project)}/statuses/{notice.revision}"
        headers["PRIVATE-TOKEN"] = secret["token"]
    return HttpRequest("POST", _http_url(url, target), headers, payloads.encode(status), ca_pem)


def secret_values(secret: Mapping[str, str]) -> list[str]:
    """What must never appear in a log line or a status: every value of the Secret except the CA
    certificate, and the path of a secret URL (Slack's token is its path)."""
    values = [v for k, v in secret.items() if k != "ca.crt" and v]
    for value in list(values):
        if "://" in value:
            path = value.split("://", 1)[1].partition("/")[2]
            if len(path) >= 8:
                values.append(path)
    return sorted(values, key=len, reverse=True)


def _derived(derive: Callable[[str], str], notice: SyncNotice) -> str:
    try:
        return derive(notice.repo_url)
    except UnknownRepository as exc:
        raise TargetError(f"no repository for a commit status: {exc}") from None


def _http_url(url: str, target: Target) -> str:
    if not url.startswith(("https://", "http://")):
        where = "Secret key 'url'" if target.secret_name and not target.url else "url"
        raise TargetError(f"the {where} of target {target.name} is not an http(s) URL")
    return url
