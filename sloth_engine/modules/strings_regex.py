"""Regular expressions for the `strings` module, with Go's semantics (RE2).

Patterns are RE2 (google-re2): the syntax of Go's `regexp`, matched in linear time, so a
hostile pattern cannot hang a task the way a backtracking engine can. Replacements use Go's
template syntax: `$1`, `${1}`, `$name`, `${name}`, `$$` for a dollar sign.
"""

from __future__ import annotations

import re
from typing import Any

import re2

from sloth_engine.lua.sandbox import ModuleError

MAX_PATTERN = 64 * 1024
"""Longest pattern accepted (bytes of UTF-8)."""

_TEMPLATE = re.compile(r"\$(?:\$|\{([A-Za-z0-9_]*)\}|([A-Za-z0-9_]+))")


def compile_pattern(pattern: str) -> Any:
    """The compiled pattern; ModuleError naming the problem for a bad one."""
    if len(pattern.encode()) > MAX_PATTERN:
        raise ModuleError(f"regex pattern longer than {MAX_PATTERN} bytes")
    try:
        return re2.compile(pattern)
    except re2.error as exc:
        raise ModuleError(f"Invalid regex pattern: {exc}") from None


def _groups(match: Any) -> list[str]:
    """Go's FindStringSubmatch: the whole match then each group ('' when it did not take part)."""
    return [match.group(0), *("" if g is None else g for g in match.groups())]


def match(text: str, pattern: str) -> Any:
    """The first match and its groups as a list, nil without a match; nil, message for a bad
    pattern (the original's convention)."""
    try:
        compiled = compile_pattern(pattern)
    except ModuleError as exc:
        return None, str(exc)
    found = compiled.search(text)
    return None if found is None else _groups(found)


def match_all(text: str, pattern: str) -> Any:
    """Every match, each a list of the match and its groups."""
    try:
        compiled = compile_pattern(pattern)
    except ModuleError as exc:
        return None, str(exc)
    return [_groups(found) for found in compiled.finditer(text)]


def replace_regex(text: str, pattern: str, replacement: str) -> Any:
    """Every match replaced by the Go template `replacement`."""
    try:
        compiled = compile_pattern(pattern)
    except ModuleError as exc:
        return None, str(exc)
    names = compiled.groupindex

    def expand(found: Any) -> str:
        def one(ref: re.Match[str]) -> str:
            name = ref.group(1) if ref.group(1) is not None else ref.group(2)
            if name is None:
                return "$"
            if name.isdigit():
                index = int(name)
                value = found.group(index) if index <= compiled.groups else None
            else:
                value = found.group(names[name]) if name in names else None
            return value or ""

        return _TEMPLATE.sub(one, replacement)

    return compiled.sub(expand, text)
