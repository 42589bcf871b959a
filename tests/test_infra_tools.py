"""git, pkg, systemd and docker: the wrappers over real command-line tools.

git is the real git against a bare repository made in tmp_path. pkg (apt-get, dpkg-query),
systemd (systemctl) and docker are fake executables placed first on PATH: small shell scripts
that record their arguments in a log and keep a little state in files, because this machine
has no package installs to spare, no running systemd and no docker engine. The real docker
client (installed, without an engine) is used once to show a daemon failure is a clear error.
"""

from __future__ import annotations

import importlib
import os
import pwd
import shutil
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sloth_engine.errors import LuaRuntimeError
from sloth_engine.lua.sandbox import Sandbox, TaskScope
from sloth_engine.modules import ModuleEnv

pytestmark = pytest.mark.timeout(30)


@dataclass
class Lua:
    sandbox: Sandbox
    root: Path
    env: ModuleEnv

    def run(self, body: str) -> Any:
        """Run `body` in chunk test.sloth under the guard; results as plain Python."""
        fn = self.sandbox.run_lua("return function() " + body + "\nend", "test.sloth")
        result = self.sandbox.call(fn, deadline=time.monotonic() + 20)
        if isinstance(result, tuple):
            return tuple(self.sandbox.to_py(v, keep_functions=False) for v in result)
        return self.sandbox.to_py(result, keep_functions=False)


@pytest.fixture
def lua(tmp_path: Path) -> Lua:
    sandbox = Sandbox()
    work = tmp_path / "work"
    work.mkdir()
    sandbox.scope = TaskScope(task_name="t", workdir=str(work))
    harness = Lua(sandbox, work, ModuleEnv(base_dir=work))
    for name in ("git", "pkg", "systemd", "docker", "infra_test", "file_ops", "facts"):
        importlib.import_module(f"sloth_engine.modules.{name}_mod").install(sandbox, harness.env)
    return harness


# ---- fake executables ------------------------------------------------------------------------

