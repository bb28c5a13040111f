# SPDX-License-Identifier: BSD-3-Clause
# test_health.py: active health checks (README "Health checks") against real backends on 127.0.0.1.
"""Health checking seen through DNS.

Each test starts its own backends on loopback (a TCP listener, a threaded
HTTP server whose answer can be switched between 200, 503 and "never
answer", and closed ports) and a daemon whose registry checks them with
interval 200ms, timeout 200ms, fall 2, rise 2. Waits poll with deadlines;
the bounds are the ones README "Health checks" implies, plus MARGIN for slow CI:

  withdrawn within fall * interval + timeout + interval
  restored within  rise * interval + interval
"""

import http.server
import random
import re
import socket
import threading
import time

import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from check_backends import TcpBackend
from conftest import HOST, Srvd, query, wait_until, write_registry

ZONE = "svc.test."
# The timeout is as long as the interval allows: a Python backend on a loaded machine can
# take over 100 ms to answer, and a probe timing out where the test expects a status or a
# pass (a 503 seen as a timeout, a healthy backend withdrawn) fails it for nothing.
INTERVAL, TIMEOUT, RISE, FALL = 0.2, 0.2, 2, 2
MARGIN = 1.0
WITHDRAW_BOUND = FALL * INTERVAL + TIMEOUT + INTERVAL + MARGIN
RESTORE_BOUND = RISE * INTERVAL + INTERVAL + MARGIN
CHECK = "interval: 200ms, timeout: 200ms, rise: 2, fall: 2"


# --- backends ------------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        srv = self.server
        srv.requests += 1
        srv.paths.append(self.path)
        if srv.mode == "hang":
            srv.release.wait(10)  # never answers within any check timeout
            return
        body = b"ok\n" if srv.mode == 200 else b"down\n"
        self.send_response(srv.mode)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


class HttpBackend:
    """A threaded HTTP server on addr:port. mode: 200, 503 or "hang" (accepts,
    reads the request, never answers). stop()/start() close and reopen the port."""

    def __init__(self, addr=HOST, port=0, mode=200):
        self.addr, self.port, self.mode = addr, port, mode
        self.httpd = None
        self.release = threading.Event()

    def start(self):
        httpd = http.server.ThreadingHTTPServer((self.addr, self.port), _Handler)
        httpd.daemon_threads = True
        httpd.mode, httpd.requests, httpd.paths, httpd.release = self.mode, 0, [], self.release
        self.httpd, self.port = httpd, httpd.server_address[1]
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def set_mode(self, mode):
        self.mode = mode
        if self.httpd:
            self.httpd.mode = mode

    @property
    def requests(self):
        return self.httpd.requests if self.httpd else 0

    def stop(self):
        if self.httpd is None:
            return
        self.httpd.shutdown()
        self.httpd.server_close()
        self.httpd = None

    def close(self):
        self.release.set()
        self.stop()


DEV_PORTS = (5353, 8053, 8080, 8081)


def closed_ports(n, addr=HOST):
    """n distinct TCP ports of addr that nothing listens on (each bound once by us to
    be sure, then closed). They lie outside the ephemeral range: a probe to a port in
    it can get that very port as its source and connect to itself (TCP simultaneous
    open), which would look like a listener."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        lo, hi = map(int, f.read().split())
    # nor the ports `./dev serve` and its demo backends use, should one start meanwhile
    pool = [p for p in range(1024, 65536) if (p < lo or p > hi) and p not in DEV_PORTS]
    random.shuffle(pool)
    ports = []
    for p in pool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((addr, p))
            except OSError:
                continue
        ports.append(p)
        if len(ports) == n:
            return ports
    pytest.fail("fewer than %d free ports outside the ephemeral range %d-%d" % (n, lo, hi))


@pytest.fixture
def backends():
    """Creates backends on demand and always stops them."""
    made = []

    def make(kind, **kw):
        b = (TcpBackend if kind == "tcp" else HttpBackend)(**kw).start()
        made.append(b)
        return b

    yield make
    for b in made:
        if isinstance(b, HttpBackend):
            b.close()
        else:
            b.stop()


# --- DNS helpers ---------------------------------------------------------------------------


def addrs(d, name, rdtype="A"):
    r = query(d, name, rdtype)
    assert r.rcode() == dns.rcode.NOERROR, str(r)
    return sorted(rr.address for rrset in r.answer for rr in rrset)


def srv_targets(d, name):
    r = query(d, name, "SRV")
    assert r.rcode() == dns.rcode.NOERROR, str(r)
    return sorted(str(rr.target) for rrset in r.answer for rr in rrset
                  if rrset.rdtype == dns.rdatatype.SRV)


def txt(d, name):
    """The character-strings of the one TXT record at name, decoded."""
    r = query(d, name, "TXT")
    assert r.rcode() == dns.rcode.NOERROR, str(r)
    assert len(r.answer) == 1 and len(r.answer[0]) == 1, str(r)
    assert r.answer[0].ttl == 0
    return [s.decode() for s in r.answer[0][0].strings]


def txt_fields(d, name):
    """An instance's _health TXT as a dict: {"status": "failing", ...}."""
    return dict(s.split("=", 1) for s in txt(d, name))


