"""Read the actual state of resources, for drift detection and validation.

Three probes: `file` resources are read from disk (content, checksum, mode and owner, compared
only where the properties hold them); a `read` shell command's stdout is the actual value (JSON
when it parses, `null` meaning the resource is missing); a `read` naming a function defined at
the top level of the workflow file is called with the resource, after the file is loaded again
without running any task. Each probe gives a Reading: the actual fields next to the expected
fields they are compared with.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from sloth_engine import process
from sloth_engine.dsl import load_file
from sloth_engine.errors import SlothError
from sloth_engine.lua.sandbox import lua_type
from sloth_engine.modules import ModuleEnv
from sloth_engine.store.stack_records import ResourceRecord, to_json

if TYPE_CHECKING:
    from sloth_engine.store import Store

SHELL_TIMEOUT_S = 30.0
FUNCTION_TIMEOUT_S = 30.0
SHELL_WORKERS = 8
FILE_FIELDS = ("content", "checksum", "mode", "owner")

ReadStatus = Literal["ok", "missing", "error", "unchecked"]


class Reading(NamedTuple):
    status: ReadStatus
    expected: dict[str, Any] | None = None
    actual: dict[str, Any] | None = None
    error: str = ""


def probe_name(record: ResourceRecord) -> str:
    """How the resource is read: 'file', 'shell', 'function' or '' (it cannot be)."""
    if record.probe_kind in ("shell", "function") and record.probe:
        return record.probe_kind
    return "file" if record.type == "file" else ""


# ---- file ------------------------------------------------------------------------------


def read_file(properties: dict[str, Any]) -> Reading:
    path = properties.get("path")
    if not isinstance(path, str) or not path:
        return Reading("error", error="a file resource needs properties.path")
    expected = expected_file_fields(properties)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return Reading("missing", expected)
    except OSError as exc:
        return Reading("error", expected, error=f"cannot stat {path}: {exc.strerror}")
    actual: dict[str, Any] = {}
    if "content" in expected or "checksum" in expected:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            return Reading("error", expected, error=f"cannot read {path}: {exc.strerror}")
        if "content" in expected:
            actual["content"] = data.decode("utf-8", "replace")
        if "checksum" in expected:
            actual["checksum"] = hashlib.sha256(data).hexdigest()
    if "mode" in expected:
        actual["mode"] = format(info.st_mode & 0o7777, "04o")
    if "owner" in expected:
        numeric = expected["owner"].isdigit()
        actual["owner"] = str(info.st_uid) if numeric else _user_name(info.st_uid)
    return Reading("ok", expected, actual)


def expected_file_fields(properties: dict[str, Any]) -> dict[str, Any]:
    """The properties a file probe compares, in the form it reads them."""
    expected: dict[str, Any] = {}
    if "content" in properties:
        expected["content"] = "" if properties["content"] is None else str(properties["content"])
    if "checksum" in properties:
        expected["checksum"] = str(properties["checksum"]).lower().removeprefix("sha256:")
    if "mode" in properties:
        expected["mode"] = normalize_mode(properties["mode"])
    if "owner" in properties:
        expected["owner"] = str(properties["owner"])
    return expected


def normalize_mode(mode: Any) -> str:
    """'0644', '644', 644 (octal digits written as a number) -> '0644'."""
    text = str(mode).strip().lower().removeprefix("0o")
    if text.isdigit() and all(ch in "01234567" for ch in text):
        return format(int(text, 8), "04o")
    return text


@lru_cache(maxsize=256)
def _user_name(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return str(uid)


# ---- shell and function answers -----------------------------------------------------------


def answer_reading(properties: dict[str, Any], value: Any) -> Reading:
    """A probe's answer: a table is compared key by key with the properties, a scalar with
    `properties.value` (or the only property), nil / null means the resource is missing."""
    if value is None:
        return Reading("missing", dict(properties))
    if isinstance(value, dict):
        return Reading("ok", dict(properties), value)
    if "value" in properties:
        return Reading("ok", {"value": properties["value"]}, {"value": value})
    if len(properties) == 1:
        key = next(iter(properties))
        return Reading("ok", {key: properties[key]}, {key: value})
    return Reading(
        "error", error="read gave a single value; give the resource a `value` property to compare it with"
    )


def read_shell(record: ResourceRecord, cwd: str | None) -> Reading:
    env = {
        **os.environ,
        "SLOTH_STACK": record.stack,
        "SLOTH_RESOURCE_TYPE": record.type,
        "SLOTH_RESOURCE_NAME": record.name,
        "SLOTH_RESOURCE_PROPERTIES": to_json(record.properties),
    }
    argv = ["/bin/sh", "-c", record.probe or ""]
    try:
        done = process.run(
            argv, cwd=cwd if cwd and os.path.isdir(cwd) else None, env=env, timeout=SHELL_TIMEOUT_S
        )
    except OSError as exc:
        return Reading("error", error=f"read command cannot start: {exc.strerror}")
    if done.timed_out:
        return Reading("error", error=f"read command timed out after {SHELL_TIMEOUT_S:g}s")
    if done.exit_code != 0:
        detail = (done.stderr.strip().splitlines() or [""])[-1]
        return Reading(
            "error", error=f"read command exited {done.exit_code}" + (f": {detail}" if detail else "")
        )
    text = done.stdout.strip()
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    return answer_reading(record.properties, value)


class FunctionProber:
    """Loads a workflow file once (no task runs) and calls its top-level functions."""

    def __init__(self, path: str, store: Store, stack: str) -> None:
        self.path = path
        self._store, self._stack = store, stack
        self._loaded: Any = None
        self._error = ""

    def read(self, record: ResourceRecord) -> Reading:
        loaded = self._load()
        if loaded is None:
            return Reading("error", error=self._error)
        sandbox = loaded.sandbox
        fn = sandbox.globals()[record.probe]
        if lua_type(fn) != "function":
            return Reading("error", error=f"{self.path} defines no top-level function '{record.probe}'")
        argument = {
            "type": record.type,
            "name": record.name,
            "properties": record.properties,
            "stack": record.stack,
        }
        try:
            value = sandbox.call(fn, sandbox.to_lua(argument), deadline=time.monotonic() + FUNCTION_TIMEOUT_S)
            first = value[0] if isinstance(value, tuple) else value
            plain = sandbox.to_py(first, keep_functions=False)
        except SlothError as exc:
            return Reading("error", error=f"{record.probe}: {exc}")
        except Exception as exc:  # a value Lua cannot hand over (a function, a cycle): report it
            return Reading("error", error=f"{record.probe}: {exc}")
        return answer_reading(record.properties, plain)

    def _load(self) -> Any:
        if self._loaded is None and not self._error:
            env = ModuleEnv(store=self._store, namespace=self._stack, stack=self._stack)
            try:
                self._loaded = load_file(self.path, env=env)
            except SlothError as exc:
                self._error = f"cannot load {self.path}: {exc}"
        return self._loaded


def read_all(records: Iterable[ResourceRecord], store: Store, default_file: str = "") -> list[Reading]:
    """Readings in the order of `records`: files inline, shell commands on threads, workflow
    functions one after the other in one runtime per file."""
    records = list(records)
    readings: list[Reading | None] = [None] * len(records)
    shell: list[int] = []
    probers: dict[str, FunctionProber] = {}
    for i, record in enumerate(records):
        kind = probe_name(record)
        if kind == "file":
            readings[i] = read_file(record.properties)
        elif kind == "shell":
            shell.append(i)
        elif kind == "function":
            path = record.file or default_file
            if not path:
                readings[i] = Reading("error", error="no workflow file is known for this resource")
                continue
            prober = probers.setdefault(path, FunctionProber(path, store, record.stack))
            readings[i] = prober.read(record)
        else:
            readings[i] = Reading("unchecked")
    if shell:
        with ThreadPoolExecutor(min(SHELL_WORKERS, len(shell))) as pool:
            futures = {
                i: pool.submit(read_shell, records[i], _folder(records[i].file or default_file))
                for i in shell
            }
            for i, future in futures.items():
                readings[i] = future.result()
    return [r if r is not None else Reading("unchecked") for r in readings]


def _folder(path: str) -> str | None:
    return str(Path(path).parent) if path else None
