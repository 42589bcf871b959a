"""`network`: diagnostics against servers the test starts on 127.0.0.1 (TCP with a banner,
DNS over UDP answered with dnspython, TLS with certificates made by `certs init`'s code, HTTP),
and fake ping, traceroute and whois programs first on PATH."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dns.message
import dns.rrset
import pytest
from module_harness import Fakes, Lua

from sloth_daemon.certs import init_certs
from sloth_engine.errors import LuaRuntimeError

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def lua(tmp_path: Path) -> Lua:
    return Lua(tmp_path, ("network",))


@contextmanager
def tcp_server(handle: Callable[[socket.socket], None]) -> Iterator[int]:
    """A server on 127.0.0.1 calling `handle` with each connection; yields its port."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                handle(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        server.close()


@pytest.fixture
def banner_server() -> Iterator[int]:
    with tcp_server(lambda conn: conn.sendall(b"SSH-2.0-test\r\n")) as port:
        yield port


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_tcp_checks_scans_banners_and_latency(lua: Lua, banner_server: int) -> None:
    shut = closed_port()
    got = lua.run(
        f"""
        local ok, msg = network.port_check("127.0.0.1", {banner_server}, 2)
        local bad, why = network.port_check("127.0.0.1", {shut}, 2)
        local scan = network.port_scan("127.0.0.1", {{ {banner_server}, {shut} }}, 1)
        local t_ok, t = network.telnet("127.0.0.1", {banner_server}, 3)
        local lat = network.latency_test("127.0.0.1", 3, {{ port = {banner_server} }})
        local down = network.latency_test("127.0.0.1:{shut}", 2)
        return ok, msg, bad, why:match("refused") ~= nil, scan.open[1], scan.closed[1], scan.total_scanned,
               t_ok, t.connected, t.banner, lat.success_rate, lat.successful_tests, lat.average_ms >= 0,
               down.success_rate, down.total_tests
        """
    )
    assert got == (
        True,
        "port is open",
        False,
        True,
        banner_server,
        shut,
        2,
        True,
        True,
        "SSH-2.0-test\r\n",
        100,
        3,
        True,
        0,
        2,
    )


