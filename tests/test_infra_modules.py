"""file_ops, infra_test, http/net and metrics through a real sandbox: real files in tmp_path, a
real HTTP server on 127.0.0.1 (http.server in a thread), real sockets and processes. The end
of the file runs a workflow through `sloth-daemon run`."""

from __future__ import annotations

import importlib
import io
import json
import os
import socket
import stat
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sloth_engine.errors import LuaRuntimeError
from sloth_engine.lua.sandbox import Sandbox, TaskScope
from sloth_engine.modules import ModuleEnv
from sloth_engine.modules.file_edits import block_in_file, line_in_file, replace_in_text
from sloth_engine.workflow_metrics import WorkflowMetrics

pytestmark = pytest.mark.timeout(30)

MODULES = ("file_ops", "infra_test", "http", "net", "metrics", "template", "exec")


@dataclass
class Lua:
    sandbox: Sandbox
    root: Path
    env: ModuleEnv
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    lines: list[tuple[str, str]] = field(default_factory=list)

    def run(self, body: str, timeout: float = 10.0) -> Any:
        """Run `body` (line 1 of chunk test.sloth) under the guard; results as plain Python."""
        fn = self.sandbox.run_lua("return function() " + body + "\nend", "test.sloth")
        result = self.sandbox.call(fn, deadline=time.monotonic() + timeout)
        if isinstance(result, tuple):
            return tuple(self.sandbox.to_py(v, keep_functions=False) for v in result)
        return self.sandbox.to_py(result, keep_functions=False)


@pytest.fixture
def lua(tmp_path: Path) -> Lua:
    sandbox = Sandbox()
    harness = Lua(sandbox, tmp_path, ModuleEnv(base_dir=tmp_path))
    sandbox.scope = TaskScope(
        task_name="t", workdir=str(tmp_path), log=lambda stream, line: harness.lines.append((stream, line))
    )
    harness.env.emit_event = lambda kind, data: harness.events.append((kind, data))
    for name in MODULES:
        importlib.import_module(f"sloth_engine.modules.{name}_mod").install(sandbox, harness.env)
    return harness


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ---- file_ops: every action twice, changed then unchanged ------------------------------------


def test_copy_twice_keeps_then_sets_mode_and_copies_folders(lua: Lua) -> None:
    (lua.root / "app.conf").write_text("port=80\n")
    (lua.root / "app.conf").chmod(0o640)
    assert lua.run('return file_ops.copy({src = "app.conf", dest = "etc/app.conf"}).changed') is True
    assert (lua.root / "etc/app.conf").read_text() == "port=80\n"
    assert mode(lua.root / "etc/app.conf") == 0o640  # a new file takes the source's mode
    assert lua.run('return file_ops.copy("app.conf", "etc/app.conf").changed') is False
    # Only the mode differs: changed once, then not; the original's positional form.
    assert lua.run('return file_ops.copy("app.conf", "etc/app.conf", {mode = "0600"}).changed') is True
    assert mode(lua.root / "etc/app.conf") == 0o600
    assert lua.run('return file_ops.copy("app.conf", "etc/app.conf", {mode = "0600"}).changed') is False
    # New content keeps the destination's own mode (0600), not the source's.
    (lua.root / "app.conf").write_text("port=81\n")
    assert lua.run('return file_ops.copy{src = "app.conf", dest = "etc/app.conf"}.mode') == "0600"
    assert mode(lua.root / "etc/app.conf") == 0o600
    # A folder destination receives the file under its own name; folders copy file by file.
    (lua.root / "tree/sub").mkdir(parents=True)
    (lua.root / "tree/sub/x").write_text("x")
    assert lua.run('return file_ops.copy{src = "app.conf", dest = "etc"}.changed') is False
    assert lua.run('return file_ops.copy{src = "tree", dest = "copy"}.changed') is True
    assert (lua.root / "copy/sub/x").read_text() == "x"
    assert lua.run('return file_ops.copy{src = "tree", dest = "copy"}.changed') is False
    assert lua.run('return file_ops.copy{content = "hi", dest = "c.txt"}.changed') is True
    assert lua.run('return file_ops.copy{content = "hi", dest = "c.txt"}.changed') is False


