"""The `sloth-daemon` / `sloth-runner` command line: wiring only; each command lives in its module."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence

from sloth_daemon import tracing
from sloth_engine import __version__
from sloth_engine.errors import SlothError

from .examples import add_examples
from .grammar import EXIT_CODES, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, exit_code_of
from .log_format import handler

COMMAND_MODULES = (
    "run_cmd",
    "workflow_cmd",
    "state_cmd",
    "runs_cmd",
    "master_cmd",
    "agent_cmd",
    "hook_cmd",
    "events_cmd",
    "secrets_cmd",
    "scheduler_cmd",
    "stack_cmd",
    "sysadmin_cmd",
    "token_cmd",
    "certs_cmd",
    "completion_cmd",
)
"""Module NAME_cmd registers the command NAME (main imports only the one a command line names)."""
CLIENT_FLAGS = {
    "token": "SLOTH_TOKEN",
    "tls_ca": "SLOTH_TLS_CA",
    "tls_cert": "SLOTH_TLS_CERT",
    "tls_key": "SLOTH_TLS_KEY",
}
"""Flags every command takes; a client (sloth_daemon.client) reads them from the environment."""
NAME = "sloth-runner"
"""What `--version` and `version` print first (the product; both programs are it)."""
GLOBAL_FLAGS = {
    "--master": "master",
    "--token": "token",
    "--log-level": "log_level",
    "--log-format": "log_format",
    "--db": "db",
}
"""Flags accepted anywhere before `--`, before or after the subcommand (hoisted out of argv)."""


LOG_FORMATS = ("text", "json")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser(commands: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser with every command, or only with `commands` (each command's module is
    imported to register it: importing all of them costs a process ~60 ms of its start-up)."""
    prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "sloth-daemon"
    if prog not in ("sloth-daemon", "sloth-runner"):
        prog = "sloth-daemon"
    parser = _Parser(
        prog=prog,
        description="Sloth Runner: Lua workflows run as a DAG on this machine or across agents.",
        epilog=EXIT_CODES + "\n\nEvery command takes -h for its flags and examples.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{NAME} {__version__}")
    parser.add_argument(
        "--log-level",
        default=os.environ.get("SLOTH_LOG_LEVEL", "warning"),
        choices=("debug", "info", "warning", "error"),
        help="diagnostics on stderr",
    )
    parser.add_argument(
        "--log-format",
        default=os.environ.get("SLOTH_LOG_FORMAT", "text"),
        choices=LOG_FORMATS,
        help="diagnostics as timestamped text lines or one JSON object per line ($SLOTH_LOG_FORMAT)",
    )
    common = _Parser(add_help=False)
    common.add_argument(
        "--db",
        default=None,
        metavar="URL",
        help="store URL (default: $SLOTH_DB or sqlite:///$SLOTH_HOME/sloth.db)",
    )
    common.add_argument(
        "--master", metavar="HOST:PORT[,...]", help="work through this master ($SLOTH_MASTER)"
    )
    common.add_argument("--token", default=None, help="bearer token for the master ($SLOTH_TOKEN)")
    common.add_argument("--tls-ca", default=None, metavar="PEM", help="CA to trust / to require of clients")
    common.add_argument(
        "--tls-cert", default=None, metavar="PEM", help="certificate to present ($SLOTH_TLS_CERT)"
    )
    common.add_argument("--tls-key", default=None, metavar="PEM", help="its private key ($SLOTH_TLS_KEY)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    version = sub.add_parser("version", help="print the version (as --version does)")
    version.set_defaults(func=lambda args: print(f"{NAME} {__version__}") or 0)
    for name in COMMAND_MODULES if commands is None else [f"{c}_cmd" for c in commands]:
        try:
            module = importlib.import_module(f"sloth_daemon.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"sloth_daemon.cli.{name}":
                raise
            continue
        module.register(sub, [common])
    add_examples(parser)
    return parser


def setup_logging(level: str, form: str) -> None:
    """Diagnostics on stderr: `2026-12-04T17:59:14.123Z WARNING name: message`, or JSON lines."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler(form, sys.stderr))
    root.setLevel(level.upper())


def script_form(argv: Sequence[str]) -> list[str]:
    """`sloth-runner FILE [args]` (an executable workflow's `#!/usr/bin/env sloth-runner`) is
    `sloth-runner run FILE [args]`."""
    args = list(argv)
    if args and not args[0].startswith("-") and os.path.isfile(args[0]):
        args.insert(0, "run")
    return args


def hoist_globals(argv: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """argv without the global flags (`--master X`, `--db=URL`, ...), and their values. Stops
    at `--`: what follows belongs to a command run elsewhere (`agent exec NAME -- ...`)."""
    rest: list[str] = []
    found: dict[str, str] = {}
    items = list(argv)
    i = 0
    while i < len(items):
        item = items[i]
        if item == "--":
            rest.extend(items[i:])
            break
        flag, eq, value = item.partition("=")
        if flag in GLOBAL_FLAGS and (eq or i + 1 < len(items)):
            if not eq:
                i += 1
                value = items[i]
            found[GLOBAL_FLAGS[flag]] = value
        else:
            rest.append(item)
        i += 1
    return rest, found


def parser_for(argv: Sequence[str]) -> argparse.ArgumentParser:
    """The parser `argv` needs: the named command's alone, or every command (help, a typo)."""
    words = [a for a in argv if not a.startswith("-")]
    if words and f"{words[0]}_cmd" in COMMAND_MODULES:
        return build_parser([words[0]])
    if list(argv) == ["--version"]:
        return build_parser([])
    return build_parser()


def main(argv: Sequence[str] | None = None) -> int:
    if "_ARGCOMPLETE" in os.environ:  # a shell asks for completions (`completion bash|zsh|fish`)
        # lazy: a command module, imported only when a shell asks for completions
        from .completion_cmd import complete

        complete(build_parser())
    rest, hoisted = hoist_globals(script_form(sys.argv[1:] if argv is None else argv))
    parser = parser_for(rest)
    if hoisted.get("log_level") not in (None, "debug", "info", "warning", "error"):
        parser.error(f"argument --log-level: invalid choice: '{hoisted['log_level']}'")
    if hoisted.get("log_format") not in (None, *LOG_FORMATS):
        parser.error(f"argument --log-format: invalid choice: '{hoisted['log_format']}'")
    args = parser.parse_args(rest)
    for name, value in hoisted.items():
        setattr(args, name, value)
    setup_logging(args.log_level, args.log_format)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    if os.environ.get("SLOTH_PARENT_PID"):
        # lazy: loaded when this command runs, not for --help (it loads every command module)
        from sloth_daemon.parent_watch import watch_parent_from_env

        watch_parent_from_env()  # started by a console (--embedded): end with it
    for flag, variable in CLIENT_FLAGS.items():
        if getattr(args, flag, None):
            os.environ[variable] = getattr(args, flag)
    stop_tracing = _tracing(args.command)
    try:
        return int(args.func(args) or 0)
    except SlothError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exit_code_of(exc)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_FAILED
    except Exception as exc:  # the boundary: never a traceback for the user
        if os.environ.get("SLOTH_DEBUG"):
            raise
        print(f"error: {exc or 'unexpected error'} (set SLOTH_DEBUG=1 for details)", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if stop_tracing is not None:
            stop_tracing()


def _tracing(command: str) -> Callable[[], None] | None:
    """OpenTelemetry when the environment asks for it (sloth_daemon/tracing.py); else nothing
    of it is imported."""
    if not tracing.wanted():
        return None
    try:
        return tracing.start(f"sloth-{command}")
    except Exception as exc:  # a bad exporter setting must not stop the command
        print(f"warning: tracing is off: {exc}", file=sys.stderr)
        return None


if __name__ == "__main__":
    sys.exit(main())
