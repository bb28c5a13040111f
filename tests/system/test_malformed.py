# SPDX-License-Identifier: BSD-3-Clause
# test_malformed.py: random and malformed packets over UDP and TCP must not hurt the daemon.
"""Seeded garbage against the real daemon, then a good query must still work.

Every reply that does come back must be a well-formed response (QR=1, an ID
we sent, parseable, within 512 bytes unless it carries an OPT); the packets
whose outcome the README fixes (QR=1 dropped, QDCOUNT 0/2 and two OPT records
FORMERR, malformed names never answered with data) are checked one by one.
"""

import random
import select
import socket
import struct
import time

import dns.flags
import dns.message
import dns.name
import dns.rcode

from conftest import HOST, TIMEOUT, query, tcp_read_msg, wait_closed

SEED = 20240917
WEB_A = ["127.0.0.11", "127.0.0.12", "192.0.2.14"]
NAMES = ["web.svc.test.", "_web._tcp.svc.test.", "nope.svc.test.", "svc.test.",
         "canary.web.svc.test.", "big.svc.test.", "example.com."]
TYPES = ["A", "AAAA", "SRV", "SOA", "NS", "TXT", "ANY"]


def good_query(rng, qid=None, edns=None):
    q = dns.message.make_query(rng.choice(NAMES), rng.choice(TYPES),
                               use_edns=edns if edns is not None else rng.choice([None, 0]))
    q.id = rng.randrange(65536) if qid is None else qid
    return q.to_wire()


def hdr(qid, flags=0x0100, qd=1, an=0, ns=0, ar=0):
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


QUESTION = dns.name.from_text("web.svc.test.").to_wire() + b"\x00\x01\x00\x01"
OPT = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)


def structured(rng):
    """(wire, expectation) pairs with unique IDs; expectation is 'formerr' (must answer
    FORMERR) or 'no-data' (FORMERR, another error, or no answer, but never records)."""
    out = []
    qid = iter(range(1, 65536))

    def add(build, expect):
        i = next(qid)
        out.append((build(i), expect))

    for _ in range(20):
        add(lambda i: hdr(i, qd=0), "formerr")
        add(lambda i: hdr(i, qd=2) + QUESTION + QUESTION, "formerr")
        add(lambda i: hdr(i, ar=2) + QUESTION + OPT + OPT, "formerr")
        add(lambda i: hdr(i, an=1) + QUESTION + OPT, "no-data")  # OPT in the answer section
    # Compression pointers in the question: to itself, forward, and a two-pointer loop.
    add(lambda i: hdr(i) + b"\xc0\x0c\x00\x01\x00\x01", "no-data")
    add(lambda i: hdr(i) + b"\xc0\x10\x00\x01\x00\x01", "no-data")
    add(lambda i: hdr(i) + b"\x03web\xc0\x10\xc0\x0c\x00\x01\x00\x01", "no-data")
    add(lambda i: hdr(i) + b"\xc0\xff\x00\x01\x00\x01", "no-data")
    # A loop in the owner name of an additional record (after a good question).
    add(lambda i: hdr(i, ar=1) + QUESTION + b"\xc0\x1e" + OPT[1:], "no-data")
    add(lambda i: hdr(i, ar=1) + QUESTION + b"\x01a\xc0\x1e" + OPT[1:], "no-data")
    # Bad label lengths: 64 octets, reserved types 0x40/0x80, longer than the packet.
    add(lambda i: hdr(i) + b"\x40" + b"a" * 64 + b"\x00\x00\x01\x00\x01", "no-data")
    add(lambda i: hdr(i) + b"\x41" + b"a" * 65 + b"\x00\x00\x01\x00\x01", "no-data")
    add(lambda i: hdr(i) + b"\x80web\x00\x00\x01\x00\x01", "no-data")
    add(lambda i: hdr(i) + b"\x3fabc", "no-data")
    add(lambda i: hdr(i) + b"\x03web\x03svc\x04test", "no-data")
    # A name longer than 255 octets.
    add(lambda i: hdr(i) + (b"\x3f" + b"x" * 63) * 4 + b"\x00\x00\x01\x00\x01", "no-data")
    # Question without its type and class, or with only half of it.
    add(lambda i: hdr(i) + QUESTION[:-4], "no-data")
    add(lambda i: hdr(i) + QUESTION[:-2], "no-data")
    # Absurd counts.
    add(lambda i: hdr(i, qd=65535) + QUESTION, "formerr")
    add(lambda i: hdr(i, ar=65535) + QUESTION + OPT, "no-data")
    add(lambda i: hdr(i, ns=7) + QUESTION, "no-data")
    # Every truncation (12 bytes and more) of a good query with EDNS.
    full = good_query(rng, qid=0, edns=0)
    for n in range(12, len(full)):
        add(lambda i, n=n: struct.pack("!H", i) + full[2:n], "no-data")
    return out


