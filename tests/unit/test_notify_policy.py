"""NotificationPolicy specs: a full policy parses to the typed value with defaults applied;
mistakes are refused naming the field; selection covers only the policy's own namespace and its
events, by name list, label selector (matchLabels and every matchExpressions operator) or all;
the names and durations this package repeats are the Application's; and the CRD matches its
golden copy (tests/unit/fixtures/notify/notificationpolicy-crd.yaml; regenerate with
``CLEW_UPDATE_GOLDEN=1``), offering exactly the event kinds and target types the code knows."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from clew.controller.api import spec as app_spec
from clew.controller.api.notification_crd import NOTIFICATION_POLICY_CRD
from clew.notify.policy import (
    API_VERSION,
    KIND,
    AppSelector,
    InvalidPolicy,
    Policy,
    RateLimit,
    Target,
    TargetType,
    parse,
    parse_duration,
)
from clew.report.notices import NoticeKind

GOLDEN = Path(__file__).parent / "fixtures" / "notify" / "notificationpolicy-crd.yaml"


def policy(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": "team", "namespace": "team-a", "generation": 3},
        "spec": {"targets": [{"name": "hook", "type": "webhook", "url": "https://h.example/x"}]}
        | spec,
    }


FULL = policy(
    events=["synced", "failed"],
    applications={
        "names": ["shop"],
        "selector": {
            "matchLabels": {"tier": "web"},
            "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}],
        },
    },
    dedupeWindow="10m",
    targets=[
        {
            "name": "hook",
            "type": "webhook",
            "url": "https://hooks.example.com/clew",
            "secretRef": {"name": "hook"},
            "rateLimit": {"perMinute": 30, "burst": 2},
        },
        {"name": "chat", "type": "slack", "secretRef": {"name": "slack"}},
        {
            "name": "gh",
            "type": "github",
            "secretRef": {"name": "gh"},
            "apiURL": "https://ghe.example.com/api/v3/",
            "repository": "org/shop",
            "targetURL": "https://dash.example.com/{name}",
        },
        {"name": "gl", "type": "gitlab", "secretRef": {"name": "gl"}, "project": "g/s/p"},
    ],
)


def test_full_policy_parses() -> None:
    parsed = parse(FULL)
    assert parsed == Policy(
        namespace="team-a",
        name="team",
        generation=3,
        events=frozenset({NoticeKind.SYNCED, NoticeKind.FAILED}),
        applications=AppSelector(
            names=frozenset({"shop"}),
            match_labels={"tier": "web"},
            match_expressions=parsed.applications.match_expressions,
            has_selector=True,
        ),
        dedupe_window=600.0,
        targets=(
            Target(
                "hook",
                TargetType.WEBHOOK,
                secret_name="hook",
                url="https://hooks.example.com/clew",
                rate_limit=RateLimit(30.0, 2),
            ),
            Target("chat", TargetType.SLACK, secret_name="slack"),
            Target(
                "gh",
                TargetType.GITHUB,
                secret_name="gh",
                api_url="https://ghe.example.com/api/v3/",
                repository="org/shop",
                target_url="https://dash.example.com/{name}",
            ),
            Target("gl", TargetType.GITLAB, secret_name="gl", repository="g/s/p"),
        ),
    )
    assert parsed.targets[2].api_base == "https://ghe.example.com/api/v3"
    assert parsed.targets[3].api_base == "https://gitlab.com/api/v4"
    assert parsed.targets[1].api_base == ""


def test_defaults() -> None:
    parsed = parse(policy())
    assert parsed.events == frozenset(NoticeKind)
    assert parsed.dedupe_window == 3600.0
    assert parsed.targets[0].rate_limit == RateLimit(60.0, 10)
    assert not parsed.suspend
    assert parsed.applications.selects("anything", {})


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"targets": []}, "spec.targets"),
        ({"targets": None}, "spec.targets"),
        ({"targets": [{"name": "x", "type": "email"}]}, "spec.targets[0].type"),
        ({"targets": [{"name": "x", "type": "slack"}]}, "spec.targets[0].secretRef"),
        ({"targets": [{"name": "x", "type": "webhook"}]}, "spec.targets[0]"),
        (
            {"targets": [{"name": "x", "type": "slack", "secretRef": {"name": "s"}, "url": "u"}]},
            "spec.targets[0].url",
        ),
        (
            {"targets": [{"name": "x", "type": "webhook", "url": "u", "repository": "o/r"}]},
            "spec.targets[0].repository",
        ),
        (
            {
                "targets": [
                    {"name": "x", "type": "github", "secretRef": {"name": "s"}, "project": "g/p"}
                ]
            },
            "spec.targets[0].project",
        ),
        (
            {"targets": [{"name": "x", "type": "webhook", "url": "u", "rateLimit": {"burst": 0}}]},
            "spec.targets[0].rateLimit.burst",
        ),
        (
            {
                "targets": [
                    {"name": "x", "type": "webhook", "url": "u", "rateLimit": {"perMinute": 0}}
                ]
            },
            "spec.targets[0].rateLimit.perMinute",
        ),
        (
            {
                "targets": [
                    {"name": "x", "type": "webhook", "url": "u"},
                    {"name": "x", "type": "webhook", "url": "v"},
                ]
            },
            "spec.targets[1].name",
        ),
        ({"events": []}, "spec.events"),
        ({"events": ["synced", "exploded"]}, "spec.events[1]"),
        ({"dedupeWindow": "an hour"}, "spec.dedupeWindow"),
        ({"suspend": "yes"}, "spec.suspend"),
        ({"applications": {"names": "shop"}}, "spec.applications.names"),
        (
            {"applications": {"selector": {"matchExpressions": [{"key": "a", "operator": "In"}]}}},
            "spec.applications.selector.matchExpressions[0]",
        ),
        (
            {"applications": {"selector": {"matchExpressions": [{"key": "a", "operator": "Is"}]}}},
            "spec.applications.selector.matchExpressions[0].operator",
        ),
    ],
)
def test_mistakes_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidPolicy) as caught:
        parse(policy(**change))
    assert caught.value.field == field


def test_a_policy_without_spec_is_invalid() -> None:
    with pytest.raises(InvalidPolicy, match="spec"):
        parse({"metadata": {"name": "x", "namespace": "y"}})


def selector(**selector: Any) -> Policy:
    return parse(policy(applications={"selector": selector}))


def test_selection_is_by_namespace_and_event() -> None:
    only_failures = parse(policy(events=["failed"]))
    assert only_failures.selects(NoticeKind.FAILED, "team-a", "shop", {})
    assert not only_failures.selects(NoticeKind.SYNCED, "team-a", "shop", {})
    assert not only_failures.selects(NoticeKind.FAILED, "team-b", "shop", {})
    assert not parse(policy(suspend=True)).selects(NoticeKind.FAILED, "team-a", "shop", {})


def test_selection_by_names_or_selector() -> None:
    named = parse(policy(applications={"names": ["shop", "cart"]}))
    assert named.applications.selects("cart", {})
    assert not named.applications.selects("blog", {"tier": "web"})
    both = parse(policy(applications={"names": ["shop"], "selector": {"matchLabels": {"t": "w"}}}))
    assert both.applications.selects("shop", {})
    assert both.applications.selects("blog", {"t": "w"})
    assert not both.applications.selects("blog", {"t": "x"})
    assert selector().applications.selects("any", {})  # an empty selector selects everything


@pytest.mark.parametrize(
    ("expression", "labels", "selected"),
    [
        ({"key": "env", "operator": "In", "values": ["prod", "stage"]}, {"env": "prod"}, True),
        ({"key": "env", "operator": "In", "values": ["prod"]}, {"env": "dev"}, False),
        ({"key": "env", "operator": "In", "values": ["prod"]}, {}, False),
        ({"key": "env", "operator": "NotIn", "values": ["prod"]}, {"env": "dev"}, True),
        ({"key": "env", "operator": "NotIn", "values": ["prod"]}, {}, True),
        ({"key": "env", "operator": "NotIn", "values": ["prod"]}, {"env": "prod"}, False),
        ({"key": "env", "operator": "Exists"}, {"env": ""}, True),
        ({"key": "env", "operator": "Exists"}, {}, False),
        ({"key": "env", "operator": "DoesNotExist"}, {}, True),
        ({"key": "env", "operator": "DoesNotExist"}, {"env": "x"}, False),
    ],
)
def test_match_expressions(
    expression: dict[str, Any], labels: dict[str, str], selected: bool
) -> None:
    parsed = selector(matchLabels={"team": "a"}, matchExpressions=[expression])
    assert parsed.applications.selects("shop", {"team": "a", **labels}) is selected
    assert not parsed.applications.selects("shop", labels)  # matchLabels must hold too


def test_shared_names_and_durations_are_the_applications() -> None:
    assert API_VERSION == app_spec.API_VERSION
    for text in ("0s", "500ms", "30s", "5m", "1h30m", "1.5h"):
        assert parse_duration(text) == app_spec.parse_duration(text)
    with pytest.raises(ValueError, match="duration"):
        parse_duration("5 minutes")


def test_crd_is_golden_and_offers_what_the_code_knows() -> None:
    crd = copy.deepcopy(NOTIFICATION_POLICY_CRD)
    if os.environ.get("CLEW_UPDATE_GOLDEN") == "1":
        header = (
            "# clew.controller.api.notification_crd; regenerate: CLEW_UPDATE_GOLDEN=1 pytest.\n"
        )
        GOLDEN.write_text(header + yaml.safe_dump(crd, sort_keys=False, width=100))
    assert GOLDEN.is_file(), f"no {GOLDEN}: run with CLEW_UPDATE_GOLDEN=1"
    assert yaml.safe_load(GOLDEN.read_text()) == crd
    [version] = crd["spec"]["versions"]
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    assert spec["events"]["items"]["enum"] == [k.value for k in NoticeKind]
    assert spec["targets"]["items"]["properties"]["type"]["enum"] == [t.value for t in TargetType]
    assert crd["spec"]["names"]["kind"] == KIND
    assert crd["spec"]["scope"] == "Namespaced"
