# SPDX-License-Identifier: BSD-3-Clause
# test_forwarders.py: srvd behind real unbound (forward-zone, stub-zone) and dnsmasq.
"""srvd as the forward target of the resolvers operators run in front of it.

One srvd serves svc.test.; unbound (once with the forward-zone of docs/unbound.conf,
once with its stub-zone variant) and dnsmasq (docs/dnsmasq.conf) run on loopback
ports in front of it (see forwarders.py), and every test asks through each of them
and compares exact record sets. The truncation test uses a 100-instance service
with max_answers 0: srvd's UDP answer is TC=1, so the records can only reach the
client if the forwarder fetched them from srvd over TCP.

CoreDNS is not packaged in Debian; its health probes are emulated with the queries
its forward plugin sends (`. IN NS` with RD, and `_ready.<zone> IN NS` with
`health_check ... domain _ready.<zone>`).
"""

import socket
import threading
import time

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from conftest import SLOW, TIMEOUT, Srvd, write_registry
from forwarders import Dnsmasq, Unbound, doc_snippet, unbound_stub_variant

ZONE = "svc.test."
BIG = 100  # instances of "big": 100 A records (1.6 KB) do not fit 1232 bytes of UDP
WEB_A = {"192.0.2.11", "192.0.2.12"}
WEB_AAAA = {"2001:db8::13"}
WEB_SRV = {"0 1 8080 web-1.web.svc.test.", "0 1 8081 web-2.web.svc.test.",
           "0 1 8080 web-3.web.svc.test."}
BIG_A = {"198.51.100.%d" % i for i in range(1, BIG + 1)}


def registry():
    big = "\n".join("      - {name: big-%d, address: 198.51.100.%d}" % (i, i)
                    for i in range(1, BIG + 1))
    return """\
server:
  zone: svc.test.
  ttl: 30
  max_answers: 0
  soa: {mname: ns1.svc.test., rname: hostmaster.svc.test., minimum: 5}
  ns: [ns1.svc.test.]
defaults:
  policy: fixed
  check: {type: none}
services:
  web:
    port: 8080
    instances:
      - {name: web-1, address: 192.0.2.11}
      - {name: web-2, address: 192.0.2.12, port: 8081}
      - {name: web-3, address: "2001:db8::13"}
  big:
    port: 9000
    instances:
%s
""" % big


@pytest.fixture(scope="module")
def srvd(tmp_path_factory):
    folder = tmp_path_factory.mktemp("srvd")
    d = Srvd(write_registry(str(folder), registry()), ZONE).start()
    yield d
    d.stop()


FORWARDERS = ["unbound-forward", "unbound-stub", "dnsmasq"]


