"""A notice becomes the right request for each target: the webhook POSTs the JSON body to its URL
(from the spec or the Secret), signed only when the Secret has an HMAC key, with a delivery id;
Slack POSTs to the URL in the Secret; GitHub and GitLab statuses go to the API base URL (default
or self-hosted) with the repository derived from the repoURL or overridden, the SHA in the path,
and the token only in its header. Drift and outcomes without a commit send no status;
misconfiguration raises TargetError without quoting a secret, and every secret value (and a
secret URL's path) is listed for redaction."""

from __future__ import annotations

import json

import pytest

from clew.controller.triggers.webhooks import Malformed, Provider, Receiver
from clew.notify.http import HttpRequest
from clew.notify.policy import Target, TargetType
from clew.notify.targets import TargetError, build_request, secret_values
from clew.report.notices import NoticeKind, SyncNotice

SHA = "3f2a9c1b0d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"
NOTICE = SyncNotice(
    NoticeKind.SYNCED,
    "team-a",
    "shop",
    revision=SHA,
    repo_url="git@github.com:org/shop.git",
    reason="Succeeded",
    counts={"created": 1},
)
SLACK_URL = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"
TOKEN = "ghp_0123456789abcdefghij"


def build(
    target: Target, secret: dict[str, str], notice: SyncNotice = NOTICE
) -> HttpRequest | None:
    return build_request(
        target, notice, secret, time="2026-11-26T10:00:00Z", timestamp="1750000000", delivery="d1"
    )


def sent(target: Target, secret: dict[str, str], notice: SyncNotice = NOTICE) -> HttpRequest:
    request = build(target, secret, notice)
    assert request is not None
    return request


def test_webhook_unsigned_to_the_spec_url() -> None:
    request = sent(Target("hook", TargetType.WEBHOOK, url="https://h.example/x"), {})
    assert (request.method, request.url) == ("POST", "https://h.example/x")
    headers = request.headers
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Clew-Delivery"] == "d1"
    assert headers["X-Clew-Event"] == "synced"
    assert "X-Clew-Signature" not in headers
    assert json.loads(request.body)["application"] == "shop"


def test_webhook_signed_with_the_secret_and_url_from_the_secret() -> None:
    secret = {"url": "https://in.example/hook", "secret": "hmac-key"}
    target = Target("hook", TargetType.WEBHOOK, secret_name="hook", url="https://spec.example")
    request = sent(target, secret)
    assert request.url == "https://in.example/hook"
    headers = dict(request.headers)
    assert headers["X-Clew-Timestamp"] == "1750000000"
    receiver = Receiver(Provider.GENERIC, "hmac-key", clock=lambda: 1_750_000_000.0)
    with pytest.raises(Malformed):  # authenticated; not a push
        receiver.receive(headers, request.body)
    assert b"hmac-key" not in request.body


def test_slack_url_comes_from_the_secret_only() -> None:
    request = sent(Target("chat", TargetType.SLACK, secret_name="slack"), {"url": SLACK_URL})
    assert request.url == SLACK_URL
    assert set(json.loads(request.body)) == {"text", "blocks"}
    with pytest.raises(TargetError, match="no key 'url'") as caught:
        build(Target("chat", TargetType.SLACK, secret_name="slack"), {})
    assert "hooks.slack.com" not in str(caught.value)


def test_github_status() -> None:
    target = Target("gh", TargetType.GITHUB, secret_name="gh")
    request = sent(target, {"token": TOKEN})
    assert request.url == f"https://api.github.com/repos/org/shop/statuses/{SHA}"
    headers = request.headers
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Accept"] == "application/vnd.github+json"
    body = json.loads(request.body)
    assert body == {
        "state": "success",
        "context": "clew/team-a/shop",
        "description": body["description"],
    }
    assert TOKEN not in request.body.decode()


def test_github_enterprise_base_and_repository_override() -> None:
    target = Target(
        "gh",
        TargetType.GITHUB,
        secret_name="gh",
        api_url="https://ghe.example.com/api/v3/",
        repository="other/repo",
    )
    request = sent(target, {"token": TOKEN})
    assert request.url == f"https://ghe.example.com/api/v3/repos/other/repo/statuses/{SHA}"


def test_gitlab_status() -> None:
    notice = SyncNotice(
        NoticeKind.FAILED,
        "team-a",
        "shop",
        revision=SHA,
        repo_url="https://gitlab.example.com/group/sub/shop.git",
        reason="RenderFailed",
        message="bad",
    )
    target = Target(
        "gl", TargetType.GITLAB, secret_name="gl", api_url="https://gitlab.example.com/api/v4"
    )
    request = sent(target, {"token": "glpat-secret"}, notice)
    assert request.url == (
        f"https://gitlab.example.com/api/v4/projects/group%2Fsub%2Fshop/statuses/{SHA}"
    )
    assert request.headers["PRIVATE-TOKEN"] == "glpat-secret"
    assert "Authorization" not in request.headers
    body = json.loads(request.body)
    assert (body["state"], body["name"]) == ("failed", "clew/team-a/shop")


@pytest.mark.parametrize("kind", [TargetType.GITHUB, TargetType.GITLAB])
def test_no_status_for_drift_or_without_a_commit(kind: TargetType) -> None:
    target = Target("forge", kind, secret_name="s", repository="org/shop")
    drift = SyncNotice(NoticeKind.DRIFT_CORRECTED, "team-a", "shop", revision=SHA)
    assert build(target, {"token": "t"}, drift) is None
    fetch_failed = SyncNotice(NoticeKind.FAILED, "team-a", "shop", reason="FetchFailed")
    assert build(target, {"token": "t"}, fetch_failed) is None
    local = SyncNotice(NoticeKind.SYNCED, "team-a", "shop", revision="local:abc123")
    assert build(target, {"token": "t"}, local) is None


def test_misconfiguration_is_a_target_error() -> None:
    with pytest.raises(TargetError, match="no key 'token'"):
        build(Target("gh", TargetType.GITHUB, secret_name="gh"), {"url": "x"})
    local_repo = SyncNotice(NoticeKind.SYNCED, "a", "b", revision=SHA, repo_url="/srv/git/shop")
    with pytest.raises(TargetError, match="no repository"):
        build(Target("gh", TargetType.GITHUB, secret_name="gh"), {"token": "t"}, local_repo)
    with pytest.raises(TargetError, match="not an http"):
        build(Target("chat", TargetType.SLACK, secret_name="s"), {"url": "ftp://x/secret-path"})


def test_secret_values_cover_tokens_and_secret_url_paths() -> None:
    values = secret_values({"url": SLACK_URL, "token": TOKEN, "ca.crt": "-----BEGIN…", "empty": ""})
    assert SLACK_URL in values
    assert TOKEN in values
    assert "services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX" in values
    assert "-----BEGIN…" not in values
    assert "" not in values
    assert values == sorted(values, key=len, reverse=True)  # longest first, for replacing