def test_writes_are_atomic_renames_that_keep_the_mode(lua: Lua) -> None:
    target = lua.root / "hosts"
    target.write_text("127.0.0.1 localhost\n")
    target.chmod(0o640)
    before = target.stat().st_ino
    assert lua.run('return file_ops.lineinfile{path = "hosts", line = "10.0.0.1 db"}.changed') is True
    assert target.stat().st_ino != before  # a new file renamed over the old one
    assert mode(target) == 0o640
    assert target.read_text() == "127.0.0.1 localhost\n10.0.0.1 db\n"
    assert sorted(p.name for p in lua.root.iterdir()) == ["hosts"]  # no temporary left behind


def test_template_twice_and_undefined_names(lua: Lua) -> None:
    (lua.root / "site.j2").write_text("server {{ name }}:{{ port }};\n")
    body = 'return (file_ops.template({src = "site.j2", dest = "site.conf", vars = {name = "web", port = 8080}}))'
    result = lua.run(body)
    assert result["changed"] is True and result["mode"] == "0644"
    assert (lua.root / "site.conf").read_text() == "server web:8080;\n"
    assert lua.run(body)["changed"] is False
    assert (
        lua.run('return file_ops.template("site.j2", "site.conf", {name = "web", port = 8080}).changed')
        is False
    )
    with pytest.raises(LuaRuntimeError, match="'port' is undefined"):
        lua.run('file_ops.template{src = "site.j2", dest = "x.conf", vars = {name = "web"}}')
    assert not (lua.root / "x.conf").exists()


def test_lineinfile_present_regexp_absent_twice(lua: Lua) -> None:
    conf = lua.root / "sshd_config"
    conf.write_text("Port 22\nPermitRootLogin yes\n")
    steps = [
        ('{path = "sshd_config", regexp = "^PermitRootLogin", line = "PermitRootLogin no"}', "replaced"),
        ('{path = "sshd_config", line = "UseDNS no", insertbefore = "^Port"}', "added"),
        ('{path = "sshd_config", regexp = "^Port", state = "absent"}', "removed 1"),
    ]
    for args, action in steps:
        first = lua.run(f"return (file_ops.lineinfile({args}))")
        assert (first["changed"], first["action"]) == (True, action)
        second = lua.run(f"return (file_ops.lineinfile({args}))")
        assert (second["changed"], second["action"]) == (False, "unchanged")
    assert conf.read_text() == "UseDNS no\nPermitRootLogin no\n"
    # Missing files are created (the original's hooks rely on it) unless create = false.
    assert lua.run('return file_ops.lineinfile("new.log", "first").changed') is True
    with pytest.raises(LuaRuntimeError, match="does not exist"):
        lua.run('file_ops.lineinfile{path = "other.log", line = "x", create = false}')


def test_blockinfile_and_replace_twice(lua: Lua) -> None:
    conf = lua.root / "app.ini"
    conf.write_text("[main]\ndebug = true\n")
    block = 'file_ops.blockinfile{path = "app.ini", block = "a = 1\\nb = 2"}'
    assert lua.run(f"return {block}.changed") is True
    assert lua.run(f"return {block}.changed") is False
    assert conf.read_text() == (
        "[main]\ndebug = true\n# BEGIN SLOTH MANAGED BLOCK\na = 1\nb = 2\n# END SLOTH MANAGED BLOCK\n"
    )
    new_block = 'file_ops.blockinfile{path = "app.ini", block = "a = 3"}'
    assert lua.run(f"return {new_block}.changed") is True
    assert "a = 3\n# END" in conf.read_text() and "b = 2" not in conf.read_text()
    replace = (
        'file_ops.replace{path = "app.ini", pattern = "^debug = (\\\\w+)$", replacement = "debug = false"}'
    )
    first = lua.run(f"return ({replace})")
    assert (first["changed"], first["replacements"]) == (True, 1)
    second = lua.run(f"return ({replace})")
    assert (second["changed"], second["replacements"]) == (False, 0)
    gone = 'file_ops.blockinfile{path = "app.ini", state = "absent"}'
    assert lua.run(f"return {gone}.changed") is True
    assert lua.run(f"return {gone}.changed") is False
    assert conf.read_text() == "[main]\ndebug = false\n"