@pytest.fixture(scope="module", params=FORWARDERS)
def fwd(request, srvd, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    if request.param == "dnsmasq":
        f = Dnsmasq(folder, ZONE, srvd.port)
    else:
        f = Unbound(folder, ZONE, srvd.port, stub=request.param == "unbound-stub")
    f.start()
    yield f
    rc = f.stop()
    assert rc == 0, "%s exited %r; log:\n%s" % (f.name, rc, f.log_text())
    assert srvd.alive(), "srvd died behind %s:\n%s" % (f.name, srvd.stderr_text())


def ask(f, name, rdtype, transport="udp", **kw):
    q = dns.message.make_query(name, rdtype, **kw)
    if transport == "udp":
        return dns.query.udp(q, f.host, port=f.port, timeout=TIMEOUT)
    return dns.query.tcp(q, f.host, port=f.port, timeout=TIMEOUT)


def rdata_set(section, name, rdtype):
    out = set()
    for rrset in section:
        if rrset.name == dns.name.from_text(name) and rrset.rdtype == dns.rdatatype.from_text(
                rdtype):
            out |= {rr.to_text() for rr in rrset}
    return out


def context(f, r):
    return "%s answered:\n%s\n--- %s log:\n%s" % (f.name, r, f.name, f.log_text())


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_a(fwd, transport):
    r = ask(fwd, "web.svc.test.", "A", transport)
    assert r.rcode() == dns.rcode.NOERROR, context(fwd, r)
    assert len(r.answer) == 1, context(fwd, r)
    assert rdata_set(r.answer, "web.svc.test.", "A") == WEB_A, context(fwd, r)


def test_aaaa(fwd):
    r = ask(fwd, "web.svc.test.", "AAAA")
    assert r.rcode() == dns.rcode.NOERROR, context(fwd, r)
    assert len(r.answer) == 1, context(fwd, r)
    assert rdata_set(r.answer, "web.svc.test.", "AAAA") == WEB_AAAA, context(fwd, r)


def test_one_instance(fwd):
    r = ask(fwd, "web-2.web.svc.test.", "A")
    assert r.rcode() == dns.rcode.NOERROR, context(fwd, r)
    assert rdata_set(r.answer, "web-2.web.svc.test.", "A") == {"192.0.2.12"}, context(fwd, r)


@pytest.mark.parametrize("qname", ["_web._tcp.svc.test.", "web.svc.test."])
def test_srv_with_additional(fwd, qname):
    r = ask(fwd, qname, "SRV")
    assert r.rcode() == dns.rcode.NOERROR, context(fwd, r)
    assert len(r.answer) == 1, context(fwd, r)
    assert rdata_set(r.answer, qname, "SRV") == WEB_SRV, context(fwd, r)
    # the SRV targets' addresses, as srvd put them in the additional section
    got = {(rrset.name.to_text(), rr.to_text()) for rrset in r.additional
           if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA) for rr in rrset}
    assert got == {("web-1.web.svc.test.", "192.0.2.11"), ("web-2.web.svc.test.", "192.0.2.12"),
                   ("web-3.web.svc.test.", "2001:db8::13")}, context(fwd, r)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_nxdomain(fwd, transport):
    r = ask(fwd, "nope.svc.test.", "A", transport)
    assert r.rcode() == dns.rcode.NXDOMAIN, context(fwd, r)
    assert r.answer == [], context(fwd, r)
    soa = rdata_set(r.authority, ZONE, "SOA")
    assert len(soa) == 1 and soa.pop().startswith("ns1.svc.test. hostmaster.svc.test."), \
        context(fwd, r)


@pytest.mark.parametrize("qname,rdtype", [
    ("web.svc.test.", "TXT"),          # a service name, another type
    ("web-3.web.svc.test.", "A"),      # an IPv6-only instance asked for A
    ("_tcp.svc.test.", "SRV"),         # an empty non-terminal
])
def test_nodata(fwd, qname, rdtype):
    r = ask(fwd, qname, rdtype)
    assert r.rcode() == dns.rcode.NOERROR, context(fwd, r)
    assert r.answer == [], context(fwd, r)
    assert len(rdata_set(r.authority, ZONE, "SOA")) == 1, context(fwd, r)


def test_truncated_answer_fetched_over_tcp(fwd, srvd):
    # srvd itself cannot give these records over UDP (1232 bytes) ...
    q = dns.message.make_query("big.svc.test.", "A", use_edns=0, payload=1232)
    direct = dns.query.udp(q, srvd.host, port=srvd.port, timeout=TIMEOUT)
    assert direct.flags & dns.flags.TC and direct.rcode() == dns.rcode.NOERROR, str(direct)
    assert len(rdata_set(direct.answer, "big.svc.test.", "A")) < BIG, str(direct)
    # ... so a TCP client of the forwarder that gets all of them got them over TCP from srvd
    r = ask(fwd, "big.svc.test.", "A", "tcp")
    assert r.rcode() == dns.rcode.NOERROR, context(fwd, r)
    assert not r.flags & dns.flags.TC, context(fwd, r)
    assert rdata_set(r.answer, "big.svc.test.", "A") == BIG_A, context(fwd, r)
    # and a UDP client of the forwarder gets them, or TC=1 to retry over TCP: never a
    # partial set presented as complete
    r = ask(fwd, "big.svc.test.", "A", "udp", use_edns=0, payload=1232)
    got = rdata_set(r.answer, "big.svc.test.", "A")
    assert got == BIG_A or (r.flags & dns.flags.TC), context(fwd, r)


