"""Notifications: tell people and forges how each sync went (docs/notifications.md).

A ``NotificationPolicy`` (namespaced, ``clew.dev/v1alpha1``) selects outcomes of Applications
in its namespace and sends them to targets: a generic JSON webhook (HMAC-signed), a Slack
incoming webhook, or commit statuses on GitHub and GitLab.

- :mod:`~clew.notify.policy`: the policy's typed spec and :func:`parse`;
- :mod:`~clew.notify.payloads`: pure payload builders, and the HMAC signature;
- :mod:`~clew.notify.repos`: repository URL -> GitHub ``owner/repo`` / GitLab project path;
- :mod:`~clew.notify.targets`: one notice for one target as an HTTP request;
- :mod:`~clew.notify.http`, :mod:`~clew.notify.retry`: sending, retry classification, backoff;
- :mod:`~clew.notify.limits`: token bucket and deduplication;
- :mod:`~clew.notify.status`: the policy's status;
- :mod:`~clew.notify.notifier`: :class:`Notifier`, the observer the controller runs.

This package sits below :mod:`clew.controller` and never imports it.
"""

from clew.notify.http import HttpRequest, HttpResponse, Sender, TransportError, UrllibSender
from clew.notify.notifier import Notifier, NotifierSettings
from clew.notify.policy import (
    API_VERSION,
    KIND,
    PLURAL,
    InvalidPolicy,
    Policy,
    Target,
    TargetType,
    parse,
)
from clew.notify.retry import Backoff

__all__ = [
    "API_VERSION",
    "KIND",
    "PLURAL",
    "Backoff",
    "HttpRequest",
    "HttpResponse",
    "InvalidPolicy",
    "Notifier",
    "NotifierSettings",
    "Policy",
    "Sender",
    "Target",
    "TargetType",
    "TransportError",
    "UrllibSender",
    "parse",
]