def serial(d):
    r = query(d, ZONE, "SOA")
    return r.answer[0][0].serial


def instance(name, addr, port):
    return "      - {name: %s, address: %s, port: %d}\n" % (name, addr, port)


def registry(services):
    """Registry text: services is a list of (name, check text, [(inst, addr, port)])."""
    out = "server: {zone: %s}\nservices:\n" % ZONE
    for name, check, insts in services:
        out += "  %s:\n    port: 80\n    check: {%s}\n    instances:\n" % (name, check)
        for inst in insts:
            out += instance(*inst)
    return out


# --- tests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["tcp", "http"])
def test_stopped_backend_leaves_and_returns(srvd_factory, backends, kind):
    b1 = backends(kind, addr="127.0.0.1")
    b2 = backends(kind, addr="127.0.0.2")
    check = "type: %s, %s" % (kind, CHECK) + (", path: /healthz" if kind == "http" else "")
    d = srvd_factory(registry([("web", check, [("web-1", "127.0.0.1", b1.port),
                                               ("web-2", "127.0.0.2", b2.port)])]), ZONE)
    both = ["web-1.web.svc.test.", "web-2.web.svc.test."]
    wait_until(lambda: addrs(d, "web." + ZONE) == ["127.0.0.1", "127.0.0.2"], RESTORE_BOUND,
               "both instances served", d)
    assert srv_targets(d, "web." + ZONE) == both
    assert srv_targets(d, "_web._tcp." + ZONE) == both
    if kind == "http":
        assert b1.httpd.paths and set(b1.httpd.paths) == {"/healthz"}

    b1.stop()
    wait_until(lambda: addrs(d, "web." + ZONE) == ["127.0.0.2"] and
               srv_targets(d, "web." + ZONE) == both[1:] and
               srv_targets(d, "_web._tcp." + ZONE) == both[1:],
               WITHDRAW_BOUND, "stopped backend withdrawn from A and SRV", d)
    f = txt_fields(d, "_health.web-1.web." + ZONE)
    assert f["status"] == "failing" and f["served"] == "no", f
    assert "Connection refused" in f["last"], f
    # the whole server at a glance, as the checker counts it
    z = txt_fields(d, "_health." + ZONE)
    assert (z["services"], z["instances"], z["passing"], z["failing"], z["ready"]) == \
        ("1", "2", "1", "1", "yes"), z
    assert int(z["serial"]) == serial(d), z
    assert int(f["failures"]) >= FALL and f["successes"] == "0", f
    # the instance name still answers, so SRV targets of caches still resolve
    assert addrs(d, "web-1.web." + ZONE) == ["127.0.0.1"]
    d.wait_log(r"web/web-1: passing -> failing: .*Connection refused")

    b1.start()
    wait_until(lambda: addrs(d, "web." + ZONE) == ["127.0.0.1", "127.0.0.2"] and
               srv_targets(d, "_web._tcp." + ZONE) == both,
               RESTORE_BOUND, "restarted backend back in answers", d)
    f = txt_fields(d, "_health.web-1.web." + ZONE)
    assert f["status"] == "passing" and f["served"] == "yes", f
    assert int(f["successes"]) >= RISE and f["failures"] == "0", f
    d.wait_log(r"web/web-1: failing -> passing")


