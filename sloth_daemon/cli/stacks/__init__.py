"""The `stack` subcommands, one module per group (core, lock, snapshot, drift, deps/validate)."""

from __future__ import annotations
