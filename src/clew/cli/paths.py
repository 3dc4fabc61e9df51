"""Where clew keeps its caches and state on this machine."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$CLEW_CACHE_DIR``, else ``$XDG_CACHE_HOME/clew``, else ``~/.cache/clew``."""
    if env := os.environ.get("CLEW_CACHE_DIR"):
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "clew"
