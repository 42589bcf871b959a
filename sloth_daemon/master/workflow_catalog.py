"""The master's watched workflow folder (`master --watch DIR`): every *.sloth file in it, kept
in its last version that loads, reloaded by watchfiles when it changes.

A change that loads replaces the file's version for the runs that start after it (a run in
flight keeps the source it started with: the run service copied it) and raises
`workflow.reloaded`; a change that does not load keeps the last good version and raises
`workflow.reload_failed` with the file, the line and the error. Schedules that name a file of
the folder fire its current good version.

Each file loads in a child process of its own under a deadline (catalog_probe): a file whose
top-level code never returns fails to load at the deadline and holds up neither the other
files nor the master's start (the folder is scanned after the master serves).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sloth_engine.dsl import read_source
from sloth_engine.errors import DslError
from sloth_engine.process import DEVNULL, PIPE, start_async

log = logging.getLogger(__name__)

SUFFIX = ".sloth"
LOAD_TIMEOUT = 30.0
"""Loading one file of the folder takes at most this (`master --watch-timeout`)."""


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
    def __init__(self, folder: Path, bus: Any, load_timeout: float = LOAD_TIMEOUT) -> None:
        self.folder = folder.resolve()
        self.bus = bus
        self.load_timeout = load_timeout
        self.entries: dict[str, CatalogEntry] = {}
        self._loading: dict[str, asyncio.Task[bool]] = {}
        """The load in progress of each file: a newer change replaces it."""

    def check_folder(self) -> None:
        if not self.folder.is_dir():
            raise DslError("--watch: not a folder", str(self.folder))

    async def scan(self) -> None:
        """Load every workflow file of the folder (at start), each under its own bound."""
        self.check_folder()
        paths = sorted(self.folder.rglob("*" + SUFFIX))
        await asyncio.gather(*(self.reload(path, announce=False) for path in paths))

    def source_for(self, path: str | Path) -> str | None:
        """The good version of a file of the folder; None when the catalog does not have one."""
        entry = self.entries.get(str(Path(path).resolve()))
        return entry.source if entry is not None else None

    async def reload(self, path: Path, announce: bool = True) -> bool:
        """Load the file as it is now; True when this version is the one in use. A change that
        comes while the file is still loading replaces that load."""
        key = str(path.resolve())
        earlier = self._loading.pop(key, None)
        if earlier is not None:
            earlier.cancel()
        job = asyncio.create_task(self._reload(path, key, announce))
        self._loading[key] = job
        try:
            return await asyncio.shield(job)
        finally:
            if self._loading.get(key) is job and job.done():
                del self._loading[key]

    async def _reload(self, path: Path, key: str, announce: bool) -> bool:
        entry = self.entries.setdefault(key, CatalogEntry(key))
        try:
            source = await asyncio.to_thread(read_source, path)
            workflows = await self._probe(key, source)
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
        entry.workflows = workflows
        entry.error, entry.error_line = "", 0
        if announce and changed:
            names = [w[0] for w in entry.workflows]
            self.bus.publish(
                "workflow.reloaded", {"file": key, "workflows": names, "digest": digest}, source="master"
            )
        return True

    async def _probe(self, key: str, source: str) -> list[tuple[str, int, str]]:
        """Load the text in a child process (catalog_probe), killed at the deadline."""
        argv = [sys.executable, "-m", "sloth_daemon.master.catalog_probe", key]
        proc = await start_async(argv, stdin=PIPE, stderr=DEVNULL, new_group=False)
        try:
            out, _ = await asyncio.wait_for(proc.communicate(source.encode("utf-8")), self.load_timeout)
        except TimeoutError:
            raise DslError(
                f"loading took more than {self.load_timeout:g}s (top-level code that never returns?)", key
            ) from None
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        try:
            answer = json.loads(out.decode("utf-8", "replace"))
        except ValueError:
            raise DslError(f"loading stopped the loader (exit status {proc.returncode})", key) from None
        if "error" in answer:
            raise DslError(str(answer["error"]), key, int(answer.get("line") or 0) or None)
        return [(str(n), int(t), str(d)) for n, t, d in answer["workflows"]]

    def forget(self, path: Path) -> None:
        key = str(path.resolve())
        loading = self._loading.pop(key, None)
        if loading is not None:
            loading.cancel()
        if self.entries.pop(key, None) is not None:
            self.bus.publish("workflow.removed", {"file": key}, source="master")

    async def watch(self) -> None:
        """Reload files as they change, until cancelled; each file loads on its own, so one
        that hangs holds up nothing else."""
        import watchfiles

        def wanted(change: Any, path: str) -> bool:
            return path.endswith(SUFFIX)

        async for changes in watchfiles.awatch(self.folder, watch_filter=wanted, step=5, debounce=100):
            for change, name in sorted(changes, key=lambda c: c[1]):
                path = Path(name)
                if change == watchfiles.Change.deleted or not path.exists():
                    self.forget(path)
                else:
                    job = asyncio.create_task(self.reload(path))
                    job.add_done_callback(_quiet)

    def close(self) -> None:
        for job in self._loading.values():
            job.cancel()

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


def _quiet(job: asyncio.Task[bool]) -> None:
    if not job.cancelled() and job.exception() is not None:
        log.error("reloading a watched file failed: %s", job.exception())
