#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
# gen_corpus.py: writes the malformed-traffic regression corpus that test_corpus.py replays.
"""Generates tests/system/corpus/: one CASE.bin per query, and expect.txt.

The corpus is committed, so it is a fixed regression set; this script only
documents how it was made and remakes it (it removes every *.bin first):

    /usr/bin/python3 tests/system/gen_corpus.py [OUTDIR]

Every query is asked of data/answers.yaml (zone svc.test.). Most of them carry
the good question `web.svc.test. IN A`, so that the outcome depends on the one
thing the case breaks. expect.txt has one line per case:

    NAME OUTCOME[|OUTCOME...] [opt=yes|no|any] [max=N] [do=1]

OUTCOME (test_corpus.py checks it; where RFCs allow two outcomes both are listed):
  drop      no reply (responses, messages too short for a header)
  answer    NOERROR, AA, the A records of web.svc.test.
  noerror   NOERROR, AA (what the answer holds is another test's business)
  nodata    NOERROR, AA, no answer, SOA in authority
  nxdomain  NXDOMAIN, AA, SOA in authority
  chaos     NOERROR, a TXT record of class CH
  formerr, notimp, refused, badvers   that rcode, no answer or authority records
opt: yes = the query has a good OPT, so the reply has one (RFC 6891 7); no = the
query has no OPT record where one counts, so the reply must have none and fit 512
bytes over UDP; any = either (malformed OPT). max: the UDP size bound when the
query's OPT asks for less than 512 (RFC 6891 6.2.5). do: the DO bit comes back.
"""

import os
import struct
import sys

import dns.edns
import dns.message
import dns.name
import dns.rdatatype

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")

QID = 0x4242  # the tests give every sent copy its own ID

FLAG_BITS = [("qr", 0x8000), ("aa", 0x0400), ("tc", 0x0200), ("rd", 0x0100), ("ra", 0x0080),
             ("z", 0x0040), ("ad", 0x0020), ("cd", 0x0010)]
OPCODE_NAMES = {0: "query", 1: "iquery", 2: "status", 4: "notify", 5: "update", 6: "dso"}


def hdr(flags=0x0100, qd=1, an=0, ns=0, ar=0, qid=QID):
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def wname(text):
    return dns.name.from_text(text).to_wire()


def question(name="web.svc.test.", qtype=1, qclass=1):
    return wname(name) + struct.pack("!HH", qtype, qclass)


Q = question()
Q_END = 12 + len(Q)  # offset right after the good question


def opt(size=1232, ext_rcode=0, version=0, flags=0, rdata=b"", owner=b"\x00", rdlen=None):
    rdlen = len(rdata) if rdlen is None else rdlen
    return owner + struct.pack("!HHBBHH", 41, size, ext_rcode, version, flags, rdlen) + rdata


def option(code, data, length=None):
    return struct.pack("!HH", code, len(data) if length is None else length) + data


def rr(owner, rtype=1, rclass=1, ttl=60, rdata=b"\xc0\x00\x02\x01"):
    return owner + struct.pack("!HHIH", rtype, rclass, ttl, len(rdata)) + rdata


A_RR = rr(b"\xc0\x0c")  # web.svc.test. A 192.0.2.1, owner a pointer back to the question
SOA_RDATA = wname("ns1.svc.test.") + wname("hostmaster.svc.test.") + struct.pack("!5I", 1, 2, 3,
                                                                                   4, 5)


def good(name, rdtype, edns=None, want_dnssec=False, options=None):
    # dnspython adds an OPT as soon as any EDNS argument is given, payload too
    kw = {} if edns is None else {"use_edns": edns, "payload": 1232, "options": options}
    q = dns.message.make_query(name, rdtype, want_dnssec=want_dnssec, **kw)
    q.id = QID
    return q.to_wire()


