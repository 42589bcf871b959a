"""GetRun and GetRunLogs answer in pages: a run of 100,000 tasks does not fit one message.

A page holds at most `page_size` rows and stays under PAGE_BYTES; its `next_page_token` (opaque
to clients: "a<row id>" after an attempt, "l<offset>" into the lines) asks for the next one.
"""

from __future__ import annotations

from sloth_daemon.gen.sloth.v1 import master_pb2 as mpb
from sloth_daemon.wire import attempt_to_proto, log_to_proto, run_to_proto
from sloth_engine.errors import NotFound, UsageError
from sloth_engine.store import Store
from sloth_engine.store.run_refs import resolve_run_id

DEFAULT_PAGE = 5000
MAX_PAGE = 20_000
PAGE_BYTES = 4 * 1024 * 1024
"""A page stops growing past this (the master sends messages of 8 MiB at most)."""


def _size(requested: int) -> int:
    if requested < 0:
        raise UsageError("page_size must not be negative")
    return min(MAX_PAGE, requested or DEFAULT_PAGE)


def _token(token: str, kind: str) -> int:
    if not token:
        return 0
    if not token.startswith(kind) or not token[1:].isdigit():
        raise UsageError(f"page_token '{token[:40]}' is not a token of this call")
    return int(token[1:])


def run_page(store: Store, request: mpb.GetRunRequest) -> mpb.RunInfo:
    """The run and one page of its attempts, in the order they were first recorded. The run
    may be named by `last` or a unique prefix of its id (sloth_engine.store.run_refs)."""
    run = store.runs.get_run(request.run_id, with_tasks=False)
    if run is None:
        run = store.runs.get_run(resolve_run_id(store, request.run_id), with_tasks=False)
        if run is None:
            raise NotFound(f"no run {request.run_id}")
    after, size = _token(request.page_token, "a"), _size(request.page_size)
    info = run_to_proto(run)
    rows = store.runs.attempts_page(run["run_id"], after, size)
    used = info.ByteSize()
    for row_id, attempt in rows:
        message = attempt_to_proto(attempt)
        used += message.ByteSize() + 8
        if used > PAGE_BYTES and info.tasks:
            info.next_page_token = f"a{after}"
            return info
        info.tasks.append(message)
        after = row_id
    if len(rows) == size:
        info.next_page_token = f"a{after}"
    return info


def logs_page(store: Store, request: mpb.GetRunLogsRequest) -> mpb.GetRunLogsResponse:
    if store.runs.get_run(request.run_id, with_tasks=False) is None:
        raise NotFound(f"no run {request.run_id}")
    offset, size = _token(request.page_token, "l"), _size(request.page_size)
    rows = store.runs.get_logs(request.run_id, request.task or None, offset, size)
    answer = mpb.GetRunLogsResponse()
    used = 0
    for row in rows:
        line = log_to_proto(row)
        used += line.ByteSize() + 8
        if used > PAGE_BYTES and answer.lines:
            answer.next_page_token = f"l{offset}"
            return answer
        answer.lines.append(line)
        offset += 1
    if len(rows) == size:
        answer.next_page_token = f"l{offset}"
    return answer
