"""The text edits of `file_ops` as pure functions: old text in, new text out.

Each returns the new text and a word for what it did; the text comes back unchanged (the same
string) when the file is already as asked, which is how `file_ops` knows to report
`changed = false` and leave the file alone.
"""

from __future__ import annotations

import re
from typing import Literal

from sloth_engine.lua.sandbox import ModuleError

State = Literal["present", "absent"]
DEFAULT_MARKER = "# {mark} SLOTH MANAGED BLOCK"


def compile_pattern(where: str, pattern: str, flags: int = 0) -> re.Pattern[str]:
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise ModuleError(f"{where}: invalid regular expression {pattern!r}: {exc}") from None


def _lines(text: str) -> list[str]:
    return text.splitlines()


def _join(lines: list[str]) -> str:
    return "\n".join(lines) + "\n" if lines else ""


def _position(lines: list[str], after: str | None, before: str | None, where: str) -> int:
    """Where a new line goes: after the last line matching `after` (EOF: the end), before the
    first matching `before` (BOF: the start), else at the end."""
    if after and after != "EOF":
        pattern = compile_pattern(where, after)
        hits = [i for i, line in enumerate(lines) if pattern.search(line)]
        if hits:
            return hits[-1] + 1
    elif before:
        if before == "BOF":
            return 0
        pattern = compile_pattern(where, before)
        for i, line in enumerate(lines):
            if pattern.search(line):
                return i
    return len(lines)


def line_in_file(
    text: str,
    line: str | None,
    regexp: str | None = None,
    state: State = "present",
    insertafter: str | None = None,
    insertbefore: str | None = None,
) -> tuple[str, str]:
    """Ansible's lineinfile: make `line` present (replacing the last line matching `regexp`)
    or remove the lines equal to `line` / matching `regexp`."""
    where = "file_ops.lineinfile"
    lines = _lines(text)
    pattern = compile_pattern(where, regexp) if regexp else None
    if state == "absent":
        if pattern is None and line is None:
            raise ModuleError(f"{where}: state=absent needs line or regexp")
        kept = [old for old in lines if not (pattern.search(old) if pattern is not None else old == line)]
        if len(kept) == len(lines):
            return text, "unchanged"
        return _join(kept), f"removed {len(lines) - len(kept)}"
    if line is None:
        raise ModuleError(f"{where}: line is required")
    line = line.rstrip("\r\n")
    if pattern is not None:
        hits = [i for i, old in enumerate(lines) if pattern.search(old)]
        if hits:
            if lines[hits[-1]] == line:
                return text, "unchanged"
            lines[hits[-1]] = line
            return _join(lines), "replaced"
    if line in lines:
        return text, "unchanged"
    lines.insert(_position(lines, insertafter, insertbefore, where), line)
    return _join(lines), "added"


def block_in_file(
    text: str,
    block: str,
    marker: str = DEFAULT_MARKER,
    state: State = "present",
    marker_begin: str = "BEGIN",
    marker_end: str = "END",
    insertafter: str | None = None,
    insertbefore: str | None = None,
) -> tuple[str, str]:
    """Ansible's blockinfile: the lines of `block` between two marker lines, kept as one unit."""
    where = "file_ops.blockinfile"
    if "{mark}" not in marker:
        raise ModuleError(f"{where}: marker must contain {{mark}}, got {marker!r}")
    begin, end = marker.replace("{mark}", marker_begin), marker.replace("{mark}", marker_end)
    lines = _lines(text)
    start = next((i for i, old in enumerate(lines) if old.rstrip() == begin), None)
    stop = None
    if start is not None:
        stop = next((i for i in range(start + 1, len(lines)) if lines[i].rstrip() == end), None)
    found = start is not None and stop is not None
    if state == "absent" or not block.strip("\n"):
        if not found:
            return text, "unchanged"
        assert start is not None and stop is not None
        del lines[start : stop + 1]
        return _join(lines), "removed"
    wanted = [begin, *block.rstrip("\n").split("\n"), end]
    if found:
        assert start is not None and stop is not None
        if lines[start : stop + 1] == wanted:
            return text, "unchanged"
        lines[start : stop + 1] = wanted
        return _join(lines), "replaced"
    at = _position(lines, insertafter, insertbefore, where)
    lines[at:at] = wanted
    return _join(lines), "added"


def replace_in_text(text: str, pattern: str, replacement: str) -> tuple[str, int]:
    """Ansible's replace: every match of `pattern` (multiline: ^ and $ match at each line)
    becomes `replacement` (\\1 or \\g<name> refer to groups). The count of replacements."""
    compiled = compile_pattern("file_ops.replace", pattern, re.MULTILINE)
    try:
        new, count = compiled.subn(replacement, text)
    except (re.error, IndexError) as exc:
        raise ModuleError(f"file_ops.replace: bad replacement {replacement!r}: {exc}") from None
    if new == text:
        return text, 0
    return new, count
