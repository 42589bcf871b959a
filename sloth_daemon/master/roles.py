"""Which role may call which RPC: the one table the master's interceptor checks.

Roles nest: viewer < operator < admin. The agent role is apart: a join token opens the
agent's Connect stream and its StoreCall stream (its tasks' state, locks and stack resources),
and nothing else; operators may use StoreCall too (they may change state from the CLI). Every
method of MasterService is listed (a test fails when a new RPC is not); a method not in the
table is refused to everyone.
"""

from __future__ import annotations

from enum import IntEnum

from sloth_daemon.leader import STATUS_METHOD


class Need(IntEnum):
    """What a call needs; the value orders the nested roles."""

    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3
    AGENT = 10
    STORE = 11
    """The agent role or operator and above: StoreCall."""


RANK = {"viewer": Need.VIEWER, "operator": Need.OPERATOR, "admin": Need.ADMIN}

_SERVICE = "/sloth.v1.MasterService/"
_READS = (
    "GetRun ListRuns GetRunLogs WatchRun ListAgents GetAgent WatchAgents ListEvents WatchEvents"
    " ListWorkflows GetRunGraph GetWorkflowSource ListAgentTasks ListLocks ListState ListSchedules"
    " ListHooks ListSecretNames ListStacks GetStack GetSnapshot"
)
_OPERATES = (
    "SubmitRun CancelRun RetryRun FireSchedule ReleaseLock SetScheduleEnabled CreateSnapshot"
    " RestoreSnapshot DetectDrift FixDrift"
)
_ADMINISTERS = "StopAgent ExecOnAgent"
# The gateway's calls (sloth_daemon/gateway): the CLI's command groups through a master.
# Reading a secret's value, tokens and deleting the event trail (which holds the audit) are
# an administrator's; changing state, locks, hooks, schedules and secrets an operator's.
_GATEWAY_READS = "GetStateValue GetHook HookLogs GetEvent MasterHealth TailLogs ReadStack"
_GATEWAY_OPERATES = (
    "SetStateValue DeleteStateValue AcquireStateLock UnlockState AddHook DeleteHook SetHookEnabled"
    " TestHook AddSchedule DeleteSchedule SetSecret DeleteSecret ChangeStack"
)
_GATEWAY_ADMINISTERS = "RevealSecret CreateToken ListTokens RevokeToken DeleteToken ClearEvents"

METHOD_NEEDS: dict[str, Need] = {
    **{_SERVICE + m: Need.VIEWER for m in _READS.split()},
    **{_SERVICE + m: Need.OPERATOR for m in _OPERATES.split()},
    **{_SERVICE + m: Need.ADMIN for m in _ADMINISTERS.split()},
    **{_SERVICE + m: Need.VIEWER for m in _GATEWAY_READS.split()},
    **{_SERVICE + m: Need.OPERATOR for m in _GATEWAY_OPERATES.split()},
    **{_SERVICE + m: Need.ADMIN for m in _GATEWAY_ADMINISTERS.split()},
    _SERVICE + "Connect": Need.AGENT,
    _SERVICE + "StoreCall": Need.STORE,
    STATUS_METHOD: Need.VIEWER,
}
OPEN_METHODS = frozenset({"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"})
"""Answered to anyone: load balancers and agents' watchdogs probe health without a token."""


def allows(role: str, need: Need) -> bool:
    if need is Need.AGENT:
        return role == "agent"
    if need is Need.STORE:
        return role == "agent" or RANK.get(role, 0) >= Need.OPERATOR
    return RANK.get(role, 0) >= need


def mutates(method: str) -> bool:
    """Audited: everything beyond a read."""
    return METHOD_NEEDS.get(method, Need.ADMIN) > Need.VIEWER
