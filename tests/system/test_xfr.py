# SPDX-License-Identifier: BSD-3-Clause
# test_xfr.py: AXFR and IXFR out (README "Running many servers") with real clients: dig, kdig, dnspython.
"""Zone transfers from the real daemon.

dig pulls the zone by AXFR (SOA first and last, passing instances only);
kdig asks IXFR=N after a health change and after a reload and gets the
difference (srvd's log says IXFR, not AXFR); transfer.allow refuses others;
UDP transfers are refused; a 100,000-record zone transfers (time printed).
"""

import os
import re
import signal
import socket
import subprocess
import time

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from conftest import HOST, SLOW, TIMEOUT, Srvd, tcp_raw, udp_raw

ZONE = "svc.test."


def closed_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def registry(up_port, down_port, allow=("127.0.0.0/8",), extra_web="", big=0):
    lines = ["server:", "  zone: %s" % ZONE, "  ttl: 5", "  watch: false"]
    if allow is not None:
        lines.append("  transfer: {allow: [%s]}" % ", ".join('"%s"' % a for a in allow))
    lines += ["services:",
              "  web:", "    port: 80", "    check: {type: none}", "    instances:",
              "      - {name: w1, address: 192.0.2.1}",
              "      - {name: w2, address: 192.0.2.2, tags: [canary]}"]
    if extra_web:
        lines.append(extra_web)
    if up_port:
        lines += ["  db:", "    port: %d" % up_port,
                  "    check: {type: tcp, interval: 200ms, timeout: 100ms, rise: 1, fall: 1}",
                  "    instances:",
                  "      - {name: up, address: 127.0.0.1}",
                  "      - {name: down, address: 127.0.0.1, port: %d}" % down_port]
    for s in range(big):
        lines += ["  s%d:" % s, "    port: 80", "    check: {type: none}", "    instances:"]
        for i in range(1000):
            a = s * 1000 + i
            lines.append("      - {name: i%d, address: 198.18.%d.%d}" % (i, a // 256, a % 256))
    return "\n".join(lines) + "\n"


def start(tmp_path, text):
    path = str(tmp_path / "srvd.yaml")
    with open(path, "w") as f:
        f.write(text)
    return Srvd(path, ZONE).start()


def run(cmd, timeout=30):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout * SLOW)
    return p.stdout + p.stderr


def records(out):
    """(owner, type, rdata) of each record line of dig/kdig output, lowercased."""
    recs = []
    for line in out.splitlines():
        if not line or line.startswith(";"):
            continue
        f = line.split()
        if len(f) >= 5 and f[2] == "IN":
            recs.append((f[0].lower(), f[3], " ".join(f[4:]).lower()))
    return recs


def soa_serial(rec):
    assert rec[1] == "SOA", rec
    return int(rec[2].split()[2])


def dig_axfr(d):
    return records(run(["dig", "@" + HOST, "-p", str(d.port), ZONE, "AXFR", "+nocmd"]))


def kdig_ixfr(d, serial):
    return records(run(["kdig", "@" + HOST, "-p", str(d.port), ZONE, "IXFR=%d" % serial]))


def wait_served(d, name, addr, present, timeout=5.0):
    deadline = time.monotonic() + timeout * SLOW
    while time.monotonic() < deadline:
        r = dns.query.udp(dns.message.make_query(name, "A"), HOST, port=d.port, timeout=TIMEOUT)
        got = {rr.address for rrset in r.answer for rr in rrset}
        if (addr in got) == present:
            return
        time.sleep(0.05)
    pytest.fail("%s A %s never %s" % (name, addr, "appeared" if present else "left"))


@pytest.fixture
def backend():
    """A TCP listener the db/up instance's check connects to; close() fails it."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((HOST, 0))
    s.listen(64)
    yield s
    s.close()


def test_axfr_dig_and_ixfr_kdig(tmp_path, backend):
    up_port = backend.getsockname()[1]
    d = start(tmp_path, registry(up_port, closed_port()))
    wait_served(d, "db." + ZONE, "127.0.0.1", True)

    recs = dig_axfr(d)
    assert recs, "no AXFR answer"
    assert recs[0][1] == "SOA" and recs[-1][1] == "SOA"
    assert sum(1 for r in recs if r[1] == "SOA") == 2
    s1 = soa_serial(recs[0])
    assert soa_serial(recs[-1]) == s1
    for want in [("web.svc.test.", "A", "192.0.2.1"), ("web.svc.test.", "A", "192.0.2.2"),
                 ("canary.web.svc.test.", "A", "192.0.2.2"),
                 ("_web._tcp.svc.test.", "SRV", "0 1 80 w1.web.svc.test."),
                 ("w1.web.svc.test.", "A", "192.0.2.1"),
                 ("db.svc.test.", "A", "127.0.0.1"),
                 ("db.svc.test.", "SRV", "0 1 %d up.db.svc.test." % up_port)]:
        assert want in recs, want
    # the failing instance is in no service answer; per-query names are not zone data
    assert not any("down.db" in r[2] for r in recs)
    assert not any(r[0].startswith("_health") or r[0].startswith("_ready") for r in recs)
    d.wait_log(r"transfer: AXFR to 127\.0\.0\.1:\d+: serial %d, %d records" % (s1, len(recs)))

    # up to date: the SOA alone
    recs = kdig_ixfr(d, s1)
    assert len(recs) == 1 and soa_serial(recs[0]) == s1

    # the backend goes down: its records leave by IXFR
    backend.close()
    wait_served(d, "db." + ZONE, "127.0.0.1", False)
    s2 = s1
    deadline = time.monotonic() + 5 * SLOW
    while s2 == s1 and time.monotonic() < deadline:
        r = dns.query.udp(dns.message.make_query(ZONE, "SOA"), HOST, port=d.port, timeout=TIMEOUT)
        s2 = r.answer[0][0].serial
        time.sleep(0.05)
    assert s2 != s1
    time.sleep(0.5)  # past the daemon's coalescing window: the serial settles
    r = dns.query.udp(dns.message.make_query(ZONE, "SOA"), HOST, port=d.port, timeout=TIMEOUT)
    s2 = r.answer[0][0].serial
    recs = kdig_ixfr(d, s1)
    soas = [i for i, r in enumerate(recs) if r[1] == "SOA"]
    assert len(soas) == 4, recs
    assert soa_serial(recs[0]) == s2 and soa_serial(recs[1]) == s1
    assert soa_serial(recs[soas[2]]) == s2 and soa_serial(recs[-1]) == s2
    deleted = recs[2:soas[2]]
    assert ("db.svc.test.", "A", "127.0.0.1") in deleted
    assert ("db.svc.test.", "SRV", "0 1 %d up.db.svc.test." % up_port) in deleted
    assert recs[soas[2] + 1:-1] == []  # nothing added
    d.wait_log(r"transfer: IXFR to 127\.0\.0\.1:\d+: serial %d -> %d, %d records" %
               (s1, s2, len(recs)))

    # a reload adds an instance: IXFR from s2 adds it
    with open(d.config, "w") as f:
        f.write(registry(up_port, closed_port(),
                         extra_web="      - {name: w3, address: 192.0.2.3}"))
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log(r"reload \(SIGHUP\): serial (\d+)")
    r = dns.query.udp(dns.message.make_query(ZONE, "SOA"), HOST, port=d.port, timeout=TIMEOUT)
    s3 = r.answer[0][0].serial
    assert s3 != s2
    recs = kdig_ixfr(d, s2)
    soas = [i for i, r in enumerate(recs) if r[1] == "SOA"]
    assert len(soas) == 4, recs
    added = recs[soas[2] + 1:-1]
    assert ("web.svc.test.", "A", "192.0.2.3") in added
    assert ("w3.web.svc.test.", "A", "192.0.2.3") in added
    assert recs[2:soas[2]] == []  # nothing deleted

    # a serial from before the history: the whole zone, logged as such
    recs = kdig_ixfr(d, 1)
    assert recs[0][1] == "SOA" and recs[-1][1] == "SOA" and len(recs) > 4
    assert sum(1 for r in recs if r[1] == "SOA") == 2
    d.wait_log(r"transfer: AXFR to 127\.0\.0\.1:\d+: serial 1 -> %d \(not in the IXFR history\)"
               % s3)
    d.stop()


def refused_tcp(d, rdtype):
    q = dns.message.make_query(ZONE, rdtype)
    if rdtype == "IXFR":
        q.authority = [dns.rrset.from_text(ZONE, 0, "IN", "SOA", ". . 1 0 0 0 0")]
    r = dns.message.from_wire(tcp_raw(d.port, q.to_wire()))
    return dns.rcode.to_text(r.rcode())


@pytest.mark.parametrize("allow", [("10.0.0.0/8", "::2"), None])
def test_transfer_refused_outside_acl(tmp_path, allow):
    d = start(tmp_path, registry(0, 0, allow=allow))
    assert refused_tcp(d, "AXFR") == "REFUSED"
    assert refused_tcp(d, "IXFR") == "REFUSED"
    out = run(["dig", "@" + HOST, "-p", str(d.port), ZONE, "AXFR", "+nocmd"])
    assert "Transfer failed" in out and not records(out)
    d.wait_log(r"transfer: AXFR from 127\.0\.0\.1:\d+ refused \(rcode 5, not in transfer.allow\)")
    d.stop()


def test_udp_and_other_zone(tmp_path):
    d = start(tmp_path, registry(0, 0))
    # no transfer over UDP (RFC 5936 4.2: TCP only)
    for t in ("AXFR", "IXFR"):
        r = dns.message.from_wire(udp_raw(d.port, dns.message.make_query(ZONE, t).to_wire()))
        assert r.rcode() == dns.rcode.REFUSED
    # a name that is not the zone's apex
    r = dns.message.from_wire(
        tcp_raw(d.port, dns.message.make_query("web." + ZONE, "AXFR").to_wire()))
    assert r.rcode() == dns.rcode.NOTAUTH
    # ordinary queries on the same connection path still work
    r = dns.message.from_wire(
        tcp_raw(d.port, dns.message.make_query("web." + ZONE, "A").to_wire()))
    assert r.rcode() == dns.rcode.NOERROR and r.answer
    d.stop()


def test_axfr_100k_records(tmp_path):
    d = start(tmp_path, registry(0, 0, big=25))
    t0 = time.monotonic()
    out = run(["dig", "@" + HOST, "-p", str(d.port), ZONE, "AXFR", "+nocmd", "+onesoa"],
              timeout=60)
    took = time.monotonic() - t0
    recs = records(out)
    # 25,000 instances x 4 records (service A and SRV, _sN._tcp SRV, own A), plus web's
    m = d.wait_log(r"transfer: AXFR to 127\.0\.0\.1:\d+: serial \d+, (\d+) records, (\d+) "
                   r"messages, ([\d.]+) ms")[-1]
    assert len(recs) == int(m.group(1)) - 1  # +onesoa drops the closing SOA
    assert len(recs) > 100000 and len(recs) < 100100
    print("\nAXFR of %d records: dig took %.2f s, srvd built %s messages in %s ms" %
          (len(recs), took, m.group(2), m.group(3)))
    # dig counts the closing SOA it did not print
    assert re.search(r"XFR size: %d records" % (len(recs) + 1), out)
    d.stop()
