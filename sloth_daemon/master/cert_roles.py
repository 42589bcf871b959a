"""Roles of client certificates under mutual TLS without --auth.

A certificate's role is, in order: the `--cert-role CN=ROLE` mapping of its common name, else
its organizational unit when that names a role (`certs init` writes OU=agent into agent
certificates and OU=admin into the client certificate), else viewer. Any certificate of the CA
thus reads; only a mapping or an OU grants more. An agent certificate's role is agent only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sloth_engine.errors import UsageError
from sloth_engine.store.tokens import ROLES

log = logging.getLogger(__name__)

DEFAULT_ROLE = "viewer"
_CACHE_MAX = 1024


@dataclass(frozen=True)
class CertIdentity:
    subject: str
    """RFC 4514 form, e.g. `CN=build-1,OU=agent,O=Sloth Runner`."""
    cn: str
    role: str


def parse_cert_roles(items: list[str]) -> dict[str, str]:
    """`--cert-role CN=ROLE` flags as a mapping; UsageError naming a bad one."""
    mapping: dict[str, str] = {}
    for item in items:
        cn, sep, role = item.rpartition("=")
        if not sep or not cn or role not in ROLES:
            raise UsageError(f"--cert-role expects CN=ROLE with ROLE one of {', '.join(ROLES)}, not '{item}'")
        mapping[cn] = role
    return mapping


class CertRoles:
    def __init__(self, mapping: Mapping[str, str] | None = None) -> None:
        self.mapping = dict(mapping or {})
        self._cache: dict[bytes, CertIdentity | None] = {}

    def identity(self, context: Any) -> CertIdentity | None:
        """The peer certificate's subject, CN and role; None without a client certificate."""
        try:
            pem = (context.auth_context() or {}).get("x509_pem_cert")
        except Exception:  # no transport security
            return None
        if not pem:
            return None
        found = self._cache.get(pem[0], ...)
        if found is ...:
            found = self._parse(pem[0])
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[pem[0]] = found
        return found  # type: ignore[return-value]

    def _parse(self, pem: bytes) -> CertIdentity | None:
        from cryptography import x509
        from cryptography.x509.oid import NameOID

        try:
            cert = x509.load_pem_x509_certificate(pem)
        except ValueError:
            log.warning("unreadable client certificate: treated as no certificate")
            return None
        cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        ous = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
        cn = str(cns[0].value) if cns else ""
        role = self.mapping.get(cn)
        if role is None:
            role = next((str(o.value) for o in ous if str(o.value) in ROLES), DEFAULT_ROLE)
        return CertIdentity(cert.subject.rfc4514_string(), cn, role)
