from sloth_daemon.gen.sloth.v1 import agent_pb2 as _agent_pb2
from sloth_daemon.gen.sloth.v1 import store_pb2 as _store_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SubmitRunRequest(_message.Message):
    __slots__ = ("path", "source", "workflow", "values_json", "params_json", "max_parallel", "stack", "delegate_to", "files")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    VALUES_JSON_FIELD_NUMBER: _ClassVar[int]
    PARAMS_JSON_FIELD_NUMBER: _ClassVar[int]
    MAX_PARALLEL_FIELD_NUMBER: _ClassVar[int]
    STACK_FIELD_NUMBER: _ClassVar[int]
    DELEGATE_TO_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    path: str
    source: str
    workflow: str
    values_json: bytes
    params_json: bytes
    max_parallel: int
    stack: str
    delegate_to: str
    files: _containers.RepeatedCompositeFieldContainer[_agent_pb2.BundleFile]
    def __init__(self, path: _Optional[str] = ..., source: _Optional[str] = ..., workflow: _Optional[str] = ..., values_json: _Optional[bytes] = ..., params_json: _Optional[bytes] = ..., max_parallel: _Optional[int] = ..., stack: _Optional[str] = ..., delegate_to: _Optional[str] = ..., files: _Optional[_Iterable[_Union[_agent_pb2.BundleFile, _Mapping]]] = ...) -> None: ...

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
    __slots__ = ("run_id", "page_token", "page_size")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    page_token: str
    page_size: int
    def __init__(self, run_id: _Optional[str] = ..., page_token: _Optional[str] = ..., page_size: _Optional[int] = ...) -> None: ...

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
    __slots__ = ("run_id", "workflow", "file", "stack", "status", "started_at", "finished_at", "duration_s", "error", "params_json", "tasks", "next_page_token")
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
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
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
    next_page_token: str
    def __init__(self, run_id: _Optional[str] = ..., workflow: _Optional[str] = ..., file: _Optional[str] = ..., stack: _Optional[str] = ..., status: _Optional[str] = ..., started_at: _Optional[float] = ..., finished_at: _Optional[float] = ..., duration_s: _Optional[float] = ..., error: _Optional[str] = ..., params_json: _Optional[bytes] = ..., tasks: _Optional[_Iterable[_Union[TaskAttempt, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

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
    __slots__ = ("run_id", "reason", "force")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    reason: str
    force: bool
    def __init__(self, run_id: _Optional[str] = ..., reason: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class CancelRunResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetRunLogsRequest(_message.Message):
    __slots__ = ("run_id", "task", "page_token", "page_size")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    task: str
    page_token: str
    page_size: int
    def __init__(self, run_id: _Optional[str] = ..., task: _Optional[str] = ..., page_token: _Optional[str] = ..., page_size: _Optional[int] = ...) -> None: ...

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
    __slots__ = ("lines", "next_page_token")
    LINES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedCompositeFieldContainer[LogLine]
    next_page_token: str
    def __init__(self, lines: _Optional[_Iterable[_Union[LogLine, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

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
    __slots__ = ("name", "status", "attempts", "duration_s", "agent", "message", "error", "outputs_json", "changes")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_JSON_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    name: str
    status: str
    attempts: int
    duration_s: float
    agent: str
    message: str
    error: str
    outputs_json: bytes
    changes: int
    def __init__(self, name: _Optional[str] = ..., status: _Optional[str] = ..., attempts: _Optional[int] = ..., duration_s: _Optional[float] = ..., agent: _Optional[str] = ..., message: _Optional[str] = ..., error: _Optional[str] = ..., outputs_json: _Optional[bytes] = ..., changes: _Optional[int] = ...) -> None: ...

class RunReport(_message.Message):
    __slots__ = ("run_id", "workflow", "status", "duration_s", "error", "started_at", "tasks", "unrecorded")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    UNRECORDED_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    workflow: str
    status: str
    duration_s: float
    error: str
    started_at: float
    tasks: _containers.RepeatedCompositeFieldContainer[TaskReport]
    unrecorded: str
    def __init__(self, run_id: _Optional[str] = ..., workflow: _Optional[str] = ..., status: _Optional[str] = ..., duration_s: _Optional[float] = ..., error: _Optional[str] = ..., started_at: _Optional[float] = ..., tasks: _Optional[_Iterable[_Union[TaskReport, _Mapping]]] = ..., unrecorded: _Optional[str] = ...) -> None: ...

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

class TaskNode(_message.Message):
    __slots__ = ("name", "depends_on", "placement", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DEPENDS_ON_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    depends_on: _containers.RepeatedScalarFieldContainer[str]
    placement: str
    description: str
    def __init__(self, name: _Optional[str] = ..., depends_on: _Optional[_Iterable[str]] = ..., placement: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class RunGraph(_message.Message):
    __slots__ = ("run_id", "workflow", "tasks")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    workflow: str
    tasks: _containers.RepeatedCompositeFieldContainer[TaskNode]
    def __init__(self, run_id: _Optional[str] = ..., workflow: _Optional[str] = ..., tasks: _Optional[_Iterable[_Union[TaskNode, _Mapping]]] = ...) -> None: ...

class RetryRunRequest(_message.Message):
    __slots__ = ("run_id", "failed_only")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    FAILED_ONLY_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    failed_only: bool
    def __init__(self, run_id: _Optional[str] = ..., failed_only: _Optional[bool] = ...) -> None: ...

class GetWorkflowSourceRequest(_message.Message):
    __slots__ = ("file",)
    FILE_FIELD_NUMBER: _ClassVar[int]
    file: str
    def __init__(self, file: _Optional[str] = ...) -> None: ...

class WorkflowSource(_message.Message):
    __slots__ = ("file", "source")
    FILE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    file: str
    source: str
    def __init__(self, file: _Optional[str] = ..., source: _Optional[str] = ...) -> None: ...

class AgentTask(_message.Message):
    __slots__ = ("run_id", "task")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    task: str
    def __init__(self, run_id: _Optional[str] = ..., task: _Optional[str] = ...) -> None: ...

class ListAgentTasksResponse(_message.Message):
    __slots__ = ("tasks",)
    TASKS_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[AgentTask]
    def __init__(self, tasks: _Optional[_Iterable[_Union[AgentTask, _Mapping]]] = ...) -> None: ...

class LockEntry(_message.Message):
    __slots__ = ("kind", "name", "holder", "token", "acquired_at", "expires_at", "reason")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    HOLDER_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACQUIRED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    kind: str
    name: str
    holder: str
    token: int
    acquired_at: float
    expires_at: float
    reason: str
    def __init__(self, kind: _Optional[str] = ..., name: _Optional[str] = ..., holder: _Optional[str] = ..., token: _Optional[int] = ..., acquired_at: _Optional[float] = ..., expires_at: _Optional[float] = ..., reason: _Optional[str] = ...) -> None: ...

class ListLocksRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListLocksResponse(_message.Message):
    __slots__ = ("locks",)
    LOCKS_FIELD_NUMBER: _ClassVar[int]
    locks: _containers.RepeatedCompositeFieldContainer[LockEntry]
    def __init__(self, locks: _Optional[_Iterable[_Union[LockEntry, _Mapping]]] = ...) -> None: ...

class ReleaseLockRequest(_message.Message):
    __slots__ = ("kind", "name", "token", "force", "by")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    kind: str
    name: str
    token: int
    force: bool
    by: str
    def __init__(self, kind: _Optional[str] = ..., name: _Optional[str] = ..., token: _Optional[int] = ..., force: _Optional[bool] = ..., by: _Optional[str] = ...) -> None: ...

class ReleaseLockResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StateItem(_message.Message):
    __slots__ = ("namespace", "key", "value_json", "value_type", "version", "expires_at", "owner", "updated_at")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_JSON_FIELD_NUMBER: _ClassVar[int]
    VALUE_TYPE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    key: str
    value_json: bytes
    value_type: str
    version: int
    expires_at: float
    owner: str
    updated_at: float
    def __init__(self, namespace: _Optional[str] = ..., key: _Optional[str] = ..., value_json: _Optional[bytes] = ..., value_type: _Optional[str] = ..., version: _Optional[int] = ..., expires_at: _Optional[float] = ..., owner: _Optional[str] = ..., updated_at: _Optional[float] = ...) -> None: ...

class ListStateRequest(_message.Message):
    __slots__ = ("namespace", "prefix", "limit")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    prefix: str
    limit: int
    def __init__(self, namespace: _Optional[str] = ..., prefix: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListStateResponse(_message.Message):
    __slots__ = ("namespaces", "items")
    NAMESPACES_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    namespaces: _containers.RepeatedScalarFieldContainer[str]
    items: _containers.RepeatedCompositeFieldContainer[StateItem]
    def __init__(self, namespaces: _Optional[_Iterable[str]] = ..., items: _Optional[_Iterable[_Union[StateItem, _Mapping]]] = ...) -> None: ...

class ScheduleInfo(_message.Message):
    __slots__ = ("name", "cron", "file", "workflow", "tz", "overlap", "catch_up", "enabled", "next_fire_at", "last_fire_at", "last_run_id", "values_file", "created_at", "updated_at")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CRON_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    TZ_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_FIELD_NUMBER: _ClassVar[int]
    CATCH_UP_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    NEXT_FIRE_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_FIRE_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    VALUES_FILE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    name: str
    cron: str
    file: str
    workflow: str
    tz: str
    overlap: str
    catch_up: str
    enabled: bool
    next_fire_at: float
    last_fire_at: float
    last_run_id: str
    values_file: str
    created_at: float
    updated_at: float
    def __init__(self, name: _Optional[str] = ..., cron: _Optional[str] = ..., file: _Optional[str] = ..., workflow: _Optional[str] = ..., tz: _Optional[str] = ..., overlap: _Optional[str] = ..., catch_up: _Optional[str] = ..., enabled: _Optional[bool] = ..., next_fire_at: _Optional[float] = ..., last_fire_at: _Optional[float] = ..., last_run_id: _Optional[str] = ..., values_file: _Optional[str] = ..., created_at: _Optional[float] = ..., updated_at: _Optional[float] = ...) -> None: ...

class ListSchedulesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListSchedulesResponse(_message.Message):
    __slots__ = ("schedules",)
    SCHEDULES_FIELD_NUMBER: _ClassVar[int]
    schedules: _containers.RepeatedCompositeFieldContainer[ScheduleInfo]
    def __init__(self, schedules: _Optional[_Iterable[_Union[ScheduleInfo, _Mapping]]] = ...) -> None: ...

class SetScheduleEnabledRequest(_message.Message):
    __slots__ = ("name", "enabled")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    name: str
    enabled: bool
    def __init__(self, name: _Optional[str] = ..., enabled: _Optional[bool] = ...) -> None: ...

class HookInfo(_message.Message):
    __slots__ = ("name", "event_types", "stack", "path", "enabled", "timeout_s", "last_outcome", "last_run_at", "created_at", "updated_at")
    NAME_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    STACK_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    LAST_OUTCOME_FIELD_NUMBER: _ClassVar[int]
    LAST_RUN_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    name: str
    event_types: _containers.RepeatedScalarFieldContainer[str]
    stack: str
    path: str
    enabled: bool
    timeout_s: float
    last_outcome: str
    last_run_at: float
    created_at: float
    updated_at: float
    def __init__(self, name: _Optional[str] = ..., event_types: _Optional[_Iterable[str]] = ..., stack: _Optional[str] = ..., path: _Optional[str] = ..., enabled: _Optional[bool] = ..., timeout_s: _Optional[float] = ..., last_outcome: _Optional[str] = ..., last_run_at: _Optional[float] = ..., created_at: _Optional[float] = ..., updated_at: _Optional[float] = ...) -> None: ...

class ListHooksRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListHooksResponse(_message.Message):
    __slots__ = ("hooks",)
    HOOKS_FIELD_NUMBER: _ClassVar[int]
    hooks: _containers.RepeatedCompositeFieldContainer[HookInfo]
    def __init__(self, hooks: _Optional[_Iterable[_Union[HookInfo, _Mapping]]] = ...) -> None: ...

class ListSecretNamesRequest(_message.Message):
    __slots__ = ("stack",)
    STACK_FIELD_NUMBER: _ClassVar[int]
    stack: str
    def __init__(self, stack: _Optional[str] = ...) -> None: ...

class SecretName(_message.Message):
    __slots__ = ("stack", "name", "created_at", "updated_at")
    STACK_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    stack: str
    name: str
    created_at: float
    updated_at: float
    def __init__(self, stack: _Optional[str] = ..., name: _Optional[str] = ..., created_at: _Optional[float] = ..., updated_at: _Optional[float] = ...) -> None: ...

class ListSecretNamesResponse(_message.Message):
    __slots__ = ("secrets",)
    SECRETS_FIELD_NUMBER: _ClassVar[int]
    secrets: _containers.RepeatedCompositeFieldContainer[SecretName]
    def __init__(self, secrets: _Optional[_Iterable[_Union[SecretName, _Mapping]]] = ...) -> None: ...

class StackRequest(_message.Message):
    __slots__ = ("stack", "version", "description", "by")
    STACK_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    stack: str
    version: str
    description: str
    by: str
    def __init__(self, stack: _Optional[str] = ..., version: _Optional[str] = ..., description: _Optional[str] = ..., by: _Optional[str] = ...) -> None: ...

class StackDoc(_message.Message):
    __slots__ = ("doc_json",)
    DOC_JSON_FIELD_NUMBER: _ClassVar[int]
    doc_json: bytes
    def __init__(self, doc_json: _Optional[bytes] = ...) -> None: ...

class GatewayDoc(_message.Message):
    __slots__ = ("doc_json",)
    DOC_JSON_FIELD_NUMBER: _ClassVar[int]
    doc_json: bytes
    def __init__(self, doc_json: _Optional[bytes] = ...) -> None: ...

class GatewayName(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GatewayEnabled(_message.Message):
    __slots__ = ("name", "enabled")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    name: str
    enabled: bool
    def __init__(self, name: _Optional[str] = ..., enabled: _Optional[bool] = ...) -> None: ...

class StateKeyRequest(_message.Message):
    __slots__ = ("namespace", "key")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    key: str
    def __init__(self, namespace: _Optional[str] = ..., key: _Optional[str] = ...) -> None: ...

class SetStateValueRequest(_message.Message):
    __slots__ = ("namespace", "key", "value_json", "ttl", "owner")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_JSON_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    key: str
    value_json: bytes
    ttl: str
    owner: str
    def __init__(self, namespace: _Optional[str] = ..., key: _Optional[str] = ..., value_json: _Optional[bytes] = ..., ttl: _Optional[str] = ..., owner: _Optional[str] = ...) -> None: ...

class StateLockRequest(_message.Message):
    __slots__ = ("name", "holder", "ttl", "wait", "reason", "force")
    NAME_FIELD_NUMBER: _ClassVar[int]
    HOLDER_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    holder: str
    ttl: str
    wait: str
    reason: str
    force: bool
    def __init__(self, name: _Optional[str] = ..., holder: _Optional[str] = ..., ttl: _Optional[str] = ..., wait: _Optional[str] = ..., reason: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class AddHookRequest(_message.Message):
    __slots__ = ("name", "source", "path", "event_types", "stack", "timeout_s", "replace")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    STACK_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    REPLACE_FIELD_NUMBER: _ClassVar[int]
    name: str
    source: str
    path: str
    event_types: _containers.RepeatedScalarFieldContainer[str]
    stack: str
    timeout_s: float
    replace: bool
    def __init__(self, name: _Optional[str] = ..., source: _Optional[str] = ..., path: _Optional[str] = ..., event_types: _Optional[_Iterable[str]] = ..., stack: _Optional[str] = ..., timeout_s: _Optional[float] = ..., replace: _Optional[bool] = ...) -> None: ...

class TestHookRequest(_message.Message):
    __slots__ = ("name", "data_json", "type")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DATA_JSON_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    data_json: bytes
    type: str
    def __init__(self, name: _Optional[str] = ..., data_json: _Optional[bytes] = ..., type: _Optional[str] = ...) -> None: ...

class HookLogsRequest(_message.Message):
    __slots__ = ("name", "only_failed", "limit")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ONLY_FAILED_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    name: str
    only_failed: bool
    limit: int
    def __init__(self, name: _Optional[str] = ..., only_failed: _Optional[bool] = ..., limit: _Optional[int] = ...) -> None: ...

class AddScheduleRequest(_message.Message):
    __slots__ = ("name", "cron", "path", "source", "workflow", "values_path", "values_source", "tz", "overlap", "catch_up", "replace")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CRON_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    VALUES_PATH_FIELD_NUMBER: _ClassVar[int]
    VALUES_SOURCE_FIELD_NUMBER: _ClassVar[int]
    TZ_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_FIELD_NUMBER: _ClassVar[int]
    CATCH_UP_FIELD_NUMBER: _ClassVar[int]
    REPLACE_FIELD_NUMBER: _ClassVar[int]
    name: str
    cron: str
    path: str
    source: str
    workflow: str
    values_path: str
    values_source: str
    tz: str
    overlap: str
    catch_up: str
    replace: bool
    def __init__(self, name: _Optional[str] = ..., cron: _Optional[str] = ..., path: _Optional[str] = ..., source: _Optional[str] = ..., workflow: _Optional[str] = ..., values_path: _Optional[str] = ..., values_source: _Optional[str] = ..., tz: _Optional[str] = ..., overlap: _Optional[str] = ..., catch_up: _Optional[str] = ..., replace: _Optional[bool] = ...) -> None: ...

class SetSecretRequest(_message.Message):
    __slots__ = ("stack", "name", "secret_value")
    STACK_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SECRET_VALUE_FIELD_NUMBER: _ClassVar[int]
    stack: str
    name: str
    secret_value: str
    def __init__(self, stack: _Optional[str] = ..., name: _Optional[str] = ..., secret_value: _Optional[str] = ...) -> None: ...

class SecretRequest(_message.Message):
    __slots__ = ("stack", "name")
    STACK_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    stack: str
    name: str
    def __init__(self, stack: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class CreateTokenRequest(_message.Message):
    __slots__ = ("name", "role", "expires_s")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_S_FIELD_NUMBER: _ClassVar[int]
    name: str
    role: str
    expires_s: float
    def __init__(self, name: _Optional[str] = ..., role: _Optional[str] = ..., expires_s: _Optional[float] = ...) -> None: ...

class GetEventRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    def __init__(self, id: _Optional[int] = ...) -> None: ...

class ClearEventsRequest(_message.Message):
    __slots__ = ("before",)
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    before: float
    def __init__(self, before: _Optional[float] = ...) -> None: ...

class MasterHealthRequest(_message.Message):
    __slots__ = ("min_free_mb", "integrity")
    MIN_FREE_MB_FIELD_NUMBER: _ClassVar[int]
    INTEGRITY_FIELD_NUMBER: _ClassVar[int]
    min_free_mb: int
    integrity: bool
    def __init__(self, min_free_mb: _Optional[int] = ..., integrity: _Optional[bool] = ...) -> None: ...

class TailLogsRequest(_message.Message):
    __slots__ = ("run_id", "only", "newest", "after_events", "after_output")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    ONLY_FIELD_NUMBER: _ClassVar[int]
    NEWEST_FIELD_NUMBER: _ClassVar[int]
    AFTER_EVENTS_FIELD_NUMBER: _ClassVar[int]
    AFTER_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    only: str
    newest: int
    after_events: int
    after_output: int
    def __init__(self, run_id: _Optional[str] = ..., only: _Optional[str] = ..., newest: _Optional[int] = ..., after_events: _Optional[int] = ..., after_output: _Optional[int] = ...) -> None: ...

class StackCallRequest(_message.Message):
    __slots__ = ("part", "method", "args_json")
    PART_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    ARGS_JSON_FIELD_NUMBER: _ClassVar[int]
    part: str
    method: str
    args_json: bytes
    def __init__(self, part: _Optional[str] = ..., method: _Optional[str] = ..., args_json: _Optional[bytes] = ...) -> None: ...
