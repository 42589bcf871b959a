"""`agent`: run an agent (`agent --master HOST:PORT --name NAME`), or look at and steer agents
(`agent list|show|metrics|modules|exec|stop`). Without --master (or $SLOTH_MASTER) the reading
commands use the agents table of the local store (sloth_daemon.gateway: one choice per command);
exec, stop and metrics --watch need a master."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import socket
import sys
from typing import Any

from sloth_daemon.gateway import with_gateway
from sloth_engine.durations import format_duration, parse_duration
from sloth_engine.errors import UsageError
from sloth_engine.home import sloth_home

from .grammar import add_output, as_json
from .store_access import print_json, print_table, when

EXIT_OK, EXIT_FAILED = 0, 1


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    agent = sub.add_parser(
        "agent",
        parents=parents,
        help="run an agent, or list, inspect and steer agents",
        description="With no COMMAND: run this machine as an agent of --master.",
    )
    agent.add_argument("--name", help="agent name (default: the CN of --tls-cert, else the host name)")
    agent.add_argument("--tags", default="", metavar="K=V,...", help="tags tasks can ask for")
    agent.add_argument("--max-tasks", type=int, default=4, metavar="N", help="tasks at once (default 4)")
    agent.add_argument(
        "--heartbeat", default="5s", metavar="DURATION", help="heartbeat interval (default 5s)"
    )
    agent.add_argument("--reconnect-max", default="5s", metavar="DURATION", help="longest reconnect backoff")
    agent.add_argument("--ready-file", metavar="PATH", help="written once registered with the master")
    agent.add_argument(
        "--join-token", metavar="TOKEN", help="token of role agent (default: --token, $SLOTH_TOKEN)"
    )
    agent.set_defaults(func=cmd_agent)
    asub = agent.add_subparsers(dest="agent_command", metavar="COMMAND")
    for name, help_text in (
        ("list", "agents: name, address, tags, status, last heartbeat, CPU/memory"),
        ("show", "one agent in detail"),
        ("metrics", "an agent's latest metrics (--watch: as they come)"),
        ("modules", "the modules and tools an agent offers"),
        ("exec", "run a shell command on an agent, output streamed: agent exec NAME -- CMD"),
        ("stop", "ask an agent to stop"),
    ):
        cmd = asub.add_parser(name, help=help_text, parents=parents)
        if name == "modules":
            cmd.add_argument("name", nargs="?", help="agent name (none: this machine)")
        elif name != "list":
            cmd.add_argument("name", help="agent name")
        if name in ("list", "show", "metrics", "modules"):
            add_output(cmd)
        cmd.set_defaults(func=modules_here_or_there if name == "modules" else with_gateway(HANDLERS[name]))
    metrics = asub.choices["metrics"]
    metrics.add_argument("--watch", action="store_true", help="print each new heartbeat's metrics")
    execute = asub.choices["exec"]
    execute.add_argument("--timeout", default="0", metavar="DURATION", help="kill the command after this")
    execute.add_argument("command", nargs=argparse.REMAINDER, help="the command (after --)")
    # Standalone mode (the original tool's): an agent with no master runs workflows here.
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from .run_cmd import register as register_run

    register_run(asub, parents)
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from .agent_install_cmd import register as register_install

    register_install(asub, parents)


# ---- the agent daemon ----------------------------------------------------------------------


def cmd_agent(args: argparse.Namespace) -> int:
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_daemon.agent.service import AgentConfig, AgentService

    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_daemon.client import master_address

    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_daemon.tls import TlsFiles

    master = master_address(args.master)
    if not master:
        raise UsageError(
            "agent needs --master HOST:PORT (or $SLOTH_MASTER), or a COMMAND; without a master,"
            " `agent run FILE` runs a workflow on this machine (standalone mode)"
        )
    if args.max_tasks < 1:
        raise UsageError("--max-tasks must be at least 1")
    tls = TlsFiles.of(args.tls_ca, args.tls_cert, args.tls_key)
    config = AgentConfig(
        master=master,
        name=args.name or _cert_name(tls.cert) or socket.gethostname(),
        tags=parse_tags(args.tags),
        max_tasks=args.max_tasks,
        heartbeat=_duration(args.heartbeat, "--heartbeat"),
        reconnect_max=_duration(args.reconnect_max, "--reconnect-max"),
        home=sloth_home(),
        ready_file=args.ready_file,
        token=_join_token(args),
        tls=tls,
    )
    service = AgentService(config)
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_daemon.agent.reaper import start_reaper

    start_reaper()  # task processes die with this agent, however it dies

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, service.stop, f"signal {sig.name}")
        logging.getLogger("sloth_daemon.agent").warning("agent %s dialing %s", config.name, master)
        await service.run()

    asyncio.run(main())
    return EXIT_OK


def _cert_name(path: str | None) -> str | None:
    """The common name of the agent's certificate: under mutual TLS its name must be that."""
    if not path:
        return None
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        cert = x509.load_pem_x509_certificate(open(path, "rb").read())
    except (OSError, ValueError):
        return None  # the TLS setup reports the unreadable file
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


