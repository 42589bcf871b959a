from sloth_daemon.gen.sloth.v1 import agent_pb2 as _agent_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SubmitRunRequest(_message.Message):
    __slots__ = ("path", "source", "workflow", "values_json", "params_json", "max_parallel", "stack", "delegate_to")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    VALUES_JSON_FIELD_NUMBER: _ClassVar[int]
    PARAMS_JSON_FIELD_NUMBER: _ClassVar[int]
    MAX_PARALLEL_FIELD_NUMBER: _ClassVar[int]
    STACK_FIELD_NUMBER: _ClassVar[int]
    DELEGATE_TO_FIELD_NUMBER: _ClassVar[int]
    path: str
    source: str
    workflow: str
    values_json: bytes
    params_json: bytes
    max_parallel: int
    stack: str
    delegate_to: str
    def __init__(self, path: _Optional[str] = ..., source: _Optional[str] = ..., workflow: _Optional[str] = ..., values_json: _Optional[bytes] = ..., params_json: _Optional[bytes] = ..., max_parallel: _Optional[int] = ..., stack: _Optional[str] = ..., delegate_to: _Optional[str] = ...) -> None: ...

class PlannedRun(_message.Message):
    __slots__ = ("run_id", "workflow", "tasks")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    workflow: str
    tasks: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, run_id: _Optional[str] = ..., workflow: _Optional[str] = ..., tasks: _Optional[_Iterable[str]] = ...) -> None: ...

class SubmitRunResponse(_message.Message):
    __slots__ = ("runs",)
    RUNS_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[PlannedRun]
    def __init__(self, runs: _Optional[_Iterable[_Union[PlannedRun, _Mapping]]] = ...) -> None: ...

class GetRunRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class TaskAttempt(_message.Message):
    __slots__ = ("task", "attempt", "status", "started_at", "finished_at", "duration_s", "agent", "message", "error", "outputs_json", "exit_code")
    TASK_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_JSON_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    task: str
    attempt: int
    status: str
    started_at: float
    finished_at: float
    duration_s: float
    agent: str
    message: str
    error: str
    outputs_json: bytes
    exit_code: int
    def __init__(self, task: _Optional[str] = ..., attempt: _Optional[int] = ..., status: _Optional[str] = ..., started_at: _Optional[float] = ..., finished_at: _Optional[float] = ..., duration_s: _Optional[float] = ..., agent: _Optional[str] = ..., message: _Optional[str] = ..., error: _Optional[str] = ..., outputs_json: _Optional[bytes] = ..., exit_code: _Optional[int] = ...) -> None: ...

class RunInfo(_message.Message):
    __slots__ = ("run_id", "workflow", "file", "stack", "status", "started_at", "finished_at", "duration_s", "error", "params_json", "tasks")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    STACK_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    PARAMS_JSON_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    workflow: str
    file: str
    stack: str
    status: str
    started_at: float
    finished_at: float
    duration_s: float
    error: str
    params_json: bytes
    tasks: _containers.RepeatedCompositeFieldContainer[TaskAttempt]
    def __init__(self, run_id: _Optional[str] = ..., workflow: _Optional[str] = ..., file: _Optional[str] = ..., stack: _Optional[str] = ..., status: _Optional[str] = ..., started_at: _Optional[float] = ..., finished_at: _Optional[float] = ..., duration_s: _Optional[float] = ..., error: _Optional[str] = ..., params_json: _Optional[bytes] = ..., tasks: _Optional[_Iterable[_Union[TaskAttempt, _Mapping]]] = ...) -> None: ...

