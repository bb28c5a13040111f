# SPDX-License-Identifier: BSD-3-Clause
# test_answers.py: every row of README "Names and answers" and its Protocol paragraph, over UDP and TCP.
"""Answers of the real daemon serving data/answers.yaml (zone svc.test.).

The registry (see the data file) has: `web` (5 instances, fixed order, tags
http on the service and canary on web-1 and web-4), `rr` round-robin, `rnd`
random, `wtd` weighted, `lim` with max_answers 3, `many` (10 instances under
the server's max_answers 8), `mid` (12 instances) and `big` (40 instances,
max_answers 0), static records from answers.zone and the zone static.test.
with its own SOA from static-test.zone.
"""

import collections
import re
import socket
import struct
import subprocess

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest

from conftest import query, run_srvd, tcp_raw, udp_raw

ZONE = "svc.test."
NEG_TTL = 30  # min(SOA ttl 120, minimum 30)
WEB_A = ["127.0.0.11", "127.0.0.12", "192.0.2.14"]
WEB_AAAA = ["::1", "2001:db8::15"]
WEB_SRV = [  # (priority, weight, port, target) in registry order
    (0, 10, 8080, "web-1.web.svc.test."),
    (0, 1, 8081, "web-2.web.svc.test."),
    (5, 1, 8080, "web-3.web.svc.test."),
    (0, 1, 8080, "web-4.web.svc.test."),
    (0, 3, 8080, "web-5.web.svc.test."),
]
WEB_TARGETS = {
    "web-1.web.svc.test.": ("A", "127.0.0.11"),
    "web-2.web.svc.test.": ("A", "127.0.0.12"),
    "web-3.web.svc.test.": ("AAAA", "::1"),
    "web-4.web.svc.test.": ("A", "192.0.2.14"),
    "web-5.web.svc.test.": ("AAAA", "2001:db8::15"),
}
TRANSPORTS = ["udp", "tcp"]


# --- helpers -------------------------------------------------------------------------------


def answer_rrset(r, name, rdtype):
    """The answer RRset of name/type; fails if absent or if other RRsets are present."""
    assert len(r.answer) == 1, "expected one answer RRset, got:\n%s" % r
    rrset = r.answer[0]
    assert rrset.name == dns.name.from_text(name)
    assert rrset.rdtype == dns.rdatatype.from_text(rdtype), str(r)
    return rrset


def addresses(r, name, rdtype):
    return [rd.address for rd in answer_rrset(r, name, rdtype)]


def srv_tuples(r, name):
    return [(rd.priority, rd.weight, rd.port, rd.target.to_text())
            for rd in answer_rrset(r, name, "SRV")]


def assert_ok(r):
    assert r.rcode() == dns.rcode.NOERROR, str(r)
    assert r.flags & dns.flags.QR
    assert r.flags & dns.flags.AA, "answer from our zone without AA:\n%s" % r
    assert not r.flags & dns.flags.TC


def assert_negative(r, rcode, apex=ZONE, neg_ttl=NEG_TTL):
    """NODATA (rcode NOERROR) or NXDOMAIN: AA, empty answer, the zone's SOA in authority."""
    assert r.rcode() == rcode, str(r)
    assert r.flags & dns.flags.AA, str(r)
    assert r.answer == [], str(r)
    assert len(r.authority) == 1, str(r)
    soa = r.authority[0]
    assert soa.rdtype == dns.rdatatype.SOA
    assert soa.name == dns.name.from_text(apex)
    assert soa.ttl == neg_ttl, "negative TTL must be min(SOA ttl, minimum):\n%s" % r


def raw_query(name, rdtype, qid=0x1234, flags=dns.flags.RD, **kw):
    q = dns.message.make_query(name, rdtype, **kw)
    q.id = qid
    q.flags = flags
    return q.to_wire()


def send_raw(srv, transport, wire):
    if transport == "udp":
        return udp_raw(srv.port, wire)
    return tcp_raw(srv.port, wire)


def header(qid, flags, qd=1, an=0, ns=0, ar=0):
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def question(name, rdtype=1, rdclass=1):
    return dns.name.from_text(name).to_wire() + struct.pack("!HH", rdtype, rdclass)


def parse_header(wire):
    qid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", wire[:12])
    return {"id": qid, "flags": flags, "rcode": flags & 0xF, "opcode": (flags >> 11) & 0xF,
            "qr": bool(flags & 0x8000), "aa": bool(flags & 0x0400), "tc": bool(flags & 0x0200),
            "rd": bool(flags & 0x0100), "qd": qd, "an": an, "ns": ns, "ar": ar}


