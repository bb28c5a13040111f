# SPDX-License-Identifier: BSD-3-Clause
# test_secondary.py: srvd as a primary (README "Running many servers"): serials, NOTIFY, and real NSD/Knot secondaries.
"""srvd as the primary of standard secondaries.

The first tests put a fake secondary (a UDP socket in the test) in
server.transfer.notify and read what srvd sends: one NOTIFY (opcode 4, AA,
question <zone> SOA, the new SOA in the answer) per serial change, retried
after 1, 2, 4 s ... until acknowledged; none when nothing served changed.

The others start a real NSD (Debian package nsd) and Knot (knot) on loopback
ports with their own configuration in tmp_path, no chroot, no user switch,
pulling svc.test. from srvd with `request-xfr` / `master` and accepting its
NOTIFY. srvd's backends are real HTTP servers on 127.0.0.2x. The secondary
must answer the same record sets as srvd for every name; after a backend
stops (srvd withdraws it and NOTIFYs) and after a reload that adds a
service, within NOTIFY_BOUND seconds. Transfers after the first must be
incremental: srvd's log says `transfer: IXFR`.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from conftest import HOST, Srvd, free_port, query, wait_until, write_registry
from test_health import HttpBackend

ZONE = "svc.test."
SOA = "soa: {mname: ns1.svc.test., rname: hostmaster.svc.test., refresh: 3600, retry: 600, " \
      "expire: 86400, minimum: 5}"
CHECK = "type: http, path: /, interval: 200ms, timeout: 200ms, rise: 2, fall: 2"
# withdrawal (fall 2 x 200 ms + timeout) + NOTIFY + SOA query + transfer, with room for CI
NOTIFY_BOUND = 8.0


def soa_serial(port):
    r = dns.query.udp(dns.message.make_query(ZONE, "SOA"), HOST, port=port, timeout=1)
    if r.rcode() != dns.rcode.NOERROR or not r.answer:
        return None
    return r.answer[0][0].serial


# --- a fake secondary: reads NOTIFY, acknowledges on demand ------------------------------


class FakeSecondary:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.port = self.sock.getsockname()[1]

    def recv(self, timeout):
        """The next NOTIFY as (message, wire, sender, arrival time), or None."""
        self.sock.settimeout(timeout)
        try:
            wire, sender = self.sock.recvfrom(65535)
        except socket.timeout:
            return None
        return dns.message.from_wire(wire), wire, sender, time.monotonic()

    def ack(self, msg, sender, rcode=dns.rcode.NOERROR):
        r = dns.message.make_response(msg)
        r.set_rcode(rcode)
        self.sock.sendto(r.to_wire(), sender)

    def drain(self, seconds):
        got = []
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return got
            n = self.recv(left)
            if n is None:
                return got
            got.append(n)

    def close(self):
        self.sock.close()


def check_notify(msg, serial):
    """msg is the NOTIFY RFC 1996 describes for ZONE at serial."""
    assert msg.opcode() == dns.opcode.NOTIFY, msg
    assert not (msg.flags & dns.flags.QR) and msg.flags & dns.flags.AA, msg
    assert len(msg.question) == 1, msg
    q = msg.question[0]
    assert (q.name.to_text(), q.rdtype) == (ZONE, dns.rdatatype.SOA), msg
    assert len(msg.answer) == 1 and msg.answer[0].rdtype == dns.rdatatype.SOA, msg
    assert msg.answer[0].name.to_text() == ZONE
    assert msg.answer[0][0].serial == serial, (msg, serial)


def registry(backends, notify, extra_services="", allow=True, http=None, tsig=False):
    """svc.test. with `web` checked over HTTP on the backends (127.0.0.2x), `api` unchecked."""
    out = ["server:", "  zone: %s" % ZONE, "  ttl: 5", "  " + SOA, "  ns: [ns1.svc.test.]",
           "  watch: false"]
    if http:
        out.append("  http: 127.0.0.1:%d" % http)
    out.append("  transfer:")
    if allow:
        out.append("    allow: [127.0.0.0/8]")
    out.append("    notify: [%s]" % ", ".join("127.0.0.1:%d" % p for p in notify))
    if tsig:
        out.append('    tsig: {name: %s, algorithm: hmac-sha256, secret: "%s"}' % TSIG_KEY)
    out += ["services:", "  web:", "    protocol: tcp", "    port: 80", "    tags: [http]",
            "    check: {%s}" % CHECK, "    instances:"]
    for i, b in enumerate(backends):
        out.append("      - {name: web-%d, address: %s, port: %d}" % (i + 1, b.addr, b.port))
    out += ["  api:", "    port: 9000", "    check: {type: none}", "    instances:",
            "      - {name: api-1, address: 192.0.2.31}",
            "      - {name: api-2, address: \"2001:db8::32\"}"]
    return "\n".join(out) + "\n" + extra_services


EXTRA = """  billing:
    port: 7000
    check: {type: none}
    instances:
      - {name: b1, address: 192.0.2.21}
