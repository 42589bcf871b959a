"""`template`: Jinja2 rendering in Jinja's sandbox, with undefined names as errors.

`template.render(text, vars)` and `template.render_file(path, vars)`; `render_file` resolves
a relative path against the workflow file's folder, and `{% include %}` finds files next to
the template and in that folder. Lua functions among the variables are left out: templates
get data only. Errors name the problem (`'port' is undefined`) and, for syntax errors, the
line.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

from sloth_engine.lua.sandbox import ModuleError, Sandbox, lua_type
from sloth_engine.modules import ModuleEnv


def _data(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _data(v) for k, v in value.items() if lua_type(v) != "function"}
    if isinstance(value, list):
        return [_data(v) for v in value if lua_type(v) != "function"]
    return value


def _variables(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ModuleError("template: variables must be a table of name = value")
    return {str(k): v for k, v in _data(value).items()}


def _environment(search: list[str]) -> SandboxedEnvironment:
    import jinja2  # imported on first use: it costs a whole run's start-up time
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        loader=jinja2.FileSystemLoader(search) if search else None,
    )


def _render(env: SandboxedEnvironment, source: str, variables: Any, name: str) -> str:
    import jinja2

    try:
        return env.from_string(source).render(_variables(variables))
    except jinja2.TemplateSyntaxError as exc:
        raise ModuleError(f"template {exc.name or name}:{exc.lineno}: {exc.message}") from None
    except jinja2.TemplateError as exc:
        raise ModuleError(f"template {name}: {exc.message or exc}") from None
    except Exception as exc:  # the template's own expressions failing (1/0, bad filter input)
        raise ModuleError(f"template {name}: {type(exc).__name__}: {exc}") from None


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    base = Path(env.base_dir)

    def render(text: Any, variables: Any = None) -> str:
        if not isinstance(text, str):
            raise ModuleError("template.render: the template must be a string")
        return _render(_environment([str(base)]), text, variables, "<string>")

    def render_file(path: Any, variables: Any = None) -> str:
        if not isinstance(path, str) or not path:
            raise ModuleError("template.render_file: path must be a string")
        full = (base / Path(path).expanduser()).resolve()
        source = full.read_text(encoding="utf-8")
        search = [str(full.parent)] + ([str(base)] if full.parent != base else [])
        return _render(_environment(search), source, variables, str(path))

    sandbox.set_module("template", {"render": render, "render_file": render_file})
