"""`run`: execute a workflow file on this machine (headless, CI-friendly)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import Any

from sloth_engine.errors import UsageError
from sloth_engine.executor.remote import refuse_without_master
from sloth_engine.executor.results import RunResult
from sloth_engine.run import RunRequest, WorkflowRun, load
from sloth_engine.spec import RunStatus
from sloth_engine.store import open_store

from .grammar import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_UNRECORDED, add_output
from .progress import LiveProgress, PlainProgress
from .store_access import master_of
from .workflow_cmd import plan_text, select

EXIT_REPORT = 1
"""The run succeeded but a report asked for (--junit) could not be written."""
HOOKS_DRAIN_TIMEOUT = 120.0


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    run = sub.add_parser(
        "run",
        parents=parents,
        help="run a workflow file on this machine",
        description="Run FILE (or, in the original tool's form, `run STACK -f FILE`).",
    )
    run.add_argument("target", nargs="?", help="workflow file, or the stack name when -f is given")
    run.add_argument("-f", "--file", help="workflow file (makes TARGET the stack name)")
    run.add_argument("--workflow", "-w", help="run only this workflow of the file")
    run.add_argument("--values", "-v", help="YAML file whose content is the `values` global")
    run.add_argument(
        "--param",
        "-p",
        action="append",
        default=[],
        metavar="K=V",
        help="task parameter (repeatable)",
    )
    add_output(run)
    run.add_argument("--junit", metavar="PATH", help="write a JUnit XML report")
    run.add_argument("--plan", action="store_true", help="print the DAG and exit without running")
    run.add_argument("--max-parallel", type=int, metavar="N", help="tasks in flight at most")
    run.add_argument("--stack", help="stack the run belongs to")
    run.add_argument(
        "--yes", "-y", action="store_true", help="accepted for the original tool (run never asks)"
    )
    run.add_argument("--show-output", action="store_true", help="print task output lines as they come")
    run.add_argument(
        "--check",
        "--dry-run",
        dest="check",
        action="store_true",
        help="modules report what they would change and change nothing",
    )
    run.add_argument("--diff", action="store_true", help="show each changed file's content as a unified diff")
    run.add_argument("--detach", action="store_true", help="with --master: print the run id and return")
    run.add_argument(
        "--default-agent",
        "--delegate-to",
        "-d",
        dest="delegate_to",
        metavar="AGENT",
        help="with --master: tasks without a delegate_to run on AGENT (not on the master's host)",
    )
    run.add_argument(
        "--ssh",
        metavar="USER@HOST[:PORT],...",
        help="run each task's shell command on these hosts over SSH (no agent needed)",
    )
    run.add_argument("--ssh-key", metavar="PATH", help="with --ssh: the private key to log in with")
    run.add_argument("--ssh-known-hosts", metavar="PATH", help="with --ssh: host keys (~/.ssh/known_hosts)")
    run.add_argument(
        "--ssh-accept-new-host-key",
        action="store_true",
        help="with --ssh: accept and record the key of a host known_hosts has no entry for",
    )
    run.set_defaults(func=cmd_run)


def _request(args: argparse.Namespace) -> RunRequest:
    if args.file:
        path, stack = args.file, args.stack or args.target
    elif args.target:
        path, stack = args.target, args.stack
    else:
        raise UsageError("run needs a workflow file: `run FILE` or `run STACK -f FILE`")
    if args.max_parallel is not None and args.max_parallel < 1:
        raise UsageError("--max-parallel must be at least 1")
    return RunRequest(
        path=path,
        values=_values(args.values),
        params=_params(args.param),
        max_parallel=args.max_parallel,
        stack=stack,
        check_mode=getattr(args, "check", False),
        show_diff=getattr(args, "diff", False),
    )


def _values(path: str | None) -> dict[str, Any]:
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_engine.values_file import read_values

    return read_values(path) if path else {}


def _params(items: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--param expects KEY=VALUE, got '{item}'")
        params[key] = value
    return params


def cmd_run(args: argparse.Namespace) -> int:
    request = _request(args)
    if args.plan:
        workflows = select(load(request), args.workflow)
        for workflow in workflows:
            print(plan_text(workflow, request.max_parallel))
        # lazy: loaded when this command runs, not for --help (it loads every command module)
        from .placement_check import warn_placement

        warn_placement(workflows, master_of(args))
        return EXIT_OK
    master = master_of(args)  # grpc-free: importing the client costs a local run ~50 ms
    if master:
        if request.check_mode or request.show_diff:  # a master's runs do not take them (yet)
            raise UsageError("--check and --diff run on this machine only (not with --master)")
        if getattr(args, "ssh", None):
            raise UsageError("--ssh runs from this machine only (not with --master)")
        # lazy: loaded when this command runs, not for --help (it loads every command module)
        from .remote_run import run_on_master

        return run_on_master(args, request, master)
    if getattr(args, "detach", False) or getattr(args, "delegate_to", None):
        raise UsageError("--detach and --default-agent need a master (--master HOST:PORT)")
    request.ssh_hosts = _ssh_hosts(args)
    request.store = open_store(getattr(args, "db", None))
    try:
        loaded = load(request)
        workflows = select(loaded, args.workflow)
        refuse_without_master(workflows)  # before any task runs: exit 2, naming the tasks
        results, interrupted = run_here(request, loaded, workflows, args)
    finally:
        if request.ssh_hosts is not None:
            request.ssh_hosts.close()
        request.store.close()
    return exit_code(results, interrupted, _write_reports(results, args))


def run_here(
    request: RunRequest, loaded: Any, workflows: list[Any], args: argparse.Namespace, resume: Any = None
) -> tuple[list[RunResult], bool]:
    """Run `workflows` on this machine, recorded in `request.store` (which stays open): the
    outcomes kept from earlier runs recorded first, stacks locked, secrets granted, hooks let
    finish after. `resume`: a retry's (sloth_engine.retry), for one workflow."""
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_engine.events import bus_for_run

    store = request.store
    if store is None:
        raise ValueError("run_here runs with a store")
    _record_kept(request)
    request.bus = bus_for_run(store)
    try:
        if request.stack or any(w.stack for w in workflows):
            # lazy: loaded when this command runs, not for --help (it loads every command module)
            from sloth_engine.stacks.lifecycle import StackLifecycle

            request.lifecycle = StackLifecycle(store)
        if any(w.config.get("secrets") for w in workflows):
            # lazy: loaded when this command runs, not for --help (it loads every command module)
            from .secrets_cmd import key_for_cli

            request.secret_key = key_for_cli()
        return asyncio.run(_run_all(request, loaded, workflows, args, resume))
    finally:
        if request.bus is not None:
            _finish_hooks(request.bus)


