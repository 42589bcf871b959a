"""The `stack` subcommands, one module per group (core, lock, snapshot, drift, deps/validate)."""
