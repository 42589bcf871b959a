"""One sandboxed Lua 5.4 runtime (lupa) and the boundary between Lua and Python values.

Everything that crosses the boundary is converted: Lua tables become dicts and lists, Python
values become Lua tables. No Python object is ever handed to Lua code, and attribute access
on Python objects is refused, so workflow code cannot reach the interpreter.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any

import lupa.lua54 as lua54

from sloth_engine.errors import LuaRuntimeError
from sloth_engine.lua.convert import ModuleError, to_py
from sloth_engine.lua.convert import iter_array as iter_array  # re-exported for the DSL and hooks
from sloth_engine.lua.guard import Guard, TaskScope
from sloth_engine.lua.limits import (
    ENTRY_COST,
    HEADROOM,
    MAX_DEPTH,
    STRING_COST,
    TABLE_COST,
    MiB,
    TooLarge,
    lua_cost,
)

log = logging.getLogger(__name__)

DEFAULT_MEMORY_LIMIT = 256 * 1024 * 1024
MAX_ERROR_CHARS = 64 * 1024
"""A module's error message is cut here before it becomes a Lua string."""

LuaError = lua54.LuaError
LuaSyntaxError = lua54.LuaSyntaxError
LuaMemoryError = lua54.LuaMemoryError
lua_type = lua54.lua_type

_PLACE = re.compile(r"^(?:error loading code: )?(?P<path>[^\s:][^:]*?):(?P<line>\d+): (?P<msg>.*)$", re.S)


_SCALARS = frozenset((bool, int, float))
_PLAIN = frozenset((str, bool, int, float, type(None)))


def _flat(value: dict[Any, Any], budget: list[int]) -> bool:
    """True, with its strings charged to `budget`, when a dict holds only str or int keys
    and plain values (no tables): lupa's table_from can then build it in one call."""
    cost = 0
    for key, item in value.items():
        kind = type(key)
        if kind is str:
            cost += STRING_COST + (len(key) if key.isascii() else 4 * len(key))
        elif kind is not int:
            return False
        kind = type(item)
        if kind is str:
            cost += STRING_COST + (len(item) if item.isascii() else 4 * len(item))
        elif kind not in _PLAIN:
            return False
    budget[0] -= cost
    if budget[0] < 0:
        raise TooLarge("value does not fit")
    return True


def _deny_get(obj: object, name: object) -> object:
    raise AttributeError("access to Python attributes is not allowed in a workflow")


def _deny_set(obj: object, name: object, value: object) -> None:
    raise AttributeError("access to Python attributes is not allowed in a workflow")


