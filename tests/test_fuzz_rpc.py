"""Fuzzing the master's RPCs: random field values for every MasterService method against a
real master process. No crash, the master stays healthy, and every answer is a status a
client can act on (never INTERNAL or UNKNOWN). Bounded: ~1,300 calls, a few seconds."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from distributed_cluster import Cluster
from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from secure_calls import SERVICE, call_code, channel

pytestmark = pytest.mark.timeout(60)

EXPECTED = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.DEADLINE_EXCEEDED,  # a stream that goes on (a watch) past the short deadline
}
GROUPS = {
    "runs": ("SubmitRun GetRun ListRuns CancelRun GetRunLogs WatchRun GetRunGraph RetryRun", 200),
    "agents": ("ListAgents GetAgent StopAgent ExecOnAgent ListAgentTasks", 200),
    "automation": (
        "ListEvents FireSchedule ListWorkflows GetWorkflowSource ListSchedules SetScheduleEnabled",
        200,
    ),
    "store": ("ListLocks ReleaseLock ListState ListHooks ListSecretNames", 200),
    "stacks": ("ListStacks GetStack GetSnapshot CreateSnapshot RestoreSnapshot DetectDrift FixDrift", 200),
    "gateway": (
        "GetStateValue SetStateValue DeleteStateValue AcquireStateLock UnlockState AddHook GetHook"
        " DeleteHook SetHookEnabled TestHook HookLogs AddSchedule DeleteSchedule SetSecret DeleteSecret"
        " RevealSecret CreateToken ListTokens RevokeToken DeleteToken GetEvent ClearEvents MasterHealth TailLogs"
        " ReadStack ChangeStack",
        300,
    ),
    "watches": ("WatchAgents WatchEvents", 30),
    "connect": ("Connect StoreCall", 60),
}
TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        ["", "default", "..", "../../etc/passwd", "a" * 5000, "\x00", "*", "%", "'; DROP TABLE runs;--"]
    ),
)
tried: dict[str, int] = {}
codes: Counter[str] = Counter()


def _scalar(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    t = field.type
    if t == FieldDescriptor.TYPE_STRING:
        return TEXT
    if t == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=64)
    if t == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if t in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.floats(width=32 if t == FieldDescriptor.TYPE_FLOAT else 64)
    if t == FieldDescriptor.TYPE_ENUM:
        return st.sampled_from([v.number for v in field.enum_type.values])
    unsigned = t in (
        FieldDescriptor.TYPE_UINT32,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_FIXED32,
        FieldDescriptor.TYPE_FIXED64,
    )
    bits = (
        32
        if t
        in (
            FieldDescriptor.TYPE_INT32,
            FieldDescriptor.TYPE_SINT32,
            FieldDescriptor.TYPE_UINT32,
            FieldDescriptor.TYPE_FIXED32,
            FieldDescriptor.TYPE_SFIXED32,
        )
        else 64
    )
    low, high = (0, 2**bits - 1) if unsigned else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    return st.one_of(st.integers(-3, 100).filter(lambda v: low <= v), st.integers(low, high))


def messages(descriptor: Descriptor, depth: int = 0) -> st.SearchStrategy[Any]:
    cls = message_factory.GetMessageClass(descriptor)
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for field in descriptor.fields:
        if field.message_type is not None:
            if depth >= 2:
                continue
            if field.message_type.GetOptions().map_entry:
                key, value = (
                    field.message_type.fields_by_name["key"],
                    field.message_type.fields_by_name["value"],
                )
                values = messages(value.message_type, depth + 1) if value.message_type else _scalar(value)
                fields[field.name] = st.dictionaries(_scalar(key), values, max_size=3)
                continue
            one = messages(field.message_type, depth + 1)
        else:
            one = _scalar(field)
        fields[field.name] = st.lists(one, max_size=3) if field.is_repeated else one
    return st.fixed_dictionaries({}, optional=fields).map(lambda values: _build(cls, values))


def _build(cls: Any, values: dict[str, Any]) -> Any:
    message = cls()
    for name, value in values.items():
        field = cls.DESCRIPTOR.fields_by_name[name]
        target = getattr(message, name)
        if isinstance(value, dict):
            for k, v in value.items():
                if field.message_type.fields_by_name["value"].message_type:
                    target[k].CopyFrom(v)
                else:
                    target[k] = v
        elif isinstance(value, list):
            if field.message_type is not None:
                for item in value:
                    target.add().CopyFrom(item)
            else:
                target.extend(value)
        elif field.message_type is not None:
            target.CopyFrom(value)
        else:
            setattr(message, name, value)
    return message


@pytest.fixture(scope="module")
def master(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, grpc.Channel]]:
    cluster = Cluster(tmp_path_factory.mktemp("fuzz-rpc"))
    try:
        cluster.start_master()
        chan = channel(cluster.address)
        yield cluster, chan
        print(f"\nRPC fuzzing: {sum(tried.values())} inputs tried ({tried}); answers {dict(codes)}")
    finally:
        cluster.close()


def test_groups_cover_every_rpc() -> None:
    grouped = {name for names, _ in GROUPS.values() for name in names.split()}
    assert grouped == set(SERVICE.methods_by_name)


@pytest.mark.parametrize("group", list(GROUPS))
def test_fuzz_rpcs(master: tuple[Cluster, grpc.Channel], group: str) -> None:
    cluster, chan = master
    names, examples = GROUPS[group]
    calls = st.one_of(
        [st.tuples(st.just(n), messages(SERVICE.methods_by_name[n].input_type)) for n in names.split()]
    )
    unexpected: list[tuple[str, Any, grpc.StatusCode]] = []

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(calls)
    def one(call: tuple[str, Any]) -> None:
        name, request = call
        method = SERVICE.methods_by_name[name]
        code = call_code(chan, name, request, timeout=0.3 if method.server_streaming else 5.0)
        tried[group] = tried.get(group, 0) + 1
        codes[code.name] += 1
        if code not in EXPECTED:
            unexpected.append((name, request, code))

    one()
    assert cluster.master_proc is not None and cluster.master_proc.poll() is None, cluster.logs()
    assert call_code(chan, "ListRuns") is grpc.StatusCode.OK
    assert not unexpected, unexpected[:5]
