"""The original tool's core-module functions (ORIGINAL-API.md), called with its call shapes
through a real sandbox, and through a real `run` where files are involved."""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from sloth_engine.errors import LuaRuntimeError
from sloth_engine.lua.sandbox import Sandbox, TaskScope
from sloth_engine.modules import ModuleEnv

pytestmark = pytest.mark.timeout(30)


class Lua:
    def __init__(self, root: Path) -> None:
        self.sandbox = Sandbox()
        self.sandbox.scope = TaskScope(task_name="t", workdir=str(root), log=lambda stream, line: None)
        self.events: list[tuple[str, dict[str, Any]]] = []
        env = ModuleEnv(base_dir=root, emit_event=lambda kind, data: self.events.append((kind, data)))
        for name in ("data", "strings", "time", "crypto", "fs", "goroutine", "file_ops", "event", "watcher"):
            importlib.import_module(f"sloth_engine.modules.{name}_mod").install(self.sandbox, env)

    def run(self, body: str) -> Any:
        fn = self.sandbox.run_lua("return function() " + body + "\nend", "test.sloth")
        return self.sandbox.call(fn, deadline=time.monotonic() + 5)


@pytest.fixture
def lua(tmp_path: Path) -> Lua:
    return Lua(tmp_path)


# ---- strings ------------------------------------------------------------------------------


def test_strings_regex_functions_follow_go(lua: Lua) -> None:
    assert lua.run(
        r'local m = strings.match("mail joe@ex.com", "(\\w+)@(\\w+)") return m[1], m[2], m[3]'
    ) == (
        "joe@ex",
        "joe",
        "ex",
    )
    assert lua.run('return strings.match("abc", "z")') is None
    assert lua.run(
        r'local all = strings.match_all("a1 b2 c3", "([a-z])(\\d)") return #all, all[2][1], all[3][3]'
    ) == (3, "b2", "3")
    assert lua.run('return #strings.match_all("abc", "z")') == 0
    assert (
        lua.run(
            r'return strings.replace_regex("2024-01-15", "(\\d+)-(\\d+)-(?P<d>\\d+)", "$d/${2}/$1 $$ $1x")'
        )
        == "15/01/2024 $ "
    )
    value, message = lua.run('return strings.match("x", "(")')
    assert value is None and message.startswith("Invalid regex pattern")


def test_strings_regex_is_linear_time(lua: Lua) -> None:
    started = time.monotonic()
    assert lua.run('return strings.match(string.rep("a", 5000) .. "b", "(a+)+$")') is None
    assert time.monotonic() - started < 2.0  # a backtracking engine takes ages here


def test_strings_encodings_hashes_and_checks(lua: Lua) -> None:
    assert lua.run('return strings.base64_encode("hello"), strings.base64_decode("aGVsbG8=")') == (
        "aGVsbG8=",
        "hello",
    )
    value, message = lua.run('return strings.base64_decode("!!")')
    assert value is None and "Invalid base64" in message
    assert lua.run('return strings.url_encode("a b+c&d=é"), strings.url_decode("a%20b%2Bc%C3%A9")') == (
        "a%20b%2Bc%26d%3D%C3%A9",
        "a b+cé",
    )
    assert lua.run('return strings.md5("abc"), strings.sha1("abc"), strings.sha256("abc")') == (
        hashlib.md5(b"abc").hexdigest(),
        hashlib.sha1(b"abc").hexdigest(),
        hashlib.sha256(b"abc").hexdigest(),
    )
    checks = lua.run(
        """return strings.is_email("a.b@ex.io"), strings.is_email("nope@x"), strings.is_url("https://x.io/a"),
        strings.is_url("ftp://x"), strings.is_numeric("1.5e3"), strings.is_numeric(" 1"), strings.is_numeric("1_0"),
        strings.is_alpha("abc"), strings.is_alpha(""), strings.is_alpha("ab1"), strings.is_alphanumeric("ab1")"""
    )
    assert checks == (True, False, True, False, True, False, False, True, False, False, True)


def test_strings_padding_and_truncate(lua: Lua) -> None:
    assert lua.run(
        """return strings.pad_left("7", 3, "0"), strings.pad_right("ab", 5, "-="), strings.pad_left("abcd", 2),
        strings.truncate("hello world", 8), strings.truncate("hello", 2), strings.truncate("hi", 5),
        strings.truncate("hello world", 7, "~")"""
    ) == ("007", "ab-=-", "abcd", "hello...", "..", "hi", "hello ~")
    with pytest.raises(LuaRuntimeError, match="pad width"):
        lua.run('return strings.pad_left("x", 2^40)')


