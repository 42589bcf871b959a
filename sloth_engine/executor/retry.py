"""Backoff delays between attempts: fixed, linear or exponential, with jitter."""

from __future__ import annotations

import random

from sloth_engine.spec import RetryPolicy


def backoff_delay(policy: RetryPolicy, failed_attempt: int, rand: random.Random | None = None) -> float:
    """Seconds to wait after attempt number `failed_attempt` (1-based) failed."""
    base = policy.base_delay
    if policy.strategy == "fixed":
        delay = base
    elif policy.strategy == "linear":
        delay = base * failed_attempt
    else:
        delay = base * (2 ** (failed_attempt - 1))
    delay = min(delay, policy.max_delay)
    if policy.jitter:
        spread = delay * policy.jitter
        delay += (rand or random).uniform(-spread, spread)
    return max(0.0, delay)
