"""incus and docker through fake CLIs first on PATH that record their calls and keep state,
so the modules' looks before each change are seen working as on a host."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes.incus import INCUS
from module_harness import Fakes, Lua

from sloth_engine.errors import LuaRuntimeError

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Fakes:
    return Fakes(tmp_path, monkeypatch)


def test_incus_instances_through_the_builder(tmp_path: Path, fakes: Fakes) -> None:
    fakes.add("incus", INCUS, shell="python3")
    lua = Lua(tmp_path, ("incus",))
    got = lua.run(
        """
        local out = {}
        local function add(...) for _, v in ipairs({...}) do out[#out + 1] = v end end
        local web, none = incus.instance("web"):delegate_to("this-host"):image("images:debian/12"):profile("base")
        web:config({ ["limits.cpu"] = 2 }):device("root", { path = "/", pool = "default" }):ephemeral()
        add(none == nil, web:launch(), (web:launch()))
        add((web:stop({ force = true, timeout = 5 })), (web:stop()))
        add((web:start()), (web:freeze()), (web:freeze()), (web:unfreeze()), (web:restart()))
        local proxied = web:proxy("http", "tcp:0.0.0.0:80", "tcp:127.0.0.1:8080")
        add(proxied == web, (web:proxy("http", "x", "y")) == web)
        add((web:copy("web2")), (web:copy("web2")), (incus.instance("web2"):move("web3")))
        add((incus.exec({ instance = "web", command = { "echo", "hi" }, user = 1000, env = { A = "1" } })))
        add((incus.info({ name = "web" })), (incus.list({ type = "instances" })):match('"name": "web3"') ~= nil)
        add(incus.delete({ name = "web3", force = true }), (incus.delete({ name = "web3" })))
        local gone, err = incus.instance("ghost"):start()
        add(gone == nil, err)
        local unknown, why = incus.info({ type = "planet", name = "x" })
        add(unknown == nil, why)
        return out
        """
    )
    assert got == [
        True,
        "Launching instance web",
        "Instance web already exists (idempotent)",
        "",
        "Instance web already stopped (idempotent)",
        "",
        "",
        "Instance web already frozen (idempotent)",
        "",
        "",
        True,
        True,
        "",
        "Instance web2 already exists (idempotent)",
        "",
        "ran in web: echo hi as 1000",
        "Name: web\nStatus: RUNNING",
        True,
        "",
        "Instance web3 does not exist (idempotent)",
        True,
        "Instance ghost does not exist",
        True,
        "unknown resource type: planet",
    ]
    changing = [c for c in fakes.calls() if not c.startswith(("incus list", "incus config device show"))]
    assert changing == [
        "incus launch images:debian/12 web -p base -c limits.cpu=2 --ephemeral -d root,path=/ -d root,pool=default",
        "incus stop web --force --timeout 5",
        "incus start web",
        "incus pause web",
        "incus start web",
        "incus restart web --timeout 30",
        "incus config device add web http proxy listen=tcp:0.0.0.0:80 connect=tcp:127.0.0.1:8080",
        "incus copy web web2",
        "incus move web2 web3",
        "incus exec web --user 1000 --env A=1 -- sh -c echo hi",
        "incus info web",
        "incus delete web3 --force",
    ]
    assert lua.changes()[0] == "changed: incus launch web"


def test_incus_images_networks_profiles_storage_snapshots(tmp_path: Path, fakes: Fakes) -> None:
    fakes.add("incus", INCUS, shell="python3")
    lua = Lua(tmp_path, ("incus",))
    got = lua.run(
        f"""
        local out = {{}}
        local function add(...) for _, v in ipairs({{...}}) do out[#out + 1] = v end end
        incus.instance("db"):image("debian"):create()
        local img = incus.image("deb12"):source("debian/12"):server("images")
        add((img:copy()), (img:copy()), (img:export("{tmp_path}/deb12")), (img:refresh()))
        local net = incus.network("br1"):type("bridge"):config({{ ["ipv4.address"] = "10.9.0.1/24" }})
        add((net:create()), (net:create()), (net:attach("db")), (net:attach("db")), (net:detach("db", "eth0")))
        local prof = incus.profile("small"):description("two cores"):config({{ ["limits.cpu"] = 2 }})
        prof:device("data", {{ type = "disk", path = "/data", source = "/srv" }})
        add((prof:create()), (prof:create()), (prof:apply("db")), (prof:apply("db")), (prof:copy("tiny")))
        local pool = incus.storage("fast"):driver("dir"):config({{ source = "/var/fast" }})
        add((pool:create()), (pool:create()), (pool:volume("vol1")), (pool:volume("vol1")))
        local snap = incus.snapshot("db", "before"):stateful()
        add((snap:create()), (snap:create()), (snap:restore()), (snap:delete()), (snap:delete()))
        add((incus.delete({{ type = "profile", name = "tiny" }})), (incus.info({{ type = "network", name = "br1" }})))
        return out
        """
    )
    assert got == [
        "",
        "Image deb12 already exists (idempotent)",
        "Image exported successfully!",
        "Image already up to date.",
        "Network br1 created",
        "Network br1 already exists (idempotent)",
        "",
        "Device eth0 already attached to db (idempotent)",
        "",
        "Profile small created successfully",
        "Profile small already exists (idempotent)",
        "",
        "Profile small already on db (idempotent)",
        "",
        "Storage fast created",
        "Storage pool fast already exists (idempotent)",
        "",
        "Volume vol1 already exists (idempotent)",
        "",
        "Snapshot db/before already exists (idempotent)",
        "",
        "",
        "Snapshot db/before does not exist (idempotent)",
        "",
        'name: br1\nconfig: {"args": ["--type=bridge", "ipv4.address=10.9.0.1/24"]}',
    ]
    assert (tmp_path / "deb12.tar.gz").exists()
    calls = fakes.calls()
    for wanted in (
        "incus create debian db",
        "incus image copy images:debian/12 local: --alias=deb12",
        "incus network attach br1 db eth0",
        "incus profile set small --property description=two cores",
        "incus profile device add small data disk path=/data source=/srv",
        "incus profile add db small",
        "incus storage create fast dir source=/var/fast",
        "incus storage volume create fast vol1",
        "incus snapshot create db before --stateful",
        "incus snapshot restore db before",
        "incus profile delete tiny",
    ):
        assert wanted in calls


def test_incus_check_mode_and_a_missing_cli(
    tmp_path: Path, fakes: Fakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    fakes.add("incus", INCUS, shell="python3")
    lua = Lua(tmp_path, ("incus",), check=True)
    got = lua.run('return incus.instance("web"):image("debian"):launch()')
    assert got == ("would incus launch debian web", None)
    assert fakes.calls() == ["incus list web --format=json"]
    assert lua.changes() == ["would change: incus launch web"]
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(LuaRuntimeError, match="incus: 'incus' is not installed on this machine"):
        lua.run("return incus.list({})")


FAKE_DOCKER = """case "$1" in
  image) [ -f "$FAKE_STATE/image" ] && cat "$FAKE_STATE/image" || exit 1 ;;
  build) echo "sha256:$(date +%s%N)" > "$FAKE_STATE/image"; echo "Successfully built" ;;
  push) echo "$2: Pushed" ;;
  inspect) exit 1 ;;
  run) case "$*" in *broken*) echo "pull access denied" >&2; exit 125 ;; esac; echo "c0ffee" ;;
  logs) echo "no such container: $2" >&2; exit 1 ;;
  *) echo "ok $*" ;;