def test_http_503_withdraws_and_200_restores(srvd_factory, backends):
    b = backends("http", addr="127.0.0.1")
    other = backends("http", addr="127.0.0.3")
    d = srvd_factory(registry([("web", "type: http, " + CHECK,
                                [("web-1", "127.0.0.1", b.port),
                                 ("web-3", "127.0.0.3", other.port)])]), ZONE)
    wait_until(lambda: addrs(d, "web." + ZONE) == ["127.0.0.1", "127.0.0.3"], RESTORE_BOUND,
               "served", d)
    before = serial(d)
    assert txt(d, "_health.web." + ZONE)[:3] == ["passing=2/2", "panic=no",
                                                "policy=round-robin"]

    b.set_mode(503)
    wait_until(lambda: addrs(d, "web." + ZONE) == ["127.0.0.3"], WITHDRAW_BOUND,
               "503 withdrawn", d)
    f = txt_fields(d, "_health.web-1.web." + ZONE)
    assert f["last"] == "http: status 503", f
    assert f["status"] == "failing" and f["served"] == "no", f
    assert f["check"] == "http interval=200ms timeout=200ms rise=2 fall=2", f
    assert re.fullmatch(r"\d+s", f["since"]) and int(f["since"][:-1]) <= 2, f
    assert txt(d, "_health.web." + ZONE) == ["passing=1/2", "panic=no", "policy=round-robin",
                                             "web-1=failing", "web-3=passing"]
    d.wait_log(r"web/web-1: passing -> failing: http: status 503")
    # the served set changed: the SOA serial went up (RFC 1982, no wrap here)
    after = serial(d)
    assert after > before, (before, after)
    r = query(d, "nope." + ZONE, "A")
    assert r.authority[0][0].serial >= after

    b.set_mode(200)
    wait_until(lambda: addrs(d, "web." + ZONE) == ["127.0.0.1", "127.0.0.3"], RESTORE_BOUND,
               "200 restored", d)
    assert serial(d) > after
    f = txt_fields(d, "_health.web-1.web." + ZONE)
    assert f["last"] == "http: status 200" and f["status"] == "passing", f


def test_http_never_answers_is_failed_by_timeout(srvd_factory, backends):
    b = backends("http", addr="127.0.0.1")
    d = srvd_factory(registry([("web", "type: http, " + CHECK, [("web-1", "127.0.0.1", b.port)])]),
                     ZONE)
    wait_until(lambda: addrs(d, "web." + ZONE) == ["127.0.0.1"], RESTORE_BOUND, "served", d)
    b.set_mode("hang")
    took = wait_until(lambda: addrs(d, "web." + ZONE) == [], WITHDRAW_BOUND,
                      "hanging backend withdrawn", d)
    # the connection is accepted, so only the timeout can have failed it
    assert took >= TIMEOUT
    f = txt_fields(d, "_health.web-1.web." + ZONE)
    assert "timeout" in f["last"], f
    assert f["status"] == "failing", f
    # NODATA, not stale addresses
    r = query(d, "web." + ZONE, "A")
    assert r.rcode() == dns.rcode.NOERROR and not r.answer and r.authority
    b.set_mode(200)
    wait_until(lambda: addrs(d, "web." + ZONE) == ["127.0.0.1"], RESTORE_BOUND + TIMEOUT,
               "answering again", d)


def test_never_passed_is_never_served(srvd_factory, backends):
    (port,) = closed_ports(1)
    live = backends("tcp", addr="127.0.0.2")
    d = srvd_factory(registry([("web", "type: tcp, " + CHECK,
                                [("web-1", "127.0.0.1", port), ("web-2", "127.0.0.2", live.port)]),
                               ("dead", "type: http, " + CHECK,
                                [("dead-1", "127.0.0.1", port)])]), ZONE)
    # _ready answered: the first round ran; from then on for 1 s, never served
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        assert addrs(d, "web." + ZONE) in ([], ["127.0.0.2"])
        assert srv_targets(d, "_web._tcp." + ZONE) in ([], ["web-2.web.svc.test."])
        assert addrs(d, "dead." + ZONE) == []
        time.sleep(0.05)
    assert addrs(d, "web." + ZONE) == ["127.0.0.2"]
    # a service with no passing instance: NODATA with the SOA, for every type
    for rdtype in ("A", "AAAA", "SRV"):
        r = query(d, "dead." + ZONE, rdtype)
        assert r.rcode() == dns.rcode.NOERROR and not r.answer, str(r)
        assert r.authority[0].rdtype == dns.rdatatype.SOA
    r = query(d, "_dead._tcp." + ZONE, "SRV")
    assert r.rcode() == dns.rcode.NOERROR and not r.answer
    # its instance name still answers A
    assert addrs(d, "dead-1.dead." + ZONE) == ["127.0.0.1"]
    f = txt_fields(d, "_health.web-1.web." + ZONE)
    assert f["served"] == "no" and f["successes"] == "0", f
    assert "Connection refused" in f["last"], f
    assert int(f["failures"]) >= 2, f
    assert txt(d, "_health.dead." + ZONE) == ["passing=0/1", "panic=no", "policy=round-robin",
                                              "dead-1=failing"]


