"""`completion bash|zsh|fish`: the shell's completion script, from argcomplete.

The script asks the program itself for completions (argcomplete runs the parser with
_ARGCOMPLETE set, see main.main), so every command, flag and choice completes as the parser
has it, with nothing kept by hand.

    source <(sloth-daemon completion bash)                 # bash, this shell
    sloth-daemon completion zsh > "${fpath[1]}/_sloth-daemon"  # zsh
    sloth-daemon completion fish > ~/.config/fish/completions/sloth-daemon.fish
"""

from __future__ import annotations

import argparse
from typing import Any

SHELLS = ("bash", "zsh", "fish")
PROGRAMS = ("sloth-daemon", "sloth-runner")


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    completion = sub.add_parser(
        "completion",
        help="print the shell completion script: bash, zsh or fish",
        description="Print a completion script for sloth-daemon and sloth-runner (argcomplete).",
    )
    completion.add_argument("shell", choices=SHELLS)
    completion.set_defaults(func=cmd_completion)


def cmd_completion(args: argparse.Namespace) -> int:
    import argcomplete

    print(argcomplete.shellcode(list(PROGRAMS), shell=args.shell))
    return 0


def complete(parser: argparse.ArgumentParser) -> None:
    """Answer the shell's completion request and exit (argcomplete does both)."""
    import argcomplete

    argcomplete.autocomplete(parser)