def bulk(rng, n):
    """n random or damaged packets (any outcome allowed but a bad reply)."""
    out = []
    for k in range(n):
        kind = k % 6
        if kind == 0:
            pkt = rng.randbytes(rng.randrange(0, 600))
        elif kind == 1:
            pkt = rng.randbytes(rng.randrange(0, 12))
        elif kind == 2:
            pkt = hdr(rng.randrange(65536), rng.randrange(65536) & 0x7FFF, *[
                rng.choice([0, 1, 2, rng.randrange(65536)]) for _ in range(4)]) + \
                rng.randbytes(rng.randrange(0, 100))
        elif kind == 3:
            pkt = bytearray(good_query(rng))
            for _ in range(rng.randrange(1, 6)):
                pkt[rng.randrange(len(pkt))] = rng.randrange(256)
            pkt[2] &= 0x7F  # stay a query, so the daemon must look at it
            pkt = bytes(pkt)
        elif kind == 4:
            pkt = good_query(rng)
            pkt = pkt[:rng.randrange(len(pkt))]
        else:
            pkt = good_query(rng) + rng.randbytes(rng.randrange(1, 50))
        out.append(pkt)
    return out


def drain(sock, replies, wait):
    while True:
        r, _, _ = select.select([sock], [], [], wait)
        if not r:
            return
        replies.append(sock.recv(65535))


def send_all(port, packets, settle=1.0):
    """Sends packets from one socket, draining as it goes; returns every reply."""
    replies = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        for k, pkt in enumerate(packets):
            s.sendto(pkt, (HOST, port))
            if k % 20 == 19:
                drain(s, replies, 0.002)
        drain(s, replies, settle)
    return replies


def skip_name(wire, off):
    """Offset after the name at off; every pointer must point backwards (no loops)."""
    end = None
    hops = 0
    while True:
        assert off < len(wire), "name runs past the end"
        n = wire[off]
        if n & 0xC0 == 0xC0:
            assert off + 1 < len(wire)
            target = ((n & 0x3F) << 8) | wire[off + 1]
            assert target < off, "compression pointer does not point backwards"
            if end is None:
                end = off + 2
            off = target
            hops += 1
            assert hops < 128
        elif n & 0xC0:
            raise AssertionError("reserved label type 0x%02x" % n)
        elif n == 0:
            return end if end is not None else off + 1
        else:
            off += 1 + n


def walk(wire):
    """Checks the framing of a whole message; returns True if it carries an OPT record."""
    qd, an, ns, ar = struct.unpack("!HHHH", wire[4:12])
    off = 12
    for _ in range(qd):
        off = skip_name(wire, off) + 4
        assert off <= len(wire), "question runs past the end"
    has_opt = False
    for k in range(an + ns + ar):
        off = skip_name(wire, off)
        assert off + 10 <= len(wire), "record header runs past the end"
        rtype, _, _, rdlen = struct.unpack("!HHIH", wire[off:off + 10])
        if rtype == 41:
            assert k >= an + ns and not has_opt, "OPT misplaced or repeated"
            has_opt = True
        off += 10 + rdlen
        assert off <= len(wire), "rdata runs past the end"
    assert off == len(wire), "%d trailing bytes" % (len(wire) - off)
    return has_opt


def assert_well_formed(resp, sent_ids):
    assert len(resp) >= 12
    qid, flags = struct.unpack("!HH", resp[:4])
    assert flags & 0x8000, "reply without QR"
    assert qid in sent_ids, "reply with an ID nobody sent: %d" % qid
    has_opt = walk(resp)
    limit = 1232 if has_opt else 512
    assert len(resp) <= limit, "reply of %d bytes over the %d limit" % (len(resp), limit)
    # dnspython reads other opcodes with their own rules (UPDATE) or not at all (3, 6..15);
    # walk() above checked their framing.
    if (flags >> 11) & 0xF == 0:
        return dns.message.from_wire(resp, ignore_trailing=False)
    return None


def assert_serving(srv):
    assert srv.alive(), "srvd died:\n" + srv.stderr_text()
    for transport in ("udp", "tcp"):
        r = query(srv, "web.svc.test.", "A", transport)
        assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
        assert [rd.address for rd in r.answer[0]] == WEB_A


def test_udp_garbage(answers_srvd):
    rng = random.Random(SEED)
    packets = bulk(rng, 1800)
    ids = {struct.unpack("!H", p[:2])[0] for p in packets if len(p) >= 2}
    replies = send_all(answers_srvd.port, packets)
    for resp in replies:
        assert_well_formed(resp, ids)
    # Most of them are answerable at least with FORMERR: the daemon did look at them.
    assert len(replies) > 200, "only %d replies to 1800 packets" % len(replies)
    assert_serving(answers_srvd)