# ---- data ---------------------------------------------------------------------------------


def test_data_conversions_and_validation(lua: Lua) -> None:
    assert lua.run("return data.json_validate('{\"a\": 1}')") is True
    ok, message = lua.run('return data.json_validate("{nope")')
    assert ok is False and "json decode" in message
    assert lua.run('return data.yaml_to_json("a: 1\\nb: [x, y]\\n")') == '{"a":1,"b":["x","y"]}'
    assert lua.run('return data.json_to_yaml(\'{"b": [1, 2], "a": "x"}\')') == "a: x\nb:\n- 1\n- 2\n"
    value, message = lua.run('return data.yaml_to_json("a: [")')
    assert value is None and "yaml decode" in message


def test_data_xml_round_trip_shapes(lua: Lua) -> None:
    assert lua.run('return data.xml_encode({name = "web", ports = {80, 443}, tls = true}, "svc")') == (
        "<svc><name>web</name><ports><item>80</item><item>443</item></ports><tls>true</tls></svc>"
    )
    assert lua.run('return data.xml_encode({note = "a<b & c"})') == "<root><note>a&lt;b &amp; c</note></root>"
    decoded = lua.run(
        """local d = data.xml_decode('<config env="prod"><port>80</port><host>a</host><host>b</host></config>')
        return d.config["@env"], d.config.port, d.config.host[2]"""
    )
    assert decoded == ("prod", "80", "b")
    assert lua.run("return data.xml_to_json('<a><b>1</b></a>')") == '{"a": {"b": "1"}}'
    value, message = lua.run("return data.xml_decode('<!DOCTYPE x [<!ENTITY e \"boom\">]><x>&e;</x>')")
    assert value is None and "entities" in message
    value, message = lua.run("return data.xml_decode('<a><b></a>')")
    assert value is None and "xml decode" in message


def test_data_csv(lua: Lua) -> None:
    assert lua.run(
        """local ok, rows = data.csv_parse('name, port\\nweb, 80\\n\\n"db, main", 5432\\n')
        return ok, #rows, rows[1][2], rows[3][1], rows[3][2]"""
    ) == (True, 3, "port", "db, main", "5432")
    assert lua.run('local ok, rows = data.csv_parse("a;b", ";") return rows[1][2]') == "b"
    assert lua.run('return data.csv_generate({{"name", "port"}, {"web", 80}, {"a,b", true}})') == (
        'name,port\nweb,80\n"a,b",true'
    )


def test_data_paths_flatten_and_merge(lua: Lua) -> None:
    assert lua.run(
        """local cfg = {db = {host = "h", ports = {5432, 5433}}}
        data.set_path(cfg, "db.user.name", "admin")   -- in place, as the original
        return data.get_path(cfg, "db.host"), data.get_path(cfg, "db.ports.2"), cfg.db.user.name,
               data.get_path(cfg, "db.nope.x"), data.get_path(cfg, "db/host", "/")"""
    ) == ("h", 5433, "admin", None, "h")
    assert lua.run(
        """local flat = data.flatten({a = {b = 1, c = {d = "x"}}, e = true})
        local ok, back = data.unflatten(flat)
        return flat["a.b"], flat["a.c.d"], flat.e, ok, back.a.c.d"""
    ) == (1, "x", True, True, "x")
    assert lua.run(
        """local base = {db = {host = "h", port = 1}, tags = {"a"}}
        local ok, merged = data.deep_merge(base, {db = {port = 2}, extra = 1})
        return ok, merged.db.host, merged.db.port, merged.extra, base.db.port"""
    ) == (True, "h", 2, 1, 1)


# ---- crypto -------------------------------------------------------------------------------


