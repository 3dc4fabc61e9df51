"""Parsers of untrusted input never fail in an undocumented way: fed arbitrary text, YAML made of
anchors, aliases, tags and flow syntax, or webhook bodies that are correctly signed but otherwise
arbitrary, the YAML loader, the webhook receivers and the semver parser either return or raise
clew's own documented error (InvalidManifestError, WebhookRejected; None from the semver parsers)
— never a Python exception of another kind. Hypothesis with a fixed budget, a few seconds in CI."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clew.controller.triggers.payloads import parse_traceparent
from clew.controller.triggers.webhooks import (
    Ignored,
    Provider,
    PushEvent,
    Receiver,
    WebhookRejected,
)
from clew.render.errors import InvalidManifestError
from clew.render.yamlload import Document, load_json, load_yaml
from clew.source.semver import Range, Version
from clew.source.urls import normalize_repo_url

BUDGET = settings(
    max_examples=int(os.environ.get("CLEW_FUZZ_EXAMPLES", "200")),
    deadline=2000,  # ms per example: generous on a loaded 2-core CI machine
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
SECRET = "fuzz-secret"
NOW = 1_750_000_000.0

# Pieces of YAML syntax, so generated streams reach the composer and constructor, not only the
# scanner: anchors and aliases (also recursive ones), merge keys, tags, flow and block nodes.
YAML_PIECES = [
    "a: ",
    "- ",
    "&a ",
    "&b ",
    "*a",
    "*b",
    "*c",
    "<<: ",
    "[",
    "]",
    "{",
    "}",
    ", ",
    ": ",
    "\n",
    "  ",
    "---\n",
    "...\n",
    "? ",
    "!!str ",
    "!!binary ",
    "!!int ",
    "!!map ",
    "!!python/object ",
    "!local ",
    "'x'",
    '"y\\u0041"',
    "|\n  z\n",
    ">\n  w\n",
    "1",
    "0x1F",
    "1e3",
    "~",
    "null",
    "true",
    "2024-01-01",
    "# c\n",
    "%YAML 1.1\n",
    "\t",
    "\x00",
    "\ufeff",
    "é",
    "\U0001f600",
]
yaml_streams = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(YAML_PIECES), max_size=60).map("".join),
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
# Payloads that look like pushes often enough to get past the first checks.
push_payloads = st.fixed_dictionaries(
    {},
    optional={
        "ref": st.sampled_from(["refs/heads/main", "refs/tags/v1", "refs/x", "", "main"])
        | st.text(max_size=20),
        "after": st.sampled_from(["0" * 40, "z" * 40, ""]) | json_values,
        "revision": json_values,
        "checkout_sha": json_values,
        "object_kind": st.sampled_from(["push", "tag_push"]) | json_values,
        "repository": st.sampled_from(["https://example.com/a/b.git", "git@h:a/b", ""])
        | json_values
        | st.fixed_dictionaries(
            {},
            optional={
                k: st.sampled_from(["https://example.com/a/b.git", "ssh://h/x", "::"]) | json_values
                for k in ("clone_url", "ssh_url", "url", "git_http_url", "homepage")
            },
        ),
        "project": json_values,
        "pusher": json_values,
        "sender": json_values,
        "user_username": json_values,
    },
)
bodies = st.one_of(
    push_payloads.map(lambda p: json.dumps(p).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
)
header_text = st.text(max_size=60)


@BUDGET
@given(text=yaml_streams)
def test_yaml_loader_returns_documents_or_invalid_manifest(text: str) -> None:
    try:
        documents = load_yaml(text, "fuzz.yaml", max_bytes=64 * 1024)
    except InvalidManifestError as exc:
        where = exc.file
    else:
        where = "fuzz.yaml"
        assert all(isinstance(d, Document) for d in documents)
        # A real tree without cycles (keys may be bytes or tuples: YAML allows them).
        json.dumps([d.data for d in documents], default=repr, skipkeys=True)
    assert where == "fuzz.yaml"


@BUDGET
@given(text=st.text(max_size=200))
def test_json_loader_returns_documents_or_invalid_manifest(text: str) -> None:
    with contextlib.suppress(InvalidManifestError):
        load_json(text, "fuzz.json")


def _signed(provider: Provider, body: bytes, event: str, extra: dict[str, str]) -> dict[str, str]:
    mac = hmac.new(SECRET.encode(), digestmod=hashlib.sha256)
    if provider is Provider.GITHUB:
        mac.update(body)
        return {"X-GitHub-Event": event, "X-Hub-Signature-256": "sha256=" + mac.hexdigest()} | extra
    if provider is Provider.GITLAB:
        return {"X-Gitlab-Event": event, "X-Gitlab-Token": SECRET} | extra
    stamp = str(int(NOW))
    mac.update(f"{stamp}.".encode() + body)
    return {"X-Clew-Timestamp": stamp, "X-Clew-Signature": "sha256=" + mac.hexdigest()} | extra


@BUDGET
@given(
    provider=st.sampled_from(list(Provider)),
    body=bodies,
    event=st.sampled_from(["push", "ping", "Push Hook", "Tag Push Hook", ""]) | header_text,
    extra=st.fixed_dictionaries(
        {},
        optional={
            name: header_text
            for name in (
                "X-GitHub-Delivery",
                "X-Gitlab-Event-UUID",
                "X-Clew-Delivery",
                "traceparent",
                "Content-Type",
            )
        },
    ),
)
def test_webhook_receivers_accept_or_reject_with_webhook_errors(
    provider: Provider, body: bytes, event: str, extra: dict[str, str]
) -> None:
    receiver = Receiver(provider, SECRET, clock=lambda: NOW)
    try:
        result = receiver.receive(_signed(provider, body, event, extra), body)
    except WebhookRejected:
        return
    assert isinstance(result, PushEvent | Ignored)


@BUDGET
@given(url=st.text(max_size=80), traceparent=st.none() | st.text(max_size=80))
def test_url_and_traceparent_parsers(url: str, traceparent: str | None) -> None:
    try:
        normalized = normalize_repo_url(url)
    except ValueError:  # documented: not a repository URL
        pass
    else:
        assert isinstance(normalized, str)
    parsed = parse_traceparent(traceparent)
    assert parsed is None or isinstance(parsed, str)


semver_text = st.one_of(
    st.text(max_size=40),
    st.lists(
        st.sampled_from(
            [
                "1",
                "0",
                "99999999999999999999",
                ".",
                "x",
                "*",
                "-",
                "+",
                "rc",
                "v",
                "^",
                "~",
                ">=",
                "<",
                "!=",
                "~>",
                " ",
                "||",
                ",",
                " - ",
                "\u0661",  # ARABIC-INDIC DIGIT ONE: \\d matches it
            ]
        ),
        max_size=20,
    ).map("".join),
)


@BUDGET
@given(version=semver_text, range_=semver_text)
def test_semver_parsers_return_a_value_or_none(version: str, range_: str) -> None:
    parsed: Any = Version.parse(version)
    assert parsed is None or isinstance(parsed, Version)
    rng = Range.parse(range_)
    assert rng is None or isinstance(rng, Range)
    if parsed is not None:
        str(parsed)
        assert parsed == Version.parse(str(parsed))
        if rng is not None:
            assert isinstance(rng.matches(parsed), bool)
