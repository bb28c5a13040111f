# SPDX-License-Identifier: BSD-3-Clause
# test_rrl.py: response rate limiting (server.rrl) against the real daemon.
"""server.rrl: per-prefix limiting of UDP answers, NSD/Knot-style slip.

srvd counts per second of CLOCK_MONOTONIC (coarse), the clock Python's
time.monotonic() reads on Linux, so the test starts each flood just after a
second begins and knows how many of the daemon's seconds the flood spans:
with n of them, between rate and n * rate full answers may come back, and
with n == 1 (the usual case) exactly rate. The flood is paced (chunks of 20,
replies drained in between) so that neither socket buffer drops anything;
the daemon's own query counter confirms what it received. One worker, so
every source port of a client meets the same buckets.
"""

import math
import os
import re
import signal
import socket
import time

import dns.flags
import dns.message
import dns.rcode

from api_helpers import attach_api, request
from conftest import HOST, Srvd, query

ZONE = "svc.test."
RATE = 20
N = 400
RRL_RE = re.compile(r'^srvd_dns_rrl_total\{action="(drop|slip)"\} (\d+)$', re.M)
UDP_RE = re.compile(r'^srvd_dns_queries_total\{transport="udp",qtype="(\w+)"\} (\d+)$', re.M)


def registry(rrl=None):
    text = ("server:\n"
            "  zone: %s\n"
            "  http: 127.0.0.1:0\n"
            "  watch: false\n" % ZONE)
    if rrl is not None:
        text += "  rrl: %s\n" % rrl
    text += ("services:\n"
             "  web:\n"
             "    port: 80\n"
             "    check: {type: none}\n"
             "    instances:\n"
             "      - {name: w1, address: 192.0.2.1}\n"
             "      - {name: w2, address: 192.0.2.2}\n")
    return text


def start(tmp_path, text):
    path = str(tmp_path / "srvd.yaml")
    with open(path, "w") as f:
        f.write(text)
    return attach_api(Srvd(path, ZONE, workers=1).start())


def metrics(d):
    status, _, body = request(d, "GET", "/metrics")
    assert status == 200
    text = body.decode()
    rrl = {k: int(v) for k, v in RRL_RE.findall(text)}
    assert set(rrl) == {"drop", "slip"}, text
    rrl["udp"] = sum(int(v) for _, v in UDP_RE.findall(text))
    return rrl


def at_second_start():
    """Sleeps until just after the next whole second of CLOCK_MONOTONIC; the
    margin covers the coarse clock's lag (one tick)."""
    t = time.monotonic()
    time.sleep(math.floor(t) + 1.02 - t)


def seconds_spanned(t0, t1):
    """How many of the daemon's seconds [t0, t1] can touch (coarse clock: up to 10 ms behind)."""
    return math.floor(t1) - math.floor(t0 - 0.01) + 1


class Flood:
    """N copies of one query from one socket (optionally bound to src), paced;
    .replies are the parsed answers, .t0/.t1 the first send and last reply."""

    def __init__(self, d, n, src=None, name="web." + ZONE):
        self.replies = []
        q = dns.message.make_query(name, "A")
        wire = bytearray(q.to_wire())
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            if src:
                s.bind((src, 0))
            s.setblocking(False)
            self.t0 = self.t1 = time.monotonic()
            for i in range(n):
                wire[0:2] = (i + 1).to_bytes(2, "big")
                s.sendto(bytes(wire), d.addr)
                if i % 20 == 19:
                    time.sleep(0.004)
                    self._drain(s)
            s.settimeout(0.3)
            self._drain(s, wait=True)
        finally:
            s.close()
        ids = [r.id for r in self.replies]
        assert len(ids) == len(set(ids)), "duplicate replies"
        self.full = [r for r in self.replies if not r.flags & dns.flags.TC]
        self.slipped = [r for r in self.replies if r.flags & dns.flags.TC]

    def _drain(self, s, wait=False):
        while True:
            try:
                data = s.recv(65535)
            except (BlockingIOError, socket.timeout):
                return
            self.t1 = time.monotonic()
            self.replies.append(dns.message.from_wire(data))


def assert_full(r):
    assert r.rcode() == dns.rcode.NOERROR
    assert not r.flags & dns.flags.TC
    assert sorted(rr.address for rr in r.answer[0]) == ["192.0.2.1", "192.0.2.2"]


