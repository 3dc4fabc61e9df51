"""The ``clew`` command."""
