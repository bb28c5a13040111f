# SPDX-License-Identifier: BSD-3-Clause
# test_tcp_abuse.py: idle, partial, too many and never-reading TCP clients against the real srvd.
"""TCP abuse (RFC 7766 6.2: idle timeout, a bound on connections, bounded buffers).

srvd's limits (dns/server.h, dns/tcp.c): a connection is closed 10 s after its
last complete query or drained answer (bytes of a partial message do not
count); at most 1024 connections (per worker: 1024 / workers), a new one
closing the least recently active; above 128 KiB of unsent answers srvd stops
reading the client until it reads.

The 10-s waits share one clock: the module fixture opens every idle and
partial connection at its start, the other tests run meanwhile, and the last
test collects the closes. A thread queries UDP during the whole module and
every answer is checked.
"""

import os
import resource
import select
import socket
import struct
import threading
import time

import dns.message
import dns.query
import dns.rcode
import pytest

from conftest import HOST, Srvd, copy_data, tcp_read_msg

WEB_A = ["127.0.0.11", "127.0.0.12", "192.0.2.14"]
IDLE_S = 10.0     # DNS_SERVER_TCP_IDLE_MS
TCP_MAX = 1024    # DNS_SERVER_TCP_MAX
EARLY_S = 9.0     # a close before this is not the idle timeout
LATE_S = 15.0     # slack for sanitizer builds and a loaded machine
RSS_BOUND_KB = 48 * 1024
PIPE_BYTES = 50 * 1024 * 1024


def web_query(qid):
    q = dns.message.make_query("web.svc.test.", "A")
    q.id = qid
    return q.to_wire()


def frame(wire):
    return struct.pack("!H", len(wire)) + wire


def check_web(resp, qid):
    r = dns.message.from_wire(resp)
    assert r.id == qid and r.rcode() == dns.rcode.NOERROR, str(r)
    assert [rd.address for rd in r.answer[0]] == WEB_A, str(r)


