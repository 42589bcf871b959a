"""Fuzzing the DSL loader: random Lua-ish text and mutated example files.

Whatever the input, loading ends within its time limit with a workflow or a DslError: no
other exception class, no hang. Each property is bounded (max_examples, a short load
timeout) so it runs in a few seconds; the number of inputs tried is printed.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sloth_engine.dsl import load_file
from sloth_engine.errors import DslError

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.sloth"))
TOKENS = [
    "task(",
    "workflow.define(",
    ":command(",
    ":depends_on(",
    "function()",
    "end",
    "return",
    "true",
    "false",
    "nil",
    "{",
    "}",
    "(",
    ")",
    '"x"',
    "'y'",
    "[[z]]",
    ",",
    "=",
    "..",
    "local",
    "for i = 1, 3 do",
    "while false do",
    "if",
    "then",
    "else",
    "#",
    ":",
    ".",
    "..",
    "--",
    "\n",
    "load",
    "string.rep('a', 10)",
    "setmetatable",
    "getmetatable",
    "coroutine.wrap",
    "pcall",
    "error",
    "import",
    "require",
    "exec.run",
    "1e308",
    "-1",
    "0x7fffffffffffffff",
    "\\0",
    "%",
]
SETTINGS = settings(
    max_examples=500, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
tried = {"lua-ish": 0, "mutated": 0}


def _load(tmp: Path, source: str) -> None:
    try:
        load_file(tmp / "fuzz.sloth", source=source, load_timeout=1.0)
    except DslError:
        pass


@SETTINGS
@given(st.lists(st.sampled_from(TOKENS) | st.text(max_size=8), max_size=40))
def test_loader_on_lua_ish_text(tmp_path_factory, pieces: list[str]) -> None:  # type: ignore[no-untyped-def]
    tried["lua-ish"] += 1
    _load(tmp_path_factory.getbasetemp(), " ".join(pieces))


@SETTINGS
@given(
    st.sampled_from(EXAMPLES),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 40), st.text(max_size=6)), max_size=4),
)
def test_loader_on_mutated_examples(
    tmp_path_factory,  # type: ignore[no-untyped-def]
    example: Path,
    edits: list[tuple[int, int, str]],
) -> None:
    tried["mutated"] += 1
    text = example.read_text()
    for at, cut, insert in edits:
        at %= len(text) + 1
        text = text[:at] + insert + text[at + cut :]
    _load(example.parent, text)


def test_report_inputs_tried() -> None:
    print(f"\nDSL fuzzing: {tried['lua-ish']} Lua-ish inputs, {tried['mutated']} mutated examples")