class Corpus:
    def __init__(self):
        self.cases = []
        self.names = set()

    def add(self, name, wire, expect, opt="no", max_size=None, do=False):
        assert name not in self.names, name
        self.names.add(name)
        attrs = ["opt=" + opt]
        if max_size:
            attrs.append("max=%d" % max_size)
        if do:
            attrs.append("do=1")
        self.cases.append((name, bytes(wire), expect, attrs))


def flags_cases(c):
    # All 256 combinations of the eight flag bits on the good question. Queries
    # with QR=1 are responses: never answered (RFC 1035 4.1.1, README "Names and answers"). The
    # others are answered alike: AA, TC, RA, Z and AD mean nothing in a query.
    for combo in range(256):
        flags = 0
        names = []
        for k, (label, bit) in enumerate(FLAG_BITS):
            if combo & (0x80 >> k):
                flags |= bit
                names.append(label)
        c.add("flags-" + ("-".join(names) or "none"), hdr(flags) + Q,
              "drop" if flags & 0x8000 else "answer")


def opcode_cases(c):
    for op in range(16):
        name = "opcode-%02d-%s" % (op, OPCODE_NAMES.get(op, "unassigned"))
        c.add(name, hdr(0x0100 | op << 11) + Q, "answer" if op == 0 else "notimp")
    c.add("opcode-04-notify-response", hdr(0x8000 | 4 << 11) + Q, "drop")
    c.add("opcode-02-qdcount-0", hdr(2 << 11, qd=0), "notimp")
    # past the header, a message of another opcode is not read: its OPT (even of
    # an unknown EDNS version) gets no OPT back, only NOTIMP
    c.add("opcode-05-edns-version-1", hdr(5 << 11, ar=1) + Q + opt(version=1), "notimp")
    c.add("opcode-05-update-zone-soa", hdr(5 << 11, ns=1) + question("svc.test.", 6) +
          rr(b"\xc0\x0c", 6, 255, 0, b""), "notimp")


def count_cases(c):
    c.add("qdcount-0", hdr(qd=0), "formerr")
    c.add("qdcount-0-question-present", hdr(qd=0) + Q, "formerr|answer")
    c.add("qdcount-0-edns", hdr(qd=0, ar=1) + opt(), "formerr", opt="any")
    c.add("qdcount-2", hdr(qd=2) + Q + question("rr.svc.test."), "formerr")
    c.add("qdcount-2-same-twice", hdr(qd=2) + Q + Q, "formerr")
    c.add("qdcount-2-one-present", hdr(qd=2) + Q, "formerr")
    c.add("qdcount-65535", hdr(qd=65535) + Q, "formerr")
    # Counts claiming more records than the message holds (RFC 1035 4.1.1: the
    # server cannot interpret it).
    for sect, kw in (("ancount", "an"), ("nscount", "ns"), ("arcount", "ar")):
        c.add(sect + "-1-absent", hdr(**{kw: 1}) + Q, "formerr")
        c.add(sect + "-65535-absent", hdr(**{kw: 65535}) + Q, "formerr")
        c.add(sect + "-2-one-present", hdr(**{kw: 2}) + Q + A_RR, "formerr")
    c.add("arcount-2-one-opt", hdr(ar=2) + Q + opt(), "formerr", opt="any")
    c.add("arcount-65535-one-opt", hdr(ar=65535) + Q + opt(), "formerr", opt="any")
    # Counts claiming fewer: what follows the last counted record is not part
    # of the message, so an OPT there is not one (no OPT in the reply).
    c.add("arcount-0-opt-present", hdr(ar=0) + Q + opt(), "answer|formerr")
    c.add("ancount-0-answer-present", hdr(an=0) + Q + A_RR, "answer|formerr")
    c.add("ancount-1-two-present", hdr(an=1) + Q + A_RR + A_RR, "answer|formerr")
    c.add("arcount-1-opt-and-a-present", hdr(ar=1) + Q + opt() + A_RR, "answer|formerr",
          opt="yes")
    # Records a query may carry: a known answer, the client's SOA (IXFR, RFC
    # 1995 3), an additional A beside the OPT.
    c.add("ancount-1-answer-present", hdr(an=1) + Q + A_RR, "answer")
    c.add("nscount-1-soa-present", hdr(ns=1) + Q + rr(b"\xc0\x10", 6, 1, 60, SOA_RDATA),
          "answer")
    c.add("arcount-2-a-and-opt", hdr(ar=2) + Q + A_RR + opt(), "answer", opt="yes")
    for rc in (1, 5, 15):  # an rcode in a query means nothing
        c.add("rcode-in-query-%02d" % rc, hdr(0x0100 | rc) + Q, "answer")


