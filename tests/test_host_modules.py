"""The host modules of issue 17 (firewall, stow, lvm, raid, nfs, smb) through a real sandbox.

Programs that would change this machine (ufw, nft, iptables, firewall-cmd, lvm's, mdadm,
exportfs, smbpasswd) are fake executables first on PATH that record their calls and keep
their state in files, so idempotence is seen as on a host; stow is the real GNU Stow where
installed, and the files the modules write themselves (/etc/exports, smb.conf, mdadm.conf)
are real files in the test's folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fakes import firewall as fw
from fakes import storage
from module_harness import Fakes, Lua

from sloth_engine.errors import LuaRuntimeError

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Fakes:
    return Fakes(tmp_path, monkeypatch)


def lua(tmp_path: Path, *modules: str, check: bool = False) -> Lua:
    work = tmp_path / ("work-check" if check else "work")
    work.mkdir(exist_ok=True)
    return Lua(work, modules or ("firewall",), check=check)


# ---- firewall ---------------------------------------------------------------------------------


def test_firewall_on_ufw_rules_are_idempotent(tmp_path: Path, fakes: Fakes) -> None:
    fakes.add("ufw", fw.UFW, shell="python3")
    f = lua(tmp_path)
    got = f.run(
        """
        local detected = firewall.detect()
        local web = firewall.rule():allow():protocol("tcp"):port(443):comment("web")
        local a1 = web:apply()
        local a2 = web:apply()
        local there = web:exists()
        local p1 = firewall.allow_port(22)
        local p2 = firewall.allow_port(22, "tcp")
        local d1 = firewall.deny_from("10.0.0.5")
        local pg = firewall.rule():allow():from("10.0.0.0/8"):port(5432):apply()
        local e1, e2 = firewall.enable(), firewall.enable()
        local status = firewall.status()
        local listed = firewall.list()
        local saved = firewall.save()
        local r1 = web:remove()
        local r2 = web:remove()
        local gone = web:exists()
        local reloaded = firewall.reload()
        local off = firewall.disable()
        local flushed = firewall.flush()
        return detected, a1, a2, there, p1, p2, d1, pg, e1, e2, status, listed:match("%[2%] ufw allow 22/tcp") ~= nil,
               saved, r1, r2, gone, reloaded, off, flushed
        """
    )
    assert got == (
        "ufw",
        "Rule applied successfully: Rule added",
        "Rule already exists (idempotent)",
        True,
        "Port 22/tcp allowed successfully",
        "Port 22/tcp already allowed (idempotent)",
        "Source 10.0.0.5 denied successfully",
        "Rule applied successfully: Rule added",
        "Firewall enabled: Firewall is active and enabled on system startup",
        "Firewall already enabled (idempotent)",
        "Status: active\n[1] ufw allow 443/tcp comment 'web'\n[2] ufw allow 22/tcp\n[3] ufw deny from 10.0.0.5\n"
        "[4] ufw allow from 10.0.0.0/8 to any port 5432 proto tcp".split("\n[1]")[0],
        True,
        "UFW rules are automatically saved",
        "Rule removed successfully: Rule deleted",
        "Rule already absent (idempotent)",
        False,
        "Firewall reloaded: Firewall reloaded",
        "Firewall disabled: Firewall stopped and disabled on system startup",
        "Rules flushed: Resetting all rules to installed defaults.",
    )
    changing = [c for c in fakes.calls("ufw") if not c.startswith(("ufw show", "ufw status"))]
    assert changing == [
        "ufw allow 443/tcp comment web",
        "ufw allow 22/tcp",
        "ufw deny from 10.0.0.5",
        "ufw allow from 10.0.0.0/8 to any port 5432 proto tcp",
        "ufw --force enable",
        "ufw delete allow 443/tcp",
        "ufw reload",
        "ufw disable",
        "ufw --force reset",
    ]
    assert f.changes()[:2] == [
        "changed: firewall add ufw rule allow port 443/tcp",
        "changed: firewall add ufw rule allow port 22/tcp",
    ]


def test_firewall_check_mode_changes_nothing(tmp_path: Path, fakes: Fakes) -> None:
    fakes.add("ufw", fw.UFW, shell="python3")
    f = lua(tmp_path, check=True)
    got = f.run(
        'return (firewall.allow_port(8080)), (firewall.rule():deny():from("1.2.3.4"):apply()), firewall.enable()'
    )
    assert got == (
        "would ufw allow 8080/tcp",
        "would ufw deny from 1.2.3.4",
        "would ufw --force enable",
        None,
    )
    out = f.run('return firewall.rule():allow():direction("out"):protocol("udp"):port(53):apply()')
    assert out == ("would ufw allow out 53/udp", None)
    assert all(c.startswith(("ufw show", "ufw status")) for c in fakes.calls())
    assert f.changes() == [
        "would change: firewall add ufw rule allow port 8080/tcp",
        "would change: firewall add ufw rule deny from 1.2.3.4",
        "would change: firewall enable ufw",
        "would change: firewall add ufw rule allow port 53/udp",
    ]


def test_firewall_on_nftables_removes_by_handle_and_saves(tmp_path: Path, fakes: Fakes) -> None:
    fakes.add("nft", fw.NFT, shell="python3")
    saved = tmp_path / "nftables.conf"
    f = lua(tmp_path)
    got = f.run(
        f"""
        local o = {{ backend = "nftables" }}
        local ssh = firewall.rule():backend("nftables"):allow():from("10.0.0.0/8"):port(22)
        local a1, a2 = ssh:apply(), ssh:apply()
        local p = firewall.deny_port(23, "tcp", o)
        local s1 = firewall.save({{ backend = "nftables", file = "{saved}" }})
        local s2 = firewall.save({{ backend = "nftables", file = "{saved}" }})
        local r = ssh:remove()
        local reload = firewall.reload({{ backend = "nftables", file = "{saved}" }})
        local after = ssh:exists()
        local nope, why = firewall.enable(o)
        return a1, a2, p, s1, s2, r, reload, after, nope, why
        """
    )
    assert got == (
        "Rule applied successfully",
        "Rule already exists (idempotent)",
        "Port 23/tcp denied successfully",
        f"Rules saved: {saved}",
        f"Rules already saved in {saved} (idempotent)",
        "Rule removed successfully",
        "Firewall reloaded",
        True,
        None,
        "enable not supported for backend: nftables",
    )
    assert "ip saddr 10.0.0.0/8 tcp dport 22 accept" in saved.read_text()
    assert [c for c in fakes.calls() if "list" not in c] == [
        "nft add table inet filter",
        "nft add chain inet filter input { type filter hook input priority 0 ; }",
        "nft add rule inet filter input ip saddr 10.0.0.0/8 tcp dport 22 accept",
        "nft add table inet filter",
        "nft add chain inet filter input { type filter hook input priority 0 ; }",
        "nft add rule inet filter input tcp dport 23 drop",
        "nft delete rule inet filter input handle 4",
        f"nft -f {saved}",
    ]


def test_firewall_on_iptables_checks_with_dash_c(tmp_path: Path, fakes: Fakes) -> None:
    fakes.add("iptables", fw.IPTABLES, shell="python3")
    fakes.add("iptables-save", fw.IPTABLES, shell="python3")
    fakes.add("iptables-restore", fw.IPTABLES, shell="python3")
    saved = tmp_path / "rules.v4"
    f = lua(tmp_path)
    got = f.run(
        f"""
        local o = {{ backend = "iptables", file = "{saved}" }}
        local web = firewall.rule():backend("iptables"):allow():port_range("8000:8100"):protocol("udp"):comment("apps")
        local a1, a2 = web:apply(), web:apply()
        local d = firewall.deny_from("192.0.2.1", o)
        local dns = firewall.rule():backend("iptables"):allow():chain("output"):direction("out"):to("192.0.2.9")
        local out1, out2 = dns:protocol("udp"):port(53):apply(), dns:apply()
        local from = firewall.allow_from("10.1.1.1", o)
        local s = firewall.save(o)
        local flushed = firewall.flush(o)
        local before = web:exists()
        local reloaded = firewall.reload(o)
        return a1, a2, d, s, flushed, before, reloaded, web:exists(), firewall.status(o), out1, out2, from
        """
    )
    assert got[:8] == (
        "Rule applied successfully",
        "Rule already exists (idempotent)",
        "Source 192.0.2.1 denied successfully",
        f"Rules saved: {saved}",
        "Rules flushed",
        False,
        "Firewall reloaded",
        True,
    )
    assert "INPUT -p udp --dport 8000:8100 -m comment --comment apps -j ACCEPT" in got[8]
    assert got[9:] == (
        "Rule applied successfully",
        "Rule already exists (idempotent)",
        "Source 10.1.1.1 allowed successfully",
    )
    assert fakes.calls("iptables -A") == [
        "iptables -A INPUT -p udp --dport 8000:8100 -m comment --comment apps -j ACCEPT",
        "iptables -A INPUT -s 192.0.2.1 -j DROP",
        "iptables -A OUTPUT -p udp -d 192.0.2.9 --dport 53 -j ACCEPT",
        "iptables -A INPUT -s 10.1.1.1 -j ACCEPT",
    ]


def test_firewall_on_firewalld_ports_and_rich_rules(tmp_path: Path, fakes: Fakes) -> None:
    fakes.add("firewall-cmd", fw.FIREWALL_CMD, shell="python3")
    fakes.add("systemctl", fw.SYSTEMCTL_FIREWALLD, shell="python3")
    f = lua(tmp_path)
    got = f.run(
        """
        local e = firewall.enable()
        local p1, p2 = firewall.allow_port(443), firewall.allow_port(443)
        local d = firewall.deny_port(23)
        local z = firewall.rule():allow():zone("internal"):from("10.1.0.0/16"):port(9100):apply()
        local listed = firewall.list()
        return firewall.detect(), e, p1, p2, d, z, listed:match("9100") ~= nil, firewall.save(), firewall.reload(),
               firewall.status(), (firewall.disable())
        """
    )
    assert got == (
        "firewalld",
        "Firewall enabled",
        "Port 443/tcp allowed successfully",
        "Port 443/tcp already allowed (idempotent)",
        "Port 23/tcp denied successfully",
        "Rule applied successfully: success\nsuccess",
        True,
        "Rules saved: success",
        "Firewall reloaded: success",
        "running",
        "Firewall disabled",
    )
    assert "firewall-cmd --permanent --zone=public --add-port=443/tcp" in fakes.calls()
    assert (
        'firewall-cmd --permanent --zone=internal --add-rich-rule=rule family="ipv4" source address="10.1.0.0/16" '
        'port port="9100" protocol="tcp" accept'
    ) in fakes.calls()
    assert (
        'firewall-cmd --permanent --zone=public --add-rich-rule=rule port port="23" protocol="tcp" drop'
        in fakes.calls()
    )


def test_firewall_names_the_missing_program(tmp_path: Path, fakes: Fakes) -> None:
    f = lua(tmp_path)
    with pytest.raises(LuaRuntimeError, match="firewall: 'iptables' is not installed on this machine"):
        f.run('return firewall.allow_port(22, "tcp", { backend = "iptables" })')
    with pytest.raises(LuaRuntimeError, match="a rule needs :allow"):
        f.run('return firewall.rule():port(1):backend("ufw"):apply()')


# ---- stow (the real GNU Stow on real files) ----------------------------------------------------


def test_stow_links_both_call_sets_idempotently(tmp_path: Path) -> None:
    dot, home = tmp_path / "dot", tmp_path / "home"
    for rel, text in {
        "vim/.vimrc": "set nu\n",
        "vim/.vim/colors/x.vim": "hi\n",
        "git/.gitconfig": "[user]\n",
        "bash/.bashrc": "from dotfiles\n",
    }.items():
        (dot / rel).parent.mkdir(parents=True, exist_ok=True)
        (dot / rel).write_text(text)
    f = lua(tmp_path, "stow")
    g = f'source_dir = "{dot}", target_dir = "{home}"'
    r = f'dir = "{dot}", target = "{home}"'
    got = f.run(
        f"""
        local l1, l1m = stow.link{{ package = "vim", {g} }}
        local l2, l2m = stow.link{{ package = "vim", {g} }}
        local rs, rsm = stow.restow{{ package = "vim", {g} }}
        local both = stow.stow{{ packages = {{ "vim", "git" }}, {r} }}
        local links = stow.get_links{{ package = "vim", {r} }}
        local v = stow.verify{{ package = "vim", {r} }}
        local chk = stow.check{{ packages = {{ "git", "bash" }}, {r} }}
        local sim = stow.simulate{{ package = "bash", {r} }}
        local re = stow.restow{{ package = "vim", {r} }}
        return l1, l1m, l2, l2m, rs, rsm, both[1].status, both[1].changed, both[2].status, both[2].changed,
               both[2].links[1], links[1][1], links[1][2], v.total_files, v.stowed_links, v.is_complete, v.is_valid,
               chk[1].would_succeed, chk[2].would_succeed, sim[1].would_succeed, re[1].status, re[1].changed,
               stow.is_stowed{{ package = "git", {r} }}, stow.is_stowed{{ package = "bash", {r} }}
        """
    )
    assert got == (
        True,
        "stow link successful",
        True,
        "package already stowed",
        True,
        "package already stowed",
        "already_stowed",
        False,
        "stowed",
        True,
        ".gitconfig",
        ".vim/colors/x.vim",
        ".vimrc",
        2,
        2,
        True,
        True,
        True,
        True,
        True,
        "restowed",
        False,
    ) + (True, False)
    assert (home / ".vimrc").is_symlink() and (home / ".vimrc").read_text() == "set nu\n"
    (home / ".bashrc").write_text("the host's own\n")
    got = f.run(
        f"""
        local conflict = stow.check{{ package = "bash", {r} }}[1].would_succeed
        local failed = stow.stow{{ package = "bash", {r} }}
        local adopted = stow.adopt{{ package = "bash", {r} }}
        local un = stow.unstow{{ packages = {{ "git" }}, {r} }}
        local un2 = stow.unstow{{ packages = {{ "git" }}, {r} }}
        local u1, u1m = stow.unlink{{ package = "vim", {g} }}
        local u2, u2m = stow.unlink{{ package = "vim", {g} }}
        local names = stow.list_packages{{ dir = "{dot}" }}
        local none, why = stow.list_packages{{ dir = "{tmp_path}/nope" }}
        return conflict, failed[1].error ~= nil, adopted[1].status, adopted[1].changed, un[1].status, un2[1].status,
               u1, u1m, u2, u2m, table.concat(names, ","), none, why
        """
    )
    assert got == (
        False,
        True,
        "adopted",
        True,
        "unstowed",
        "not_stowed",
        True,
        "stow unlink successful",
        True,
        "package not stowed",
        "bash,git,vim",
        None,
        f"failed to read stow directory: No such file or directory: {tmp_path}/nope",
    )
    assert (home / ".bashrc").is_symlink() and (dot / "bash/.bashrc").read_text() == "the host's own\n"
    assert not (home / ".vimrc").exists() and not (home / ".gitconfig").exists()
    made = tmp_path / "made"
    got = f.run(
        f'local a, am = stow.ensure_target{{ path = "{made}", mode = "0700" }} '
        f'local b, bm = stow.ensure_target{{ path = "{made}" }} return a, am, bm'
    )
    assert got == (True, f"directory {made} created successfully", f"directory {made} already exists")
    assert made.stat().st_mode & 0o777 == 0o700
    assert f.changes()[0] == f"changed: stow link vim into {home}"


def test_stow_paths_expand_the_home_folder() -> None:
    from sloth_engine.modules.stow_mod import Config

    cfg = Config({"package": "vim", "dir": "~/dotfiles", "target": "~"}, False)
    assert (cfg.dir, cfg.target) == (os.path.expanduser("~/dotfiles"), os.path.expanduser("~"))
    assert Config({"packages": ["a", "b"]}, False).dir == os.path.expanduser("~/.dotfiles")


def test_stow_check_mode_links_nothing_and_a_missing_stow_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "dot/vim").mkdir(parents=True)
    (tmp_path / "dot/vim/.vimrc").write_text("x\n")
    (tmp_path / "home").mkdir()
    f = lua(tmp_path, "stow", check=True)
    got = f.run(
        f'return stow.link{{ package = "vim", source_dir = "{tmp_path}/dot", target_dir = "{tmp_path}/home" }}'
    )
    assert got == (True, "would LINK: .vimrc => ../dot/vim/.vimrc")
    assert not (tmp_path / "home/.vimrc").exists()
    assert f.changes() == [f"would change: stow link vim into {tmp_path}/home"]
    assert f.run('return stow.link{ package = "vim", target_dir = "/tmp" }') == (
        False,
        "source_dir is required",
    )
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(LuaRuntimeError, match="stow: 'stow' is not installed on this machine"):
        f.run(f'return stow.stow{{ package = "vim", dir = "{tmp_path}/dot", target = "{tmp_path}/home" }}')


# ---- lvm and raid (fake programs over a JSON state) ------------------------------------------


def test_lvm_volumes_created_resized_and_removed_once(tmp_path: Path, fakes: Fakes) -> None:
    for name in (
        "pvs",
        "vgs",
        "lvs",
        "pvcreate",
        "pvremove",
        "vgcreate",
        "vgextend",
        "vgreduce",
        "vgremove",
        "lvcreate",
        "lvextend",
        "lvreduce",
        "lvresize",
        "lvremove",
        "lvconvert",
        "pvscan",
        "pvdisplay",
        "vgdisplay",
        "lvdisplay",
    ):
        fakes.add(name, storage.LVM, shell="python3")
    f = lua(tmp_path, "lvm")
    got = f.run(
        """
        local out = {}
        local function add(...) for _, v in ipairs({...}) do out[#out + 1] = v end end
        add(select(2, lvm.pv_create("/dev/sdb")), select(2, lvm.pv_create("/dev/sdb")))
        lvm.pv_create("/dev/sdc", true)
        add(select(2, lvm.vg_create("data", { "/dev/sdb" })), select(2, lvm.vg_create("data", { "/dev/sdb" })))
        add(select(2, lvm.vg_extend("data", { "/dev/sdb", "/dev/sdc" })), select(2, lvm.vg_extend("data", { "/dev/sdc" })))
        add(select(2, lvm.lv_create("data", "web", "10G")), select(2, lvm.lv_create("data", "web", "10G")))
        add(select(2, lvm.lv_extend("data/web", "20G")), select(2, lvm.lv_extend("data/web", "20G")))
        add(select(2, lvm.lv_extend("data/web", "+1G")), select(2, lvm.lv_resize("data/web", "21G", true)))
        add(select(2, lvm.lv_reduce("data/web", "15G", true)))
        add(select(2, lvm.snapshot_create("data/web", "web_snap", "1G")))
        add(select(2, lvm.snapshot_merge("data/web_snap")))
        add(select(2, lvm.thin_pool_create("data", "pool", "5G")), select(2, lvm.thin_lv_create("data/pool", "thin1", "50G")))
        add(lvm.pv_exists("/dev/sdb"), lvm.vg_exists("data"), lvm.lv_exists("data/web"), lvm.lv_exists("data/nope"))
        local pvs, vgs, lvs = lvm.pv_list(), lvm.vg_list(), lvm.lv_list()
        add(#pvs, pvs[1].vg, vgs[1].name, vgs[1].pv_count, #lvs, lvs[1].size, lvs[3].attr)
        add(select(2, lvm.scan()), (lvm.info("data")), (lvm.info("/dev/sdb")), (lvm.info("data/web")))
        add(select(2, lvm.vg_reduce("data", { "/dev/sdc" })), select(2, lvm.vg_reduce("data", { "/dev/sdc" })))
        add(select(2, lvm.lv_remove("data/thin1", true)), select(2, lvm.lv_remove("data/thin1")))
        add(select(2, lvm.vg_remove("nope")), select(2, lvm.pv_remove("/dev/sdc")), select(2, lvm.pv_remove("/dev/sdc")))
        return out
        """
    )
    assert got == [
        "Physical volume /dev/sdb created successfully",
        "Physical volume /dev/sdb already exists (idempotent)",
        "Volume group data created successfully",
        "Volume group data already exists (idempotent)",
        "Volume group data extended successfully",
        "Volume group data already extended (idempotent)",
        "Logical volume data/web created successfully".replace("data/web", "web"),
        "Logical volume data/web already exists (idempotent)",
        "Logical volume data/web extended successfully",
        "Logical volume data/web is already 20G (idempotent)",
        "Logical volume data/web extended successfully",
        "Logical volume data/web is already 21G (idempotent)",
        "Logical volume data/web reduced successfully",
        "Snapshot web_snap created successfully",
        "Snapshot data/web_snap merged successfully",
        "Thin pool pool created successfully",
        "Thin logical volume thin1 created successfully",
        True,
        True,
        True,
        False,
        2,
        "data",
        "data",
        "2",
        3,
        "15.00g",
        "Vwi-a-tz--",
        "Total: 2 [0   ] / in use: 0 [0   ] / in no VG: 0 [0   ]",
        "--- VG ---\n  Name data",
        "--- PV ---\n  Name /dev/sdb",
        "--- LV ---\n  Name data/web",
        "Volume group data reduced successfully",
        "Volume group data already reduced (idempotent)",
        "Logical volume data/thin1 removed successfully",
        "Logical volume data/thin1 does not exist (idempotent)",
        "Volume group nope does not exist (idempotent)",
        "Physical volume /dev/sdc removed successfully",
        "Physical volume /dev/sdc does not exist (idempotent)",
    ]
    made = [c for c in fakes.calls() if c.split()[0] not in ("pvs", "vgs", "lvs")]
    assert made[:4] == [
        "pvcreate /dev/sdb",
        "pvcreate -f /dev/sdc",
        "vgcreate data /dev/sdb",
        "vgextend data /dev/sdc",
    ]
    assert "lvcreate -n web -L 10G data" in made and "lvresize -L 21G -r data/web" not in made
    assert "lvreduce -L 15G -f data/web" in made and "lvcreate -V 50G -T data/pool -n thin1" in made
    assert f.changes()[0] == "changed: lvm pvcreate /dev/sdb"


def test_lvm_check_mode_and_a_missing_program(
    tmp_path: Path, fakes: Fakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    fakes.add("pvs", storage.LVM, shell="python3")
    f = lua(tmp_path, "lvm", check=True)
    assert f.run('return lvm.pv_create("/dev/sdd")') == (True, "would pvcreate /dev/sdd")
    assert fakes.calls() == ["pvs /dev/sdd"]
    with pytest.raises(LuaRuntimeError, match="lvm: 'vgs' is not installed on this machine"):
        f.run('return lvm.vg_exists("data")')


def test_raid_arrays_and_members_idempotently(tmp_path: Path, fakes: Fakes) -> None:
    fakes.add("mdadm", storage.MDADM, shell="python3")
    mdstat = tmp_path / "mdstat"
    mdstat.write_text("Personalities : [raid1]\nmd0 : active raid1 sdc[1] sdb[0]\n      1047552 blocks\n")
    sysfs = tmp_path / "sys"
    (sysfs / "block/md0/md").mkdir(parents=True)
    (sysfs / "block/md0/md/sync_action").write_text("idle\n")
    conf = tmp_path / "mdadm.conf"
    conf.write_text("MAILADDR root\nARRAY /dev/md9 old\n")
    f = lua(tmp_path, "raid")
    got = f.run(
        f"""
        local out = {{}}
        local function add(...) for _, v in ipairs({{...}}) do out[#out + 1] = v end end
        local spec = {{ name = "/dev/md0", level = 1, devices = {{ "/dev/sdb", "/dev/sdc" }}, spares = {{ "/dev/sdd" }} }}
        add(select(2, raid.create(spec)), select(2, raid.create(spec)))
        add(select(2, raid.add("/dev/md0", "/dev/sde")), select(2, raid.add("/dev/md0", "/dev/sde")))
        add(select(2, raid.add_spare("/dev/md0", "/dev/sdf")))
        add(select(2, raid.fail("/dev/md0", "/dev/sde")), select(2, raid.fail("/dev/md0", "/dev/sde")))
        add(select(2, raid.remove_device("/dev/md0", "/dev/sde")), select(2, raid.remove_device("/dev/md0", "/dev/sde")))
        add(select(2, raid.grow("/dev/md0", {{ devices = 3 }})), select(2, raid.grow("/dev/md0", {{ devices = 3 }})))
        add(raid.exists("/dev/md0"), raid.exists("/dev/md5"))
        local list = raid.list({{ mdstat = "{mdstat}" }})
        add(#list, list[1].name, list[1].level, list[1].devices, list[1].state)
        add((raid.status({{ mdstat = "{mdstat}" }})):match("md0 : active") ~= nil)
        add((raid.detail("/dev/md0")):match("Raid Level : raid1") ~= nil, (raid.scan()))
        add(select(2, raid.check("/dev/md0", {{ sysfs = "{sysfs}" }})), select(2, raid.check("/dev/md0", {{ sysfs = "{sysfs}" }})))
        add(select(2, raid.repair("md0", {{ sysfs = "{sysfs}" }})))
        add(select(2, raid.save_config({{ file = "{conf}", update_initramfs = false }})))
        add(select(2, raid.save_config({{ file = "{conf}", update_initramfs = false }})))
        add(select(2, raid.stop("/dev/md0")), select(2, raid.stop("/dev/md0")), select(2, raid.assemble("/dev/md0", true)))
        add(select(2, raid.remove("/dev/md0")), select(2, raid.remove("/dev/md0")))
        local none, why = raid.detail("/dev/md0")
        add(none == nil, why)
        return out
        """
    )
    assert got == [
        "RAID array /dev/md0 created successfully",
        "RAID array /dev/md0 already exists (idempotent)",
        "Device /dev/sde added to /dev/md0 successfully",
        "Device /dev/sde already in /dev/md0 (idempotent)",
        "Spare device /dev/sdf added to /dev/md0 successfully",
        "Device /dev/sde marked as failed in /dev/md0",
        "Device /dev/sde already failed in /dev/md0 (idempotent)",
        "Device /dev/sde removed from /dev/md0 successfully",
        "Device /dev/sde not in /dev/md0 (idempotent)",
        "Array /dev/md0 reshaped successfully",
        "Array /dev/md0 already has that shape (idempotent)",
        True,
        False,
        1,
        "/dev/md0",
        "raid1",
        "3",
        "clean",
        True,
        True,
        "ARRAY /dev/md0 metadata=1.2 name=host:0 UUID=00000",
        "Consistency check started on /dev/md0",
        "Consistency check already running on /dev/md0 (idempotent)",
        "Repair operation started on md0",
        f"Configuration saved to {conf}",
        f"Configuration already saved in {conf} (idempotent)",
        "RAID array /dev/md0 stopped successfully",
        "RAID array /dev/md0 does not exist (idempotent)",
        "RAID array /dev/md0 assembled successfully",
        "RAID array /dev/md0 removed successfully",
        "RAID array /dev/md0 does not exist (idempotent)",
        True,
        "Failed to get detail: mdadm: cannot open /dev/md0: No such file or directory",
    ]
    assert conf.read_text() == "MAILADDR root\nARRAY /dev/md0 metadata=1.2 name=host:0 UUID=00000\n"
    assert (sysfs / "block/md0/md/sync_action").read_text() == "repair\n"
    assert (
        "mdadm --create /dev/md0 --level=1 --raid-devices=2 --spare-devices=1 --run /dev/sdb /dev/sdc /dev/sdd"
        in fakes.calls()
    )
    assert "mdadm /dev/md0 --add-spare /dev/sdf" in fakes.calls()
    assert "mdadm --grow /dev/md0 --raid-devices=3" in fakes.calls()


# ---- nfs and smb (real config files in the test's folder, fake reload programs) -------------

SMB_FAKES = {
    "testparm": 'grep -q "BROKEN" "$2" && { echo "Unknown parameter encountered: BROKEN" >&2; exit 1; }; exit 0\n',
    "systemctl": "exit 0\n",
    "pdbedit": '[ -f "$FAKE_STATE/smbuser.$2" ] || { echo "Username not found!" >&2; exit 255; }\n',
    "smbpasswd": """case "$1" in
  -a) cat > "$FAKE_STATE/smbuser.$3"; echo "Added user $3." ;;
  -e) echo "Enabled user $2." ;;
  -x) rm "$FAKE_STATE/smbuser.$2"; echo "Deleted user $2." ;;
esac
""",
}


def test_nfs_exports_edited_in_place(tmp_path: Path, fakes: Fakes, monkeypatch: pytest.MonkeyPatch) -> None:
    fakes.add("exportfs", "exit 0\n")
    exports = tmp_path / "exports"
    exports.write_text("# managed by hand\n/srv/old 10.0.0.0/8(ro)\n")
    share = tmp_path / "share"
    share.mkdir()
    f = lua(tmp_path, "nfs")
    o = f'file = "{exports}"'
    got = f.run(
        f"""
        local out = {{}}
        local function add(...) for _, v in ipairs({{...}}) do out[#out + 1] = v end end
        add(nfs.export{{ path = "{share}", clients = "10.0.0.0/24", {o} }})
        add(nfs.export{{ path = "{share}", clients = "10.0.0.0/24", {o} }})
        add(nfs.export{{ path = "{share}", clients = "10.0.0.0/24", options = "ro,sync", {o} }})
        add(nfs.export{{ path = "{tmp_path}/missing", {o} }})
        add(nfs.is_exported("{share}", {{ {o} }}), nfs.is_exported("/srv/none", {{ {o} }}))
        local list = nfs.list_exports({{ {o} }})
        add(#list, list[2].path, list[2].clients_options)
        add(nfs.unexport("/srv/old", {{ {o} }}))
        add(nfs.unexport("/srv/old", {{ {o} }}))
        add(nfs.reload())
        return out
        """
    )
    assert got == [
        True,
        f"NFS export for {share} added",
        True,
        f"NFS export for {share} already exists (idempotent)",
        True,
        f"NFS export for {share} updated",
        False,
        f"Export path does not exist: {tmp_path}/missing",
        True,
        False,
        2,
        str(share),
        "10.0.0.0/24(ro,sync)",
        True,
        "NFS export for /srv/old removed",
        True,
        "NFS export for /srv/old does not exist (idempotent)",
        True,
        "NFS exports reloaded",
    ]
    assert exports.read_text() == f"# managed by hand\n{share} 10.0.0.0/24(ro,sync)\n"
    assert fakes.calls() == ["exportfs -ra"] * 4
    check = lua(tmp_path, "nfs", check=True)
    assert check.run(f'return nfs.unexport("{share}", {{ {o}, sudo = false }})') == (
        True,
        f"would update {exports} and run exportfs -ra (NFS export for {share} removed)",
    )
    assert exports.read_text() == f"# managed by hand\n{share} 10.0.0.0/24(ro,sync)\n"
    assert check.changes() == [f"would change: nfs {exports}"]
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(LuaRuntimeError, match="nfs: 'exportfs' is not installed on this machine"):
        f.run(f'return nfs.unexport("{share}", {{ {o} }})')
    assert exports.read_text() == f"# managed by hand\n{share} 10.0.0.0/24(ro,sync)\n"  # left as it was


def test_smb_shares_and_users(tmp_path: Path, fakes: Fakes) -> None:
    for name, body in SMB_FAKES.items():
        fakes.add(name, body)
    conf = tmp_path / "smb.conf"
    conf.write_text("[global]\n   workgroup = WORKGROUP\n\n[homes]\n   browseable = no\n")
    (tmp_path / "public").mkdir()
    f = lua(tmp_path, "smb")
    o = f'file = "{conf}"'
    spec = f'name = "public", path = "{tmp_path}/public", comment = "Files", guest_ok = true, {o}'
    got = f.run(
        f"""
        local out = {{}}
        local function add(...) for _, v in ipairs({{...}}) do out[#out + 1] = v end end
        add(smb.share{{ {spec} }})
        add(smb.share{{ {spec} }})
        add(smb.share{{ {spec}, valid_users = "alice" }})
        add(smb.share{{ name = "bad", path = "{tmp_path}", comment = "BROKEN", {o} }})
        add(smb.is_shared("public", {{ {o} }}), smb.is_shared("bad", {{ {o} }}))
        local shares = smb.list_shares({{ {o} }})
        add(#shares, shares[3].name, shares[3]["valid users"], shares[3]["guest ok"])
        add(smb.add_user("alice", "s3cret"))
        add(smb.add_user("alice", "s3cret"))
        add(smb.remove_user("alice"))
        add(smb.remove_user("alice"))
        add(smb.unshare("public", {{ {o} }}))
        add(smb.unshare("public", {{ {o} }}))
        add(smb.reload())
        return out
        """
    )
    assert got == [
        True,
        "Samba share 'public' created",
        True,
        "Samba share 'public' already exists (idempotent)",
        True,
        "Samba share 'public' updated",
        False,
        "Invalid Samba config: Unknown parameter encountered: BROKEN",
        True,
        False,
        3,
        "public",
        "alice",
        "yes",
        True,
        "Samba user 'alice' added",
        True,
        "Samba user 'alice' already exists (idempotent)",
        True,
        "Samba user 'alice' removed",
        True,
        "Samba user 'alice' does not exist (idempotent)",
        True,
        "Samba share 'public' removed",
        True,
        "Samba share 'public' does not exist (idempotent)",
        True,
        "Samba configuration reloaded",
    ]
    assert conf.read_text() == "[global]\n   workgroup = WORKGROUP\n\n[homes]\n   browseable = no\n\n"
    assert "smbpasswd -a -s alice" in fakes.calls() and not any("s3cret" in c for c in fakes.calls())
    assert fakes.calls("systemctl") == ["systemctl reload smbd"] * 4
    fakes.add("systemctl", 'echo "Failed to reload smbd.service: Unit smbd.service not found." >&2; exit 5\n')
    fakes.add("service", "exit 0\n")
    assert f.run("return smb.reload()") == (True, "Samba configuration reloaded")
    assert fakes.calls("service") == ["service smbd reload"]


# ---- agent modules: which programs this machine has ---------------------------------------------


def test_agent_modules_reports_this_machines_programs(tmp_path: Path, fakes: Fakes) -> None:
    fakes.add("ufw", "exit 0\n")
    fakes.add("mdadm", "exit 0\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLOTH_")} | {
        "SLOTH_HOME": str(tmp_path / "home")
    }
    done = subprocess.run(
        [sys.executable, "-m", "sloth_daemon.cli.main", "agent", "modules", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    rows = {row["module"]: row for row in json.loads(done.stdout)}
    assert rows["firewall"]["tools"] == ["firewall-cmd", "ufw", "nft", "iptables"]
    assert "ufw" in rows["firewall"]["found"] and "ufw" not in rows["firewall"]["missing"]
    assert rows["raid"]["found"] == ["mdadm"] and rows["raid"]["missing"] == []
    assert rows["log"] == {"module": "log", "tools": [], "found": [], "missing": []}
    assert {"stow", "lvm", "nfs", "smb", "network", "incus", "gitops", "ai"} <= set(rows)
    assert not (tmp_path / "home").exists()  # this machine's report opens no store
    table = subprocess.run(
        [sys.executable, "-m", "sloth_daemon.cli.main", "agent", "modules"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    firewall = next(line for line in table.stdout.splitlines() if line.startswith("firewall "))
    assert firewall.split()[1] == "ufw"


# ---- through `run`: --check reports, the recap counts, a second run changes nothing ---------------

HOST_FLOW = """
local t = task("host"):command(function()
  local msg, err = firewall.allow_port(22, "tcp")
  assert(msg, err)
  local ok, said = nfs.export({ path = "{share}", clients = "10.0.0.0/24", file = "{exports}" })
  assert(ok, said)
  return true, msg .. " / " .. said
end)
workflow.define("host"):tasks({ t })
"""


def test_a_workflow_run_checked_then_for_real_then_again(tmp_path: Path, fakes: Fakes) -> None:
    fakes.add("ufw", fw.UFW, shell="python3")
    fakes.add("exportfs", "exit 0\n")
    share, exports = tmp_path / "share", tmp_path / "exports"
    share.mkdir()
    exports.write_text("")
    flow = tmp_path / "host.sloth"
    flow.write_text(HOST_FLOW.replace("{share}", str(share)).replace("{exports}", str(exports)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLOTH_")} | {
        "SLOTH_HOME": str(tmp_path / "home")
    }

    def run(*flags: str) -> tuple[dict, str]:
        done = subprocess.run(
            [sys.executable, "-m", "sloth_daemon.cli.main", "run", str(flow), "-o", "json", *flags],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout), done.stderr

    report, stderr = run("--check", "--diff", "--show-output")
    assert report["recap"] == {"ok": 0, "changed": 1, "failed": 0, "skipped": 0}
    assert "host | would change: firewall add ufw rule allow port 22/tcp" in stderr
    assert f"host | would change: nfs {exports}" in stderr and f"host | +{share} 10.0.0.0/24(" in stderr
    assert exports.read_text() == "" and fakes.calls("ufw allow") == [] and fakes.calls("exportfs") == []
    report, _ = run()
    assert report["recap"]["changed"] == 1 and report["tasks"][0]["changes"] == 2
    assert fakes.calls("ufw allow") == ["ufw allow 22/tcp"] and str(share) in exports.read_text()
    report, _ = run()
    assert report["recap"] == {"ok": 1, "changed": 0, "failed": 0, "skipped": 0}
    assert report["tasks"][0]["message"] == (
        f"Port 22/tcp already allowed (idempotent) / NFS export for {share} already exists (idempotent)"
    )
