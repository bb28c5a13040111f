# SPDX-License-Identifier: BSD-3-Clause
# test_select.py: failover tiers, locality, sticky order, tag pairs and adaptive TTL over the wire.
"""Answers that choose among the passing instances beyond the policy
(README "Failover, locality and sticky answers"), through the real daemon:
backends are loopback TCP ports that the tests close and open again, and
queries go with dnspython and dig."""

import subprocess

import dns.edns
import dns.message
import dns.query
import dns.rcode
import pytest

from check_backends import TcpBackend
from conftest import HOST, TIMEOUT, health_fields, query, wait_until

ZONE = "svc.test."
CHECK = "check: {type: tcp, interval: 100ms, timeout: 90ms, rise: 1, fall: 1}"


def addrs(d, name, rdtype="A"):
    r = query(d, name, rdtype)
    assert r.rcode() == dns.rcode.NOERROR, r
    return sorted(rd.to_text() for rrset in r.answer for rd in rrset)


def dig(d, *args):
    """dig's short output lines for a query to daemon d."""
    out = subprocess.run(["dig", "@" + d.host, "-p", str(d.port), "+short", "+tries=1",
                          "+time=2"] + list(args), capture_output=True, text=True,
                         timeout=10, check=True).stdout
    return out.split()


@pytest.fixture
def backends():
    started = []

    def start(*hosts):
        for h in hosts:
            started.append(TcpBackend(h).start())
        return started[-len(hosts):]

    yield start
    for b in started:
        b.stop()


def test_failover_moves_to_the_next_tier_and_back(srvd_factory, backends):
    a1, a2, b1 = backends("127.0.0.1", "127.0.0.2", "127.0.0.3")
    d = srvd_factory(
        "server: {zone: %s}\n"
        "services:\n"
        "  web:\n"
        "    port: 80\n"
        "    failover: true\n"
        "    %s\n"
        "    instances:\n"
        "      - {name: a1, address: 127.0.0.1, port: %d, priority: 0}\n"
        "      - {name: a2, address: 127.0.0.2, port: %d, priority: 0}\n"
        "      - {name: b1, address: 127.0.0.3, port: %d, priority: 1}\n"
        % (ZONE, CHECK, a1.port, a2.port, b1.port), ZONE)
    name = "web." + ZONE
    wait_until(lambda: addrs(d, name) == ["127.0.0.1", "127.0.0.2"], 10, "tier 0 serves", d)
    assert dig(d, name, "A") and sorted(dig(d, name, "A")) == ["127.0.0.1", "127.0.0.2"]
    assert health_fields(d, "_health." + name)["tier"] == "0"
    # SRV keeps every tier
    assert len(query(d, "_web._tcp." + ZONE, "SRV").answer[0]) == 3

    a1.stop()
    wait_until(lambda: addrs(d, name) == ["127.0.0.2"], 10, "a1 withdrawn", d)
    a2.stop()
    wait_until(lambda: addrs(d, name) == ["127.0.0.3"], 10, "tier 1 takes over", d)
    assert dig(d, name, "A") == ["127.0.0.3"]
    assert health_fields(d, "_health." + name)["tier"] == "1"
    assert len(query(d, "_web._tcp." + ZONE, "SRV").answer[0]) == 1

    a2.start()
    wait_until(lambda: addrs(d, name) == ["127.0.0.2"], 10, "tier 0 back", d)
    assert health_fields(d, "_health." + name)["tier"] == "0"


def test_tag_pairs(srvd_factory):
    d = srvd_factory(
        "server: {zone: %s}\n"
        "defaults: {check: {type: none}}\n"
        "services:\n"
        "  web:\n"
        "    port: 80\n"
        "    instances:\n"
        "      - {name: w1, address: 192.0.2.1, tags: [canary, v2]}\n"
        "      - {name: w2, address: 192.0.2.2, tags: [v2]}\n"
        "      - {name: w3, address: 192.0.2.3, tags: [canary]}\n" % ZONE, ZONE)
    assert dig(d, "canary.v2.web." + ZONE, "A") == ["192.0.2.1"]
    assert dig(d, "v2.canary.web." + ZONE, "A") == ["192.0.2.1"]
    assert dig(d, "canary.v2.web." + ZONE, "SRV") == ["0", "1", "80", "w1.web." + ZONE]
    assert sorted(dig(d, "v2.web." + ZONE, "A")) == ["192.0.2.1", "192.0.2.2"]
    r = query(d, "w2.v2.web." + ZONE, "A")
    assert r.rcode() == dns.rcode.NXDOMAIN, r
    r = query(d, "v2.v2.web." + ZONE, "A")
    assert r.rcode() == dns.rcode.NXDOMAIN, r