def pointer_cases(c):
    # In the question there is nothing earlier to point to but the header, so
    # every pointer there is malformed (srvd reads the question uncompressed).
    c.add("ptr-question-self", hdr() + b"\xc0\x0c\x00\x01\x00\x01", "formerr")
    c.add("ptr-question-forward", hdr() + b"\xc0\x12\x00\x01\x00\x01" + Q, "formerr")
    c.add("ptr-question-label-then-self", hdr() + b"\x03web\xc0\x0c\x00\x01\x00\x01", "formerr")
    c.add("ptr-question-loop-2", hdr() + b"\x03web\xc0\x12\xc0\x10\x00\x01\x00\x01", "formerr")
    c.add("ptr-question-backward-into-header", hdr() + b"\x03web\xc0\x05\x00\x01\x00\x01",
          "formerr")
    c.add("ptr-question-past-end", hdr() + b"\xc0\xff\x00\x01\x00\x01", "formerr")
    c.add("ptr-question-max-offset", hdr() + b"\xff\xff\x00\x01\x00\x01", "formerr")
    c.add("ptr-question-half", hdr() + b"\x03web\xc0", "formerr")
    # Owner names of a record after the good question (offset Q_END).
    here = Q_END
    c.add("ptr-rr-self", hdr(an=1) + Q + rr(struct.pack("!H", 0xC000 | here)), "formerr")
    # to the name a.: after this record's owner (2), fixed part (10) and rdata (4)
    c.add("ptr-rr-forward", hdr(an=1) + Q + rr(struct.pack("!H", 0xC000 | here + 16)) +
          b"\x01a\x00", "formerr")
    c.add("ptr-rr-loop-2", hdr(an=1) + Q +
          rr(b"\x01a" + struct.pack("!H", 0xC000 | here + 4) +
             struct.pack("!H", 0xC000 | here)), "formerr")
    c.add("ptr-rr-label-then-self", hdr(an=1) + Q +
          rr(b"\x01a" + struct.pack("!H", 0xC000 | here)), "formerr")
    c.add("ptr-rr-past-end", hdr(an=1) + Q + rr(b"\xc0\xff"), "formerr")
    c.add("ptr-rr-max-offset", hdr(an=1) + Q + rr(b"\xff\xff"), "formerr")
    c.add("ptr-rr-half-at-end", hdr(an=1) + Q + b"\xc0", "formerr")
    c.add("ptr-opt-owner-loop", hdr(ar=1) + Q + opt(owner=struct.pack("!H", 0xC000 | here)),
          "formerr", opt="any")
    # Pointers backwards are legal anywhere (RFC 1035 4.1.4): to the question,
    # to a suffix of it, and to a pointer that points to it.
    c.add("ptr-rr-backward-question", hdr(an=1) + Q + A_RR, "answer")
    c.add("ptr-rr-backward-suffix", hdr(an=1) + Q + rr(b"\x01x\xc0\x10"), "answer")
    c.add("ptr-rr-backward-chain", hdr(an=2) + Q + A_RR + rr(struct.pack("!H", 0xC000 | here)),
          "answer")
    # A long chain of pointers, each to the one before: legal, but a bound on
    # hops is a reasonable defence, so FORMERR is accepted too.
    chain = A_RR
    for k in range(1, 70):
        chain += rr(struct.pack("!H", 0xC000 | (here + (k - 1) * len(A_RR))))
    c.add("ptr-rr-chain-70", hdr(an=70) + Q + chain, "answer|formerr")


