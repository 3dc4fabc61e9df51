"""How GitHub, GitLab and the generic sender spell a push: each payload parsed into a
:class:`PushEvent` (or :class:`Ignored`), after the receiver has authenticated it. Pure, no I/O;
headers arrive lowercased."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs

from clew.controller.triggers.events import Ignored, Malformed, Provider, PushEvent, RefKind
from clew.source.urls import normalize_repo_url

__all__ = ["generic", "github", "gitlab", "parse_traceparent"]

_MAX_DELIVERY_ID = 200


def github(h: Mapping[str, str], body: bytes) -> PushEvent | Ignored:
    event = h.get("x-github-event")
    if not event:
        raise Malformed("missing x-github-event header")
    if event != "push":
        return Ignored(Provider.GITHUB, event, "ping" if event == "ping" else f"{event} event")
    delivery = _delivery(h, "x-github-delivery")
    if h.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = parse_qs(body.decode("utf-8", "replace"))
        body = form.get("payload", [""])[0].encode()
    payload = _json(body)
    split = _split_ref(_field(payload, "ref"))
    if split is None:
        return Ignored(Provider.GITHUB, event, f"{payload['ref']} is neither a branch nor a tag")
    kind, ref = split
    repo = _object(payload, "repository")
    pusher = _object(payload, "pusher").get("name") or _object(payload, "sender").get("login")
    return PushEvent(
        provider=Provider.GITHUB,
        repo_urls=_urls(repo, ("clone_url", "ssh_url", "git_url", "html_url", "url")),
        ref=ref,
        revision=_revision(payload.get("after")),
        delivery=delivery,
        traceparent=parse_traceparent(h.get("traceparent")),
        ref_kind=kind,
        pusher=pusher if isinstance(pusher, str) else None,
    )


_GITLAB_EVENTS = {"Push Hook": "push", "Tag Push Hook": "tag_push"}


def gitlab(h: Mapping[str, str], body: bytes) -> PushEvent | Ignored:
    event = h.get("x-gitlab-event", "")
    if event not in _GITLAB_EVENTS:
        return Ignored(Provider.GITLAB, event, f"{event or 'unnamed'} event")
    delivery = _delivery(h, "x-gitlab-event-uuid")
    payload = _json(body)
    if payload.get("object_kind") != _GITLAB_EVENTS[event]:
        raise Malformed(f"a {event} must have object_kind {_GITLAB_EVENTS[event]}")
    split = _split_ref(_field(payload, "ref"))
    if split is None:
        return Ignored(Provider.GITLAB, event, f"{payload['ref']} is neither a branch nor a tag")
    kind, ref = split
    project, repository = _object(payload, "project"), _object(payload, "repository")
    urls = [project.get(key) for key in ("git_http_url", "git_ssh_url", "web_url")]
    urls += [repository.get(key) for key in ("git_http_url", "git_ssh_url", "homepage")]
    pusher = payload.get("user_username") or payload.get("user_name")
    return PushEvent(
        provider=Provider.GITLAB,
        repo_urls=_normalized(urls, "project and repository"),
        ref=ref,
        revision=_revision(payload.get("checkout_sha") or payload.get("after")),
        delivery=delivery,
        traceparent=parse_traceparent(h.get("traceparent")),
        ref_kind=kind,
        pusher=pusher if isinstance(pusher, str) else None,
    )


def generic(h: Mapping[str, str], body: bytes) -> PushEvent:
    delivery = _delivery(h, "x-clew-delivery")
    payload = _json(body)
    repository = payload.get("repository")
    names = [repository] if isinstance(repository, str) else repository
    if not isinstance(names, list) or not names:
        raise Malformed("repository must be a URL (or a list of URLs)")
    ref = _field(payload, "ref")
    split = _split_ref(ref)
    if split is None and ref.startswith("refs/"):
        raise Malformed(f"{ref} is neither a branch nor a tag")
    kind, name = split or (RefKind.UNKNOWN, ref)
    return PushEvent(
        provider=Provider.GENERIC,
        repo_urls=_normalized(names, "repository"),
        ref=name,
        revision=_revision(payload.get("revision")),
        delivery=delivery,
        traceparent=parse_traceparent(h.get("traceparent")),
        ref_kind=kind,
    )


def _delivery(h: Mapping[str, str], header: str) -> str:
    delivery = h.get(header, "")
    if not delivery:
        raise Malformed(f"missing {header} header")
    if len(delivery) > _MAX_DELIVERY_ID or not delivery.isprintable():
        raise Malformed(f"{header} is not a delivery id")
    return delivery


def _json(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise Malformed("body is not valid JSON") from exc
    if not isinstance(payload, dict):
        raise Malformed("body must be a JSON object")
    return payload


def _object(payload: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = payload.get(key)
    return value if isinstance(value, dict) else {}


def _field(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value:
        raise Malformed(f"{key} must be a non-empty string")
    return value


def _split_ref(ref: str) -> tuple[RefKind, str] | None:
    """``refs/heads/main`` -> (BRANCH, ``main``), ``refs/tags/v1`` -> (TAG, ``v1``); None for
    anything else (notes, pull requests, a bare name)."""
    for prefix, kind in (("refs/heads/", RefKind.BRANCH), ("refs/tags/", RefKind.TAG)):
        if ref.startswith(prefix) and len(ref) > len(prefix):
            return kind, ref[len(prefix) :]
    return None


def _urls(obj: Mapping[str, Any], keys: tuple[str, ...]) -> tuple[str, ...]:
    return _normalized([obj.get(key) for key in keys], ", ".join(keys))


def _normalized(values: Iterable[object], where: str) -> tuple[str, ...]:
    """The distinct normalised URLs among ``values``; Malformed when there is none."""
    urls: dict[str, None] = {}
    for value in values:
        if isinstance(value, str) and value:
            try:
                urls[normalize_repo_url(value)] = None
            except ValueError:
                continue
    if not urls:
        raise Malformed(f"the push names no repository URL (looked in {where})")
    return tuple(urls)


def _revision(value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-fA-F]{7,64}", value):
        raise Malformed("the pushed revision is not a commit id")
    return None if set(value) == {"0"} else value.lower()  # all zeros: the ref was deleted


_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")


def parse_traceparent(value: str | None) -> str | None:
    """The W3C ``traceparent`` header if it is valid (version 00 exactly, later versions by
    their first four fields), else None: a bad trace context is dropped, never an error."""
    if value is None:
        return None
    value = value.strip()
    match = _TRACEPARENT.fullmatch(value)
    if match is None:
        return None
    version, trace_id, parent_id, _flags, rest = match.groups()
    if version == "ff" or set(trace_id) == {"0"} or set(parent_id) == {"0"}:
        return None
    if version == "00" and rest is not None:
        return None
    return value
