"""Sloth Runner daemons (master, agent), the gRPC client library and the command line."""
