# SPDX-License-Identifier: BSD-3-Clause
# test_tcp_forward_bound.py: forwarded answers over TCP obey the per-connection output bound.
"""A client that pipelines forwarded queries over TCP and never reads.

The upstream (Python, on 127.0.0.1) answers every UDP query truncated and every TCP
query with about 60 KB (3,700 A records), so srvd relays each answer over its own
upstream TCP connection. Three client connections pipeline 1,000 queries each and
read nothing. srvd must bound what it holds for them: at most DNS_TCP_FWD_PENDING
(16) forwarded queries per connection in flight, and no further query taken while
more than 128 KiB of answers wait unsent, as for its own answers. Before that bound
srvd grew by about 37 MB here; the test allows 10 MB. Once the clients read, every
answer arrives whole, in a valid frame, one per query.
"""

import asyncio
import socket
import struct
import threading
import time

import dns.message
import dns.rcode
import pytest

from conftest import HOST, SLOW, Srvd, sanitized, write_registry

CONNS = 3
PER_CONN = 1000
N_A = 3700  # 16 bytes each: a 59 KB answer
RSS_BOUND_KB = 10 * 1024
DELAY = 1.0  # upstream TCP latency; srvd reads the whole pipeline meanwhile


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def question_end(wire):
    p = 12
    while wire[p]:
        p += wire[p] + 1
    return p + 5


