"""The host modules of issue 17 (firewall, stow, lvm, raid, nfs, smb) through a real sandbox.

Programs that would change this machine (ufw, nft, iptables, firewall-cmd, lvm's, mdadm,
exportfs, smbpasswd) are fake executables first on PATH that record their calls and keep
their state in files, so idempotence is seen as on a host; stow is the real GNU Stow where
installed, and the files the modules write themselves (/etc/exports, smb.conf, mdadm.conf)
are real files in the test's folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import firewall as fw
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
    assert all(c.startswith(("ufw show", "ufw status")) for c in fakes.calls())
    assert f.changes() == [
        "would change: firewall add ufw rule allow port 8080/tcp",
        "would change: firewall add ufw rule deny from 1.2.3.4",
        "would change: firewall enable ufw",
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
        local s = firewall.save(o)
        local flushed = firewall.flush(o)
        local before = web:exists()
        local reloaded = firewall.reload(o)
        return a1, a2, d, s, flushed, before, reloaded, web:exists(), firewall.status(o)
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
    assert fakes.calls("iptables -A") == [
        "iptables -A INPUT -p udp --dport 8000:8100 -m comment --comment apps -j ACCEPT",
        "iptables -A INPUT -s 192.0.2.1 -j DROP",
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
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(LuaRuntimeError, match="stow: 'stow' is not installed on this machine"):
        f.run(f'return stow.stow{{ package = "vim", dir = "{tmp_path}/dot", target = "{tmp_path}/home" }}')
