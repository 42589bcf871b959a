"""TLS files of a master, an agent or a client, and the gRPC credentials made from them.

A master with a certificate and key serves TLS; with a CA too it asks every client and agent
for a certificate signed by that CA (mutual TLS). A client or agent given a CA (or a
certificate and key) dials TLS; $SLOTH_TLS_CA, $SLOTH_TLS_CERT, $SLOTH_TLS_KEY when no flag.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc

from sloth_engine.errors import UsageError


@dataclass(frozen=True)
class TlsFiles:
    ca: str | None = None
    cert: str | None = None
    key: str | None = None

    @classmethod
    def of(
        cls, ca: str | None, cert: str | None, key: str | None, env: Mapping[str, str] | None = None
    ) -> TlsFiles:
        """The flags given, else the environment's SLOTH_TLS_CA / _CERT / _KEY."""
        env = os.environ if env is None else env
        return cls(
            ca or env.get("SLOTH_TLS_CA") or None,
            cert or env.get("SLOTH_TLS_CERT") or None,
            key or env.get("SLOTH_TLS_KEY") or None,
        )

    @property
    def enabled(self) -> bool:
        return bool(self.ca or self.cert or self.key)


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the {what} {path}: {exc.strerror}") from None


def server_credentials(files: TlsFiles) -> grpc.ServerCredentials:
    """TLS with the master's certificate; mutual TLS when `files.ca` is given."""
    if not (files.cert and files.key):
        raise UsageError("TLS needs both --tls-cert and --tls-key")
    pair = (_read(files.key, "TLS key"), _read(files.cert, "TLS certificate"))
    ca = _read(files.ca, "TLS CA") if files.ca else None
    return grpc.ssl_server_credentials([pair], root_certificates=ca, require_client_auth=ca is not None)


def channel_credentials(files: TlsFiles) -> grpc.ChannelCredentials:
    """Trust `files.ca` (else the system's roots); present cert and key when both are given."""
    if bool(files.cert) != bool(files.key):
        raise UsageError("a client certificate needs both --tls-cert and --tls-key")
    return grpc.ssl_channel_credentials(
        root_certificates=_read(files.ca, "TLS CA") if files.ca else None,
        private_key=_read(files.key, "TLS key") if files.key else None,
        certificate_chain=_read(files.cert, "TLS certificate") if files.cert else None,
    )
