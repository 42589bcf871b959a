"""`--values FILE`: a YAML mapping that becomes the workflow's `values` global.

The file is bounded like every input (sloth_engine.bounded_input): its size before it is
read, its nesting while it is parsed, and the number of values its aliases expand to before
anything copies it (into JSON for a master, or into Lua).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sloth_engine.bounded_input import MAX_INPUT_DEPTH, check_shape, check_size
from sloth_engine.errors import UsageError


def read_values(path: str) -> dict[str, Any]:
    """The mapping in a YAML file ({} for an empty file); UsageError naming the file otherwise."""
    import yaml

    what = f"values file {path}"
    try:
        check_size(Path(path).stat().st_size, what)
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read values file {path}: {exc.strerror}") from None
    check_size(len(raw), what)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: values file is not UTF-8 text (byte {exc.start})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise UsageError(f"{path}{where}: invalid YAML: {getattr(exc, 'problem', None) or exc}") from None
    except RecursionError:
        raise UsageError(f"{path}: values nested deeper than {MAX_INPUT_DEPTH} levels") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"{path}: values must be a mapping at the top level")
    check_shape(data, f"{path}: values")
    return data
