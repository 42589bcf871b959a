"""The asyncio DAG executor and the pieces it drives (shell, Lua pool, artifacts, recorder)."""
