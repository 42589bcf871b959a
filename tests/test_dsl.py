"""The DSL loader: every form of DSL.md, and every bad input reported with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from sloth_engine.dsl import load_file
from sloth_engine.errors import CycleError, DslError
from sloth_engine.spec import LUA_FUNCTION


def write(tmp_path: Path, text: str, name: str = "wf.sloth") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_fluent_builder_every_method(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
local fetch = task("fetch"):description("get"):command("echo hi"):timeout("1m30s")
local build = task("build")
  :description("compile")
  :command(function(this, params, input) return true, "built", { artifact = "app.bin" } end)
  :timeout("300ms")
  :retries(3, "linear")
  :depends_on({ fetch })
  :delegate_to({ tags = { role = "build" } })
  :workdir("/tmp")
  :env({ A = "1" })
  :params({ level = "2" })
  :run_if(function() return true end)
  :abort_if("false")
  :pre_hook(function() end)
  :post_hook("true")
  :on_success(function() end)
  :on_failure(function() end)
  :on_timeout(function() end)
  :artifacts({ "app.bin" })
  :consumes("src.tar")
  :async(true)
  :build()
workflow.define("ci"):description("CI"):version("1.0"):tasks({ fetch, build })
  :config({ max_parallel_tasks = 3, stack = "prod", timeout = "10m" })
""",
    )
    loaded = load_file(path)
    wf = loaded.spec.get("ci")
    assert wf is not None
    assert wf.description == "CI" and wf.version == "1.0"
    assert wf.max_parallel == 3 and wf.stack == "prod" and wf.timeout == 600
    fetch, build = wf.tasks["fetch"], wf.tasks["build"]
    assert fetch.command == "echo hi" and fetch.timeout == 90
    assert build.command == LUA_FUNCTION and build.timeout == 0.3
    assert build.retry.retries == 3 and build.retry.strategy == "linear"
    assert build.depends_on == ["fetch"]
    assert build.placement.tags == (("role", "build"),)
    assert build.env == {"A": "1"} and build.params == {"level": "2"}
    assert build.run_if == LUA_FUNCTION and build.abort_if == "false"
    assert build.artifacts == ["app.bin"] and build.consumes == ["src.tar"]
    assert loaded.task_function("ci", "build", "command") is not None
    assert build.line == 3


def test_table_form_array_and_name_keyed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
workflow.define("pipeline", {
  description = "p", workdir = "/tmp/x", delegate_to = "build-01",
  create_workdir_before_run = true,
  clean_workdir_after_run = function(result) return result.success end,
  tasks = {
    { name = "a", command = function(this, params) return true, "ok", { v = 1 } end },
    b = { depends_on = "a", retries = 2, timeout = "10s", run_if = "test -f /etc/hostname",
          command = function(this, params, input) return true, "got " .. input.a.v end },
    c = { depends_on = { "a", "b" }, run = "echo c", pre_exec = "true", post_exec = "true" },
  },
})
""",
    )
    wf = load_file(path).spec.get("pipeline")
    assert wf is not None
    assert list(wf.tasks) == ["a", "b", "c"]
    assert wf.tasks["b"].depends_on == ["a"] and wf.tasks["b"].retry.retries == 2
    assert wf.tasks["c"].command == "echo c" and wf.tasks["c"].pre_hook == "true"
    assert wf.tasks["a"].placement.agent == "build-01"
    assert wf.create_workdir and wf.clean_workdir == LUA_FUNCTION


def test_legacy_forms(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
workflow({ name = "old", tasks = { { name = "one", command = "true" } } })
TaskDefinitions = {
  group = { description = "legacy", tasks = {
    { name = "t1", command = function(params, deps) return true, "ok" end },
    { name = "t2", depends_on = "t1", command = "echo t2" },
  } },
}
""",
    )
    spec = load_file(path).spec
    assert [w.name for w in spec.workflows] == ["old", "group"]
    group = spec.get("group")
    assert group is not None and group.tasks["t1"].legacy_signature
    assert group.tasks["t2"].depends_on == ["t1"]


