"""`strings`: Go's strings helpers with Go's semantics.

`split(s, sep[, n])` (Go's Split/SplitN; `sep == ""` splits into characters), `join(list,
sep)`, `trim(s[, cutset])` (whitespace without a cutset), `trim_space`, `trim_left`,
`trim_right`, `trim_prefix`, `trim_suffix`, `has_prefix`/`starts_with`,
`has_suffix`/`ends_with`, `contains`, `replace(s, old, new[, n])` (all when n is absent or
negative), `to_upper`/`upper`, `to_lower`/`lower`, `title` (first letter of each word, the
rest untouched, as Go), `repeat(s, n)`, `index`/`last_index` (0-based, -1 when absent, as
Go), `count`, `fields`, `lines`, `equal_fold`. Numbers are accepted where text is expected.
"""

from __future__ import annotations

import re
from typing import Any

from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv

_WORD_START = re.compile(r"(?<!\w)(\w)")


def _s(value: Any, what: str = "argument") -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise ModuleError(f"strings: {what} must be a string, got {_kind(value)}")


def _kind(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (dict, list)):
        return "table"
    return type(value).__name__


def split(s: Any, sep: Any = None, n: Any = -1) -> list[str]:
    text = _s(s)
    limit = int(n) if n is not None else -1
    if limit == 0:
        return []
    if sep is None:
        return text.split()
    separator = _s(sep, "separator")
    if separator == "":
        chars = list(text)
        if 0 < limit < len(chars):
            return [*chars[: limit - 1], "".join(chars[limit - 1 :])]
        return chars
    return text.split(separator, limit - 1 if limit > 0 else -1)


def join(items: Any, sep: Any = "") -> str:
    if isinstance(items, dict) and not items:
        items = []  # the empty table
    if not isinstance(items, list):
        raise ModuleError(f"strings.join: expected a list, got {_kind(items)}")
    return _s(sep, "separator").join(_s(item, "list item") for item in items)


def trim(s: Any, cutset: Any = None) -> str:
    return _s(s).strip(None if cutset is None else _s(cutset, "cutset"))


def replace(s: Any, old: Any, new: Any, n: Any = -1) -> str:
    count = -1 if n is None else int(n)
    return _s(s).replace(_s(old), _s(new), count if count >= 0 else -1)


def title(s: Any) -> str:
    return _WORD_START.sub(lambda match: match.group(1).upper(), _s(s))


def repeat(s: Any, n: Any) -> str:
    count = int(n)
    if count < 0:
        raise ModuleError("strings.repeat: negative count")
    return _s(s) * count


def _trim_prefix(s: Any, prefix: Any) -> str:
    return _s(s).removeprefix(_s(prefix))


def _trim_suffix(s: Any, suffix: Any) -> str:
    return _s(s).removesuffix(_s(suffix))


def _has_prefix(s: Any, prefix: Any) -> bool:
    return _s(s).startswith(_s(prefix))


def _has_suffix(s: Any, suffix: Any) -> bool:
    return _s(s).endswith(_s(suffix))


def _upper(s: Any) -> str:
    return _s(s).upper()


def _lower(s: Any) -> str:
    return _s(s).lower()


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    sandbox.set_module(
        "strings",
        {
            "split": split,
            "join": join,
            "trim": trim,
            "trim_space": lambda s: _s(s).strip(),
            "trim_left": lambda s, cutset=None: _s(s).lstrip(None if cutset is None else _s(cutset)),
            "trim_right": lambda s, cutset=None: _s(s).rstrip(None if cutset is None else _s(cutset)),
            "trim_prefix": _trim_prefix,
            "trim_suffix": _trim_suffix,
            "has_prefix": _has_prefix,
            "starts_with": _has_prefix,
            "has_suffix": _has_suffix,
            "ends_with": _has_suffix,
            "contains": lambda s, sub: _s(sub) in _s(s),
            "replace": replace,
            "replace_all": lambda s, old, new: replace(s, old, new, -1),
            "to_upper": _upper,
            "upper": _upper,
            "to_lower": _lower,
            "lower": _lower,
            "title": title,
            "repeat": repeat,
            "index": lambda s, sub: _s(s).find(_s(sub)),
            "last_index": lambda s, sub: _s(s).rfind(_s(sub)),
            "count": lambda s, sub: _s(s).count(_s(sub)) if _s(sub) else len(_s(s)) + 1,
            "fields": lambda s: _s(s).split(),
            "lines": lambda s: _s(s).splitlines(),
            "equal_fold": lambda a, b: _s(a).casefold() == _s(b).casefold(),
        },
    )