"""


@pytest.fixture
def backends():
    made = []

    def make(n):
        for i in range(n):
            made.append(HttpBackend(addr="127.0.0.%d" % (21 + i)).start())
        return made

    yield make
    for b in made:
        b.close()


def start_srvd(tmp_path, text):
    path = write_registry(str(tmp_path), text)
    return Srvd(path, ZONE).start(), path


def web_addrs(port):
    r = dns.query.udp(dns.message.make_query("web." + ZONE, "A"), HOST, port=port, timeout=1)
    return sorted(rr.address for rrset in r.answer for rr in rrset)


def hup(d, pattern):
    n = len([1 for line in d.stderr_text().splitlines() if pattern in line])
    d.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: len([1 for line in d.stderr_text().splitlines()
                            if pattern in line]) > n, 5, "reload logged", d.stderr_text)


# --- NOTIFY and serials with a fake secondary ---------------------------------------------


def test_notify_on_each_serial_change_acknowledged_once(tmp_path, backends):
    sec = FakeSecondary()
    try:
        bs = backends(2)
        d, path = start_srvd(tmp_path, registry(bs, [sec.port]))
        wait_until(lambda: web_addrs(d.port) == ["127.0.0.21", "127.0.0.22"], 5, "served",
                   d.stderr_text)
        # the first NOTIFY comes once ready; later ones follow the first round's serials
        # (a window of 200 ms after the first change): let them settle
        time.sleep(0.6)
        serial = soa_serial(d.port)
        while True:
            n = sec.recv(3)
            assert n is not None, "no NOTIFY for the current serial %d" % serial
            msg, wire, sender, _ = n
            assert sender[0] == HOST
            if msg.answer[0][0].serial == serial:
                break
        check_notify(msg, serial)
        sec.ack(msg, sender)
        d.wait_log(r"notify: 127\.0\.0\.1:%d acknowledged serial %d \(\d+ tr"
                   % (sec.port, serial))
        # acknowledged: no retry
        assert sec.drain(1.5) == []

        # a withdrawal changes the served set: a higher serial, one NOTIFY for it
        bs[0].stop()
        wait_until(lambda: web_addrs(d.port) == ["127.0.0.22"], 5, "withdrawn", d.stderr_text)
        n = sec.recv(3)
        assert n is not None, d.stderr_text()
        msg, _, sender, _ = n
        new = soa_serial(d.port)
        assert new > serial
        check_notify(msg, msg.answer[0][0].serial)
        assert serial < msg.answer[0][0].serial <= new
        sec.ack(msg, sender)
        for msg, _, sender, _ in sec.drain(1.0):
            check_notify(msg, msg.answer[0][0].serial)
            sec.ack(msg, sender)
        assert msg.answer[0][0].serial == soa_serial(d.port)

        # a reload that changes nothing served: same serial, no NOTIFY
        hup(d, "nothing that alters an answer changed")
        assert soa_serial(d.port) == new
        assert sec.drain(1.0) == []

        # a reload with a new service: a new serial, NOTIFYed
        with open(path, "a") as f:
            f.write(EXTRA)
        hup(d, "reload (SIGHUP): serial")
        n = sec.recv(3)
        assert n is not None, d.stderr_text()
        msg, _, sender, _ = n
        check_notify(msg, soa_serial(d.port))
        assert msg.answer[0][0].serial > new
        sec.ack(msg, sender)
        d.stop()
    finally:
        sec.close()


def test_notify_acknowledged_after_a_retry_stops_it(tmp_path):
    sec = FakeSecondary()
    try:
        d, _ = start_srvd(tmp_path, registry([], [sec.port]))
        first = sec.recv(5)
        second = sec.recv(3)
        assert first and second, d.stderr_text()
        serial = soa_serial(d.port)
        check_notify(second[0], serial)
        # the same query (same ID) each time: a late answer to any try acknowledges it
        assert first[0].id == second[0].id
        sec.ack(first[0], first[2])
        d.wait_log(r"acknowledged serial %d \(2 tries\)" % serial)
        assert sec.drain(5) == []
        d.stop()
    finally:
        sec.close()


def test_notify_retried_with_backoff_then_given_up(tmp_path):
    sec = FakeSecondary()
    try:
        d, _ = start_srvd(tmp_path, registry([], [sec.port]))
        got = []
        while len(got) < 5:
            n = sec.recv(20)
            assert n is not None, "NOTIFY %d missing; stderr:\n%s" % (len(got) + 1,
                                                                       d.stderr_text())
            got.append(n)
            msg, _, sender, _ = n
            if len(got) == 2:
                # answers that are not the secondary's acknowledgement do not count: the
                # right ID from another port, and another ID from the right one
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
                    other.sendto(dns.message.make_response(msg).to_wire(), sender)
                wrong = dns.message.make_response(msg)
                wrong.id = (msg.id + 1) % 65536
                sec.sock.sendto(wrong.to_wire(), sender)
        serial = soa_serial(d.port)
        for msg, _, _, _ in got:
            check_notify(msg, serial)
        gaps = [b[3] - a[3] for a, b in zip(got, got[1:])]
        for gap, want in zip(gaps, (1, 2, 4, 8)):
            assert want - 0.3 <= gap <= want + 0.7, gaps
        d.wait_log(r"notify: 127\.0\.0\.1:%d did not acknowledge serial %d after 5 tries"
                   % (sec.port, serial), timeout=20)
        # given up only after the last try's 16 s
        assert time.monotonic() >= got[-1][3] + 16 - 0.3
        assert sec.drain(1) == []
        d.stop()
    finally:
        sec.close()


def test_burst_of_withdrawals_coalesced(tmp_path, backends):
    sec = FakeSecondary()
    try:
        bs = backends(8)
        d, _ = start_srvd(tmp_path, registry(bs, [sec.port]))
        wait_until(lambda: len(web_addrs(d.port)) == 8, 5, "served", d.stderr_text)
        time.sleep(0.5)
        s0 = soa_serial(d.port)
        for b in bs:
            b.stop()
        # every instance down: panic serves them all again, so watch the _health summary
        wait_until(lambda: "passing=0/8" in str(query(d, "_health.web." + ZONE, "TXT")), 5,
                   "all withdrawn", d.stderr_text)
        time.sleep(1)
        bumps = [line for line in d.stderr_text().splitlines()
                 if "the served set changed" in line]
        after = [line for line in bumps if int(line.split("serial ")[1].split(" ")[0]) >= s0]
        # 8 withdrawals (and the panic flag) within about one check interval: at most a
        # leading and a trailing serial per 200 ms window, not one per instance
        assert 1 <= len(after) <= 4, "\n".join(after)
        assert soa_serial(d.port) > s0
        d.stop()
    finally:
        sec.close()


def test_notify_received_by_srvd_is_not_implemented(tmp_path):
    d, _ = start_srvd(tmp_path, registry([], [free_port()]))
    q = dns.message.make_query(ZONE, "SOA")
    q.set_opcode(dns.opcode.NOTIFY)
    q.flags |= dns.flags.AA
    r = dns.query.udp(q, HOST, port=d.port, timeout=2)
    assert r.rcode() == dns.rcode.NOTIMP
    assert r.opcode() == dns.opcode.NOTIFY
    d.stop()


# --- real secondaries -----------------------------------------------------------------------


# the key of README "Signing transfers and NOTIFY with TSIG"
TSIG_KEY = ("k1.", "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ=")


class Secondary:
    """NSD or Knot on 127.0.0.1:port with its own folder; stop() ends its whole session."""

    def __init__(self, kind, folder, port, primary_port, tsig=False):
        self.kind, self.folder, self.port = kind, folder, port
        os.makedirs(folder, exist_ok=True)
        conf = os.path.join(folder, kind + ".conf")
        with open(conf, "w") as f:
            text = (nsd_conf if kind == "nsd" else knot_conf)(folder, port, primary_port)
            if tsig:
                assert kind == "nsd"
                text = text.replace(" NOKEY", " " + TSIG_KEY[0]) + \
                    'key:\n  name: %s\n  algorithm: hmac-sha256\n  secret: "%s"\n' % TSIG_KEY
            f.write(text)
        self.log = os.path.join(folder, kind + ".out")
        exe = shutil.which("nsd" if kind == "nsd" else "knotd") or \
            ("/usr/sbin/nsd" if kind == "nsd" else "/usr/sbin/knotd")
        argv = [exe, "-d", "-c", conf] if kind == "nsd" else [exe, "-c", conf]
        with open(self.log, "w") as out:
            # its own session: NSD forks (main, xfrd, server) and all go at stop()
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def logs(self):
        text = ""
        for name in (self.kind + ".out", "nsd.log"):
            p = os.path.join(self.folder, name)
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    text += "--- %s\n%s" % (name, f.read()[-6000:])
        return text

    def serial(self):
        assert self.proc.poll() is None, "%s died:\n%s" % (self.kind, self.logs())
        try:
            return soa_serial(self.port)
        except (dns.exception.Timeout, ConnectionError):
            return None

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def nsd_conf(folder, port, primary_port):
    # The secondary half of README "Running many servers", with test paths and ports.
    return """server:
  ip-address: 127.0.0.1@{port}
  server-count: 1
  username: ""
  chroot: ""
  database: ""
  zonesdir: "{d}"
  zonelistfile: "{d}/zone.list"
  xfrdfile: "{d}/xfrd.state"
  xfrdir: "{d}"
  pidfile: "{d}/nsd.pid"
  logfile: "{d}/nsd.log"
  zonefiles-write: 0
  verbosity: 2
  round-robin: yes
