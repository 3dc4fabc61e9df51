"""The ``clew`` command."""

# The command is ``clew.cli.main:main``; nothing is exported from the package itself.
__all__: list[str] = []