def label_name_cases(c):
    for n in (64, 65, 127):
        c.add("label-%d-question" % n, hdr() + bytes([n]) + b"a" * n + wname("svc.test.") +
              b"\x00\x01\x00\x01", "formerr")
        c.add("label-%d-rr-owner" % n, hdr(an=1) + Q + rr(bytes([n]) + b"a" * n + b"\x00"),
              "formerr")
    c.add("label-type-0x80-question", hdr() + b"\x83web" + wname("svc.test.") +
          b"\x00\x01\x00\x01", "formerr")
    c.add("label-type-0x41-edns0-bitlabel", hdr() + b"\x41\x00\x00\x01\x00\x01", "formerr")
    c.add("label-63-question", hdr() + b"\x3f" + b"a" * 63 + wname("svc.test.") +
          b"\x00\x01\x00\x01", "nxdomain")
    c.add("label-binary-question", hdr() + b"\x04\x00.\xff\x80" + wname("svc.test.") +
          b"\x00\x01\x00\x01", "nxdomain")
    c.add("label-mixed-case-question", hdr() + wname("WeB.SvC.tEsT.") + b"\x00\x01\x00\x01",
          "answer")

    def long_name(total, suffix):
        """A name of total octets (root included) ending in suffix."""
        tail = wname(suffix)
        body = b""
        left = total - len(tail)
        while left > 0:
            n = min(63, left - 1)
            assert n > 0, "a root label inside the name"
            body += bytes([n]) + b"b" * n
            left -= n + 1
        assert len(body + tail) == total
        return body + tail

    c.add("name-255-question-outside", hdr() + long_name(255, ".") + b"\x00\x01\x00\x01",
          "refused")
    c.add("name-255-question-in-zone", hdr() + long_name(255, "svc.test.") +
          b"\x00\x01\x00\x01", "nxdomain")
    c.add("name-127-labels-question", hdr() + b"\x01c" * 127 + b"\x00\x00\x01\x00\x01",
          "refused")
    for n in (256, 300):
        c.add("name-%d-question" % n, hdr() + long_name(n, "svc.test.") + b"\x00\x01\x00\x01",
              "formerr")
    c.add("name-128-labels-question", hdr() + b"\x01c" * 128 + b"\x00\x00\x01\x00\x01",
          "formerr")
    c.add("name-256-rr-owner", hdr(an=1) + Q + rr(long_name(256, ".")), "formerr")
    # 243 octets of labels, then a pointer to web.svc.test. (14): 257 octets
    c.add("name-257-rr-owner-via-pointer", hdr(an=1) + Q +
          rr(long_name(244, ".")[:-1] + b"\xc0\x0c"), "formerr")
    c.add("name-255-rr-owner-via-pointer", hdr(an=1) + Q +
          rr(long_name(242, ".")[:-1] + b"\xc0\x0c"), "answer")
    c.add("name-unterminated-question", hdr() + b"\x03web\x03svc\x04test", "formerr")


