"""Secrets: values encrypted at rest, granted to the workflows that name them, hidden in output.

`vault.SecretVault` keeps them in the store with AES-256-GCM under a key derived from a
passphrase (Argon2id, per-store salt) or read from a key file (keys.py); `redact.Redactor`
replaces granted values with `***` wherever a run writes or announces text. Only this package's
vault and keys modules import cryptography; the redactor does not.
"""

from __future__ import annotations

from sloth_engine.secrets.redact import MASK, SECRET_REFUSED, Redactor, holds_secret

__all__ = ["MASK", "SECRET_REFUSED", "Redactor", "holds_secret"]
