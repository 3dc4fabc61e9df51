"""Test kit for clew: real servers, fixtures and helpers used by the test suites."""

# Import the modules (clew.testing.controlplane, .gitserver, .waiting, ...): nothing here.
__all__: list[str] = []