def _tar(path: Path, members: dict[str, bytes], links: dict[str, str] | None = None) -> None:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o640
            archive.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            archive.addfile(info)


def test_unarchive_tar_and_zip_twice(lua: Lua) -> None:
    _tar(
        lua.root / "app.tar.gz", {"app/bin/run": b"#!/bin/sh\n", "app/README": b"hi"}, {"app/link": "README"}
    )
    first = lua.run('return (file_ops.unarchive{src = "app.tar.gz", dest = "opt"})')
    assert first["changed"] is True and sorted(first["files"]) == ["app/README", "app/bin/run", "app/link"]
    assert (lua.root / "opt/app/bin/run").read_bytes() == b"#!/bin/sh\n"
    assert mode(lua.root / "opt/app/bin/run") == 0o640
    assert os.readlink(lua.root / "opt/app/link") == "README"
    assert lua.run('return file_ops.unarchive("app.tar.gz", "opt").changed') is False
    (lua.root / "opt/app/README").write_text("edited")
    assert lua.run('return file_ops.unarchive("app.tar.gz", "opt").files') == ["app/README"]
    with zipfile.ZipFile(lua.root / "site.zip", "w") as archive:
        archive.writestr("site/index.html", "<h1>hi</h1>")
    assert lua.run('return file_ops.unarchive{src = "site.zip", dest = "www"}.changed') is True
    assert (lua.root / "www/site/index.html").read_text() == "<h1>hi</h1>"
    assert lua.run('return file_ops.unarchive{src = "site.zip", dest = "www"}.changed') is False


@pytest.mark.parametrize(
    ("members", "links", "message"),
    [
        ({"../evil": b"x"}, {}, "outside"),
        ({"/etc/evil": b"x"}, {}, "absolute path"),
        ({}, {"app/up": "../../outside"}, "points outside"),
        ({}, {"app/abs": "/etc/passwd"}, "absolute path"),
    ],
)
def test_unarchive_refuses_path_traversal(
    lua: Lua, members: dict[str, bytes], links: dict[str, str], message: str
) -> None:
    _tar(lua.root / "bad.tar.gz", members, links)
    with pytest.raises(LuaRuntimeError, match=message):
        lua.run('file_ops.unarchive{src = "bad.tar.gz", dest = "out"}')
    assert sorted(p.name for p in lua.root.iterdir()) == ["bad.tar.gz", "out"]
    assert list((lua.root / "out").iterdir()) == []


def test_unarchive_does_not_write_through_an_existing_link_out(lua: Lua) -> None:
    outside = lua.root / "outside"
    outside.mkdir()
    (lua.root / "out").mkdir()
    (lua.root / "out/app").symlink_to(outside)
    _tar(lua.root / "a.tar.gz", {"app/file": b"x"})
    with pytest.raises(LuaRuntimeError, match="through a link outside"):
        lua.run('file_ops.unarchive{src = "a.tar.gz", dest = "out"}')
    assert list(outside.iterdir()) == []