FAKES = {
    "dpkg-query": """
echo "dpkg-query $*" >> "$FAKE_LOG"
case "$*" in *'${Package}'*) cat "$FAKE_STATE/installed"; exit 0 ;; esac
for name in "$@"; do :; done
if grep -qx "$name" "$FAKE_STATE/installed" 2>/dev/null; then printf 'install ok installed\\t1.2.3-1'; exit 0; fi
echo "dpkg-query: no packages found matching $name" >&2; exit 1
""",
    "apt-get": """
echo "apt-get $*" >> "$FAKE_LOG"
verb=$1; shift
for word in "$@"; do
  case "$word" in -*) ;; *)
    if [ "$word" = broken-pkg ]; then echo "E: Unable to locate package broken-pkg" >&2; exit 100; fi
    if [ "$verb" = install ]; then echo "$word" >> "$FAKE_STATE/installed"; fi
    if [ "$verb" = remove ] || [ "$verb" = purge ]; then
      grep -vx "$word" "$FAKE_STATE/installed" > "$FAKE_STATE/kept"; mv "$FAKE_STATE/kept" "$FAKE_STATE/installed"
    fi
  ;; esac
done
echo "done $verb"
""",
    "apt-cache": """
echo "apt-cache $*" >> "$FAKE_LOG"
case "$1" in
  search) echo "nginx - small, powerful, scalable web/proxy server" ;;
  show) if [ "$2" = nginx ]; then echo "Package: nginx"; echo "Version: 1.22.1-9"; exit 0; fi
        echo "E: No packages found" >&2; exit 100 ;;
  depends) echo "$2"; echo "  Depends: libc6" ;;
esac
""",
    "dpkg": """
echo "dpkg $*" >> "$FAKE_LOG"
[ -f "$2" ] || { echo "dpkg: error: cannot access archive '$2'" >&2; exit 2; }
echo "Unpacking $2"
""",
    "systemctl": """
echo "systemctl $*" >> "$FAKE_LOG"
[ "$1" = --user ] && shift
verb=$1; unit=$2
case "$verb" in
  is-active) if [ -e "$FAKE_STATE/active.$unit" ]; then echo active; exit 0; fi; echo inactive; exit 3 ;;
  is-enabled) if [ -e "$FAKE_STATE/enabled.$unit" ]; then echo enabled; exit 0; fi; echo disabled; exit 1 ;;
  start|restart) touch "$FAKE_STATE/active.$unit" ;;
  stop) rm -f "$FAKE_STATE/active.$unit" ;;
  enable) touch "$FAKE_STATE/enabled.$unit" ;;
  disable) rm -f "$FAKE_STATE/enabled.$unit" ;;
  status) echo "* $unit"; [ -e "$FAKE_STATE/active.$unit" ] || exit 3 ;;
  daemon-reload) ;;
  show) echo "Id=$unit"; echo "ActiveState=$( [ -e "$FAKE_STATE/active.$unit" ] && echo active || echo inactive)" ;;
  list-units) for f in "$FAKE_STATE"/active.*; do [ -e "$f" ] && echo "${f##*/active.} loaded active running Fake"; done
              echo "cron.service loaded inactive dead Regular background program processing daemon" ;;
  *) echo "unknown verb $verb" >&2; exit 1 ;;
esac
""",
    "docker": """
echo "docker $*" >> "$FAKE_LOG"
case "$1" in
  inspect) name=$4; if [ -e "$FAKE_STATE/c.$name" ]; then cat "$FAKE_STATE/c.$name"; exit 0; fi
           echo "Error: No such object: $name" >&2; exit 1 ;;
  run) name=""; prev=""; for w in "$@"; do [ "$prev" = --name ] && name=$w; prev=$w; done
       [ -n "$name" ] && echo true > "$FAKE_STATE/c.$name"; echo 0123456789ab ;;
  start) echo true > "$FAKE_STATE/c.$2"; echo "$2" ;;
  image) tag=$5; if [ -e "$FAKE_STATE/i.$tag" ]; then cat "$FAKE_STATE/i.$tag"; exit 0; fi; exit 1 ;;
  build) tag=$3; for w in "$@"; do path=$w; done
         cksum < "$path/Dockerfile" | cut -d' ' -f1 > "$FAKE_STATE/i.$tag"; echo "built $tag" ;;
  push) echo "abc: Pushed"; echo "latest: digest: sha256:1 size: 1" ;;
  ps) echo '{"ID":"c1","Names":"web","Image":"nginx","State":"running"}' ;;
  exec) shift; echo "exec $*" ;;
  *) echo "docker: unknown $1" >&2; exit 1 ;;
esac
""",
}


@dataclass
class Fakes:
    log: Path
    state: Path

    def calls(self, tool: str) -> list[str]:
        if not self.log.exists():
            return []
        return [line for line in self.log.read_text().splitlines() if line.split(" ", 1)[0] == tool]


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Fakes:
    """The fake tools first on PATH; their log and state folder."""
    bin_dir, state = tmp_path / "fakebin", tmp_path / "state"
    bin_dir.mkdir()
    state.mkdir()
    for name, body in FAKES.items():
        script = bin_dir / name
        script.write_text("#!/bin/sh\n" + body)
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "calls.log"))
    monkeypatch.setenv("FAKE_STATE", str(state))
    return Fakes(tmp_path / "calls.log", state)


# ---- git against a local bare repository ------------------------------------------------------


@pytest.fixture
def origin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A bare repository with one commit on main; no global git configuration."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    bare, seed = tmp_path / "origin.git", tmp_path / "seed"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(seed)], check=True)
    (seed / "README").write_text("v1\n")
    ident = ["-c", "user.name=t", "-c", "user.email=t@t"]
    for args in (["add", "."], [*ident, "commit", "-q", "-m", "v1"], ["push", "-q", str(bare), "main"]):
        subprocess.run(["git", "-C", str(seed), *args], check=True)
    return str(bare)


