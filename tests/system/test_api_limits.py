# SPDX-License-Identifier: BSD-3-Clause
# test_api_limits.py: the control API's HTTP server against hostile and odd clients.
"""The control API (api/http.c) is bounded: connections in all and per client
address, a hard deadline for a request head that trickling cannot extend, the
token checked from the head before any body is read, a budget for bodies
being read at once. DNS over UDP and TCP must keep answering whatever the
API's clients do. The attacks are those of the hardening audit, scaled to a
daemon started with RLIMIT_NOFILE 1024 (so at most 128 API connections, 32
from one address; README, "Limits")."""

import os
import resource
import signal
import socket
import threading
import time

import dns.message
import dns.query

from api_helpers import attach_api, registry_text
from conftest import HOST, Srvd, sanitized, tcp_read_msg, write_registry

ZONE = "svc.test."
TOKEN = "t0ken"
NOFILE = 1024
MAX_CONNS = NOFILE // 8
PER_IP = 32
HEAD_S = 10.0
SERVICES = ("  web:\n    port: 80\n    check: {type: none}\n"
            "    instances: [{name: w1, address: 192.0.2.1}]\n")


def raise_own_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 8192)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def start(tmp_path, token=TOKEN):
    os.makedirs(os.path.join(str(tmp_path), "services.d"), exist_ok=True)
    path = write_registry(str(tmp_path), registry_text(SERVICES, token=token))
    return attach_api(Srvd(path, ZONE, nofile=NOFILE).start())


def connect(d, source="127.0.0.1", timeout=5):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect((HOST, d.api_port))
    return s


def read_response(s, timeout=5):
    """Reads one whole HTTP response (head and Content-Length body) from s;
    returns (status, headers dict with lowercase names, body bytes)."""
    s.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        assert chunk, "connection closed after %r" % data
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        hdrs[k.strip().lower()] = v.strip()
    n = int(hdrs.get("content-length", "0"))
    while len(rest) < n:
        chunk = s.recv(65536)
        assert chunk, "connection closed mid-body"
        rest += chunk
    return status, hdrs, rest[:n], rest[n:]


def closed_by_peer(s, timeout):
    """True if the peer closes s (EOF or reset) within timeout seconds."""
    s.settimeout(timeout)
    try:
        while s.recv(4096):
            pass
        return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def dns_ok(d):
    """One query over UDP and one over a new TCP connection answer."""
    q = dns.message.make_query("web." + ZONE, "A")
    r = dns.query.udp(q, HOST, port=d.port, timeout=2)
    assert [rr.address for rr in r.answer[0]] == ["192.0.2.1"]
    r = dns.query.tcp(q, HOST, port=d.port, timeout=2)
    assert [rr.address for rr in r.answer[0]] == ["192.0.2.1"]
    return True


def fd_count(d):
    return len(os.listdir("/proc/%d/fd" % d.proc.pid))


