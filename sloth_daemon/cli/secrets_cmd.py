"""`secrets set|get|list|delete`: values encrypted in the store, per stack.

The key comes from SLOTH_SECRETS_KEY_FILE, else SLOTH_SECRETS_PASSPHRASE, else a prompt on a
terminal. `list` shows names and dates only and needs no key. With --master ($SLOTH_MASTER) the
master's key is used (sloth_daemon.gateway): `set` sends the value to it, `list` and `delete` work
for an operator, and `get` is answered only by a master started with --auth, to an admin token.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sloth_daemon.gateway import open_gateway, with_gateway
from sloth_engine.errors import UsageError

from .grammar import add_output, as_json
from .store_access import print_json, print_table, when

if TYPE_CHECKING:
    from sloth_daemon.gateway.local import LocalSecrets

DEFAULT_STACK = "default"


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    secrets = sub.add_parser("secrets", help="encrypted secrets that workflows name in config.secrets")
    ssub = secrets.add_subparsers(dest="secrets_command", metavar="COMMAND", required=True)

    def command(name: str, help: str, handler: Any) -> argparse.ArgumentParser:
        parser = ssub.add_parser(name, help=help, parents=parents)
        parser.set_defaults(func=with_gateway(handler, _gateway))
        parser.add_argument("--stack", "-s", default=DEFAULT_STACK, help="the stack (default: default)")
        return parser

    put = command("set", "store a secret (the value from stdin, a file, or a YAML mapping)", cmd_set)
    put.add_argument("name", nargs="?", help="the secret's name (with --from-yaml: only this key)")
    source = put.add_mutually_exclusive_group()
    source.add_argument("--from-file", metavar="PATH", help="the value is this file's content")
    source.add_argument("--from-yaml", metavar="PATH", help="every NAME: VALUE of this YAML mapping")
    get = command("get", "print a secret's value", cmd_get)
    get.add_argument("name")
    add_output(get)
    lst = command("list", "names and dates, never values", cmd_list)
    add_output(lst)
    delete = command("delete", "remove a secret", cmd_delete)
    delete.add_argument("name")


def key_for_cli() -> Any:
    """The key material from the environment, else asked for on a terminal."""
    import getpass

    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_engine.secrets.keys import key_material

    prompt = (lambda: getpass.getpass("secrets passphrase: ")) if sys.stdin.isatty() else None
    return key_material(prompt=prompt)


def _gateway(args: argparse.Namespace) -> Any:
    """The gateway; locally, its key is the CLI's (the environment, else a prompt)."""
    gateway = open_gateway(args)
    if not gateway.remote:
        cast("LocalSecrets", gateway.secrets).key = key_for_cli
    return gateway


def cmd_set(args: argparse.Namespace, gateway: Any) -> int:
    values = _values(args)
    for name, value in values.items():
        created = gateway.secrets.set(args.stack, name, value)
        print(f"secret {name} ({args.stack}): {'created' if created else 'updated'}", file=sys.stderr)
    return 0


def _values(args: argparse.Namespace) -> dict[str, str]:
    if args.from_yaml:
        return _from_yaml(Path(args.from_yaml), args.name)
    if not args.name:
        raise UsageError("secrets set needs a NAME (or --from-yaml FILE)")
    if args.from_file:
        try:
            return {args.name: Path(args.from_file).read_text(encoding="utf-8")}
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {args.from_file}: {exc}") from None
    if sys.stdin.isatty():
        import getpass

        return {args.name: getpass.getpass(f"value of {args.name}: ")}
    text = sys.stdin.read()
    return {args.name: text[:-1] if text.endswith("\n") else text}


def _from_yaml(path: Path, only: str | None) -> dict[str, str]:
    import json

    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(data, dict) or not data:
        raise UsageError(f"{path}: expected a mapping of NAME: VALUE")
    values = {
        str(k): v if isinstance(v, str) else json.dumps(v, default=str)
        for k, v in data.items()
        if v is not None
    }
    if only is not None:
        if only not in values:
            raise UsageError(f"{path} has no key '{only}'")
        return {only: values[only]}
    return values


def cmd_get(args: argparse.Namespace, gateway: Any) -> int:
    value = gateway.secrets.get(args.stack, args.name)
    if as_json(args):
        print_json({"stack": args.stack, "name": args.name, "value": value})
        return 0
    sys.stdout.write(value if value.endswith("\n") else value + "\n")
    return 0


def cmd_list(args: argparse.Namespace, gateway: Any) -> int:
    infos = gateway.secrets.list(args.stack)
    if as_json(args):
        print_json([info._asdict() for info in infos])
        return 0
    if not infos:
        print(f"no secrets in stack '{args.stack}'", file=sys.stderr)
        return 0
    print_table(
        ("NAME", "STACK", "CREATED", "UPDATED"),
        [(i.name, i.stack, when(i.created_at), when(i.updated_at)) for i in infos],
    )
    return 0


def cmd_delete(args: argparse.Namespace, gateway: Any) -> int:
    gateway.secrets.delete(args.stack, args.name)
    return 0
