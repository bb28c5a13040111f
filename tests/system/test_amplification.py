# SPDX-License-Identifier: BSD-3-Clause
# test_amplification.py: how much larger than its query a spoofable UDP answer can get.
"""Amplification: answers to UDP queries without EDNS stay within 512 bytes.

A spoofed UDP query makes srvd send its answer to the victim, so the answer
size over the query size is the attack's gain. RFC 1035 caps UDP answers
without EDNS at 512 bytes; with EDNS srvd caps them at server.edns_udp_size
(1232 here). So for a query of q bytes the factor is at most 512 / q (or
1232 / q with EDNS), whatever the registry holds: the test asserts exactly
that bound for every kind of query, over a registry built to make answers
large (a 40-instance service with max_answers 0, long instance names, big
static TXT, the _health summaries), and that a large answer is truncated
(TC=1) rather than cut anywhere. ANY must be answered minimally (RFC 8482:
one RRset), the usual amplification vector. The factors are printed
(pytest -s) for the README.
"""

import dns.edns
import dns.flags
import dns.message
import dns.rdataclass
import dns.rdatatype
import pytest

from conftest import Srvd, udp_raw

ZONE = "svc.test."
PLAIN_MAX = 512
EDNS_MAX = 1232


def big_registry():
    lines = ["server:", "  zone: %s" % ZONE, "  edns_udp_size: %d" % EDNS_MAX,
             "  watch: false",
             "  ns: [ns1.svc.test., ns2.svc.test., ns3.svc.test., ns4.svc.test.]",
             "zones: [amp.zone]", "defaults: {check: {type: none}}", "services:",
             "  big:", "    port: 8080", "    max_answers: 0", "    tags: [all]",
             "    instances:"]
    for i in range(40):
        addr = "192.0.2.%d" % (i + 1) if i % 2 == 0 else "2001:db8::%x" % (i + 1)
        lines.append("      - {name: instance-with-a-long-name-%02d, address: \"%s\"}" % (i, addr))
    lines += ["  small:", "    port: 80", "    instances:",
              "      - {name: s1, address: 192.0.2.200}"]
    return "\n".join(lines) + "\n"


ZONEFILE = ("$ORIGIN svc.test.\n$TTL 300\n"
            + "".join("ns%d IN A 127.0.0.%d\nns%d IN AAAA ::1\n" % (i, i, i) for i in range(1, 5))
            + "big-txt IN TXT %s\n" % " ".join(['"%s"' % ("x" * 255)] * 6)
            + "".join('many-txt IN TXT "record %02d %s"\n' % (i, "y" * 40) for i in range(30))
            + "".join("_ldap._tcp IN SRV 0 0 389 ldap%02d.svc.test.\n" % i for i in range(30))
            + "".join("ldap%02d IN A 192.0.2.%d\n" % (i, 100 + i) for i in range(30))
            + "multi IN A 192.0.2.250\nmulti IN AAAA 2001:db8::250\n"
            + 'multi IN TXT "one"\nmulti IN MX 10 ns1.svc.test.\n')

BIG = "big." + ZONE
INST = "instance-with-a-long-name-00.big." + ZONE
QUERIES = [
    (BIG, "A"), (BIG, "AAAA"), (BIG, "SRV"), (BIG, "ANY"), (BIG, "TXT"),
    ("_big._tcp." + ZONE, "SRV"), ("all." + BIG, "SRV"), ("_all._tcp." + BIG, "SRV"),
    (INST, "A"), (INST, "ANY"),
    ("_health." + BIG, "TXT"), ("_health." + BIG, "ANY"), ("_health." + INST, "TXT"),
    ("small." + ZONE, "ANY"),
    (ZONE, "SOA"), (ZONE, "NS"), (ZONE, "ANY"), (ZONE, "TXT"),
    ("big-txt." + ZONE, "TXT"), ("big-txt." + ZONE, "ANY"), ("many-txt." + ZONE, "TXT"),
    ("_ldap._tcp." + ZONE, "SRV"), ("_ldap._tcp." + ZONE, "ANY"),
    ("multi." + ZONE, "ANY"), ("multi." + ZONE, "MX"),
    ("nope." + ZONE, "A"), ("nope." + ZONE, "ANY"), ("example.org.", "ANY"),
    (BIG, "AXFR"), (BIG, "IXFR"), (BIG, "RRSIG"), (BIG, "DNSKEY"),
]