# --- README "Names and answers": the table ---------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_service_a_and_aaaa(answers_srvd, transport):
    r = query(answers_srvd, "web.svc.test.", "A", transport)
    assert_ok(r)
    assert addresses(r, "web.svc.test.", "A") == WEB_A
    assert r.answer[0].ttl == 10  # the service's ttl
    r = query(answers_srvd, "web.svc.test.", "AAAA", transport)
    assert_ok(r)
    assert addresses(r, "web.svc.test.", "AAAA") == WEB_AAAA
    r = query(answers_srvd, "rr.svc.test.", "A", transport)
    assert r.answer[0].ttl == 5  # server.ttl when the service has none


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("qname", ["_web._tcp.svc.test.", "web.svc.test."])
def test_srv_with_additional(answers_srvd, transport, qname):
    r = query(answers_srvd, qname, "SRV", transport)
    assert_ok(r)
    assert srv_tuples(r, qname) == WEB_SRV
    assert r.answer[0].ttl == 10
    additional = {}
    for rrset in r.additional:
        for rd in rrset:
            additional[rrset.name.to_text()] = (dns.rdatatype.to_text(rrset.rdtype), rd.address)
    assert additional == WEB_TARGETS


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_tag_names(answers_srvd, transport):
    r = query(answers_srvd, "canary.web.svc.test.", "A", transport)
    assert_ok(r)
    assert addresses(r, "canary.web.svc.test.", "A") == ["127.0.0.11", "192.0.2.14"]
    r = query(answers_srvd, "canary.web.svc.test.", "SRV", transport)
    assert_ok(r)
    assert srv_tuples(r, "canary.web.svc.test.") == [WEB_SRV[0], WEB_SRV[3]]
    # No canary instance has an IPv6 address: the name exists, the type does not.
    r = query(answers_srvd, "canary.web.svc.test.", "AAAA", transport)
    assert_negative(r, dns.rcode.NOERROR)
    # A service tag applies to every instance.
    r = query(answers_srvd, "http.web.svc.test.", "A", transport)
    assert_ok(r)
    assert addresses(r, "http.web.svc.test.", "A") == WEB_A
    r = query(answers_srvd, "http.web.svc.test.", "AAAA", transport)
    assert addresses(r, "http.web.svc.test.", "AAAA") == WEB_AAAA


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_instance_names(answers_srvd, transport):
    r = query(answers_srvd, "web-1.web.svc.test.", "A", transport)
    assert_ok(r)
    assert addresses(r, "web-1.web.svc.test.", "A") == ["127.0.0.11"]
    r = query(answers_srvd, "web-3.web.svc.test.", "AAAA", transport)
    assert_ok(r)
    assert addresses(r, "web-3.web.svc.test.", "AAAA") == ["::1"]
    r = query(answers_srvd, "web-1.web.svc.test.", "AAAA", transport)
    assert_negative(r, dns.rcode.NOERROR)
    r = query(answers_srvd, "b-40.big.svc.test.", "A", transport)
    assert addresses(r, "b-40.big.svc.test.", "A") == ["192.0.2.40"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_apex_soa_and_ns(answers_srvd, transport):
    r = query(answers_srvd, ZONE, "SOA", transport)
    assert_ok(r)
    soa = answer_rrset(r, ZONE, "SOA")
    assert soa.ttl == 120
    rd = soa[0]
    assert rd.mname.to_text() == "ns1.svc.test."
    assert rd.rname.to_text() == "hostmaster.svc.test."
    assert (rd.refresh, rd.retry, rd.expire, rd.minimum) == (3600, 600, 86400, 30)
    assert rd.serial > 0
    r = query(answers_srvd, ZONE, "NS", transport)
    assert_ok(r)
    ns = answer_rrset(r, ZONE, "NS")
    assert sorted(rd.target.to_text() for rd in ns) == ["ns1.svc.test.", "ns2.svc.test."]


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("qname,rdtype", [
    ("web.svc.test.", "TXT"),
    ("web.svc.test.", "MX"),
    ("_web._tcp.svc.test.", "A"),
    ("svc.test.", "A"),
    ("docs.svc.test.", "A"),
])
def test_nodata(answers_srvd, transport, qname, rdtype):
    assert_negative(query(answers_srvd, qname, rdtype, transport), dns.rcode.NOERROR)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("qname", [
    "nope.svc.test.",
    "nope.web.svc.test.",
    "a.b.c.web-1.web.svc.test.",
    "_nope._tcp.svc.test.",
    "_web._udp.svc.test.",
])
def test_nxdomain(answers_srvd, transport, qname):
    assert_negative(query(answers_srvd, qname, "A", transport), dns.rcode.NXDOMAIN)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_empty_non_terminal(answers_srvd, transport):
    for rdtype in ("SRV", "A"):
        assert_negative(query(answers_srvd, "_tcp.svc.test.", rdtype, transport),
                        dns.rcode.NOERROR)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("qname,rdtype", [
    ("example.com.", "A"),
    ("test.", "SOA"),
    ("svc.test.example.", "A"),
    (".", "NS"),
])
def test_refused_outside_zones(answers_srvd, transport, qname, rdtype):
    r = query(answers_srvd, qname, rdtype, transport)
    assert r.rcode() == dns.rcode.REFUSED, str(r)
    assert not r.flags & dns.flags.AA
    assert r.answer == [] and r.authority == []


def srvd_version_line():
    p = run_srvd(["--version"])
    return (p.stdout + p.stderr).splitlines()[0].strip()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_chaos_version_and_id(answers_srvd, transport):
    r = query(answers_srvd, "version.server.", "TXT", transport, rdclass="CH")
    assert r.rcode() == dns.rcode.NOERROR, str(r)
    rrset = answer_rrset(r, "version.server.", "TXT")
    assert rrset.rdclass == dns.rdataclass.CH
    text = b"".join(rrset[0].strings).decode()
    version = srvd_version_line().split()[1]
    assert text.startswith("srvd") and version in text, (text, version)
    r = query(answers_srvd, "id.server.", "TXT", transport, rdclass="CH")
    assert r.rcode() == dns.rcode.NOERROR, str(r)
    text = b"".join(answer_rrset(r, "id.server.", "TXT")[0].strings).decode()
    assert text == socket.gethostname()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_ready(answers_srvd, transport):
    r = query(answers_srvd, "_ready.svc.test.", "A", transport)
    assert_ok(r)
    assert addresses(r, "_ready.svc.test.", "A") == ["127.0.0.1"]


# --- static records -------------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_static_records(answers_srvd, transport):
    r = query(answers_srvd, "docs.svc.test.", "TXT", transport)
    assert_ok(r)
    txt = answer_rrset(r, "docs.svc.test.", "TXT")
    assert txt.ttl == 300
    assert txt[0].strings == (b"static records live beside the services",)
    r = query(answers_srvd, "_ldap._tcp.svc.test.", "SRV", transport)
    assert_ok(r)
    assert srv_tuples(r, "_ldap._tcp.svc.test.") == [(0, 0, 389, "ldap.svc.test.")]
    r = query(answers_srvd, "ldap.svc.test.", "AAAA", transport)
    assert addresses(r, "ldap.svc.test.", "AAAA") == ["2001:db8::40"]
    r = query(answers_srvd, "ns1.svc.test.", "A", transport)
    assert addresses(r, "ns1.svc.test.", "A") == ["127.0.0.1"]
    # The CNAME, then its in-zone target's data (the service's addresses).
    r = query(answers_srvd, "www.svc.test.", "A", transport)
    assert_ok(r)
    assert [(s.name.to_text(), dns.rdatatype.to_text(s.rdtype)) for s in r.answer] == [
        ("www.svc.test.", "CNAME"), ("web.svc.test.", "A")]
    assert r.answer[0][0].target.to_text() == "web.svc.test."
    assert [rd.address for rd in r.answer[1]] == WEB_A
    r = query(answers_srvd, "www.svc.test.", "CNAME", transport)
    assert [(s.name.to_text(), dns.rdatatype.to_text(s.rdtype)) for s in r.answer] == [
        ("www.svc.test.", "CNAME")]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_static_zone_with_own_soa(answers_srvd, transport):
    r = query(answers_srvd, "host.static.test.", "A", transport)
    assert_ok(r)
    assert addresses(r, "host.static.test.", "A") == ["192.0.2.77"]
    r = query(answers_srvd, "static.test.", "SOA", transport)
    assert_ok(r)
    soa = answer_rrset(r, "static.test.", "SOA")[0]
    assert (soa.serial, soa.minimum) == (7, 600)
    r = query(answers_srvd, "static.test.", "NS", transport)
    assert [rd.target.to_text() for rd in answer_rrset(r, "static.test.", "NS")] == [
        "ns1.static.test."]
    # Negative TTL = min(SOA ttl 20, minimum 600).
    assert_negative(query(answers_srvd, "nope.static.test.", "A", transport),
                    dns.rcode.NXDOMAIN, apex="static.test.", neg_ttl=20)
    assert_negative(query(answers_srvd, "host.static.test.", "TXT", transport),
                    dns.rcode.NOERROR, apex="static.test.", neg_ttl=20)


# --- protocol -------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_question_case_echoed(answers_srvd, transport):
    wire = raw_query("WeB.sVc.TeSt.", "A")
    resp = send_raw(answers_srvd, transport, wire)
    assert resp is not None
    qlen = len(dns.name.from_text("WeB.sVc.TeSt.").to_wire()) + 4
    assert resp[12:12 + qlen] == wire[12:12 + qlen]
    r = dns.message.from_wire(resp)
    assert [rd.address for rd in r.answer[0]] == WEB_A


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_rd_copied(answers_srvd, transport):
    for flags, rd in ((dns.flags.RD, True), (0, False)):
        resp = send_raw(answers_srvd, transport, raw_query("web.svc.test.", "A", flags=flags))
        h = parse_header(resp)
        assert h["id"] == 0x1234 and h["qr"] and h["aa"]
        assert h["rd"] == rd
        assert not h["flags"] & 0x0080, "RA set by an authoritative-only server"
    # RD copied on error replies too.
    resp = send_raw(answers_srvd, transport, raw_query("example.com.", "A"))
    assert parse_header(resp)["rd"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_edns_echoed_with_our_payload(answers_srvd, transport):
    r = query(answers_srvd, "web.svc.test.", "A", transport, use_edns=0, payload=4096)
    assert_ok(r)
    assert r.edns == 0
    assert r.payload == 1232
    r = query(answers_srvd, "web.svc.test.", "A", transport)
    assert r.edns == -1, "OPT in the answer to a query without one"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_edns_badvers(answers_srvd, transport):
    # dnspython 2.3 turns use_edns=1 into version 0, so set the version byte by hand: the
    # query ends with the OPT record (root, type, class, ext-rcode, VERSION, flags, rdlen 0).
    wire = bytearray(raw_query("web.svc.test.", "A", use_edns=0))
    assert wire[-11:-8] == b"\x00\x00\x29" and wire[-5] == 0
    wire[-5] = 1
    r = dns.message.from_wire(send_raw(answers_srvd, transport, bytes(wire)))
    assert r.id == 0x1234
    assert r.rcode() == dns.rcode.BADVERS, str(r)
    assert r.edns == 0
    assert r.answer == []


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_edns_unknown_option_ignored(answers_srvd, transport):
    opt = dns.edns.GenericOption(65001, b"systest")
    r = query(answers_srvd, "web.svc.test.", "A", transport, use_edns=0, options=[opt])
    assert_ok(r)
    assert addresses(r, "web.svc.test.", "A") == WEB_A
    assert r.edns == 0
    assert all(o.otype != 65001 for o in r.options)


def test_udp_512_without_edns_then_tcp(answers_srvd):
    # 40 A records (640 bytes of RRs) cannot fit 512 bytes: TC=1, then TCP has them all.
    resp = udp_raw(answers_srvd.port, raw_query("big.svc.test.", "A"))
    assert len(resp) <= 512
    h = parse_header(resp)
    assert h["tc"] and h["rcode"] == 0
    r = query(answers_srvd, "big.svc.test.", "A", "tcp")
    assert_ok(r)
    assert len(addresses(r, "big.svc.test.", "A")) == 40
    # The same A answer fits an EDNS client's 1232 bytes.
    r = query(answers_srvd, "big.svc.test.", "A", "udp", use_edns=0, payload=1232)
    assert_ok(r)
    assert len(addresses(r, "big.svc.test.", "A")) == 40


def test_big_srv_truncated_then_full_over_tcp(answers_srvd):
    for kw, limit in (({}, 512), ({"use_edns": 0, "payload": 4096}, 1232)):
        resp = udp_raw(answers_srvd.port, raw_query("_big._tcp.svc.test.", "SRV", **kw))
        assert resp is not None and len(resp) <= limit
        assert parse_header(resp)["tc"], kw
    r = query(answers_srvd, "_big._tcp.svc.test.", "SRV", "tcp")
    assert_ok(r)
    srv = srv_tuples(r, "_big._tcp.svc.test.")
    assert srv == [(0, 1, 9000, "b-%02d.big.svc.test." % i) for i in range(1, 41)]
    extra = {s.name.to_text(): [rd.address for rd in s] for s in r.additional}
    assert extra == {"b-%02d.big.svc.test." % i: ["192.0.2.%d" % i] for i in range(1, 41)}


def test_edns_client_payload_honoured(answers_srvd):
    # max(512, min(600, 1232)) = 600 is too small for 40 A records; 1232 is enough.
    resp = udp_raw(answers_srvd.port, raw_query("big.svc.test.", "A", use_edns=0, payload=600))
    assert len(resp) <= 600 and parse_header(resp)["tc"]
    resp = udp_raw(answers_srvd.port, raw_query("big.svc.test.", "A", use_edns=0, payload=1232))
    h = parse_header(resp)
    assert not h["tc"] and h["an"] == 40 and len(resp) <= 1232


def test_additional_dropped_before_truncation(answers_srvd):
    # 12 SRV records fit in 512 bytes but their 12 addresses do not: no TC, every SRV there.
    resp = udp_raw(answers_srvd.port, raw_query("_mid._tcp.svc.test.", "SRV"))
    assert len(resp) <= 512
    h = parse_header(resp)
    assert not h["tc"] and h["an"] == 12 and h["ar"] < 12
    r = dns.message.from_wire(resp)
    assert len(srv_tuples(r, "_mid._tcp.svc.test.")) == 12


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_formerr_qdcount(answers_srvd, transport):
    q = question("web.svc.test.")
    for qd, body in ((0, b""), (2, q + question("rr.svc.test."))):
        resp = send_raw(answers_srvd, transport, header(0x4242, 0x0100, qd=qd) + body)
        assert resp is not None, "no answer to QDCOUNT %d" % qd
        h = parse_header(resp)
        assert h["id"] == 0x4242 and h["qr"] and h["rd"]
        assert h["rcode"] == dns.rcode.FORMERR, "QDCOUNT %d" % qd
        assert h["an"] == 0


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("opcode", [dns.opcode.NOTIFY, dns.opcode.UPDATE, dns.opcode.STATUS])
def test_notimp_opcodes(answers_srvd, transport, opcode):
    wire = header(0x5151, opcode << 11, qd=1) + question("svc.test.", 6)
    resp = send_raw(answers_srvd, transport, wire)
    assert resp is not None
    h = parse_header(resp)
    assert h["id"] == 0x5151 and h["qr"]
    assert h["opcode"] == opcode
    assert h["rcode"] == dns.rcode.NOTIMP
    assert h["an"] == 0


def test_response_not_answered(answers_srvd):
    wire = raw_query("web.svc.test.", "A", flags=dns.flags.QR | dns.flags.RD)
    assert udp_raw(answers_srvd.port, wire, timeout=0.5) is None


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("qname", ["web.svc.test.", "docs.svc.test.", "svc.test."])
def test_any_minimal(answers_srvd, transport, qname):
    r = query(answers_srvd, qname, "ANY", transport)
    assert_ok(r)
    assert len(r.answer) == 1, "ANY must be answered with one RRset (RFC 8482):\n%s" % r
    rrset = r.answer[0]
    assert rrset.name == dns.name.from_text(qname) and len(rrset) >= 1


# --- policies and limits --------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_policy_fixed(answers_srvd, transport):
    for _ in range(10):
        r = query(answers_srvd, "web.svc.test.", "A", transport)
        assert addresses(r, "web.svc.test.", "A") == WEB_A


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_policy_round_robin(answers_srvd, transport):
    order = ["192.0.2.101", "192.0.2.102", "192.0.2.103", "192.0.2.104"]
    starts = []
    for _ in range(9):
        got = addresses(query(answers_srvd, "rr.svc.test.", "A", transport), "rr.svc.test.", "A")
        start = order.index(got[0])
        assert got == order[start:] + order[:start], "not a rotation of registry order: %s" % got
        starts.append(start)
    steps = [(b - a) % 4 for a, b in zip(starts, starts[1:])]
    assert steps == [1] * 8, "round-robin must start one further on every query: %s" % starts


def collect_orders(srv, name, transport, n):
    orders = []
    for _ in range(n):
        orders.append(tuple(addresses(query(srv, name, "A", transport), name, "A")))
    return orders


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_policy_random(answers_srvd, transport):
    every = {"192.0.2.%d" % i for i in range(111, 117)}
    orders = collect_orders(answers_srvd, "rnd.svc.test.", transport, 200)
    assert all(set(o) == every and len(o) == 6 for o in orders)
    # 720 permutations: 200 uniform draws give well over 20 distinct ones.
    assert len(set(orders)) >= 20
    # P(some instance never first in 200 draws) = 6 * (5/6)^200, about 1e-15.
    assert {o[0] for o in orders} == every


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_policy_weighted(answers_srvd, transport):
    orders = collect_orders(answers_srvd, "wtd.svc.test.", transport, 300)
    assert all(len(o) == 4 for o in orders)
    first = collections.Counter(o[0] for o in orders)
    # wtd-2 has weight 60 of 63: first with p = 0.952; mean 285.7, sigma 3.7 over 300 draws.
    assert first["192.0.2.122"] >= 240, first
    assert first["192.0.2.122"] < 300, "weighted order never varies: %s" % first
    assert len(set(orders)) > 1


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_max_answers(answers_srvd, transport):
    r = query(answers_srvd, "lim.svc.test.", "A", transport)
    assert addresses(r, "lim.svc.test.", "A") == ["192.0.2.131", "192.0.2.132", "192.0.2.133"]
    r = query(answers_srvd, "lim.svc.test.", "SRV", transport)
    assert [t[3] for t in srv_tuples(r, "lim.svc.test.")] == [
        "lim-1.lim.svc.test.", "lim-2.lim.svc.test.", "lim-3.lim.svc.test."]
    r = query(answers_srvd, "many.svc.test.", "A", transport)
    assert addresses(r, "many.svc.test.", "A") == ["203.0.113.%d" % i for i in range(1, 9)]


# --- real clients ---------------------------------------------------------------------------


def run_client(args):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=10)
    assert p.returncode == 0, "%s failed: %s%s" % (args[0], p.stdout, p.stderr)
    return p.stdout


def dig(srv, *args):
    return run_client(["dig", "@" + srv.host, "-p", str(srv.port), "+time=2", "+tries=1"] +
                      list(args))


def kdig(srv, *args):
    return run_client(["kdig", "@" + srv.host, "-p", str(srv.port), "+time=2", "+retry=0"] +
                      list(args))


def test_dig_short(answers_srvd):
    assert dig(answers_srvd, "+short", "web.svc.test", "A").split() == WEB_A
    assert dig(answers_srvd, "+short", "web.svc.test", "AAAA").split() == WEB_AAAA


def test_dig_tcp_srv(answers_srvd):
    out = dig(answers_srvd, "+tcp", "+short", "_web._tcp.svc.test", "SRV")
    assert [tuple(line.split()) for line in out.splitlines()] == [
        (str(p), str(w), str(port), t) for p, w, port, t in WEB_SRV]
    out = dig(answers_srvd, "+tcp", "big.svc.test", "A")
    assert "status: NOERROR" in out and "ANSWER: 40," in out


def test_dig_retries_truncated_over_tcp(answers_srvd):
    # dig without EDNS gets TC=1 over UDP and retries over TCP on its own.
    out = dig(answers_srvd, "+noedns", "_big._tcp.svc.test", "SRV")
    assert "Truncated, retrying in TCP mode" in out
    assert "ANSWER: 40," in out


@pytest.mark.parametrize("transport", ["+notcp", "+tcp"])
def test_kdig_srv_authoritative(answers_srvd, transport):
    out = kdig(answers_srvd, transport, "_web._tcp.svc.test", "SRV")
    flags = [line for line in out.splitlines() if line.startswith(";; Flags:")]
    assert flags and " aa" in flags[0].lower(), out
    assert "NOERROR" in out
    for prio, weight, port, target in WEB_SRV:
        assert re.search(r"^_web\._tcp\.svc\.test\.\s+10\s+IN\s+SRV\s+%d %d %d %s$"
                         % (prio, weight, port, re.escape(target)), out, re.M), out
    assert re.search(r"^web-3\.web\.svc\.test\.\s+10\s+IN\s+AAAA\s+::1$", out, re.M), out


def test_kdig_nxdomain(answers_srvd):
    out = kdig(answers_srvd, "nope.svc.test", "A")
    assert "NXDOMAIN" in out
    assert re.search(r"^svc\.test\.\s+30\s+IN\s+SOA\s+ns1\.svc\.test\. hostmaster\.svc\.test\. ",
                     out, re.M), out
