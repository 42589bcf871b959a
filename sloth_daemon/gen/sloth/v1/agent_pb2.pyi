from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AgentToMaster(_message.Message):
    __slots__ = ("register", "heartbeat", "updates", "exec_output", "goodbye", "facts_request")
    REGISTER_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    UPDATES_FIELD_NUMBER: _ClassVar[int]
    EXEC_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    GOODBYE_FIELD_NUMBER: _ClassVar[int]
    FACTS_REQUEST_FIELD_NUMBER: _ClassVar[int]
    register: Register
    heartbeat: Heartbeat
    updates: TaskUpdates
    exec_output: ExecOutput
    goodbye: Goodbye
    facts_request: FactsRequest
    def __init__(self, register: _Optional[_Union[Register, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., updates: _Optional[_Union[TaskUpdates, _Mapping]] = ..., exec_output: _Optional[_Union[ExecOutput, _Mapping]] = ..., goodbye: _Optional[_Union[Goodbye, _Mapping]] = ..., facts_request: _Optional[_Union[FactsRequest, _Mapping]] = ...) -> None: ...

class MasterToAgent(_message.Message):
    __slots__ = ("registered", "assign", "cancel", "stop", "exec", "cancel_exec", "facts_reply")
    REGISTERED_FIELD_NUMBER: _ClassVar[int]
    ASSIGN_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    EXEC_FIELD_NUMBER: _ClassVar[int]
    CANCEL_EXEC_FIELD_NUMBER: _ClassVar[int]
    FACTS_REPLY_FIELD_NUMBER: _ClassVar[int]
    registered: Registered
    assign: Assignments
    cancel: CancelTask
    stop: Stop
    exec: ExecRequest
    cancel_exec: CancelExec
    facts_reply: FactsReply
    def __init__(self, registered: _Optional[_Union[Registered, _Mapping]] = ..., assign: _Optional[_Union[Assignments, _Mapping]] = ..., cancel: _Optional[_Union[CancelTask, _Mapping]] = ..., stop: _Optional[_Union[Stop, _Mapping]] = ..., exec: _Optional[_Union[ExecRequest, _Mapping]] = ..., cancel_exec: _Optional[_Union[CancelExec, _Mapping]] = ..., facts_reply: _Optional[_Union[FactsReply, _Mapping]] = ...) -> None: ...

class Register(_message.Message):
    __slots__ = ("name", "instance_id", "address", "tags", "max_tasks", "heartbeat_interval_s", "version", "modules", "facts_json", "running", "finished")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    MAX_TASKS_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_S_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    MODULES_FIELD_NUMBER: _ClassVar[int]
    FACTS_JSON_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    FINISHED_FIELD_NUMBER: _ClassVar[int]
    name: str
    instance_id: str
    address: str
    tags: _containers.ScalarMap[str, str]
    max_tasks: int
    heartbeat_interval_s: float
    version: str
    modules: _containers.RepeatedScalarFieldContainer[str]
    facts_json: bytes
    running: _containers.RepeatedCompositeFieldContainer[TaskRef]
    finished: _containers.RepeatedCompositeFieldContainer[TaskResult]
    def __init__(self, name: _Optional[str] = ..., instance_id: _Optional[str] = ..., address: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ..., max_tasks: _Optional[int] = ..., heartbeat_interval_s: _Optional[float] = ..., version: _Optional[str] = ..., modules: _Optional[_Iterable[str]] = ..., facts_json: _Optional[bytes] = ..., running: _Optional[_Iterable[_Union[TaskRef, _Mapping]]] = ..., finished: _Optional[_Iterable[_Union[TaskResult, _Mapping]]] = ...) -> None: ...

class TaskRef(_message.Message):
    __slots__ = ("run_id", "task", "attempt", "attempt_token")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    task: str
    attempt: int
    attempt_token: str
    def __init__(self, run_id: _Optional[str] = ..., task: _Optional[str] = ..., attempt: _Optional[int] = ..., attempt_token: _Optional[str] = ...) -> None: ...

class Metrics(_message.Message):
    __slots__ = ("cpu_percent", "mem_percent", "mem_total", "mem_used", "disk_percent", "disk_total", "disk_used", "load1", "load5", "load15", "uptime_s", "running_tasks", "ts")
    CPU_PERCENT_FIELD_NUMBER: _ClassVar[int]
    MEM_PERCENT_FIELD_NUMBER: _ClassVar[int]
    MEM_TOTAL_FIELD_NUMBER: _ClassVar[int]
    MEM_USED_FIELD_NUMBER: _ClassVar[int]
    DISK_PERCENT_FIELD_NUMBER: _ClassVar[int]
    DISK_TOTAL_FIELD_NUMBER: _ClassVar[int]
    DISK_USED_FIELD_NUMBER: _ClassVar[int]
    LOAD1_FIELD_NUMBER: _ClassVar[int]
    LOAD5_FIELD_NUMBER: _ClassVar[int]
    LOAD15_FIELD_NUMBER: _ClassVar[int]
    UPTIME_S_FIELD_NUMBER: _ClassVar[int]
    RUNNING_TASKS_FIELD_NUMBER: _ClassVar[int]
    TS_FIELD_NUMBER: _ClassVar[int]
    cpu_percent: float
    mem_percent: float
    mem_total: int
    mem_used: int
    disk_percent: float
    disk_total: int
    disk_used: int
    load1: float
    load5: float
    load15: float
    uptime_s: float
    running_tasks: int
    ts: float
    def __init__(self, cpu_percent: _Optional[float] = ..., mem_percent: _Optional[float] = ..., mem_total: _Optional[int] = ..., mem_used: _Optional[int] = ..., disk_percent: _Optional[float] = ..., disk_total: _Optional[int] = ..., disk_used: _Optional[int] = ..., load1: _Optional[float] = ..., load5: _Optional[float] = ..., load15: _Optional[float] = ..., uptime_s: _Optional[float] = ..., running_tasks: _Optional[int] = ..., ts: _Optional[float] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("metrics", "facts_json")
    METRICS_FIELD_NUMBER: _ClassVar[int]
    FACTS_JSON_FIELD_NUMBER: _ClassVar[int]
    metrics: Metrics
    facts_json: bytes
    def __init__(self, metrics: _Optional[_Union[Metrics, _Mapping]] = ..., facts_json: _Optional[bytes] = ...) -> None: ...

class TaskUpdates(_message.Message):
    __slots__ = ("outputs", "results")
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    outputs: _containers.RepeatedCompositeFieldContainer[TaskOutput]
    results: _containers.RepeatedCompositeFieldContainer[TaskResult]
    def __init__(self, outputs: _Optional[_Iterable[_Union[TaskOutput, _Mapping]]] = ..., results: _Optional[_Iterable[_Union[TaskResult, _Mapping]]] = ...) -> None: ...

class TaskOutput(_message.Message):
    __slots__ = ("ref", "stream", "lines")
    REF_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    ref: TaskRef
    stream: str
    lines: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ref: _Optional[_Union[TaskRef, _Mapping]] = ..., stream: _Optional[str] = ..., lines: _Optional[_Iterable[str]] = ...) -> None: ...

class TaskResult(_message.Message):
    __slots__ = ("ref", "status", "message", "error", "outputs_json", "exit_code", "final")
    REF_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_JSON_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    ref: TaskRef
    status: str
    message: str
    error: str
    outputs_json: bytes
    exit_code: int
    final: bool
    def __init__(self, ref: _Optional[_Union[TaskRef, _Mapping]] = ..., status: _Optional[str] = ..., message: _Optional[str] = ..., error: _Optional[str] = ..., outputs_json: _Optional[bytes] = ..., exit_code: _Optional[int] = ..., final: _Optional[bool] = ...) -> None: ...

class ExecOutput(_message.Message):
    __slots__ = ("exec_id", "stream", "line", "done", "exit_code", "error")
    EXEC_ID_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    exec_id: str
    stream: str
    line: str
    done: bool
    exit_code: int
    error: str
    def __init__(self, exec_id: _Optional[str] = ..., stream: _Optional[str] = ..., line: _Optional[str] = ..., done: _Optional[bool] = ..., exit_code: _Optional[int] = ..., error: _Optional[str] = ...) -> None: ...

class Goodbye(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class FactsRequest(_message.Message):
    __slots__ = ("request_id", "agent")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    agent: str
    def __init__(self, request_id: _Optional[str] = ..., agent: _Optional[str] = ...) -> None: ...

class Registered(_message.Message):
    __slots__ = ("master_id", "abandon", "agent_token")
    MASTER_ID_FIELD_NUMBER: _ClassVar[int]
    ABANDON_FIELD_NUMBER: _ClassVar[int]
    AGENT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    master_id: str
    abandon: _containers.RepeatedCompositeFieldContainer[TaskRef]
    agent_token: str
    def __init__(self, master_id: _Optional[str] = ..., abandon: _Optional[_Iterable[_Union[TaskRef, _Mapping]]] = ..., agent_token: _Optional[str] = ...) -> None: ...

class Bundle(_message.Message):
    __slots__ = ("key", "path", "source", "values_json", "stack", "files")
    KEY_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    VALUES_JSON_FIELD_NUMBER: _ClassVar[int]
    STACK_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    key: str
    path: str
    source: str
    values_json: bytes
    stack: str
    files: _containers.RepeatedCompositeFieldContainer[BundleFile]
    def __init__(self, key: _Optional[str] = ..., path: _Optional[str] = ..., source: _Optional[str] = ..., values_json: _Optional[bytes] = ..., stack: _Optional[str] = ..., files: _Optional[_Iterable[_Union[BundleFile, _Mapping]]] = ...) -> None: ...

class BundleFile(_message.Message):
    __slots__ = ("path", "source")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    path: str
    source: str
    def __init__(self, path: _Optional[str] = ..., source: _Optional[str] = ...) -> None: ...

class AssignTask(_message.Message):
    __slots__ = ("ref", "workflow", "bundle_key", "bundle", "params_json", "inputs_json", "timeout_s", "secrets", "trace")
    class SecretsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class TraceEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    REF_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_KEY_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_FIELD_NUMBER: _ClassVar[int]
    PARAMS_JSON_FIELD_NUMBER: _ClassVar[int]
    INPUTS_JSON_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    SECRETS_FIELD_NUMBER: _ClassVar[int]
    TRACE_FIELD_NUMBER: _ClassVar[int]
    ref: TaskRef
    workflow: str
    bundle_key: str
    bundle: Bundle
    params_json: bytes
    inputs_json: bytes
    timeout_s: float
    secrets: _containers.ScalarMap[str, str]
    trace: _containers.ScalarMap[str, str]
    def __init__(self, ref: _Optional[_Union[TaskRef, _Mapping]] = ..., workflow: _Optional[str] = ..., bundle_key: _Optional[str] = ..., bundle: _Optional[_Union[Bundle, _Mapping]] = ..., params_json: _Optional[bytes] = ..., inputs_json: _Optional[bytes] = ..., timeout_s: _Optional[float] = ..., secrets: _Optional[_Mapping[str, str]] = ..., trace: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Assignments(_message.Message):
    __slots__ = ("tasks",)
    TASKS_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[AssignTask]
    def __init__(self, tasks: _Optional[_Iterable[_Union[AssignTask, _Mapping]]] = ...) -> None: ...

class CancelTask(_message.Message):
    __slots__ = ("ref", "reason")
    REF_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ref: TaskRef
    reason: str
    def __init__(self, ref: _Optional[_Union[TaskRef, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class Stop(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class ExecRequest(_message.Message):
    __slots__ = ("exec_id", "command", "timeout_s")
    EXEC_ID_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    exec_id: str
    command: str
    timeout_s: float
    def __init__(self, exec_id: _Optional[str] = ..., command: _Optional[str] = ..., timeout_s: _Optional[float] = ...) -> None: ...

class CancelExec(_message.Message):
    __slots__ = ("exec_id",)
    EXEC_ID_FIELD_NUMBER: _ClassVar[int]
    exec_id: str
    def __init__(self, exec_id: _Optional[str] = ...) -> None: ...

class FactsReply(_message.Message):
    __slots__ = ("request_id", "facts_json", "error")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    FACTS_JSON_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    facts_json: bytes
    error: str
    def __init__(self, request_id: _Optional[str] = ..., facts_json: _Optional[bytes] = ..., error: _Optional[str] = ...) -> None: ...
