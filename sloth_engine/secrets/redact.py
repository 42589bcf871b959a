"""Hide secret values: every occurrence in text (and in nested data) becomes `***`.

A multi-line value is also hidden line by line, since output is captured one line at a time.
Values (and lines) shorter than MIN_LENGTH characters are not hidden: masking every `a` of
the output would hide everything and reveal the value by its gaps.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from typing import Any

MASK = "***"
MIN_LENGTH = 3


class Redactor:
    """Secret values hidden; with `shown_root`, paths under that folder shown relative to it (a
    master's private copy of a submitted workflow is named as the workflow's own file)."""

    def __init__(self, values: Iterable[str], shown_root: str | None = None) -> None:
        self._root = shown_root.rstrip("/") + "/" if shown_root else None
        parts: set[str] = set()
        for value in values:
            candidates = [value, *(line.strip() for line in value.splitlines())]
            parts.update(c for c in candidates if len(c) >= MIN_LENGTH)
        ordered = sorted(parts, key=len, reverse=True)  # the longest match wins
        self._pattern = re.compile("|".join(re.escape(p) for p in ordered)) if ordered else None

    def __bool__(self) -> bool:
        return self._pattern is not None or self._root is not None

    def text(self, text: str) -> str:
        if not isinstance(text, str):
            return text
        if self._root is not None and self._root[:-1] in text:
            text = text.replace(self._root, "").replace(self._root[:-1], ".")
        if self._pattern is None:
            return text
        return self._pattern.sub(MASK, text)

    def finds(self, value: Any) -> bool:
        """Whether a secret value occurs in `value` (strings anywhere in nested data, keys too)."""
        if self._pattern is None:
            return False
        if isinstance(value, str):
            return self._pattern.search(value) is not None
        if isinstance(value, dict):
            return any(self.finds(k) or self.finds(v) for k, v in value.items())
        if isinstance(value, (list, tuple)):
            return any(self.finds(v) for v in value)
        return False

    def value(self, value: Any) -> Any:
        """Strings anywhere in dicts, lists and tuples (keys too) hidden; other values kept."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.value(k): self.value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.value(v) for v in value)
        return value

    def result(self, result: Any) -> Any:
        """A RunResult with its error and every task's message, error and outputs hidden."""
        tasks = [
            dataclasses.replace(
                t, message=self.text(t.message), error=self.text(t.error), outputs=self.value(t.outputs)
            )
            for t in result.tasks
        ]
        return dataclasses.replace(result, tasks=tasks, error=self.text(result.error))


SECRET_REFUSED = (
    "the value holds a granted secret: secrets are never stored or passed on"
    " (read `secrets.NAME` where the value is needed)"
)
"""Why state.set, task outputs and event.dispatch refuse a value: one wording for all."""

_cache: tuple[tuple[str, ...], Redactor] | None = None


def holds_secret(value: Any, secrets: dict[str, str]) -> bool:
    """Whether a granted secret's value occurs in `value` (the run's `secrets` mapping)."""
    global _cache
    if not secrets:
        return False
    values = tuple(sorted(secrets.values()))
    cached = _cache
    if cached is None or cached[0] != values:
        cached = _cache = (values, Redactor(values))
    return cached[1].finds(value)
