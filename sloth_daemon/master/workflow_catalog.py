"""The master's watched workflow folder (`master --watch DIR`): every *.sloth file in it, kept
in its last version that loads, reloaded by watchfiles when it changes.

A change that loads replaces the file's version for the runs that start after it (a run in
flight keeps the source it started with: the run service copied it) and raises
`workflow.reloaded`; a change that does not load keeps the last good version and raises
`workflow.reload_failed` with the file, the line and the error. Schedules that name a file of
the folder fire its current good version.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sloth_engine.dsl import load_file, read_source
from sloth_engine.errors import DslError

log = logging.getLogger(__name__)

SUFFIX = ".sloth"


@dataclass
class CatalogEntry:
    path: str
    source: str | None = None
    """The last version that loaded (None: no version of the file ever loaded)."""
    digest: str = ""
    workflows: list[tuple[str, int, str]] = field(default_factory=list)
    """(name, task count, description) of the good version."""
    loaded_at: float = 0.0
    error: str = ""
    error_line: int = 0


class WorkflowCatalog:
    def __init__(self, folder: Path, bus: Any) -> None:
        self.folder = folder.resolve()
        self.bus = bus
        self.entries: dict[str, CatalogEntry] = {}

    def scan(self) -> None:
        """Load every workflow file of the folder (at start)."""
        if not self.folder.is_dir():
            raise DslError("--watch: not a folder", str(self.folder))
        for path in sorted(self.folder.rglob("*" + SUFFIX)):
            self.reload(path, announce=False)

    def source_for(self, path: str | Path) -> str | None:
        """The good version of a file of the folder; None when the catalog does not have one."""
        entry = self.entries.get(str(Path(path).resolve()))
        return entry.source if entry is not None else None

    def reload(self, path: Path, announce: bool = True) -> bool:
        """Load the file as it is now; True when this version is the one in use."""
        key = str(path.resolve())
        entry = self.entries.setdefault(key, CatalogEntry(key))
        try:
            source = read_source(path)
            loaded = load_file(path, source=source)
        except DslError as exc:
            entry.error, entry.error_line = exc.message, exc.line or 0
            if announce:
                data = {"file": key, "line": exc.line, "error": exc.message, "kept": bool(entry.source)}
                self.bus.publish("workflow.reload_failed", data, severity="error", source="master")
            log.warning("%s does not load (the previous version stays): %s", key, exc)
            return False
        digest = hashlib.sha256(source.encode("utf-8", "replace")).hexdigest()[:16]
        changed = digest != entry.digest
        entry.source, entry.digest, entry.loaded_at = source, digest, time.time()
        entry.workflows = [(w.name, len(w.tasks), w.description) for w in loaded.spec.workflows]
        entry.error, entry.error_line = "", 0
        if announce and changed:
            names = [w[0] for w in entry.workflows]
            self.bus.publish(
                "workflow.reloaded", {"file": key, "workflows": names, "digest": digest}, source="master"
            )
        return True

    def forget(self, path: Path) -> None:
        if self.entries.pop(str(path.resolve()), None) is not None:
            self.bus.publish("workflow.removed", {"file": str(path.resolve())}, source="master")

    async def watch(self) -> None:
        """Reload files as they change, until cancelled."""
        import watchfiles

        def wanted(change: Any, path: str) -> bool:
            return path.endswith(SUFFIX)

        async for changes in watchfiles.awatch(self.folder, watch_filter=wanted, step=5, debounce=100):
            for change, name in sorted(changes, key=lambda c: c[1]):
                path = Path(name)
                if change == watchfiles.Change.deleted or not path.exists():
                    self.forget(path)
                else:
                    await asyncio.to_thread(self.reload, path)

    def rows(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for entry in sorted(self.entries.values(), key=lambda e: e.path):
            base = {"file": entry.path, "loaded_at": entry.loaded_at, "error": entry.error}
            base["error_line"] = entry.error_line
            if not entry.workflows:
                out.append({**base, "workflow": "", "tasks": 0, "description": ""})
            for name, tasks, description in entry.workflows:
                out.append({**base, "workflow": name, "tasks": tasks, "description": description})
        return out