def test_check_mode_changes_nothing(lua: Lua) -> None:
    (lua.root / "src.txt").write_text("new\n")
    (lua.root / "conf").write_text("a=1\n")
    (lua.root / "t.j2").write_text("{{ x }}")
    _tar(lua.root / "a.tar.gz", {"f": b"x"})
    before = {p.name: p.read_bytes() for p in lua.root.iterdir()}
    calls = [
        'file_ops.copy{src = "src.txt", dest = "dest.txt", check = true}',
        'file_ops.copy{src = "src.txt", dest = "conf", mode = "0600", check = true}',
        'file_ops.template{src = "t.j2", dest = "t.out", vars = {x = 1}, check = true}',
        'file_ops.lineinfile{path = "conf", line = "b=2", check = true}',
        'file_ops.blockinfile{path = "conf", block = "z", check = true}',
        'file_ops.replace{path = "conf", pattern = "a", replacement = "b", check = true}',
        'file_ops.unarchive{src = "a.tar.gz", dest = "out", check = true}',
    ]
    for call in calls:
        assert lua.run(f"return {call}.changed") is True, call
    lua.env.check_mode = True  # the run's --check: the same without the argument
    assert lua.run('return file_ops.lineinfile{path = "conf", line = "b=2"}.changed') is True
    after = {p.name: p.read_bytes() for p in lua.root.iterdir()}
    assert after == before
    assert mode(lua.root / "conf") == 0o644


def test_stat(lua: Lua) -> None:
    (lua.root / "f").write_bytes(b"abc")
    (lua.root / "l").symlink_to("f")
    info = lua.run('return file_ops.stat("l")')
    assert info["exists"] and info["is_file"] and info["is_link"] and not info["is_dir"]
    assert (info["size"], info["link_target"], info["changed"]) == (3, "f", False)
    assert info["checksum"] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert lua.run('return file_ops.stat{path = "missing"}.exists') is False


def test_text_edits_positions() -> None:
    assert line_in_file("a\nc\n", "b", insertafter="^a")[0] == "a\nb\nc\n"
    assert line_in_file("a\nc\n", "b", insertbefore="BOF")[0] == "b\na\nc\n"
    assert line_in_file("x", "x") == ("x", "unchanged")  # no rewrite just to add a newline
    assert block_in_file("", "k", marker="## {mark}")[0] == "## BEGIN\nk\n## END\n"
    assert replace_in_text("a1 a2", r"a(\d)", r"b\1") == ("b1 b2", 2)


# ---- infra_test -------------------------------------------------------------------------------


def test_infra_test_files_pass_and_fail_with_expected_and_found(lua: Lua) -> None:
    (lua.root / "app.conf").write_text("listen 8080\n")
    (lua.root / "app.conf").chmod(0o640)
    assert lua.run(
        """
        return infra_test.file_exists("app.conf") and infra_test.is_file("app.conf")
           and infra_test.is_directory(".") and infra_test.file_contains("app.conf", "listen 80")
           and infra_test.file_contains({path = "app.conf", pattern = "listen \\\\d+"})
           and infra_test.file_mode("app.conf", "0640") and infra_test.file_size("app.conf", 12)
        """
    )
    failures = {
        'infra_test.file_exists("nope")': "file_exists: expected .*nope to exist, found nothing",
        'infra_test.is_directory("app.conf")': "expected .* to be a directory, found a regular file",
        'infra_test.file_contains("app.conf", "port 99")': "expected .* to contain 'port 99', found no match",
        'infra_test.file_mode("app.conf", "644")': "expected mode 0644, found 0640",
        'infra_test.file_size("app.conf", 1)': "expected 1 bytes, found 12",
        'infra_test.file_owner("app.conf", "nobody")': "expected owner nobody, found",
        'infra_test.file_exists("app.conf", "web-01")': "delegate the task to that agent",
    }
    for call, message in failures.items():
        with pytest.raises(LuaRuntimeError, match=message) as info:
            lua.run(call)
        assert (info.value.path, info.value.line) == ("test.sloth", 1)  # the caller's line