def _join_token(args: argparse.Namespace) -> str | None:
    """--join-token, else --token / $SLOTH_TOKEN, taken out of the environment so that the
    commands this agent runs do not see it."""
    from_env = os.environ.pop("SLOTH_TOKEN", None)
    return args.join_token or from_env or None


def parse_tags(text: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--tags expects K=V,..., got '{item}'")
        tags[key.strip()] = value.strip()
    return tags


def _duration(text: str, flag: str) -> float:
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"{flag}: {exc}") from None
    if value <= 0:
        raise UsageError(f"{flag} must be positive")
    return value


# ---- looking at agents -----------------------------------------------------------------------


def cmd_list(args: argparse.Namespace, gateway: Any) -> int:
    agents = gateway.agents.list()
    if as_json(args):
        print_json(agents)
        return EXIT_OK
    if not agents:
        print("no agents known", file=sys.stderr)
        return EXIT_OK
    rows = [
        (
            a["name"],
            a["address"],
            ",".join(f"{k}={v}" for k, v in sorted((a.get("tags") or {}).items())),
            a["status"],
            when(a.get("last_heartbeat")),
            f"{(a.get('metrics') or {}).get('cpu_percent', 0):.0f}%",
            f"{(a.get('metrics') or {}).get('mem_percent', 0):.0f}%",
            f"{a.get('running_tasks', 0)}/{a.get('max_tasks', 0)}",
        )
        for a in agents
    ]
    print_table(("NAME", "ADDRESS", "TAGS", "STATUS", "LAST HEARTBEAT", "CPU", "MEM", "TASKS"), rows)
    return EXIT_OK


def cmd_show(args: argparse.Namespace, gateway: Any) -> int:
    agent = gateway.agents.get(args.name)
    if as_json(args):
        print_json(agent)
        return EXIT_OK
    tags = ", ".join(f"{k}={v}" for k, v in sorted((agent.get("tags") or {}).items())) or "-"
    facts = agent.get("facts") or {}
    platform = facts.get("platform") or {}
    for label, value in (
        ("name", agent["name"]),
        ("address", agent["address"]),
        ("status", agent["status"]),
        ("tags", tags),
        ("version", agent.get("version") or "-"),
        ("tasks", f"{agent.get('running_tasks', 0)} running, at most {agent.get('max_tasks')}"),
        (
            "heartbeat",
            f"every {format_duration(agent.get('heartbeat_interval_s') or 0)}, "
            f"last {when(agent.get('last_heartbeat'))}",
        ),
        ("host", f"{facts.get('hostname', '-')} {platform.get('os', '')} {platform.get('arch', '')}".strip()),
    ):
        print(f"{label:<10} {value}")
    _print_metrics(agent.get("metrics") or {})
    return EXIT_OK


def cmd_metrics(args: argparse.Namespace, gateway: Any) -> int:
    if not args.watch:
        agent = gateway.agents.get(args.name)
        if as_json(args):
            print_json(agent.get("metrics") or {})
        else:
            _print_metrics(agent.get("metrics") or {})
        return EXIT_OK
    try:
        for agent in gateway.agents.watch(args.name):
            metrics = agent.get("metrics") or {}
            if as_json(args):
                print(json.dumps({"name": agent["name"], "status": agent["status"], **metrics}), flush=True)
            else:
                load = metrics.get("load") or [0, 0, 0]
                print(
                    f"{when(agent.get('last_heartbeat'))} {agent['status']:<11} "
                    f"cpu {metrics.get('cpu_percent', 0):5.1f}% "
                    f"mem {metrics.get('mem_percent', 0):5.1f}% disk {metrics.get('disk_percent', 0):5.1f}% "
                    f"load {load[0]:.2f} tasks {metrics.get('running_tasks', 0)}",
                    flush=True,
                )
    except KeyboardInterrupt:
        return 130
    return EXIT_OK