def test_adaptive_ttl_follows_the_checks(srvd_factory, backends):
    up, flappy = backends("127.0.0.1", "127.0.0.2")
    d = srvd_factory(
        "server: {zone: %s}\n"
        "services:\n"
        "  web:\n"
        "    port: 80\n"
        "    ttl: 5\n"
        "    ttl_min: 1\n"
        "    %s\n"
        "    instances:\n"
        "      - {name: w1, address: 127.0.0.1, port: %d}\n"
        "      - {name: w2, address: 127.0.0.2, port: %d}\n"
        % (ZONE, CHECK, up.port, flappy.port), ZONE)
    name = "web." + ZONE

    def answer():
        r = query(d, name, "A")
        return sorted(rd.to_text() for rd in r.answer[0]) if r.answer else [], \
            r.answer[0].ttl if r.answer else None

    # the first results are changes: ttl_min, then ttl once 5 s went by without one
    wait_until(lambda: answer() == (["127.0.0.1", "127.0.0.2"], 5), 15, "stable: ttl", d)
    assert health_fields(d, "_health." + name)["ttl"] == "5"
    flappy.stop()
    wait_until(lambda: answer() == (["127.0.0.1"], 1), 10, "failing: ttl_min", d)
    flappy.start()
    # the first answer with w2 back follows its change by far less than 5 s
    wait_until(lambda: answer()[0] == ["127.0.0.1", "127.0.0.2"], 10, "w2 back", d)
    assert answer()[1] == 1
    wait_until(lambda: answer()[1] == 5, 15, "stable again: ttl", d)


def ecs_query(d, name, prefix, rdtype="A", source=None):
    """dnspython query with an EDNS Client Subnet option; returns (addresses in
    order, the reply's ECS option or None)."""
    addr, bits = prefix.split("/")
    q = dns.message.make_query(name, rdtype, use_edns=0,
                               options=[dns.edns.ECSOption(addr, int(bits))])
    r = dns.query.udp(q, d.host, port=d.port, timeout=TIMEOUT, source=source)
    assert r.rcode() == dns.rcode.NOERROR, r
    ecs = [o for o in r.options if isinstance(o, dns.edns.ECSOption)]
    return [rd.to_text() for rrset in r.answer for rd in rrset], (ecs[0] if ecs else None)


