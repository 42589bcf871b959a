"""Go `text/template`, for templates written for the original tool (`file_ops.template`).

The subset the original's templates use: `{{.Field.Sub}}`, `{{.}}`, variables (`$`, `$x :=
...`, `$x = ...`, `range $i, $e := ...`), `if`/`else if`/`else`, `range` (lists in order, maps
by sorted key, with `else`), `with`, `break`/`continue`, pipes, parenthesised pipelines,
comments `{{/* */}}`, trim markers `{{- -}}`, and Go's builtin functions (and, or, not, len,
index, slice, print, printf, println, eq, ne, lt, le, gt, ge, html, js, urlquery). Values
print as Go prints them: a missing map key as `<no value>`, whole numbers without a
fraction, lists as `[a b]`, maps as `map[k:v]`. `define`, `template` and `block` are refused
with a clear error. Errors name the template and line: `name:3: unexpected "}" in operand`.
"""

from __future__ import annotations

import html as _html
import json
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sloth_engine.lua.sandbox import ModuleError

MAX_OUTPUT = 64 * 1024 * 1024
"""Largest rendered text; a template that would write more is an error."""

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>"(?:[^"\\]|\\.)*") | (?P<raw>`[^`]*`) | (?P<char>'(?:[^'\\]|\\.)') |
      (?P<num>[-+]?(?:0[xX][0-9a-fA-F]+|\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+)) |
      (?P<decl>:=) | (?P<assign>=) | (?P<punct>[|(),]) |
      (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*) |
      (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.) |
      (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.X,
)
_GO_MARKERS = re.compile(r"\{\{-?\s*(?:\.|\$|end\b|else\b|if\s|range\s|with\s|/\*|printf\s|len\s|index\s)")
_NOT_GO = re.compile(r"\{%|\{#")


def looks_like_go(text: str) -> bool:
    """Whether a template reads as Go's text/template rather than Jinja2."""
    return bool(_GO_MARKERS.search(text)) and not _NOT_GO.search(text)


class _Missing:
    def __str__(self) -> str:
        return "<no value>"


MISSING = _Missing()


# ---- parsing -----------------------------------------------------------------------------


@dataclass
class Node:
    kind: str  # text | action | if | range | with | break | continue
    line: int
    text: str = ""
    pipe: list[Any] = field(default_factory=list)
    decl: list[str] = field(default_factory=list)
    assign: bool = False
    body: list[Node] = field(default_factory=list)
    orelse: list[Node] = field(default_factory=list)


def parse(source: str, name: str) -> list[Node]:
    pieces = _split(source)
    nodes, pos = _parse_list(pieces, 0, name, ())
    if pos < len(pieces):
        _fail(name, pieces[pos][2], f"unexpected {{{{{pieces[pos][1]}}}}}")
    return nodes


def _split(source: str) -> list[tuple[str, str, int]]:
    """(kind, text, line) pieces: 'text' or 'action' (the action's words)."""
    pieces: list[tuple[str, str, int]] = []
    pos, line = 0, 1
    for match in _ACTION.finditer(source):
        text = source[pos : match.start()]
        if match.group(1):
            text = text.rstrip()
        if pieces and pieces[-1][0] == "trim":
            pieces.pop()
            text = text.lstrip()
        pieces.append(("text", text, line))
        line += source[pos : match.start()].count("\n")
        body = match.group(2).strip()
        if not (body.startswith("/*") and body.endswith("*/")):
            pieces.append(("action", body, line))
        line += match.group(0).count("\n")
        pos = match.end()
        if match.group(3):
            pieces.append(("trim", "", line))
    tail = source[pos:]
    if pieces and pieces[-1][0] == "trim":
        pieces.pop()
        tail = tail.lstrip()
    pieces.append(("text", tail, line))
    return [p for p in pieces if p[0] == "action" or p[1]]


