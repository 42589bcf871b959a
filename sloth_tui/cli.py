"""`sloth-tui`: open the console on a master, on an embedded one, or serve it to a browser."""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sloth-tui",
        description="The Sloth Runner operator console: runs, agents, locks, stacks, schedules, events.",
    )
    parser.add_argument(
        "--master", metavar="HOST:PORT", help="the master (default: $SLOTH_MASTER or 127.0.0.1:50053)"
    )
    parser.add_argument("--token", default=os.environ.get("SLOTH_TOKEN"), help="bearer token ($SLOTH_TOKEN)")
    parser.add_argument("--tls-ca", metavar="PEM", help="CA of the master's certificate ($SLOTH_TLS_CA)")
    parser.add_argument("--tls-cert", metavar="PEM", help="client certificate, mutual TLS ($SLOTH_TLS_CERT)")
    parser.add_argument("--tls-key", metavar="PEM", help="its private key ($SLOTH_TLS_KEY)")
    parser.add_argument(
        "--embedded",
        action="store_true",
        help="start a master and a local agent here with the examples ($SLOTH_HOME or a temporary store)",
    )
    parser.add_argument("--home", type=Path, help="with --embedded: the store's folder")
    parser.add_argument(
        "--serve", action="store_true", help="serve the console to web browsers (textual-serve)"
    )
    parser.add_argument("--host", default="localhost", help="with --serve: address to listen on (localhost)")
    parser.add_argument("--port", type=int, default=8080, help="with --serve: port (8080)")
    parser.add_argument(
        "--public-url",
        metavar="URL",
        default=os.environ.get("SLOTH_TUI_PUBLIC_URL"),
        help="with --serve: the address browsers use, e.g. behind a reverse proxy"
        " ($SLOTH_TUI_PUBLIC_URL; default: the address each browser used)",
    )
    parser.add_argument(
        "--serve-password",
        default=os.environ.get("SLOTH_TUI_PASSWORD"),
        help="with --serve: the browsers' login ($SLOTH_TUI_PASSWORD; default: made and printed at start)",
    )
    parser.add_argument("--serve-cert", metavar="PEM", help="with --serve: serve HTTPS with this certificate")
    parser.add_argument("--serve-key", metavar="PEM", help="with --serve: its private key")
    parser.add_argument(
        "--insecure-public",
        action="store_true",
        help="with --serve: allow plain HTTP on an address beyond loopback (the login crosses in clear)",
    )
    parser.add_argument("--log", metavar="FILE", help="write diagnostics to FILE (never to the screen)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _quiet_logging(args.log)
    for flag in ("tls_ca", "tls_cert", "tls_key"):  # the client reads them (and --serve hands them down)
        if getattr(args, flag):
            os.environ[f"SLOTH_{flag.upper()}"] = getattr(args, flag)
    embedded = None
    if args.embedded:
        # lazy: `sloth-tui --help` and a console on a master load no daemon or app code they do not use
        from sloth_daemon.embedded import start_embedded

        # lazy: `sloth-tui --help` and a console on a master load no daemon or app code they do not use
        from sloth_engine.errors import SlothError

        home = args.home or (Path(os.environ["SLOTH_HOME"]) if os.environ.get("SLOTH_HOME") else None)
        print("starting an embedded master and agent…", file=sys.stderr, flush=True)
        try:
            embedded = start_embedded(home)
        except SlothError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        address = embedded.address
    else:
        # lazy: `sloth-tui --help` and a console on a master load no daemon or app code they do not use
        from sloth_daemon.client import DEFAULT_MASTER, master_address

        address = master_address(args.master) or DEFAULT_MASTER
    try:
        if args.serve:
            return serve(address, args.token, args)
        return run_console(address, args.token)
    finally:
        if embedded is not None:
            embedded.close()


def run_console(address: str, token: str | None) -> int:
    # lazy: `sloth-tui --help` and a console on a master load no daemon or app code they do not use
    from sloth_daemon.client import MasterClient

    # lazy: `sloth-tui --help` and a console on a master load no daemon or app code they do not use
    from sloth_tui.app import SlothApp

    app = SlothApp(MasterClient(address, token=token), address)
    app.run()
    return 0


def serve(address: str, token: str | None, args: argparse.Namespace) -> int:
    """Each browser session runs its own `sloth-tui` process on the same master, after a login."""
    # lazy: `sloth-tui --help` and a console on a master load no daemon or app code they do not use
    from sloth_tui.serve import ServeOptions, ServeRefused, announce, console_password, make_server

    password, made = console_password(args.serve_password)
    options = ServeOptions(
        args.host,
        args.port,
        password,
        args.serve_cert,
        args.serve_key,
        args.insecure_public,
        args.public_url.rstrip("/") if args.public_url else None,
    )
    command = [sys.executable, "-m", "sloth_tui", "--master", address]
    try:
        server = make_server(shlex.join(command), options)
    except ServeRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    os.environ.pop("SLOTH_TUI_PASSWORD", None)  # the console processes need no password
    if token:
        os.environ["SLOTH_TOKEN"] = token  # handed down through the environment, never to a page
    announce(options, made, address, bool(token))
    server.serve()
    return 0


def _quiet_logging(path: str | None) -> None:
    """The console draws on the terminal: diagnostics go to a file, or nowhere."""
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    root = logging.getLogger()
    if path:
        handler: logging.Handler = logging.FileHandler(path)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.setLevel(logging.INFO)
    else:
        handler = logging.NullHandler()
    root.addHandler(handler)


if __name__ == "__main__":
    sys.exit(main())
