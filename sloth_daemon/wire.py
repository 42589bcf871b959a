"""Between the engine's plain data and the protobuf messages of sloth.v1 (both directions)."""

from __future__ import annotations

import json
from typing import Any

from sloth_daemon.gen.sloth.v1 import agent_pb2 as apb
from sloth_daemon.gen.sloth.v1 import master_pb2 as mpb
from sloth_engine.bounded_input import parse_json_object
from sloth_engine.errors import UsageError
from sloth_engine.executor.results import AttemptOutcome, RunEvent, RunResult, TaskResult
from sloth_engine.spec import RunStatus, TaskStatus

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)


def to_json(value: Any) -> bytes:
    return _encoder.encode(value).encode("utf-8")


def from_json(data: bytes, what: str, default: Any = None) -> Any:
    """Decode a JSON field; UsageError (INVALID_ARGUMENT on the wire) when it is not JSON."""
    if not data:
        return {} if default is None else default
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{what} is not valid JSON: {exc}") from None


def json_object(data: bytes, what: str) -> dict[str, Any]:
    """A JSON object sent by a client: size, depth and expansion bounded (INVALID_ARGUMENT)."""
    return parse_json_object(data, what)


# ---- task results -------------------------------------------------------------------------


def outcome_to_proto(ref: apb.TaskRef, outcome: AttemptOutcome) -> apb.TaskResult:
    msg = apb.TaskResult(
        ref=ref,
        status=outcome.status.value,
        message=outcome.message,
        error=outcome.error,
        outputs_json=to_json(outcome.outputs) if outcome.outputs else b"",
    )
    if outcome.exit_code is not None:
        msg.exit_code = outcome.exit_code
    msg.final = outcome.final
    return msg


def outcome_from_proto(msg: apb.TaskResult) -> AttemptOutcome:
    try:
        status = TaskStatus(msg.status)
    except ValueError:
        status = TaskStatus.FAILED
    if not status.finished:
        status = TaskStatus.FAILED
    outputs = from_json(msg.outputs_json, "outputs") if msg.outputs_json else {}
    return AttemptOutcome(
        status,
        msg.message,
        msg.error,
        outputs if isinstance(outputs, dict) else {"value": outputs},
        msg.exit_code if msg.HasField("exit_code") else None,
        final=msg.final,
    )


# ---- run events and reports -----------------------------------------------------------------


def event_to_proto(event: RunEvent) -> mpb.RunEvent:
    return mpb.RunEvent(
        kind=event.kind,
        run_id=event.run_id,
        workflow=event.workflow,
        ts=event.ts,
        task=event.task or "",
        attempt=event.attempt,
        status=event.status,
        data_json=to_json(event.data) if event.data else b"",
    )


def event_from_proto(msg: mpb.RunEvent) -> RunEvent:
    data = from_json(msg.data_json, "event data") if msg.data_json else {}
    return RunEvent(
        msg.kind, msg.run_id, msg.workflow, msg.ts, msg.task or None, msg.attempt, msg.status, data
    )


def report_to_proto(result: RunResult) -> mpb.RunReport:
    return mpb.RunReport(
        run_id=result.run_id,
        workflow=result.workflow,
        status=result.status.value,
        duration_s=result.duration_s,
        error=result.error,
        started_at=result.started_at,
        unrecorded=result.unrecorded,
        tasks=[
            mpb.TaskReport(
                name=t.name,
                status=t.status.value,
                attempts=t.attempts,
                duration_s=t.duration_s,
                agent=t.agent,
                message=t.message,
                error=t.error,
                outputs_json=to_json(t.outputs) if t.outputs else b"",
                changes=t.changes,
            )
            for t in result.tasks
        ],
    )


def report_from_proto(msg: mpb.RunReport) -> RunResult:
    tasks = [
        TaskResult(
            t.name,
            TaskStatus(t.status),
            t.attempts,
            duration_s=t.duration_s,
            agent=t.agent,
            message=t.message,
            error=t.error,
            outputs=from_json(t.outputs_json, "outputs") if t.outputs_json else {},
            changes=t.changes,
        )
        for t in msg.tasks
    ]
    return RunResult(
        msg.run_id,
        msg.workflow,
        RunStatus(msg.status),
        msg.duration_s,
        tasks,
        msg.error,
        msg.started_at,
        msg.unrecorded,
    )


# ---- runs as the store keeps them -----------------------------------------------------------


def run_to_proto(run: dict[str, Any]) -> mpb.RunInfo:
    info = mpb.RunInfo(
        run_id=run["run_id"],
        workflow=run.get("workflow") or "",
        file=run.get("file") or "",
        stack=run.get("stack") or "",
        status=run.get("status") or "",
        started_at=run.get("started_at") or 0.0,
        finished_at=run.get("finished_at") or 0.0,
        duration_s=run.get("duration_s") or 0.0,
        error=run.get("error") or "",
        params_json=to_json(run.get("params") or {}),
    )
    for a in run.get("tasks") or ():
        info.tasks.append(attempt_to_proto(a))
    return info


def attempt_to_proto(a: dict[str, Any]) -> mpb.TaskAttempt:
    attempt = mpb.TaskAttempt(
        task=a["task"],
        attempt=a["attempt"],
        status=a.get("status") or "",
        started_at=a.get("started_at") or 0.0,
        finished_at=a.get("finished_at") or 0.0,
        duration_s=a.get("duration_s") or 0.0,
        agent=a.get("agent") or "",
        message=a.get("message") or "",
        error=a.get("error") or "",
        outputs_json=to_json(a["outputs"]) if a.get("outputs") is not None else b"",
    )
    if a.get("exit_code") is not None:
        attempt.exit_code = a["exit_code"]
    return attempt


