"""Worker processes for the store's concurrency and crash tests (run as a script).

    python store_worker.py increment URL KEY COUNT
    python store_worker.py race URL LOCK HOLDER COUNT WITNESS TOKENS
    python store_worker.py write-forever URL
    python store_worker.py open URL

Each prints one line per acknowledged operation where the test needs it, and exits 0 on
success, 3 when it saw a broken invariant.
"""

from __future__ import annotations

import os
import random
import sys
import time

from sloth_engine.store import open_store


def increment(url: str, key: str, count: int) -> int:
    with open_store(url) as store:
        for _ in range(count):
            store.state.increment("race", key)
    return 0


def race(url: str, lock: str, holder: str, count: int, witness: str, tokens: str) -> int:
    """Take `lock` `count` times; inside, prove nobody else is inside (the witness file)."""
    broken = 0
    with open_store(url) as store:
        for _ in range(count):
            grant = store.state.lock(lock, holder, ttl=30, wait=120)
            fd = os.open(witness, os.O_RDWR)
            try:
                if os.pread(fd, 64, 0).strip(b"\0 \n"):
                    broken += 1
                os.pwrite(fd, holder.encode().ljust(32), 0)
                with open(tokens, "a") as log:
                    log.write(f"{grant.token} {holder}\n")
                time.sleep(random.random() * 0.0005)
                if os.pread(fd, 32, 0).strip() != holder.encode():
                    broken += 1
                os.pwrite(fd, b" " * 32, 0)
            finally:
                os.close(fd)
            if not store.state.unlock(lock, grant.token):
                broken += 1
            time.sleep(random.random() * 0.001)
    return 3 if broken else 0


def write_forever(url: str) -> int:
    """Write keys k0, k1, ... and print each index once its write returned."""
    with open_store(url) as store:
        index = 0
        while True:
            store.state.set("crash", f"k{index}", {"index": index, "pad": "x" * 200})
            store.state.increment("crash", "counter")
            print(index, flush=True)
            index += 1


def open_only(url: str) -> int:
    with open_store(url) as store:
        print(store.schema_version(), flush=True)
    return 0


def main(argv: list[str]) -> int:
    command, url, *rest = argv
    if command == "increment":
        return increment(url, rest[0], int(rest[1]))
    if command == "race":
        return race(url, rest[0], rest[1], int(rest[2]), rest[3], rest[4])
    if command == "write-forever":
        return write_forever(url)
    if command == "open":
        return open_only(url)
    raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
