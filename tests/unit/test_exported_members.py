"""Every package of clew declares its public names in ``__all__``, and exactly those: each name
listed exists, and each public name the package binds from inside clew is listed (httpx's
tests/test_exported_members.py is the model). Names a package only uses bind with a leading
underscore; third-party and standard-library imports are not its surface, nor are values it
borrows from another clew package (a ``clew.model`` type used in annotations)."""

from __future__ import annotations

import importlib
import pkgutil
import types

import pytest

import clew


def _packages() -> list[str]:
    found = ["clew"]
    found += [m.name for m in pkgutil.walk_packages(clew.__path__, "clew.") if m.ispkg]
    return sorted(found)


def _borrowed(package: str, value: object) -> bool:
    """Whether ``value`` was defined outside ``package`` (a function, class or enum member)."""
    owner = getattr(value, "__module__", None)
    if isinstance(value, str | int | float | bytes | dict | list | tuple | frozenset):
        return False  # a constant: part of the surface wherever it is bound
    if not isinstance(owner, str):
        return False
    return not (owner == package or owner.startswith(package + "."))


def _public(module: types.ModuleType) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and name != "annotations"  # from __future__
        and not isinstance(value, types.ModuleType)
        and not _borrowed(module.__name__, value)
    }


def test_packages_are_found() -> None:
    packages = _packages()
    assert {"clew.controller.api", "clew.controller.runtime", "clew.cluster"} <= set(packages)


@pytest.mark.parametrize("package", _packages())
def test_all_names_exactly_the_public_symbols(package: str) -> None:
    module = importlib.import_module(package)
    exported = getattr(module, "__all__", None)
    assert isinstance(exported, list), f"{package} declares no __all__ list"
    assert len(exported) == len(set(exported)), f"{package}.__all__ repeats a name"
    missing = [name for name in exported if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ names what it does not define: {missing}"
    unlisted = sorted(_public(module) - set(exported))
    assert not unlisted, f"{package} binds public names missing from __all__: {unlisted}"


@pytest.mark.parametrize("package", _packages())
def test_a_package_opens_with_its_purpose(package: str) -> None:
    doc = importlib.import_module(package).__doc__ or ""
    assert doc.strip(), f"{package}/__init__.py has no docstring"
    assert len(doc.strip().splitlines()[0]) <= 100