def test_crypto_aes_is_authenticated_and_round_trips(lua: Lua) -> None:
    assert lua.run(
        """local sealed = crypto.aes_encrypt("my key", "secret text")
        local again = crypto.aes_encrypt("my key", "secret text")
        return crypto.aes_decrypt("my key", sealed), sealed ~= again, sealed:find("secret") == nil"""
    ) == ("secret text", True, True)
    value, message = lua.run('return crypto.aes_decrypt("other key", crypto.aes_encrypt("my key", "x"))')
    assert value is None and "wrong key" in message
    value, message = lua.run(
        """local sealed = crypto.aes_encrypt("k", "hello")
        local flipped = sealed:sub(1, 20) .. (sealed:sub(21, 21) == "A" and "B" or "A") .. sealed:sub(22)
        return crypto.aes_decrypt("k", flipped)"""
    )
    assert value is None and ("altered" in message or "base64" in message)
    assert lua.run('return strings.base64_decode(strings.base64_encode("plain"))') == "plain"
    assert lua.run('return strings.base64_decode("/wAB") == "\\255\\0\\1"') is True


# ---- time ---------------------------------------------------------------------------------


def test_time_original_call_shapes(lua: Lua) -> None:
    assert lua.run('return time.parse("2006-01-02T15:04:05Z07:00", "2024-03-10T12:30:00Z")') == 1710073800
    assert lua.run('return time.parse("2006-01-02 15:04", "2024-03-10 12:30")') == 1710073800  # UTC, as Go
    value, message = lua.run('return time.parse("2006-01-02", "10/03/2024")')
    assert value is None and "parsing time" in message
    local = lua.run('return time.parse("2024-03-10 12:30:00")')  # this project's order: local time
    assert local == datetime.strptime("2024-03-10 12:30:00", "%Y-%m-%d %H:%M:%S").timestamp()
    assert lua.run("return time.unix(1710073800), time.unix(1710073800, 2500000000)") == (
        1710073800,
        1710073802,
    )
    assert abs(lua.run("return time.unix()") - time.time()) < 2


def test_time_arithmetic_parts_and_comparisons(lua: Lua) -> None:
    ts = 1710073800  # 2024-03-10 12:30:00 UTC, a Sunday
    moment = datetime.fromtimestamp(ts).astimezone()
    assert lua.run(f'return time.add({ts}, "1h30m"), time.sub({ts}, "90s"), time.duration("1.5h")') == (
        ts + 5400,
        ts - 90,
        5400.0,
    )
    value, message = lua.run(f'return time.add({ts}, "soon")')
    assert value is None and "invalid duration" in message
    assert lua.run(
        f"return time.year({ts}), time.month({ts}), time.day({ts}), time.hour({ts}), time.minute({ts}), "
        f"time.second({ts}), time.weekday({ts})"
    ) == (
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
        moment.strftime("%A"),
    )
    assert lua.run(
        f"return time.before({ts}, {ts + 1}), time.after({ts}, {ts + 1}), time.equal({ts}, {ts}.4)"
    ) == (
        True,
        False,
        True,
    )
    assert lua.run(
        f'return time.truncate({ts + 1799}, "1h"), time.round({ts + 1799}, "1h"), time.round({ts}, "1h")'
    ) == (
        ts - 1800,
        ts + 1800,
        ts + 1800,  # halfway rounds up, as Go
    )
    assert lua.run(f'return time.utc({ts}), time["local"]({ts}), time.in_location({ts}, "Europe/Paris")') == (
        ts,
        ts,
        ts,
    )
    value, message = lua.run(f'return time.in_location({ts}, "Mars/Olympus")')
    assert value is None and "unknown time zone" in message
    until = lua.run('return time["until"](time.now() + 60)')
    assert 55 < until <= 60
    rfc = lua.run(f"return time.rfc3339({ts})")
    assert datetime.fromisoformat(rfc.replace("Z", "+00:00")).timestamp() == ts


# ---- math ---------------------------------------------------------------------------------


def test_math_additions_beside_standard_lua(lua: Lua) -> None:
    assert lua.run(
        """return math.round(2.5), math.round(-2.5), math.clamp(15, 0, 10), math.pow(2, 10), math.cbrt(-27),
        math.log10(1000), math.log2(8), math.floor(3.7), math.type(math.floor(3.7))"""
    ) == (3, -3, 10, 1024.0, -3.0, 3.0, 3.0, 3, "integer")
    assert lua.run("return math.atan2(1, 1) == math.atan(1, 1), math.abs(-2)") == (True, 2)
    stats = lua.run(
        """local t = {2, 4, 4, 4, 5, 5, 7, 9, label = "x"}
        return math.sum(t), math.mean(t), math.median(t), math.mode(t), math.variance(t), math.std_dev(t),
               math.median({3, 1, 2}), math.mean({})"""
    )
    assert stats == (40, 5.0, 4.5, 4, 4.0, 2.0, 2, 0)
    assert lua.run(
        """math.seed(42) local a = {math.random_int(1, 100), math.random_float(0, 1)}
        math.seed(42) local b = {math.random_int(100, 1), math.random_float(1, 0)}
        local r = math.random(5, 6)
        return a[1] == b[1], a[2] == b[2], a[1] >= 1 and a[1] <= 100, r == 5 or r == 6"""
    ) == (True, True, True, True)