def test_udp_structured_malformed(answers_srvd):
    rng = random.Random(SEED + 1)
    cases = structured(rng)
    expect = {struct.unpack("!H", wire[:2])[0]: (kind, wire) for wire, kind in cases}
    replies = send_all(answers_srvd.port, [w for w, _ in cases])
    got = {}
    for resp in replies:
        msg = assert_well_formed(resp, expect.keys())
        assert msg is not None, "opcode changed in the reply to a QUERY"
        got[msg.id] = msg
    for qid, (kind, wire) in expect.items():
        msg = got.get(qid)
        if kind == "formerr":
            assert msg is not None, "no reply to %r" % wire
            assert msg.rcode() == dns.rcode.FORMERR, "%r -> %s" % (wire, msg)
        elif msg is not None:
            assert msg.rcode() != dns.rcode.NOERROR, "%r answered:\n%s" % (wire, msg)
            assert msg.answer == [], "%r answered with records:\n%s" % (wire, msg)
    assert_serving(answers_srvd)


def test_udp_responses_never_answered(answers_srvd):
    rng = random.Random(SEED + 2)
    packets = []
    for _ in range(100):
        pkt = bytearray(good_query(rng))
        pkt[2] |= 0x80  # QR=1
        packets.append(bytes(pkt))
    assert send_all(answers_srvd.port, packets) == []
    assert_serving(answers_srvd)


def tcp_connect(port):
    s = socket.create_connection((HOST, port), timeout=TIMEOUT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def test_tcp_garbage(answers_srvd):
    rng = random.Random(SEED + 3)
    port = answers_srvd.port
    # Length prefixes that lie: longer than what follows, then the client goes away.
    for n in (0xFFFF, 4096, 300, 13):
        with tcp_connect(port) as s:
            s.sendall(struct.pack("!H", n) + rng.randbytes(min(n - 1, 100)))
    # Short messages inside a correct frame: FORMERR or nothing, never a crash.
    for _ in range(30):
        body = rng.randbytes(rng.randrange(1, 200))
        with tcp_connect(port) as s:
            s.sendall(struct.pack("!H", len(body)) + body)
            s.shutdown(socket.SHUT_WR)
            s.settimeout(1.0)
            try:
                while s.recv(65535):
                    pass
            except (socket.timeout, ConnectionError):
                pass
    # Pure noise streams.
    for _ in range(30):
        with tcp_connect(port) as s:
            try:
                s.sendall(rng.randbytes(rng.randrange(1, 3000)))
            except ConnectionError:
                pass
    # A half message left behind.
    with tcp_connect(port) as s:
        s.sendall(b"\x00\x28" + good_query(rng)[:10])
    assert_serving(answers_srvd)


def test_tcp_zero_length_closes(answers_srvd):
    with tcp_connect(answers_srvd.port) as s:
        s.sendall(b"\x00\x00")
        assert wait_closed(s, 3.0), "a zero-length TCP message did not close the connection"
    assert_serving(answers_srvd)


def test_tcp_one_byte_at_a_time(answers_srvd):
    q = dns.message.make_query("web.svc.test.", "A")
    wire = q.to_wire()
    data = struct.pack("!H", len(wire)) + wire
    with tcp_connect(answers_srvd.port) as s:
        for b in data:
            s.sendall(bytes([b]))
            time.sleep(0.005)
        r = dns.message.from_wire(tcp_read_msg(s))
    assert r.id == q.id
    assert [rd.address for rd in r.answer[0]] == WEB_A


def test_tcp_pipelined_in_order(answers_srvd):
    rng = random.Random(SEED + 4)
    queries = []
    for k in range(40):
        q = dns.message.make_query(rng.choice(NAMES[:5]), rng.choice(["A", "AAAA", "SRV"]))
        q.id = 1000 + k
        queries.append(q)
    stream = b"".join(struct.pack("!H", len(w)) + w for w in (q.to_wire() for q in queries))
    with tcp_connect(answers_srvd.port) as s:
        s.sendall(stream)
        for q in queries:
            r = dns.message.from_wire(tcp_read_msg(s))
            assert r.id == q.id, "answers out of order"
            assert r.question[0].name == q.question[0].name
            assert r.question[0].rdtype == q.question[0].rdtype
            assert r.flags & dns.flags.QR
        # The connection stays usable after the burst.
        q = dns.message.make_query("web.svc.test.", "A")
        w = q.to_wire()
        s.sendall(struct.pack("!H", len(w)) + w)
        r = dns.message.from_wire(tcp_read_msg(s))
        assert [rd.address for rd in r.answer[0]] == WEB_A


def test_tcp_malformed_then_good_on_one_connection(answers_srvd):
    with tcp_connect(answers_srvd.port) as s:
        bad = hdr(77, qd=2) + QUESTION + QUESTION
        s.sendall(struct.pack("!H", len(bad)) + bad)
        r = dns.message.from_wire(tcp_read_msg(s))
        assert r.id == 77 and r.rcode() == dns.rcode.FORMERR
        q = dns.message.make_query("web.svc.test.", "A")
        w = q.to_wire()
        s.sendall(struct.pack("!H", len(w)) + w)
        r = dns.message.from_wire(tcp_read_msg(s))
        assert r.id == q.id and [rd.address for rd in r.answer[0]] == WEB_A


def test_still_alive_at_the_end(answers_srvd):
    assert_serving(answers_srvd)