class ListRunsRequest(_message.Message):
    __slots__ = ("workflow", "status", "limit")
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    workflow: str
    status: str
    limit: int
    def __init__(self, workflow: _Optional[str] = ..., status: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListRunsResponse(_message.Message):
    __slots__ = ("runs",)
    RUNS_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[RunInfo]
    def __init__(self, runs: _Optional[_Iterable[_Union[RunInfo, _Mapping]]] = ...) -> None: ...

class CancelRunRequest(_message.Message):
    __slots__ = ("run_id", "reason")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    reason: str
    def __init__(self, run_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelRunResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetRunLogsRequest(_message.Message):
    __slots__ = ("run_id", "task")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    task: str
    def __init__(self, run_id: _Optional[str] = ..., task: _Optional[str] = ...) -> None: ...

class LogLine(_message.Message):
    __slots__ = ("task", "attempt", "stream", "seq", "ts", "line")
    TASK_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TS_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    task: str
    attempt: int
    stream: str
    seq: int
    ts: float
    line: str
    def __init__(self, task: _Optional[str] = ..., attempt: _Optional[int] = ..., stream: _Optional[str] = ..., seq: _Optional[int] = ..., ts: _Optional[float] = ..., line: _Optional[str] = ...) -> None: ...

class GetRunLogsResponse(_message.Message):
    __slots__ = ("lines",)
    LINES_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedCompositeFieldContainer[LogLine]
    def __init__(self, lines: _Optional[_Iterable[_Union[LogLine, _Mapping]]] = ...) -> None: ...

class WatchRunRequest(_message.Message):
    __slots__ = ("run_id", "epoch", "after_seq", "report_only")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    REPORT_ONLY_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    epoch: str
    after_seq: int
    report_only: bool
    def __init__(self, run_id: _Optional[str] = ..., epoch: _Optional[str] = ..., after_seq: _Optional[int] = ..., report_only: _Optional[bool] = ...) -> None: ...

class RunEvent(_message.Message):
    __slots__ = ("kind", "run_id", "workflow", "ts", "task", "attempt", "status", "data_json")
    KIND_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    TS_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DATA_JSON_FIELD_NUMBER: _ClassVar[int]
    kind: str
    run_id: str
    workflow: str
    ts: float
    task: str
    attempt: int
    status: str
    data_json: bytes
    def __init__(self, kind: _Optional[str] = ..., run_id: _Optional[str] = ..., workflow: _Optional[str] = ..., ts: _Optional[float] = ..., task: _Optional[str] = ..., attempt: _Optional[int] = ..., status: _Optional[str] = ..., data_json: _Optional[bytes] = ...) -> None: ...

class TaskReport(_message.Message):
    __slots__ = ("name", "status", "attempts", "duration_s", "agent", "message", "error", "outputs_json")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_JSON_FIELD_NUMBER: _ClassVar[int]
    name: str
    status: str
    attempts: int
    duration_s: float
    agent: str
    message: str
    error: str
    outputs_json: bytes
    def __init__(self, name: _Optional[str] = ..., status: _Optional[str] = ..., attempts: _Optional[int] = ..., duration_s: _Optional[float] = ..., agent: _Optional[str] = ..., message: _Optional[str] = ..., error: _Optional[str] = ..., outputs_json: _Optional[bytes] = ...) -> None: ...

class RunReport(_message.Message):
    __slots__ = ("run_id", "workflow", "status", "duration_s", "error", "started_at", "tasks")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    workflow: str
    status: str
    duration_s: float
    error: str
    started_at: float
    tasks: _containers.RepeatedCompositeFieldContainer[TaskReport]
    def __init__(self, run_id: _Optional[str] = ..., workflow: _Optional[str] = ..., status: _Optional[str] = ..., duration_s: _Optional[float] = ..., error: _Optional[str] = ..., started_at: _Optional[float] = ..., tasks: _Optional[_Iterable[_Union[TaskReport, _Mapping]]] = ...) -> None: ...

class RunUpdate(_message.Message):
    __slots__ = ("epoch", "seq", "event", "finished")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_FIELD_NUMBER: _ClassVar[int]
    epoch: str
    seq: int
    event: RunEvent
    finished: RunReport
    def __init__(self, epoch: _Optional[str] = ..., seq: _Optional[int] = ..., event: _Optional[_Union[RunEvent, _Mapping]] = ..., finished: _Optional[_Union[RunReport, _Mapping]] = ...) -> None: ...

class AgentInfo(_message.Message):
    __slots__ = ("name", "address", "tags", "status", "version", "max_tasks", "running_tasks", "registered_at", "connected_at", "last_heartbeat", "heartbeat_interval_s", "metrics", "facts_json", "modules")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    MAX_TASKS_FIELD_NUMBER: _ClassVar[int]
    RUNNING_TASKS_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_S_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    FACTS_JSON_FIELD_NUMBER: _ClassVar[int]
    MODULES_FIELD_NUMBER: _ClassVar[int]
    name: str
    address: str
    tags: _containers.ScalarMap[str, str]
    status: str
    version: str
    max_tasks: int
    running_tasks: int
    registered_at: float
    connected_at: float
    last_heartbeat: float
    heartbeat_interval_s: float
    metrics: _agent_pb2.Metrics
    facts_json: bytes
    modules: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., address: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ..., status: _Optional[str] = ..., version: _Optional[str] = ..., max_tasks: _Optional[int] = ..., running_tasks: _Optional[int] = ..., registered_at: _Optional[float] = ..., connected_at: _Optional[float] = ..., last_heartbeat: _Optional[float] = ..., heartbeat_interval_s: _Optional[float] = ..., metrics: _Optional[_Union[_agent_pb2.Metrics, _Mapping]] = ..., facts_json: _Optional[bytes] = ..., modules: _Optional[_Iterable[str]] = ...) -> None: ...

class ListAgentsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListAgentsResponse(_message.Message):
    __slots__ = ("agents",)
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    agents: _containers.RepeatedCompositeFieldContainer[AgentInfo]
    def __init__(self, agents: _Optional[_Iterable[_Union[AgentInfo, _Mapping]]] = ...) -> None: ...

class GetAgentRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class StopAgentRequest(_message.Message):
    __slots__ = ("name", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    reason: str
    def __init__(self, name: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class StopAgentResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ExecOnAgentRequest(_message.Message):
    __slots__ = ("name", "command", "timeout_s")
    NAME_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    name: str
    command: str
    timeout_s: float
    def __init__(self, name: _Optional[str] = ..., command: _Optional[str] = ..., timeout_s: _Optional[float] = ...) -> None: ...

class WatchAgentsRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class EventInfo(_message.Message):
    __slots__ = ("id", "ts", "type", "severity", "source", "stack", "run_id", "data_json")
    ID_FIELD_NUMBER: _ClassVar[int]
    TS_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    STACK_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_JSON_FIELD_NUMBER: _ClassVar[int]
    id: int
    ts: float
    type: str
    severity: str
    source: str
    stack: str
    run_id: str
    data_json: bytes
    def __init__(self, id: _Optional[int] = ..., ts: _Optional[float] = ..., type: _Optional[str] = ..., severity: _Optional[str] = ..., source: _Optional[str] = ..., stack: _Optional[str] = ..., run_id: _Optional[str] = ..., data_json: _Optional[bytes] = ...) -> None: ...

class ListEventsRequest(_message.Message):
    __slots__ = ("type_prefix", "since", "stack", "limit")
    TYPE_PREFIX_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    STACK_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    type_prefix: str
    since: float
    stack: str
    limit: int
    def __init__(self, type_prefix: _Optional[str] = ..., since: _Optional[float] = ..., stack: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListEventsResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[EventInfo]
    def __init__(self, events: _Optional[_Iterable[_Union[EventInfo, _Mapping]]] = ...) -> None: ...

class WatchEventsRequest(_message.Message):
    __slots__ = ("type_prefix", "stack")
    TYPE_PREFIX_FIELD_NUMBER: _ClassVar[int]
    STACK_FIELD_NUMBER: _ClassVar[int]
    type_prefix: str
    stack: str
    def __init__(self, type_prefix: _Optional[str] = ..., stack: _Optional[str] = ...) -> None: ...

class FireScheduleRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class FireScheduleResponse(_message.Message):
    __slots__ = ("run_ids",)
    RUN_IDS_FIELD_NUMBER: _ClassVar[int]
    run_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, run_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ListWorkflowsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WorkflowInfo(_message.Message):
    __slots__ = ("file", "workflow", "tasks", "description", "loaded_at", "error", "error_line")
    FILE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LOADED_AT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ERROR_LINE_FIELD_NUMBER: _ClassVar[int]
    file: str
    workflow: str
    tasks: int
    description: str
    loaded_at: float
    error: str
    error_line: int
    def __init__(self, file: _Optional[str] = ..., workflow: _Optional[str] = ..., tasks: _Optional[int] = ..., description: _Optional[str] = ..., loaded_at: _Optional[float] = ..., error: _Optional[str] = ..., error_line: _Optional[int] = ...) -> None: ...

class ListWorkflowsResponse(_message.Message):
    __slots__ = ("workflows",)
    WORKFLOWS_FIELD_NUMBER: _ClassVar[int]
    workflows: _containers.RepeatedCompositeFieldContainer[WorkflowInfo]
    def __init__(self, workflows: _Optional[_Iterable[_Union[WorkflowInfo, _Mapping]]] = ...) -> None: ...
