"""Load one workflow file in a process of its own, for the watched folder (`master --watch`).

`python -m sloth_daemon.master.catalog_probe PATH` reads the file's text on stdin and prints one
JSON object: {"workflows": [[name, tasks, description], ...]} or {"error": ..., "line": ...}.
A file whose top-level code never returns (a loop inside a C function of Lua ignores every
bound) then hangs only this process, which the master kills at its deadline.
"""

from __future__ import annotations

import json
import sys

from sloth_engine.dsl import load_file
from sloth_engine.errors import DslError


def probe(path: str, source: str) -> dict[str, object]:
    try:
        loaded = load_file(path, source=source)
    except DslError as exc:
        return {"error": exc.message, "line": exc.line or 0}
    except Exception as exc:  # a file must not be able to crash the probe into a traceback
        return {"error": f"cannot load: {exc or type(exc).__name__}", "line": 0}
    return {"workflows": [[w.name, len(w.tasks), w.description] for w in loaded.spec.workflows]}


def main() -> int:
    source = sys.stdin.buffer.read().decode("utf-8", "replace")
    sys.stdout.write(json.dumps(probe(sys.argv[1], source)) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
