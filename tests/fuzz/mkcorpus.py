#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
# mkcorpus.py: writes the seed corpora of tests/fuzz/corpus/ (answer: DNS
# queries, well-formed and not; tcp: framed streams; registry: the example
# registries). Rerun by hand after changing it; the output is committed.
import os
import struct
import sys

import dns.edns
import dns.flags
import dns.message
import dns.opcode
import dns.rdataclass
import dns.rdatatype

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))


def query(name, rdtype="A", rdclass="IN", edns=-1, payload=1232, do=False, qid=0x1234, opcode=0):
    m = dns.message.make_query(name, rdtype, rdclass, use_edns=edns, payload=payload,
                               want_dnssec=do, id=qid)
    m.set_opcode(opcode)
    return m.to_wire()


def hdr(qid=0x1234, flags=0x0100, qd=1, an=0, ns=0, ar=0):
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def wname(text):
    out = b""
    for label in text.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def answer_corpus():
    c = {}
    names = [("web.svc.example.", "A"), ("web.svc.example.", "AAAA"), ("web.svc.example.", "SRV"),
             ("_web._tcp.svc.example.", "SRV"), ("canary.web.svc.example.", "A"),
             ("http.web.svc.example.", "SRV"), ("web-1.web.svc.example.", "A"),
             ("web-3.web.svc.example.", "AAAA"), ("_api._udp.svc.example.", "SRV"),
             ("blue.api.svc.example.", "A"), ("big.svc.example.", "AAAA"),
             ("big.svc.example.", "SRV"), ("all.big.svc.example.", "SRV"),
             ("empty.svc.example.", "A"), ("fixed.svc.example.", "A"),
             ("svc.example.", "SOA"), ("svc.example.", "NS"), ("svc.example.", "ANY"),
             ("web.svc.example.", "ANY"), ("docs.svc.example.", "TXT"),
             ("www.svc.example.", "A"), ("alias.svc.example.", "SRV"),
             ("loop1.svc.example.", "A"), ("gone.svc.example.", "A"),
             ("ext.svc.example.", "AAAA"), ("www.svc.example.", "CNAME"),
             ("mail.svc.example.", "MX"), ("_ldap._tcp.svc.example.", "SRV"),
             ("static.example.", "SOA"), ("static.example.", "MX"), ("host.static.example.", "A"),
             ("nope.static.example.", "A"), ("nothere.svc.example.", "A"),
             ("a.b.c.web-1.web.svc.example.", "A"), ("example.org.", "A"), (".", "NS"),
             ("_ready.svc.example.", "A"), ("_health.web.svc.example.", "TXT"),
             ("_health.web-1.web.svc.example.", "TXT"), ("_health.big.svc.example.", "TXT"),
             ("svc.example.", "AXFR"), ("svc.example.", "MAILB"), ("web.svc.example.", "TYPE65535"),
             ("web.svc.example.", "TYPE0"),
             # answer features (README "Failover, locality and sticky answers")
             ("green.blue.api.svc.example.", "A"), ("canary.http.web.svc.example.", "SRV"),
             ("_health.api.svc.example.", "TXT"),
             # SPEC section 11 (README "More answers")
             ("11.2.0.192.in-addr.arpa.", "PTR"), ("2.0.192.in-addr.arpa.", "SOA"),
             ("_http._udp.api.svc.example.", "SRV"), ("_dns._tcp.api.svc.example.", "SRV"),
             ("f1.fixed.svc.example.", "TXT"), ("empty.svc.example.", "SRV"),
             ("web-5.web.svc.example.", "AAAA")]
    for i, (n, t) in enumerate(names):
        c["q%02d-%s-%s" % (i, n.strip(".").replace(".", "_")[:30] or "root", t)] = query(n, t)
    c["case-mixed"] = query("WeB.SvC.ExAmPlE.", "SRV")
    c["edns-512"] = query("big.svc.example.", "SRV", edns=0, payload=512)
    c["edns-1232-do"] = query("big.svc.example.", "AAAA", edns=0, payload=1232, do=True)
    c["edns-4096"] = query("big.svc.example.", "SRV", edns=0, payload=4096)
    c["edns-100"] = query("web.svc.example.", "SRV", edns=0, payload=100)
    c["edns-v1"] = query("web.svc.example.", "A", edns=1)
    c["edns-v255"] = query("web.svc.example.", "A", edns=255)
    c["ch-version"] = query("version.server.", "TXT", "CH")
    c["ch-id"] = query("id.server.", "TXT", "CH")
    c["ch-hostname-bind"] = query("hostname.bind.", "ANY", "CH")
    c["class-hs"] = query("web.svc.example.", "A", "HS")
    c["class-none"] = query("web.svc.example.", "A", "NONE")
    c["class-any"] = query("web.svc.example.", "A", "ANY")
    c["opcode-notify"] = query("svc.example.", "SOA", opcode=dns.opcode.NOTIFY)
    c["opcode-update"] = query("svc.example.", "SOA", opcode=dns.opcode.UPDATE)
    c["opcode-15"] = hdr(flags=0x7900) + wname("web.svc.example.") + b"\0\1\0\1"
    c["response"] = hdr(flags=0x8100) + wname("web.svc.example.") + b"\0\1\0\1"
    c["qd0"] = hdr(qd=0)
    c["qd2"] = hdr(qd=2) + (wname("web.svc.example.") + b"\0\1\0\1") * 2
    c["qd65535"] = hdr(qd=65535) + wname("web.svc.example.") + b"\0\1\0\1"
    c["an-lie"] = hdr(an=5) + wname("web.svc.example.") + b"\0\1\0\1"
    c["ar-lie"] = hdr(ar=65535) + wname("web.svc.example.") + b"\0\1\0\1"
    c["question-ptr"] = hdr() + b"\xc0\x0c\0\1\0\1"
    c["ptr-loop"] = (hdr(ar=1) + wname("web.svc.example.") + b"\0\1\0\1" +
                     b"\xc0\x21" + b"\0\x29\x04\xd0\0\0\0\0\0\0")
    c["ptr-forward"] = (hdr(ar=1) + wname("web.svc.example.") + b"\0\1\0\1" +
                        b"\xc0\x40" + b"\0\x29\x04\xd0\0\0\0\0\0\0")
    c["ptr-back"] = (hdr(an=1) + wname("web.svc.example.") + b"\0\1\0\1" +
                     b"\xc0\x0c\0\1\0\1\0\0\0\x05\0\x04\xc0\0\2\1")
    c["label-64"] = hdr() + b"\x40" + b"a" * 64 + b"\0\0\1\0\1"
    c["name-256"] = hdr() + (b"\x3f" + b"a" * 63) * 4 + b"\0\0\1\0\1"
    c["label-ext"] = hdr() + b"\x41abc\0\0\1\0\1"
    opt = b"\0\0\x29\x04\xd0\0\0\0\0\0\0"
    c["opt-in-answer"] = hdr(an=1) + wname("web.svc.example.") + b"\0\1\0\1" + opt
    c["opt-twice"] = hdr(ar=2) + wname("web.svc.example.") + b"\0\1\0\1" + opt + opt
    c["opt-badlen"] = (hdr(ar=1) + wname("web.svc.example.") + b"\0\1\0\1" +
                       b"\0\0\x29\x04\xd0\0\0\0\0\0\x08\0\x0a\0\x09abc")
    c["opt-options"] = (hdr(ar=1) + wname("web.svc.example.") + b"\0\1\0\1" +
                        b"\0\0\x29\x04\xd0\0\0\0\0\0\x0c\0\x0a\0\x08abcdefgh")
    c["opt-nonroot"] = hdr(ar=1) + wname("web.svc.example.") + b"\0\1\0\1" + b"\1a" + opt
    c["qtype-opt"] = hdr() + wname("web.svc.example.") + b"\0\x29\0\1"
    c["ixfr"] = (hdr(ns=1) + wname("svc.example.") + b"\0\xfb\0\1" + b"\xc0\x0c\0\6\0\1\0\0\0\0" +
                 b"\0\x16\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1\0\0\0\0")
    full = query("web.svc.example.", "SRV", edns=0)
    c["truncated-20"] = full[:20]
    c["truncated-11"] = full[:11]
    c["trailing"] = query("web.svc.example.", "A") + b"garbage"
    # EDNS Client Subnet (RFC 7871): well-formed for the sticky service, and malformed
    for name, (addr, bits) in (("ecs-v4", ("10.1.2.0", 24)), ("ecs-v6", ("2001:db8::", 56)),
                               ("ecs-zero", ("0.0.0.0", 0))):
        c[name] = dns.message.make_query("sticky.svc.example.", "A", use_edns=0, id=0x1234,
                                         options=[dns.edns.ECSOption(addr, bits)]).to_wire()
    ecs = b"\0\0\x29\x04\xd0\0\0\0\0\0\x0b\0\x08\0\x07\0\x03\x18\0\x0a\x01\x02"
    c["ecs-bad-family"] = hdr(ar=1) + wname("sticky.svc.example.") + b"\0\1\0\1" + ecs
    return c


