# SPDX-License-Identifier: BSD-3-Clause
# test_logs.py: log lines an operator can read: levels, server.log_queries, server.syslog.
"""One line per event with a level; the optional query log over UDP and TCP; syslog(3).

The syslog test runs srvd inside `unshare -m` with a test-owned folder bind-mounted over
/dev: glibc's syslog(3) always writes to /dev/log, which is there a unix datagram socket
bound and read by the test. Nothing outside the test's mount namespace changes.
"""

import os
import re
import signal
import socket
import struct
import threading

import dns.message
import dns.query
import dns.rcode
import pytest

import conftest
from conftest import HOST, TIMEOUT, tcp_read_msg

LINE_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z srvd\[\d+\] "
                     r"(error|warning|info|debug): \S.*$")
QUERY_RE = re.compile(r" info: query (\S+)#(\d+) (\S+) (\S+) (\S+) rcode=(\S+) size=(\d+) "
                      r"(udp|tcp)$")

REGISTRY = """\
server:
  zone: svc.test.
  log_queries: {log_queries}
  syslog: {syslog}
services:
  web:
    port: 8080
    check: {{type: none}}
    instances:
      - {{name: web-1, address: 192.0.2.1}}
      - {{name: web-2, address: "2001:db8::2"}}
"""


def registry(log_queries="false", syslog="off"):
    return REGISTRY.format(log_queries=log_queries, syslog=syslog)


def ask(d, name, rdtype, transport, rdclass="IN"):
    """Sends one query from a socket of its own; returns (response, its size on the wire,
    the source port)."""
    wire = dns.message.make_query(name, rdtype, rdclass=rdclass).to_wire()
    if transport == "udp":
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(TIMEOUT)
            s.bind((HOST, 0))
            s.sendto(wire, d.addr)
            data = s.recv(65535)
            port = s.getsockname()[1]
    else:
        with socket.create_connection(d.addr, timeout=TIMEOUT) as s:
            s.sendall(struct.pack("!H", len(wire)) + wire)
            data = tcp_read_msg(s)
            port = s.getsockname()[1]
    return dns.message.from_wire(data), len(data), port


def query_lines(d):
    """Query log lines, without the fixture's own `_ready` probes."""
    return [m for m in map(QUERY_RE.search, d.stderr_text().splitlines())
            if m and not m.group(3).startswith("_ready.")]


def test_every_line_has_time_pid_and_level(srvd_factory):
    d = srvd_factory(registry(log_queries="true"), "svc.test.", args=["-l", HOST + ":0", "-v"])
    ask(d, "web.svc.test.", "A", "udp")
    ask(d, "nope.svc.test.", "AAAA", "tcp")
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log(r"reload \(SIGHUP\)")
    d.stop()
    lines = d.stderr_text().splitlines()
    assert len(lines) >= 5, d.stderr_text()
    bad = [line for line in lines if not LINE_RE.match(line)]
    assert not bad, "lines without time stamp, pid or level:\n" + "\n".join(bad)
    levels = {LINE_RE.match(line).group(1) for line in lines}
    assert {"info", "debug"} <= levels, levels


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_query_log_fields(srvd_factory, transport):
    d = srvd_factory(registry(log_queries="true"), "svc.test.")
    cases = [
        # name as sent (letter case kept), type, class, expected rcode name
        ("WeB.svc.test.", "A", "IN", "NOERROR"),
        ("_web._tcp.svc.test.", "SRV", "IN", "NOERROR"),
        ("missing.svc.test.", "AAAA", "IN", "NXDOMAIN"),
        ("elsewhere.example.", "TXT", "IN", "REFUSED"),
        ("version.server.", "TXT", "CH", "NOERROR"),
    ]
    sent = []
    for name, rdtype, rdclass, rcode in cases:
        r, size, port = ask(d, name, rdtype, transport, rdclass=rdclass)
        assert dns.rcode.to_text(r.rcode()) == rcode
        sent.append((port, name, rdtype, rdclass, rcode, size))
    d.wait_log(r" info: query \S+ (?!_ready\.).* %s$" % transport, count=len(cases))
    got = [m.groups() for m in query_lines(d)]
    want = [(HOST, str(port), name, rdtype, rdclass, rcode, str(size), transport)
            for port, name, rdtype, rdclass, rcode, size in sent]
    assert got == want, d.stderr_text()


