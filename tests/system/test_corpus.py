# SPDX-License-Identifier: BSD-3-Clause
# test_corpus.py: replays the malformed-traffic corpus (corpus/, gen_corpus.py) over UDP and TCP.
"""Every corpus case against data/answers.yaml, over UDP and over one TCP connection.

Each case is followed by a good query (the sentinel, web.svc.test. A with an ID
of its own), so the good query is checked after every case, and a case that
got no reply is told apart without waiting for a timeout: srvd answers one
client socket's datagrams, and one connection's messages, in order. Every reply
must be a well-formed response to what was sent (QR=1, same ID, opcode, for
QUERY the same RD and CD, for other opcodes a bare NOTIMP header, RA/Z/AD clear, the question echoed byte for byte, framing that walks to the
last byte, at most one OPT, of version 0, only when the query had one, and
within 512 bytes over UDP without one) and match the outcome expect.txt gives.
Failures are collected over the whole corpus and reported together.
"""

import os
import select
import socket
import struct
import subprocess
import sys
import time

import dns.message
import dns.rcode

from conftest import HOST, tcp_read_msg, wait_closed

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
WEB_A = ["127.0.0.11", "127.0.0.12", "192.0.2.14"]
SENTINEL_BASE = 40000  # sentinel IDs; cases get 1..N
WINDOW = 32            # cases in flight at once over UDP
OUTCOMES = {"drop", "answer", "noerror", "nodata", "nxdomain", "chaos", "formerr", "notimp",
            "refused", "badvers"}
ERROR_RCODES = {"formerr": 1, "notimp": 4, "refused": 5, "badvers": 16}


class Case:
    def __init__(self, line):
        fields = line.split()
        self.name = fields[0]
        self.outcomes = set(fields[1].split("|"))
        assert self.outcomes <= OUTCOMES, line
        attrs = dict(f.split("=", 1) for f in fields[2:])
        self.opt = attrs.get("opt", "no")
        self.max = int(attrs["max"]) if "max" in attrs else None
        self.do = attrs.get("do") == "1"
        with open(os.path.join(CORPUS, self.name + ".bin"), "rb") as f:
            self.wire = f.read()
        self.sent = self.wire

    def with_id(self, qid):
        """The bytes to send: the case with its own ID (if it is long enough to have one)."""
        self.sent = struct.pack("!H", qid) + self.wire[2:] if len(self.wire) >= 2 else self.wire
        return self.sent


def load_cases():
    with open(os.path.join(CORPUS, "expect.txt")) as f:
        return [Case(line) for line in f if line.strip() and not line.startswith("#")]


def sentinel(qid):
    q = dns.message.make_query("web.svc.test.", "A")
    q.id = qid
    return q.to_wire()


def check_sentinel(resp, qid):
    assert resp is not None, "no answer to the good query that followed"
    r = dns.message.from_wire(resp)
    assert r.id == qid and r.flags & dns.flags.QR
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA, "good query got:\n%s" % r
    assert [rd.address for rd in r.answer[0]] == WEB_A, "good query got:\n%s" % r


# --- reply checks ----------------------------------------------------------------------------


def skip_name(wire, off):
    """Offset after the name at off; pointers must point backwards (no loops)."""
    end = None
    while True:
        assert off < len(wire), "name runs past the end"
        n = wire[off]
        if n & 0xC0 == 0xC0:
            assert off + 1 < len(wire), "pointer cut"
            target = ((n & 0x3F) << 8) | wire[off + 1]
            assert target < off, "compression pointer does not point backwards"
            end = off + 2 if end is None else end
            off = target
        elif n & 0xC0:
            raise AssertionError("reserved label type 0x%02x" % n)
        elif n == 0:
            return end if end is not None else off + 1
        else:
            off += 1 + n


def walk(wire):
    """Header fields and every record of a reply; asserts the framing is exact."""
    assert len(wire) >= 12, "reply of %d bytes" % len(wire)
    qid, flags, qd, an, ns, ar = struct.unpack("!6H", wire[:12])
    off = 12
    for _ in range(qd):
        off = skip_name(wire, off) + 4
        assert off <= len(wire), "question runs past the end"
    qend = off
    recs = []
    for k in range(an + ns + ar):
        sect = "an" if k < an else "ns" if k < an + ns else "ar"
        owner = off
        off = skip_name(wire, off)
        assert off + 10 <= len(wire), "record header runs past the end"
        rtype, rclass, ttl, rdlen = struct.unpack("!HHIH", wire[off:off + 10])
        recs.append((sect, rtype, rclass, ttl, owner, wire[off + 10:off + 10 + rdlen]))
        off += 10 + rdlen
        assert off <= len(wire), "rdata runs past the end"
    assert off == len(wire), "%d bytes after the last record" % (len(wire) - off)
    return qid, flags, qd, qend, recs


