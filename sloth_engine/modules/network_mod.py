"""`network`: network diagnostics, with the original module's 15 functions and results.

    network.ping(host, {count = 3, timeout = 5}) -> true, {success, output, statistics, timing} | false, msg
    network.port_check(host, port[, timeout = 5]) -> true, "port is open" | false, message
    network.port_scan(host, {ports} | port[, timeout = 2]) -> {open = {...}, closed = {...}, total_scanned}
    network.telnet(host, port[, timeout = 10]) -> true, {connected, banner} | false, message
    network.dns_lookup(name[, "A" | "AAAA" | "CNAME" | "TXT" | "MX" | "NS"]) -> true, {values} | nil, msg
    network.reverse_dns(ip) -> true, {names}      network.mx_lookup(domain) -> true, {{host, priority}}
    network.interfaces() -> true, {{name, mtu, hardware_addr, flags, addresses}}
    network.public_ip() -> ip | nil, message      network.local_ip() -> ip
    network.traceroute(host[, max_hops = 30]) -> true, {success, output, hops}
    network.whois(domain) -> text | nil, message
    network.ssl_check(url) -> true, {valid, verified, subject, issuer, not_after, days_left, error}
    network.bandwidth_test([url]) -> "N bytes/sec" | nil, message
    network.latency_test(host[, count = 5]) -> {average_ms, success_rate, total_tests, successful_tests}

Sockets, DNS (dnspython), TLS (ssl) and HTTP are done here; ping, traceroute and whois are
their programs (a clear error names the one missing). A trailing options table may give
`nameserver` and `dns_port` for the DNS functions, `services` (URLs answering the caller's
address) for public_ip, and `port` for ssl_check and latency_test (443 and 80 by default;
`host:port` works too).
"""

from __future__ import annotations

import datetime
import socket
import ssl
import time
from collections.abc import Callable
from typing import Any

from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv
from sloth_engine.modules.host_tool import Tool, required, split
from sloth_engine.modules.http_client import Request, send

PUBLIC_IP_SERVICES = ("https://api.ipify.org", "https://icanhazip.com", "https://ifconfig.me")


def host_port(text: str, default: int) -> tuple[str, int]:
    """`host`, `host:port`, `https://host[:port]/path` -> (host, port)."""
    text = text.split("://", 1)[-1].split("/", 1)[0]
    host, sep, port = text.rpartition(":")
    if sep and port.isdigit() and "]" not in port:
        return host.strip("[]"), int(port)
    return text.strip("[]"), default


def connect(host: str, port: int, timeout: float) -> socket.socket:
    return socket.create_connection((host, port), timeout=timeout)


def common_name(name: Any) -> str:
    """commonName of a certificate name as ssl gives it: ((("commonName", "x"),), ...)."""
    return next((value for rdn in name for key, value in rdn if key == "commonName"), "")


