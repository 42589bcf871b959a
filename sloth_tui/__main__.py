"""`python -m sloth_tui`: the same as `sloth-tui`."""

from __future__ import annotations

import sys

from sloth_tui.cli import main

if __name__ == "__main__":
    sys.exit(main())
