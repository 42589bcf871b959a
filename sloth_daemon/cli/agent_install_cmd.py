"""`agent install HOST` and `agent update NAME|HOST`: an agent put on a host over SSH, run by
systemd (sloth_daemon/agent_install.py says what is done there)."""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sloth_engine.errors import UsageError
from sloth_engine.home import sloth_home

from .agent_cmd import parse_tags

EXIT_OK, EXIT_FAILED = 0, 1


def register(asub: Any, parents: list[argparse.ArgumentParser]) -> None:
    install = asub.add_parser(
        "install",
        parents=parents,
        help="install this program on HOST over SSH and run it there as an agent (systemd)",
        description="Copy this program to HOST, install it in its own virtualenv, write the "
        "systemd unit and the agent's settings (master, name, tags, join token), start it and "
        "wait until the master sees it connected.",
    )
    install.add_argument("host", help="the host to install on")
    install.add_argument("--name", help="the agent's name (default: HOST)")
    install.add_argument("--tags", default="", metavar="K=V,...", help="tags tasks can ask for")
    install.add_argument("--max-tasks", type=int, default=4, metavar="N", help="tasks at once (default 4)")
    install.add_argument("--join-token", metavar="TOKEN", help="token of role agent the agent joins with")
    install.add_argument(
        "--agent-master",
        metavar="HOST:PORT",
        help="the master as the agent dials it (default: --master, as this machine dials it)",
    )
    install.add_argument("--prefix", default="/opt/sloth-runner", help="virtualenv at PREFIX/venv")
    install.add_argument("--config-dir", default="/etc/sloth-runner", help="where agent.env goes")
    install.add_argument("--unit-dir", default="/etc/systemd/system", help="where the unit goes")
    install.add_argument("--state-dir", default="/var/lib/sloth-runner-agent", help="the agent's SLOTH_HOME")
    install.add_argument("--python", default="python3", help="the host's Python that makes the venv")
    _common(install)
    install.set_defaults(func=cmd_install)
    update = asub.add_parser(
        "update",
        parents=parents,
        help="upgrade an agent installed with `agent install` in place and restart it",
    )
    update.add_argument("target", metavar="NAME|HOST", help="an agent installed from here")
    _common(update)
    update.set_defaults(func=cmd_update)


def _common(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--ssh-user", help="the user to log in as (install: required)")
    cmd.add_argument("--ssh-key", metavar="PATH", help="the private key to log in with")
    cmd.add_argument("--ssh-port", type=int, metavar="N", help="the host's SSH port (default 22)")
    cmd.add_argument("--known-hosts", metavar="PATH", help="host keys (default ~/.ssh/known_hosts)")
    cmd.add_argument(
        "--accept-new-host-key",
        action="store_true",
        help="accept and record the key of a host known_hosts has no entry for (never a changed one)",
    )
    cmd.add_argument(
        "--pip-args",
        default=None,
        metavar="ARGS",
        help="extra arguments for pip on the host, e.g. '--no-index --find-links /srv/wheels'",
    )
    cmd.add_argument(
        "--wheel", metavar="PATH", help="install this wheel (default: one built of this program)"
    )
    cmd.add_argument("--check", action="store_true", help="show what would be done, change nothing")
    cmd.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the agent to connect")


def cmd_install(args: argparse.Namespace) -> int:
    installer = importlib.import_module("sloth_daemon.agent_install")
    master = _master(args)
    if not args.ssh_user:
        raise UsageError("agent install needs --ssh-user USER")
    if args.max_tasks < 1:
        raise UsageError("--max-tasks must be at least 1")
    parse_tags(args.tags)  # refused here, not by the agent on the host
    spec = installer.Install(
        host=args.host,
        ssh_user=args.ssh_user,
        name=args.name or args.host,
        master=args.agent_master or master,
        ssh_port=args.ssh_port or 22,
        ssh_key=_absolute(args.ssh_key),
        known_hosts=_absolute(args.known_hosts) or "",
        tags=args.tags,
        max_tasks=args.max_tasks,
        prefix=args.prefix,
        config_dir=args.config_dir,
        unit_dir=args.unit_dir,
        state_dir=args.state_dir,
        python=args.python,
        pip_args=_pip_args(args.pip_args) or [],
    )
    return _apply(installer, spec, args, master, update=False)


def cmd_update(args: argparse.Namespace) -> int:
    installer = importlib.import_module("sloth_daemon.agent_install")
    master = _master(args)
    spec = installer.find_record(sloth_home(), args.target)
    for attr, value in (
        ("ssh_user", args.ssh_user),
        ("ssh_key", _absolute(args.ssh_key)),
        ("ssh_port", args.ssh_port),
        ("known_hosts", _absolute(args.known_hosts)),
        ("pip_args", _pip_args(args.pip_args)),
    ):
        if value is not None:
            setattr(spec, attr, value)
    return _apply(installer, spec, args, master, update=True)


def _apply(installer: Any, spec: Any, args: argparse.Namespace, master: str, update: bool) -> int:
    verb = "update" if update else "install"
    where = f"{spec.ssh_user}@{spec.host}:{spec.ssh_port}"
    if args.check:
        print(f"agent {verb} {spec.name} on {where} (check: nothing is changed)")
        print(f"  copy a wheel of this program to {spec.prefix}/wheels/")
        print(f"  write {spec.env_file} (mode 0600) and {spec.unit_file}")
        for command in installer.commands(spec, f"{spec.prefix}/wheels/WHEEL", update):
            print(f"  run: {command}")
        print(f"  wait until the master {master} sees agent {spec.name} connected")
        return EXIT_OK
    join_token = getattr(args, "join_token", None)  # install only: an update keeps agent.env
    if args.wheel and not Path(args.wheel).is_file():
        raise UsageError(f"--wheel {args.wheel}: no such file")
    with tempfile.TemporaryDirectory(prefix="sloth-wheel-") as folder:

        def make_wheel() -> Path:
            if args.wheel:
                return Path(args.wheel)
            _say(f"building a wheel of this program in {folder}")
            return Path(installer.build_wheel(Path(folder)))

        started = time.time()
        try:
            job = installer.run_on_host(spec, args.accept_new_host_key, make_wheel, join_token, update, _say)
            installer.run(job)
        except UsageError:
            raise
        except Exception as exc:  # SSH refusals and failures: what and where, no traceback
            print(f"agent {verb}: {where}: {_reason(exc)}", file=sys.stderr)
            return EXIT_FAILED
    installer.save_record(sloth_home(), spec)
    client_module = importlib.import_module("sloth_daemon.client")
    with client_module.MasterClient(master, token=getattr(args, "token", None)) as client:
        agent = installer.wait_connected(client, spec.name, started, args.timeout)
    tags = ",".join(f"{k}={v}" for k, v in sorted(agent["tags"].items()))
    print(f"agent {spec.name} on {spec.host}: {'updated' if update else 'installed'}, connected to {master}")
    print(f"  tags: {tags or '-'}  version: {agent.get('version') or '?'}")
    return EXIT_OK


def _master(args: argparse.Namespace) -> str:
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_daemon.client import master_address

    master = master_address(getattr(args, "master", None))
    if not master:
        raise UsageError("agent install/update needs --master HOST:PORT (or $SLOTH_MASTER)")
    return str(master)


def _absolute(path: str | None) -> str | None:
    return str(Path(path).expanduser().resolve()) if path else None


def _pip_args(text: str | None) -> list[str] | None:
    import shlex

    return None if text is None else shlex.split(text)


def _reason(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    return text.splitlines()[0] if text else exc.__class__.__name__


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