def test_query_log_off_by_default_and_follows_reload(srvd_factory, tmp_path):
    d = srvd_factory(registry(), "svc.test.")
    for _ in range(5):
        ask(d, "web.svc.test.", "A", "udp")
        ask(d, "web.svc.test.", "A", "tcp")
    assert query_lines(d) == [], d.stderr_text()
    # the query log is a runtime setting: a reload turns it on without a restart
    conftest.write_registry(str(tmp_path), registry(log_queries="true"))
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log(r"reload \(SIGHUP\)")
    ask(d, "web.svc.test.", "A", "udp")
    d.wait_log(r" info: query 127\.0\.0\.1#\d+ web\.svc\.test\. A IN rcode=NOERROR")
    assert len(query_lines(d)) == 1, d.stderr_text()


def test_query_lines_never_interleave(srvd_factory):
    """Many clients on both workers at once: every query gets exactly one whole line."""
    d = srvd_factory(registry(log_queries="true"), "svc.test.", workers=2)
    per_thread, threads, errors = 100, 6, []

    def client(i):
        transport = "tcp" if i % 3 == 0 else "udp"
        try:
            for j in range(per_thread):
                ask(d, "q%d-%d.web.svc.test." % (i, j), "A", transport)
        except Exception as e:  # reported below, not lost in the thread
            errors.append(e)

    ts = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not errors, errors
    d.wait_log(r" info: query \S+ q", count=per_thread * threads)
    d.stop()
    lines = d.stderr_text().splitlines()
    assert all(LINE_RE.match(line) for line in lines), d.stderr_text()
    names = sorted(m.group(3) for m in query_lines(d))
    assert names == sorted("q%d-%d.web.svc.test." % (i, j) for i in range(threads)
                           for j in range(per_thread))


# --- syslog ---------------------------------------------------------------------------------

LOCAL0 = 16


def read_syslog(sock, pattern, timeout=5.0):
    """Datagrams from /dev/log until one matches pattern; returns (all read, match)."""
    rx = re.compile(pattern)
    sock.settimeout(timeout * conftest.SLOW)
    seen = []
    while True:
        try:
            data = sock.recv(65536).decode("utf-8", "replace")
        except socket.timeout:
            pytest.fail("no syslog message matching %r; got:\n%s" % (pattern, "\n".join(seen)))
        seen.append(data)
        m = rx.search(data)
        if m:
            return seen, m


def test_syslog_local0(tmp_path, monkeypatch):
    dev = tmp_path / "dev"
    dev.mkdir()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(dev / "log"))
    # srvd sees the test's folder as /dev, with the devices a process may open
    script = ('set -e; mount --make-rprivate /; for f in null zero random urandom; do '
              ': > "$D/$f"; mount --bind "/dev/$f" "$D/$f"; done; '
              'mount --rbind "$D" /dev; exec "$@"')
    monkeypatch.setenv("D", str(dev))
    wrap = ["unshare", "-m", "sh", "-c", script, "sh"]
    orig = conftest.srvd_cmd
    monkeypatch.setattr(conftest, "srvd_cmd", lambda args: wrap + orig(args))
    path = conftest.write_registry(str(tmp_path), registry(log_queries="true", syslog="local0"))
    d = conftest.Srvd(path, "svc.test.")
    try:
        d.start()
        pid = d.proc.pid
        # RFC 3164 as glibc writes it: <PRI>TIMESTAMP srvd[PID]: MESSAGE
        head = r"^<(\d+)>\w{3} [ \d]\d \d\d:\d\d:\d\d srvd\[%d\]: " % pid
        seen, m = read_syslog(sock, head + r"listening on 127\.0\.0\.1:%d \(udp, tcp\)$" %
                              d.port)
        assert int(m.group(1)) == LOCAL0 * 8 + 6  # local0.info
        ask(d, "web.svc.test.", "A", "udp")
        seen, m = read_syslog(sock, head + r"query 127\.0\.0\.1#\d+ web\.svc\.test\. A IN "
                              r"rcode=NOERROR size=\d+ udp$")
        assert int(m.group(1)) == LOCAL0 * 8 + 6
        # a warning keeps its level: a reload that changes what needs a restart
        conftest.write_registry(
            str(tmp_path),
            registry(log_queries="true", syslog="local0").replace(
                "server:\n", "server:\n  http_token: secret\n"))
        d.proc.send_signal(signal.SIGHUP)
        seen, m = read_syslog(sock, head + r"reload: server\.http or server\.http_token or "
                              r"server\.heartbeat_token changed")
        assert int(m.group(1)) == LOCAL0 * 8 + 4  # local0.warning
        # syslog carries the message only: its own header has the time and pid
        assert all(" info: " not in s and " warning: " not in s for s in seen), seen
    finally:
        d.stop()
        sock.close()
    # stderr keeps every line as well
    assert re.search(r" warning: reload: server\.http or server\.http_token or "
                     r"server\.heartbeat_token changed", d.stderr_text())
