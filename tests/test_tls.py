"""TLS and mutual TLS with real processes: `certs init`, a plain client refused by a TLS master,
a client with a certificate of another CA refused under mTLS, agents and clients with the
right certificates served, and the certificate's subject in the audit trail."""

from __future__ import annotations

import os
import signal
import stat
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from distributed_cluster import Cluster, wait_for
from secure_calls import call_code, channel

from sloth_daemon.certs import FILES
from sloth_daemon.client import MasterClient
from sloth_daemon.errors import MasterUnavailable
from sloth_daemon.gen.sloth.v1 import master_pb2 as mpb
from sloth_daemon.tls import TlsFiles

pytestmark = pytest.mark.timeout(60)


def _init(cluster: Cluster, folder: Path, *hosts: str) -> Path:
    args = ["certs", "init", str(folder)]
    for host in hosts:
        args += ["--host", host]
    done = cluster.cli(*args)
    assert done.returncode == 0, done.stderr
    return folder


def _files(folder: Path, who: str | None) -> TlsFiles:
    if who is None:
        return TlsFiles(str(folder / "ca.crt"))
    return TlsFiles(str(folder / "ca.crt"), str(folder / f"{who}.crt"), str(folder / f"{who}.key"))


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, Path, Path]]:
    cluster = Cluster(tmp_path_factory.mktemp("tls"))
    try:
        yield (
            cluster,
            _init(cluster, cluster.root / "pki", "sloth.example"),
            _init(cluster, cluster.root / "other"),
        )
    finally:
        cluster.close()


def test_certs_init_writes_eight_files(certs: tuple[Cluster, Path, Path]) -> None:
    cluster, pki, _ = certs
    assert sorted(p.name for p in pki.iterdir()) == sorted(FILES)
    for name in FILES:
        mode = stat.S_IMODE(os.stat(pki / name).st_mode)
        assert mode == (0o600 if name.endswith(".key") else 0o644), name
    from cryptography import x509

    cert = x509.load_pem_x509_certificate((pki / "master.crt").read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"sloth.example", "localhost"} <= set(sans.get_values_for_type(x509.DNSName))
    again = cluster.cli("certs", "init", str(pki))
    assert again.returncode == 2 and "--force" in again.stderr


def test_tls_master_refuses_plain_clients(certs: tuple[Cluster, Path, Path]) -> None:
    cluster, pki, other = certs
    address = cluster.start_master(
        "127.0.0.1:0", "--tls-cert", str(pki / "master.crt"), "--tls-key", str(pki / "master.key")
    )
    with MasterClient(address, timeout=3.0, tls=TlsFiles()) as plain, pytest.raises(MasterUnavailable):
        plain.list_runs()
    with (
        MasterClient(address, timeout=3.0, tls=_files(other, None)) as wrong_ca,
        pytest.raises(MasterUnavailable),
    ):
        wrong_ca.list_runs()
    with MasterClient(address, timeout=5.0, tls=_files(pki, None)) as good:
        assert good.health() == "SERVING" and good.list_runs() == []
    env = {**cluster.env(), "SLOTH_TLS_CA": str(pki / "ca.crt")}
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "sloth_daemon.cli.main", "runs", "list", "--master", address],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    cluster.kill(cluster.master_proc)


def test_mutual_tls(certs: tuple[Cluster, Path, Path]) -> None:
    cluster, pki, other = certs
    address = cluster.start_master(
        "127.0.0.1:0",
        "--tls-cert",
        str(pki / "master.crt"),
        "--tls-key",
        str(pki / "master.key"),
        "--tls-ca",
        str(pki / "ca.crt"),
    )
    no_cert = channel(address, _files(pki, None))
    assert call_code(no_cert, "ListRuns", timeout=3) is grpc.StatusCode.UNAVAILABLE
    foreign = channel(
        address, TlsFiles(str(pki / "ca.crt"), str(other / "client.crt"), str(other / "client.key"))
    )
    assert call_code(foreign, "ListRuns", timeout=3) is grpc.StatusCode.UNAVAILABLE
    good = channel(address, _files(pki, "client"))
    assert call_code(good, "ListRuns") is grpc.StatusCode.OK
    assert call_code(good, "CancelRun", mpb.CancelRunRequest(run_id="by-cert")) is grpc.StatusCode.NOT_FOUND

    ready = cluster.root / "mtls-agent.ready"
    cluster._spawn(
        [
            "agent",
            "--master",
            address,
            "--ready-file",
            str(ready),
            "--heartbeat",
            "0.3s",
            "--tls-ca",
            str(pki / "ca.crt"),
            "--tls-cert",
            str(pki / "agent.crt"),
            "--tls-key",
            str(pki / "agent.key"),
        ],
        "mtls-agent.log",
    )
    wait_for(ready.exists, 15, "the agent to register over mutual TLS")
    with MasterClient(address, timeout=5.0, tls=_files(pki, "client")) as client:
        assert client.get_agent("sloth-agent")["name"] == "sloth-agent"  # its certificate's CN
        audit = client.list_events(type_prefix="audit.", limit=50)
    cancel = next(e for e in audit if e["type"] == "audit.CancelRun")
    assert "CN=sloth-client" in cancel["data"]["who"] and cancel["data"]["outcome"] == "NOT_FOUND"
    joined = next(e for e in audit if e["type"] == "audit.Connect")
    assert "CN=sloth-agent" in joined["data"]["who"]


def test_certificates_map_to_roles(certs: tuple[Cluster, Path, Path]) -> None:
    """Under mTLS without --auth: OU=agent may only Connect (as its CN), a certificate without a
    role OU only reads, a --cert-role mapping grants more."""
    cluster, pki, _ = certs
    if cluster.master_proc is not None:  # one master owns a store: the earlier one goes
        cluster.kill(cluster.master_proc, signal.SIGTERM)
    address = cluster.start_master(
        "127.0.0.1:0",
        "--tls-cert",
        str(pki / "master.crt"),
        "--tls-key",
        str(pki / "master.key"),
        "--tls-ca",
        str(pki / "ca.crt"),
        "--cert-role",
        "sloth-client=operator",
    )
    agent = channel(address, _files(pki, "agent"))
    assert call_code(agent, "ListRuns") is grpc.StatusCode.PERMISSION_DENIED
    plain = channel(address, _files(pki, "master"))  # OU=master: no role, so viewer
    assert call_code(plain, "ListRuns") is grpc.StatusCode.OK
    assert (
        call_code(plain, "CancelRun", mpb.CancelRunRequest(run_id="x")) is grpc.StatusCode.PERMISSION_DENIED
    )
    mapped = channel(address, _files(pki, "client"))  # OU=admin, mapped down to operator
    assert call_code(mapped, "CancelRun", mpb.CancelRunRequest(run_id="x")) is grpc.StatusCode.NOT_FOUND
    assert call_code(mapped, "StopAgent", mpb.StopAgentRequest(name="x")) is grpc.StatusCode.PERMISSION_DENIED
    from raw_agent import RawAgent

    wrong_name = RawAgent(agent, "someone-else", None)
    assert wrong_name.done.wait(10)
    assert wrong_name.code is grpc.StatusCode.PERMISSION_DENIED and "CN=sloth-agent" in wrong_name.details