def test_values_and_import(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    write(tmp_path, 'return { greet = function(n) return "hi " .. n end }', "lib/common.lua")
    path = write(
        tmp_path,
        """
local common = import("lib/common.lua")
local same = require("lib.common")
assert(common == same)
local t = task(common.greet(values.env)):command("true")
workflow.define("v"):tasks({ t }):description(Values.items[2])
""",
    )
    wf = load_file(path, values={"env": "prod", "items": ["a", "b"]}).spec.get("v")
    assert wf is not None and "hi prod" in wf.tasks and wf.description == "b"


def test_only_tasks_make_an_implicit_workflow(tmp_path: Path) -> None:
    path = write(
        tmp_path, 'task("a"):command("true")\ntask("b"):command("true"):depends_on("a")\n', "solo.sloth"
    )
    spec = load_file(path).spec
    assert [w.name for w in spec.workflows] == ["solo"]


@pytest.mark.parametrize(
    ("source", "line", "words"),
    [
        ('local x = 1\nlocal t = task("a"):comand("true")\n', 2, ["unknown task builder method", "comand"]),
        ("local x = 1\n\nlocal y = (\n", 4, ["syntax error"]),
        ('task("a")\n  :command("true")\n  :timeout("5 minutes")\n', 3, ["bad timeout", "5 minutes"]),
        (
            'local a = task("a"):depends_on("ghost")\nworkflow.define("w"):tasks({a})\n',
            1,
            ["unknown task", "ghost"],
        ),
        ('local a = task("a"):retries(-1)\nworkflow.define("w"):tasks({a})\n', 1, ["retries"]),
        ('local a = task("a"):retries(2, "random")\nworkflow.define("w"):tasks({a})\n', 1, ["strategy"]),
        ('\nerror("custom failure")\n', 2, ["custom failure"]),
        ('workflow.define("w"):tasks({}):colour("red")\n', 1, ["unknown workflow method", "colour"]),
        (
            'workflow.define("w", { tasks = { { name = "a", dependz_on = "b" } } })\n',
            1,
            ["dependz_on", "depends_on"],
        ),
        ('local a = task("a"):delegate_to(42)\nworkflow.define("w"):tasks({a})\n', 1, ["delegate_to"]),
    ],
)
def test_bad_input_names_file_and_line(tmp_path: Path, source: str, line: int, words: list[str]) -> None:
    path = write(tmp_path, source)
    with pytest.raises(DslError) as info:
        load_file(path)
    err = info.value
    assert err.path == str(path)
    assert err.line == line, str(err)
    for word in words:
        assert word in str(err)
    assert str(err).startswith(f"{path}:{line}: ")


def test_cycle_is_named(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
local a = task("a"):depends_on("c"):command("true")
local b = task("b"):depends_on("a"):command("true")
local c = task("c"):depends_on("b"):command("true")
workflow.define("loop"):tasks({ a, b, c })
""",
    )
    with pytest.raises(CycleError) as info:
        load_file(path)
    assert set(info.value.cycle) == {"a", "b", "c"}
    assert "cycle" in str(info.value) and str(path) in str(info.value)


def test_missing_file_and_not_utf8(tmp_path: Path) -> None:
    with pytest.raises(DslError, match="file not found"):
        load_file(tmp_path / "nope.sloth")
    bad = tmp_path / "bin.sloth"
    bad.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(DslError, match="UTF-8"):
        load_file(bad)


def test_import_outside_folder_refused(tmp_path: Path) -> None:
    inner = tmp_path / "inner"
    inner.mkdir()
    write(tmp_path, "return 1", "secret.lua")
    path = write(inner, 'import("../secret.lua")\n')
    with pytest.raises(DslError, match="only files inside the workflow's folder"):
        load_file(path)


def test_endless_loop_at_top_level_is_stopped(tmp_path: Path) -> None:
    path = write(tmp_path, "local x = 0\nwhile true do x = x + 1 end\n")
    with pytest.raises(DslError, match="time limit") as info:
        load_file(path, load_timeout=0.3)
    assert info.value.line == 2


def test_duplicate_task_and_workflow(tmp_path: Path) -> None:
    path = write(tmp_path, 'workflow.define("w", { tasks = { { name = "a" }, { name = "a" } } })\n')
    with pytest.raises(DslError, match="defined twice"):
        load_file(path)
    path = write(tmp_path, 'workflow.define("w", { tasks = {} })\nworkflow.define("w", { tasks = {} })\n')
    with pytest.raises(DslError, match="defined twice"):
        load_file(path)


def test_unknown_dependency_names_the_depends_on_line(tmp_path: Path) -> None:
    path = write(tmp_path, 'local x = 1\nlocal b = task("b"):command("true")\n  :depends_on({ "nope" })\nworkflow.define("w"):tasks({ b })\n')
    with pytest.raises(DslError, match="nope") as info:
        load_file(path)
    assert info.value.line == 3


def test_bad_config_retry_delay_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, 'local a = task("a"):command("true")\nworkflow.define("w"):tasks({ a })\n  :config({ retry_delay = "fast please" })\n')
    with pytest.raises(DslError, match="retry_delay") as info:
        load_file(path)
    assert info.value.line == 3
