# SPDX-License-Identifier: BSD-3-Clause
# test_panic.py: panic mode (README "Health checks") starts only once the first round of checks is done.
"""Panic mode at start-up.

Before the first round of checks no instance is served, yet that is no
outage: the checker keeps its panic flag off until every instance has a
first result, and the answers follow the flag. The instances are closed
loopback ports below 32768 (nothing in the ephemeral range can take them).
"""

import socket
import time

import dns.rcode
import dns.rdatatype
import pytest

from conftest import HOST, Srvd, query, write_registry

ZONE = "svc.test."


def closed_ports(n):
    """n distinct loopback TCP ports below 32768 that refuse connections."""
    ports = []
    for port in (9, 13, 19, 37, 79, 109, 113, 119, 1023, 4001, 9999, 20001):
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex((HOST, port)) != 0:
                ports.append(port)
        if len(ports) == n:
            return ports
    pytest.fail("fewer than %d closed ports below 32768 on %s" % (n, HOST))


def registry(check):
    a, b = closed_ports(2)
    return ("server: {zone: %s}\n"
            "services:\n"
            "  p:\n"
            "    port: 80\n"
            "    panic_threshold: 0.5\n"
            "    check: {type: tcp, %s}\n"
            "    instances:\n"
            "      - {name: p1, address: 127.0.0.1, port: %d}\n"
            "      - {name: p2, address: 127.0.0.2, port: %d}\n" % (ZONE, check, a, b))


def txt(d, name):
    r = query(d, name, "TXT")
    assert r.rcode() == dns.rcode.NOERROR, r
    return [s.decode() for rd in r.answer[0] for s in rd.strings]


@pytest.fixture
def daemon(tmp_path):
    started = []

    def start(yaml_text, wait_ready):
        d = Srvd(write_registry(str(tmp_path), yaml_text), ZONE if wait_ready else None)
        started.append(d)
        d.start()
        d.zone = ZONE
        return d

    yield start
    for d in started:
        d.stop()


def test_no_panic_before_the_first_round(daemon):
    # The first probes come at a random offset within the interval: with an
    # hour, both of them landing before these queries is a 1 in 10^8 event,
    # and one alone still leaves a result pending (no panic either).
    d = daemon(registry("interval: 1h, timeout: 1s"), wait_ready=False)
    r = query(d, "p." + ZONE, "A")
    assert r.rcode() == dns.rcode.NOERROR and not r.answer, r
    r = query(d, "_p._tcp." + ZONE, "SRV")
    assert r.rcode() == dns.rcode.NOERROR and not r.answer, r
    assert txt(d, "_health.p." + ZONE)[:2] == ["passing=0/2", "panic=no"]
    assert "first round of checks done" not in d.stderr_text()


def test_panic_after_the_first_round(daemon):
    # _ready answers once both have failed: now below half, so panic
    # answers with both of them
    d = daemon(registry("interval: 200ms, timeout: 100ms, fall: 1"), wait_ready=True)
    deadline = time.monotonic() + 5
    while txt(d, "_health.p." + ZONE)[1] != "panic=yes" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert txt(d, "_health.p." + ZONE)[:2] == ["passing=0/2", "panic=yes"]
    r = query(d, "p." + ZONE, "A")
    assert r.rcode() == dns.rcode.NOERROR, r
    assert sorted(rd.address for rrset in r.answer for rd in rrset) == ["127.0.0.1", "127.0.0.2"]
