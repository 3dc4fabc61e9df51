"""Reconcile: an Application becomes engine inputs, and the engine's result becomes its status."""

from clew.controller.reconcile.inputs import fetcher, inventory_name, sync_options
from clew.controller.reconcile.outcomes import Outcome
from clew.controller.reconcile.reconciler import Reconciler

__all__ = ["Outcome", "Reconciler", "fetcher", "inventory_name", "sync_options"]