def test_git_every_action_twice_changed_then_not(lua: Lua, origin: str, tmp_path: Path) -> None:
    clone = f'git.clone({{url = "{origin}", dest = "app"}})'
    assert lua.run(f"return {clone}.changed") is True
    assert (lua.root / "app/README").read_text() == "v1\n"
    assert lua.run(f"return {clone}.changed") is False
    assert lua.run(f'return git.clone("{origin}", "app").changed') is False  # positional form
    assert lua.run('return git.is_repo("app"), git.is_repo(".")') == (True, False)

    (lua.root / "app/VERSION").write_text("2\n")
    commit = 'git.commit({path = "app", message = "bump"})'
    first = lua.run(f"return {commit}")
    assert first["changed"] is True and len(first["head"]) == 40
    assert lua.run(f"return {commit}.changed") is False
    author = subprocess.run(
        ["git", "-C", str(lua.root / "app"), "log", "-1", "--format=%an <%ae>"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert author == "sloth-runner <sloth-runner@localhost>"  # no identity configured anywhere
    status = lua.run('return git.status("app")')
    assert (status["branch"], status["upstream"], status["ahead"], status["clean"]) == (
        "main",
        "origin/main",
        1,
        True,
    )

    push = 'git.push({path = "app", remote = "origin", branch = "main"})'
    assert lua.run(f"return {push}.changed") is True
    assert lua.run(f"return {push}.changed") is False

    assert lua.run(f'return git.clone{{url = "{origin}", dest = "other"}}.changed') is True
    (lua.root / "app/NEW").write_text("x")
    lua.run('git.commit{path = "app", message = "new"} git.push{path = "app"}')
    pull = 'git.pull({path = "other"})'
    assert lua.run(f"return {pull}.changed") is True
    assert (lua.root / "other/NEW").exists()
    assert lua.run(f"return {pull}.changed") is False

    checkout = 'git.checkout({path = "app", ref = "feature", create = true})'
    assert lua.run(f"return {checkout}.changed") is True
    assert lua.run(f"return {checkout}.changed") is False
    assert lua.run('return git.checkout("app", "main").changed') is True
    assert lua.run('return git.checkout("app", "main").changed') is False
    tag_target = subprocess.run(
        ["git", "-C", str(lua.root / "app"), "rev-parse", "HEAD~1"], capture_output=True, text=True
    ).stdout.strip()
    detached = f'git.checkout{{path = "app", ref = "{tag_target}"}}'
    assert lua.run(f"return {detached}.changed") is True
    assert lua.run(f"return {detached}.changed") is False


def test_git_check_mode_changes_nothing(lua: Lua, origin: str) -> None:
    assert lua.run(f'return git.clone{{url = "{origin}", dest = "app", check = true}}.changed') is True
    assert not (lua.root / "app").exists()
    lua.run(f'git.clone{{url = "{origin}", dest = "app"}} git.clone{{url = "{origin}", dest = "other"}}')
    (lua.root / "other/X").write_text("x")
    lua.run('git.commit{path = "other", message = "x"} git.push{path = "other"}')
    (lua.root / "app/Y").write_text("y")
    lua.env.check_mode = True
    head = lua.run('return git.status("app").head')
    assert lua.run('return git.commit{path = "app", message = "y"}.changed') is True
    assert lua.run('return git.pull{path = "app"}.changed') is True
    assert lua.run('return git.checkout{path = "app", ref = "new", create = true}.changed') is True
    lua.env.check_mode = False
    assert lua.run('return git.push{path = "other", check = true}.changed') is False  # already pushed
    status = lua.run('return git.status("app")')
    assert status["head"] == head and status["branch"] == "main"
    assert [f["path"] for f in status["files"]] == ["Y"]  # still untracked, nothing staged
    assert not (lua.root / "app/X").exists()


def test_git_errors_name_the_problem(lua: Lua, origin: str, monkeypatch: pytest.MonkeyPatch) -> None:
    (lua.root / "busy").mkdir()
    (lua.root / "busy/file").write_text("x")
    with pytest.raises(LuaRuntimeError, match="busy exists, is not empty and is not a clone"):
        lua.run(f'git.clone{{url = "{origin}", dest = "busy"}}')
    with pytest.raises(LuaRuntimeError, match="is not a git repository"):
        lua.run('git.pull{path = "busy"}')
    with pytest.raises(
        LuaRuntimeError,
        match=r"git.clone: `git clone -- /no/such/repo.git .*` failed \(exit 128\): fatal: repository",
    ):
        lua.run('git.clone{url = "/no/such/repo.git", dest = "x"}')
    monkeypatch.setenv("PATH", str(lua.root))
    with pytest.raises(LuaRuntimeError, match="git.status: 'git' is not installed on this machine"):
        lua.run('git.status("busy")')


# ---- pkg, systemd, docker through fakes ------------------------------------------------------------


def test_pkg_installs_only_what_is_missing(lua: Lua, fakes: Fakes) -> None:
    (fakes.state / "installed").write_text("curl\n")
    assert lua.run("return pkg.manager()") == "apt"
    first = lua.run('return (pkg.install({"curl", "nginx"}))')
    assert (first["changed"], first["packages"], first["exit_code"]) == (True, ["nginx"], 0)
    assert fakes.calls("apt-get") == ["apt-get install -y -q nginx"]
    assert lua.run('return pkg.install({"curl", "nginx"}).changed') is False
    assert fakes.calls("apt-get") == ["apt-get install -y -q nginx"]  # nothing run the second time
    assert lua.run('return pkg.is_installed("nginx"), pkg.version("nginx"), pkg.is_installed("vim")') == (
        True,
        "1.2.3-1",
        False,
    )
    assert lua.run(
        'return infra_test.package_is_installed("nginx") and infra_test.package_version("nginx", "1.2")'
    )
    with pytest.raises(
        LuaRuntimeError, match="package_is_installed: expected package vim to be installed, found it absent"
    ):
        lua.run('infra_test.package_is_installed("vim")')
    assert lua.run('return pkg.install("vim", {check = true}).changed') is True
    assert lua.run('return pkg.remove{name = "nginx", purge = true}.changed') is True
    assert lua.run('return pkg.remove{name = "nginx"}.changed') is False
    assert fakes.calls("apt-get")[-1] == "apt-get purge -y -q nginx"
    lua.run('pkg.install("jq", {update_cache = true})')
    assert fakes.calls("apt-get")[-2:] == ["apt-get update -q", "apt-get install -y -q jq"]
    with pytest.raises(
        LuaRuntimeError, match=r"`apt-get install -y -q broken-pkg` failed \(exit 100\): E: Unable to locate"
    ):
        lua.run('pkg.install("broken-pkg")')
    failed = lua.run('return (pkg.install{name = "broken-pkg", ignore_errors = true})')
    assert (failed["changed"], failed["exit_code"]) == (False, 100)


def test_pkg_without_a_package_manager(lua: Lua, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(
        LuaRuntimeError, match="pkg.install: no supported package manager found .*apt-get, dnf"
    ):
        lua.run('pkg.install("nginx")')
    with pytest.raises(LuaRuntimeError, match="'dnf' is not installed on this machine"):
        lua.run('pkg.install("nginx", {manager = "dnf"})')


def test_systemd_create_start_enable_stop_twice(lua: Lua, fakes: Fakes, tmp_path: Path) -> None:
    units = tmp_path / "units"
    create = (
        f'systemd.create_service("myapp", {{exec_start = "/opt/app/run", user = "app", '
        f'environment = {{PORT = "8080"}}, unit_dir = "{units}"}})'
    )
    assert lua.run(f"return {create}.changed") is True
    text = (units / "myapp.service").read_text()
    assert "ExecStart=/opt/app/run\n" in text and 'Environment="PORT=8080"\n' in text and "User=app\n" in text
    assert lua.run(f"return {create}.changed") is False
    assert fakes.calls("systemctl") == ["systemctl daemon-reload"]  # once: the unit changed once
    with pytest.raises(LuaRuntimeError, match="expected service myapp.service to be active, found inactive"):
        lua.run('infra_test.service_is_running("myapp")')
    for verb in ("start", "enable"):
        assert lua.run(f'return systemd.{verb}("myapp").changed') is True
        assert lua.run(f'return systemd.{verb}({{name = "myapp"}}).changed') is False
    assert lua.run('return systemd.is_active("myapp"), systemd.is_enabled("myapp")') == (True, True)
    assert lua.run(
        'return infra_test.service_is_running("myapp") and infra_test.service_is_enabled("myapp.service")'
    )
    status = lua.run('return systemd.status("myapp")')
    assert (status["active"], status["enabled"], status["running"], status["changed"]) == (
        "active",
        "enabled",
        True,
        False,
    )
    assert lua.run('return systemd.stop{name = "myapp", check = true}.changed') is True
    assert lua.run('return systemd.is_active("myapp")') is True  # check mode stopped nothing
    assert lua.run('return systemd.stop("myapp").changed') is True
    assert lua.run('return systemd.stop("myapp").changed') is False
    assert lua.run('return systemd.restart("myapp").changed') is True
    acted = [c for c in fakes.calls("systemctl") if not c.startswith(("systemctl is-", "systemctl status"))]
    assert acted == [
        "systemctl daemon-reload",
        "systemctl start myapp.service",
        "systemctl enable myapp.service",
        "systemctl stop myapp.service",
        "systemctl restart myapp.service",
    ]


def test_docker_run_build_push_ps_exec(lua: Lua, fakes: Fakes) -> None:
    run = 'docker.run({image = "nginx", name = "web", ports = {"8080:80"}, env = {A = "1"}, detach = true})'
    assert lua.run(f"return {run}.changed") is True
    assert fakes.calls("docker")[-1] == "docker run -d --name web -p 8080:80 -e A=1 nginx"
    assert lua.run(f"return {run}.changed") is False
    (fakes.state / "c.web").write_text("false\n")  # the container stopped
    assert lua.run(f"return {run}.changed") is True
    assert fakes.calls("docker")[-1] == "docker start web"
    (lua.root / "Dockerfile").write_text("FROM scratch\n")
    build = 'docker.build{tag = "app:1", path = "."}'
    assert lua.run(f"return {build}.changed") is True
    assert lua.run(f"return {build}.changed") is False  # same image id
    assert lua.run('return docker.push{tag = "app:1"}.changed') is True
    assert lua.run("return (docker.ps())")["containers"] == [
        {"ID": "c1", "Names": "web", "Image": "nginx", "State": "running"}
    ]
    assert (
        lua.run('return docker.exec{container = "web", command = "ls /"}.stdout') == "exec web sh -c ls /\n"
    )
    assert lua.run('return docker.exec({"ps", "-a"}).changed') is True  # the original's raw form
    calls = len(fakes.calls("docker"))
    assert lua.run('return docker.run{image = "x", check = true}.changed') is True
    assert len(fakes.calls("docker")) == calls  # check mode ran nothing


@pytest.mark.skipif(shutil.which("docker") is None, reason="needs the docker client")
def test_real_docker_client_without_an_engine_is_a_clear_error(lua: Lua) -> None:
    probe = subprocess.run(["docker", "version"], capture_output=True, timeout=20)
    if probe.returncode == 0:
        pytest.skip("a docker engine is running here")
    with pytest.raises(
        LuaRuntimeError, match=r"docker.ps: `docker ps .*` failed \(exit 1\): .*(daemon|docker)"
    ):
        lua.run("docker.ps()")


def test_the_original_call_shapes(lua: Lua, fakes: Fakes, origin: str, tmp_path: Path) -> None:
    """Files written for the original tool: `local ok, res = ...`, its `package` and `local_path` keys."""
    (fakes.state / "installed").write_text("curl\n")
    assert lua.run(
        """
        local ok, res = pkg.install({packages = {"curl", "nginx"}})
        local ok2, res2 = pkg.install({packages = {"curl", "nginx"}})
        return ok and true, res.changed, res2.changed, pkg.is_installed({package = "nginx"}),
               pkg.version({package = "nginx"})
        """
    ) == (True, True, False, True, "1.2.3-1")
    assert lua.run(
        """
        local ok, res = systemd.start({name = "web"})
        local again_ok, again = systemd.start("web")
        local r = systemd.stop("web")        -- this project's own shape still works
        return ok and true, res.changed, again.changed, r.changed
        """
    ) == (True, True, False, True)
    (lua.root / "app.conf").write_text("x=1\n")
    assert lua.run(
        """
        local ok, res = file_ops.copy({src = "app.conf", dest = "out/app.conf"})
        local st = file_ops.stat({path = "out/app.conf"})     -- one value, as the original
        return ok and true, res.changed, st.exists
        """
    ) == (True, True, True)
    dest = tmp_path / "checkout"
    assert (
        lua.run(f'local r = git.clone({{url = "{origin}", local_path = "{dest}"}}) return r.changed') is True
    )
    assert (dest / "README").read_text() == "v1\n"


def test_facts_of_packages_services_users_processes_mounts(lua: Lua, tmp_path: Path) -> None:
    """Real dpkg database, password database, process table and mounts of this machine."""
    bash_version = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "bash"], capture_output=True, text=True, check=True
    ).stdout
    got = lua.run(
        """
        local all = facts.get_packages()
        local bash = facts.get_package({name = "bash"})
        local none = facts.get_package({name = "no-such-package-here"})
        return all.manager, all.installed_count == #all.packages, all.installed_count > 10,
               bash.installed, bash.version, none.installed
        """
    )
    assert got == ("apt", True, True, True, bash_version, False)
    me = pwd.getpwuid(os.getuid())
    assert lua.run(f'local u = facts.get_user({{username = "{me.pw_name}"}}) return u.uid, u.home') == (
        str(me.pw_uid),
        me.pw_dir,
    )
    assert lua.run('return facts.get_user({username = "no-such-user-x"})') is None
    assert lua.run("local users = facts.get_users() return #users > 0, users[1].username ~= nil") == (
        True,
        True,
    )
    procs = lua.run("return facts.get_processes()")
    assert procs["total"] > 1 and procs["total"] >= procs["running"] + procs["sleeping"]
    mounts = lua.run("return facts.get_mounts()")
    assert any(m["mountpoint"] == "/" for m in mounts)
    assert lua.run('return facts.query({path = "$.memory.total"})') > 0
    assert lua.run('return facts.query({path = "$.network.interfaces[0].name"})')
    value, message = lua.run('return facts.query({path = "$.nope.x"})')
    assert value is None and "nothing at" in message


def test_facts_of_services_through_systemctl(lua: Lua, fakes: Fakes) -> None:
    (fakes.state / "active.nginx.service").write_text("")
    services = lua.run("return facts.get_services()")
    assert {"name": "cron.service", "status": "inactive", "state": "dead", "load": "loaded"} in services
    assert lua.run('local s = facts.get_service({name = "nginx"}) return s.name, s.status, s.state') == (
        "nginx.service",
        "active",
        "running",
    )
    assert lua.run('return facts.get_service({name = "absent"})') is None


def test_ping_ensure_clean_and_fetch(lua: Lua, tmp_path: Path) -> None:
    assert lua.run('return infra_test.ping("127.0.0.1", 1)') is True
    with pytest.raises(LuaRuntimeError, match="ping: failed to ping no-such-host.invalid with 1 packets"):
        lua.run('infra_test.ping("no-such-host.invalid", 1)')  # .invalid never resolves
    (lua.root / "old" / "sub").mkdir(parents=True)
    (lua.root / "old" / "sub" / "f").write_text("x")
    assert lua.run('return git.ensure_clean({path = "old"})') == (True, None)
    assert not (lua.root / "old").exists()
    assert lua.run('return git.ensure_clean({path = "old"})') == (True, None)  # nothing there: fine
    assert lua.run('return git.ensure_clean({path = "/"})') == (False, "refusing to remove /")
    (tmp_path / "remote.log").write_text("line\n")
    got = lua.run(
        f'local ok, r = file_ops.fetch({{src = "{tmp_path}/remote.log", dest = "logs/remote.log"}}) '
        f'local again = file_ops.fetch({{src = "{tmp_path}/remote.log", dest = "logs/remote.log"}}) '
        "return ok and true, r.changed, r.size, again.changed"
    )
    assert got == (True, True, 5, False)
    assert (lua.root / "logs" / "remote.log").read_text() == "line\n"


def test_pkg_search_info_deps_list_clean_autoremove_which_install_local(lua: Lua, fakes: Fakes) -> None:
    (fakes.state / "installed").write_text("curl\nnginx\n")
    (lua.root / "tool.deb").write_text("deb")
    got = lua.run(
        """
        local s_ok, found = pkg.search("nginx")
        local i_ok, info = pkg.info({package = "nginx"})
        local bad_ok, bad = pkg.info({package = "nope"})
        local d_ok, deps = pkg.deps({package = "nginx"})
        local l_ok, names = pkg.list()
        local manager = pkg.get_manager()
        local c_ok = pkg.clean()
        local a_ok = pkg.autoremove()
        local would_ok, would = pkg.install_local({file = "tool.deb", check = true})
        local il_ok = pkg.install_local({file = "tool.deb"})
        local missing_ok, missing = pkg.install_local({})
        local sh = pkg.which("sh")
        local none, why = pkg.which({executable = "no-such-program-x"})
        return s_ok, found:match("web/proxy") ~= nil, i_ok, info:match("Version: (%S+)"), bad_ok,
               bad:match("exit 100") ~= nil, d_ok, deps:match("libc6") ~= nil, l_ok, table.concat(names, ","),
               manager, c_ok, a_ok, would_ok, would, il_ok, missing_ok, missing, sh ~= nil, none, why
        """
    )
    assert got == (
        True,
        True,
        True,
        "1.22.1-9",
        False,
        True,
        True,
        True,
        True,
        "curl,nginx",
        "apt",
        True,
        True,
        True,
        f"would run: dpkg -i {lua.root}/tool.deb",
        True,
        False,
        "file parameter is required",
        True,
        None,
        "Executable not found: no-such-program-x",
    )
    assert fakes.calls("apt-get") == ["apt-get clean", "apt-get autoremove -y"]
    assert fakes.calls("dpkg") == [f"dpkg -i {lua.root}/tool.deb"]


def test_systemd_remove_list_and_show(lua: Lua, fakes: Fakes, tmp_path: Path) -> None:
    units = tmp_path / "units"
    lua.run(
        f'systemd.create_service("api", {{exec_start = "/bin/api", unit_dir = "{units}"}}) systemd.start("api")'
    )
    text, err = lua.run('return systemd.show({name = "api"})')
    assert err is None and "Id=api.service" in text and "ActiveState=active" in text
    listed, err = lua.run("return systemd.list_services({state = 'running'})")
    assert err is None and "api.service loaded active running" in listed
    ok, res = lua.run(f'return systemd.remove_service({{name = "api", unit_dir = "{units}"}})')
    assert res["changed"] is True and not (units / "api.service").exists()
    assert lua.run('return systemd.is_active("api")') is False
    assert lua.run(f'return systemd.remove_service({{name = "api", unit_dir = "{units}"}}).changed') is False
    assert "systemctl stop api.service" in fakes.calls("systemctl")