def opt_cases(c):
    c.add("opt-in-answer", hdr(an=1) + Q + opt(), "formerr", opt="any")
    c.add("opt-in-authority", hdr(ns=1) + Q + opt(), "formerr", opt="any")
    c.add("opt-in-answer-and-additional", hdr(an=1, ar=1) + Q + opt() + opt(), "formerr",
          opt="any")
    # RFC 6891 6.1.1: more than one OPT is a FORMERR
    c.add("opt-two", hdr(ar=2) + Q + opt() + opt(), "formerr", opt="any")
    c.add("opt-two-versions", hdr(ar=2) + Q + opt() + opt(version=1), "formerr", opt="any")
    c.add("opt-two-around-a", hdr(ar=3) + Q + opt() + A_RR + opt(), "formerr", opt="any")
    c.add("opt-rdlen-past-end", hdr(ar=1) + Q + opt(rdlen=10), "formerr", opt="any")
    c.add("opt-rdlen-65535", hdr(ar=1) + Q + opt(rdata=b"\x00" * 8, rdlen=65535), "formerr",
          opt="any")
    c.add("opt-fixed-part-cut", hdr(ar=1) + Q + opt()[:7], "formerr", opt="any")
    c.add("opt-option-header-cut", hdr(ar=1) + Q + opt(rdata=b"\x00\x0a"), "formerr",
          opt="any")
    c.add("opt-option-len-overrun", hdr(ar=1) + Q + opt(rdata=option(10, b"\x01" * 4, 10)),
          "formerr", opt="any")
    c.add("opt-option-len-underrun", hdr(ar=1) + Q +
          opt(rdata=option(10, b"\x01" * 8, 2)), "formerr", opt="any")
    c.add("opt-option-len-65535", hdr(ar=1) + Q + opt(rdata=option(65001, b"", 65535)),
          "formerr", opt="any")
    # RFC 6891 6.1.2: the owner is the root
    c.add("opt-owner-nonroot", hdr(ar=1) + Q + opt(owner=b"\x01a\x00"), "formerr", opt="any")
    c.add("opt-owner-pointer-to-question", hdr(ar=1) + Q + opt(owner=b"\xc0\x0c"), "formerr",
          opt="any")
    # Well-formed OPTs: unknown options ignored, Z flags ignored (and not sent
    # back), DO echoed (RFC 3225), payload below 512 read as 512 (6.2.5).
    c.add("opt-plain", hdr(ar=1) + Q + opt(), "answer", opt="yes")
    c.add("opt-unknown-option", hdr(ar=1) + Q + opt(rdata=option(65001, b"xyz")), "answer",
          opt="yes")
    c.add("opt-empty-options", hdr(ar=1) + Q + opt(rdata=option(65001, b"") * 3), "answer",
          opt="yes")
    c.add("opt-cookie", hdr(ar=1) + Q + opt(rdata=option(10, b"\x01\x02\x03\x04\x05\x06\x07\x08")),
          "answer", opt="yes")
    c.add("opt-padding", hdr(ar=1) + Q + opt(rdata=option(12, b"\x00" * 100)), "answer",
          opt="yes")
    c.add("opt-do", hdr(ar=1) + Q + opt(flags=0x8000), "answer", opt="yes", do=True)
    c.add("opt-z-flags", hdr(ar=1) + Q + opt(flags=0x7FFF), "answer", opt="yes")
    c.add("opt-ext-rcode-in-query", hdr(ar=1) + Q + opt(ext_rcode=0xFF), "answer", opt="yes")
    c.add("opt-owner-pointer-to-root", hdr(ar=1) + Q + b"\xc0" + bytes([Q_END - 5]) +
          opt()[1:], "answer|formerr", opt="any")
    big = question("big.svc.test.")
    for size in (0, 1, 511):
        c.add("opt-size-%d-big" % size, hdr(ar=1) + big + opt(size=size), "noerror", opt="yes",
              max_size=512)
    c.add("opt-size-65535-big", hdr(ar=1) + big + opt(size=65535), "noerror", opt="yes")
    # RFC 6891 6.1.3: BADVERS, with an OPT of our version (0)
    for v in (1, 255):
        c.add("edns-version-%d" % v, hdr(ar=1) + Q + opt(version=v), "badvers", opt="yes")
    c.add("edns-version-1-do", hdr(ar=1) + Q + opt(version=1, flags=0x8000), "badvers",
          opt="yes", do=True)


