"""Calls of module functions that do not exist: `data.json_decod(...)` found before a run.

`unknown_calls(source)` reads a workflow's text (comments and strings blanked, so neither is
mistaken for code) for `module.name` and `module:name` where `module` is one of the globals the
modules install (and Lua's own `string`, `table`, `math`, `os`, `coroutine`), and reports the
names the module does not have, with the closest real one. A module name the file rebinds
(`local data = ...`, a parameter named `data`, `data = ...`) is left alone: it is no longer
the module there.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass

from sloth_engine.lua.sandbox import Sandbox, iter_array
from sloth_engine.modules import GLOBALS, ModuleEnv, install_all

LUA_LIBRARIES = ("string", "table", "math", "os", "coroutine", "utf8")
DATA_GLOBALS = frozenset({"secrets"})
"""Globals that hold values, not functions: any name may be read from them."""
_TOKENS = re.compile(
    r"--\[(=*)\[.*?\]\1\]|--[^\n]*|\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'|\[(=*)\[.*?\]\2\]", re.S
)


@dataclass(frozen=True)
class UnknownCall:
    line: int
    module: str
    name: str
    suggestion: str | None

    def message(self) -> str:
        hint = f" (did you mean {self.module}.{self.suggestion}?)" if self.suggestion else ""
        return f"{self.module} has no function '{self.name}'{hint}"


@functools.cache
def module_functions() -> dict[str, frozenset[str]]:
    """Each module global and the names its table holds (installed once per process)."""
    sandbox = Sandbox()
    install_all(sandbox, ModuleEnv())
    names_of = sandbox.run_lua(
        "return function(t) local out = {} for k in pairs(t) do if type(k) == 'string' then "
        "out[#out + 1] = k end end return out end",
        "api_check",
    )
    found: dict[str, frozenset[str]] = {}
    lua_globals = sandbox.globals()
    for name in (*GLOBALS, *LUA_LIBRARIES):
        if name in DATA_GLOBALS:
            continue
        table = lua_globals[name]
        if table is not None:
            found[name] = frozenset(str(key) for key in iter_array(names_of(table)))
    return found


def _blank(source: str) -> str:
    """Comments and string literals replaced by spaces, newlines kept."""
    return _TOKENS.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), source)


def _rebound(code: str, module: str) -> bool:
    name = re.escape(module)
    if re.search(rf"\blocal\s+(?:[\w\s,]*,\s*)?{name}\b", code):
        return True
    if re.search(rf"(?<![.:\w]){name}\s*=(?!=)", code):
        return True
    for params in re.findall(r"\bfunction\b[^(]*\(([^)]*)\)", code):
        if module in (p.strip() for p in params.split(",")):
            return True
    return re.search(rf"\bfor\s+[\w\s,]*\b{name}\b[\w\s,]*\bin\b", code) is not None


def unknown_calls(source: str) -> list[UnknownCall]:
    code = _blank(source)
    known = module_functions()
    found: list[UnknownCall] = []
    candidates = "|".join(sorted(known, key=len, reverse=True))
    pattern = re.compile(rf"(?<![.:\w])({candidates})\s*[.:]\s*([A-Za-z_]\w*)")
    rebound = {m: _rebound(code, m) for m in known}
    for match in pattern.finditer(code):
        module, name = match.groups()
        if rebound[module] or name in known[module]:
            continue
        if code[match.end() :].lstrip().startswith("=") and not code[match.end() :].lstrip().startswith("=="):
            continue  # an assignment adds a field: `data.extra = ...`
        close = difflib.get_close_matches(name, sorted(known[module]), n=1, cutoff=0.6)
        line = code.count("\n", 0, match.start()) + 1
        found.append(UnknownCall(line, module, name, close[0] if close else None))
    return found
