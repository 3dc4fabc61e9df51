"""Webhook receivers: authenticate a push notification from GitHub, GitLab or a generic HMAC
sender, refuse replays, and turn it into a typed :class:`PushEvent`.

Pure: no I/O. The HTTP server hands in the headers and the raw body exactly as received
(signatures are over raw bytes) and maps the outcome to a status::

    PushEvent       202  the controller triggers the Applications that follow the repo and ref
    Ignored         200  GitHub's ping; 202 any other event we do not act on
    NotAuthenticated 401  missing or wrong signature or token, generic timestamp out of window
    Malformed       400  not JSON, or a push without the fields we need
    Replayed        409  a delivery already accepted within the TTL

A delivery is authenticated before anything else is looked at, so an unauthenticated caller
learns nothing but 401. Replays: the provider's delivery id is not covered by its signature, so
on its own it would let anyone holding one captured request resend it under a fresh id. The
receiver therefore also remembers the verified signature: GitHub's covers the body (which carries
the push time), the generic one covers the timestamp. GitLab's token is not a per-message
signature, so there the delivery id is all there is.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from clew.model import ClewError

__all__ = [
    "Ignored",
    "Malformed",
    "NotAuthenticated",
    "Provider",
    "PushEvent",
    "Receiver",
    "RefKind",
    "ReplayGuard",
    "Replayed",
    "WebhookRejected",
    "normalize_repo_url",
    "parse_traceparent",
]

TIMESTAMP_TOLERANCE = 300.0  # seconds a generic X-Clew-Timestamp may be off, either way
_MAX_DELIVERY_ID = 200


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


class ReplayGuard:
    """Remembers the keys it admitted for ``ttl`` seconds, at most ``capacity`` of them (the
    oldest are forgotten first). One guard per receiver; not thread-safe (one event loop)."""

    def __init__(
        self,
        *,
        capacity: int = 10_000,
        ttl: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._capacity = capacity
        self._ttl = ttl
        self._clock = clock
        # key -> (expiry, the delivery that brought it); insertion order is expiry order
        self._expiry: OrderedDict[str, tuple[float, str]] = OrderedDict()

    def admit(self, keys: Iterable[str], delivery: str = "") -> bool:
        """Record ``keys`` (brought by ``delivery``) and return True, or return False if any of
        them was seen already."""
        keys = tuple(keys)
        now = self._clock()
        while self._expiry and next(iter(self._expiry.values()))[0] <= now:
            self._expiry.popitem(last=False)
        if any(key in self._expiry for key in keys):
            return False
        for key in keys:
            self._expiry[key] = (now + self._ttl, delivery)
        while len(self._expiry) > self._capacity:
            self._expiry.popitem(last=False)
        return True

    def original(self, keys: Iterable[str]) -> str:
        """The delivery that first brought any of ``keys`` ("" if none is remembered)."""
        return next((self._expiry[k][1] for k in keys if k in self._expiry), "")

    def forget(self, keys: Iterable[str]) -> None:
        """Drop ``keys``, so a redelivery of a request that failed downstream is accepted."""
        for key in keys:
            self._expiry.pop(key, None)

    def __len__(self) -> int:
        return len(self._expiry)


class Receiver:
    """One provider's endpoint: its secret, the clock, and the deliveries it already accepted."""

    def __init__(
        self,
        provider: Provider,
        secret: str,
        *,
        replays: ReplayGuard | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not secret:
            raise ValueError(f"the {provider} receiver needs a non-empty secret")
        self.provider = provider
        self._secret = secret.encode()
        self._replays = replays if replays is not None else ReplayGuard()
        self._clock = clock

    def __repr__(self) -> str:
        return f"Receiver({self.provider.value!r})"

    def receive(self, headers: Mapping[str, str], body: bytes) -> PushEvent | Ignored:
        """Authenticate, parse and de-duplicate one request; raise :class:`WebhookRejected`."""
        h = _lower(headers)
        if self.provider is Provider.GITHUB:
            _check_hmac(h, "x-hub-signature-256", self._secret, body)
            result = _github(h, body)
        elif self.provider is Provider.GITLAB:
            _check_token(h, self._secret)
            result = _gitlab(h, body)
        else:
            _check_generic(h, self._secret, body, self._clock())
            result = _generic(h, body)
        keys = self._keys(h)
        if isinstance(result, PushEvent) and not self._replays.admit(keys, result.delivery):
            original = self._replays.original(keys)
            if original and original != result.delivery:  # the same push under a fresh id
                raise Replayed(
                    f"delivery {result.delivery} repeats delivery {original}, already received"
                )
            raise Replayed(f"delivery {result.delivery} was already received")
        return result

    def release(self, headers: Mapping[str, str]) -> None:
        """Forget an accepted request whose trigger failed, so the sender may deliver it again."""
        self._replays.forget(self._keys(_lower(headers)))

    def _keys(self, h: Mapping[str, str]) -> tuple[str, ...]:
        delivery, signature = _HEADERS[self.provider]
        keys = [f"delivery:{h.get(delivery, '')}"]
        if signature:
            keys.append(f"signature:{h.get(signature, '')}")
        return tuple(keys)


# provider -> (delivery id header, per-message signature header or "")
_HEADERS = {
    Provider.GITHUB: ("x-github-delivery", "x-hub-signature-256"),
    Provider.GITLAB: ("x-gitlab-event-uuid", ""),
    Provider.GENERIC: ("x-clew-delivery", "x-clew-signature"),
}


# -- authentication ---------------------------------------------------------------------------


def _check_hmac(h: Mapping[str, str], header: str, secret: bytes, message: bytes) -> None:
    given = h.get(header)
    if not given:
        raise NotAuthenticated(f"missing {header} header")
    scheme, _, digest = given.partition("=")
    if scheme != "sha256" or not digest:
        raise NotAuthenticated(f"{header} must be sha256=<hex digest>")
    expected = hmac.new(secret, message, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(digest.encode(), expected.encode()):
        raise NotAuthenticated(f"{header} does not match the body")


def _check_token(h: Mapping[str, str], secret: bytes) -> None:
    token = h.get("x-gitlab-token")
    if not token:
        raise NotAuthenticated("missing x-gitlab-token header")
    if not hmac.compare_digest(token.encode(), secret):
        raise NotAuthenticated("x-gitlab-token does not match")


def _check_generic(h: Mapping[str, str], secret: bytes, body: bytes, now: float) -> None:
    stamp = h.get("x-clew-timestamp")
    if not stamp:
        raise NotAuthenticated("missing x-clew-timestamp header")
    if not re.fullmatch(r"\d{1,12}", stamp):
        raise NotAuthenticated("x-clew-timestamp must be unix seconds")
    _check_hmac(h, "x-clew-signature", secret, stamp.encode() + b"." + body)
    skew = now - int(stamp)
    if skew > TIMESTAMP_TOLERANCE:
        raise NotAuthenticated("x-clew-timestamp is more than 5 minutes old")
    if skew < -TIMESTAMP_TOLERANCE:
        raise NotAuthenticated("x-clew-timestamp is more than 5 minutes in the future")


# -- parsing ----------------------------------------------------------------------------------


def _github(h: Mapping[str, str], body: bytes) -> PushEvent | Ignored:
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


def _gitlab(h: Mapping[str, str], body: bytes) -> PushEvent | Ignored:
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


def _generic(h: Mapping[str, str], body: bytes) -> PushEvent:
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


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value.strip() for name, value in headers.items()}


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


# -- URLs and trace context -------------------------------------------------------------------

_SCP = re.compile(r"(?:[^@/]+@)?(?P<host>\[[^\]/]+\]|[^:/\[\]]+):(?P<path>.*)")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ssh": 22, "git": 9418}


def normalize_repo_url(url: str) -> str:
    """One spelling per repository: ``host[:port]/path`` with the host lowercased, scheme, user
    and default port dropped, and a trailing ``.git`` or ``/`` stripped, so the https, ssh:// and
    scp-like (``git@host:org/repo.git``) forms compare equal. Local paths and ``file://`` URLs
    become the bare path. The path keeps its case (many Git servers are case-sensitive).

    Raises ValueError for an empty URL or one with no host or an invalid port.
    """
    text = url.strip()
    if not text:
        raise ValueError("empty repository URL")
    if "://" in text:
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme == "file":
            return _trim(parts.path) or "/"
        host = parts.hostname or ""
        if not host:
            raise ValueError(f"repository URL has no host: {parts.scheme}://...")
        if ":" in host:
            host = f"[{host}]"
        port = parts.port  # raises ValueError for a non-numeric or out-of-range port
        if port is not None and port != _DEFAULT_PORTS.get(scheme.rpartition("+")[2]):
            host = f"{host}:{port}"
        path = parts.path
    elif not text.startswith("/") and (match := _SCP.fullmatch(text)):
        host, path = match["host"].lower(), match["path"]
    else:
        return _trim(text) or "/"
    path = _trim(path).lstrip("/")
    return f"{host}/{path}" if path else host


def _trim(path: str) -> str:
    path = re.sub(r"/{2,}", "/", path).rstrip("/")
    return path.removesuffix(".git").rstrip("/")


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