def test_infra_test_network_processes_and_commands(lua: Lua, http_server: str) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    naptime = f"30.{os.getpid()}"  # a command line no other process on the machine has
    sleeper = subprocess.Popen(["sleep", naptime])
    try:
        assert lua.run(
            f"""
            return infra_test.port_is_listening({port}) and infra_test.port_is_tcp({{port = {port}}})
               and infra_test.can_connect("127.0.0.1", {port}, 2000)
               and infra_test.http_status("{http_server}/json") and infra_test.http_status("{http_server}/missing", 404)
               and infra_test.process_is_running("sleep {naptime}") and infra_test.process_count("^sleep {naptime}$", 1)
               and infra_test.command_succeeds("true") and infra_test.command_fails("false")
               and infra_test.command_stdout_contains("echo hello world", "w.rld")
               and infra_test.command_stderr_is_empty("echo quiet")
               and infra_test.command_output_equals("printf 'a\\n'", "a")
            """
        )
    finally:
        sleeper.kill()
        sleeper.wait()
    listener.close()
    failures = {
        f"infra_test.port_is_listening({port})": f"expected a TCP listener on port {port}, found nothing listening",
        f'infra_test.can_connect("127.0.0.1", {port}, 500)': f"expected to connect to 127.0.0.1:{port}, found",
        f'infra_test.http_status("{http_server}/missing")': "expected status 200, found 404",
        'infra_test.process_is_running("no-such-proc-xyz")': "expected a process matching 'no-such-proc-xyz', found none",
        'infra_test.command_succeeds("echo bad >&2; exit 3")': "expected `.*` to exit 0, found exit 3: bad",
        'infra_test.command_stdout_contains("echo abc", "xyz")': "expected the output of `echo abc` to contain 'xyz', found 'abc'",
        'infra_test.command_output_equals("echo a", "b")': "expected `echo a` to print 'b', found 'a'",
    }
    for call, message in failures.items():
        with pytest.raises(LuaRuntimeError, match=message):
            lua.run(call)


# ---- http / net against a real server ------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: bytes, kind: str = "application/json") -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except BrokenPipeError:  # the client gave up (the timeout test)
            pass

    def do_GET(self) -> None:
        if self.path == "/json":
            self._answer(200, b'{"ok": true, "items": [1, 2]}')
        elif self.path.startswith("/echo"):
            self._answer(200, json.dumps({"path": self.path, "agent": self.headers["X-Agent"]}).encode())
        elif self.path == "/file.bin":
            self._answer(200, b"\x00\x01" * 50_000, "application/octet-stream")
        elif self.path == "/huge":  # 17 MiB, streamed: over the 16 MiB an answer may hold in Lua
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(17 * 1024 * 1024))
            self.end_headers()
            try:
                for _ in range(17):
                    self.wfile.write(b"x" * (1024 * 1024))
            except (BrokenPipeError, ConnectionResetError):  # the client stopped reading at the bound
                pass
        elif self.path == "/slow":
            time.sleep(3)
            self._answer(200, b"late", "text/plain")
        elif self.path == "/barrier":
            try:
                self.server.barrier.wait()  # type: ignore[attr-defined]
                self._answer(200, b"together", "text/plain")
            except threading.BrokenBarrierError:
                self._answer(500, b"alone", "text/plain")
        else:
            self._answer(404, b"not here", "text/plain")

    def _body(self) -> None:
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        payload = {"method": self.command, "body": data.decode(), "type": self.headers["Content-Type"]}
        self._answer(201, json.dumps(payload).encode())

    do_POST = do_PUT = do_PATCH = _body

    def do_DELETE(self) -> None:
        self._answer(204, b"", "text/plain")


