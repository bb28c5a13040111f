# SPDX-License-Identifier: BSD-3-Clause
# test_xfr_stream.py: zone transfers are streamed and capped, so slow readers cannot
# make srvd hold a zone per connection.
"""Slow readers inside transfer.allow.

A zone of 20,000 instances (about 80,000 records, 1.7 MB on the wire). Before, srvd
built every AXFR whole into the connection's output: each client that asked and then
read nothing held the zone, and 1,024 of them about 2 GB. Now a transfer is produced
as the client reads (at most 128 KiB + one message ahead), from a snapshot that does
not depend on the live table, and at most DNS_XFR_RUNNING (16) run at once, server
wide; a request beyond that gets SERVFAIL (as BIND does past transfers-out).
"""

import select
import signal
import socket
import struct
import time

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.zone
import pytest

from conftest import HOST, SLOW, Srvd, sanitized, tcp_read_msg
from test_xfr import ZONE, registry

RUNNING = 16      # DNS_XFR_RUNNING
SLOW_READERS = 64
RSS_BOUND_KB = 12 * 1024


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def axfr_request(qid):
    q = dns.message.make_query(ZONE, "AXFR")
    q.id = qid
    w = q.to_wire()
    return struct.pack("!H", len(w)) + w


def readable(s, timeout):
    p = select.poll()
    p.register(s, select.POLLIN)
    return bool(p.poll(timeout * 1000))


def slow_reader(port, qid):
    """Connects, asks AXFR, reads nothing (a small receive buffer, so the kernel holds
    little of the answer either)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect((HOST, port))
    s.sendall(axfr_request(qid))
    return s


def full_axfr(d):
    """The zone by dnspython: every message parsed, SOA first and last; names absolute."""
    return dns.zone.from_xfr(dns.query.xfr(HOST, ZONE, port=d.port, lifetime=60 * SLOW,
                                           relativize=False),
                             relativize=False)


def zone_records(z):
    return sorted((str(name), rds.rdtype, rd.to_text()) for name, rds in z.iterate_rdatasets()
                  for rd in rds)


def read_transfer(s):
    """Reads one transfer from s: (name, type, rdata) of its records up to the closing
    SOA (excluded), and the serials of the first and last SOA."""
    got = []
    while True:
        m = dns.message.from_wire(tcp_read_msg(s), xfr=True, origin=None)
        assert m.rcode() == dns.rcode.NOERROR
        got.extend((str(rrset.name), rrset.rdtype, rd)
                   for rrset in m.answer for rd in rrset)
        if len(got) > 1 and got[-1][1] == dns.rdatatype.SOA:
            break
    assert got[0][1] == dns.rdatatype.SOA
    return (sorted((n, t, rd.to_text()) for n, t, rd in got[:-1]),
            got[0][2].serial, got[-1][2].serial)


def zone_serial(z):
    return z.get_rdataset(dns.name.from_text(ZONE), "SOA")[0].serial


@pytest.fixture
def big(tmp_path):
    path = str(tmp_path / "srvd.yaml")
    with open(path, "w") as f:
        f.write(registry(0, 0, big=20))
    d = Srvd(path, ZONE).start()
    yield d
    d.stop()


def test_slow_readers_bounded_and_capped(big):
    d = big
    want = zone_records(full_axfr(d))  # also records the version: RSS holds it from here
    assert len(want) > 80000
    pid = d.proc.pid
    rss0 = rss_kb(pid)
    conns = []
    try:
        # each request is answered (readable) before the next: the first RUNNING get a
        # transfer, the others one SERVFAIL message each
        for i in range(SLOW_READERS):
            conns.append(slow_reader(d.port, i + 1))
            assert readable(conns[-1], 5 * SLOW), "request %d not answered" % i
        time.sleep(0.5)
        peak = rss_kb(pid)
        print("\n%d slow AXFR readers of a %d-record zone: srvd RSS %d -> %d kB (+%d kB)" %
              (SLOW_READERS, len(want), rss0, peak, peak - rss0))
        if not sanitized():  # ASan's RSS holds shadow memory and its quarantine
            assert peak - rss0 < RSS_BOUND_KB, "srvd RSS grew by %d kB" % (peak - rss0)
        for i in range(RUNNING, SLOW_READERS):
            conns[i].settimeout(5 * SLOW)
            r = dns.message.from_wire(tcp_read_msg(conns[i]))
            assert r.id == i + 1 and r.rcode() == dns.rcode.SERVFAIL and not r.answer, str(r)
        d.wait_log(r"transfer: AXFR from 127\.0\.0\.1:\d+ refused \(rcode 2, %d transfers "
                   r"running\)" % RUNNING, count=SLOW_READERS - RUNNING)
        # one slow reader reads after all: the whole zone, in valid messages
        conns[0].settimeout(10 * SLOW)
        got, first, last = read_transfer(conns[0])
        assert got == want and first == last
    finally:
        for s in conns:
            s.close()
    # the slots are free again once the readers are gone: a normal AXFR is complete
    deadline = time.monotonic() + 5 * SLOW
    while True:
        try:
            assert zone_records(full_axfr(d)) == want
            break
        except dns.exception.FormError:
            assert time.monotonic() < deadline, "transfers still capped after the readers left"
            time.sleep(0.1)
    assert d.alive()


def test_transfer_outlives_reload(big, tmp_path):
    """A transfer in progress keeps sending the version it started with across a reload
    (which frees the old table): complete and consistent, under its old serial."""
    d = big
    before = full_axfr(d)
    serial = zone_serial(before)
    s = slow_reader(d.port, 7)
    assert readable(s, 5 * SLOW)
    with open(d.config, "w") as f:
        f.write(registry(0, 0, big=20, extra_web="      - {name: w9, address: 192.0.2.9}"))
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log(r"reload \(SIGHUP\): serial (\d+)")
    s.settimeout(10 * SLOW)
    got, first, last = read_transfer(s)
    s.close()
    assert first == last == serial
    assert got == zone_records(before)
    after = full_axfr(d)
    assert zone_serial(after) != serial
    assert ("w9.web." + ZONE, dns.rdatatype.A, "192.0.2.9") in zone_records(after)
