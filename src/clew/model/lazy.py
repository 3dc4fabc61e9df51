"""Package names imported from their modules on first use (PEP 562), one rule for every package.

A package's ``__init__`` maps each exported name to the module that defines it and sets
``__getattr__ = lazy.exports(__name__, HOMES, globals())``: ``import clew.render`` then costs
nothing until a name is used (start-up time, tests/unit/test_cli_start.py).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["exports"]


def exports(
    package: str, homes: Mapping[str, str], names: dict[str, Any]
) -> Callable[[str], object]:
    """The ``__getattr__`` of ``package``: ``homes`` maps a name to its module, relative to the
    package (``"changes"``) or absolute (``"clew.model"``); ``names`` is the package's
    ``globals()``."""

    def getattr_(name: str) -> object:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        absolute = home.startswith(f"{package.partition('.')[0]}.")  # "clew.…": another package
        path = home if absolute else f"{package}.{home}"
        module = importlib.import_module(path)
        # Every name of that module at once: importing a submodule sets the package's attribute
        # of the same name to the module (``engine.uninstall``); the function must replace it.
        names.update({other: getattr(module, other) for other, at in homes.items() if at == home})
        return names[name]

    return getattr_
