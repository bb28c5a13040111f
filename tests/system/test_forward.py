# SPDX-License-Identifier: BSD-3-Clause
# test_forward.py: server.forward (README "Forwarding names outside srvd's zones"): names outside our zones relayed to upstreams.
"""Two kinds of upstream run on loopback, started here: a second srvd serving
other.example (the real resolver), and Python sockets that never answer,
answer SERVFAIL / REFUSED, or answer with a wrong ID or question (a spoofer).
The srvd under test forwards to them in the order the test lists them.
"""

import socket
import struct
import threading
import time
import urllib.request

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest

from conftest import SLOW, TIMEOUT, Srvd, write_registry

BIG = 40  # instances of big.other.example: 40 A records do not fit 512 bytes


def other_yaml():
    inst = "\n".join("      - {name: b%d, address: 192.0.2.%d}" % (i, i + 10)
                     for i in range(BIG))
    return """server:
  zone: other.example
  max_answers: 0
services:
  www:
    port: 80
    check: {type: none}
    instances:
      - {name: w1, address: 192.0.2.7}
  big:
    port: 80
    check: {type: none}
    instances:
%s
""" % inst


def main_yaml(forward=None, timeout_ms=300, log_queries=False):
    text = """server:
  zone: svc.test
  log_queries: LOGQ
services:
  web:
    port: 80
    check: {type: none}
    instances:
      - {name: w1, address: 192.0.2.1}
"""
    if forward is not None:
        text = text.replace("  zone: svc.test\n", "  zone: svc.test\n  forward: [%s]\n"
                            "  forward_timeout: %dms\n" %
                            (", ".join('"%s"' % f for f in forward), timeout_ms))
    return text.replace("LOGQ", "true" if log_queries else "false")


def start(tmp_path, name, text, zone):
    folder = tmp_path / name
    folder.mkdir()
    return Srvd(write_registry(str(folder), text), zone).start()


class Fake:
    """A UDP 'upstream' on 127.0.0.1: mode is silent, servfail, refused, wrongid,
    wrongq or answer (A 198.51.100.66). Counts the queries it got."""

    def __init__(self, mode):
        self.mode = mode
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.queries = 0
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
            self.queries += 1
            if self.mode == "silent":
                continue
            q = dns.message.from_wire(data)
            r = dns.message.make_response(q)
            if self.mode == "servfail":
                r.set_rcode(dns.rcode.SERVFAIL)
            elif self.mode == "refused":
                r.set_rcode(dns.rcode.REFUSED)
            else:
                r.answer.append(dns.rrset.from_text(q.question[0].name, 5, "IN", "A",
                                                    "198.51.100.66"))
                if self.mode == "wrongq":
                    r.question[0] = dns.rrset.RRset(dns.name.from_text("evil.example."),
                                                    dns.rdataclass.IN, dns.rdatatype.A)
            wire = bytearray(r.to_wire())
            if self.mode == "wrongid":
                wire[0:2] = struct.pack("!H", (q.id + 1) & 0xFFFF)
            self.sock.sendto(bytes(wire), peer)

    def close(self):
        self.stopping = True
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def fakes():
    made = []

    def make(mode):
        f = Fake(mode)
        made.append(f)
        return f

    yield make
    for f in made:
        f.close()


@pytest.fixture
def upstream(tmp_path):
    d = start(tmp_path, "upstream", other_yaml(), "other.example.")
    yield d
    d.stop()


def fwd(tmp_path, upstreams, timeout_ms=300, log_queries=False):
    return start(tmp_path, "main", main_yaml(upstreams, timeout_ms, log_queries), "svc.test.")


def ask(d, name, rdtype="A", transport="udp", **kw):
    q = dns.message.make_query(name, rdtype, **kw)
    t0 = time.monotonic()
    if transport == "udp":
        r = dns.query.udp(q, d.host, port=d.port, timeout=TIMEOUT + 3 * SLOW)
    else:
        r = dns.query.tcp(q, d.host, port=d.port, timeout=TIMEOUT + 3 * SLOW)
    assert r.id == q.id
    return r, time.monotonic() - t0


