"""Test kit for clew: real servers, fixtures and helpers used by the test suites."""