class Sandbox:
    """A Lua runtime with the dangerous parts removed, a guard hook and a memory limit."""

    def __init__(self, memory_limit: int = DEFAULT_MEMORY_LIMIT) -> None:
        self.memory_limit = memory_limit
        self.lua = lua54.LuaRuntime(
            unpack_returned_tuples=True,
            register_eval=False,
            register_builtins=False,
            attribute_handlers=(_deny_get, _deny_set),
            max_memory=memory_limit,
        )
        self._guard = Guard()
        self._scope = TaskScope()
        self._local = threading.local()
        self._blocking: list[Callable[..., Any]] = []
        self.context: dict[str, Any] = {}
        self.chunk_names: set[str] = set()
        """Names of loaded chunks, to restore names Lua shortened with '...' in messages."""
        chunk = self.lua.globals()["load"](bytecode("prelude"), "=prelude", "b")
        helpers = chunk(self.check_guard, self._print, self.memory_limit or 2**40)
        self._load_trusted = helpers["load_trusted"]
        self._wrap = helpers["wrap"]
        self._wrap_blocking = helpers["wrap_blocking"]
        self.start = helpers["start"]
        """`start(fn)`: a handle on a new coroutine running fn, with the guard hook installed."""
        self.step = helpers["step"]
        """`step(handle, ...)`: resume once; ("done", ...) | ("offload", i, args...) | ("error", msg)."""
        self.discard = helpers["discard"]
        """`discard(handle)`: forget a coroutine that will not be resumed again."""
        self._lazy_globals = helpers["lazy_globals"]
        self._arm = helpers["arm"]
        self._identity = helpers["identity"]
        self.pristine = helpers["pristine"]
        """The standard globals as the prelude left them (workflow code may replace its own)."""
        self.caller = helpers["caller"]
        """Trusted helper for the DSL: `caller(level)` gives (source, line) of a Lua frame."""
        self.load = self.lua.globals()["load"]
        """The sandbox's text-only `load`, kept before workflow code can replace the global."""
        self._new_table = self.lua.table
        self._table_from = self.lua.table_from
        self.run_packaged("math_ext", self.lua.globals()["math"], self.pristine["math"])

    # ---- the task this runtime works for ------------------------------------------------
    # A worker thread running an offloaded call sees that call's task; the thread that
    # resumes task coroutines sees whichever task it resumes now.

    @property
    def guard(self) -> Guard:
        return getattr(self._local, "guard", None) or self._guard

    @guard.setter
    def guard(self, value: Guard) -> None:
        self._guard = value

    @property
    def scope(self) -> TaskScope:
        return getattr(self._local, "scope", None) or self._scope

    @scope.setter
    def scope(self, value: TaskScope) -> None:
        self._scope = value

    def check_guard(self) -> str | None:
        return self.guard.check()

    def bind_thread(self, scope: TaskScope | None, guard: Guard | None) -> None:
        """Make this thread see the given task (None: back to the runtime's current one)."""
        self._local.scope = scope
        self._local.guard = guard

    # ---- values across the boundary -------------------------------------------------

    def to_lua(self, value: Any) -> Any:
        """Convert a Python value into Lua values (dicts and lists become tables).

        Lua builds these outside a protected call, where running out of memory aborts the
        process: each table and string is charged its worst-case Lua size before it is made,
        and a value that does not fit in the free memory is a ModuleError instead.
        """
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if self.memory_limit:  # the common case first: it fits in what is free now
            budget = [self.memory_limit - self.lua.get_memory_used() - HEADROOM]
            try:
                return self._convert(value, 0, budget)
            except TooLarge as exc:
                if exc.deep:
                    raise ModuleError(str(exc)) from None
        return self._checked(lambda budget: self._convert(value, 0, budget))

    def to_lua_many(self, values: tuple[Any, ...]) -> tuple[Any, ...]:
        """`to_lua` of several values sharing one budget (the results of a module call)."""
        return self._checked(lambda budget: tuple(self._convert(v, 0, budget) for v in values))

    def make_room(self, value: Any) -> None:
        """ModuleError unless `value` would fit in the runtime's free memory (for code that
        pushes Python strings into Lua itself, such as exec.run's result)."""
        self._checked(lambda budget: lua_cost(value, max(budget[0], 0)))

    def _checked(self, convert: Callable[[list[int]], Any]) -> Any:
        for attempt in (1, 2):
            used = self.lua.get_memory_used() if self.memory_limit else 0
            budget = [self.memory_limit - used - HEADROOM if self.memory_limit else 1 << 62]
            try:
                return convert(budget)
            except TooLarge as exc:
                if exc.deep:
                    raise ModuleError(str(exc)) from None
                if attempt == 1:
                    self.lua.gccollect()  # what a failed try built is garbage now
        raise ModuleError(f"memory limit exceeded ({self.memory_limit // MiB} MB): a value does not fit")

    def _convert(self, value: Any, depth: int, budget: list[int]) -> Any:
        kind = type(value)
        if kind is str:
            budget[0] -= STRING_COST + (len(value) if value.isascii() else 4 * len(value))
            if budget[0] < 0:
                raise TooLarge("value does not fit")
            return value
        if value is None or kind in _SCALARS:
            return value
        if kind is dict or kind is list or kind is tuple or isinstance(value, (dict, list, tuple)):
            if depth >= MAX_DEPTH:
                raise TooLarge(f"value nested deeper than {MAX_DEPTH} levels", deep=True)
            budget[0] -= TABLE_COST + ENTRY_COST * len(value)
            if budget[0] < 0:
                raise TooLarge("value does not fit")
            if kind is dict and _flat(value, budget):
                return self._table_from(value)  # one crossing for a table of plain values
            table = self._new_table()
            if isinstance(value, dict):
                for key, item in value.items():
                    if isinstance(key, str):
                        self._convert(key, depth, budget)
                    table[key] = self._convert(item, depth + 1, budget)
            else:
                for index, item in enumerate(value, 1):
                    table[index] = self._convert(item, depth + 1, budget)
            return table
        if isinstance(value, str):
            return self._convert(str(value), depth, budget)
        if isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, bytes):
            return self._convert(value.decode("utf-8", "replace"), depth, budget)
        if lua_type(value) is not None:
            return value
        return self._convert(str(value), depth, budget)

    def to_py(self, value: Any, *, keep_functions: bool = True) -> Any:
        """Convert a Lua value into plain Python: tables become lists (1..n) or dicts."""
        return to_py(value, keep_functions, set(), 0, self._identity)

    # ---- functions exposed to Lua ------------------------------------------------------

    def function(self, fn: Callable[..., Any], *, raw_args: bool = False, blocking: bool = False) -> Any:
        """Expose a Python function to Lua.

        Arguments arrive converted to Python (unless raw_args) and the result is converted
        back; a tuple result is several Lua return values. ModuleError, ValueError and
        OSError raised by fn become a Lua error at the caller's line. A `blocking` function
        (one that waits: a process, a sleep, a lock) called from a task is run on a worker
        thread while other tasks go on; it must not touch Lua objects.
        """
        to_py = self.to_py

        def call(*args: Any) -> Any:
            try:
                if not raw_args:
                    args = tuple(to_py(a) for a in args)
            except ModuleError as exc:
                return (False, str(exc))
            return self.lua_result(invoke(fn, args))

        if blocking:
            self._blocking.append(fn)
            return self._wrap_blocking(call, len(self._blocking))
        return self._wrap(call)

    def lazy_globals(self, names: list[str], install: Callable[[str], None]) -> None:
        """Call `install(name)` (which sets the global `name`) when workflow code first reads it."""
        self._lazy_globals(self.to_lua(names), self.function(install))

    def blocking_function(self, index: int) -> Callable[..., Any]:
        return self._blocking[index - 1]

    def lua_result(self, outcome: tuple[bool, Any]) -> tuple[Any, ...]:
        """(ok, value) from `invoke` as the (true, values...) | (false, message) Lua expects."""
        ok, value = outcome
        try:
            if not ok:
                text = str(value)
                if len(text) > MAX_ERROR_CHARS:
                    text = text[:MAX_ERROR_CHARS] + f" [truncated: {len(text)} characters]"
                return (False, text)
            if isinstance(value, tuple):
                return (True, *self.to_lua_many(value))
            return (True, self.to_lua(value))
        except ModuleError as exc:
            return (False, str(exc))

    def set_module(
        self,
        name: str,
        functions: Mapping[str, Any],
        blocking: set[str] | frozenset[str] = frozenset(),
        **extra: Any,
    ) -> Any:
        """Install a global table `name` holding the given functions (and plain values).

        Functions named in `blocking` wait on something (see `function`).
        """
        table = self._new_table()
        for key, fn in functions.items():
            table[key] = self.function(fn, blocking=key in blocking)
        for key, value in extra.items():
            table[key] = self.to_lua(value)
        self.lua.globals()[name] = table
        return table

    def run_lua(self, source: str, name: str, *args: Any) -> Any:
        """Run trusted Lua source (module code shipped with Sloth Runner) with args.

        The source is compiled once per process; each runtime loads the bytecode.
        """
        chunk = self._load_trusted(_compiled(source, name), name)
        if isinstance(chunk, tuple) or chunk is None:
            raise RuntimeError(f"module {name} does not load: {chunk!r}")
        return chunk(*args)

    def run_packaged(self, filename: str, *args: Any) -> Any:
        """Run one of the .lua files shipped in sloth_engine/lua with args."""
        chunk = self._load_trusted(bytecode(filename.removesuffix(".lua")), filename.removesuffix(".lua"))
        return chunk(*args)

    def globals(self) -> Any:
        return self.lua.globals()

    # ---- running code ----------------------------------------------------------------

    def call(self, fn: Any, *args: Any, deadline: float | None = None) -> Any:
        """Call a Lua function under the guard; Lua errors become LuaRuntimeError."""
        self.guard.reset(deadline)
        self._arm()
        try:
            result = fn(*args)
            stopped = self.guard.reason
            if stopped is not None:
                # The guard tripped inside a coroutine whose error was caught: still stopped.
                raise LuaRuntimeError(stopped)
            return result
        except LuaMemoryError:
            raise LuaRuntimeError(
                f"memory limit exceeded ({self.memory_limit // (1024 * 1024)} MB)"
            ) from None
        except LuaError as exc:
            err = self.error(exc)
            if self.guard.reason is not None and err.path not in self.chunk_names:
                # Stopped inside Sloth Runner's own Lua: that place means nothing to the user.
                raise LuaRuntimeError(self.guard.reason) from None
            raise err from None
        except UnicodeDecodeError:
            raise LuaRuntimeError("text leaving Lua is not valid UTF-8 (encode bytes, e.g. as hex)") from None
        finally:
            self.guard.reset(None)

    def error(self, exc: BaseException) -> LuaRuntimeError:
        """A lupa error as LuaRuntimeError, with the full chunk name restored."""
        err = lua_error(exc)
        if err.path and err.path.startswith("..."):
            tail = err.path[3:]
            for name in self.chunk_names:
                if name.endswith(tail):
                    err.path = name
                    break
        return err

    def _print(self, text: str) -> None:
        self.scope.log("stdout", text)