remote-control:
  control-enable: no
zone:
  name: svc.test.
  zonefile: "svc.test.zone"
  request-xfr: 127.0.0.1@{primary} NOKEY
  allow-notify: 127.0.0.1 NOKEY
""".format(d=folder, port=port, primary=primary_port)


def knot_conf(folder, port, primary_port):
    return """server:
  rundir: "{d}"
  listen: 127.0.0.1@{port}
  udp-workers: 1
  tcp-workers: 1
  background-workers: 1
  answer-rotation: on
database:
  storage: "{d}"
control:
  listen: "{d}/knot.sock"
log:
  - target: stderr
    any: info
remote:
  - id: srvd
    address: 127.0.0.1@{primary}
acl:
  - id: notify_from_srvd
    address: 127.0.0.1
    action: notify
template:
  - id: default
    storage: "{d}"
    zonefile-sync: -1
    journal-content: changes
zone:
  - domain: svc.test.
    master: srvd
    acl: notify_from_srvd
""".format(d=folder, port=port, primary=primary_port)


def rrsets(port, name, rdtype):
    """The answer's records at name/rdtype as a sorted list of text rdata (order aside)."""
    r = dns.query.udp(dns.message.make_query(name, rdtype), HOST, port=port, timeout=1)
    return r.rcode(), sorted(rr.to_text() for rrset in r.answer
                             if rrset.rdtype == dns.rdatatype.from_text(rdtype) for rr in rrset)


