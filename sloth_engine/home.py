"""Where Sloth Runner keeps its files on this machine: `$SLOTH_HOME`, default `~/.sloth`."""

from __future__ import annotations

import os
from pathlib import Path


def sloth_home() -> Path:
    """`$SLOTH_HOME`, default `~/.sloth` (created by whoever first writes there)."""
    return Path(os.environ.get("SLOTH_HOME") or Path.home() / ".sloth").expanduser()
