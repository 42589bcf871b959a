"""The grammar every command shares: `-o/--output`, `--yes`, the exit codes.

- `-o/--output text|json` on each command that prints data; `--json` and `--format FORMAT`
  stay as hidden aliases (older scripts).
- `--yes` (`-y`; hidden aliases `--auto-approve`, and `--force` where it only confirmed) on
  each command that asks before it changes something.
- Exit codes: see EXIT_CODES (also in `sloth-daemon --help` and README.md).
"""

from __future__ import annotations

import argparse
import sys

from sloth_daemon.errors import MasterUnavailable
from sloth_engine.errors import ConfigurationError, DslError, UsageError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNRECORDED = 3
EXIT_UNREACHABLE = 4
EXIT_INTERRUPTED = 130

EXIT_CODES = """exit codes:
  0    success
  1    a task, run or check failed, or the master refused the request
  2    bad usage or invalid input (unknown flag, bad value, invalid workflow, ambiguous run id)
  3    the run ended but its outcome is not recorded yet (see docs/HA.md)
  4    cannot reach the master (--master / $SLOTH_MASTER): down, unreachable, or no leader
  130  interrupted (Ctrl-C)"""

OUTPUTS = ("text", "json")


def add_output(
    parser: argparse.ArgumentParser,
    formats: tuple[str, ...] = OUTPUTS,
    default: str = "text",
    legacy_format: bool = True,
) -> None:
    """`-o/--output FORMAT` (dest `output`), with `--json` (and `--format`) as hidden aliases."""
    parser.add_argument(
        "-o",
        "--output",
        choices=formats,
        default=default,
        metavar="|".join(formats),
        help=f"output format (default {default})",
    )
    parser.add_argument("--json", dest="output", action="store_const", const="json", help=argparse.SUPPRESS)
    if legacy_format:
        parser.add_argument("--format", dest="output", choices=formats, help=argparse.SUPPRESS)


def add_output_or_file(
    parser: argparse.ArgumentParser,
    formats: tuple[str, ...],
    default: str,
    file_flags: tuple[str, ...],
    file_help: str,
    file_required: bool = False,
) -> None:
    """`-o/--output FORMAT` and `--out FILE` where `-o FILE` (and `--format FORMAT`) once meant
    the file (the format): `-o VALUE` that is no format name is still read as the file."""
    parser.add_argument(
        "-o",
        "--output",
        default=None,
        metavar="|".join(formats),
        help=f"output format (default {default}); an older `-o FILE` still means {file_flags[0]} FILE",
    )
    parser.add_argument(*file_flags, dest="out_file", metavar="FILE", help=file_help)
    parser.add_argument("--format", dest="legacy_format", choices=formats, help=argparse.SUPPRESS)
    if "json" in formats:
        parser.add_argument(
            "--json", dest="output", action="store_const", const="json", help=argparse.SUPPRESS
        )
    parser.set_defaults(output_formats=formats, output_default=default, out_file_required=file_required)


def output_and_file(args: argparse.Namespace) -> tuple[str, str | None]:
    """(format, file or None) of a command set up by add_output_or_file."""
    formats: tuple[str, ...] = args.output_formats
    form = args.legacy_format or args.output_default
    value, out = args.output, args.out_file
    if value in formats:
        form = value
    elif value is not None:
        if out is not None:
            raise UsageError(f"-o/--output: expected one of {', '.join(formats)}, got '{value}'")
        out = value  # the older `-o FILE`
    if out is None and args.out_file_required:
        raise UsageError("where should it go? give --out FILE")
    args.output = form
    return form, out


def as_json(args: argparse.Namespace) -> bool:
    return getattr(args, "output", "text") == "json"


def add_yes(parser: argparse.ArgumentParser, help: str, force_alias: bool = False) -> None:
    """`--yes/-y` (dest `yes`); `--auto-approve` always, and `--force` when it only confirmed."""
    parser.add_argument("--yes", "-y", dest="yes", action="store_true", help=help)
    hidden = ["--auto-approve"] + (["--force"] if force_alias else [])
    parser.add_argument(*hidden, dest="yes", action="store_true", help=argparse.SUPPRESS)


def confirm(question: str, yes: bool) -> bool:
    """True with --yes, or when the user answers yes on a terminal; False off a terminal."""
    if yes:
        return True
    if not sys.stdin.isatty():
        return False
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def exit_code_of(exc: BaseException) -> int:
    """The exit code of a project error: 2 bad usage, 4 master unreachable, else 1."""
    if isinstance(exc, (UsageError, DslError, ConfigurationError)):
        return EXIT_USAGE
    if isinstance(exc, MasterUnavailable):
        return EXIT_UNREACHABLE
    return EXIT_FAILED