@pytest.fixture
def http_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.barrier = threading.Barrier(2, timeout=5)  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_http_verbs_answers_and_failures(lua: Lua, http_server: str) -> None:
    got = lua.run(f'return http.get("{http_server}/json")')
    assert (got["status_code"], got["ok"], got["json"]) == (200, True, {"ok": True, "items": [1, 2]})
    assert got["headers"]["content-type"] == "application/json"
    echo = lua.run(
        f'return http.get{{url = "{http_server}/echo", params = {{q = "x"}}, headers = {{["X-Agent"] = "s"}}}}'
    )
    assert echo["json"] == {"path": "/echo?q=x", "agent": "s"}
    posted = lua.run(f'return http.post("{http_server}/p", {{name = "x"}})')["json"]
    assert posted == {"method": "POST", "body": '{"name": "x"}', "type": "application/json"}
    for verb in ("put", "patch"):
        answer = lua.run(f'return http.{verb}{{url = "{http_server}/p", body = "raw"}}')
        assert (answer["status_code"], answer["json"]["method"], answer["json"]["body"]) == (
            201,
            verb.upper(),
            "raw",
        )
    assert lua.run(f'return http.delete("{http_server}/x").status_code') == 204
    request = lua.run(f'return http.request{{method = "post", url = "{http_server}/p", body = "b"}}')
    assert request["json"]["method"] == "POST"
    missing = lua.run(f'return http.get("{http_server}/nope")')
    assert (missing["status_code"], missing["ok"], missing["body"], missing.get("json")) == (
        404,
        False,
        "not here",
        None,
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    answer, error = lua.run(f'return http.get("http://127.0.0.1:{closed}/")')
    assert answer is None and "ConnectError" in error
    answer, error = lua.run(f'return http.get("{http_server}/slow", {{timeout = 0.3}})')
    assert answer is None and "timed out" in error


def test_net_original_forms_and_download(lua: Lua, http_server: str) -> None:
    body, status, headers = lua.run(f'return net.http_get("{http_server}/json")')
    assert (json.loads(body), status, headers["content-type"]) == (
        {"ok": True, "items": [1, 2]},
        200,
        "application/json",
    )
    body, status, _ = lua.run(
        f'return net.http_post("{http_server}/p", "a=1", {{["Content-Type"] = "text/plain"}})'
    )
    assert (status, json.loads(body)["type"]) == (201, "text/plain")
    assert lua.run(f'return net.get("{http_server}/json").status_code') == 200
    assert lua.run(f'return net.download("{http_server}/file.bin", "dl/file.bin")') is None
    assert (lua.root / "dl/file.bin").read_bytes() == b"\x00\x01" * 50_000
    (lua.root / "keep").write_text("old")
    error = lua.run(f'return net.download("{http_server}/missing", "keep")')
    assert "HTTP 404" in error and (lua.root / "keep").read_text() == "old"
    assert lua.run(f'return net.download{{url = "{http_server}/file.bin", dest = "dl"}}') is None
    assert sorted(p.name for p in (lua.root / "dl").iterdir()) == ["file.bin"]  # no partial files


# ---- metrics ---------------------------------------------------------------------------------------


def test_metrics_become_events_and_prometheus_text(lua: Lua) -> None:
    lua.run(
        """
        metrics.counter("deploys_total", 1, {env = "prod"})
        metrics.counter{name = "deploys_total", labels = {env = "prod"}}
        metrics.gauge("queue_depth", 7)
        metrics.gauge("queue_depth", 3)
        metrics.histogram("step_seconds", 0.3, {step = "build"})
        metrics.histogram{name = "step_seconds", value = 4, labels = {step = "build"}}
        assert(metrics.timer("timed_seconds", function() return 1 end) == 1)
        """
    )
    assert [kind for kind, _ in lua.events] == ["metric.recorded"] * 7
    assert lua.events[0][1] == {
        "name": "deploys_total",
        "kind": "counter",
        "value": 1.0,
        "labels": {"env": "prod"},
        "task": "t",
    }
    collected = WorkflowMetrics(prefix="sloth_workflow_")
    for _, data in lua.events:
        collected.record(data, workflow="deploy")
    samples = collected.samples()
    assert samples["sloth_workflow_deploys_total"]["series"] == [
        {"labels": {"env": "prod", "workflow": "deploy"}, "value": 2.0}
    ]
    assert samples["sloth_workflow_queue_depth"]["series"][0]["value"] == 3.0
    text = collected.render()
    assert 'sloth_workflow_deploys_total{env="prod",workflow="deploy"} 2.0' in text
    assert 'sloth_workflow_step_seconds_bucket{le="0.5",step="build",workflow="deploy"} 1.0' in text
    assert 'sloth_workflow_step_seconds_count{step="build",workflow="deploy"} 2.0' in text
    lines: list[tuple[str, str]] = []
    lua.sandbox.scope.log = lambda stream, line: lines.append((stream, line))
    lua.env.events_via_output = True  # on an agent: carried by the task's output to the master
    lua.run('metrics.gauge("on_agent", 1)')
    assert [(s, json.loads(t)["type"], json.loads(t)["data"]["name"]) for s, t in lines] == [
        ("event", "metric.recorded", "on_agent")
    ]
    for call, message in {
        'metrics.counter("bad name")': "invalid metric name",
        'metrics.counter("c", -1)': "only goes up",
        'metrics.gauge("deploys_total", 1)': "deploys_total is a counter, not a gauge",
        'metrics.gauge("g", "x")': "value must be a number",
        'metrics.gauge("g", 1, {["bad-label"] = 1})': "invalid label name",
    }.items():
        with pytest.raises(LuaRuntimeError, match=message):
            lua.run(call)


# ---- end to end: `sloth-daemon run` -----------------------------------------------------------------

WORKFLOW = """
local checks = require("infra_test")   -- the original's way to reach a module
workflow.define("infra", { tasks = {
  { name = "fetch_a", command = function()
      local r = http.get(values.url .. "/barrier", { timeout = 10 })
      return r.body == "together", r.body
    end },
  { name = "fetch_b", command = function()
      local r = http.get(values.url .. "/barrier", { timeout = 10 })
      return r.body == "together", r.body
    end },
  { name = "proc_a", command = function()
      local r = exec.run("touch a.ready; for i in $(seq 100); do [ -e b.ready ] && exit 0; sleep 0.05; done; exit 1")
      return r.success, "a saw b"
    end },
  { name = "proc_b", command = function()
      local r = exec.run("touch b.ready; for i in $(seq 100); do [ -e a.ready ] && exit 0; sleep 0.05; done; exit 1")
      return r.success, "b saw a"
    end },
  { name = "configure", depends_on = { "fetch_a", "fetch_b", "proc_a", "proc_b" }, command = function()
      local first = file_ops.lineinfile({ path = "app.conf", line = "mode=prod" })
      local again = file_ops.lineinfile({ path = "app.conf", line = "mode=prod" })
      checks.file_contains("app.conf", "mode=prod")
      metrics.counter("configured_total", 1, { env = "test" })
      return true, "configured", { first = first.changed, again = again.changed, changed = first.changed }
    end },
}})
"""


def test_workflow_through_sloth_daemon_run(tmp_path: Path, http_server: str) -> None:
    """Two HTTP calls meet at a server-side barrier and two processes wait for each other's
    file: both pairs only succeed when their blocking calls run at the same time."""
    (tmp_path / "infra.sloth").write_text(WORKFLOW)
    (tmp_path / "values.yaml").write_text(f"url: {http_server}\n")
    env = {**os.environ, "SLOTH_HOME": str(tmp_path / "home"), "SLOTH_DB": f"sqlite:///{tmp_path}/sloth.db"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sloth_daemon.cli.main",
            "run",
            "infra.sloth",
            "--values",
            "values.yaml",
            "--max-parallel",
            "4",  # the threads for blocking calls number max_parallel (default: one per core)
            "-o",
            "json",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    tasks = {t["name"]: t for t in report["tasks"]}
    assert {name: t["status"] for name, t in tasks.items()} == dict.fromkeys(tasks, "success")
    assert tasks["configure"]["outputs"] == {"first": True, "again": False, "changed": True}
    assert (tmp_path / "app.conf").read_text() == "mode=prod\n"
    from sloth_engine.store import open_store

    with open_store(env["SLOTH_DB"]) as store:
        events = store.events.list(type_prefix="metric.")
    collected = WorkflowMetrics.from_events(events)
    assert collected.samples()["configured_total"]["series"] == [
        {"labels": {"env": "test", "workflow": "infra"}, "value": 1.0}
    ]


CHECKED = """
workflow.define("checked", { tasks = {
  { name = "edit", command = function()
      local line = file_ops.lineinfile({ path = "app.conf", line = "mode=prod" })
      local copy = file_ops.copy({ src = "app.conf", dest = "copy.conf" })
      return true, "looked", { line = line.changed, copy = copy.changed }
    end },
}})
"""


def test_run_check_flag_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "checked.sloth").write_text(CHECKED)
    (tmp_path / "app.conf").write_text("mode=dev\n")
    env = {**os.environ, "SLOTH_HOME": str(tmp_path / "home"), "SLOTH_DB": f"sqlite:///{tmp_path}/sloth.db"}
    command = [sys.executable, "-m", "sloth_daemon.cli.main", "run", "checked.sloth", "-o", "json"]
    done = subprocess.run(
        [*command, "--check"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["tasks"][0]["outputs"] == {"line": True, "copy": True}
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".conf") == ["app.conf"]
    assert (tmp_path / "app.conf").read_text() == "mode=dev\n"
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert json.loads(done.stdout)["tasks"][0]["outputs"] == {"line": True, "copy": True}
    assert (tmp_path / "copy.conf").read_text() == "mode=dev\nmode=prod\n"


def test_metrics_system_readings_custom_values_alerts_and_health(lua: Lua) -> None:
    import psutil

    got = lua.run(
        """
        metrics.counter("jobs", 2, {q = "a"})
        metrics.counter("jobs", 3, {q = "a"})
        metrics.gauge("depth", 7)
        local jobs, depth = metrics.get_custom("jobs"), metrics.get_custom("depth")
        local cpu, mem, disk, rt = metrics.system_cpu(), metrics.system_memory(), metrics.system_disk("/"),
                                   metrics.runtime_info()
        local alerted = metrics.alert("disk", {level = "critical", message = "disk almost full", value = 97})
        local health = metrics.health_status()
        local missing, why = metrics.system_disk("/no/such/path")
        return jobs.type, jobs.value, jobs.tags.q, depth.value, table.concat(metrics.list_custom(), ","),
               cpu >= 0 and cpu <= 100, mem.total_mb, disk.total_gb > 0, rt.num_cpu, alerted,
               metrics.get_custom("alert_disk").message, health.overall, health.memory.status,
               missing, why ~= nil, metrics.get_custom("nope")
        """
    )
    total_mb = psutil.virtual_memory().total / (1024 * 1024)
    assert got[:5] == ("counter", 5.0, "a", 7.0, "alert_disk,depth,jobs")
    assert got[5] is True and abs(got[6] - total_mb) < 1 and got[7] is True and got[8] >= 1
    assert got[9:11] == (True, "disk almost full")
    assert got[11] in ("healthy", "warning", "critical") and got[12] in ("healthy", "warning", "critical")
    assert got[13:] == (None, True, None)
    assert ("stderr", "[ALERT] critical: disk almost full") in lua.lines
    assert [data["name"] for kind, data in lua.events if kind == "metric.alert"] == ["disk"]


def test_http_answers_are_bounded_and_the_runtime_goes_on(lua: Lua, http_server: str, tmp_path: Path) -> None:
    value, message = lua.run(f'return http.get("{http_server}/huge")')  # refused: nil, message
    assert value is None and "the answer is larger than 16 MB (use net.download)" in message
    assert lua.run(f'return http.get("{http_server}/json").ok') is True  # the same runtime still serves
    size = lua.run(f'return net.download("{http_server}/huge", "{tmp_path}/huge.txt")')
    assert (tmp_path / "huge.txt").stat().st_size == 17 * 1024 * 1024, size
