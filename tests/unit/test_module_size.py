"""No module of clew is over 400 lines (STYLE.md's soft cap, made a rule): a module that grows
past it is split by concern, as controller/ and engine/ were. Counts every line, blank and
comment lines included, of every .py file under src/clew."""

from __future__ import annotations

from pathlib import Path

import clew

LIMIT = 400
ROOT = Path(clew.__file__).parent


def test_modules_are_found() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*.py")}
    assert {"engine/__init__.py", "controller/reconcile/reconciler.py"} <= names


def test_no_module_is_over_the_limit() -> None:
    sizes = {
        path.relative_to(ROOT).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in ROOT.rglob("*.py")
    }
    over = {name: n for name, n in sorted(sizes.items()) if n > LIMIT}
    assert not over, f"modules over {LIMIT} lines (split them by concern): {over}"