class BigUpstream:
    """UDP: a TC=1 answer to every query (a thread with a large receive buffer, so a burst
    of queries is not dropped); TCP: N_A A records to every query, DELAY seconds later
    (an asyncio loop in a thread; delay can be changed). Counts the TCP answers."""

    RRS = b"".join(struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) +
                   bytes([198, 18, i >> 8, i & 0xFF]) for i in range(N_A))

    def __init__(self):
        self.tcp_answered = 0
        self.last_tcp = 0.0
        self.delay = DELAY
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.loop = asyncio.new_event_loop()
        self.port = None
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        assert ready.wait(5), "upstream did not start"
        self.udp.bind((HOST, self.port))
        self.udp_thread = threading.Thread(target=self._udp, daemon=True)
        self.udp_thread.start()

    @classmethod
    def answer(cls, query, tc):
        qend = question_end(query)
        flags = 0x8000 | (query[2] & 0x01) << 8 | (0x0200 if tc else 0)
        head = query[:2] + struct.pack("!HHHHH", flags, 1, 0 if tc else N_A, 0, 0)
        return head + query[12:qend] + (b"" if tc else cls.RRS)

    def _udp(self):
        while True:
            try:
                data, peer = self.udp.recvfrom(65535)
            except OSError:
                return
            if len(data) >= 12:
                self.udp.sendto(self.answer(data, True), peer)

    def _run(self, ready):
        asyncio.set_event_loop(self.loop)
        up = self

        async def serve(reader, writer):
            try:
                while True:
                    (n,) = struct.unpack("!H", await reader.readexactly(2))
                    q = await reader.readexactly(n)
                    # an upstream's latency: srvd reads the pipelined queries meanwhile
                    await asyncio.sleep(up.delay)
                    a = up.answer(q, False)
                    writer.write(struct.pack("!H", len(a)) + a)
                    await writer.drain()
                    up.tcp_answered += 1
                    up.last_tcp = time.monotonic()
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        async def start():
            srv = await asyncio.start_server(serve, HOST, 0, backlog=4096)
            self.port = srv.sockets[0].getsockname()[1]

        self.loop.run_until_complete(start())
        ready.set()
        self.loop.run_forever()

    def close(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.udp.close()


@pytest.fixture
def upstream():
    u = BigUpstream()
    yield u
    u.close()


def registry(up_port):
    return """server:
  zone: svc.test
  forward: ["127.0.0.1:%d"]
  forward_timeout: 5s
services:
  web:
    port: 80
    check: {type: none}
    instances:
      - {name: w1, address: 192.0.2.1}
""" % up_port


def frame(wire):
    return struct.pack("!H", len(wire)) + wire


def recv_exact(f, n):
    data = f.read(n)
    assert len(data) == n, "connection closed after %d of %d bytes" % (len(data), n)
    return data


def read_all(c, conn, ids, errors):
    """Reads PER_CONN answers from conn (and sends the queries srvd had not taken yet);
    checks each frame; appends what is wrong to errors."""
    s, rest, _ = conn
    got = set()
    try:
        s.setblocking(True)
        s.settimeout(10 * SLOW)
        writer = threading.Thread(target=s.sendall, args=(rest,), daemon=True)
        writer.start()
        f = s.makefile("rb", buffering=1 << 20)
        for k in range(PER_CONN):
            (n,) = struct.unpack("!H", recv_exact(f, 2))
            msg = recv_exact(f, n)
            qid, flags, qd, an = struct.unpack("!HHHH", msg[:8])
            assert flags & 0x8000 and flags & 0x0F == 0, "answer %d: flags %#x" % (k, flags)
            assert qd == 1 and an == N_A, "answer %d: %d questions, %d answers" % (k, qd, an)
            assert n == question_end(msg) + 16 * N_A, "answer %d: %d bytes" % (k, n)
            assert qid not in got, "answer %d: ID %d twice" % (k, qid)
            got.add(qid)
            if k % 250 == 0:
                r = dns.message.from_wire(msg)
                assert r.rcode() == dns.rcode.NOERROR and len(r.answer[0]) == N_A
                assert str(r.question[0].name) == "q%d-%d.other.example." % (c, qid - 1)
        writer.join(10)
        assert sorted(got) == ids
        f.close()
    except Exception as e:  # noqa: BLE001 (reported by the test's thread)
        errors.append("connection %d after %d answers: %r" % (c, len(got), e))
    finally:
        s.close()


def test_pipelined_forwarded_answers_bounded(tmp_path, upstream):
    d = Srvd(write_registry(str(tmp_path), registry(upstream.port)), "svc.test.").start()
    pid = d.proc.pid
    rss0 = rss_kb(pid)
    conns, sent = [], []
    for c in range(CONNS):
        s = socket.create_connection(d.addr, timeout=10)
        ids = []
        data = b""
        for i in range(PER_CONN):
            q = dns.message.make_query("q%d-%d.other.example." % (c, i), "A")
            q.id = i + 1
            ids.append(q.id)
            data += frame(q.to_wire())
        s.setblocking(False)
        conns.append([s, data, frame(q.to_wire())])
        sent.append(ids)
    # send the queries (paced: 50 per connection every 20 ms), read nothing; stop once
    # the upstream has answered and been quiet for 1.5 s
    peak = rss0
    t0 = time.monotonic()
    deadline = t0 + 8
    while time.monotonic() < deadline:
        for cd in conns:
            if cd[1]:
                try:
                    cd[1] = cd[1][cd[0].send(cd[1][:50 * len(cd[2])]):]
                except BlockingIOError:
                    pass
        peak = max(peak, rss_kb(pid))
        if time.monotonic() - max(t0 + DELAY, upstream.last_tcp) > 1.5:
            break
        time.sleep(0.02)
    peak = max(peak, rss_kb(pid))
    answered = upstream.tcp_answered
    print("\n%d x %d pipelined forwarded queries, 60 KB answers, unread: upstream answered "
          "%d over TCP; srvd RSS %d -> peak %d kB (+%d kB)" %
          (CONNS, PER_CONN, answered, rss0, peak, peak - rss0))
    if not sanitized():  # ASan's RSS holds shadow memory and its quarantine
        assert peak - rss0 < RSS_BOUND_KB, "srvd RSS grew by %d kB" % (peak - rss0)
    # now read, all connections at once (one left unread for 10 s would be closed as
    # idle): every query gets one whole answer in a valid frame, in any order
    upstream.delay = 0
    errors = []
    readers = [threading.Thread(target=read_all, args=(c, conn, sent[c], errors), daemon=True)
               for c, conn in enumerate(conns)]
    for t in readers:
        t.start()
    for t in readers:
        t.join(120 * SLOW)
    assert not any(t.is_alive() for t in readers), "answers still missing"
    assert not errors, errors
    assert d.alive()
    d.stop()