NAMES = [(ZONE, "SOA"), (ZONE, "NS"), ("web." + ZONE, "A"), ("web." + ZONE, "SRV"),
         ("_web._tcp." + ZONE, "SRV"), ("http.web." + ZONE, "A"),
         ("_http._tcp.web." + ZONE, "SRV"), ("web-1.web." + ZONE, "A"),
         ("web-2.web." + ZONE, "A"), ("web-3.web." + ZONE, "A"), ("api." + ZONE, "A"),
         ("api." + ZONE, "AAAA"), ("api." + ZONE, "SRV"), ("api-1.api." + ZONE, "A"),
         ("billing." + ZONE, "A"), ("billing." + ZONE, "SRV"), ("b1.billing." + ZONE, "A")]


def same_records(d, sec):
    """Every name of NAMES answers alike (rcode and record set) from srvd and sec."""
    for name, rdtype in NAMES:
        if rrsets(d.port, name, rdtype) != rrsets(sec.port, name, rdtype):
            return False
    return True


def diff_records(d, sec):
    out = []
    for name, rdtype in NAMES:
        a, b = rrsets(d.port, name, rdtype), rrsets(sec.port, name, rdtype)
        if a != b:
            out.append("%s %s: srvd %s, %s %s" % (name, rdtype, a, sec.kind, b))
    return "\n".join(out)


