"""The original's extra `data` functions: XML, CSV, conversions, nested paths.

Call shapes follow the original tool: encoders and converters return the text, or nil and a
message; `csv_parse`, `deep_merge` and `unflatten` return `true, result`; `json_validate`
returns `true` or `false, message`; `get_path(t, "a.b")` returns the value or nil;
`set_path(t, "a.b", v)` changes `t` in place and returns it. Differences, on purpose:
`deep_merge` merges nested tables (the original's merged only the top level), CSV fields
may be quoted ("a,b" is one field), and XML decodes to a nested table (attributes as
`@name`, text beside attributes as `#text`, repeated elements as a list) where the
original returned nothing useful. Paths and merges are written in Lua so they change the
caller's own tables, as the original did.
"""

from __future__ import annotations

import csv
import io
import json as _json
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape

import xmltodict

from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import data_codecs
from sloth_engine.modules.options import lenient

MAX_XML_DEPTH = 200
"""Deepest XML nesting decoded; deeper documents are refused."""

PATHS_LUA = r"""
local data = ...
local type, pairs, ipairs, next = type, pairs, ipairs, next
local tostring, tonumber, error = tostring, tonumber, error
local find, sub = string.find, string.sub
local function parts(path, sep)
  local out, start = {}, 1
  while true do
    local i, j = find(path, sep, start, true)
    if not i or sep == "" then out[#out + 1] = sub(path, start); return out end
    out[#out + 1] = sub(path, start, i - 1)
    start = j + 1
  end
end
local function key_of(t, part)
  local n = tonumber(part)
  if n and t[n] ~= nil then return n end
  return part
end
function data.get_path(t, path, sep)
  local current = t
  for _, part in ipairs(parts(tostring(path), sep or ".")) do
    if type(current) ~= "table" then return nil end
    current = current[key_of(current, part)]
    if current == nil then return nil end
  end
  return current
end
function data.set_path(t, path, value, sep)
  local list = parts(tostring(path), sep or ".")
  local current = t
  for i = 1, #list - 1 do
    local k = key_of(current, list[i])
    if type(current[k]) ~= "table" then current[k] = {} end
    current = current[k]
  end
  current[key_of(current, list[#list])] = value
  return t
end
local function flatten(source, target, prefix, sep)
  for k, v in pairs(source) do
    local key = prefix == "" and tostring(k) or (prefix .. sep .. tostring(k))
    if type(v) == "table" and next(v) ~= nil then flatten(v, target, key, sep) else target[key] = v end
  end
  return target
end
function data.flatten(t, sep) return flatten(t, {}, "", sep or ".") end
function data.unflatten(t, sep)
  local result = {}
  for k, v in pairs(t) do data.set_path(result, tostring(k), v, sep or ".") end
  return true, result
end
local function copy(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = copy(x) end
  return out
end
local function merge(into, from)
  for k, v in pairs(from) do
    if type(v) == "table" and type(into[k]) == "table" then merge(into[k], v) else into[k] = copy(v) end
  end
  return into
end
function data.deep_merge(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then error("data.deep_merge: expected two tables", 2) end
  return true, merge(copy(a), b)
end
"""


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ModuleError(f"data.{what}: expected a string")
    return value


def json_validate(text: Any) -> Any:
    try:
        data_codecs.json_decode(text)
    except ModuleError as exc:
        return False, str(exc)
    return True


def _xml_body(value: Any) -> str:
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: str(kv[0]))
        return "".join(f"<{k}>{_xml_body(v)}</{k}>" for k, v in items)
    if isinstance(value, list):
        return "".join(f"<item>{_xml_body(v)}</item>" for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return escape("" if value is None else str(value))


def xml_encode(value: Any = None, root: Any = "root") -> str:
    name = str(root)
    return f"<{name}>{_xml_body(data_codecs.plain(value))}</{name}>"


def xml_decode(text: Any) -> Any:
    source = _text(text, "xml_decode")
    try:
        parsed = xmltodict.parse(source, disable_entities=True)
    except ValueError as exc:  # entities refused
        raise ModuleError(f"xml decode: {exc}") from None
    except Exception as exc:  # expat's ExpatError names line and column
        raise ModuleError(f"xml decode: {exc}") from None
    if _depth(parsed) > MAX_XML_DEPTH:
        raise ModuleError(f"xml decode: nested deeper than {MAX_XML_DEPTH} levels")
    return parsed


def _depth(value: Any) -> int:
    stack, deepest = [(value, 1)], 0
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, level + 1) for child in children)
    return deepest


def csv_parse(text: Any, delimiter: Any = ",") -> Any:
    rows = [
        [field.strip() for field in row]
        for row in csv.reader(io.StringIO(_text(text, "csv_parse")), delimiter=str(delimiter))
        if any(field.strip() for field in row)
    ]
    return True, rows


def csv_generate(rows: Any, delimiter: Any = ",") -> str:
    if isinstance(rows, dict) and not rows:
        rows = []
    if not isinstance(rows, list):
        raise ModuleError("data.csv_generate: expected a list of rows")
    out = io.StringIO()
    writer = csv.writer(out, delimiter=str(delimiter), lineterminator="\n")
    for row in rows:
        if isinstance(row, list):
            writer.writerow(["" if v is None else _cell(v) for v in row])
    return out.getvalue().rstrip("\n")


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def install(sandbox: Sandbox, table: Any) -> None:
    """Add the functions to the `data` table `table`."""
    functions: dict[str, Callable[..., Any]] = {
        "json_validate": json_validate,
        "xml_encode": lenient(xml_encode),
        "xml_decode": lenient(xml_decode),
        "xml_to_json": lenient(lambda text: _json.dumps(xml_decode(text), ensure_ascii=False)),
        "yaml_to_json": lenient(lambda text: data_codecs.json_encode(data_codecs.yaml_decode(text))),
        "json_to_yaml": lenient(lambda text: data_codecs.yaml_encode(data_codecs.json_decode(text))),
        "csv_parse": csv_parse,
        "csv_generate": csv_generate,
    }
    for name, fn in functions.items():
        table[name] = sandbox.function(fn)
    sandbox.run_lua(PATHS_LUA, "data_paths", table)
