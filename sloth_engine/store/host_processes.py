"""Task attempts that run in child processes on a master's host, and who runs them.

A master writes the row before it starts the child (so a master that dies at any moment
leaves a trace of every attempt it may have started), then the child's identity: host, boot
id, pid, process group and start time. A restarted master judges by them whether the attempt
still runs (it adopts it), or ended (it collects the result the child left in its folder),
or is lost (it records so and retries per the task's policy).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sloth_engine.store.backend import Backend

CREATE_TABLE = """CREATE TABLE IF NOT EXISTS host_processes (
    run_id TEXT NOT NULL,
    task TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    folder TEXT NOT NULL,
    host TEXT,
    boot TEXT,
    pid INTEGER,
    pgid INTEGER,
    started DOUBLE PRECISION,
    created_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (run_id, task, attempt)
)"""

_COLUMNS = "run_id, task, attempt, folder, host, boot, pid, pgid, started"


@dataclass(frozen=True)
class HostProcess:
    run_id: str
    task: str
    attempt: int
    folder: str
    host: str | None = None
    boot: str | None = None
    pid: int | None = None
    pgid: int | None = None
    started: float | None = None

    def owner_row(self) -> dict[str, Any]:
        """In the shape sloth_engine.run_owner.owner_gone judges."""
        return {
            "owner_host": self.host,
            "owner_boot": self.boot,
            "owner_pid": self.pid,
            "owner_started": self.started,
        }


class HostProcesses:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._intent = backend.sql(
            "INSERT INTO host_processes (run_id, task, attempt, folder, created_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (run_id, task, attempt) DO UPDATE SET folder = EXCLUDED.folder, "
            "host = NULL, boot = NULL, pid = NULL, pgid = NULL, started = NULL"
        )
        self._started = backend.sql(
            "UPDATE host_processes SET host = ?, boot = ?, pid = ?, pgid = ?, started = ? "
            "WHERE run_id = ? AND task = ? AND attempt = ?"
        )
        self._of_run = backend.sql(f"SELECT {_COLUMNS} FROM host_processes WHERE run_id = ?")
        self._forget = backend.sql("DELETE FROM host_processes WHERE run_id = ?")
        self._lines = backend.sql(
            "SELECT COUNT(*) FROM run_logs WHERE run_id = ? AND task = ? AND attempt = ?"
        )

    def intend(self, run_id: str, task: str, attempt: int, folder: str, now: float) -> None:
        self.backend.execute(self._intent, (run_id, task, attempt, folder, now))

    def started(self, proc: HostProcess) -> None:
        self.backend.execute(
            self._started,
            (proc.host, proc.boot, proc.pid, proc.pgid, proc.started, proc.run_id, proc.task, proc.attempt),
        )

    def of_run(self, run_id: str) -> dict[str, HostProcess]:
        """The latest attempt of each task of the run that was started on a master's host."""
        latest: dict[str, HostProcess] = {}
        for row in self.backend.query_all(self._of_run, (run_id,)):
            proc = HostProcess(*row)
            if proc.task not in latest or proc.attempt > latest[proc.task].attempt:
                latest[proc.task] = proc
        return latest

    def forget_run(self, run_id: str) -> None:
        self.backend.execute(self._forget, (run_id,))

    def lines_recorded(self, run_id: str, task: str, attempt: int) -> int:
        """Output lines of the attempt the store has (a previous master forwarded them)."""
        row = self.backend.query_one(self._lines, (run_id, task, attempt))
        return int(row[0]) if row else 0
