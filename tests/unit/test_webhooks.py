"""Webhook verification is exact: each provider accepts only a correctly signed (or tokened)
request, tells pings and other events apart from pushes, refuses replays by delivery id and by
signature, rejects malformed bodies, and yields a PushEvent with normalised repository URLs, the
short ref, the pushed revision and a valid trace context. Repository URL normalisation and
traceparent parsing are checked against tables."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlencode

import pytest

from clew.controller.triggers.payloads import parse_traceparent
from clew.controller.triggers.webhooks import (
    Ignored,
    Malformed,
    NotAuthenticated,
    Provider,
    PushEvent,
    Receiver,
    RefKind,
    Replayed,
    ReplayGuard,
)
from clew.source.urls import normalize_repo_url

SECRET = "It's a Secret to Everybody"
SHA = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
NOW = 1_750_000_000.0


def sign(message: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


# -- GitHub -------------------------------------------------------------------------------------


def github_push(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "ref": "refs/heads/main",
        "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        "after": SHA,
        "repository": {
            "full_name": "Org/Shop",
            "html_url": "https://github.com/Org/Shop",
            "clone_url": "https://github.com/Org/Shop.git",
            "ssh_url": "git@github.com:Org/Shop.git",
            "git_url": "git://github.com/Org/Shop.git",
            "pushed_at": 1750000000,
        },
        "pusher": {"name": "ada", "email": "ada@example.com"},
        "sender": {"login": "ada"},
    }
    payload.update(overrides)
    return payload


def github_headers(body: bytes, event: str = "push", delivery: str = "d-1") -> dict[str, str]:
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign(body),
        "Content-Type": "application/json",
        "traceparent": TRACEPARENT,
    }


def github() -> Receiver:
    return Receiver(Provider.GITHUB, SECRET)


def test_github_push_yields_event() -> None:
    body = json.dumps(github_push()).encode()
    event = github().receive(github_headers(body), body)
    assert event == PushEvent(
        provider=Provider.GITHUB,
        repo_urls=("github.com/Org/Shop",),
        ref="main",
        revision=SHA,
        delivery="d-1",
        traceparent=TRACEPARENT,
        ref_kind=RefKind.BRANCH,
        pusher="ada",
    )
    assert event.matches("git@github.com:Org/Shop.git")
    assert event.matches("https://GitHub.com/Org/Shop/")
    assert not event.matches("https://github.com/Org/Other.git")


def test_github_signature_matches_githubs_documented_example() -> None:
    # https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert sign(b"Hello, World!") == expected


def test_github_tag_push_and_deleted_branch() -> None:
    body = json.dumps(github_push(ref="refs/tags/v1.2.0")).encode()
    event = github().receive(github_headers(body), body)
    assert isinstance(event, PushEvent)
    assert (event.ref, event.ref_kind) == ("v1.2.0", RefKind.TAG)

    body = json.dumps(github_push(after="0" * 40, deleted=True)).encode()
    event = github().receive(github_headers(body), body)
    assert isinstance(event, PushEvent)
    assert event.revision is None


def test_github_form_encoded_payload() -> None:
    body = urlencode({"payload": json.dumps(github_push())}).encode()
    headers = github_headers(body) | {"Content-Type": "application/x-www-form-urlencoded"}
    event = github().receive(headers, body)
    assert isinstance(event, PushEvent)
    assert event.repo_urls == ("github.com/Org/Shop",)


def test_github_ping_is_ignored_after_authentication() -> None:
    body = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
    result = github().receive(github_headers(body, event="ping"), body)
    assert isinstance(result, Ignored)
    assert result.ping

    with pytest.raises(NotAuthenticated):
        github().receive(github_headers(body, event="ping") | {"X-Hub-Signature-256": ""}, body)


def test_github_other_events_and_refs_are_ignored() -> None:
    body = json.dumps({"action": "opened"}).encode()
    result = github().receive(github_headers(body, event="pull_request"), body)
    assert isinstance(result, Ignored)
    assert not result.ping

    body = json.dumps(github_push(ref="refs/pull/7/head")).encode()
    assert isinstance(github().receive(github_headers(body), body), Ignored)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"X-Hub-Signature-256": None}, "missing"),
        ({"X-Hub-Signature-256": sign(b"{}", "wrong secret")}, "does not match"),
        ({"X-Hub-Signature-256": "sha1=abc"}, "sha256="),
        ({"X-Hub-Signature-256": "sha256="}, "sha256="),
    ],
)
def test_github_refuses_bad_signatures(change: dict[str, str | None], message: str) -> None:
    body = json.dumps(github_push()).encode()
    headers = {k: v for k, v in (github_headers(body) | change).items() if v is not None}
    with pytest.raises(NotAuthenticated, match=message):
        github().receive(headers, body)


def test_github_refuses_wrong_secret_and_tampered_body() -> None:
    body = json.dumps(github_push()).encode()
    with pytest.raises(NotAuthenticated):
        Receiver(Provider.GITHUB, "another secret").receive(github_headers(body), body)
    tampered = body.replace(b"Shop", b"Evil")
    with pytest.raises(NotAuthenticated):
        github().receive(github_headers(body), tampered)


def test_github_signature_header_is_matched_case_insensitively() -> None:
    body = json.dumps(github_push()).encode()
    headers = {k.lower(): v for k, v in github_headers(body).items()}
    assert isinstance(github().receive(headers, body), PushEvent)


def test_github_replays_are_refused_by_delivery_and_by_signature() -> None:
    receiver = github()
    body = json.dumps(github_push()).encode()
    receiver.receive(github_headers(body, delivery="d-1"), body)
    with pytest.raises(Replayed):
        receiver.receive(github_headers(body, delivery="d-1"), body)
    # the same signed body under a fresh delivery id is still the same push, and says which
    with pytest.raises(Replayed, match=r"^delivery d-2 repeats delivery d-1, already received$"):
        receiver.receive(github_headers(body, delivery="d-2"), body)
    # a different push reusing an old delivery id is refused too
    other = json.dumps(github_push(after="a" * 40)).encode()
    with pytest.raises(Replayed, match=r"^delivery d-1 was already received$"):
        receiver.receive(github_headers(other, delivery="d-1"), other)
    assert isinstance(receiver.receive(github_headers(other, delivery="d-3"), other), PushEvent)


def test_release_lets_a_failed_delivery_be_redelivered() -> None:
    receiver = github()
    body = json.dumps(github_push()).encode()
    headers = github_headers(body)
    receiver.receive(headers, body)
    receiver.release(headers)
    assert isinstance(receiver.receive(headers, body), PushEvent)


def test_unauthenticated_replay_does_not_poison_the_delivery_id() -> None:
    receiver = github()
    body = json.dumps(github_push()).encode()
    forged = github_headers(body) | {"X-Hub-Signature-256": sign(body, "guess")}
    with pytest.raises(NotAuthenticated):
        receiver.receive(forged, body)
    assert isinstance(receiver.receive(github_headers(body), body), PushEvent)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b"\xff\xfe\x00", "not valid JSON"),
        (json.dumps(github_push(ref=None)).encode(), "ref"),
        (json.dumps(github_push(repository={})).encode(), "repository URL"),
        (json.dumps(github_push(after="not-a-sha")).encode(), "commit id"),
    ],
)
def test_github_malformed_push(body: bytes, message: str) -> None:
    with pytest.raises(Malformed, match=message):
        github().receive(github_headers(body), body)


def test_github_push_needs_event_and_delivery_headers() -> None:
    body = json.dumps(github_push()).encode()
    headers = github_headers(body)
    del headers["X-GitHub-Delivery"]
    with pytest.raises(Malformed, match="x-github-delivery"):
        github().receive(headers, body)
    del headers["X-GitHub-Event"]
    with pytest.raises(Malformed, match="x-github-event"):
        github().receive(headers, body)


# -- GitLab -------------------------------------------------------------------------------------


def gitlab_push(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "object_kind": "push",
        "ref": "refs/heads/main",
        "before": "95790bf891e76fee5e1747ab589903a6a1f80f22",
        "after": SHA,
        "checkout_sha": SHA,
        "user_username": "jsmith",
        "project": {
            "path_with_namespace": "group/shop",
            "web_url": "https://gitlab.example.com/group/shop",
            "git_ssh_url": "ssh://git@gitlab.example.com:2222/group/shop.git",
            "git_http_url": "https://gitlab.example.com/group/shop.git",
        },
        "repository": {
            "homepage": "https://gitlab.example.com/group/shop",
            "git_http_url": "https://gitlab.example.com/group/shop.git",
            "git_ssh_url": "ssh://git@gitlab.example.com:2222/group/shop.git",
        },
    }
    payload.update(overrides)
    return payload


def gitlab_headers(event: str = "Push Hook", delivery: str = "u-1") -> dict[str, str]:
    return {"X-Gitlab-Event": event, "X-Gitlab-Token": SECRET, "X-Gitlab-Event-UUID": delivery}


def gitlab() -> Receiver:
    return Receiver(Provider.GITLAB, SECRET)


def test_gitlab_push_yields_event() -> None:
    body = json.dumps(gitlab_push()).encode()
    event = gitlab().receive(gitlab_headers(), body)
    assert isinstance(event, PushEvent)
    assert event.repo_urls == (
        "gitlab.example.com/group/shop",
        "gitlab.example.com:2222/group/shop",
    )
    assert (event.ref, event.ref_kind, event.revision) == ("main", RefKind.BRANCH, SHA)
    assert (event.delivery, event.pusher, event.traceparent) == ("u-1", "jsmith", None)


def test_gitlab_tag_push_and_deleted_tag() -> None:
    payload = gitlab_push(object_kind="tag_push", ref="refs/tags/v2", checkout_sha=None)
    payload["after"] = "0" * 40
    body = json.dumps(payload).encode()
    event = gitlab().receive(gitlab_headers("Tag Push Hook"), body)
    assert isinstance(event, PushEvent)
    assert (event.ref, event.ref_kind, event.revision) == ("v2", RefKind.TAG, None)


@pytest.mark.parametrize("token", [None, "", "wrong", SECRET + "x", SECRET[:-1]])
def test_gitlab_refuses_bad_token(token: str | None) -> None:
    headers = gitlab_headers()
    if token is None:
        del headers["X-Gitlab-Token"]
    else:
        headers["X-Gitlab-Token"] = token
    with pytest.raises(NotAuthenticated):
        gitlab().receive(headers, json.dumps(gitlab_push()).encode())


def test_gitlab_other_events_are_ignored() -> None:
    body = json.dumps({"object_kind": "merge_request"}).encode()
    result = gitlab().receive(gitlab_headers("Merge Request Hook"), body)
    assert isinstance(result, Ignored)
    assert not result.ping


def test_gitlab_replay_and_malformed() -> None:
    receiver = gitlab()
    body = json.dumps(gitlab_push()).encode()
    receiver.receive(gitlab_headers(delivery="u-1"), body)
    with pytest.raises(Replayed):
        receiver.receive(gitlab_headers(delivery="u-1"), body)
    with pytest.raises(Malformed, match="not valid JSON"):
        receiver.receive(gitlab_headers(delivery="u-2"), b"{")
    with pytest.raises(Malformed, match="object_kind"):
        receiver.receive(gitlab_headers("Tag Push Hook", "u-3"), body)


# -- generic ------------------------------------------------------------------------------------


def generic_request(
    payload: dict[str, Any] | bytes,
    *,
    timestamp: float = NOW,
    delivery: str = "g-1",
    secret: str = SECRET,
) -> tuple[dict[str, str], bytes]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    stamp = str(int(timestamp))
    headers = {
        "X-Clew-Timestamp": stamp,
        "X-Clew-Signature": sign(stamp.encode() + b"." + body, secret),
        "X-Clew-Delivery": delivery,
        "traceparent": TRACEPARENT,
    }
    return headers, body


def generic() -> Receiver:
    return Receiver(Provider.GENERIC, SECRET, clock=lambda: NOW)


def test_generic_push_yields_event() -> None:
    payload = {"repository": "git@git.example.com:org/shop.git", "ref": "main", "revision": SHA}
    event = generic().receive(*generic_request(payload))
    assert event == PushEvent(
        provider=Provider.GENERIC,
        repo_urls=("git.example.com/org/shop",),
        ref="main",
        revision=SHA,
        delivery="g-1",
        traceparent=TRACEPARENT,
        ref_kind=RefKind.UNKNOWN,
    )


def test_generic_full_refs_and_optional_revision() -> None:
    payload = {
        "repository": ["https://a.example/x.git", "ssh://b.example/x"],
        "ref": "refs/tags/v3",
    }
    event = generic().receive(*generic_request(payload))
    assert isinstance(event, PushEvent)
    assert event.repo_urls == ("a.example/x", "b.example/x")
    assert (event.ref, event.ref_kind, event.revision) == ("v3", RefKind.TAG, None)


@pytest.mark.parametrize(
    ("offset", "message"),
    [(-301, "old"), (301, "future"), (-3600, "old")],
)
def test_generic_refuses_timestamps_out_of_window(offset: float, message: str) -> None:
    payload = {"repository": "https://git.example.com/org/shop", "ref": "main"}
    with pytest.raises(NotAuthenticated, match=message):
        generic().receive(*generic_request(payload, timestamp=NOW + offset))


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_generic_accepts_timestamps_in_window(offset: float) -> None:
    payload = {"repository": "https://git.example.com/org/shop", "ref": "main"}
    assert isinstance(
        generic().receive(*generic_request(payload, timestamp=NOW + offset)), PushEvent
    )


def test_generic_signature_covers_the_timestamp() -> None:
    payload = {"repository": "https://git.example.com/org/shop", "ref": "main"}
    headers, body = generic_request(payload, timestamp=NOW - 1000)
    headers["X-Clew-Timestamp"] = str(int(NOW))  # freshen the stamp, keep the old signature
    with pytest.raises(NotAuthenticated, match="does not match"):
        generic().receive(headers, body)


@pytest.mark.parametrize("missing", ["X-Clew-Timestamp", "X-Clew-Signature"])
def test_generic_refuses_missing_headers(missing: str) -> None:
    headers, body = generic_request({"repository": "https://x.example/r", "ref": "main"})
    del headers[missing]
    with pytest.raises(NotAuthenticated, match="missing"):
        generic().receive(headers, body)


def test_generic_refuses_wrong_secret_tampered_body_and_bad_timestamp() -> None:
    payload = {"repository": "https://x.example/r", "ref": "main"}
    with pytest.raises(NotAuthenticated):
        generic().receive(*generic_request(payload, secret="wrong"))
    headers, body = generic_request(payload)
    with pytest.raises(NotAuthenticated):
        generic().receive(headers, body.replace(b"x.example", b"y.example"))
    headers["X-Clew-Timestamp"] = "soon"
    with pytest.raises(NotAuthenticated, match="unix seconds"):
        generic().receive(headers, body)


def test_generic_replay_within_the_window_is_refused() -> None:
    receiver = generic()
    payload = {"repository": "https://x.example/r", "ref": "main"}
    receiver.receive(*generic_request(payload, delivery="g-1"))
    with pytest.raises(Replayed):
        receiver.receive(*generic_request(payload, delivery="g-1"))
    # same signed request, fresh unsigned delivery id: named after the original
    with pytest.raises(Replayed, match="delivery g-2 repeats delivery g-1"):
        receiver.receive(*generic_request(payload, delivery="g-2"))
    later = generic_request(payload, timestamp=NOW - 1, delivery="g-3")
    assert isinstance(receiver.receive(*later), PushEvent)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"not json", "not valid JSON"),
        (b'"a string"', "JSON object"),
        ({"ref": "main"}, "repository"),
        ({"repository": 7, "ref": "main"}, "repository"),
        ({"repository": "https://x.example/r"}, "ref"),
        ({"repository": "https://x.example/r", "ref": "refs/notes/x"}, "neither"),
        ({"repository": "https://x.example/r", "ref": "main", "revision": "HEAD"}, "commit id"),
        ({"repository": "", "ref": "main"}, "repository URL"),
    ],
)
def test_generic_malformed(payload: dict[str, Any] | bytes, message: str) -> None:
    with pytest.raises(Malformed, match=message):
        generic().receive(*generic_request(payload))


def test_generic_needs_a_delivery_id() -> None:
    headers, body = generic_request({"repository": "https://x.example/r", "ref": "main"})
    del headers["X-Clew-Delivery"]
    with pytest.raises(Malformed, match="x-clew-delivery"):
        generic().receive(headers, body)


def test_receiver_needs_a_secret_and_never_shows_it() -> None:
    with pytest.raises(ValueError, match="secret"):
        Receiver(Provider.GITHUB, "")
    assert SECRET not in repr(github())


# -- replay guard -------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_replay_guard_forgets_after_ttl() -> None:
    clock = Clock()
    guard = ReplayGuard(ttl=3600, clock=clock)
    assert guard.admit(["a"])
    clock.now = 3599
    assert not guard.admit(["a"])
    clock.now = 3600
    assert guard.admit(["a"])
    assert len(guard) == 1


def test_replay_guard_is_bounded_oldest_first() -> None:
    guard = ReplayGuard(capacity=3, clock=Clock())
    for key in "abcd":
        assert guard.admit([key])
    assert len(guard) == 3
    assert guard.admit(["a"])  # evicted, so admitted again
    assert not guard.admit(["d"])


def test_replay_guard_refuses_when_any_key_was_seen() -> None:
    guard = ReplayGuard(clock=Clock())
    assert guard.admit(["delivery:1", "signature:x"])
    assert not guard.admit(["delivery:2", "signature:x"])
    assert guard.admit(["delivery:2", "signature:y"])


def test_replay_guard_remembers_the_original_delivery() -> None:
    guard = ReplayGuard(clock=Clock())
    assert guard.admit(["delivery:1", "signature:x"], "1")
    assert not guard.admit(["delivery:2", "signature:x"], "2")
    assert guard.original(["delivery:2", "signature:x"]) == "1"
    assert guard.original(["delivery:3"]) == ""


# -- URLs and trace context ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("https://host/org/repo.git", "host/org/repo"),
        ("https://host/org/repo", "host/org/repo"),
        ("https://host/org/repo/", "host/org/repo"),
        ("https://host/org/repo.git/", "host/org/repo"),
        ("ssh://git@host/org/repo.git", "host/org/repo"),
        ("git@host:org/repo.git", "host/org/repo"),
        ("host:org/repo", "host/org/repo"),
        ("git@host:/org/repo.git", "host/org/repo"),
        ("git://host/org/repo.git", "host/org/repo"),
        ("git+ssh://git@host/org/repo", "host/org/repo"),
        ("HTTPS://User:Token@GitHub.COM/Org/Repo.git", "github.com/Org/Repo"),
        ("https://host:443/org/repo", "host/org/repo"),
        ("http://host:80/org/repo", "host/org/repo"),
        ("ssh://git@host:22/org/repo.git", "host/org/repo"),
        ("ssh://git@host:2222/org/repo.git", "host:2222/org/repo"),
        ("https://host:8443/org/repo", "host:8443/org/repo"),
        ("http://127.0.0.1:38211/git/shop.git", "127.0.0.1:38211/git/shop"),
        ("https://[::1]:8443/org/repo", "[::1]:8443/org/repo"),
        ("git@[::1]:org/repo.git", "[::1]/org/repo"),
        ("https://host//org//repo.git", "host/org/repo"),
        ("  https://host/org/repo  ", "host/org/repo"),
        ("/srv/git/repo.git", "/srv/git/repo"),
        ("file:///srv/git/repo.git/", "/srv/git/repo"),
    ],
)
def test_normalize_repo_url(url: str, normalized: str) -> None:
    assert normalize_repo_url(url) == normalized


@pytest.mark.parametrize("url", ["", "   ", "https:///org/repo", "https://host:99999/org/repo"])
def test_normalize_repo_url_refuses(url: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        normalize_repo_url(url)


@pytest.mark.parametrize(
    ("header", "parsed"),
    [
        (TRACEPARENT, TRACEPARENT),
        (f" {TRACEPARENT} ", TRACEPARENT),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
        ),
        (
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future",
        ),
        (None, None),
        ("", None),
        ("00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01", None),  # uppercase
        ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", None),  # zero trace id
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", None),  # zero parent id
        ("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", None),  # invalid version
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", None),
        ("00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", None),  # short trace id
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", None),  # no flags
        ("garbage", None),
    ],
)
def test_parse_traceparent(header: str | None, parsed: str | None) -> None:
    assert parse_traceparent(header) == parsed


def test_invalid_traceparent_is_dropped_not_refused() -> None:
    body = json.dumps(github_push()).encode()
    headers = github_headers(body) | {"traceparent": "garbage"}
    event = github().receive(headers, body)
    assert isinstance(event, PushEvent)
    assert event.traceparent is None
