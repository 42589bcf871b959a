"""Which agent runs a task: matching by name, tags or any, then a load-balancing choice.

Pure functions over agent views, so the strategies are tested without a network.

- `round_robin` (default): the matching agents in turn, skipping full ones.
- `least_loaded`: the agent with the smallest share of its slots in use, then the lowest CPU.
- `tags`: the most specific match (the agent with the fewest tags beyond those asked for), so
  general-purpose agents stay free for tasks only they match; ties go to the least loaded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol, TypeVar

from sloth_engine.spec import Placement

STRATEGIES = ("round_robin", "least_loaded", "tags")


class AgentView(Protocol):
    name: str
    address: str
    tags: dict[str, str]
    max_tasks: int
    metrics: dict[str, Any]

    @property
    def free_slots(self) -> int: ...


Agent = TypeVar("Agent", bound=AgentView)


def matches(agent: AgentView, placement: Placement) -> bool:
    if placement.agent:
        return placement.agent in (agent.name, agent.address)
    if placement.tags:
        return all(agent.tags.get(k) == v for k, v in placement.tags)
    return placement.any_agent


def describe_miss(placement: Placement) -> str:
    """The error of a task that no agent can take."""
    if placement.agent:
        return f"no agent matches name '{placement.agent}'"
    if placement.tags:
        return "no agent matches tags " + ", ".join(f"{k}={v}" for k, v in placement.tags)
    return "no agent matches: none is connected"


def strategy_of(config: dict[str, Any]) -> str:
    value = str(config.get("load_balancing") or "round_robin").lower().replace("-", "_")
    return value if value in STRATEGIES else "round_robin"


class Chooser:
    """Keeps the round-robin position per placement between calls."""

    def __init__(self) -> None:
        self._turn: dict[Placement, int] = {}

    def choose(
        self, candidates: Sequence[AgentView], placement: Placement, strategy: str
    ) -> AgentView | None:
        """One of the candidates (in a stable order) with a free slot, or None when all are full."""
        free = [a for a in candidates if a.free_slots > 0]
        if not free:
            return None
        if strategy == "least_loaded":
            return min(free, key=_load)
        if strategy == "tags":
            asked = len(placement.tags)
            return min(free, key=lambda a: (len(a.tags) - asked, *_load(a)))
        ordered = candidates
        start = self._turn.get(placement, 0)
        for step in range(len(ordered)):
            agent = ordered[(start + step) % len(ordered)]
            if agent.free_slots > 0:
                self._turn[placement] = (start + step + 1) % len(ordered)
                return agent
        return None


def _load(agent: AgentView) -> tuple[float, float]:
    used = (agent.max_tasks - agent.free_slots) / max(1, agent.max_tasks)
    return used, float(agent.metrics.get("cpu_percent") or 0.0)


def matching(agents: Iterable[Agent], placement: Placement) -> list[Agent]:
    return [a for a in agents if matches(a, placement)]
