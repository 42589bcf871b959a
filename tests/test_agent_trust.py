"""Agents prove who they are, against a real `master --auth` and real agents, with a hand-made
hostile agent (a raw Connect stream): a join token cannot take a bound name, an agent's own
token registers only its name, a forged result for an attempt the impostor was not given is
rejected and audited, and revoking a token closes the streams that use it within seconds."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from distributed_cluster import Cluster, wait_for
from raw_agent import RawAgent
from secure_calls import channel

from sloth_daemon.gen.sloth.v1 import master_pb2 as mpb
from sloth_daemon.gen.sloth.v1 import master_pb2_grpc as mgrpc
from sloth_engine.store.tokens import TokenStore

pytestmark = pytest.mark.timeout(90)

SLOW = """
local t = task("slow"):command("sleep 6 && echo real-result"):delegate_to("victim")
workflow.define("slow"):tasks({ t })
"""


class Secured:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.store = cluster.store()
        self.tokens = TokenStore(self.store.backend)
        self.join = self.tokens.create("joiners", "agent")
        self.operator = self.tokens.create("op", "operator")
        cluster.start_master("127.0.0.1:0", "--auth")
        self.chan = channel(cluster.address)
        self.stub = mgrpc.MasterServiceStub(self.chan)
        ready = cluster.root / "victim.ready"
        args = ["agent", "--master", cluster.address, "--name", "victim", "--heartbeat", "0.3s"]
        args += ["--reconnect-max", "0.5s", "--ready-file", str(ready), "--join-token", self.join]
        self.victim = cluster._spawn(args, "victim.log")
        wait_for(ready.exists, 20, "the victim agent to join")

    def meta(self, token: str | None = None) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {token or self.operator}"),)

    def audit(self, kind: str) -> list[dict[str, Any]]:
        return [e.to_dict() for e in self.store.events.list(type_prefix=kind, limit=1000) if e.type == kind]

    def agent_status(self, name: str) -> str:
        return self.stub.GetAgent(mpb.GetAgentRequest(name=name), metadata=self.meta(), timeout=5).status


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    cluster = Cluster(tmp_path_factory.mktemp("trust"))
    try:
        yield Secured(cluster)
    finally:
        cluster.close()


def test_join_binds_the_name_to_the_agents_own_token(secured: Secured) -> None:
    token_file = secured.cluster.home / "agent" / "victim.token"
    assert token_file.exists() and (token_file.stat().st_mode & 0o077) == 0
    bound = {t.name: t for t in secured.tokens.list()}["agent/victim"]
    assert bound.agent == "victim" and bound.role == "agent"
    assert secured.agent_status("victim") == "connected"


def test_impostor_is_refused_and_its_forged_result_rejected(secured: Secured) -> None:
    # A join token cannot register a bound name: refused, audited, the victim stays connected.
    thief = RawAgent(secured.chan, "victim", secured.join)
    assert thief.done.wait(10)
    assert thief.code is grpc.StatusCode.PERMISSION_DENIED and "bound" in thief.details
    refused = [e for e in secured.audit("audit.Connect") if e["data"]["outcome"] == "PERMISSION_DENIED"]
    assert any("victim" in e["data"]["request"] for e in refused), refused
    assert secured.agent_status("victim") == "connected"

    # An impostor joins under its own name (it holds a join token), then claims the victim's.
    impostor = RawAgent(secured.chan, "impostor", secured.join)
    wait_for(impostor.registered, 10, "the impostor's own join")
    own = impostor.registered().agent_token  # type: ignore[union-attr]
    assert own.startswith("slt_")
    claimed = RawAgent(secured.chan, "victim", own)
    assert claimed.done.wait(10)
    assert (
        claimed.code is grpc.StatusCode.PERMISSION_DENIED and "belongs to agent 'impostor'" in claimed.details
    )

    # A run aimed at the victim; the impostor sends a success for it, with guessed tokens.
    submitted = secured.stub.SubmitRun(
        mpb.SubmitRunRequest(path="slow.sloth", source=SLOW), metadata=secured.meta(), timeout=10
    )
    run_id = submitted.runs[0].run_id

    def running() -> bool:
        run = secured.stub.GetRun(mpb.GetRunRequest(run_id=run_id), metadata=secured.meta(), timeout=5)
        return any(t.task == "slow" and t.status == "running" for t in run.tasks)

    wait_for(running, 20, "the victim to start the task")
    for guess in ("", "forged"):
        impostor.result(run_id, "slow", 1, guess, status="failed")
    forged = wait_for(lambda: secured.audit("audit.TaskResult"), 10, "the forged result's audit event")
    assert forged[0]["data"]["who"] == "impostor" and forged[0]["data"]["outcome"] == "PERMISSION_DENIED"

    def finished() -> Any:
        run = secured.stub.GetRun(mpb.GetRunRequest(run_id=run_id), metadata=secured.meta(), timeout=5)
        return run if run.status not in ("running", "pending", "queued") else None

    run = wait_for(finished, 30, "the run to end")
    task = next(t for t in run.tasks if t.task == "slow")
    assert run.status == "success" and task.agent == "victim", (run, secured.cluster.logs())
    assert "forged" not in task.message
    impostor.close()


def test_revoking_a_token_closes_its_streams_within_seconds(secured: Secured) -> None:
    # A client's WatchEvents stream on a viewer token.
    viewer = secured.tokens.create("watcher", "viewer")
    watch = secured.stub.WatchEvents(mpb.WatchEventsRequest(), metadata=secured.meta(viewer), timeout=30)
    first: list[Any] = []
    import threading

    def read() -> None:
        try:
            for item in watch:
                first.append(item)
        except grpc.RpcError as exc:
            first.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    # An agent's Connect stream on its own token (the raw agent joins, then lives on it).
    raw = RawAgent(secured.chan, "revokee", secured.join)
    wait_for(raw.registered, 10, "the raw agent's join")
    time.sleep(0.5)
    assert not raw.done.is_set() and reader.is_alive()

    revoked_at = time.monotonic()
    secured.tokens.revoke("watcher")
    secured.tokens.revoke("agent/revokee")
    assert raw.done.wait(5.0), "the agent's Connect stream outlived its revoked token"
    reader.join(5.0)
    assert not reader.is_alive(), "the WatchEvents stream outlived its revoked token"
    took = max(raw.ended_at or 0, time.monotonic()) - revoked_at
    assert raw.code is grpc.StatusCode.UNAUTHENTICATED and "revoked" in raw.details
    assert isinstance(first[-1], grpc.RpcError) and first[-1].code() is grpc.StatusCode.UNAUTHENTICATED
    assert took < 5.0
    print(f"streams closed {took:.2f}s after the revocation")

    # The real agent: its own token revoked, its stream closes and it cannot come back.
    secured.tokens.revoke("agent/victim")
    wait_for(lambda: secured.agent_status("victim") != "connected", 5, "the victim's stream to close")
    time.sleep(1.0)
    assert secured.agent_status("victim") != "connected"
    log = (secured.cluster.root / "victim.log").read_text()
    assert "revoked" in log, log[-2000:]


def test_a_live_agents_name_is_not_taken_over_without_auth(tmp_path: Any) -> None:
    cluster = Cluster(tmp_path)
    try:
        cluster.start_master()
        cluster.start_agent("alpha")
        chan = channel(cluster.address)
        taker = RawAgent(chan, "alpha", None)
        assert taker.done.wait(10)
        assert taker.code is grpc.StatusCode.ALREADY_EXISTS and "connected" in taker.details
        with cluster.client() as client:
            assert client.get_agent("alpha")["status"] == "connected"
        refused = [e for e in cluster.store().events.list(type_prefix="audit.Connect", limit=100)]
        assert any(e.data["outcome"] == "ALREADY_EXISTS" for e in refused), refused
    finally:
        cluster.close()


def test_client_errors_name_workflow_paths_not_the_masters(tmp_path: Any) -> None:
    cluster = Cluster(tmp_path)
    try:
        cluster.start_master()
        cluster.start_agent("worker")
        folder = tmp_path / "flows"
        folder.mkdir()
        (folder / "bad.sloth").write_text(
            'local t = task("t"):command(function() local x = nil; return x.y end)\n'
            'local u = task("u"):command(function() error("agent side") end):delegate_to("worker")\n'
            'workflow.define("bad"):tasks({ t, u })\n'
        )
        (folder / "syn.sloth").write_text('local t = task("t"):command(function() return true end\n')
        (folder / "imp.sloth").write_text('local m = import("missing.lua")\n')
        texts = []
        for name in ("bad", "syn", "imp"):
            done = cluster.cli(
                "run", str(folder / f"{name}.sloth"), "--master", cluster.address, "-o", "json"
            )
            assert done.returncode != 0
            texts.append(done.stdout + done.stderr)
        everything = "\n".join(texts)
        assert "bad.sloth:1: attempt to index a nil value" in texts[0], texts[0]
        assert "syn.sloth:1:" in texts[1] or "syn.sloth:2:" in texts[1], texts[1]
        # The master's (and agent's) own folders never show; the client's own path may (an
        # agent names the file as the client sent it).
        for private in (str(cluster.home), "master/sources"):
            assert private not in everything, everything
    finally:
        cluster.close()


def test_an_expiring_token_closes_its_stream(secured: Secured) -> None:
    import threading

    brief = secured.tokens.create("brief", "viewer", expires_in=2.0)
    watch = secured.stub.WatchEvents(mpb.WatchEventsRequest(), metadata=secured.meta(brief), timeout=30)
    ended: list[Any] = []

    def read() -> None:
        try:
            for _ in watch:
                pass
        except grpc.RpcError as exc:
            ended.append((exc.code(), time.monotonic()))

    opened = time.monotonic()
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(10.0)
    assert ended and ended[0][0] is grpc.StatusCode.UNAUTHENTICATED
    assert 1.5 < ended[0][1] - opened < 2.0 + 5.0
