"""The pure pieces of the distributed layer: placement, outbox merging, the registry's clock,
wire conversions, and the engine's resume seam."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from sloth_daemon.gen.sloth.v1 import agent_pb2 as apb
from sloth_daemon.master.outbox import Outbox
from sloth_daemon.master.placement import Chooser, describe_miss, matches, strategy_of
from sloth_daemon.master.registry import AgentStatus, Registry
from sloth_daemon.wire import outcome_from_proto, outcome_to_proto, report_from_proto, report_to_proto
from sloth_engine.executor.results import AttemptOutcome, RunResult, TaskResult
from sloth_engine.run import Resume, RunRequest, WorkflowRun
from sloth_engine.spec import Placement, RunStatus, TaskSpec, TaskStatus, WorkflowSpec


@dataclass
class FakeAgent:
    name: str
    tags: dict[str, str] = field(default_factory=dict)
    max_tasks: int = 2
    used: int = 0
    address: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def free_slots(self) -> int:
        return self.max_tasks - self.used


def test_matching_by_name_address_tags_and_any() -> None:
    a = FakeAgent("a", {"role": "build", "zone": "x"}, address="10.0.0.1:1")
    assert matches(a, Placement(agent="a")) and matches(a, Placement(agent="10.0.0.1:1"))
    assert matches(a, Placement(tags=(("role", "build"),)))
    assert not matches(a, Placement(tags=(("role", "build"), ("zone", "y"))))
    assert matches(a, Placement(any_agent=True)) and not matches(a, Placement(agent="b"))
    assert describe_miss(Placement(tags=(("role", "gpu"),))) == "no agent matches tags role=gpu"
    assert strategy_of({"load_balancing": "least-loaded"}) == "least_loaded"
    assert strategy_of({"load_balancing": "bogus"}) == "round_robin"


def test_round_robin_skips_full_agents_and_least_loaded_prefers_free_ones() -> None:
    agents = [FakeAgent("a"), FakeAgent("b"), FakeAgent("c", used=2)]
    chooser, anyone = Chooser(), Placement(any_agent=True)
    picks = [chooser.choose(agents, anyone, "round_robin").name for _ in range(4)]
    assert picks == ["a", "b", "a", "b"]
    agents[0].used = 1
    assert chooser.choose(agents, anyone, "least_loaded").name == "b"
    agents[1].used = 2
    agents[0].used = 2
    assert chooser.choose(agents, anyone, "round_robin") is None


def test_tags_strategy_prefers_the_most_specific_agent() -> None:
    general = FakeAgent("general", {"role": "build", "gpu": "yes", "zone": "x"})
    special = FakeAgent("special", {"role": "build"})
    wanted = Placement(tags=(("role", "build"),))
    assert Chooser().choose([general, special], wanted, "tags").name == "special"


def test_outbox_merges_what_accumulates_and_ends_after_close() -> None:
    async def main() -> list[int]:
        box: Outbox[list[int]] = Outbox()

        def merge(message: list[int], item: int) -> bool:
            message.append(item)
            return True

        for i in range(3):
            box.put_merged(i, list, merge)
        box.put([99])
        box.close()
        box.put([100])  # after close: dropped
        return [len(m) for m in [m async for m in box.messages()]]

    assert asyncio.run(main()) == [3, 1]


def test_registry_does_not_count_a_stalled_loop_against_its_agents() -> None:
    async def main() -> tuple[bool, bool]:
        registry = Registry(None)
        reg = apb.Register(name="a", instance_id="1", heartbeat_interval_s=1.0)
        session, _ = registry.register(reg, Outbox(), "peer")
        start = session.last_seen
        registry.forgive(5.0)  # the master's own loop could not read the stream for 5 s
        kept = registry.check(start + 7.9) == [] and session.status is AgentStatus.CONNECTED
        lost = [s.name for s in registry.check(start + 8.1)] == ["a"]
        return kept, lost

    assert asyncio.run(main()) == (True, True)


def test_registry_marks_a_silent_agent_lost_after_three_beats() -> None:
    async def main() -> tuple[list[str], list[str]]:
        registry = Registry(None)
        gone: list[str] = []
        registry.on_lost.append(lambda s: gone.append(s.name))
        reg = apb.Register(name="a", instance_id="1", heartbeat_interval_s=1.0)
        session, same = registry.register(reg, Outbox(), "peer")
        assert not same and session.status is AgentStatus.CONNECTED
        start = session.last_seen
        assert registry.check(start + 2.9) == []
        lost = registry.check(start + 3.1)
        kinds = [e["type"] for e in registry._events]
        return [s.name for s in lost] + gone, kinds

    lost, kinds = asyncio.run(main())
    assert lost == ["a", "a"]
    assert kinds == ["agent.registered", "agent.heartbeat_failed", "agent.disconnected"]


def test_outcomes_and_reports_survive_the_wire() -> None:
    outcome = AttemptOutcome(TaskStatus.FAILED, "m", "e", {"x": [1, 2]}, 3)
    ref = apb.TaskRef(run_id="r", task="t", attempt=2)
    assert outcome_from_proto(outcome_to_proto(ref, outcome)) == outcome
    result = RunResult("r", "w", RunStatus.SUCCESS, 1.5, [TaskResult("t", TaskStatus.SUCCESS, 1, agent="a")])
    back = report_from_proto(report_to_proto(result))
    assert back.to_dict() == result.to_dict()
    bogus = apb.TaskResult(ref=ref, status="running")
    assert outcome_from_proto(bogus).status is TaskStatus.FAILED  # an unfinished status is no result


def test_engine_resume_keeps_finished_tasks(tmp_path) -> None:
    ran: list[str] = []
    tasks = {
        "a": TaskSpec("a", command="true"),
        "b": TaskSpec("b", command="true", depends_on=["a"]),
        "c": TaskSpec("c", command="true", depends_on=["b"]),
    }
    workflow = WorkflowSpec("w", str(tmp_path / "w.sloth"), tasks=tasks)
    request = RunRequest(path=workflow.path, home=tmp_path, cwd=tmp_path)
    request.listeners.append(lambda e: ran.append(e.task) if e.kind == "task.started" else None)
    done = TaskResult("a", TaskStatus.SUCCESS, 1, agent="x", outputs={"v": 1})
    run = WorkflowRun(request, None, workflow, resume=Resume("old-run", {"a": done}))
    result = asyncio.run(run.execute())
    assert run.run_id == "old-run" and result.status is RunStatus.SUCCESS
    assert ran == ["b", "c"]
    assert result.tasks[0].agent == "x" and result.tasks[0].outputs == {"v": 1}