# ---- files as the original tool writes them, end to end -------------------------------------

ORIGINAL_STYLE = """#!/usr/bin/env sloth-runner
-- written for the original tool: its call shapes, a shebang, an import of a sibling
local helpers = import("helpers.sloth")

local report = task("report")
  :command(function(this, params)
    local m = strings.match("release v1.4.2", "v(\\\\d+)\\\\.(\\\\d+)")
    local ok, rows = data.csv_parse("host,port\\nweb,80\\ndb,5432")
    local ts = time.parse("2006-01-02", "2024-03-10")
    local ok2, merged = data.deep_merge({a = {x = 1}}, {a = {y = 2}})
    local secret = crypto.aes_decrypt("k", crypto.aes_encrypt("k", "s3cret"))
    return true, "done", {
      major = m[2], rows = #rows, day = time.day(ts + 43200), mean = math.mean({1, 2, 3}),
      merged = merged.a.x + merged.a.y, secret = secret, padded = strings.pad_left(helpers.n, 3, "0"),
    }
  end)
  :build()

workflow.define("original"):description("original idioms"):version("1.0.0"):tasks({ report })
"""

HELPERS = """#!/usr/bin/env sloth-runner
return { n = "7" }
"""


def _cli(*args: str, home: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLOTH_")} | {"SLOTH_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "sloth_daemon.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=cwd,
    )