def test_srv_of_big_service_over_tcp(fwd):
    r = ask(fwd, "_big._tcp.svc.test.", "SRV", "tcp")
    assert r.rcode() == dns.rcode.NOERROR, context(fwd, r)
    want = {"0 1 9000 big-%d.big.svc.test." % i for i in range(1, BIG + 1)}
    assert rdata_set(r.answer, "_big._tcp.svc.test.", "SRV") == want, context(fwd, r)


# --- the snippets in docs/ are what the tests ran -------------------------------------------


def test_docs_snippets_are_the_tested_configs(fwd):
    if fwd.name == "dnsmasq":
        snippet = doc_snippet("dnsmasq.conf", ZONE, fwd.srvd_port)
    else:
        snippet = doc_snippet("unbound.conf", ZONE, fwd.srvd_port)
        if fwd.name == "unbound-stub":
            snippet = unbound_stub_variant(snippet)
            assert "stub-addr: 127.0.0.1@%d" % fwd.srvd_port in snippet
            assert "forward-zone:" not in snippet
        else:
            assert "forward-addr: 127.0.0.1@%d" % fwd.srvd_port in snippet
    assert fwd.config_text.endswith(snippet)


# --- CoreDNS's forward health probes (CoreDNS itself is not in Debian) ----------------------


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_coredns_root_ns_probe_refused_at_once(srvd, transport):
    """CoreDNS's default probe, `. IN NS` with RD=1: any reply keeps the upstream up, so
    srvd must reply (REFUSED, not ours, no forward configured) and at once."""
    q = dns.message.make_query(".", "NS")  # RD set, as CoreDNS sends it
    t0 = time.monotonic()
    if transport == "udp":
        r = dns.query.udp(q, srvd.host, port=srvd.port, timeout=TIMEOUT)
    else:
        r = dns.query.tcp(q, srvd.host, port=srvd.port, timeout=TIMEOUT)
    elapsed = time.monotonic() - t0
    assert r.rcode() == dns.rcode.REFUSED, str(r)
    assert r.answer == [] and not r.flags & dns.flags.AA, str(r)
    assert elapsed < 0.5 * SLOW, "`. NS` took %.3f s over %s" % (elapsed, transport)


class HangingBackend:
    """A loopback listener that accepts and never answers: an http check against it has
    no result until its timeout, so srvd is not ready until then."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stopped = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)

    def close(self):
        self.stopped = True
        self.sock.close()
        for c in self.conns:
            c.close()


def test_coredns_ready_domain_probe(tmp_path):
    """With `health_check 5s domain _ready.<zone>` CoreDNS sends `_ready.<zone> IN NS` (RD=1)
    and takes only a timeout as down: srvd must drop it until the first round of checks has
    run, then answer it (NOERROR, no records: _ready only has an A)."""
    backend = HangingBackend()
    try:
        path = write_registry(str(tmp_path), """\
server: {zone: svc.test.}
services:
  slow:
    port: %d
    check: {type: http, interval: %dms, timeout: %dms}
    instances: [{name: s1, address: 127.0.0.1}]
""" % (backend.port, 3000 * SLOW, 1500 * SLOW))
        d = Srvd(path, None).start()  # zone None: do not wait for _ready
        try:
            q = dns.message.make_query("_ready.svc.test.", "NS")
            with pytest.raises(dns.exception.Timeout):
                dns.query.udp(q, d.host, port=d.port, timeout=0.3)
            deadline = time.monotonic() + 10 * SLOW
            r = None
            while r is None and time.monotonic() < deadline:
                try:
                    r = dns.query.udp(q, d.host, port=d.port, timeout=0.3)
                except dns.exception.Timeout:
                    pass
            assert r is not None, "_ready NS never answered:\n" + d.stderr_text()
            assert r.rcode() == dns.rcode.NOERROR and r.answer == [], str(r)
            assert r.flags & dns.flags.AA, str(r)
            r = dns.query.tcp(q, d.host, port=d.port, timeout=TIMEOUT)
            assert r.rcode() == dns.rcode.NOERROR and r.answer == [], str(r)
            r = dns.query.udp(dns.message.make_query("_ready.svc.test.", "A"), d.host,
                              port=d.port, timeout=TIMEOUT)
            assert rdata_set(r.answer, "_ready.svc.test.", "A") == {"127.0.0.1"}, str(r)
        finally:
            d.stop()
    finally:
        backend.close()