esac
"""


def test_docker_answers_in_the_originals_shape(tmp_path: Path, fakes: Fakes) -> None:
    fakes.add("docker", FAKE_DOCKER)
    lua = Lua(tmp_path, ("docker",))
    got = lua.run(
        """
        local ok, res = docker.build({ tag = "app:1", path = ".", dockerfile = "Dockerfile", build_args = { V = "2" } })
        local pok, pushed = docker.push({ tag = "app:1" })
        local rok, ran = docker.run({ image = "nginx", name = "web", ports = { "80:80" }, env = { A = "1" }, detach = true })
        local eok, raw = docker.exec({ "ps", "-a" })
        return ok ~= nil, res.success, res.changed, pushed.success, ran.stdout, ran.success, eok ~= nil, raw.stdout
        """
    )
    assert got == (True, True, True, True, "c0ffee\n", True, True, "ok ps -a\n")
    assert "docker build -t app:1 -f Dockerfile --build-arg V=2 ." in fakes.calls()
    assert lua.changes() == [
        "changed: docker app:1",
        "changed: docker app:1",
        "changed: docker web",
        "changed: docker",
    ]
    with pytest.raises(
        LuaRuntimeError, match=r"docker.exec: `docker logs ghost` failed \(exit 1\): no such container"
    ):
        lua.run('return docker.exec({ "logs", "ghost" })')
    failed = lua.run('local _, r = docker.run({ image = "broken", ignore_errors = true }) return r')
    assert (failed["success"], failed["exit_code"], failed["changed"]) == (False, 125, False)
