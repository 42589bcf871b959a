"""`db`: SQL on SQLite files and PostgreSQL servers, as the original's module.

    local ok, name = db.connect("sqlite3", "data/app.db"[, "main"])   -- or "postgres", a URL/DSN
    local ok, rows = db.query(sql, "main", 10)        -- rows: tables of column = value
    local res = db.exec(sql, "main", "ana")            -- examples in docs/INFRA-MODULES.md
    db.last_insert_id(res), db.rows_affected(res)         -- also res.last_insert_id ...
    local ok, err = db.transaction(function(tx) tx:exec("...") return true end, "main")
    local tx = db.begin("main"); tx:exec(...); db.commit(tx)   -- or db.rollback(tx)
    local stmt = db.prepare(sql, "main"); stmt:query(1); stmt:exec(...)
    db.ping("main"), db.close("main"), db.escape("O'Brien") -> "O''Brien"

The connection name defaults to "default". Placeholders may be `?` or `$1, $2, ...` on both
databases (they are converted for PostgreSQL). Rows are tables of column = value; NULL is
absent. Errors are `nil/false, message` (the original's convention). A transaction function
that returns false, or raises, is rolled back. Connections belong to the run's runtime and
are closed with it; queries run off the event loop and are bounded by `timeout` seconds on
PostgreSQL (statement_timeout, default 60). A relative SQLite path is in the task's workdir.
"""

from __future__ import annotations

import itertools
import re
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv
from sloth_engine.modules.options import workdir_path

MAX_ROWS = 100_000
"""Rows one query may return; more is an error (page the query)."""
_PLACEHOLDER = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"])*\"|\$\d+|\?|%")


@dataclass
class Connection:
    kind: str  # sqlite | postgres
    raw: Any
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_tx: bool = False


def _pg_sql(sql: str) -> str:
    """`?` and `$N` placeholders as psycopg2's `%s`, a literal `%` doubled (not in quotes)."""

    def one(match: re.Match[str]) -> str:
        token = match.group(0)
        if token[0] in "'\"":
            return token.replace("%", "%%")
        return "%%" if token == "%" else "%s"

    return _PLACEHOLDER.sub(one, sql)


class Databases:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.connections: dict[str, Connection] = {}
        self.handles: dict[str, tuple[str, str]] = {}  # tx / statement id -> (connection, sql)
        self.serial = itertools.count(1)

    def connect(self, driver: Any, dsn: Any, name: Any = "default") -> Any:
        key, kind = str(name or "default"), str(driver).lower()
        try:
            if kind in ("sqlite", "sqlite3"):
                path = str(dsn) if str(dsn) == ":memory:" else workdir_path(self.sandbox, str(dsn))
                raw = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
                conn = Connection("sqlite", raw)
            elif kind in ("postgres", "postgresql", "pgx"):
                import psycopg2

                raw = psycopg2.connect(str(dsn), connect_timeout=10)
                raw.autocommit = True
                conn = Connection("postgres", raw)
            else:
                return False, f"unknown driver {driver!r} (sqlite3 or postgres)"
        except Exception as exc:  # the drivers' own errors: a message for the workflow
            return False, f"db.connect: {_reason(exc)}"
        old = self.connections.pop(key, None)
        if old is not None:
            old.raw.close()
        self.connections[key] = conn
        return True, key

    def get(self, name: Any) -> Connection:
        conn = self.connections.get(str(name or "default"))
        if conn is None:
            raise ModuleError(f"connection not found: {name or 'default'}")
        return conn

    def run(self, name: Any, sql: str, args: tuple[Any, ...], fetch: bool) -> Any:
        conn = self.get(name)
        with conn.lock:
            cursor = conn.raw.cursor()
            try:
                if conn.kind == "postgres":
                    cursor.execute(_pg_sql(sql) if args else sql, args or None)
                else:
                    cursor.execute(re.sub(r"\$\d+", "?", sql), args)
                if fetch:
                    return _rows(cursor)
                last = cursor.lastrowid if conn.kind == "sqlite" else None
                return {"rows_affected": max(cursor.rowcount, 0), "last_insert_id": last or 0}
            finally:
                cursor.close()

    def guarded(self, fn: Any, *args: Any) -> Any:
        try:
            return True, fn(*args)
        except ModuleError as exc:
            return False, str(exc)
        except Exception as exc:  # a database error: the original's nil, message
            return False, _reason(exc)

    def begin(self, name: Any) -> Any:
        conn = self.get(name)
        if conn.in_tx:
            return None, "a transaction is already open on this connection"
        self.run(name, "BEGIN", (), fetch=False)
        conn.in_tx = True
        ident = f"tx-{next(self.serial)}"
        self.handles[ident] = (str(name or "default"), "")
        return ident

    def finish(self, ident: Any, verb: str) -> Any:
        handle = self.handles.pop(str(ident), None)
        if handle is None:
            return False, "invalid transaction object"
        conn = self.get(handle[0])
        conn.in_tx = False
        self.run(handle[0], verb, (), fetch=False)
        return True

    def close(self, name: Any = "default") -> Any:
        conn = self.connections.pop(str(name or "default"), None)
        if conn is None:
            return False, f"connection not found: {name}"
        conn.raw.close()
        return True