def outcomes_of(wire, flags, recs, rcode):
    """The expect.txt outcomes this reply satisfies."""
    aa = bool(flags & 0x0400)
    an = [r for r in recs if r[0] == "an"]
    ns = [r for r in recs if r[0] == "ns"]
    soa = any(r[1] == 6 for r in ns)
    got = set()
    for name, code in ERROR_RCODES.items():
        if rcode == code and not an and not ns and not aa:
            got.add(name)
    if rcode == 0 and aa:
        got.add("noerror")
        addrs = [socket.inet_ntoa(r[5]) for r in an if r[1] == 1 and r[2] == 1 and len(r[5]) == 4]
        if len(addrs) == len(an) and addrs == WEB_A and not flags & 0x0200:
            got.add("answer")
        if not an and soa:
            got.add("nodata")
    if rcode == 3 and aa and not an and soa:
        got.add("nxdomain")
    if rcode == 0 and an and all(r[1] == 16 and r[2] == 3 for r in an):
        got.add("chaos")
    return got


def check_reply(case, resp, transport):
    """Asserts resp is a well-formed reply to case.sent with an outcome case allows."""
    sent = case.sent
    qid, flags, qd, qend, recs = walk(resp)
    assert flags & 0x8000, "reply without QR"
    assert qid == struct.unpack("!H", sent[:2])[0], "reply with another ID"
    if len(sent) >= 4:
        sflags = struct.unpack("!H", sent[2:4])[0]
        assert (flags >> 11) & 0xF == (sflags >> 11) & 0xF, "opcode not echoed"
        if (sflags >> 11) & 0xF == 0:
            assert flags & 0x0100 == sflags & 0x0100, "RD not copied (RFC 1035 4.1.1)"
            assert flags & 0x0010 == sflags & 0x0010, "CD not copied (RFC 4035 3.1.6)"
        else:  # the flags and the sections are the opcode's: a bare header (RFC 8906 3.1.4)
            assert len(resp) == 12 and flags & 0x07F0 == 0, "not a bare NOTIMP header"
    assert not flags & 0x00E0, "RA, Z or AD set in a reply: 0x%04x" % flags
    assert qd <= 1, "QDCOUNT %d in a reply" % qd
    if qd == 1:
        assert resp[12:qend] == sent[12:qend], "question not echoed byte for byte"
    opts = [r for r in recs if r[1] == 41]
    assert len(opts) <= 1, "%d OPT records" % len(opts)
    rcode = flags & 0xF
    if opts:
        sect, _, size, ttl, owner, _ = opts[0]
        assert sect == "ar" and resp[owner] == 0, "OPT misplaced or not owned by the root"
        assert (ttl >> 16) & 0xFF == 0, "OPT of EDNS version %d" % ((ttl >> 16) & 0xFF)
        assert ttl & 0x7FFF == 0, "OPT Z flags not cleared"
        assert bool(ttl & 0x8000) == case.do, "DO bit not echoed (RFC 3225)"
        rcode |= (ttl >> 24) << 4
    if case.opt == "yes":
        assert opts, "query had an OPT, reply has none (RFC 6891 6.1.1)"
    elif case.opt == "no":
        assert not opts, "query had no OPT, reply has one (RFC 6891 7)"
    if transport == "udp":
        limit = case.max or (1232 if opts else 512)
        assert len(resp) <= limit, "UDP reply of %d bytes over %d" % (len(resp), limit)
    if (flags >> 11) & 0xF == 0:
        dns.message.from_wire(resp, ignore_trailing=False)  # must parse
    got = outcomes_of(resp, flags, recs, rcode)
    assert got & case.outcomes, "rcode %d, flags 0x%04x, outcomes %s, expected %s" % (
        rcode, flags, sorted(got) or "none", "|".join(sorted(case.outcomes)))


def judge(case, resp, transport, failures):
    try:
        if resp is None:
            assert "drop" in case.outcomes, "no reply, expected %s" % "|".join(
                sorted(case.outcomes))
        else:
            assert "drop" not in case.outcomes, "a reply to what must be dropped"
            check_reply(case, resp, transport)
    except AssertionError as e:
        failures.append("%s (%s): %s" % (case.name, transport, str(e).splitlines()[0]))


def report(failures, total):
    assert not failures, "%d of %d corpus cases failed:\n%s" % (len(failures), total,
                                                                "\n".join(failures))


# --- tests -----------------------------------------------------------------------------------


def test_corpus_matches_its_generator(tmp_path):
    """The committed corpus is what gen_corpus.py makes, and expect.txt lists every file."""
    out = str(tmp_path)
    subprocess.run([sys.executable, os.path.join(HERE, "gen_corpus.py"), out], check=True,
                   stdout=subprocess.DEVNULL)
    made = sorted(os.listdir(out))
    have = sorted(os.listdir(CORPUS))
    assert made == have, "corpus files differ from the generator's: %s" % sorted(
        set(made) ^ set(have))
    for f in made:
        with open(os.path.join(out, f), "rb") as a, open(os.path.join(CORPUS, f), "rb") as b:
            assert a.read() == b.read(), "%s differs from what gen_corpus.py makes" % f
    cases = load_cases()
    assert len(cases) >= 600
    # the list, by family
    for prefix, n in (("flags-", 256), ("opcode-", 16), ("trunc-", 4)):
        assert sum(c.name.startswith(prefix) for c in cases) >= n, prefix


