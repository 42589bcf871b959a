"""`--master` on the commands that always had it (the flag is also hoisted from anywhere)."""

from __future__ import annotations

import argparse


def add_master_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--master", metavar="HOST:PORT", help="ask this master instead of the local store")
