"""The status a NotificationPolicy gets, computed from what happened (writing it is covered in
tests/integration/test_notify.py): Accepted before anything was sent, Succeeded once targets
deliver, DeliveryFailed naming each failing target and its error until that target delivers
again, Suspended, and InvalidSpec (with Stalled) for a spec that does not parse. A restarted
controller picks up each target's last outcome from the stored status."""

from __future__ import annotations

from typing import Any, cast

from clew.cluster import Cluster
from clew.notify.policy import parse
from clew.notify.status import StatusBook

NOW = "2026-11-26T10:00:00Z"
LATER = "2026-11-26T10:05:00Z"


def policy(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "team", "namespace": "team-a", "generation": 2},
        "spec": {
            "targets": [
                {"name": "hook", "type": "webhook", "url": "https://h.example"},
                {"name": "chat", "type": "slack", "secretRef": {"name": "s"}},
            ],
            **spec,
        },
    }


def book() -> StatusBook:
    # The cluster is only used to write; nothing here writes (flush is never awaited).
    return StatusBook(cast(Cluster, None), debounce=3600)


def whole(status: StatusBook) -> dict[str, Any]:
    document = status.document(("team-a", "team"))
    assert document is not None
    return document


def ready(document: dict[str, Any] | None) -> tuple[str, str, str]:
    assert document is not None
    [found] = [c for c in document["conditions"] if c["type"] == "Ready"]
    return found["status"], found["reason"], found["message"]


async def test_outcomes_drive_ready() -> None:
    status = book()
    parsed = parse(policy())
    status.observe(parsed, {})
    key = ("team-a", "team")
    assert ready(status.document(key)) == ("True", "Accepted", "2 target(s); nothing sent yet")
    assert whole(status)["observedGeneration"] == 2

    status.record(parsed, "hook", "webhook", ok=True, error="", when=NOW)
    assert ready(status.document(key))[:2] == ("True", "Succeeded")
    status.record(parsed, "chat", "slack", ok=False, error="HTTP 404: no_service", when=LATER)
    assert ready(status.document(key)) == (
        "False",
        "DeliveryFailed",
        "target chat: HTTP 404: no_service",
    )
    assert status.failing("team-a", "team") == {"chat": "HTTP 404: no_service"}
    assert whole(status)["targets"] == [
        {"name": "hook", "type": "webhook", "lastSuccessTime": NOW},
        {
            "name": "chat",
            "type": "slack",
            "lastFailureTime": LATER,
            "lastError": "HTTP 404: no_service",
        },
    ]
    status.record(parsed, "chat", "slack", ok=True, error="", when=LATER)
    assert ready(status.document(key))[:2] == ("True", "Succeeded")
    await status.aclose()


async def test_invalid_and_suspended() -> None:
    status = book()
    status.invalid("team-a", "team", 3, "spec.targets: must have 1 to 16 targets", {})
    document = status.document(("team-a", "team"))
    assert ready(document) == ("False", "InvalidSpec", "spec.targets: must have 1 to 16 targets")
    assert document is not None
    assert [c["type"] for c in document["conditions"]] == ["Ready", "Stalled"]
    status.observe(parse(policy(suspend=True)), document)
    fixed = status.document(("team-a", "team"))
    assert ready(fixed)[:2] == ("True", "Suspended")
    assert fixed is not None
    assert [c["type"] for c in fixed["conditions"]] == ["Ready"]
    await status.aclose()


async def test_a_restart_keeps_the_last_outcomes() -> None:
    stored = {
        "observedGeneration": 2,
        "targets": [
            {
                "name": "chat",
                "type": "slack",
                "lastSuccessTime": NOW,
                "lastFailureTime": LATER,
                "lastError": "HTTP 410: gone",
            }
        ],
    }
    status = book()
    status.observe(parse(policy()), stored)
    assert ready(status.document(("team-a", "team")))[:2] == ("False", "DeliveryFailed")
    await status.aclose()


def test_unknown_policy_has_no_document() -> None:
    assert book().document(("x", "y")) is None
