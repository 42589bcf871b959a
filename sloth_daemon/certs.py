"""`certs init`: a private CA and certificates for a master, an agent and a client (a quick start).

Keys are ECDSA P-256, files written 0600 (keys) and 0644 (certificates). The master's
certificate names the --host names plus localhost and 127.0.0.1; agent and client
certificates are for client authentication (their subject shows up in the audit trail).
Under mutual TLS without --auth the OU is the role (master/cert_roles.py): agent
certificates say OU=agent, the client certificate OU=admin. An agent's name must be its
certificate's CN: `--agent NAME` writes agent-NAME.crt/.key for one more agent.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sloth_engine.errors import UsageError

FILES = ("ca.crt", "ca.key", "master.crt", "master.key", "agent.crt", "agent.key", "client.crt", "client.key")


def _name(common: str, unit: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Sloth Runner")]
    if unit:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    return x509.Name([*attributes, x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _sans(hosts: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys([*hosts, "localhost", "127.0.0.1", "::1"]):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    days: int,
    server_hosts: list[str] | None = None,
    unit: str | None = None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    issuer_name, issuer_key = (ca[0].subject, ca[1]) if ca else (_name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject, unit))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(
            x509.BasicConstraints(ca=ca is None, path_length=0 if ca is None else None), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if ca is None:
        usage = x509.KeyUsage(True, False, False, False, False, True, True, False, False)
        return builder.add_extension(usage, critical=True).sign(key, hashes.SHA256())
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
    ).add_extension(
        x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
    )
    purposes = [ExtendedKeyUsageOID.CLIENT_AUTH]
    if server_hosts is not None:
        purposes.insert(0, ExtendedKeyUsageOID.SERVER_AUTH)
        builder = builder.add_extension(x509.SubjectAlternativeName(_sans(server_hosts)), critical=False)
    builder = builder.add_extension(x509.ExtendedKeyUsage(purposes), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(path, mode)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def init_certs(
    folder: Path, hosts: list[str], days: int = 825, force: bool = False, agents: list[str] | None = None
) -> list[Path]:
    """Write the eight files of FILES (and agent-NAME.crt/.key per agent) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    agents = list(dict.fromkeys(agents or []))
    for agent in agents:
        if not agent or "/" in agent or agent.startswith("."):
            raise UsageError(f"--agent '{agent}': not usable as a file name")
    names = [*FILES, *(f"agent-{a}.{ext}" for a in agents for ext in ("crt", "key"))]
    existing = [name for name in names if (folder / name).exists()]
    if existing and not force:
        raise UsageError(f"{folder} already has {', '.join(existing)} (--force to replace)")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _issue("Sloth Runner CA", ca_key, None, days + 365)
    written = []
    for stem, cert, key in [("ca", ca_cert, ca_key), *_leaves(ca_cert, ca_key, hosts, days, agents)]:
        _write(folder / f"{stem}.key", _key_pem(key), 0o600)
        _write(folder / f"{stem}.crt", cert.public_bytes(serialization.Encoding.PEM), 0o644)
        written += [folder / f"{stem}.crt", folder / f"{stem}.key"]
    return written


def _leaves(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    hosts: list[str],
    days: int,
    agents: list[str],
) -> list[tuple[str, x509.Certificate, ec.EllipticCurvePrivateKey]]:
    leaves = []
    kinds: list[tuple[str, str, list[str] | None, str]] = [
        ("master", "sloth-master", hosts, "master"),
        ("agent", "sloth-agent", None, "agent"),
        ("client", "sloth-client", None, "admin"),
        *((f"agent-{name}", name, None, "agent") for name in agents),
    ]
    for stem, subject, server, unit in kinds:
        key = ec.generate_private_key(ec.SECP256R1())
        leaves.append((stem, _issue(subject, key, (ca_cert, ca_key), days, server, unit), key))
    return leaves