def _parse_list(
    pieces: list[tuple[str, str, int]], pos: int, name: str, stops: tuple[str, ...]
) -> tuple[list[Node], int]:
    nodes: list[Node] = []
    while pos < len(pieces):
        kind, text, line = pieces[pos]
        if kind == "text":
            nodes.append(Node("text", line, text=text))
            pos += 1
            continue
        word = text.split(None, 1)[0] if text else ""
        if word in stops:
            return nodes, pos
        if word in ("define", "template", "block"):
            _fail(name, line, f"{{{{{word}}}}} is not supported here: inline the template")
        if word in ("if", "range", "with"):
            node, pos = _parse_block(pieces, pos, name, word)
            nodes.append(node)
            continue
        if word in ("break", "continue") and text == word:
            nodes.append(Node(word, line))
        elif word in ("end", "else"):
            _fail(name, line, f"unexpected {{{{{word}}}}}")
        else:
            nodes.append(_action(text, line, name))
        pos += 1
    if stops:
        _fail(name, pieces[-1][2] if pieces else 1, "unexpected EOF: missing {{end}}")
    return nodes, pos


def _parse_block(pieces: list[tuple[str, str, int]], pos: int, name: str, word: str) -> tuple[Node, int]:
    text, line = pieces[pos][1], pieces[pos][2]
    head = _action(text[len(word) :].strip(), line, name)
    node = Node(word, line, pipe=head.pipe, decl=head.decl)
    node.body, pos = _parse_list(pieces, pos + 1, name, ("end", "else"))
    closing = pieces[pos][1]
    if closing.startswith("else"):
        rest = closing[4:].strip()
        if rest.startswith("if ") or rest.startswith("with "):  # else if / else with: a nested block
            inner_word = rest.split(None, 1)[0]
            pieces = [*pieces[:pos], ("action", rest, pieces[pos][2]), *pieces[pos + 1 :]]
            inner, pos = _parse_block(pieces, pos, name, inner_word)
            node.orelse = [inner]
            return node, pos
        node.orelse, pos = _parse_list(pieces, pos + 1, name, ("end",))
    return node, pos + 1


def _action(text: str, line: int, name: str) -> Node:
    tokens = _tokens(text, line, name)
    node = Node("action", line)
    for i, (kind, _) in enumerate(tokens):
        if kind in ("decl", "assign"):
            node.decl = [v for k, v in tokens[:i] if k == "var"]
            node.assign = kind == "assign"
            tokens = tokens[i + 1 :]
            break
    node.pipe, rest = _pipeline(tokens, line, name)
    if rest:
        _fail(name, line, f"unexpected {rest[0][1]!r} in command")
    if not node.pipe:
        _fail(name, line, "missing value for command")
    return node