def rss_kb(d):
    with open("/proc/%d/status" % d.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_many_trickling_clients_leave_descriptors_for_dns(tmp_path):
    """1,100 connections from two addresses, each sending one byte of a request
    head: today's limit (32 per address) holds 64 of them; the rest get 503 at
    once. srvd keeps descriptors for DNS over TCP and for a reload."""
    raise_own_nofile()
    d = start(tmp_path)
    held = []
    try:
        for i in range(1100):
            try:
                s = connect(d, "127.0.0.%d" % (2 + i % 2), timeout=1)
                s.sendall(b"G")
                held.append(s)
            except OSError:
                pass  # refused or reset: the point is srvd's side
        assert fd_count(d) < NOFILE // 2, "srvd holds %d descriptors" % fd_count(d)
        open_ones = [s for s in held if not closed_by_peer(s, 0.01)]
        assert len(open_ones) <= 2 * PER_IP, "%d connections held" % len(open_ones)
        assert dns_ok(d)
        # a reload needs descriptors too
        d.proc.send_signal(signal.SIGHUP)
        d.wait_log(r"reload \(SIGHUP\): nothing that alters an answer changed")
        assert "Too many open files" not in d.stderr_text()
        # a client from another address still gets the API
        c = connect(d, "127.0.0.9")
        c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(c)[0] == 200
        c.close()
        d.stop()
    finally:
        for s in held:
            s.close()


def test_head_deadline_cannot_be_extended_by_trickling(tmp_path):
    """One byte a second keeps evhttp's idle timeout from ever firing; the head
    deadline is counted from the accept, whatever arrives."""
    d = start(tmp_path)
    try:
        s = connect(d)
        s.sendall(b"GET /healthz HTTP/1.1\r\n")
        t0 = time.monotonic()
        closed = False
        while time.monotonic() - t0 < HEAD_S + 8:
            try:
                s.sendall(b"X")
            except OSError:
                closed = True
                break
            if closed_by_peer(s, 1.0):
                closed = True
                break
        elapsed = time.monotonic() - t0
        assert closed, "a trickling head was still open after %.0f s" % elapsed
        assert elapsed >= HEAD_S - 1, "closed after %.1f s, before the deadline" % elapsed
        assert dns_ok(d)
        d.stop()
    finally:
        s.close()


def test_token_is_checked_before_the_body_is_read(tmp_path):
    """A PUT announcing 1 MiB without a valid token is refused from its head:
    the answer comes while the client has sent none of the body."""
    d = start(tmp_path)
    for auth in (b"", b"Authorization: Bearer wrong\r\n"):
        s = connect(d)
        s.sendall(b"PUT /v1/services/web HTTP/1.1\r\nHost: x\r\n" + auth +
                  b"Content-Type: application/json\r\nContent-Length: 1048576\r\n\r\n")
        status, hdrs, _, _ = read_response(s, timeout=5)
        assert status == 401 and hdrs["www-authenticate"].startswith("Bearer")
        assert hdrs.get("connection") == "close"
        s.close()
    # unknown path and wrong method: answered from the head as well
    s = connect(d)
    s.sendall(b"PUT /v1/nothing HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n")
    assert read_response(s)[0] == 404
    s.close()
    s = connect(d)
    s.sendall(b"POST /v1/services/web HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n")
    status, hdrs, _, _ = read_response(s)
    assert status == 405 and hdrs["allow"] == "GET, HEAD, PUT, DELETE"
    s.close()
    assert not os.path.exists(os.path.join(str(tmp_path), "services.d", "web.yaml"))
    d.stop()


def test_unauthenticated_bodies_are_not_buffered(tmp_path):
    """100 clients each send a whole 1 MiB body without the token: srvd answers
    401 and drains them, so its memory does not grow by 100 MiB."""
    d = start(tmp_path)
    body = b"{" + b" " * (1024 * 1024 - 2) + b"}"
    socks = []
    try:
        before = rss_kb(d)
        for i in range(100):
            s = connect(d, "127.0.0.%d" % (20 + i % 5), timeout=10)
            s.sendall(b"PUT /v1/services/web HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body) + body)
            socks.append(s)
        grown = (rss_kb(d) - before) / 1024.0
        for s in socks:
            assert read_response(s)[0] == 401
        if not sanitized():  # ASan's quarantine keeps the freed read buffers
            assert grown < 20, "srvd grew by %.0f MB for 100 refused bodies" % grown
        assert dns_ok(d)
        d.stop()
    finally:
        for s in socks:
            s.close()


def test_body_budget_bounds_uploads_in_flight(tmp_path):
    """Authorised uploads that stall mid-body hold their bytes; past 16 MiB in
    all the next one is told to come back (503) instead of being buffered."""
    d = start(tmp_path)
    socks = []
    try:
        for i in range(16):
            s = connect(d, "127.0.0.%d" % (30 + i % 4))
            s.sendall(b"PUT /v1/services/web HTTP/1.1\r\nAuthorization: Bearer t0ken\r\n"
                      b"Content-Length: 1048576\r\n\r\n{")
            socks.append(s)
        time.sleep(0.3)  # let srvd read every head
        s = connect(d, "127.0.0.40")
        s.sendall(b"PUT /v1/services/web HTTP/1.1\r\nAuthorization: Bearer t0ken\r\n"
                  b"Content-Length: 1048576\r\n\r\n{")
        status, hdrs, _, _ = read_response(s)
        assert status == 503 and hdrs["retry-after"] == "1"
        s.close()
        # reading and small requests are not held up by them
        c = connect(d, "127.0.0.41")
        c.sendall(b"GET /v1/services/web HTTP/1.1\r\n\r\n")
        assert read_response(c)[0] == 200
        c.close()
        d.stop()
    finally:
        for s in socks:
            s.close()


def test_waiting_requests_do_not_hold_the_body_budget(tmp_path):
    """16 blocking GETs that each came with a 1 MiB body (no token needed to
    read): while they wait, the body budget is free for writes."""
    d = start(tmp_path)
    socks = []
    body = b"x" * (1024 * 1024)
    try:
        s = connect(d, "127.0.0.60")
        s.sendall(b"GET /v1/services HTTP/1.1\r\n\r\n")
        index = read_response(s)[1]["x-srvd-index"]
        s.close()
        for i in range(16):
            s = connect(d, "127.0.0.%d" % (61 + i % 4))
            s.sendall(b"GET /v1/services?index=%s&wait=60s HTTP/1.1\r\n"
                      b"Content-Length: %d\r\n\r\n" % (index.encode(), len(body)) + body)
            socks.append(s)
        time.sleep(0.5)  # let srvd read them and park them
        c = connect(d, "127.0.0.70")
        c.sendall(b"PUT /v1/services/web HTTP/1.1\r\nAuthorization: Bearer t0ken\r\n"
                  b"Content-Length: 2\r\n\r\n{}")
        status = read_response(c, timeout=10)[0]
        assert status != 503, "a write was refused while GETs waited with bodies"
        c.close()
    finally:
        for s in socks:
            s.close()
        d.stop()


def test_per_address_limit_leaves_room_for_others(tmp_path):
    """33 idle connections from one address: the 33rd is refused with 503; a
    client from another address is served."""
    d = start(tmp_path)
    held = []
    try:
        for _ in range(PER_IP):
            held.append(connect(d, "127.0.0.50"))
        s = connect(d, "127.0.0.50")
        status, _, _, _ = read_response(s)
        assert status == 503
        s.close()
        c = connect(d, "127.0.0.51")
        c.sendall(b"GET /metrics HTTP/1.1\r\n\r\n")
        status, _, body, _ = read_response(c)
        assert status == 200
        assert b'srvd_api_refused_total{reason="limit"} 1\n' in body
        assert b'srvd_api_connections{state="active"} %d\n' % (PER_IP + 1) in body
        c.close()
        d.stop()
    finally:
        for s in held:
            s.close()


def test_http_keep_alive_pipelining_head_and_expect(tmp_path):
    """What curl, Python and browsers rely on: keep-alive, pipelined requests
    answered in order, HEAD without a body, Expect: 100-continue, and a clear
    411 for a chunked body."""
    d = start(tmp_path, token=None)
    s = connect(d)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
              b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
              b"GET /v1/services/nothing HTTP/1.1\r\nHost: x\r\n\r\n")
    s.settimeout(5)
    data = b""
    while data.count(b"HTTP/1.1 ") < 3 or not data.endswith(b"}\n"):
        chunk = s.recv(65536)
        assert chunk, data
        data += chunk
    parts = data.split(b"HTTP/1.1 ")[1:]
    assert parts[0].startswith(b"200") and parts[0].endswith(b"\r\n\r\nok\n")
    assert parts[1].startswith(b"200") and b"Content-Length: 3\r\n" in parts[1]
    assert parts[1].endswith(b"\r\n\r\n")
    assert parts[2].startswith(b"404")
    s.close()

    s = connect(d)
    body = b'{"port": 80, "check": {"type": "none"}, ' \
           b'"instances": [{"name": "w2", "address": "192.0.2.2"}]}'
    s.sendall(b"PUT /v1/services/api HTTP/1.1\r\nExpect: 100-continue\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body))
    s.settimeout(5)
    interim = s.recv(64)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    s.sendall(body)
    assert read_response(s)[0] == 201
    s.close()

    s = connect(d)
    s.sendall(b"PUT /v1/services/api HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"2\r\n{}\r\n0\r\n\r\n")
    assert read_response(s)[0] == 411
    s.close()
    # HTTP/1.0 without keep-alive: closed after the answer
    s = connect(d)
    s.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
    assert read_response(s)[0] == 200
    assert closed_by_peer(s, 3)
    s.close()
    d.stop()


def test_garbage_heads_get_400_and_dns_goes_on(tmp_path):
    d = start(tmp_path)
    cases = [
        (b"\x00\x01\x02\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"GET http://x/ HTTP/1.1\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\n folded\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\nNoColon\r\n\r\n", 400),
        (b"PUT /v1/services/x HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
        (b"PUT /v1/services/x HTTP/1.1\r\nContent-Length: 5\r\n"
         b"Content-Length: 6\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\nX-Long: " + b"a" * 20000 + b"\r\n\r\n", 431),
        (b"GET /healthz HTTP/1.1\r\nExpect: magic\r\n\r\n", 417),
    ]
    for raw, want in cases:
        s = connect(d)
        try:
            s.sendall(raw)
        except OSError:
            pass
        assert read_response(s)[0] == want, raw[:40]
        s.close()
    assert dns_ok(d)
    d.stop()


def test_dns_over_tcp_answers_while_clients_churn_the_api(tmp_path):
    """Four threads connect, send half a head and leave, over and over, while
    DNS is queried over one TCP connection the whole time."""
    raise_own_nofile()
    d = start(tmp_path)
    stop = threading.Event()
    errors = []

    def hammer():
        while not stop.is_set():
            try:
                s = connect(d, "127.0.0.60", timeout=2)
                s.sendall(b"GET /v1/ser")
                time.sleep(0.05)
                s.close()
            except OSError:
                pass

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        q = dns.message.make_query("web." + ZONE, "A")
        with socket.create_connection((HOST, d.port), timeout=2) as tcp:
            for _ in range(50):
                wire = q.to_wire()
                tcp.sendall(len(wire).to_bytes(2, "big") + wire)
                r = dns.message.from_wire(tcp_read_msg(tcp))
                if [rr.address for rr in r.answer[0]] != ["192.0.2.1"]:
                    errors.append(r)
                time.sleep(0.02)
        assert not errors
    finally:
        stop.set()
        for t in threads:
            t.join()
    d.stop()
