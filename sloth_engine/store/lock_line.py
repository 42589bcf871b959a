"""The line of waiters for a lock on a SQLite store, across threads and processes.

Each waiting thread sleeps on a FIFO (named pipe) of its own, its "ear", made once per thread.
To stand in the line for a lock it puts a hard link to its ear in the lock's folder, named by
arrival time. Only the first living waiter of the line asks the store for the lock; a release
writes one byte to that waiter's ear, so it wakes at once instead of polling, and the lock goes
to the waiters in the order they came (a holder that asks again queues behind them). A waiter
whose process died leaves a link that nobody reads: opening it for writing fails (ENXIO) and it
is removed. The lines live in /dev/shm when there is one (a memory file system: its folder
operations cost microseconds, a disk's up to milliseconds), else beside the database file.
Nothing here decides a grant: the store does, and a waiter that hears nothing asks again after
`FALLBACK_S` (or when the lease expires).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import itertools
import os
import select
import threading
import time

FALLBACK_S = 0.25
"""A waiter asks the store at least this often even when no release woke it."""
SHARED_MEMORY = "/dev/shm"

_ids = itertools.count()
_local = threading.local()


def lines_folder(db_path: str) -> str:
    """Where the lines of the SQLite file `db_path` live (the same for every process)."""
    real = os.path.realpath(db_path)
    if os.path.isdir(SHARED_MEMORY) and os.access(SHARED_MEMORY, os.W_OK):
        digest = hashlib.sha1(real.encode()).hexdigest()[:20]
        return os.path.join(SHARED_MEMORY, f"sloth-locks-{os.getuid()}", digest)
    return f"{real}-waits"


class Line:
    """The waiting lines of one lock table of one SQLite file."""

    def __init__(self, folder: str, table: str) -> None:
        self.base = folder
        self.folder = os.path.join(folder, table)

    def _dir(self, name: str) -> str:
        return os.path.join(self.folder, hashlib.sha1(name.encode()).hexdigest()[:24])

    def waiting(self, name: str) -> bool:
        """True when some living waiter is in the line for `name` (a newcomer queues behind)."""
        return _first_alive(self._dir(name), None) is not None

    def waiters(self, name: str) -> int:
        """How many living waiters stand in the line for `name`."""
        try:
            names = os.listdir(self._dir(name))
        except FileNotFoundError:
            return 0
        return sum(_alive(os.path.join(self._dir(name), entry)) for entry in names)

    def join(self, name: str) -> Place:
        return Place(self._dir(name), _ear(self.base))

    def wake(self, name: str) -> None:
        """After a release: wake the first living waiter for `name`."""
        first = _first_alive(self._dir(name), None)
        if first is not None:
            _signal(first)


class _Ear:
    """A thread's FIFO, open for reading (and for writing, so reading never sees an end)."""

    def __init__(self, folder: str) -> None:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        _remove_dead(folder)
        self.path = os.path.join(folder, f"{os.getpid()}-{threading.get_ident()}-{next(_ids)}")
        os.mkfifo(self.path, 0o600)
        self.read = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        self.keep = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)

    def drain(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self.read, 64):
                pass


def _ear(base: str) -> _Ear:
    ears: dict[str, _Ear] = _local.__dict__.setdefault("ears", {})
    pid_ear = ears.get(base)
    if pid_ear is None or not pid_ear.path.split(os.sep)[-1].startswith(f"{os.getpid()}-"):
        pid_ear = ears[base] = _Ear(os.path.join(base, "ears"))  # (a forked child makes its own)
    return pid_ear


class Place:
    """One waiter's place in a line: a link to its ear, named by its arrival."""

    def __init__(self, folder: str, ear: _Ear) -> None:
        self.folder = folder
        self.ear = ear
        ear.drain()  # wake-ups meant for an earlier place
        self.path = os.path.join(folder, f"{time.time_ns():020d}-{os.getpid()}-{next(_ids)}")
        for tries_left in range(10, -1, -1):
            try:
                os.link(ear.path, self.path)
                return
            except FileNotFoundError:  # no folder yet, or the last waiter out just removed it
                if not tries_left:
                    raise
                os.makedirs(folder, mode=0o700, exist_ok=True)

    def first(self) -> bool:
        """No living waiter came before this one."""
        return _first_alive(self.folder, os.path.basename(self.path)) is None

    def wait(self, timeout: float) -> bool:
        """Sleep until woken (True) or `timeout` seconds (False); the wake-ups are consumed."""
        ready, _, _ = select.select([self.ear.read], [], [], max(timeout, 0.0))
        self.ear.drain()
        return bool(ready)

    def drain(self) -> None:
        self.ear.drain()

    def leave(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        with contextlib.suppress(OSError):
            os.rmdir(self.folder)  # the last one out removes the lock's folder (else: not empty)


def _first_alive(folder: str, before: str | None) -> str | None:
    """The path of the first living waiter in `folder` (only those named before `before`);
    dead waiters found on the way are removed."""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return None
    for entry in sorted(names):
        if before is not None and entry >= before:
            return None
        path = os.path.join(folder, entry)
        if _alive(path):
            return path
    return None


def _alive(path: str) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # nobody reads it: its process is gone
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        return False
    os.close(fd)
    return True


def _remove_dead(folder: str) -> None:
    """Ears of processes that are gone (a new thread's ear is made rarely: worth the sweep)."""
    with contextlib.suppress(OSError):
        for entry in os.listdir(folder):
            _alive(os.path.join(folder, entry))


def _signal(path: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return  # gone meanwhile: it got the lock or gave up
    try:
        os.write(fd, b"\0")
    except BlockingIOError:
        pass  # its pipe is full of wake-ups already
    finally:
        os.close(fd)
