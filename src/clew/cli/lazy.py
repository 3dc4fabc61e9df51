"""Modules loaded when a command first uses them, not when ``clew`` starts.

Every command module is imported at start-up, because Typer reads each command's signature to
build ``clew --help``; the engine, the cluster client, the controller's API and rich take most of
that time and are needed only by the command that runs. A command module names them as

    if TYPE_CHECKING:
        from clew.cli import apps_ops as ops
    else:
        ops = lazy.module("clew.cli.apps_ops")

so the type checker sees the real module and the import happens on the first attribute read.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

__all__ = ["module"]


def module(name: str) -> ModuleType:
    """The module ``name``, executed when one of its attributes is first read (at once when it
    is already imported)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    lazy = importlib.util.module_from_spec(spec)
    sys.modules[name] = lazy
    loader.exec_module(lazy)
    parent, _, child = name.rpartition(".")
    if parent:  # as an import would: ``clew.cli.apps_ops`` is an attribute of ``clew.cli``
        setattr(sys.modules[parent], child, lazy)
    return lazy