@pytest.fixture
def dns_server() -> Iterator[int]:
    records = {
        ("example.test.", "MX"): ["20 mx2.example.test.", "10 mx1.example.test."],
        ("example.test.", "TXT"): ['"v=spf1 -all"'],
        ("www.example.test.", "CNAME"): ["example.test."],
        ("example.test.", "A"): ["192.0.2.10"],
        ("10.2.0.192.in-addr.arpa.", "PTR"): ["example.test."],
    }
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(data)
            answer = dns.message.make_response(query)
            question = query.question[0]
            kind = dns.rdatatype.to_text(question.rdtype)
            values = records.get((question.name.to_text(), kind))
            if values:
                answer.answer.append(dns.rrset.from_text_list(question.name, 300, "IN", kind, values))
            else:
                answer.set_rcode(dns.rcode.NXDOMAIN)
            sock.sendto(answer.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()[1]
    stop.set()
    thread.join(5)
    sock.close()


def test_dns_lookups_through_a_given_nameserver(lua: Lua, dns_server: int) -> None:
    o = f'{{ nameserver = "127.0.0.1", dns_port = {dns_server} }}'
    got = lua.run(
        f"""
        local _, mx = network.mx_lookup("example.test", {o})
        local _, txt = network.dns_lookup("example.test", "TXT", {o})
        local _, cname = network.dns_lookup("www.example.test", "CNAME", {o})
        local _, a = network.dns_lookup("example.test", "A", {o})
        local _, names = network.reverse_dns("192.0.2.10", {o})
        local none, why = network.dns_lookup("nothing.example.test", "A", {o})
        local _, localhost = network.dns_lookup("localhost")
        return mx[1].host, mx[1].priority, mx[2].host, txt[1], cname[1], a[1], names[1], none, why ~= nil,
               table.concat(localhost, ","):match("127.0.0.1") ~= nil
        """
    )
    assert got == (
        "mx1.example.test.",
        10,
        "mx2.example.test.",
        "v=spf1 -all",
        "example.test.",
        "192.0.2.10",
        "example.test.",
        None,
        True,
        True,
    )


def test_interfaces_and_local_addresses(lua: Lua) -> None:
    ok, rows = lua.run("return network.interfaces()")
    loopback = next(r for r in rows if r["name"] == "lo")
    assert ok is True and "127.0.0.1" in loopback["addresses"] and loopback["mtu"] > 0
    address, error = lua.run("return network.local_ip()")
    if address is None:  # a machine with no route at all says so
        assert error
    else:
        socket.inet_aton(address)


@pytest.fixture
def http_server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            body = {"/junk": b"<html>busy</html>", "/ip": b"203.0.113.7\n"}.get(self.path, b"x" * 200_000)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_public_ip_and_bandwidth_over_http(lua: Lua, http_server: str) -> None:
    got = lua.run(
        f"""
        local ip = network.public_ip({{ services = {{ "{http_server}/junk", "http://127.0.0.1:1/", "{http_server}/ip" }} }})
        local none, why = network.public_ip({{ services = {{ "{http_server}/junk" }} }})
        local speed = network.bandwidth_test("{http_server}/big")
        return ip, none, why, speed:match("^%d+%.%d+ bytes/sec$") ~= nil
        """
    )
    assert got == ("203.0.113.7", None, "failed to get public IP", True)


def test_ssl_check_verifies_against_a_ca(lua: Lua, tmp_path: Path) -> None:
    init_certs(tmp_path / "pki", ["localhost"])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "pki/master.crt", tmp_path / "pki/master.key")

    def handshake(conn: socket.socket) -> None:
        try:
            with context.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)
        except (OSError, ssl.SSLError):
            pass

    with tcp_server(handshake) as port:
        got = lua.run(
            f"""
            local _, good = network.ssl_check("https://localhost:{port}/path", {{ ca_file = "{tmp_path}/pki/ca.crt" }})
            local _, bad = network.ssl_check("localhost", {{ port = {port} }})
            local _, none = network.ssl_check("localhost:{closed_port()}")
            return good.valid, good.verified, good.subject, good.days_left > 800, bad.valid, bad.verified,
                   bad.error, none.valid, none.error ~= nil
            """
        )
    assert got == (
        True,
        True,
        "sloth-master",
        True,
        True,
        False,
        "unable to get local issuer certificate",
        False,
        True,
    )


def test_ping_traceroute_and_whois_programs(
    lua: Lua, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fakes = Fakes(tmp_path, monkeypatch)
    fakes.add(
        "ping",
        '[ "$5" = unreachable.test ] && { echo "ping: unreachable.test: Name or service not known" >&2; exit 2; }\n'
        'echo "PING $5"; echo "3 packets transmitted, 3 received, 0% packet loss, time 2003ms"\n'
        'echo "rtt min/avg/max/mdev = 0.1/0.2/0.3/0.1 ms"\n',
    )
    fakes.add(
        "traceroute", 'echo "traceroute to $3 (192.0.2.1), $2 hops max"; echo " 1  gw (192.0.2.1)  0.5 ms"\n'
    )
    fakes.add("whois", 'echo "Domain Name: $1"\n')
    got = lua.run(
        """
        local ok, p = network.ping("example.test", { count = 3, timeout = 2 })
        local bad, why = network.ping("unreachable.test")
        local _, tr = network.traceroute("example.test", 5)
        return ok, p.statistics, p.timing, bad, why, tr.success, tr.hops[1], #tr.hops, (network.whois("example.test"))
        """
    )
    assert got == (
        True,
        "3 packets transmitted, 3 received, 0% packet loss, time 2003ms",
        "rtt min/avg/max/mdev = 0.1/0.2/0.3/0.1 ms",
        False,
        "ping: unreachable.test: Name or service not known",
        True,
        "1  gw (192.0.2.1)  0.5 ms",
        1,
        "Domain Name: example.test\n",
    )
    assert fakes.calls() == [
        "ping -c 3 -W 2 example.test",
        "ping -c 3 -W 5 unreachable.test",
        "traceroute -m 5 example.test",
        "whois example.test",
    ]
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(LuaRuntimeError, match="network: 'whois' is not installed on this machine"):
        lua.run('return network.whois("example.test")')
