"""Sloth Runner engine: the Lua DSL, the DAG executor, the Lua modules and the store."""

__version__ = "0.1.0"