def test_an_original_file_with_a_shebang_runs_unchanged(tmp_path: Path) -> None:
    flow = tmp_path / "deploy.sloth"
    flow.write_text(ORIGINAL_STYLE)
    (tmp_path / "helpers.sloth").write_text(HELPERS)
    # `sloth-runner FILE` is what the shebang line executes
    done = _cli(str(flow), "-o", "json", home=tmp_path / "home", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    outputs = json.loads(done.stdout)["tasks"][0]["outputs"]
    assert outputs == {
        "major": "1",
        "rows": 3,
        "day": 10,
        "mean": 2.0,
        "merged": 3,
        "secret": "s3cret",
        "padded": "007",
    }


def test_a_shebang_keeps_line_numbers(tmp_path: Path) -> None:
    flow = tmp_path / "broken.sloth"
    flow.write_text("#!/usr/bin/env sloth-runner\nlocal x = 1\nthis is not lua\n")
    done = _cli("workflow", "validate", str(flow), home=tmp_path / "home", cwd=tmp_path)
    assert done.returncode == 2
    assert "broken.sloth:3" in done.stderr and "Traceback" not in done.stderr


# ---- goroutine ----------------------------------------------------------------------------


def test_goroutine_pool_created_first_survives_and_its_queue_is_bounded(lua: Lua) -> None:
    result = lua.run(
        """
        goroutine.pool_create("p", { workers = 2 })   -- before any goroutine of this call
        local gate, done = goroutine.channel(), 0
        local ids, refused = {}, nil
        for i = 1, 7 do
          local id, err = goroutine.pool_submit("p", function() gate:receive(); done = done + 1 end)
          if id then ids[#ids + 1] = id else refused = err end
        end
        local stats = goroutine.pool_stats("p")
        for _ = 1, #ids do gate:send(true) end
        local waited = goroutine.pool_wait("p")
        return #ids, refused, stats.active, stats.queued, waited, done, goroutine.pool_stats("p").completed
        """
    )
    assert result == (6, "pool queue is full", 2, 4, True, 6, 6)


def test_goroutine_cond_channels_and_rwmutex_tries(lua: Lua) -> None:
    assert lua.run(
        """
        local cond, ready, seen = goroutine.cond(), false, {}
        local mu = cond:get_mutex()
        local wg = goroutine.wait_group()
        for i = 1, 3 do
          wg:add(1)
          goroutine.spawn(function()
            mu:lock()
            while not ready do cond:wait() end
            seen[#seen + 1] = i
            mu:unlock()
            wg:done()
          end)
        end
        goroutine.sleep(10)
        mu:lock(); ready = true; cond:signal(); mu:unlock()
        goroutine.sleep(10)
        local after_signal = #seen
        mu:lock(); cond:broadcast(); mu:unlock()
        wg:wait()
        return after_signal, #seen
        """
    ) == (1, 3)
    assert lua.run(
        """
        local ch = goroutine.channel(5)
        ch:send(1); ch:send(2)
        local rw = goroutine.rwmutex()
        local r1 = rw:try_rlock()
        local w1 = rw:try_lock()         -- a reader holds it
        rw:runlock()
        local w2 = rw:try_lock()
        local r2 = rw:try_rlock()        -- a writer holds it
        return goroutine.channel_len(ch), goroutine.channel_cap(ch), r1, w1, w2, r2
        """
    ) == (2, 5, True, False, True, False)


def test_goroutine_pipeline_fan_out_and_fan_in(lua: Lua) -> None:
    assert lua.run(
        """
        local input = goroutine.channel(10)
        goroutine.spawn(function() for i = 1, 5 do input:send(i) end input:close() end)
        local out = goroutine.pipeline(input, {
          { workers = 2, fn = function(v) return v * 2 end },
          { workers = 3, fn = function(v) return v + 1 end },
        })
        local sum, n = 0, 0
        out:range(function(v) sum = sum + v; n = n + 1 end)
        return sum, n, out:is_closed()
        """
    ) == (35, 5, True)
    assert lua.run(
        """
        local input = goroutine.channel()
        goroutine.spawn(function() for i = 1, 3 do input:send(i) end input:close() end)
        local outs = goroutine.fan_out(input, 2)
        local merged = goroutine.fan_in(outs)
        local total, count = 0, 0
        for v in function() local v, ok = merged:receive() if ok then return v end end do
          total, count = total + v, count + 1
        end
        return #outs, total, count
        """
    ) == (2, 12, 6)


# ---- Go text/template ---------------------------------------------------------------------


def test_go_templates_render_as_go_does() -> None:
    from sloth_engine.modules.go_template import looks_like_go, render

    data = {
        "Name": "web",
        "Port": 8080.0,
        "TLS": True,
        "Hosts": ["a", "b"],
        "Env": {"B": "2", "A": "1"},
        "Empty": [],
    }
    source = (
        "server {{.Name}}:{{.Port}}\n"
        "{{if .TLS}}tls on{{else}}tls off{{end}}\n"
        "{{range $i, $h := .Hosts}}{{$i}}={{$h}} {{end}}\n"
        "{{range .Empty}}x{{else}}none{{end}}\n"
        "{{range $k, $v := .Env}}{{$k}}:{{$v}};{{end}}\n"
        "{{- /* a comment */ -}}\n"
        '{{with .Env}}{{.A}}{{end}} {{.Missing}} {{len .Hosts}} {{index .Hosts 1}} {{index .Env "B"}}\n'
        '{{printf "%s-%04d" .Name 42}} {{.Name | printf "%q"}} {{if and .TLS (eq .Name "web")}}yes{{end}}\n'
        '{{if not .TLS}}a{{else if gt (len .Hosts) 1}}b{{else}}c{{end}} {{$x := .Name}}{{$x}} {{html "<b>"}}\n'
    )
    assert looks_like_go(source) and not looks_like_go("{{ name }} {% if x %}{% endif %}")
    assert render(source, data, "site.tmpl") == (
        "server web:8080\ntls on\n0=a 1=b \nnone\nA:1;B:2;"
        "1 <no value> 2 b 2\n"
        'web-0042 "web" yes\n'
        "b web &lt;b&gt;\n"
    )
    with pytest.raises(Exception, match=r"site.tmpl:2: unexpected \{\{end\}\}"):
        render("ok\n{{end}}", {}, "site.tmpl")
    with pytest.raises(Exception, match=r'site.tmpl:1: function "upper" not defined'):
        render("{{upper .Name}}", data, "site.tmpl")
    with pytest.raises(Exception, match="missing"):
        render("{{if .TLS}}open", data, "site.tmpl")


def test_file_ops_template_takes_the_originals_go_templates(lua: Lua, tmp_path: Path) -> None:
    (tmp_path / "nginx.tmpl").write_text(
        "server_name {{.Name}};\n{{range .Ports}}listen {{.}};\n{{end}}{{if .Ssl}}ssl on;{{end}}\n"
    )
    (tmp_path / "plain.j2").write_text("name {{ name }}\n")
    assert lua.run(
        """
        local ok, res = file_ops.template({src = "nginx.tmpl", dest = "out/nginx.conf",
                                            vars = {Name = "web", Ports = {80, 443}, Ssl = false}})
        local again = file_ops.template({src = "nginx.tmpl", dest = "out/nginx.conf",
                                         vars = {Name = "web", Ports = {80, 443}, Ssl = false}})
        local j = file_ops.template({src = "plain.j2", dest = "out/plain", vars = {name = "x"}})
        return ok and true, res.changed, again.changed, j.changed
        """
    ) == (True, True, False, True)
    assert (tmp_path / "out/nginx.conf").read_text() == "server_name web;\nlisten 80;\nlisten 443;\n\n"
    assert (tmp_path / "out/plain").read_text() == "name x\n"
    with pytest.raises(LuaRuntimeError, match='engine must be "jinja" or "go"'):
        lua.run('file_ops.template({src = "plain.j2", dest = "o", engine = "mustache"})')


def test_validate_names_an_unknown_module_function_and_suggests_one(tmp_path: Path) -> None:
    flow = tmp_path / "typo.sloth"
    flow.write_text(
        '-- strings.nothing in a comment is fine, and so is a string: "data.nope"\n'
        'local t = task("t"):command(function()\n'
        "  local v = data.json_decod('{}')\n"
        '  local s = strings.upperr("x")\n'
        "  local x = secrets.anything -- values, not functions\n"
        "  return true\n"
        "end)\n"
        'workflow.define("w"):tasks({ t })\n'
    )
    done = _cli("workflow", "validate", str(flow), home=tmp_path / "home", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"{flow}:3: data has no function 'json_decod' (did you mean data.json_decode?)",
        f"{flow}:4: strings has no function 'upperr' (did you mean strings.upper?)",
    ]
    flow.write_text(flow.read_text().replace("json_decod", "json_decode").replace("upperr", "upper"))
    assert _cli("workflow", "validate", str(flow), home=tmp_path / "home", cwd=tmp_path).returncode == 0


def test_a_rebound_module_name_is_not_checked() -> None:
    from sloth_engine.api_check import unknown_calls

    assert unknown_calls("local data = { x = 1 }\nprint(data.x)\n") == []
    assert unknown_calls("local f = function(state) return state.whatever end\n") == []
    assert [c.name for c in unknown_calls("data.extra = 1\nlocal y = data.missing(1)\n")] == ["missing"]


# ---- watcher --------------------------------------------------------------------------------


def test_watchers_fire_handlers_and_events_while_the_task_runs(lua: Lua, tmp_path: Path) -> None:
    import socket
    import threading

    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def port_keeper() -> None:  # opens the port when the task asks, closes it when asked
        for flag, act in (("open-port", listener.listen), ("close-port", listener.close)):
            deadline = time.monotonic() + 20
            while not (tmp_path / flag).exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            act()

    keeper = threading.Thread(target=port_keeper, daemon=True)
    keeper.start()
    seen = lua.run(
        f"""
        local seen = {{}}
        local function note(ev) seen[#seen + 1] = ev.kind .. ":" .. ev.condition end
        local dir = "{tmp_path}/"
        watcher.register.file({{ file_path = dir .. "watched.conf", when = {{ "created", "changed", "deleted" }},
                                 check_hash = true, interval = 0.05, handler = note }})
        watcher.register.port({{ port = {port}, when = {{ "opened", "closed" }}, interval = "50ms",
                                 handler = note }})
        local ready = false
        local id = watcher.register.custom({{ check = function() return ready, {{ n = 1 }} end,
                                              interval = 0.05, handler = note }})
        watcher.register.memory({{ threshold = 0, when = {{ "above" }}, interval = 0.05, handler = note }})
        local function settle() goroutine.sleep(200) end
        settle()                                        -- baselines taken; memory is above 0 at once
        fs.write(dir .. "watched.conf", "a=1")  settle()
        fs.write(dir .. "watched.conf", "a=2")  settle()
        fs.rm(dir .. "watched.conf")            settle()
        fs.write(dir .. "open-port", "")        settle()
        fs.write(dir .. "close-port", "")       settle()
        ready = true                            settle()
        watcher.stop(id)
        ready = false settle() ready = true     settle()  -- stopped: no second trigger
        return table.concat(seen, ",")
        """,
    )
    keeper.join(timeout=5)
    assert seen == (
        "memory:above,file:created,file:changed,file:deleted,port:opened,port:closed,custom:triggered"
    )
    kinds = [(kind, data["condition"]) for kind, data in lua.events]
    assert ("watcher.file", "changed") in kinds and ("watcher.custom", "triggered") in kinds
    assert [data.get("data") for kind, data in lua.events if kind == "watcher.custom"] == [{"n": 1}]
    with pytest.raises(LuaRuntimeError, match="when must name some of created, changed, deleted"):
        lua.run('watcher.register.file({ file_path = "x", when = { "exploded" } })')
    with pytest.raises(LuaRuntimeError, match="process_name is required"):
        lua.run('watcher.register.process({ when = { "created" } })')


def test_process_service_and_cpu_watchers(lua: Lua, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil
    import threading

    program = tmp_path / "sloth-watched-proc"
    shutil.copy("/bin/sleep", program)
    fakebin = tmp_path / "bin"
    fakebin.mkdir()
    (fakebin / "systemctl").write_text(
        f'#!/bin/sh\ncat "{tmp_path}/svc-state" 2>/dev/null || echo inactive\n'
    )
    (fakebin / "systemctl").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fakebin}:{os.environ['PATH']}")

    def keeper() -> None:
        def wait_for(flag: str) -> None:
            deadline = time.monotonic() + 20
            while not (tmp_path / flag).exists() and time.monotonic() < deadline:
                time.sleep(0.01)

        wait_for("start-proc")
        proc = subprocess.Popen([str(program), "30"])
        wait_for("stop-proc")
        proc.kill()
        proc.wait()

    thread = threading.Thread(target=keeper, daemon=True)
    thread.start()
    seen = lua.run(
        f"""
        local seen = {{}}
        local function note(ev) seen[#seen + 1] = ev.kind .. ":" .. ev.condition end
        local dir = "{tmp_path}/"
        watcher.register.process({{ process_name = "sloth-watched-proc", when = {{ "created", "deleted" }},
                                    interval = 0.05, handler = note }})
        watcher.register.service({{ service_name = "web", when = {{ "started", "stopped" }}, interval = 0.05,
                                    handler = note }})
        watcher.register.cpu({{ threshold = -1, when = "above", interval = 0.05, handler = note }})
        local function settle() goroutine.sleep(250) end
        settle()
        fs.write(dir .. "start-proc", "")       settle()
        fs.write(dir .. "stop-proc", "")        settle()
        fs.write(dir .. "svc-state", "active")  settle()
        fs.write(dir .. "svc-state", "inactive") settle()
        return table.concat(seen, ",")
        """
    )
    thread.join(timeout=5)
    assert seen == "cpu:above,process:created,process:deleted,service:started,service:stopped"


# ---- state.clear/stats and stack.get_id/get_status, here and on an agent ----------------------

STATE_AND_STACK = """
local probe = task("probe"){placement}:command(function()
  state.set("a", 1); state.set("b", {{ x = "yy" }})
  state.namespace("other").set("kept", true)
  local before = state.stats()
  local ok, removed = state.clear()
  local after = state.stats()
  return true, "ok", {{ keys = before.total_keys, size = before.total_size, removed = removed, cleared = ok,
                       after = after.total_keys, kept = state.namespace("other").get("kept"),
                       id = stack.get_id(), status = stack.get_status() }}
end)
workflow.define("w"):config({{ stack = "mystack" }}):tasks({{ probe }})
"""
STATE_AND_STACK_OUTPUTS = {
    "keys": 2,
    "size": 11,
    "removed": 2,
    "cleared": True,
    "after": 0,
    "kept": True,
    "id": "mystack",
    "status": "running",
}


def test_state_clear_and_stats_and_the_stack_id_and_status(tmp_path: Path) -> None:
    flow = tmp_path / "probe.sloth"
    flow.write_text(STATE_AND_STACK.format(placement=""))
    done = _cli("run", str(flow), "-o", "json", home=tmp_path / "home", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["tasks"][0]["outputs"] == STATE_AND_STACK_OUTPUTS


def test_state_clear_and_stats_and_the_stack_status_on_an_agent(tmp_path: Path) -> None:
    from distributed_cluster import Cluster

    cluster = Cluster(tmp_path)
    try:
        cluster.start_master()
        cluster.start_agent("a1")
        path = cluster.write("probe.sloth", STATE_AND_STACK.format(placement=':delegate_to("a1")'))
        with cluster.client() as client:
            plan = client.submit_run(str(path), path.read_text())
            result = list(client.follow_run(plan[0].run_id))[-1]
        assert result.status.value == "success", (result, cluster.logs())
        assert result.tasks[0].agent == "a1" and result.tasks[0].outputs == STATE_AND_STACK_OUTPUTS
    finally:
        cluster.close()


# ---- the modules of issue 17: every function ORIGINAL-API.md lists is there ------------------

ISSUE_17_FUNCTIONS = {
    "firewall": "rule detect enable disable status list flush allow_port deny_port allow_from deny_from save reload",
    "stow": "link unlink restow ensure_target stow unstow adopt check simulate get_links is_stowed list_packages verify",
    "lvm": "pv_create pv_remove pv_list pv_exists vg_create vg_remove vg_extend vg_reduce vg_list vg_exists lv_create "
    "lv_remove lv_extend lv_reduce lv_list lv_exists lv_resize snapshot_create snapshot_merge thin_pool_create "
    "thin_lv_create scan info",
    "raid": "create assemble stop remove add fail remove_device add_spare detail status list exists grow check repair "
    "save_config scan",
    "nfs": "export unexport list_exports reload is_exported",
    "smb": "share unshare list_shares reload is_shared add_user remove_user",
    "network": "ping port_check port_scan telnet dns_lookup reverse_dns mx_lookup interfaces public_ip local_ip "
    "traceroute whois ssl_check bandwidth_test latency_test",
    "incus": "instance image network profile storage snapshot exec list info delete",
    "gitops": "workflow create_workflow sync_workflow get_workflow_status list_workflows register_repository "
    "generate_diff preview_changes rollback_workflow start_auto_sync stop_auto_sync",
    "ai": "optimize_command predict_failure find_similar_tasks get_task_history record_execution get_task_stats "
    "configure get_config analyze_performance generate_insights",
    "docker": "exec build push run",
}
BUILDERS = {
    "firewall.rule()": "allow deny protocol port port_range from to zone chain direction comment apply remove exists",
    'incus.instance("x")': "image config profile device proxy delegate_to ephemeral start create launch stop restart "
    "freeze unfreeze copy move",
    'incus.image("x")': "source server delegate_to copy export refresh",
    'incus.network("x")': "type config delegate_to create attach detach",
    'incus.profile("x")': "description config device delegate_to create apply copy",
    'incus.storage("x")': "driver config delegate_to create volume",
    'incus.snapshot("x", "y")': "stateful delegate_to create restore delete",
}


def test_every_function_the_original_lists_for_the_system_modules_exists() -> None:
    from sloth_engine.api_check import module_functions

    found = module_functions()
    missing = {m: sorted(set(names.split()) - found[m]) for m, names in ISSUE_17_FUNCTIONS.items()}
    assert missing == {m: [] for m in ISSUE_17_FUNCTIONS}
    counts = {m: len(names.split()) for m, names in ISSUE_17_FUNCTIONS.items()}
    assert counts == {
        "firewall": 13, "stow": 13, "lvm": 23, "raid": 17, "nfs": 5, "smb": 7, "network": 15, "incus": 10,
        "gitops": 11, "ai": 10, "docker": 4,
    }  # fmt: skip


def test_the_originals_builders_have_their_methods(tmp_path: Path) -> None:
    lua = Lua(tmp_path)
    for name in ("firewall", "incus"):
        importlib.import_module(f"sloth_engine.modules.{name}_mod").install(
            lua.sandbox, ModuleEnv(base_dir=tmp_path)
        )
    for make, methods in BUILDERS.items():
        probe = " and ".join(f'type(o.{m}) == "function"' for m in methods.split())
        assert lua.run(f"local o = {make} return {probe}") is True, make