def _tokens(text: str, line: int, name: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            _fail(name, line, f"unexpected {text[pos:].strip()[:1]!r} in operand")
        assert match is not None and match.lastgroup is not None
        out.append((match.lastgroup, match.group(match.lastgroup)))
        pos = match.end()
    return out


def _pipeline(tokens: list[tuple[str, str]], line: int, name: str) -> tuple[list[Any], list[tuple[str, str]]]:
    commands: list[Any] = []
    command: list[Any] = []
    while tokens:
        kind, value = tokens[0]
        if kind == "punct" and value == ")":
            break
        tokens = tokens[1:]
        if kind == "punct" and value == "|":
            if not command:
                _fail(name, line, "missing command before |")
            commands.append(command)
            command = []
        elif kind == "punct" and value == "(":
            inner, tokens = _pipeline(tokens, line, name)
            if not tokens or tokens[0][1] != ")":
                _fail(name, line, "unclosed left paren")
            tokens = tokens[1:]
            chain = ""
            if tokens and tokens[0][0] == "field" and tokens[0][1] != ".":
                chain, tokens = tokens[0][1], tokens[1:]
            command.append(("pipe", inner, chain))
        elif kind == "punct":
            _fail(name, line, f"unexpected {value!r} in operand")
        else:
            command.append((kind, value))
    if command:
        commands.append(command)
    return commands, tokens


def _fail(name: str, line: int, message: str) -> None:
    raise ModuleError(f"template: {name}:{line}: {message}")


# ---- execution -----------------------------------------------------------------------------


class _Stop(Exception):
    def __init__(self, kind: str) -> None:
        self.kind = kind


class _Renderer:
    def __init__(self, name: str, data: Any) -> None:
        self.name = name
        self.out: list[str] = []
        self.size = 0
        self.scopes: list[dict[str, Any]] = [{"$": data}]

    def write(self, text: str) -> None:
        self.size += len(text)
        if self.size > MAX_OUTPUT:
            raise ModuleError(f"template: {self.name}: output over {MAX_OUTPUT} characters")
        self.out.append(text)

    def run(self, nodes: list[Node], dot: Any) -> None:
        for node in nodes:
            if node.kind == "text":
                self.write(node.text)
            elif node.kind == "action":
                value = self.pipe(node, dot)
                if not node.decl:
                    self.write(go_string(value))
            elif node.kind in ("break", "continue"):
                raise _Stop(node.kind)
            elif node.kind == "if":
                self.scoped(node.body if truth(self.pipe(node, dot)) else node.orelse, dot)
            elif node.kind == "with":
                value = self.pipe(node, dot)
                if truth(value):
                    self.scoped(node.body, value)
                else:
                    self.scoped(node.orelse, dot)
            else:
                self.range(node, dot)

    def scoped(self, nodes: list[Node], dot: Any) -> None:
        self.scopes.append({})
        try:
            self.run(nodes, dot)
        finally:
            self.scopes.pop()

    def range(self, node: Node, dot: Any) -> None:
        value = self.pipe(Node("action", node.line, pipe=node.pipe), dot)
        if isinstance(value, dict):
            items = [(k, value[k]) for k in sorted(value, key=str)]
        elif isinstance(value, (list, tuple, str)):
            items = list(enumerate(value))
        elif value is None or value is MISSING:
            items = []
        elif isinstance(value, int) and not isinstance(value, bool):
            items = [(i, i) for i in range(value)]
        else:
            raise ModuleError(
                f"template: {self.name}:{node.line}: range can't iterate over {go_string(value)}"
            )
        if not items:
            self.scoped(node.orelse, dot)
            return
        for key, item in items:
            scope: dict[str, Any] = {}
            if len(node.decl) == 1:
                scope[node.decl[0]] = item
            elif len(node.decl) == 2:
                scope[node.decl[0]], scope[node.decl[1]] = key, item
            self.scopes.append(scope)
            try:
                self.run(node.body, item)
            except _Stop as stop:
                if stop.kind == "break":
                    break
            finally:
                self.scopes.pop()

    def pipe(self, node: Node, dot: Any) -> Any:
        value: Any = None
        for i, command in enumerate(node.pipe):
            value = self.command(command, dot, node.line, value if i else None, piped=i > 0)
        if node.decl:
            if node.assign:
                for scope in reversed(self.scopes):
                    if node.decl[0] in scope:
                        scope[node.decl[0]] = value
                        break
                else:
                    raise ModuleError(f"template: {self.name}:{node.line}: undefined variable {node.decl[0]}")
            else:
                self.scopes[-1][node.decl[0]] = value
        return value

    def command(self, command: list[Any], dot: Any, line: int, piped_value: Any, piped: bool) -> Any:
        head = command[0]
        if head[0] == "ident" and head[1] not in ("true", "false", "nil"):
            fn = FUNCTIONS.get(head[1])
            if fn is None:
                raise ModuleError(f'template: {self.name}:{line}: function "{head[1]}" not defined')
            args = [self.operand(arg, dot, line) for arg in command[1:]]
            if piped:
                args.append(piped_value)
            try:
                return fn(*args)
            except (TypeError, ValueError, KeyError, IndexError) as exc:
                raise ModuleError(f"template: {self.name}:{line}: error calling {head[1]}: {exc}") from None
        if len(command) > 1 or piped:
            raise ModuleError(f"template: {self.name}:{line}: can't give argument to non-function")
        return self.operand(head, dot, line)

    def operand(self, token: Any, dot: Any, line: int) -> Any:
        kind, value = token[0], token[1]
        if kind == "pipe":
            result = self.pipe(Node("action", line, pipe=value), dot)
            return _fields(result, token[2]) if token[2] else result
        if kind == "field":
            return dot if value == "." else _fields(dot, value)
        if kind == "var":
            name, _, chain = value.partition(".")
            for scope in reversed(self.scopes):
                if name in scope:
                    return _fields(scope[name], "." + chain) if chain else scope[name]
            raise ModuleError(f"template: {self.name}:{line}: undefined variable {name}")
        if kind in ("str", "char"):
            return json.loads(value) if kind == "str" else value[1:-1]
        if kind == "raw":
            return value[1:-1]
        if kind == "num":
            return (
                float(value)
                if any(c in value for c in ".eE") and not value.startswith("0x")
                else int(value, 0)
            )
        if kind == "ident":
            return {"true": True, "false": False, "nil": None}[value]
        raise ModuleError(f"template: {self.name}:{line}: unexpected {value!r}")


def _fields(value: Any, chain: str) -> Any:
    for part in chain.strip(".").split("."):
        if isinstance(value, dict):
            value = value.get(part, MISSING)
        elif value is None or value is MISSING:
            raise ValueError(f"nil pointer evaluating .{part}")
        else:
            raise ValueError(f"can't evaluate field {part} in type {go_type(value)}")
    return value


# ---- Go's values and builtins ----------------------------------------------------------------


def go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "[]interface {}"
    return "map[string]interface {}"


def go_string(value: Any) -> str:
    if value is None or value is MISSING:
        return "<no value>" if value is MISSING else "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    if isinstance(value, list):
        return "[" + " ".join(go_string(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_string(value[k])}" for k in sorted(value, key=str)) + "]"
    return str(value)


def truth(value: Any) -> bool:
    if value is None or value is MISSING:
        return False
    if isinstance(value, (bool, int, float, str, list, dict)):
        return bool(value)
    return True


def _sprint(*args: Any) -> str:
    out = ""
    for i, arg in enumerate(args):
        if i and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out += " "
        out += go_string(arg)
    return out


_VERB = re.compile(r"%([-+# 0]*)(\d+|\*)?(?:\.(\d+))?([a-zA-Z%])")


def _printf(fmt: str, *args: Any) -> str:
    values = list(args)

    def one(match: re.Match[str]) -> str:
        flags, width, precision, verb = match.groups()
        if verb == "%":
            return "%"
        if not values:
            return f"%!{verb}(MISSING)"
        value = values.pop(0)
        spec = f"%{flags}{width or ''}{'.' + precision if precision else ''}"
        if verb in "dxXob" and isinstance(value, (int, float)) and not isinstance(value, bool):
            return (spec + verb.replace("b", "s")) % (format(int(value), "b") if verb == "b" else int(value))
        if verb in "feEgG" and isinstance(value, (int, float)):
            return (spec + verb) % float(value)
        if verb == "q":
            return (spec + "s") % json.dumps(go_string(value) if not isinstance(value, str) else value)
        if verb == "t":
            return (spec + "s") % go_string(bool(value))
        return (spec + "s") % go_string(value)

    return _VERB.sub(one, fmt)


def _index(value: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(value, dict):
            value = value.get(key, MISSING)
        else:
            value = value[int(key)]
    return value


def _compare(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        if isinstance(a, (int, float)) != isinstance(b, (int, float)):
            raise ValueError("incompatible types for comparison")
        return op(a, b)

    return compare


def _and(*args: Any) -> Any:
    for arg in args:
        if not truth(arg):
            return arg
    return args[-1]


def _or(*args: Any) -> Any:
    for arg in args:
        if truth(arg):
            return arg
    return args[-1]


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "and": _and,
    "or": _or,
    "not": lambda value: not truth(value),
    "len": lambda value: len(value),
    "index": _index,
    "slice": lambda value, *bounds: value[slice(*(int(b) for b in bounds))],
    "print": _sprint,
    "printf": _printf,
    "println": lambda *args: " ".join(go_string(a) for a in args) + "\n",
    "eq": lambda a, *others: any(a == b for b in others),
    "ne": lambda a, b: a != b,
    "lt": _compare(lambda a, b: a < b),
    "le": _compare(lambda a, b: a <= b),
    "gt": _compare(lambda a, b: a > b),
    "ge": _compare(lambda a, b: a >= b),
    "html": lambda *args: _html.escape(_sprint(*args)),
    "js": lambda *args: json.dumps(_sprint(*args))[1:-1],
    "urlquery": lambda *args: urllib.parse.quote_plus(_sprint(*args)),
}


def render(source: str, data: Any, name: str = "template") -> str:
    """Render a Go text/template with `data` as `.`; ModuleError naming template and line."""
    renderer = _Renderer(name, data)
    try:
        renderer.run(parse(source, name), data)
    except _Stop as stop:
        raise ModuleError(f"template: {name}: {{{{{stop.kind}}}}} outside {{{{range}}}}") from None
    except ValueError as exc:
        raise ModuleError(f"template: {name}: {exc}") from None
    return "".join(renderer.out)