def test_hashed_sticks_per_client_subnet_and_moves_only_a_leavers_clients(srvd_factory,
                                                                           backends):
    bs = backends("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4")
    d = srvd_factory(
        "server: {zone: %s, max_answers: 0}\n"
        "services:\n"
        "  web:\n"
        "    port: 80\n"
        "    policy: hashed\n"
        "    %s\n"
        "    instances:\n" % (ZONE, CHECK)
        + "".join("      - {name: w%d, address: %s, port: %d}\n" % (i, b.addr, b.port)
                  for i, b in enumerate(bs)), ZONE)
    name = "web." + ZONE
    wait_until(lambda: len(addrs(d, name)) == 4, 10, "all four pass", d)
    subnets = ["10.%d.%d.0/24" % (i // 256, i % 256) for i in range(400)]
    before = {}
    for s in subnets:
        order, ecs = ecs_query(d, name, s)
        assert len(order) == 4 and ecs.scopelen == 24 and ecs.srclen == 24, (order, ecs)
        before[s] = order
        # another host of the subnet, and the same one again: the same order
        assert ecs_query(d, name, s.replace(".0/24", ".77/32"))[0] == order
    firsts = [before[s][0] for s in subnets]
    for b in bs:
        assert 50 < firsts.count(b.addr) < 150, {a: firsts.count(a) for a in set(firsts)}
    # dig shows the scope: the answer depends on the /24
    out = subprocess.run(["dig", "@" + d.host, "-p", str(d.port), "+subnet=10.1.2.0/24",
                          name, "A"], capture_output=True, text=True, timeout=10).stdout
    assert "CLIENT-SUBNET: 10.1.2.0/24/24" in out, out
    # without ECS the source address counts: 127.0.1.1 and 127.0.1.2 share a /24
    q = dns.message.make_query(name, "A")
    one = dns.query.udp(q, d.host, port=d.port, timeout=TIMEOUT, source="127.0.1.1")
    two = dns.query.udp(q, d.host, port=d.port, timeout=TIMEOUT, source="127.0.1.2")
    assert [rd.to_text() for rd in one.answer[0]] == [rd.to_text() for rd in two.answer[0]]

    bs[2].stop()
    wait_until(lambda: len(addrs(d, name)) == 3, 10, "w2 withdrawn", d)
    moved = 0
    for s in subnets:
        order, _ = ecs_query(d, name, s)
        assert order == [a for a in before[s] if a != bs[2].addr], (s, before[s], order)
        moved += before[s][0] == bs[2].addr
    assert moved == firsts.count(bs[2].addr)


def test_locality_by_client_subnet(srvd_factory, backends):
    e1, e2, w1 = backends("127.0.0.1", "127.0.0.2", "127.0.0.3")
    d = srvd_factory(
        "server:\n"
        "  zone: %s\n"
        "  sites: {east: [10.1.0.0/16], west: [10.2.0.0/16, \"2001:db8:2::/48\"]}\n"
        "defaults: {policy: fixed}\n"
        "services:\n"
        "  web:\n"
        "    port: 80\n"
        "    locality: prefer\n"
        "    check: {type: none}\n"
        "    instances:\n"
        "      - {name: w1, address: 192.0.2.1, site: west}\n"
        "      - {name: e1, address: 192.0.2.2, site: east}\n"
        "      - {name: x1, address: 192.0.2.3}\n"
        "  api:\n"
        "    port: 80\n"
        "    locality: strict\n"
        "    min_local: 2\n"
        "    %s\n"
        "    instances:\n"
        "      - {name: e1, address: 127.0.0.1, port: %d, site: east}\n"
        "      - {name: e2, address: 127.0.0.2, port: %d, site: east}\n"
        "      - {name: w1, address: 127.0.0.3, port: %d, site: west}\n"
        % (ZONE, CHECK, e1.port, e2.port, w1.port), ZONE)
    web, api = "web." + ZONE, "api." + ZONE
    order, ecs = ecs_query(d, web, "10.1.7.0/24")
    assert order == ["192.0.2.2", "192.0.2.1", "192.0.2.3"] and ecs.scopelen == 16, (order, ecs)
    order, ecs = ecs_query(d, web, "2001:db8:2:5::/64")
    assert order == ["192.0.2.1", "192.0.2.2", "192.0.2.3"] and ecs.scopelen == 48, (order, ecs)
    # no site: the policy's order; the scope says where sites start to differ
    order, ecs = ecs_query(d, web, "192.168.1.0/24")
    assert order == ["192.0.2.1", "192.0.2.2", "192.0.2.3"] and ecs.scopelen == 1, (order, ecs)
    # no ECS: the source address, here 127.0.0.1, in no site
    assert [rd.to_text() for rd in query(d, web, "A").answer[0]] == \
        ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
    assert dig(d, web, "A", "+subnet=10.2.0.0/24") == ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
    assert dig(d, web, "A", "+subnet=10.1.0.0/24") == ["192.0.2.2", "192.0.2.1", "192.0.2.3"]

    assert health_fields(d, "_health." + web)["locality"] == "prefer"
    assert health_fields(d, "_health.e1." + web)["site"] == "east"
    assert "site" not in health_fields(d, "_health.x1." + web)

    # strict: only the east instances while two of them pass
    wait_until(lambda: len(addrs(d, api)) == 3, 10, "api passes", d)
    assert ecs_query(d, api, "10.1.0.0/24")[0] == ["127.0.0.1", "127.0.0.2"]
    assert ecs_query(d, api, "10.2.0.0/24")[0] == ["127.0.0.3", "127.0.0.1", "127.0.0.2"]
    e2.stop()
    wait_until(lambda: ecs_query(d, api, "10.1.0.0/24")[0] == ["127.0.0.1", "127.0.0.3"], 10,
               "below min_local: the other sites too", d)
    e2.start()
    wait_until(lambda: ecs_query(d, api, "10.1.0.0/24")[0] == ["127.0.0.1", "127.0.0.2"], 10,
               "east alone again", d)