def test_ready_after_first_round(tmp_path, backends):
    """_ready is dropped until every checked instance has a first result. A hanging
    HTTP backend with a long interval and timeout makes that first result late."""
    slow = backends("http", addr="127.0.0.1", mode="hang")
    fast = backends("tcp", addr="127.0.0.2")
    path = write_registry(str(tmp_path), registry([
        ("slow", "type: http, interval: 3s, timeout: 1500ms, rise: 2, fall: 2",
         [("s1", "127.0.0.1", slow.port)]),
        ("web", "type: tcp, interval: 3s, timeout: 1s, rise: 2, fall: 2",
         [("web-1", "127.0.0.2", fast.port)])]))
    d = Srvd(path, None).start()  # zone None: do not wait for _ready
    try:
        started = time.monotonic()
        q = dns.message.make_query("_ready." + ZONE, "A")
        # the slow check cannot have a result before its 1.5 s timeout
        with pytest.raises(dns.exception.Timeout):
            dns.query.udp(q, d.host, port=d.port, timeout=0.5)
        assert time.monotonic() - started < 1.5, "the probe above came too late to mean much"
        answered = None
        while time.monotonic() - started < 3 + 1.5 + 2 * MARGIN:
            try:
                r = dns.query.udp(q, d.host, port=d.port, timeout=0.2)
                answered = r
                break
            except dns.exception.Timeout:
                pass
        assert answered is not None, "_ready never answered:\n" + d.stderr_text()
        assert [rr.address for rr in answered.answer[0]] == ["127.0.0.1"]
        assert time.monotonic() - started >= 1.5 - 0.1
        # by then every instance has its first result: the passing one is served
        assert addrs(d, "web." + ZONE) == ["127.0.0.2"]
        assert addrs(d, "slow." + ZONE) == []
        assert "timeout" in txt_fields(d, "_health.s1.slow." + ZONE)["last"]
    finally:
        d.stop()


def test_2000_unreachable_instances_and_queries(srvd_factory, backends):
    n = 2000
    ports = closed_ports(n)
    live = backends("tcp", addr="127.0.0.2")
    insts = [("d%d" % i, "127.0.0.1", p) for i, p in enumerate(ports)]
    d = srvd_factory(registry([
        ("dead", "type: tcp, interval: 1s, timeout: 500ms, rise: 2, fall: 2", insts),
        ("web", "type: tcp, interval: 1s, timeout: 500ms, rise: 2, fall: 2",
         [("web-1", "127.0.0.2", live.port)])]), ZONE)
    wait_until(lambda: addrs(d, "web." + ZONE) == ["127.0.0.2"], 3, "web served", d)

    qs = [("web." + ZONE, "A"), ("dead." + ZONE, "A"), ("_health.dead." + ZONE, "TXT"),
          ("_dead._tcp." + ZONE, "SRV")]
    sent = timeouts = 0
    slowest = 0.0
    rng = random.Random(7)
    # 2000 queries, over at least 5 s (five rounds of probes). How fast one Python
    # thread sends them on a loaded machine says nothing about srvd: the deadline
    # only stops a hung test; the latency of each answer is what is checked.
    start = time.monotonic()
    end = start + 5
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(1.0)
        while time.monotonic() < end or sent < 2000:
            assert time.monotonic() - start < 60, "only %d queries in 60 s" % sent
            name, rdtype = qs[sent % len(qs)] if sent % 5 else (
                "_health.d%d.dead.%s" % (rng.randrange(n), ZONE), "TXT")
            q = dns.message.make_query(name, rdtype)
            t0 = time.monotonic()
            s.sendto(q.to_wire(), (d.host, d.port))
            sent += 1
            while True:
                try:
                    data = s.recv(65535)
                except socket.timeout:
                    timeouts += 1
                    break
                r = dns.message.from_wire(data)
                if r.id != q.id:
                    continue  # a late answer to an earlier query
                slowest = max(slowest, time.monotonic() - t0)
                assert r.rcode() == dns.rcode.NOERROR, str(r)
                if name == "web." + ZONE:
                    assert [rr.address for rr in r.answer[0]] == ["127.0.0.2"]
                elif name.startswith("dead.") or name.startswith("_dead."):
                    assert not r.answer, "a never-passing instance was served"
                break
    assert timeouts == 0, "%d of %d queries timed out" % (timeouts, sent)
    assert slowest < 0.5, "slowest answer %.3f s" % slowest
    # the checker really probed them: failures keep counting on a sample
    for i in random.Random(11).sample(range(n), 20):
        f = txt_fields(d, "_health.d%d.dead.%s" % (i, ZONE))
        assert int(f["failures"]) >= 2, (i, f)
        assert "Connection refused" in f["last"], (i, f)
    summary = txt(d, "_health.dead." + ZONE)
    assert summary[0] == "passing=0/%d" % n
    assert summary[-1].startswith("more="), summary[-1]
