"""`strings`: Go's strings helpers with Go's semantics.

`split(s, sep[, n])` (Go's Split/SplitN; `sep == ""` splits into characters), `join(list,
sep)`, `trim(s[, cutset])` (whitespace without a cutset), `trim_space`, `trim_left`,
`trim_right`, `trim_prefix`, `trim_suffix`, `has_prefix`/`starts_with`,
`has_suffix`/`ends_with`, `contains`, `replace(s, old, new[, n])` (all when n is absent or
negative), `to_upper`/`upper`, `to_lower`/`lower`, `title` (first letter of each word, the
rest untouched, as Go), `repeat(s, n)`, `index`/`last_index` (0-based, -1 when absent, as
Go), `count`, `fields`, `lines`, `equal_fold`. Numbers are accepted where text is expected.

The original's extras: `match(s, re)` / `match_all(s, re)` / `replace_regex(s, re, repl)`
(RE2 patterns as Go's regexp, see strings_regex), `base64_encode`/`base64_decode`,
`url_encode`/`url_decode` (full percent-encoding of a query component), `md5`/`sha1`/`sha256`
(hex), `is_email`, `is_url`, `is_numeric`, `is_alpha`, `is_alphanumeric`, `pad_left(s, width[,
pad])`, `pad_right`, `truncate(s, max[, suffix = "..."])`. Lengths count characters (the
original counted bytes: the same for ASCII). Decoders return nil, message on bad input.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv
from sloth_engine.modules.crypto_mod import LENIENT_BYTES_LUA
from sloth_engine.modules.strings_regex import match, match_all, replace_regex

_WORD_START = re.compile(r"(?<!\w)(\w)")
_EMAIL = re.compile(r"^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}$")
_URL = re.compile(r"^https?://[^\s/$.?#].[^\s]*$")
MAX_PAD = 16 * 1024 * 1024
"""Widest result pad_left/pad_right build (characters): a bound, not a Go rule."""


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


def _base64_decode(s: Any) -> tuple[str | None, str | None, str | None]:
    """(text, None, None), or (None, hex, None) for bytes that are not UTF-8, or an error."""
    try:
        raw = base64.b64decode(_s(s).encode(), validate=True)
    except (binascii.Error, ValueError) as exc:
        return None, None, f"Invalid base64 string: {exc}"
    try:
        return raw.decode("utf-8"), None, None
    except UnicodeDecodeError:
        return None, raw.hex(), None


def _digest(algorithm: str) -> Any:
    return lambda s: hashlib.new(algorithm, _s(s).encode("utf-8", "surrogateescape")).hexdigest()


def is_numeric(s: Any) -> bool:
    """Go's strconv.ParseFloat accepts it (no spaces, no digit separators; NaN and Inf count)."""
    text = _s(s)
    if "_" in text or text != text.strip():
        return False
    try:
        float(text)
    except ValueError:
        return False
    return True


def _pad(s: Any, width: Any, pad: Any, left: bool) -> str:
    text, filler, size = _s(s), _s(pad, "pad"), int(width)
    if size > MAX_PAD:
        raise ModuleError(f"strings: pad width {size} is over the limit of {MAX_PAD}")
    if len(text) >= size or not filler:
        return text
    padding = (filler * ((size - len(text)) // len(filler) + 1))[: size - len(text)]
    return padding + text if left else text + padding


def truncate(s: Any, max_length: Any, suffix: Any = "...") -> str:
    text, end, limit = _s(s), _s(suffix, "suffix"), max(0, int(max_length))
    if len(text) <= limit:
        return text
    if limit <= len(end):
        return end[:limit]
    return text[: limit - len(end)] + end


def _extras() -> dict[str, Any]:
    """The functions the original adds to `strings`."""
    return {
        "match": lambda s, pattern: match(_s(s), _s(pattern, "pattern")),
        "match_all": lambda s, pattern: match_all(_s(s), _s(pattern, "pattern")),
        "replace_regex": lambda s, p, r: replace_regex(_s(s), _s(p, "pattern"), _s(r, "replacement")),
        "base64_encode": lambda s: base64.b64encode(_s(s).encode("utf-8", "surrogateescape")).decode(),
        "url_encode": lambda s: urllib.parse.quote(_s(s), safe=""),
        "url_decode": lambda s: urllib.parse.unquote(_s(s)),
        "md5": _digest("md5"),
        "sha1": _digest("sha1"),
        "sha256": _digest("sha256"),
        "is_email": lambda s: _EMAIL.fullmatch(_s(s)) is not None,
        "is_url": lambda s: _URL.fullmatch(_s(s)) is not None,
        "is_numeric": is_numeric,
        "is_alpha": lambda s: _s(s).isalpha(),
        "is_alphanumeric": lambda s: _s(s).isalnum(),
        "pad_left": lambda s, width, pad=" ": _pad(s, width, pad, left=True),
        "pad_right": lambda s, width, pad=" ": _pad(s, width, pad, left=False),
        "truncate": truncate,
    }


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    functions: dict[str, Callable[..., Any]] = {
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
    }
    functions.update(_extras())
    table = sandbox.set_module(
        "strings",
        functions,
    )
    table["base64_decode"] = sandbox.run_lua(LENIENT_BYTES_LUA, "strings", sandbox.function(_base64_decode))