def class_type_cases(c):
    c.add("class-ch-a", hdr() + question(qclass=3), "refused")
    c.add("class-ch-version-server", hdr() + question("version.server.", 16, 3), "chaos")
    c.add("class-ch-id-server", hdr() + question("id.server.", 16, 3), "chaos")
    c.add("class-ch-version-bind-edns", hdr(ar=1) + question("version.bind.", 16, 3) + opt(),
          "chaos", opt="yes")
    c.add("class-hs", hdr() + question(qclass=4), "refused")
    c.add("class-none", hdr() + question(qclass=254), "refused")
    c.add("class-any", hdr() + question(qclass=255), "answer")
    c.add("class-0", hdr() + question(qclass=0), "refused")
    c.add("class-65535", hdr() + question(qclass=65535), "refused")
    # qtype 0 is reserved (RFC 6895 3.1): no data, or FORMERR
    c.add("qtype-0", hdr() + question(qtype=0), "nodata|formerr")
    c.add("qtype-axfr", hdr() + question("svc.test.", 252), "refused")
    c.add("qtype-ixfr", hdr() + question("svc.test.", 251), "refused")
    c.add("qtype-ixfr-with-soa", hdr(ns=1) + question("svc.test.", 251) +
          rr(b"\xc0\x0c", 6, 1, 60, SOA_RDATA), "refused")
    c.add("qtype-axfr-outside", hdr() + question("example.com.", 252), "refused")
    c.add("qtype-65535", hdr() + question(qtype=65535), "nodata")
    c.add("qtype-65535-nxname", hdr() + question("nope.svc.test.", 65535), "nxdomain")
    c.add("qtype-maila", hdr() + question(qtype=254), "notimp")
    c.add("qtype-mailb", hdr() + question(qtype=253), "notimp")
    c.add("qtype-opt", hdr() + question(qtype=41), "formerr")
    c.add("qtype-any", hdr() + question(qtype=255), "noerror")


def truncation_cases(c):
    queries = {
        "a-plain": good("web.svc.test.", "A"),
        "srv-edns-do": good("_web._tcp.svc.test.", "SRV", edns=0, want_dnssec=True),
        "a-edns-cookie": good("web.svc.test.", "A", edns=0,
                              options=[dns.edns.GenericOption(10, b"\x11" * 8)]),
        "ixfr-soa": hdr(ns=1) + question("svc.test.", 251) +
        rr(b"\xc0\x0c", 6, 1, 60, SOA_RDATA),
    }
    for label, wire in queries.items():
        for n in range(len(wire)):
            c.add("trunc-%s-%03d" % (label, n), wire[:n], "drop" if n < 12 else "formerr")
    # and the whole ones, so each cut is next to its good outcome
    c.add("trunc-a-plain-full", queries["a-plain"], "answer")
    c.add("trunc-srv-edns-do-full", queries["srv-edns-do"], "noerror", opt="yes", do=True)
    c.add("trunc-a-edns-cookie-full", queries["a-edns-cookie"], "answer", opt="yes")
    c.add("trunc-ixfr-soa-full", queries["ixfr-soa"], "refused")


def build():
    c = Corpus()
    flags_cases(c)
    opcode_cases(c)
    count_cases(c)
    pointer_cases(c)
    label_name_cases(c)
    opt_cases(c)
    class_type_cases(c)
    truncation_cases(c)
    return c.cases


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else OUT
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        if f.endswith(".bin"):
            os.unlink(os.path.join(out, f))
    lines = ["# Written by tests/system/gen_corpus.py (its docstring explains the columns)."]
    for name, wire, expect, attrs in build():
        with open(os.path.join(out, name + ".bin"), "wb") as f:
            f.write(wire)
        lines.append(" ".join([name, expect] + attrs))
    with open(os.path.join(out, "expect.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("%d cases written to %s" % (len(lines) - 1, out))


if __name__ == "__main__":
    main()