@functools.cache
@functools.cache
def bytecode(name: str) -> bytes:
    """The precompiled chunk of sloth_engine/lua/<name>.lua (compiled once per process)."""
    source = resources.files("sloth_engine.lua").joinpath(f"{name}.lua").read_text()
    return _compiled(source, name)


@functools.cache
def _compiled(source: str, name: str) -> bytes:
    compiler = lua54.LuaRuntime(encoding=None, register_eval=False, register_builtins=False)
    dump = compiler.execute(
        "return function(src, name) local f = assert(load(src, '=' .. name)); return string.dump(f) end"
    )
    return bytes(dump(source.encode("utf-8"), name.encode("utf-8")))


def invoke(fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[bool, Any]:
    """Call a module function: (True, result) or (False, message for a Lua error)."""
    try:
        return True, fn(*args)
    except (ModuleError, ValueError, OSError, TypeError, KeyError) as exc:
        return False, str(exc) or exc.__class__.__name__
    except LuaError:
        raise
    except Exception as exc:  # the Lua boundary: a module bug is a Lua error, logged
        log.exception("module function %s failed", getattr(fn, "__name__", fn))
        return False, f"internal error in {getattr(fn, '__name__', 'module')}: {exc}"


def lua_error(exc: BaseException) -> LuaRuntimeError:
    """Turn a lupa error into a LuaRuntimeError with the file and line split out."""
    text = str(exc)
    text = text.split("\nstack traceback:", 1)[0].strip()
    if text.startswith("error loading code: "):
        text = text[len("error loading code: ") :]
    match = _PLACE.match(text)
    if match and not match.group("path").startswith("["):
        return LuaRuntimeError(match.group("msg"), match.group("path"), int(match.group("line")))
    return LuaRuntimeError(text)
