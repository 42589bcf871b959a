"""Tokens and roles against a real `sloth-daemon master --auth`: every RPC classified, each
role allowed and refused as listed, revoked and expired tokens refused at once, agents join
with a join token only, and mutating calls leave audit events (who, what, outcome)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from distributed_cluster import Cluster, wait_for
from secure_calls import call_code, channel, rpc_names

from sloth_daemon.gen.sloth.v1 import agent_pb2 as apb
from sloth_daemon.gen.sloth.v1 import master_pb2 as mpb
from sloth_daemon.gen.sloth.v1 import store_pb2 as spb
from sloth_daemon.master.roles import METHOD_NEEDS, Need
from sloth_engine.store.tokens import TokenStore

pytestmark = pytest.mark.timeout(60)
ROLES = ("viewer", "operator", "admin", "agent")
REFUSED = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)
HEARTBEAT_FIRST = apb.AgentToMaster(heartbeat=apb.Heartbeat())
STORE_GET = spb.StoreOps(ops=[spb.StoreOp(id=1, method="state.get", args_json=b'{"ns":"d","key":"k"}')])

# method, request, the roles that may call it
CASES: list[tuple[str, Any, set[str]]] = [
    ("ListRuns", mpb.ListRunsRequest(limit=1), {"viewer", "operator", "admin"}),
    ("GetRun", mpb.GetRunRequest(run_id="nope"), {"viewer", "operator", "admin"}),
    ("ListSecretNames", mpb.ListSecretNamesRequest(), {"viewer", "operator", "admin"}),
    ("CancelRun", mpb.CancelRunRequest(run_id="nope"), {"operator", "admin"}),
    ("SetScheduleEnabled", mpb.SetScheduleEnabledRequest(name="nope"), {"operator", "admin"}),
    ("ReleaseLock", mpb.ReleaseLockRequest(kind="lock", name="nope"), {"operator", "admin"}),
    ("StopAgent", mpb.StopAgentRequest(name="nope"), {"admin"}),
    ("ExecOnAgent", mpb.ExecOnAgentRequest(name="nope", command="true"), {"admin"}),
    ("Connect", HEARTBEAT_FIRST, {"agent"}),
    ("StoreCall", STORE_GET, {"agent", "operator", "admin"}),
]


class Secured:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.store = cluster.store()
        self.tokens = TokenStore(self.store.backend)
        self.token = {role: self.tokens.create(f"t-{role}", role) for role in ROLES}
        cluster.start_master("127.0.0.1:0", "--auth")
        self.chan = channel(cluster.address)

    def audit(self) -> list[dict[str, Any]]:
        return [e.to_dict() for e in self.store.events.list(type_prefix="audit.", limit=1000)]


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    cluster = Cluster(tmp_path_factory.mktemp("auth"))
    try:
        # the schema (and its tokens table) comes from the first open
        yield Secured(cluster)
    finally:
        cluster.close()


def test_every_rpc_is_classified() -> None:
    proto = Path(__file__).parents[1] / "protos/sloth/v1/master.proto"
    in_proto = set(re.findall(r"^\s*rpc (\w+)\(", proto.read_text(), re.M))
    assert in_proto == set(rpc_names())
    listed = {m.rpartition("/")[2] for m in METHOD_NEEDS if m.startswith("/sloth.v1.MasterService/")}
    assert in_proto - listed == set(), "RPCs without a role in sloth_daemon/master/roles.py"
    assert listed - in_proto == set(), "roles.py lists RPCs the proto does not have"
    assert METHOD_NEEDS["/sloth.v1.MasterService/Connect"] is Need.AGENT


@pytest.mark.parametrize(("method", "request_", "allowed"), CASES, ids=[c[0] for c in CASES])
def test_roles(secured: Secured, method: str, request_: Any, allowed: set[str]) -> None:
    codes = {"anonymous": call_code(secured.chan, method, request_)}
    for role in ROLES:
        codes[role] = call_code(secured.chan, method, request_, secured.token[role])
    assert codes["anonymous"] is grpc.StatusCode.UNAUTHENTICATED
    for role in ROLES:
        if role in allowed:
            assert codes[role] not in REFUSED, (role, codes)
        else:
            assert codes[role] is grpc.StatusCode.PERMISSION_DENIED, (role, codes)


def test_bad_tokens_and_health(secured: Secured) -> None:
    chan = secured.chan
    for bad in ("garbage", "slt_00_x", secured.token["viewer"] + "x", "slt_" + "a" * 300):
        assert call_code(chan, "ListRuns", token=bad) is grpc.StatusCode.UNAUTHENTICATED
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    answer = health_pb2_grpc.HealthStub(chan).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_revoked_token_is_refused_at_once(secured: Secured) -> None:
    token = secured.tokens.create("short-lived", "viewer")
    assert call_code(secured.chan, "ListRuns", token=token) is grpc.StatusCode.OK
    secured.tokens.revoke("short-lived")
    assert call_code(secured.chan, "ListRuns", token=token) is grpc.StatusCode.UNAUTHENTICATED


def test_expired_token_is_refused(secured: Secured) -> None:
    yesterday = TokenStore(secured.store.backend, clock=lambda: time.time() - 86400)
    token = yesterday.create("expired", "admin", expires_in=3600)
    assert call_code(secured.chan, "ListRuns", token=token) is grpc.StatusCode.UNAUTHENTICATED
    soon = secured.tokens.create("soon", "viewer", expires_in=1.0)
    assert call_code(secured.chan, "ListRuns", token=soon) is grpc.StatusCode.OK
    time.sleep(1.1)
    assert call_code(secured.chan, "ListRuns", token=soon) is grpc.StatusCode.UNAUTHENTICATED


def test_cli_token_commands_and_flags(secured: Secured) -> None:
    cluster = secured.cluster
    made = cluster.cli("token", "create", "cli-op", "--role", "operator", "--expires", "30d")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("slt_") and "shown only this once" in made.stderr
    listed = cluster.cli_json("token", "list", "--json")
    row = next(r for r in listed if r["name"] == "cli-op")
    assert row["role"] == "operator" and row["expires_at"] and row["revoked_at"] is None
    assert token not in cluster.cli("token", "list").stdout
    raw = secured.store.backend.query_all("SELECT * FROM api_tokens")
    assert not any(token.rpartition("_")[2] in str(r) for r in raw), "the secret is stored"

    anonymous = cluster.cli("runs", "list", "--master", cluster.address)
    assert anonymous.returncode == 1 and "valid token is needed" in anonymous.stderr
    with_flag = cluster.cli("runs", "list", "--master", cluster.address, "--token", token)
    assert with_flag.returncode == 0, with_flag.stderr
    denied = cluster.cli("agent", "stop", "nope", "--master", cluster.address, "--token", token)
    assert denied.returncode == 1 and "needs role admin" in denied.stderr
    assert cluster.cli("token", "revoke", "cli-op").returncode == 0
    again = cluster.cli("runs", "list", "--master", cluster.address, "--token", token)
    assert again.returncode == 1 and "revoked" in again.stderr


def _agent(cluster: Cluster, name: str, *flags: str) -> tuple[Any, Path]:
    ready = cluster.root / f"{name}.ready"
    args = ["agent", "--master", cluster.address, "--name", name, "--heartbeat", "0.3s"]
    proc = cluster._spawn(
        [*args, "--reconnect-max", "0.5s", "--ready-file", str(ready), *flags], f"{name}.log"
    )
    return proc, ready


def test_agent_joins_with_a_join_token_only(secured: Secured) -> None:
    cluster = secured.cluster
    good, good_ready = _agent(cluster, "joined", "--join-token", secured.token["agent"])
    bad, bad_ready = _agent(cluster, "stranger")
    wrong, wrong_ready = _agent(cluster, "viewer-agent", "--token", secured.token["viewer"])
    wait_for(good_ready.exists, 15, "the agent with a join token to register")
    time.sleep(1.0)
    assert not bad_ready.exists() and not wrong_ready.exists()
    log = (cluster.root / "stranger.log").read_text()
    assert "refused this agent" in log and "valid token is needed" in log
    admin = secured.token["admin"]
    assert (
        call_code(secured.chan, "GetAgent", mpb.GetAgentRequest(name="joined"), admin) is grpc.StatusCode.OK
    )
    code = call_code(secured.chan, "GetAgent", mpb.GetAgentRequest(name="stranger"), admin)
    assert code is grpc.StatusCode.NOT_FOUND
    for proc in (good, bad, wrong):
        cluster.kill(proc)


def test_audit_events(secured: Secured) -> None:
    chan, token = secured.chan, secured.token
    call_code(chan, "CancelRun", mpb.CancelRunRequest(run_id="audit-me", reason="why"), token["operator"])
    call_code(chan, "StopAgent", mpb.StopAgentRequest(name="audit-agent"), token["viewer"])
    call_code(chan, "SubmitRun", mpb.SubmitRunRequest(source="x = 'SECRET-VALUE'"), token["operator"])
    call_code(chan, "ListRuns", token=token["viewer"])
    events = secured.audit()
    cancel = next(e for e in events if e["type"] == "audit.CancelRun" and "audit-me" in e["data"]["request"])
    assert cancel["data"]["who"] == "t-operator" and cancel["data"]["role"] == "operator"
    assert cancel["data"]["outcome"] == "NOT_FOUND" and cancel["data"]["method"] == "CancelRun"
    assert cancel["ts"] > time.time() - 60
    stop = next(e for e in events if e["type"] == "audit.StopAgent" and "audit-agent" in e["data"]["request"])
    assert stop["data"]["who"] == "t-viewer" and stop["data"]["outcome"] == "PERMISSION_DENIED"
    submit = next(e for e in events if e["type"] == "audit.SubmitRun")
    assert "SECRET-VALUE" not in str(submit) and "source=<" in submit["data"]["request"]
    assert not any(e["type"] == "audit.ListRuns" for e in events), "reads are not audited"
    listed = secured.cluster.cli("events", "list", "--type", "audit.", "--json")
    assert listed.returncode == 0 and "audit.CancelRun" in listed.stdout