def test_corpus_udp(answers_srvd):
    cases = load_cases()
    failures = []
    replies = {}
    port = answers_srvd.port
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        s.connect((HOST, port))
        for start in range(0, len(cases), WINDOW):
            window = list(enumerate(cases))[start:start + WINDOW]
            waiting = set()
            for k, case in window:
                s.send(case.with_id(k + 1))
                s.send(sentinel(SENTINEL_BASE + k))
                waiting.add(SENTINEL_BASE + k)
            deadline = time.monotonic() + 5
            while waiting and time.monotonic() < deadline:
                r, _, _ = select.select([s], [], [], deadline - time.monotonic())
                if not r:
                    break
                resp = s.recv(65535)
                rid = struct.unpack("!H", resp[:2])[0] if len(resp) >= 2 else None
                waiting.discard(rid)
                replies.setdefault(rid, []).append(resp)
            for k, case in window:
                sid = SENTINEL_BASE + k
                try:
                    check_sentinel(replies.pop(sid, [None])[0], sid)
                except AssertionError as e:
                    failures.append("%s (udp): then %s" % (case.name, str(e).splitlines()[0]))
            assert answers_srvd.alive(), "srvd died in the window from %s:\n%s" % (
                window[0][1].name, answers_srvd.stderr_text())
        # replies to drop cases would have come before their sentinels; a little more
        # for strays all the same
        time.sleep(0.2)
        s.setblocking(False)
        try:
            while True:
                resp = s.recv(65535)
                replies.setdefault(struct.unpack("!H", resp[:2])[0], []).append(resp)
        except BlockingIOError:
            pass
    for k, case in enumerate(cases):
        got = replies.pop(k + 1, [])
        if len(got) > 1:
            failures.append("%s (udp): %d replies" % (case.name, len(got)))
        judge(case, got[0] if got else None, "udp", failures)
    if replies:
        failures.append("replies with IDs nobody sent: %s" % sorted(replies))
    report(failures, len(cases))


def tcp_connect(port):
    s = socket.create_connection((HOST, port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def frame(wire):
    return struct.pack("!H", len(wire)) + wire


def test_corpus_tcp(answers_srvd):
    """All cases on one connection, each followed by the sentinel; the zero-length
    ones each on a connection of their own, which srvd must close (RFC 7766 has
    no empty message; README: it ends the connection)."""
    cases = load_cases()
    failures = []
    port = answers_srvd.port
    s = tcp_connect(port)
    try:
        for k, case in enumerate(cases):
            sid = SENTINEL_BASE + k
            sent = case.with_id(k + 1)
            if not sent:
                with tcp_connect(port) as z:
                    z.sendall(frame(sent) + frame(sentinel(sid)))
                    if not wait_closed(z, 3.0):
                        failures.append("%s (tcp): zero-length message did not close" %
                                        case.name)
                continue
            s.sendall(frame(sent) + frame(sentinel(sid)))
            try:
                resp = tcp_read_msg(s)
                if len(resp) >= 2 and struct.unpack("!H", resp[:2])[0] == sid:
                    judge(case, None, "tcp", failures)
                    check_sentinel(resp, sid)
                else:
                    judge(case, resp, "tcp", failures)
                    check_sentinel(tcp_read_msg(s), sid)
            except (EOFError, ConnectionError, socket.timeout) as e:
                failures.append("%s (tcp): connection lost: %s" % (case.name, e))
                s.close()
                s = tcp_connect(port)
            except AssertionError as e:
                failures.append("%s (tcp): then %s" % (case.name, str(e).splitlines()[0]))
    finally:
        s.close()
    assert answers_srvd.alive(), "srvd died:\n" + answers_srvd.stderr_text()
    report(failures, len(cases))


def test_corpus_tcp_batched(answers_srvd):
    """The whole corpus but the zero-length case written at once on one connection,
    then read: pipelined malformed queries keep their order and their answers."""
    cases = [c for c in load_cases() if c.wire]
    with tcp_connect(answers_srvd.port) as s:
        stream = b"".join(frame(c.with_id(k + 1)) for k, c in enumerate(cases))
        stream += frame(sentinel(SENTINEL_BASE))
        s.sendall(stream)
        replies = []
        while True:
            resp = tcp_read_msg(s)
            if struct.unpack("!H", resp[:2])[0] == SENTINEL_BASE:
                check_sentinel(resp, SENTINEL_BASE)
                break
            replies.append(resp)
    answered = [c for c in cases if "drop" not in c.outcomes]
    assert len(replies) == len(answered), "%d replies for %d answerable cases" % (
        len(replies), len(answered))
    failures = []
    for case, resp in zip(answered, replies):
        judge(case, resp, "tcp", failures)
    report(failures, len(cases))
