"""What starts a reconcile: webhook pushes, reconcile requests, drift of managed objects."""

from clew.controller.triggers.drift import DriftWatcher
from clew.controller.triggers.driftinformers import DriftInformers
from clew.controller.triggers.push import follows, request_reconciles
from clew.controller.triggers.receivers import ReceiverSecrets, create_app
from clew.controller.triggers.webhooks import PushEvent, Receiver

__all__ = [
    "DriftInformers",
    "DriftWatcher",
    "PushEvent",
    "Receiver",
    "ReceiverSecrets",
    "create_app",
    "follows",
    "request_reconciles",
]
