"""The patterns and limits an Application's fields must meet, shared by :func:`parse` (Python) and
the CRD schema (the API server), so the two cannot drift apart."""

from __future__ import annotations

import enum

__all__ = [
    "CHART_NAME_RE",
    "CONFIG_KEY_RE",
    "DEFAULT_VALUES_KEY",
    "DEPENDS_ON_MAX",
    "DNS_LABEL_MAX",
    "DNS_LABEL_RE",
    "DNS_SUBDOMAIN_MAX",
    "DNS_SUBDOMAIN_RE",
    "HELM_RELEASE_MAX",
    "HELM_REPOSITORIES_MAX",
    "HELM_REPO_URL_RE",
    "REF_MAX",
    "REPO_URL_MAX",
    "REPO_URL_RE",
    "RESOURCES_MAX",
    "RESOURCE_MESSAGE_MAX",
    "REVISION_RE",
    "URL_PASSWORD_MESSAGE",
    "URL_PASSWORD_RE",
    "VALUES_FILES_MAX",
    "VALUES_FROM_MAX",
    "SyncState",
]

# Regular expressions shared with the schema. Written without anchors; the schema anchors them
# with ^…$ and Python uses fullmatch, because Python's $ also matches before a final newline.
# They are RE2-compatible (no lookarounds), so the API server reads them the same way.
REVISION_RE = r"[0-9a-f]{40}|[0-9a-f]{64}"
DNS_LABEL_RE = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS_SUBDOMAIN_RE = rf"{DNS_LABEL_RE}(\.{DNS_LABEL_RE})*"
# https://, http://, ssh://, git://, file:// (the fetcher decides which it allows), or scp-like
# [user@]host:path. Never a leading "-", which git would read as an option.
REPO_URL_RE = r"((https?|ssh|git|file|oci)://|([^-@/:\s][^@/:\s]*@)?[^-@/:\s][^@/:\s]*:)\S+"
# A password in the URL's userinfo (https://user:pass@host/...) would sit in plain sight in the
# Application, its status, events and logs: refused, pointing to spec.source.secretRef.
URL_PASSWORD_RE = r"^[a-zA-Z][-a-zA-Z0-9+.]*://[^/@]*:[^/@]*@"  # noqa: S105 - a pattern
URL_PASSWORD_MESSAGE = (
    "must not carry a password (user:password@): put the credentials in a Secret (keys "  # noqa: S105
    "username and password) and name it in spec.source.secretRef"
)

DNS_LABEL_MAX = 63
DNS_SUBDOMAIN_MAX = 253
HELM_RELEASE_MAX = 53
REPO_URL_MAX = 2048
REF_MAX = 256
DEPENDS_ON_MAX = 64
VALUES_FILES_MAX = 32
VALUES_FROM_MAX = 32
HELM_REPOSITORIES_MAX = 32
DEFAULT_VALUES_KEY = "values.yaml"
CHART_NAME_RE = r"[a-zA-Z0-9][-a-zA-Z0-9_.]*"
CONFIG_KEY_RE = r"[-._a-zA-Z0-9]+"
HELM_REPO_URL_RE = r"(https?|oci)://\S+"

# status.resources: one entry per managed object, bounded so a large Application's status stays
# far below etcd's object limit (500 entries of ~300 bytes).
RESOURCES_MAX = 500
RESOURCE_MESSAGE_MAX = 256  # characters of an entry's one-line reason


class SyncState(enum.StrEnum):
    """Whether one managed object is as Git says (``status.resources[].sync``)."""

    SYNCED = "Synced"  # the live object is what the last sync applied
    OUT_OF_SYNC = "OutOfSync"  # the last sync did not apply it (failed, or stopped before it)
    DRIFTED = "Drifted"  # changed outside Git and not reverted (self-heal off)
    PRUNE_PENDING = "PrunePending"  # not in Git any more, still live (prune off or failed)
