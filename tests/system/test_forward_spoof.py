# SPDX-License-Identifier: BSD-3-Clause
# test_forward_spoof.py: server.forward against off-path spoofing (RFC 5452): random
# source ports, dns-0x20 letter case, and what happens when sockets run out.
"""Forwarded queries must not be answerable by someone who only knows the upstream.

Each try of a forwarded query goes out from a fresh UDP socket connect()ed to the
upstream, on a random ephemeral port, and with the letters of its question name in
random case; a reply must repeat that case. The upstream here is a Python socket on
127.0.0.1 that records where the queries come from. An attacker who sprays all 65,536
IDs at the port the previous query came from (before: the same fixed port for every
query, and 5 of 5 forged answers were taken) now hits a closed port.
"""

import os
import re
import resource
import socket
import struct
import threading
import time
import urllib.request

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from conftest import HOST, SLOW, TIMEOUT, Srvd, free_port, write_registry
from forwarders import Dnsmasq, Unbound

FORGED = "203.0.113.66"
GOOD = "198.51.100.7"


def main_yaml(upstreams, timeout_ms, http=None):
    return """server:
  zone: svc.test
  forward: [%s]
  forward_timeout: %dms
%sservices:
  web:
    port: 80
    check: {type: none}
    instances:
      - {name: w1, address: 192.0.2.1}
""" % (", ".join('"%s"' % u for u in upstreams), timeout_ms,
       "  http: 127.0.0.1:%d\n" % http if http else "")


def start(tmp_path, name, text, zone):
    folder = tmp_path / name
    folder.mkdir()
    return Srvd(write_registry(str(folder), text), zone).start()


def answer_wire(qwire, qid, address, ttl=5):
    """A response to the question of qwire (bytes as sent), ID qid, one A record."""
    p = 12
    while qwire[p]:
        p += qwire[p] + 1
    question = qwire[12:p + 5]
    head = struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0)
    rr = struct.pack("!HHHIH", 0xC00C, 1, 1, ttl, 4) + socket.inet_aton(address)
    return head + question + rr