def number(value: Any, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


class Network:
    def __init__(self, sandbox: Sandbox, env: ModuleEnv) -> None:
        self.sandbox = sandbox
        self.tool = Tool(sandbox, env, "network")

    def stop_if_asked(self) -> None:
        reason = self.sandbox.guard.check()
        if reason is not None:
            raise ModuleError(reason)

    def ping(self, host: Any = None, opts: Any = None) -> tuple[Any, Any]:
        options = opts if isinstance(opts, dict) else {}
        count, wait = int(number(options.get("count"), 3)), int(number(options.get("timeout"), 5))
        done = self.tool.run(
            ["ping", "-c", str(count), "-W", str(wait), required("network.ping", host, "host")]
        )
        if done.exit_code != 0:
            return False, (done.stderr.strip() or done.stdout.strip() or f"exit status {done.exit_code}")
        result: dict[str, Any] = {"success": True, "output": done.stdout}
        for line in done.stdout.splitlines():
            if "packets transmitted" in line:
                result["statistics"] = line
            if "min/avg/max" in line:
                result["timing"] = line
        return True, result

    def port_check(self, *args: Any) -> tuple[bool, str]:
        (host, port, wait), _ = split(args, 3)
        try:
            connect(required("network.port_check", host, "host"), int(port), number(wait, 5)).close()
        except OSError as exc:
            return False, f"dial tcp {host}:{port}: {exc.strerror or exc}"
        return True, "port is open"

    def port_scan(self, *args: Any) -> dict[str, Any]:
        (host, ports, wait), _ = split(args, 3)
        wanted = ports if isinstance(ports, list) else [ports] if isinstance(ports, (int, float)) else []
        found: dict[str, list[int]] = {"open": [], "closed": []}
        for port in (int(p) for p in wanted if isinstance(p, (int, float))):
            self.stop_if_asked()
            try:
                connect(required("network.port_scan", host, "host"), port, number(wait, 2)).close()
                found["open"].append(port)
            except OSError:
                found["closed"].append(port)
        return {**found, "total_scanned": len(wanted)}

    def telnet(self, *args: Any) -> tuple[Any, Any]:
        (host, port, wait), _ = split(args, 3)
        try:
            conn = connect(required("network.telnet", host, "host"), int(port), number(wait, 10))
        except OSError as exc:
            return False, f"dial tcp {host}:{port}: {exc.strerror or exc}"
        result: dict[str, Any] = {"connected": True}
        with conn:
            conn.settimeout(min(number(wait, 10), 5))
            try:
                banner = conn.recv(1024)
                if banner:
                    result["banner"] = banner.decode("utf-8", "replace")
            except OSError:
                pass
        return True, result

    def resolver(self, opts: dict[str, Any]) -> Any:
        import dns.resolver

        if not opts.get("nameserver"):
            return dns.resolver.Resolver()
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [str(opts["nameserver"])]
        resolver.port = int(opts.get("dns_port") or 53)
        resolver.lifetime = number(opts.get("timeout"), 5)
        return resolver

    def query(self, name: str, kind: str, opts: dict[str, Any]) -> list[Any]:
        import dns.exception

        try:
            return list(self.resolver(opts).resolve(name, kind))
        except dns.exception.DNSException as exc:
            raise LookupError(f"lookup {name}: {exc}") from None

    def dns_lookup(self, *args: Any) -> tuple[Any, Any]:
        (name, kind), opts = split(args, 2)
        name, kind = required("network.dns_lookup", name, "name"), str(kind or "A").upper()
        try:
            if kind == "A" and not opts.get("nameserver"):
                found = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
                return True, list(dict.fromkeys(str(info[4][0]) for info in found))
            answers = self.query(name, kind, opts)
        except (LookupError, OSError) as exc:
            return None, str(exc) if isinstance(exc, LookupError) else f"lookup {name}: {exc.strerror or exc}"
        if kind == "TXT":
            return True, [b"".join(a.strings).decode("utf-8", "replace") for a in answers]
        if kind == "MX":
            return True, [str(a.exchange) for a in answers]
        return True, [a.to_text() for a in answers]

    def reverse_dns(self, *args: Any) -> tuple[Any, Any]:
        (address,), opts = split(args, 1)
        address = required("network.reverse_dns", address, "ip")
        try:
            if opts.get("nameserver"):
                import dns.reversename

                return True, [
                    a.to_text()
                    for a in self.query(dns.reversename.from_address(address).to_text(), "PTR", opts)
                ]
            name, aliases, _ = socket.gethostbyaddr(address)
            return True, [name, *aliases]
        except (LookupError, OSError, ValueError) as exc:
            return None, str(exc)

    def mx_lookup(self, *args: Any) -> tuple[Any, Any]:
        (domain,), opts = split(args, 1)
        try:
            answers = self.query(required("network.mx_lookup", domain, "domain"), "MX", opts)
        except LookupError as exc:
            return None, str(exc)
        records = sorted(answers, key=lambda a: a.preference)
        return True, [{"host": str(a.exchange), "priority": a.preference} for a in records]

    def interfaces(self) -> tuple[Any, Any]:
        import psutil

        stats, addresses = psutil.net_if_stats(), psutil.net_if_addrs()
        rows = []
        for name in sorted(addresses):
            stat = stats.get(name)
            mac = next((a.address for a in addresses[name] if a.family == psutil.AF_LINK), "")
            ips = [a.address for a in addresses[name] if a.family in (socket.AF_INET, socket.AF_INET6)]
            flags = ("up" if stat and stat.isup else "down") + ("|loopback" if name == "lo" else "")
            rows.append(
                {
                    "name": name,
                    "mtu": stat.mtu if stat else 0,
                    "hardware_addr": mac,
                    "flags": flags,
                    "addresses": ips,
                }
            )
        return True, rows

    def public_ip(self, opts: Any = None) -> tuple[Any, Any]:
        services = (opts or {}).get("services") if isinstance(opts, dict) else None
        for url in services or PUBLIC_IP_SERVICES:
            try:
                answer = send(self.sandbox, Request(str(url), timeout=5.0))
            except ModuleError:
                continue
            text = answer.body.strip()
            try:
                socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)
            except OSError:
                continue
            return text, None
        return None, "failed to get public IP"

    def local_ip(self) -> tuple[Any, Any]:
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.connect(("8.8.8.8", 80))  # UDP: no packet is sent, the route picks the address
                return probe.getsockname()[0], None
        except OSError as exc:
            return None, str(exc)

    def traceroute(self, *args: Any) -> tuple[bool, dict[str, Any]]:
        (host, hops), _ = split(args, 2)
        words = ["traceroute", "-m", str(int(number(hops, 30))), required("network.traceroute", host, "host")]
        done = self.tool.run(words)
        if done.exit_code != 0:
            return True, {"success": False, "error": done.stderr.strip() or f"exit status {done.exit_code}"}
        lines = [line.strip() for line in done.stdout.splitlines()]
        hops_found = [line for line in lines if line and "traceroute" not in line]
        return True, {"success": True, "output": done.stdout, "hops": hops_found}

    def whois(self, domain: Any = None) -> tuple[Any, Any]:
        done = self.tool.run(["whois", required("network.whois", domain, "domain")])
        if done.exit_code != 0 and not done.stdout:
            return None, done.stderr.strip() or f"exit status {done.exit_code}"
        return done.stdout, None

    def ssl_check(self, *args: Any) -> tuple[bool, dict[str, Any]]:
        (url,), opts = split(args, 1)
        host, port = host_port(required("network.ssl_check", url, "url"), int(opts.get("port") or 443))
        wait = number(opts.get("timeout"), 10)
        result: dict[str, Any] = {"valid": False, "verified": False, "host": host, "port": port}
        context = ssl.create_default_context(cafile=opts.get("ca_file"))
        try:
            with connect(host, port, wait) as raw, context.wrap_socket(raw, server_hostname=host) as tls:
                cert: dict[str, Any] = dict(tls.getpeercert() or {})
                result.update(valid=True, verified=True)
        except ssl.SSLCertVerificationError as exc:
            result.update(valid=True, error=exc.verify_message or str(exc))
            return True, result
        except (OSError, ssl.SSLError) as exc:
            result["error"] = str(exc)
            return True, result
        expires = datetime.datetime.fromtimestamp(ssl.cert_time_to_seconds(cert["notAfter"]), datetime.UTC)
        result.update(
            subject=common_name(cert.get("subject", ())),
            issuer=common_name(cert.get("issuer", ())),
            not_after=expires.isoformat(),
            days_left=(expires - datetime.datetime.now(datetime.UTC)).days,
        )
        return True, result

    def bandwidth_test(self, server: Any = None, opts: Any = None) -> tuple[Any, Any]:
        url = str(server or "speedtest.net")
        url = url if "://" in url else f"http://{url}"
        started = time.monotonic()
        try:
            answer = send(self.sandbox, Request(url, timeout=number((opts or {}).get("timeout"), 30)))
        except ModuleError as exc:
            return None, str(exc)
        spent = max(time.monotonic() - started, 1e-6)
        return f"{len(answer.body.encode()) / spent:.3f} bytes/sec", None

    def latency_test(self, *args: Any) -> dict[str, Any]:
        (target, count), opts = split(args, 2)
        host, port = host_port(required("network.latency_test", target, "host"), int(opts.get("port") or 80))
        total, times = int(number(count, 5)), []
        for _ in range(total):
            self.stop_if_asked()
            started = time.monotonic()
            try:
                connect(host, port, 5).close()
                times.append((time.monotonic() - started) * 1000)
            except OSError:
                continue
        average = sum(times) / len(times) if times else 0
        rate = len(times) / total * 100 if total else 0
        return {
            "average_ms": average,
            "success_rate": rate,
            "total_tests": total,
            "successful_tests": len(times),
        }


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    n = Network(sandbox, env)
    names = (
        "ping port_check port_scan telnet dns_lookup reverse_dns mx_lookup interfaces public_ip local_ip "
        "traceroute whois ssl_check bandwidth_test latency_test"
    ).split()
    functions: dict[str, Callable[..., Any]] = {name: getattr(n, name) for name in names}
    sandbox.set_module("network", functions, blocking=frozenset(functions) - {"interfaces"})