def run_from_proto(info: mpb.RunInfo, with_tasks: bool = True) -> dict[str, Any]:
    """The same dict shape as `store.runs.get_run` (so CLI renderers serve both paths)."""
    run: dict[str, Any] = {
        "run_id": info.run_id,
        "workflow": info.workflow,
        "file": info.file,
        "stack": info.stack or None,
        "status": info.status,
        "started_at": info.started_at or None,
        "finished_at": info.finished_at or None,
        "duration_s": info.duration_s if info.finished_at else None,
        "error": info.error or None,
        "params": from_json(info.params_json, "params") if info.params_json else {},
    }
    if with_tasks:
        run["tasks"] = [
            {
                "run_id": info.run_id,
                "task": a.task,
                "attempt": a.attempt,
                "status": a.status,
                "started_at": a.started_at or None,
                "finished_at": a.finished_at or None,
                "duration_s": a.duration_s if a.finished_at else None,
                "agent": a.agent or None,
                "message": a.message or None,
                "error": a.error or None,
                "outputs": from_json(a.outputs_json, "outputs") if a.outputs_json else None,
                "exit_code": a.exit_code if a.HasField("exit_code") else None,
            }
            for a in info.tasks
        ]
    return run


def log_to_proto(row: dict[str, Any]) -> mpb.LogLine:
    return mpb.LogLine(
        task=row["task"],
        attempt=row["attempt"],
        stream=row["stream"],
        seq=row["seq"],
        ts=row["ts"],
        line=row["line"],
    )


def log_from_proto(msg: mpb.LogLine) -> dict[str, Any]:
    return {
        "task": msg.task,
        "attempt": msg.attempt,
        "stream": msg.stream,
        "seq": msg.seq,
        "ts": msg.ts,
        "line": msg.line,
    }


def metrics_to_dict(m: apb.Metrics) -> dict[str, Any]:
    return {
        "cpu_percent": m.cpu_percent,
        "mem_percent": m.mem_percent,
        "mem_total": m.mem_total,
        "mem_used": m.mem_used,
        "disk_percent": m.disk_percent,
        "disk_total": m.disk_total,
        "disk_used": m.disk_used,
        "load": [m.load1, m.load5, m.load15],
        "uptime_s": m.uptime_s,
        "running_tasks": m.running_tasks,
        "ts": m.ts,
    }


def metrics_from_dict(d: dict[str, Any]) -> apb.Metrics:
    load = list(d.get("load") or [0.0, 0.0, 0.0]) + [0.0, 0.0, 0.0]
    return apb.Metrics(
        cpu_percent=d.get("cpu_percent", 0.0),
        mem_percent=d.get("mem_percent", 0.0),
        mem_total=int(d.get("mem_total", 0)),
        mem_used=int(d.get("mem_used", 0)),
        disk_percent=d.get("disk_percent", 0.0),
        disk_total=int(d.get("disk_total", 0)),
        disk_used=int(d.get("disk_used", 0)),
        load1=load[0],
        load5=load[1],
        load15=load[2],
        uptime_s=d.get("uptime_s", 0.0),
        running_tasks=int(d.get("running_tasks", 0)),
        ts=d.get("ts", 0.0),
    )


def agent_from_proto(info: mpb.AgentInfo) -> dict[str, Any]:
    """An agent as a plain dict (CLI and console)."""
    return {
        "name": info.name,
        "address": info.address,
        "tags": dict(info.tags),
        "status": info.status,
        "version": info.version,
        "max_tasks": info.max_tasks,
        "running_tasks": info.running_tasks,
        "registered_at": info.registered_at or None,
        "connected_at": info.connected_at or None,
        "last_heartbeat": info.last_heartbeat or None,
        "heartbeat_interval_s": info.heartbeat_interval_s,
        "metrics": metrics_to_dict(info.metrics) if info.HasField("metrics") else {},
        "facts": from_json(info.facts_json, "facts") if info.facts_json else {},
        "modules": list(info.modules),
    }


# ---- events and workflows -------------------------------------------------------------------


def event_info_to_proto(event: dict[str, Any]) -> mpb.EventInfo:
    return mpb.EventInfo(
        id=int(event.get("id") or 0),
        ts=float(event.get("ts") or 0.0),
        type=str(event["type"]),
        severity=str(event.get("severity") or "info"),
        source=str(event.get("source") or ""),
        stack=str(event.get("stack") or ""),
        run_id=str(event.get("run_id") or ""),
        data_json=to_json(event.get("data") or {}),
    )


def event_info_from_proto(msg: mpb.EventInfo) -> dict[str, Any]:
    return {
        "id": msg.id or None,
        "ts": msg.ts,
        "type": msg.type,
        "severity": msg.severity,
        "source": msg.source,
        "stack": msg.stack or None,
        "run_id": msg.run_id or None,
        "data": from_json(msg.data_json, "event data"),
    }


def workflow_info_to_proto(row: dict[str, Any]) -> mpb.WorkflowInfo:
    return mpb.WorkflowInfo(
        file=row["file"],
        workflow=row["workflow"],
        tasks=row["tasks"],
        description=row["description"] or "",
        loaded_at=row["loaded_at"],
        error=row["error"] or "",
        error_line=row["error_line"] or 0,
    )


def workflow_info_from_proto(msg: mpb.WorkflowInfo) -> dict[str, Any]:
    return {
        "file": msg.file,
        "workflow": msg.workflow or None,
        "tasks": msg.tasks,
        "description": msg.description,
        "loaded_at": msg.loaded_at,
        "error": msg.error or None,
        "error_line": msg.error_line or None,
    }