@pytest.fixture(scope="module")
def amp_srvd(tmp_path_factory):
    folder = tmp_path_factory.mktemp("amp")
    (folder / "amp.zone").write_text(ZONEFILE)
    path = folder / "srvd.yaml"
    path.write_text(big_registry())
    d = Srvd(str(path), ZONE).start()
    yield d
    d.stop()


def ask(d, name, rdtype, edns=-1, rdclass="IN"):
    q = dns.message.make_query(name, rdtype, rdclass, use_edns=edns,
                               payload=4096 if edns >= 0 else None)
    wire = q.to_wire()
    resp = udp_raw(d.port, wire)
    assert resp is not None, "no answer to %s %s" % (name, rdtype)
    return wire, resp, dns.message.from_wire(resp)


def factor_line(name, rdtype, q, r, msg):
    return "%-48s %-6s q=%3d r=%4d x%5.1f %s" % (name, rdtype, len(q), len(r), len(r) / len(q),
                                                 "TC" if msg.flags & dns.flags.TC else "")


def test_no_edns_answers_fit_512(amp_srvd):
    worst = 0.0
    for name, rdtype in QUERIES:
        q, r, msg = ask(amp_srvd, name, rdtype)
        print(factor_line(name, rdtype, q, r, msg))
        assert len(r) <= PLAIN_MAX, factor_line(name, rdtype, q, r, msg)
        assert len(r) / len(q) <= PLAIN_MAX / len(q)
        worst = max(worst, len(r) / len(q))
    print("worst factor without EDNS: x%.1f" % worst)
    # the registry does make answers that need more than 512 bytes: they were truncated
    for name, rdtype in ((BIG, "SRV"), ("_ldap._tcp." + ZONE, "SRV"), ("big-txt." + ZONE, "TXT")):
        _, r, msg = ask(amp_srvd, name, rdtype)
        assert msg.flags & dns.flags.TC, (name, rdtype, len(r))


def test_edns_answers_fit_edns_udp_size(amp_srvd):
    for name, rdtype in QUERIES:
        q, r, msg = ask(amp_srvd, name, rdtype, edns=0)
        print(factor_line(name, rdtype, q, r, msg))
        assert len(r) <= EDNS_MAX, factor_line(name, rdtype, q, r, msg)
        assert len(r) / len(q) <= EDNS_MAX / len(q)


def test_chaos_answers_are_small(amp_srvd):
    for name in ("version.server.", "id.server.", "version.bind.", "hostname.bind."):
        q, r, msg = ask(amp_srvd, name, "TXT", rdclass="CH")
        print(factor_line(name, "CH TXT", q, r, msg))
        assert len(r) <= PLAIN_MAX


@pytest.mark.parametrize("name", [ZONE, BIG, INST, "multi." + ZONE, "_ldap._tcp." + ZONE,
                                  "big-txt." + ZONE, "_health." + BIG])
def test_any_is_minimal(amp_srvd, name):
    """RFC 8482: ANY gets one RRset of the name, not all of them (none and TC=1 when that
    one does not fit)."""
    for edns in (-1, 0):
        _, r, msg = ask(amp_srvd, name, "ANY", edns=edns)
        assert msg.rcode() == 0
        types = {(rrs.name, rrs.rdtype) for rrs in msg.answer}
        if msg.flags & dns.flags.TC:
            assert not types, (name, [str(rrs) for rrs in msg.answer])
        else:
            assert len(types) == 1, (name, [str(rrs) for rrs in msg.answer])