def test_flood_is_limited_per_second_with_slip(tmp_path):
    d = start(tmp_path, registry("{rate: %d, slip: 2}" % RATE))
    before = metrics(d)
    at_second_start()
    f = Flood(d, N)
    # TCP in the same second: never limited
    tcp = [query(d, "web." + ZONE, "A", transport="tcp") for _ in range(5)]
    after = metrics(d)
    secs = seconds_spanned(f.t0, f.t1)

    received = after["udp"] - before["udp"]
    assert received == N, "the daemon saw %d of %d queries" % (received, N)
    for r in f.full:
        assert_full(r)
    for r in f.slipped:
        # slipped: TC, question kept, nothing else, so a real client retries over TCP
        assert r.rcode() == dns.rcode.NOERROR
        assert r.flags & dns.flags.AA
        assert [str(q.name) for q in r.question] == ["web." + ZONE]
        assert not r.answer and not r.authority and not r.additional
    for r in tcp:
        assert_full(r)
    assert RATE <= len(f.full) <= secs * RATE, (len(f.full), secs)
    slips = after["slip"] - before["slip"]
    drops = after["drop"] - before["drop"]
    assert slips == len(f.slipped)
    assert len(f.full) + slips + drops == N
    if secs == 1:
        # one window: exact. Limited answers 1..380 alternate drop, slip.
        assert len(f.full) == RATE
        assert slips == (N - RATE) // 2 and drops == (N - RATE) - slips
    else:
        # each window starts its own drop, slip sequence
        assert abs(slips - drops) <= secs
    d.stop()


def test_other_prefix_is_not_limited_by_a_flood(tmp_path):
    d = start(tmp_path, registry("{rate: %d, slip: 0}" % RATE))
    at_second_start()
    flood = Flood(d, 100)
    other = Flood(d, RATE, src="127.0.1.1")
    again = Flood(d, 10)
    # slip 0: nothing but full answers comes back
    assert not flood.slipped and not other.slipped and not again.slipped
    assert len(other.full) == RATE, "127.0.1.0/24 was limited by 127.0.0.0/24's flood"
    if seconds_spanned(flood.t0, again.t1) == 1:
        # the flood's prefix stayed limited meanwhile: the buckets are apart, not reset
        assert len(flood.full) == RATE and not again.full
    d.stop()


def test_rrl_off_by_default_answers_everything(tmp_path):
    d = start(tmp_path, registry())
    before = metrics(d)
    at_second_start()
    f = Flood(d, N)
    after = metrics(d)
    assert len(f.full) == N and not f.slipped
    for r in f.full:
        assert_full(r)
    assert after["slip"] == before["slip"] == 0 and after["drop"] == before["drop"] == 0
    d.stop()


def test_rrl_follows_reload(tmp_path):
    d = start(tmp_path, registry())
    at_second_start()
    assert len(Flood(d, 100).full) == 100
    path = str(tmp_path / "srvd.yaml")
    with open(path + ".tmp", "w") as f:
        f.write(registry("{rate: %d, slip: 1}" % RATE))
    os.rename(path + ".tmp", path)
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log(r"reload \(SIGHUP\): serial")
    at_second_start()
    f = Flood(d, 100)
    secs = seconds_spanned(f.t0, f.t1)
    assert RATE <= len(f.full) <= secs * RATE
    # slip 1: every limited answer comes back truncated
    assert len(f.full) + len(f.slipped) == 100
    # and back off
    with open(path + ".tmp", "w") as f:
        f.write(registry("{rate: 0}"))
    os.rename(path + ".tmp", path)
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log(r"reload \(SIGHUP\): serial", count=2)
    at_second_start()
    assert len(Flood(d, 100).full) == 100
    d.stop()


def test_limit_applies_to_errors_too(tmp_path):
    d = start(tmp_path, registry("{rate: %d, slip: 2}" % RATE))
    at_second_start()
    f = Flood(d, 100, name="nope." + ZONE)
    secs = seconds_spanned(f.t0, f.t1)
    assert RATE <= len(f.full) <= secs * RATE
    for r in f.full:
        assert r.rcode() == dns.rcode.NXDOMAIN and r.authority
    for r in f.slipped:
        assert r.rcode() == dns.rcode.NXDOMAIN and not r.authority
    assert f.slipped
    d.stop()