def exit_code(results: list[RunResult], interrupted: bool, reported: bool) -> int:
    if interrupted:
        return EXIT_INTERRUPTED
    if any(r.unrecorded for r in results):
        return EXIT_UNRECORDED
    if not all(r.status is RunStatus.SUCCESS for r in results):
        return EXIT_FAILED
    return EXIT_OK if reported else EXIT_REPORT


def _ssh_hosts(args: argparse.Namespace) -> Any:
    """`--ssh`: the hosts each task's shell command runs on (sloth_engine/executor/ssh_shell.py)."""
    if not getattr(args, "ssh", None):
        if getattr(args, "ssh_key", None) or getattr(args, "ssh_accept_new_host_key", False):
            raise UsageError("--ssh-key and --ssh-accept-new-host-key go with --ssh USER@HOST")
        return None
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_engine.executor.ssh_shell import SshHosts

    try:
        return SshHosts.build(args.ssh, args.ssh_key, args.ssh_known_hosts, args.ssh_accept_new_host_key)
    except OSError as exc:
        raise UsageError(f"--ssh-key {args.ssh_key}: {exc.strerror or exc}") from None
    except ValueError as exc:  # a malformed --ssh, or asyncssh's KeyImportError (a ValueError)
        raise UsageError(str(exc)) from None


def _record_kept(request: RunRequest) -> None:
    """Outcomes of earlier local runs that the store refused at their end: recorded now, if it
    takes them (sloth_engine.unrecorded; a master does it at its start and every 5 s)."""
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_engine import unrecorded

    if request.store is not None and unrecorded.pending(request.home):
        unrecorded.record_all(request.store, request.home)


def _finish_hooks(bus: Any) -> None:
    """Let the hooks of the run's events finish (each is bounded by its own timeout)."""
    if not bus.drain(HOOKS_DRAIN_TIMEOUT):
        print(f"hooks still running after {HOOKS_DRAIN_TIMEOUT:g}s: not waiting for them", file=sys.stderr)
    bus.close(timeout=1.0)


async def _run_all(
    request: RunRequest, loaded: Any, workflows: list[Any], args: argparse.Namespace, resume: Any = None
) -> tuple[list[RunResult], bool]:
    loop = asyncio.get_running_loop()
    interrupted = False
    current: list[WorkflowRun] = []

    def on_signal(signum: int, frame: Any) -> None:
        # A plain handler, not the loop's: it runs even while Lua code holds the loop
        # (the guard hook calls into Python), and trips that code's guard.
        nonlocal interrupted
        if interrupted:
            print("interrupted again: exiting now", file=sys.stderr)
            for run in current:
                run.kill_processes()
            os._exit(EXIT_INTERRUPTED)
        interrupted = True
        reason = "interrupted" if signum == signal.SIGINT else f"interrupted ({signal.Signals(signum).name})"
        for run in current:
            loop.call_soon_threadsafe(run.cancel, reason)
            if run.lua is not None:
                run.lua.cancel_all(reason)

    def on_hangup(signum: int, frame: Any) -> None:
        # The terminal is gone: what is still printed must not fail the run on EIO.
        _detach_terminal()
        on_signal(signum, frame)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    signal.signal(signal.SIGHUP, on_hangup)
    results: list[RunResult] = []
    live = sys.stderr.isatty() and args.output == "text" and not args.show_output
    for workflow in workflows:
        progress: Any = LiveProgress() if live else PlainProgress(show_output=args.show_output)
        request.listeners = [progress]
        run = WorkflowRun(request, loaded, workflow, resume=resume)
        current[:] = [run]
        progress.start(workflow, run.run_id)
        result = await run.execute()
        progress.finish(result)
        results.append(result)
        if interrupted:
            break
    return results, interrupted


def _detach_terminal() -> None:
    """Point stdout and stderr at /dev/null (after SIGHUP: writes to a closed tty fail)."""
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_WRONLY)
        for fd in (1, 2):
            with contextlib.suppress(OSError):
                os.dup2(null, fd)
        os.close(null)


def _write_reports(results: list[RunResult], args: argparse.Namespace) -> bool:
    """Write the reports asked for; False (after saying why) when one could not be written."""
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_engine.report import json_text, junit_xml

    written = True
    if args.junit:
        try:
            Path(args.junit).write_text(junit_xml(results), encoding="utf-8")
        except OSError as exc:
            print(f"error: cannot write JUnit report {args.junit}: {exc.strerror}", file=sys.stderr)
            written = False
    if args.output == "json":
        sys.stdout.write(json_text(results) + "\n")
        sys.stdout.flush()
    return written