class Upstream:
    """A UDP upstream on 127.0.0.1. Records (source port, query bytes) of every query;
    answers with GOOD when `answering` is set, with the question lowercased when
    `lowercase` is set too (a resolver that does not preserve case)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.sock.settimeout(0.1)
        self.addr = "%s:%d" % (HOST, self.sock.getsockname()[1])
        self.got = []
        self.answering = True
        self.lowercase = False
        self.cond = threading.Condition()
        self.stopping = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping:
            try:
                data, peer = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.cond:
                self.got.append((peer[1], data))
                self.cond.notify_all()
            if self.answering:
                wire = answer_wire(data, struct.unpack("!H", data[:2])[0], GOOD)
                if self.lowercase:
                    wire = wire[:12] + wire[12:].lower()
                self.sock.sendto(wire, peer)

    def wait_queries(self, n, timeout=5.0):
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.got) >= n, timeout * SLOW), \
                "upstream got %d queries, expected %d" % (len(self.got), n)
            return list(self.got)

    def close(self):
        self.stopping = True
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def upstream():
    u = Upstream()
    yield u
    u.close()


def ask(d, name, timeout=TIMEOUT):
    q = dns.message.make_query(name, "A")
    r = dns.query.udp(q, d.host, port=d.port, timeout=timeout)
    assert r.id == q.id
    return r


def addrs(r):
    return sorted(rd.address for rrset in r.answer if rrset.rdtype == dns.rdatatype.A
                  for rd in rrset)


def qname_of(wire):
    return dns.message.from_wire(wire).question[0].name.to_text()


def test_source_ports_vary(tmp_path, upstream):
    """50 forwarded queries from one client leave from (nearly) 50 different ports;
    before, all from one port per worker."""
    d = start(tmp_path, "main", main_yaml([upstream.addr], 2000), "svc.test.")
    n = 50
    for i in range(n):
        assert addrs(ask(d, "n%d.other.example." % i)) == [GOOD]
    ports = [p for p, _ in upstream.wait_queries(n)]
    print("\n%d forwarded queries: %d distinct source ports" % (n, len(set(ports))))
    # random ephemeral ports (about 28,000 on Linux): a collision or two at most
    assert len(set(ports)) >= 40, sorted(ports)
    d.stop()


def test_question_case_randomised_and_restored(tmp_path, upstream):
    """The upstream sees the question's letters in random case, a different case for
    each query; the client gets its own case back."""
    d = start(tmp_path, "main", main_yaml([upstream.addr], 2000), "svc.test.")
    name = "www.Service-Discovery.example."
    for _ in range(20):
        r = ask(d, name)
        assert addrs(r) == [GOOD]
        assert r.question[0].name.to_text() == name  # not only equal: the same bytes
    sent = [qname_of(q) for _, q in upstream.wait_queries(20)]
    assert all(s.lower() == name.lower() for s in sent), sent
    # 26 letters: 20 random cases are all different and none is the client's
    assert len(set(sent)) == 20 and name not in sent, sent
    d.stop()


def spray(sock, port, question_wire, address):
    """Sends a forged answer with every ID (0..65535) to HOST:port from sock, paced so
    that a socket listening there reads them all (its receive buffer is ~200 packets)."""
    base = bytearray(answer_wire(question_wire, 0, address))
    for qid in range(65536):
        base[0] = qid >> 8
        base[1] = qid & 0xFF
        try:
            sock.sendto(base, (HOST, port))
        except OSError:
            pass  # an ICMP error of an earlier packet: the port is closed
        if qid % 128 == 127:
            time.sleep(0.001)


def test_sprayed_forgery_refused(tmp_path, upstream):
    """An attacker who knows the upstream and the port of the previous forwarded query
    sprays every ID at that port while the next query waits for its answer. Before,
    that was the port of every query, and the forged answer reached the client."""
    d = start(tmp_path, "main", main_yaml([upstream.addr], 4000), "svc.test.")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.settimeout(10 * SLOW)
        for round_ in range(2):
            # one answered query tells the attacker a port
            q = dns.message.make_query("seen%d.other.example." % round_, "A")
            client.sendto(q.to_wire(), d.addr)
            assert addrs(dns.message.from_wire(client.recv(65535))) == [GOOD]
            before = len(upstream.got)
            prev_port = upstream.got[-1][0]
            # the victim's query: the upstream stays silent, the attacker answers
            upstream.answering = False
            name = "victim%d.other.example." % round_
            q = dns.message.make_query(name, "A")
            client.sendto(q.to_wire(), d.addr)
            port, sent = upstream.wait_queries(before + 1)[-1]
            # the attacker does not know the letter case srvd sent: the client's
            spray(upstream.sock, prev_port, q.to_wire(), FORGED)
            r = dns.message.from_wire(client.recv(65535))
            upstream.answering = True
            print("\nround %d: previous query from port %d, this one from %d: %s" %
                  (round_, prev_port, port, dns.rcode.to_text(r.rcode())))
            assert r.id == q.id
            assert FORGED not in addrs(r), "a forged answer was accepted"
            # the upstream never answered: the client gets SERVFAIL after the timeout
            assert r.rcode() == dns.rcode.SERVFAIL
    d.stop()


def test_upstream_not_preserving_case_dropped(tmp_path, upstream):
    """A reply with the question in another letter case is dropped like a spoof (the
    try times out, the client gets SERVFAIL) and logged once."""
    upstream.lowercase = True
    d = start(tmp_path, "main", main_yaml([upstream.addr], 300), "svc.test.")
    for _ in range(2):
        r = ask(d, "NoCase.other.example.", timeout=TIMEOUT + 2 * SLOW)
        assert r.rcode() == dns.rcode.SERVFAIL and not r.answer
    d.wait_log(r"forward: 127\.0\.0\.1:\d+ changed the letter case of a question")
    assert len(re.findall("changed the letter case", d.stderr_text())) <= 2  # per worker
    d.stop()


def fd_numbers(pid):
    return {int(fd) for fd in os.listdir("/proc/%d/fd" % pid)}


def metric(http, name):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % http, timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise AssertionError("no %s in /metrics" % name)


def test_out_of_descriptors_servfail(tmp_path, upstream):
    """With no descriptor left for the query's socket (RLIMIT_NOFILE lowered on the
    running daemon), the client gets SERVFAIL at once and the failure is counted;
    with descriptors back, forwarding works and no descriptor has leaked."""
    http = free_port()
    d = start(tmp_path, "main", main_yaml([upstream.addr], 2000, http), "svc.test.")
    pid = d.proc.pid
    assert addrs(ask(d, "before.other.example.")) == [GOOD]
    fails0 = metric(http, "srvd_forward_failures_total")
    old = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    # the API's connection closes asynchronously: wait for the descriptors to settle,
    # then allow none above the lowest free one
    fds, deadline = None, time.monotonic() + 5 * SLOW
    while fds != fd_numbers(pid) and time.monotonic() < deadline:
        fds = fd_numbers(pid)
        time.sleep(0.3)
    lowest_free = min(set(range(len(fds) + 1)) - fds)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (lowest_free, old[1]))
    try:
        for i in range(5):
            t0 = time.monotonic()
            r = ask(d, "starved%d.other.example." % i)
            assert r.rcode() == dns.rcode.SERVFAIL and r.flags & dns.flags.RA
            assert time.monotonic() - t0 < 1.5 * SLOW  # not after the 2 s timeout
    finally:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, old)
    d.wait_log(r"forward: cannot open a UDP socket: Too many open files; answering SERVFAIL")
    assert metric(http, "srvd_forward_failures_total") == fails0 + 5
    assert addrs(ask(d, "after.other.example.")) == [GOOD]
    assert fd_numbers(pid) == fds
    d.stop()


OTHER_YAML = """server:
  zone: other.example
services:
  www:
    port: 80
    check: {type: none}
    instances:
      - {name: w1, address: 192.0.2.7}
"""


@pytest.mark.parametrize("kind", ["srvd", "unbound", "dnsmasq"])
def test_case_preserving_resolvers(tmp_path, kind):
    """srvd, unbound and dnsmasq as the upstream (the last two in front of a second
    srvd serving other.example) repeat the randomised case: answers come through,
    with the client's letter case."""
    other = start(tmp_path, "other", OTHER_YAML, "other.example.")
    resolver = None
    try:
        if kind == "srvd":
            up = "127.0.0.1:%d" % other.port
        else:
            folder = tmp_path / kind
            folder.mkdir()
            cls = Unbound if kind == "unbound" else Dnsmasq
            resolver = cls(folder, "other.example.", other.port).start()
            up = "127.0.0.1:%d" % resolver.port
        d = start(tmp_path, "main", main_yaml([up], 2000), "svc.test.")
        for i in range(10):
            name = "wWw.OTHER.example." if i % 2 else "www.other.example."
            r = ask(d, name)
            assert r.rcode() == dns.rcode.NOERROR and addrs(r) == ["192.0.2.7"], str(r)
            assert r.question[0].name.to_text() == name
        assert "changed the letter case" not in d.stderr_text()
        d.stop()
    finally:
        if resolver:
            resolver.stop()
        other.stop()
