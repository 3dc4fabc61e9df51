"""Reconcile: an Application becomes engine inputs, and the engine's result becomes its status."""