def frame(msg):
    return struct.pack("!H", len(msg)) + msg


def tcp_corpus(answers):
    c = {}
    a = query("web.svc.example.", "A")
    srv = query("big.svc.example.", "SRV")
    c["one"] = b"\0\0\0\1\x40" + frame(a)
    c["three-pipelined"] = b"\1\2\3\4\x07" + frame(a) + frame(srv) + frame(answers["ch-version"])
    c["zero-length-close"] = b"\0\0\0\2\x10" + frame(a) + b"\0\0" + frame(a)
    c["partial"] = b"\0\0\0\3\x03" + frame(a) + frame(srv)[:9]
    c["big-length"] = b"\0\0\0\4\x81" + b"\xff\xff" + a
    c["paused-small-bound"] = b"\x5a\5\6\7\x01" + frame(srv) * 6
    c["dropped-response"] = b"\0\0\0\5\x20" + frame(answers["response"]) + frame(a)
    c["malformed"] = b"\0\0\0\6\x11" + frame(answers["qd2"]) + frame(b"\1") + frame(a)
    c["one-byte-at-a-time"] = b"\0\0\0\7\x00" + frame(a) + frame(answers["edns-4096"])
    return c


def registry_corpus():
    c = {}
    srcs = [os.path.join(TOP, "zones", "example.yaml")]
    d = os.path.join(TOP, "tests", "system", "data")
    srcs += [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith(".yaml")]
    for p in srcs:
        with open(p, "rb") as f:
            c[os.path.basename(p).replace(".yaml", "")] = f.read()
    c["flow-everything"] = (
        b"server: {listen: [\"127.0.0.1:0\", \"[::1]:0\"], zone: s.test., ttl: 1, max_answers: 0,"
        b" edns_udp_size: 512, soa: {mname: ns.s.test., rname: h.s.test., minimum: 1},"
        b" ns: [ns.s.test.], rrl: {rate: 10, slip: 2}, watch: false}\n"
        b"defaults: {policy: weighted, check: {type: http, path: /h, expect: [200, 300-399],"
        b" interval: 250ms, timeout: 100ms, rise: 1, fall: 1, unhealthy_interval: 1m}}\n"
        b"services: {a: {port: 1, panic_threshold: 0.5, instances: [{name: x, address: 127.0.0.2,"
        b" weight: 0, priority: 65535, tags: [t]}, {name: y, address: \"::1\", port: 65535}]}}\n")
    c["answer-features"] = (
        b"server: {zone: s.test., sites: {e: [10.1.0.0/16, \"::1\"], w: 10.2.0.0/16}}\n"
        b"defaults: {check: {type: none}, failover: false, ttl_min: 1}\n"
        b"services: {a: {port: 1, failover: true, policy: hashed, instances: [{name: x, address: 192.0.2.1,"
        b" priority: 1, site: e}, {name: y, address: \"2001:db8::1\", priority: 0}],"
        b" locality: strict, min_local: 2}}\n")
    c["include-and-zones"] = b"zones: [a.zone, /etc/passwd, ../x.zone]\ninclude: [\"*.yaml\", /etc/*]\n"
    c["anchors-and-merge"] = (b"defaults: &d {check: {type: none}}\nservices:\n  a: &a\n    port: 1\n"
                              b"    instances: [{name: i, address: 192.0.2.1}]\n  b: *a\n  c: {<<: *a}\n")
    # two registries, the second a change of the first (fuzz_registry.c: the
    # delta must answer as the whole build of the second)
    svc = (b"defaults: {check: {type: none}, policy: fixed}\nservices:\n"
           b"  a: {port: 80, tags: [t], instances: [{name: i, address: 192.0.2.1},"
           b" {name: j, address: \"2001:db8::1\", tags: [u]}]}\n"
           b"  b: {protocol: udp, port: 53, instances: [{name: k, address: 192.0.2.2}]}\n")
    c["change-services"] = (
        svc + b"#--\n" +
        b"defaults: {check: {type: none}, policy: fixed}\nservices:\n"
        b"  a: {port: 81, tags: [v], instances: [{name: i, address: 192.0.2.3, weight: 0}]}\n"
        b"  c: {protocol: udp, port: 53, instances: [{name: k, address: 192.0.2.2}]}\n")
    c["change-server"] = svc + b"#--\nserver: {ttl: 9}\n" + svc
    # SPEC section 11 (README "More answers")
    c["more-answers"] = (
        b"server: {zone: s.test., reverse: [192.0.2.0/24, \"2001:db8::/32\", 10.0.0.1]}\n"
        b"defaults: {empty: nxdomain, check: {type: none}}\n"
        b"services: {a: {port: 1, empty: nodata, instances: [{name: x, address: [192.0.2.1, \"2001:db8::1\"],"
        b" check_address: \"2001:db8::1\"}]},"
        b" b: {port: 2, meta: {version: 1.4.2, commit: ab12cd},"
        b" ports: {http: 8080, dns: {port: 53, protocol: udp}},"
        b" instances: [{name: y, address: 192.0.2.2, meta: {commit: ef34, k: \"\"},"
        b" ports: {http: 8081}}]}}\n")
    return c


def write(folder, items):
    os.makedirs(folder, exist_ok=True)
    for name, data in items.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)


def main():
    answers = answer_corpus()
    write(os.path.join(HERE, "corpus", "answer"), answers)
    write(os.path.join(HERE, "corpus", "tcp"), tcp_corpus(answers))
    write(os.path.join(HERE, "corpus", "registry"), registry_corpus())
    return 0


if __name__ == "__main__":
    sys.exit(main())