def connect(port):
    s = socket.create_connection((HOST, port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def tcp_ask(s, qid):
    s.sendall(frame(web_query(qid)))
    check_web(tcp_read_msg(s), qid)


def peer_closed(s):
    """True if the server has closed s (EOF or reset); never blocks."""
    p = select.poll()  # select() stops at descriptor 1023
    p.register(s, select.POLLIN)
    if not p.poll(0):
        return False
    try:
        return s.recv(65535, socket.MSG_PEEK) == b""
    except ConnectionError:
        return True


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def raise_nofile(need):
    """Raises the soft RLIMIT_NOFILE (the daemon started next inherits it) to need;
    returns the old limits, for restore_nofile()."""
    old = resource.getrlimit(resource.RLIMIT_NOFILE)
    soft, hard = old
    if soft != resource.RLIM_INFINITY and soft < need:
        assert hard == resource.RLIM_INFINITY or hard >= need, \
            "RLIMIT_NOFILE hard limit %d is below the %d needed" % (hard, need)
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    return old


def restore_nofile(old):
    resource.setrlimit(resource.RLIMIT_NOFILE, old)


class UdpProbe(threading.Thread):
    """Asks web.svc.test. A over UDP every 20 ms until stopped; records every failure."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.ok = 0
        self.failures = []
        self._halt = threading.Event()

    def run(self):
        qid = 0
        while not self._halt.is_set():
            qid = (qid + 1) & 0xFFFF
            q = dns.message.make_query("web.svc.test.", "A")
            q.id = qid
            try:
                r = dns.query.udp(q, HOST, port=self.port, timeout=2.0)
                assert r.rcode() == dns.rcode.NOERROR
                assert [rd.address for rd in r.answer[0]] == WEB_A
                self.ok += 1
            except Exception as e:  # noqa: BLE001 (a timeout or a wrong answer alike)
                self.failures.append("%.1f s: %r" % (time.monotonic(), e))
            self._halt.wait(0.02)

    def finish(self, min_ok):
        self._halt.set()
        self.join(5)
        assert not self.failures, "UDP failed during TCP abuse: %s" % self.failures[:5]
        assert self.ok >= min_ok, "only %d UDP answers" % self.ok


class Abuse:
    """The slow connections of one daemon: opened at t0, their closes timed by a thread."""

    def __init__(self, srv):
        self.srv = srv
        self.t0 = time.monotonic()
        self.conns = {}  # name -> (socket, start of its idle clock)
        self.closed = {}  # name -> seconds from its start to the server's close
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = []

    def open(self, name, first=b""):
        s = connect(self.srv.port)
        if first:
            s.sendall(first)
        with self.lock:
            self.conns[name] = (s, time.monotonic())
        return s

    def restart_clock(self, name):
        with self.lock:
            s, _ = self.conns[name]
            self.conns[name] = (s, time.monotonic())

    def spawn(self, fn):
        t = threading.Thread(target=fn, daemon=True)
        t.start()
        self.threads.append(t)

    def watch(self):
        while not self.stop.is_set():
            with self.lock:
                live = [(n, s, t) for n, (s, t) in self.conns.items() if n not in self.closed]
            if not live:
                return
            for name, s, start in live:
                if peer_closed(s):
                    with self.lock:
                        self.closed[name] = time.monotonic() - start
            time.sleep(0.05)

    def close_all(self):
        self.stop.set()
        for t in self.threads:
            t.join(5)
        for s, _ in self.conns.values():
            s.close()


@pytest.fixture(scope="module")
def abuse(answers_srvd):
    """Starts the UDP probe and every idle or partial connection at once."""
    probe = UdpProbe(answers_srvd.port)
    probe.start()
    a = Abuse(answers_srvd)
    a.probe = probe
    a.open("silent")
    a.open("length-only", b"\x00\x40")
    a.open("header-half", frame(web_query(7))[:8])
    a.open("query-minus-one-byte", frame(web_query(8))[:-1])
    a.open("announces-65535-sends-40000", b"\xff\xff" + b"\x00" * 40000)
    a.open("announces-65535-sends-65534", b"\xff\xff" + b"\x00" * 65534)
    trickle = a.open("one-byte-every-300ms", b"\x01")
    answered = a.open("answered-at-2s-then-idle")

    def trickler():
        # a 256-byte message, one byte at a time: 77 s to complete, so never whole
        # before the idle timeout, however busy it looks
        payload = b"\x00" + b"\x00" * 256
        for b in payload:
            if a.stop.wait(0.3):
                return
            try:
                trickle.sendall(bytes([b]))
            except OSError:
                return  # closed by the server: the watcher saw it

    def answer_later():
        if a.stop.wait(2.0):
            return
        tcp_ask(answered, 9)
        a.restart_clock("answered-at-2s-then-idle")

    a.spawn(trickler)
    a.spawn(answer_later)
    a.spawn(a.watch)
    yield a
    a.close_all()
    probe.finish(0)


def test_full_size_message_is_answered(abuse):
    """A whole 65535-byte message (a good question, then padding the counts do not
    cover) is read and answered; the connection stays usable."""
    q = web_query(4321)
    big = q + b"\x00" * (65535 - len(q))
    with connect(abuse.srv.port) as s:
        s.sendall(frame(big))
        r = dns.message.from_wire(tcp_read_msg(s))
        assert r.id == 4321 and r.flags & dns.flags.QR
        assert r.rcode() in (dns.rcode.NOERROR, dns.rcode.FORMERR)
        if r.rcode() == dns.rcode.NOERROR:
            assert [rd.address for rd in r.answer[0]] == WEB_A
        tcp_ask(s, 4322)


def srvd_sockets(pid):
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:"):
                n += 1
        except OSError:
            pass
    return n


def wait_for(cond, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def test_connection_limit_drops_least_recently_active(abuse, tmp_path_factory):
    """One worker, so its limit is the whole 1024: the 1025th connection closes the
    least recently active one, and every later one the next; never more than 1024."""
    extra = 100
    old_nofile = raise_nofile(TCP_MAX + extra + 256)
    folder = str(tmp_path_factory.mktemp("limit"))
    path = copy_data(folder, "answers.yaml", "answers.zone", "static-test.zone")
    srv = Srvd(path, "svc.test.", workers=1).start()
    probe = UdpProbe(srv.port)
    probe.start()
    conns, newer = [], []
    try:
        base = srvd_sockets(srv.proc.pid)
        for _ in range(TCP_MAX):
            conns.append(socket.create_connection((HOST, srv.port), timeout=5))
        # accepted in order: once the last one answers, srvd holds all of them
        tcp_ask(conns[-1], 1)
        assert not any(peer_closed(s) for s in conns), "closed below the limit"
        assert srvd_sockets(srv.proc.pid) == base + TCP_MAX
        # conns[0] is the oldest but becomes the most recently active
        tcp_ask(conns[0], 2)
        newer.append(socket.create_connection((HOST, srv.port), timeout=5))
        assert wait_for(lambda: peer_closed(conns[1]), 3), "oldest idle connection not dropped"
        assert not peer_closed(conns[0]), "the active connection was dropped, not the idle one"
        assert not any(peer_closed(s) for s in conns[2:]), "more than one connection dropped"
        for _ in range(extra):
            newer.append(socket.create_connection((HOST, srv.port), timeout=5))
        tcp_ask(newer[-1], 3)
        # exactly the next `extra` oldest went, in order; the newest all serve
        assert wait_for(lambda: all(peer_closed(s) for s in conns[1:2 + extra]), 3)
        time.sleep(0.2)
        closed = [k for k, s in enumerate(conns) if peer_closed(s)]
        assert closed == list(range(1, 2 + extra)), "dropped: %s" % closed[:20]
        assert not any(peer_closed(s) for s in newer)
        assert srvd_sockets(srv.proc.pid) <= base + TCP_MAX
        tcp_ask(conns[0], 4)
        tcp_ask(newer[0], 5)
        tcp_ask(conns[-1], 6)
        probe.finish(10)
    finally:
        for s in conns + newer:
            s.close()
        srv.stop()
        restore_nofile(old_nofile)


def test_unread_answers_are_bounded(abuse):
    """A client pipelines queries and never reads: srvd stops reading it (the writer
    stalls long before 50 MB) and its RSS stays bounded; once the client reads,
    every answer comes, in order."""
    pid = abuse.srv.proc.pid
    rss0 = rss_kb(pid)
    peak = rss0
    template = web_query(0)
    chunk_n = 2048
    sent_q = 0
    written = 0
    pending = b""
    with connect(abuse.srv.port) as s:
        s.setblocking(False)
        last_progress = time.monotonic()
        while written < PIPE_BYTES and time.monotonic() - last_progress < 1.5:
            if not pending:
                pending = b"".join(frame(struct.pack("!H", (sent_q + k) & 0xFFFF) + template[2:])
                                   for k in range(chunk_n))
                sent_q += chunk_n
            _, w, _ = select.select([], [s], [], 0.1)
            peak = max(peak, rss_kb(pid))
            if not w:
                continue
            try:
                n = s.send(pending)
            except BlockingIOError:
                continue
            pending = pending[n:]
            written += n
            last_progress = time.monotonic()
        stalled_at = written
        peak = max(peak, rss_kb(pid))
        print("\nunread pipeline: stalled after %.1f MB; srvd RSS %d -> peak %d kB" %
              (written / 1e6, rss0, peak))
        assert written < PIPE_BYTES, "srvd kept reading 50 MB from a client that never reads"
        assert peak - rss0 < RSS_BOUND_KB, "srvd RSS grew by %d kB" % (peak - rss0)
        # Now read: srvd resumes, and answers every whole query sent, in order. Queries
        # not yet sent out of `pending` are not counted.
        whole = written // len(frame(template))
        s.setblocking(True)
        s.settimeout(5)
        f = s.makefile("rb", buffering=1 << 20)
        for k in range(whole):
            (n,) = struct.unpack("!H", f.read(2))
            resp = f.read(n)
            assert len(resp) == n, "answer %d cut" % k
            assert struct.unpack("!H", resp[:2])[0] == k & 0xFFFF, "answer %d out of order" % k
            if k % 5000 == 0:
                check_web(resp, k & 0xFFFF)
        f.close()
    print("unread pipeline: %d answers read back after the stall at %d bytes" %
          (whole, stalled_at))
    assert abuse.srv.alive()


def test_idle_and_partial_connections_closed(abuse):
    """Every connection of the fixture is closed by the server, after the idle timeout
    and not before, counted from its last complete query."""
    names = sorted(abuse.conns)
    assert wait_for(lambda: len(abuse.closed) == len(names),
                    max(0.0, abuse.t0 + 2 + LATE_S - time.monotonic())), \
        "not closed by the server: %s (closed: %s)" % (
            sorted(set(names) - set(abuse.closed)), abuse.closed)
    print("\nclose times (s): " + ", ".join("%s %.2f" % (n, abuse.closed[n]) for n in names))
    for name in names:
        t = abuse.closed[name]
        assert EARLY_S <= t <= LATE_S, "%s closed after %.2f s" % (name, t)


def test_udp_answered_throughout(abuse):
    abuse.probe.finish(200)
    assert abuse.srv.alive()