def addrs(r):
    return sorted(rd.address for rrset in r.answer if rrset.rdtype == dns.rdatatype.A
                  for rd in rrset)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_forwarded_answer_has_ra_and_client_id(tmp_path, upstream, transport):
    d = fwd(tmp_path, ["127.0.0.1:%d" % upstream.port])
    for rd in (True, False):
        kw = {} if rd else {"flags": 0}
        r, _ = ask(d, "www.other.example.", transport=transport, **kw)
        assert r.rcode() == dns.rcode.NOERROR
        assert r.flags & dns.flags.RA
        assert addrs(r) == ["192.0.2.7"]
        assert bool(r.flags & dns.flags.RD) == rd
    # NXDOMAIN of the upstream comes through as it is
    r, _ = ask(d, "nope.other.example.", transport=transport)
    assert r.rcode() == dns.rcode.NXDOMAIN
    assert r.flags & dns.flags.RA
    # our own zone is still ours: authoritative, no RA, upstream not asked
    r, _ = ask(d, "web.svc.test.", transport=transport)
    assert r.flags & dns.flags.AA
    assert not r.flags & dns.flags.RA
    assert addrs(r) == ["192.0.2.1"]
    r, _ = ask(d, "nope.svc.test.", transport=transport)
    assert r.rcode() == dns.rcode.NXDOMAIN and r.flags & dns.flags.AA
    assert not r.flags & dns.flags.RA
    d.stop()


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_without_forward_refused(tmp_path, upstream, transport):
    d = start(tmp_path, "main", main_yaml(None), "svc.test.")
    for name, rdtype in (("www.other.example.", "A"), (".", "NS")):
        r, took = ask(d, name, rdtype, transport=transport)
        assert r.rcode() == dns.rcode.REFUSED
        assert not r.flags & dns.flags.RA
        assert took < 0.5 * SLOW
    d.stop()


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_root_ns_forwarded(tmp_path, fakes, transport):
    # CoreDNS's health probe: forwarded with server.forward, a well-formed reply at once
    good = fakes("answer")
    d = fwd(tmp_path, [good.addr])
    r, took = ask(d, ".", "NS", transport=transport)
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.RA
    assert good.queries == 1
    assert took < 0.5 * SLOW
    d.stop()


def test_failover_after_timeout(tmp_path, upstream, fakes):
    silent = fakes("silent")
    d = fwd(tmp_path, [silent.addr, "127.0.0.1:%d" % upstream.port], timeout_ms=300)
    for transport in ("udp", "tcp"):
        r, took = ask(d, "www.other.example.", transport=transport)
        assert addrs(r) == ["192.0.2.7"] and r.flags & dns.flags.RA
        assert 0.29 <= took < 0.3 + 0.7 * SLOW, took
    assert silent.queries == 2
    d.stop()


@pytest.mark.parametrize("mode", ["servfail", "refused"])
def test_failover_on_servfail_refused(tmp_path, upstream, fakes, mode):
    bad = fakes(mode)
    d = fwd(tmp_path, [bad.addr, "127.0.0.1:%d" % upstream.port], timeout_ms=2000)
    r, took = ask(d, "www.other.example.")
    assert r.rcode() == dns.rcode.NOERROR and addrs(r) == ["192.0.2.7"]
    assert bad.queries == 1
    assert took < 1.0 * SLOW  # no waiting for the timeout
    d.stop()


def test_first_upstream_preferred(tmp_path, upstream, fakes):
    first = fakes("answer")
    d = fwd(tmp_path, [first.addr, "127.0.0.1:%d" % upstream.port])
    r, _ = ask(d, "www.other.example.")
    assert addrs(r) == ["198.51.100.66"]
    assert first.queries == 1
    d.stop()


@pytest.mark.parametrize("mode", ["wrongid", "wrongq"])
def test_mismatched_reply_dropped(tmp_path, upstream, fakes, mode):
    spoof = fakes(mode)
    d = fwd(tmp_path, [spoof.addr, "127.0.0.1:%d" % upstream.port], timeout_ms=300)
    r, took = ask(d, "www.other.example.")
    # the spoofer's 198.51.100.66 never reaches the client: its reply was
    # dropped, the try timed out and the next upstream answered
    assert addrs(r) == ["192.0.2.7"]
    assert took >= 0.29
    d.stop()


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_all_upstreams_fail_servfail(tmp_path, fakes, transport):
    a, b = fakes("silent"), fakes("servfail")
    d = fwd(tmp_path, [a.addr, b.addr], timeout_ms=200)
    r, took = ask(d, "www.other.example.", transport=transport)
    assert r.rcode() == dns.rcode.SERVFAIL and r.flags & dns.flags.RA
    assert 0.19 <= took < 0.2 + 0.7 * SLOW
    assert a.queries == 1 and b.queries == 1
    d.stop()


def test_truncation(tmp_path, upstream):
    d = fwd(tmp_path, ["127.0.0.1:%d" % upstream.port])
    want = sorted("192.0.2.%d" % (i + 10) for i in range(BIG))
    # UDP without EDNS: the upstream's TC answer is relayed, the client retries TCP
    r, _ = ask(d, "big.other.example.")
    assert r.flags & dns.flags.TC and r.flags & dns.flags.RA
    # EDNS passes through unchanged: with 4096 bytes the whole answer fits UDP
    r, _ = ask(d, "big.other.example.", use_edns=0, payload=4096)
    assert not r.flags & dns.flags.TC
    assert addrs(r) == want
    # TCP client: the upstream's UDP answer is truncated, srvd asks it over TCP
    r, _ = ask(d, "big.other.example.", transport="tcp")
    assert not r.flags & dns.flags.TC and r.flags & dns.flags.RA
    assert addrs(r) == want
    d.stop()


