"""Errors of the daemons and the client, beside the engine's (all are SlothError)."""

from __future__ import annotations

from sloth_engine.errors import SlothError


class AgentNotConnected(SlothError):
    """The agent exists but has no live connection to the master."""


class Rejected(SlothError):
    """The master refused a request it understood (too large, wrong order, conflicting)."""


class MasterUnavailable(SlothError):
    """The master cannot be reached, or stopped answering."""


class NotAuthenticated(SlothError):
    """The master wants a valid token (none, unknown, expired or revoked)."""


class PermissionDenied(SlothError):
    """The caller's role does not allow this call."""