def modules_here_or_there(args: argparse.Namespace) -> int:
    """`agent modules` with no name reports this machine, without opening a store or a master."""
    if args.name is None:
        return cmd_modules(args, None)
    return with_gateway(cmd_modules)(args)


def cmd_modules(args: argparse.Namespace, gateway: Any) -> int:
    """Each module and its programs: found on the agent's machine (as it reported them when it
    registered) or missing there."""
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_engine.modules import MODULE_NAMES

    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_engine.modules.tools import ModuleTools, found_here, report

    if gateway is None:
        listed = [*MODULE_NAMES, *(f"tool:{t}" for t in found_here())]
    else:
        listed = gateway.agents.get(args.name).get("modules") or []
    names = [m for m in listed if not m.startswith("tool:")]
    found = {m.removeprefix("tool:") for m in listed if m.startswith("tool:")}
    rows = [r for r in report(found) if r["module"] in names]
    rows += [ModuleTools(module=m, tools=[], found=[], missing=[]) for m in names if m not in MODULE_NAMES]
    if as_json(args):
        print_json(rows)
        return EXIT_OK
    print_table(
        ["MODULE", "FOUND", "MISSING"],
        [[r["module"], " ".join(r["found"]) or "-", " ".join(r["missing"]) or "-"] for r in rows],
    )
    return EXIT_OK


def cmd_exec(args: argparse.Namespace, gateway: Any) -> int:
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_daemon.client import ExecExit

    words = list(args.command)
    if "--" in words:  # options given between NAME and -- (REMAINDER took them)
        cut = words.index("--")
        late = argparse.ArgumentParser(prog="agent exec", add_help=False)
        late.add_argument("--timeout")  # --master and --db were taken before (global flags)
        found, unknown = late.parse_known_args(words[:cut])
        if unknown:
            raise UsageError(f"agent exec: unknown options {' '.join(unknown)}")
        args.timeout = found.timeout or args.timeout
        words = words[cut + 1 :]
    if not words:
        raise UsageError("agent exec needs a command: agent exec NAME -- CMD")
    command = " ".join(words)
    code = EXIT_FAILED
    try:
        for item in gateway.agents.exec(args.name, command, _duration_or_zero(args.timeout)):
            if isinstance(item, ExecExit):
                if item.error:
                    print(f"error: {item.error}", file=sys.stderr)
                code = item.exit_code if 0 <= item.exit_code < 256 else EXIT_FAILED
                break
            print(item.line, file=sys.stderr if item.stream == "stderr" else sys.stdout, flush=True)
    except KeyboardInterrupt:
        return 130
    return code


def cmd_stop(args: argparse.Namespace, gateway: Any) -> int:
    gateway.agents.stop(args.name, "")
    print(f"agent {args.name}: stop sent", file=sys.stderr)
    return EXIT_OK


def _duration_or_zero(text: str) -> float:
    return 0.0 if text in ("", "0") else _duration(text, "--timeout")


def _print_metrics(metrics: dict[str, Any]) -> None:
    if not metrics:
        print("metrics    none reported yet")
        return
    gib = 1024**3
    load = metrics.get("load") or [0, 0, 0]
    print(f"cpu        {metrics.get('cpu_percent', 0):.1f}%")
    print(f"memory     {metrics.get('mem_percent', 0):.1f}% of {metrics.get('mem_total', 0) / gib:.1f} GiB")
    print(f"disk       {metrics.get('disk_percent', 0):.1f}% of {metrics.get('disk_total', 0) / gib:.1f} GiB")
    print(f"load       {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"uptime     {format_duration(metrics.get('uptime_s', 0))}")
    print(f"running    {metrics.get('running_tasks', 0)} tasks")


HANDLERS = {
    "list": cmd_list,
    "show": cmd_show,
    "metrics": cmd_metrics,
    "modules": cmd_modules,
    "exec": cmd_exec,
    "stop": cmd_stop,
}
