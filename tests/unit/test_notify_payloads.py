"""Each target's payload for each kind of outcome is exactly its golden JSON fixture
(tests/unit/fixtures/notify/<target>-<kind>.json): the generic webhook body, the Slack message
(with Slack's control characters escaped) and the GitHub and GitLab commit statuses (none for
drift, descriptions cut to each API's limit). The generic body's HMAC signature is accepted by
clew's own generic receiver and refused once the body changes, and credentials written into a
repository URL never reach a payload.

After an intended change, regenerate with
``CLEW_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_notify_payloads.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from clew.controller.triggers.webhooks import Malformed, NotAuthenticated, Provider, Receiver
from clew.notify import payloads
from clew.report.notices import NoticeKind, SyncNotice

FIXTURES = Path(__file__).parent / "fixtures" / "notify"
SHA = "3f2a9c1b0d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"
TIME = "2026-11-26T10:00:00Z"

NOTICES = {
    NoticeKind.SYNCED: SyncNotice(
        NoticeKind.SYNCED,
        "team-a",
        "shop",
        revision=SHA,
        repo_url="https://ci:s3cr3t-t0ken@git.example.com/org/shop.git",
        reason="Succeeded",
        message=f"applied revision {SHA[:12]}: 1 created, 2 configured, 0 deleted",
        commit_subject="Scale web to 3 <fast> & safe",
        commit_author="Ada <ada@example.com>",
        counts={"unchanged": 5, "created": 1, "configured": 2},
    ),
    NoticeKind.FAILED: SyncNotice(
        NoticeKind.FAILED,
        "team-a",
        "shop",
        revision=SHA,
        repo_url="git@git.example.com:org/shop.git",
        reason="RenderFailed",
        message="deploy/a.yaml:5: mapping values are not allowed here\n  in line 4",
        commit_subject="broken",
        commit_author="Ada <ada@example.com>",
    ),
    NoticeKind.HEALTH_DEGRADED: SyncNotice(
        NoticeKind.HEALTH_DEGRADED,
        "team-a",
        "shop",
        revision=SHA,
        repo_url="https://git.example.com/org/shop.git",
        reason="HealthCheckFailed",
        message="Deployment/team-a/web: " + "pods are crash-looping; " * 12,
        commit_subject="New image",
        commit_author="Ada <ada@example.com>",
        counts={"configured": 1},
    ),
    NoticeKind.DRIFT_CORRECTED: SyncNotice(
        NoticeKind.DRIFT_CORRECTED,
        "team-a",
        "shop",
        revision=SHA,
        repo_url="https://git.example.com/org/shop.git",
        reason="DriftCorrected",
        message="reverted a change to ConfigMap/team-a/settings",
        objects=("ConfigMap/team-a/settings",),
    ),
    NoticeKind.ROLLBACK: SyncNotice(
        NoticeKind.ROLLBACK,
        "team-a",
        "shop",
        revision=SHA,
        repo_url="https://git.example.com/org/shop.git",
        reason="Succeeded",
        message=f"applied revision {SHA[:12]}: 0 created, 1 configured, 0 deleted",
        commit_subject="Scale web to 3",
        commit_author="Ada <ada@example.com>",
        counts={"configured": 1},
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
    ),
}

BUILDERS = {
    "webhook": lambda n: payloads.webhook_body(n, TIME),
    "slack": payloads.slack_message,
    "github": lambda n: payloads.github_status(n, "https://dash.example.com/{namespace}/{name}"),
    "gitlab": lambda n: payloads.gitlab_status(n),
}


def golden(name: str, actual: Any) -> Any:
    path = FIXTURES / f"{name}.json"
    if os.environ.get("CLEW_UPDATE_GOLDEN") == "1":
        path.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n")
    assert path.is_file(), f"no {path}: run with CLEW_UPDATE_GOLDEN=1"
    return json.loads(path.read_text())


@pytest.mark.parametrize("kind", list(NoticeKind))
@pytest.mark.parametrize("target", list(BUILDERS))
def test_payload_is_golden(target: str, kind: NoticeKind) -> None:
    actual = BUILDERS[target](NOTICES[kind])
    if actual is None:
        assert target in ("github", "gitlab")
        assert kind is NoticeKind.DRIFT_CORRECTED
        assert not (FIXTURES / f"{target}-{kind.value}.json").exists()
        return
    assert actual == golden(f"{target}-{kind.value}", actual)
    assert json.loads(payloads.encode(actual)) == actual


def test_every_fixture_is_used() -> None:
    used = {
        f"{target}-{kind.value}.json"
        for target in BUILDERS
        for kind in NoticeKind
        if BUILDERS[target](NOTICES[kind]) is not None
    }
    assert {p.name for p in FIXTURES.glob("*-*.json") if "crd" not in p.name} == used


def test_webhook_body_has_every_documented_field() -> None:
    body = payloads.webhook_body(NOTICES[NoticeKind.SYNCED], TIME)
    assert set(body) >= {
        "application",
        "namespace",
        "kind",
        "revision",
        "reason",
        "message",
        "counts",
        "commit",
        "time",
    }
    assert body["commit"] == {
        "subject": "Scale web to 3 <fast> & safe",
        "author": "Ada <ada@example.com>",
    }


def test_no_payload_carries_credentials_from_the_repo_url() -> None:
    notice = NOTICES[NoticeKind.SYNCED]
    for build in BUILDERS.values():
        assert "s3cr3t" not in json.dumps(build(notice))
    assert payloads.public_repo_url(notice.repo_url) == "https://git.example.com/org/shop.git"
    assert payloads.public_repo_url("git@host:org/x.git") == "git@host:org/x.git"
    assert payloads.public_repo_url("https://host/org/x") == "https://host/org/x"


def test_slack_escapes_control_characters() -> None:
    message = payloads.slack_message(NOTICES[NoticeKind.SYNCED])
    text = json.dumps(message)
    assert "<fast>" not in text
    assert "&lt;fast&gt; &amp; safe" in text
    assert "&lt;ada@example.com&gt;" in text


@pytest.mark.parametrize(
    ("build", "limit"), [(payloads.github_status, 140), (payloads.gitlab_status, 255)]
)
def test_commit_status_descriptions_fit_the_api(build: Any, limit: int) -> None:
    long = SyncNotice(
        NoticeKind.FAILED, "team-a", "shop", revision=SHA, reason="ApplyFailed", message="x" * 999
    )
    description = build(long)["description"]
    assert len(description) == limit
    assert description.endswith("…")


def test_commit_states_per_provider() -> None:
    states = {
        kind: (payloads.commit_state(n, "github"), payloads.commit_state(n, "gitlab"))
        for kind, n in NOTICES.items()
    }
    assert states == {
        NoticeKind.SYNCED: ("success", "success"),
        NoticeKind.ROLLBACK: ("success", "success"),
        NoticeKind.FAILED: ("failure", "failed"),
        NoticeKind.HEALTH_DEGRADED: ("failure", "failed"),
        NoticeKind.DRIFT_CORRECTED: (None, None),
    }


# -- the signature, checked by clew's own generic receiver -------------------------------------


def signed(secret: str, body: bytes, stamp: str) -> dict[str, str]:
    return {
        payloads.TIMESTAMP_HEADER: stamp,
        payloads.SIGNATURE_HEADER: payloads.sign(secret.encode(), stamp, body),
        "X-Clew-Delivery": "d-1",
        "Content-Type": "application/json",
    }


def test_signature_is_accepted_by_the_generic_receiver() -> None:
    secret, stamp = "It's a Secret to Everybody", "1750000000"
    body = payloads.encode(payloads.webhook_body(NOTICES[NoticeKind.SYNCED], TIME))
    receiver = Receiver(Provider.GENERIC, secret, clock=lambda: 1_750_000_010.0)
    # Authentication comes first: a notification is not a push, so a correctly signed one gets
    # as far as parsing and no further.
    with pytest.raises(Malformed, match="repository"):
        receiver.receive(signed(secret, body, stamp), body)
    with pytest.raises(NotAuthenticated):
        receiver.receive(signed(secret, body, stamp), body.replace(b"shop", b"shoq"))
    with pytest.raises(NotAuthenticated):
        receiver.receive(signed("another secret", body, stamp), body)
    with pytest.raises(NotAuthenticated):
        receiver.receive(
            {**signed(secret, body, stamp), payloads.TIMESTAMP_HEADER: "1750000001"}, body
        )


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    # RFC 4231 style check with a fixed vector computed independently of payloads.sign.
    import hashlib
    import hmac

    expected = hmac.new(b"key", b"123.{}", hashlib.sha256).hexdigest()
    assert payloads.sign(b"key", "123", b"{}") == f"sha256={expected}"
