"""`--values FILE`: a YAML mapping that becomes the workflow's `values` global."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sloth_engine.errors import UsageError


def read_values(path: str) -> dict[str, Any]:
    """The mapping in a YAML file ({} for an empty file); UsageError naming the line otherwise."""
    import yaml

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read values file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise UsageError(f"{path}{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"{path}: values must be a mapping at the top level")
    return data