def _rows(cursor: Any) -> list[dict[str, Any]]:
    if cursor.description is None:
        return []
    names = [column[0] for column in cursor.description]
    rows = cursor.fetchmany(MAX_ROWS + 1)
    if len(rows) > MAX_ROWS:
        raise ModuleError(f"the query returned more than {MAX_ROWS} rows (page it with LIMIT/OFFSET)")
    return [{n: _plain(v) for n, v in zip(names, row, strict=True) if v is not None} for row in rows]


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    return str(value)  # decimals, dates, UUIDs: their text


def _reason(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


_GLUE = r"""
local py = ...
local type, error, pcall, tostring = type, error, pcall, tostring
local M = {}
local function result(ok, value) if ok then return value end return nil, value end
function M.connect(driver, dsn, name) return py.connect(driver, dsn, name) end
function M.close(name) return py.close(name) end
function M.ping(name)
  local ok, err = py.call("ping", name or "default", "SELECT 1")
  if ok then return true end
  return false, err
end
function M.query(sql, name, ...)
  local ok, rows = py.call("query", name or "default", sql, ...)
  if ok then return true, rows end
  return nil, rows
end
function M.exec(sql, name, ...) return result(py.call("exec", name or "default", sql, ...)) end
function M.escape(s) return (tostring(s):gsub("'", "''")) end
function M.last_insert_id(res)
  if type(res) ~= "table" then return nil, "invalid result object" end
  return res.last_insert_id
end
function M.rows_affected(res)
  if type(res) ~= "table" then return nil, "invalid result object" end
  return res.rows_affected
end
local function tx_object(id, name)
  local tx = { id = id }
  function tx:query(sql, ...) return M.query(sql, name, ...) end
  function tx:exec(sql, ...) return M.exec(sql, name, ...) end
  return tx
end
function M.begin(name)
  local id, err = py.begin(name or "default")
  if not id then return nil, err end
  return tx_object(id, name or "default")
end
function M.commit(tx) return py.finish(type(tx) == "table" and tx.id or tx, "COMMIT") end
function M.rollback(tx) return py.finish(type(tx) == "table" and tx.id or tx, "ROLLBACK") end
function M.transaction(fn, name)
  if type(fn) ~= "function" then error("db.transaction: expected a function", 2) end
  local tx, err = M.begin(name)
  if not tx then return false, err end
  local ok, answer = pcall(fn, tx)
  if not ok then M.rollback(tx) return false, tostring(answer) end
  if answer == false then M.rollback(tx) return false, "transaction rolled back by user function" end
  local done, why = M.commit(tx)
  if not done then return false, why end
  return true
end
function M.prepare(sql, name)
  if type(sql) ~= "string" then return nil, "db.prepare: sql must be text" end
  local conn = name or "default"
  local ok, err = py.call("check", conn)
  if not ok then return nil, err end
  local stmt = { sql = sql }
  function stmt:query(...) return M.query(sql, conn, ...) end
  function stmt:exec(...) return M.exec(sql, conn, ...) end
  function stmt:close() return true end
  return stmt
end
return M
"""


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    dbs = Databases(sandbox)

    def call(action: str, name: Any, *rest: Any) -> Any:
        if action == "check":
            return dbs.guarded(dbs.get, name)
        sql, args = str(rest[0]), tuple(rest[1:])
        return dbs.guarded(dbs.run, name, sql, args, action in ("query", "ping"))

    def begin(name: Any) -> Any:
        ok, value = dbs.guarded(dbs.begin, name)
        return (
            value
            if ok and isinstance(value, str)
            else (None, value[1] if isinstance(value, tuple) else value)
        )

    def finish(ident: Any, verb: str) -> Any:
        ok, value = dbs.guarded(dbs.finish, ident, verb)
        return value if ok else (False, value)

    blocking = {"connect", "close", "call", "begin", "finish"}
    functions: dict[str, Callable[..., Any]] = {
        "connect": dbs.connect,
        "close": dbs.close,
        "call": call,
        "begin": begin,
        "finish": finish,
    }
    py = sandbox.lua.table_from(
        {k: sandbox.function(v, blocking=k in blocking) for k, v in functions.items()}
    )
    sandbox.globals()["db"] = sandbox.run_lua(_GLUE, "db", py)