def test_many_concurrent_udp(tmp_path, upstream):
    d = fwd(tmp_path, ["127.0.0.1:%d" % upstream.port])
    n = 200
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(TIMEOUT)
        sent = {}
        for i in range(n):
            q = dns.message.make_query("www.other.example.", "A")
            q.id = i + 1
            sent[q.id] = q
            s.sendto(q.to_wire(), (d.host, d.port))
        got = set()
        while len(got) < n:
            r = dns.message.from_wire(s.recv(65535))
            assert r.id in sent and r.id not in got
            assert addrs(r) == ["192.0.2.7"] and r.flags & dns.flags.RA
            got.add(r.id)
    d.stop()


def test_tcp_pipelined_and_half_close(tmp_path, upstream):
    # several forwarded and local queries on one connection, then a half-close:
    # every answer still arrives (forwarded ones may come out of order)
    d = fwd(tmp_path, ["127.0.0.1:%d" % upstream.port])
    names = ["www.other.example.", "web.svc.test.", "nope.other.example.", "web.svc.test."]
    qs = []
    with socket.create_connection(d.addr, timeout=TIMEOUT) as s:
        for i, name in enumerate(names):
            q = dns.message.make_query(name, "A")
            q.id = 100 + i
            qs.append(q)
            w = q.to_wire()
            s.sendall(struct.pack("!H", len(w)) + w)
        s.shutdown(socket.SHUT_WR)
        got = {}
        for _ in names:
            (n,) = struct.unpack("!H", _recv(s, 2))
            r = dns.message.from_wire(_recv(s, n))
            got[r.id] = r
    assert sorted(got) == [100, 101, 102, 103]
    assert addrs(got[100]) == ["192.0.2.7"] and got[100].flags & dns.flags.RA
    assert got[102].rcode() == dns.rcode.NXDOMAIN
    assert got[101].flags & dns.flags.AA and not got[101].flags & dns.flags.RA
    d.stop()


def _recv(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        assert chunk, "connection closed early"
        buf += chunk
    return buf


def test_bad_forward_address_fails_start(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    d = Srvd(write_registry(str(folder), main_yaml(["localhost:53"])), "svc.test.")
    with pytest.raises(BaseException):
        d.start()
    assert "server.forward" in d.stderr_text()


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_forwarded_query_logged_when_answered(tmp_path, upstream, fakes, transport):
    bad = fakes("servfail")
    d = fwd(tmp_path, [bad.addr, "127.0.0.1:%d" % upstream.port], log_queries=True)
    r, _ = ask(d, "WWW.other.example.", "A", transport=transport)
    size = len(r.to_wire())
    d.wait_log(r" info: query 127\.0\.0\.1#\d+ WWW\.other\.example\. A IN rcode=NOERROR "
               r"size=%d %s$" % (size, transport))
    d.stop()


def test_pending_table_full_servfail(tmp_path, fakes):
    # one client socket lands on one worker (SO_REUSEPORT hashes the 4-tuple): its
    # first DNS_FWD_PENDING (1024) queries wait on a silent upstream, the rest get
    # SERVFAIL at once instead of queueing without bound
    silent = fakes("silent")
    d = fwd(tmp_path, [silent.addr], timeout_ms=3000)
    n, pending = 1100, 1024
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        for i in range(n):
            q = dns.message.make_query("x%d.other.example." % i, "A")
            s.sendto(q.to_wire(), (d.host, d.port))
            if i % 50 == 49:
                time.sleep(0.005)
        s.settimeout(1.0)
        quick = []
        try:
            while True:
                quick.append(dns.message.from_wire(s.recv(65535)))
        except socket.timeout:
            pass
    assert len(quick) == n - pending
    assert all(r.rcode() == dns.rcode.SERVFAIL and r.flags & dns.flags.RA for r in quick)
    assert silent.queries == pending
    d.stop()


def test_forward_counters_in_metrics(tmp_path, upstream, fakes):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        http = s.getsockname()[1]
    bad = fakes("servfail")
    text = main_yaml([bad.addr, "127.0.0.1:%d" % upstream.port]).replace(
        "  zone: svc.test\n", "  zone: svc.test\n  http: 127.0.0.1:%d\n" % http)
    d = start(tmp_path, "main", text, "svc.test.")
    for _ in range(3):
        ask(d, "www.other.example.")
    ask(d, "web.svc.test.")  # ours: not forwarded
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % http, timeout=5) as r:
        body = r.read().decode()
    values = {}
    for line in body.splitlines():
        if line.startswith("srvd_forward_"):
            name, value = line.split()
            values[name] = float(value)
    assert values == {"srvd_forward_queries_total": 3, "srvd_forward_failures_total": 3}, body
    d.stop()