def metrics(port):
    """/metrics as {"name{labels}": value}."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def transfers(d, kind):
    return len([1 for line in d.stderr_text().splitlines() if "transfer: %s to" % kind in line])


def follow_primary(tmp_path, backends, kind, tsig=False):
    bs = backends(3)
    sec_port = free_port()
    api_port = free_port()
    d, path = start_srvd(tmp_path, registry(bs, [sec_port], http=api_port, tsig=tsig))
    wait_until(lambda: len(web_addrs(d.port)) == 3, 5, "served", d.stderr_text)
    sec = Secondary(kind, str(tmp_path / kind), sec_port, d.port, tsig=tsig)
    try:
        logs = lambda: "srvd:\n%s\n%s" % (d.stderr_text(), sec.logs())  # noqa: E731
        # the first transfer: the whole zone, as srvd serves it
        wait_until(lambda: sec.serial() == soa_serial(d.port), 10, "first transfer", logs)
        wait_until(lambda: same_records(d, sec), 3, "same records", lambda: diff_records(d, sec))
        assert web_addrs(sec.port) == ["127.0.0.21", "127.0.0.22", "127.0.0.23"]
        first_ixfr = transfers(d, "IXFR")

        # a backend stops: srvd withdraws it, NOTIFYs, the secondary follows
        s0 = soa_serial(d.port)
        bs[1].stop()
        t = wait_until(lambda: web_addrs(sec.port) == ["127.0.0.21", "127.0.0.23"],
                       NOTIFY_BOUND, "withdrawal reaches %s" % kind, logs)
        assert web_addrs(d.port) == ["127.0.0.21", "127.0.0.23"]
        assert soa_serial(d.port) > s0
        wait_until(lambda: sec.serial() == soa_serial(d.port), 3, "serials agree", logs)
        assert same_records(d, sec), diff_records(d, sec)
        print("%s followed a withdrawal in %.2f s" % (kind, t))

        # a reload adding a service reaches it too
        with open(path, "a") as f:
            f.write(EXTRA)
        hup(d, "reload (SIGHUP): serial")
        wait_until(lambda: rrsets(sec.port, "b1.billing." + ZONE, "A")[1] == ["192.0.2.21"],
                   NOTIFY_BOUND, "reload reaches %s" % kind, logs)
        wait_until(lambda: sec.serial() == soa_serial(d.port), 3, "serials agree", logs)
        assert same_records(d, sec), diff_records(d, sec)

        # both incremental updates went by IXFR, not AXFR
        assert transfers(d, "IXFR") >= first_ixfr + 2, logs()
        m = metrics(api_port)
        assert m['srvd_transfers_total{type="ixfr"}'] == transfers(d, "IXFR"), m
        assert m['srvd_transfers_total{type="axfr"}'] == transfers(d, "AXFR"), m
        assert m['srvd_transfers_total{type="refused"}'] == 0, m
        print("\n".join(line for line in d.stderr_text().splitlines()
                        if "transfer:" in line or "notify:" in line or "serial" in line))
        sec.stop()
        d.stop()
    finally:
        sec.stop()


def test_nsd_secondary_follows_srvd(tmp_path, backends):
    follow_primary(tmp_path, backends, "nsd")


def test_knot_secondary_follows_srvd(tmp_path, backends):
    follow_primary(tmp_path, backends, "knot")


def test_nsd_secondary_with_tsig_follows_srvd(tmp_path, backends):
    """The README's TSIG configuration: NSD asks with the key, srvd signs answers and NOTIFY
    (NSD drops an unsigned NOTIFY for a keyed allow-notify, so following at all proves it)."""
    follow_primary(tmp_path, backends, "nsd", tsig=True)
