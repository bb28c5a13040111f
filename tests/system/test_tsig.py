# SPDX-License-Identifier: BSD-3-Clause
# test_tsig.py: TSIG on zone transfers (server.transfer.tsig) with real clients.
"""TSIG-signed AXFR/IXFR from the real daemon.

dig -y and kdig -y pull the zone; dnspython checks the TSIG of every
message of an AXFR and an IXFR. Unsigned requests get REFUSED (unsigned);
a wrong key name NOTAUTH + BADKEY and a wrong secret NOTAUTH + BADSIG
(unsigned answers, RFC 8945 5.3.2); a request signed 1000 s in the past
NOTAUTH + BADTIME, signed. transfer.allow still applies to signed requests.
A 100,000-record zone transfers signed in a few seconds (time printed).
NOTIFY goes out signed and only a response signed for it acknowledges it.
"""

import re
import signal
import socket
import struct
import time

import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.tsigkeyring
import pytest

from conftest import HOST, SLOW, TIMEOUT, tcp_raw
from test_xfr import ZONE, dig_axfr, records, registry, run, soa_serial, start

SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ="
OTHER = "b3RoZXItb3RoZXItb3RoZXItb3RoZXItb3RoZXItMTIz"
KEY = dns.name.from_text("k1.")
BADKEY, BADSIG, BADTIME = 17, 16, 18


def tsig_registry(allow=("127.0.0.0/8",), alg="hmac-sha256", secret=SECRET, **kw):
    text = registry(0, 0, allow=allow, **kw)
    tsig = "tsig: {name: k1., algorithm: %s, secret: \"%s\"}" % (alg, secret)
    # the transfer line test_xfr writes, with the key added
    return text.replace("  transfer: {allow:", "  transfer: {%s, allow:" % tsig, 1)


def keyring(name="k1.", secret=SECRET, alg="hmac-sha256"):
    return {dns.name.from_text(name): dns.tsig.Key(name, secret, alg)}


def signed_query(rdtype, name="k1.", secret=SECRET, alg="hmac-sha256", serial=None):
    q = dns.message.make_query(ZONE, rdtype)
    if serial is not None:
        q.authority = [dns.rrset.from_text(ZONE, 0, "IN", "SOA", ". . %d 0 0 0 0" % serial)]
    if name:
        q.use_tsig(keyring(name, secret, alg), keyname=name, algorithm=alg)
    return q


def skip_name(w, i):
    while True:
        n = w[i]
        if n & 0xC0 == 0xC0:
            return i + 2
        if n == 0:
            return i + 1
        i += n + 1


def tsig_of(wire):
    """(rcode, TSIG error, MAC size) of a response, or (rcode, None, None) if unsigned."""
    qd, an, ns, ar = struct.unpack("!HHHH", wire[4:12])
    i = 12
    for _ in range(qd):
        i = skip_name(wire, i) + 4
    last = None
    for _ in range(an + ns + ar):
        i = skip_name(wire, i)
        rtype, _, _, rdlen = struct.unpack("!HHIH", wire[i:i + 10])
        last = (rtype, i + 10, rdlen)
        i += 10 + rdlen
    assert i == len(wire)
    rcode = wire[3] & 0x0F
    if not last or last[0] != 250:
        return rcode, None, None
    p = skip_name(wire, last[1]) + 8  # algorithm, time signed, fudge
    mac_size = struct.unpack("!H", wire[p:p + 2])[0]
    p += 2 + mac_size + 2
    error = struct.unpack("!H", wire[p:p + 2])[0]
    return rcode, error, mac_size


def dig_ok(out):
    """dig verified every TSIG: it says "Couldn't verify" or "failed" otherwise."""
    low = out.lower()
    assert "failed" not in low and "verify" not in low and "\tTSIG\t" in out, out


def raw_exchange(d, q):
    return tcp_raw(d.port, q.to_wire())


def test_signed_transfers_dig_kdig_dnspython(tmp_path):
    d = start(tmp_path, tsig_registry())

    out = run(["dig", "-y", "hmac-sha256:k1.:" + SECRET, "@" + HOST, "-p", str(d.port), ZONE,
               "AXFR", "+nocmd"])
    recs = records(out)
    assert recs and recs[0][1] == "SOA" and recs[-1][1] == "SOA", out
    assert ("w1.web.svc.test.", "A", "192.0.2.1") in recs
    dig_ok(out)
    serial = soa_serial(recs[0])
    d.wait_log(r"transfer: AXFR to 127\.0\.0\.1:\d+: serial %d, %d records" % (serial, len(recs)))

    out = run(["kdig", "-y", "hmac-sha256:k1.:" + SECRET, "@" + HOST, "-p", str(d.port), ZONE,
               "AXFR"])
    assert records(out) == recs, out
    assert "NOERROR" in out and "error" not in out.lower().replace("noerror", ""), out

    # dnspython checks every message's TSIG (first with the request MAC,
    # then each with the previous one); a small message size is not needed:
    # the web service is one message, so check the count of records instead
    got = []
    for m in dns.query.xfr(HOST, ZONE, port=d.port, keyring=keyring(), keyname="k1.",
                           keyalgorithm="hmac-sha256", timeout=TIMEOUT, lifetime=10 * SLOW):
        assert m.had_tsig
        got += [rr for rrset in m.answer for rr in rrset]
    assert len(got) == len(recs)

    # IXFR: a reload adds an instance, the difference comes signed
    with open(d.config, "w") as f:
        f.write(tsig_registry(extra_web="      - {name: w3, address: 192.0.2.3}"))
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log(r"reload \(SIGHUP\): serial (\d+)")
    out = run(["kdig", "-y", "hmac-sha256:k1.:" + SECRET, "@" + HOST, "-p", str(d.port), ZONE,
               "IXFR=%d" % serial])
    irecs = records(out)
    soas = [i for i, r in enumerate(irecs) if r[1] == "SOA"]
    assert len(soas) == 4, out
    assert ("w3.web.svc.test.", "A", "192.0.2.3") in irecs[soas[2] + 1:-1]
    assert "error" not in out.lower().replace("noerror", ""), out
    d.wait_log(r"transfer: IXFR to 127\.0\.0\.1:\d+: serial %d -> \d+, %d records" %
               (serial, len(irecs)))
    got = []  # dnspython raises on a bad TSIG in any message
    for m in dns.query.xfr(HOST, ZONE, rdtype="IXFR", serial=serial, port=d.port, relativize=False,
                           keyring=keyring(), keyname="k1.", keyalgorithm="hmac-sha256",
                           timeout=TIMEOUT, lifetime=10 * SLOW):
        assert m.had_tsig and m.rcode() == dns.rcode.NOERROR
        got += [(rrset.name.to_text().lower(), dns.rdatatype.to_text(rrset.rdtype),
                 rr.to_text().lower()) for rrset in m.answer for rr in rrset]
    assert got == irecs
    d.stop()


def test_unsigned_and_bad_tsig_refused(tmp_path, monkeypatch):
    d = start(tmp_path, tsig_registry())

    # unsigned: REFUSED, unsigned (dig without -y too)
    for rdtype, serial in (("AXFR", None), ("IXFR", 1)):
        w = raw_exchange(d, signed_query(rdtype, name=None, serial=serial))
        assert tsig_of(w) == (dns.rcode.REFUSED, None, None)
    out = run(["dig", "@" + HOST, "-p", str(d.port), ZONE, "AXFR", "+nocmd"])
    assert not records(out), out
    d.wait_log(r"transfer: AXFR from 127\.0\.0\.1:\d+ refused \(rcode 5, unsigned")

    # wrong key name: NOTAUTH, BADKEY, unsigned (MAC size 0)
    w = raw_exchange(d, signed_query("AXFR", name="k2."))
    assert tsig_of(w) == (dns.rcode.NOTAUTH, BADKEY, 0)
    with pytest.raises(dns.tsig.PeerBadKey):
        dns.query.tcp(signed_query("AXFR", name="k2."), HOST, port=d.port, timeout=TIMEOUT)
    # wrong algorithm is a key we do not have either
    w = raw_exchange(d, signed_query("AXFR", alg="hmac-sha512"))
    assert tsig_of(w) == (dns.rcode.NOTAUTH, BADKEY, 0)
    d.wait_log(r"refused \(rcode 9, TSIG BADKEY\)")

    # wrong secret: NOTAUTH, BADSIG, unsigned
    for rdtype, serial in (("AXFR", None), ("IXFR", 1)):
        w = raw_exchange(d, signed_query(rdtype, secret=OTHER, serial=serial))
        assert tsig_of(w) == (dns.rcode.NOTAUTH, BADSIG, 0)
    out = run(["dig", "-y", "hmac-sha256:k1.:" + OTHER, "@" + HOST, "-p", str(d.port), ZONE,
               "AXFR", "+nocmd"])
    assert not records(out), out
    out = run(["kdig", "-y", "hmac-sha256:k1.:" + OTHER, "@" + HOST, "-p", str(d.port), ZONE,
               "AXFR"])
    assert not records(out) and "BADSIG" in out, out
    d.wait_log(r"refused \(rcode 9, TSIG BADSIG\)")

    # signed 1000 s ago: NOTAUTH, BADTIME, signed with our key (MAC size 32)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() - 1000)
    q = signed_query("AXFR")
    wire = q.to_wire()  # signs now
    monkeypatch.setattr(time, "time", real)
    w = tcp_raw(d.port, wire)
    assert tsig_of(w) == (dns.rcode.NOTAUTH, BADTIME, 32)
    with pytest.raises(dns.tsig.PeerBadTime):
        dns.message.from_wire(w, keyring=keyring(), request_mac=q.mac)
    d.wait_log(r"refused \(rcode 9, TSIG BADTIME\)")

    # and the good key still works on the same daemon
    w = raw_exchange(d, signed_query("AXFR"))
    assert tsig_of(w) == (dns.rcode.NOERROR, 0, 32)
    d.stop()


def test_acl_applies_to_signed(tmp_path):
    d = start(tmp_path, tsig_registry(allow=("10.0.0.0/8",)))
    q = signed_query("AXFR")
    w = raw_exchange(d, q)
    # refused by transfer.allow, and signed since the request was
    assert tsig_of(w) == (dns.rcode.REFUSED, 0, 32)
    r = dns.message.from_wire(w, keyring=keyring(), request_mac=q.mac)
    assert r.rcode() == dns.rcode.REFUSED
    d.wait_log(r"refused \(rcode 5, not in transfer.allow\)")
    d.stop()


@pytest.mark.parametrize("alg", ["hmac-sha1", "hmac-sha512"])
def test_other_algorithms(tmp_path, alg):
    d = start(tmp_path, tsig_registry(alg=alg))
    out = run(["dig", "-y", "%s:k1.:%s" % (alg, SECRET), "@" + HOST, "-p", str(d.port), ZONE,
               "AXFR", "+nocmd"])
    recs = records(out)
    assert recs and recs[0][1] == "SOA" and recs[-1][1] == "SOA", out
    dig_ok(out)
    n = 0
    for m in dns.query.xfr(HOST, ZONE, port=d.port, keyring=keyring(alg=alg), keyname="k1.",
                           keyalgorithm=alg, timeout=TIMEOUT, lifetime=10 * SLOW):
        n += sum(1 for rrset in m.answer for _ in rrset)
    assert n == len(recs)
    d.stop()


def test_multi_message_signed(tmp_path):
    """2000 instances: an AXFR of several messages, each checked by dnspython
    with the previous message's MAC (RFC 8945 5.3.1)."""
    d = start(tmp_path, tsig_registry(big=2))
    n = msgs = 0
    for m in dns.query.xfr(HOST, ZONE, port=d.port, keyring=keyring(), keyname="k1.",
                           keyalgorithm="hmac-sha256", timeout=TIMEOUT, lifetime=30 * SLOW):
        assert m.had_tsig
        msgs += 1
        n += sum(1 for rrset in m.answer for _ in rrset)
    assert n > 8000 and msgs > 1, (n, msgs)
    d.stop()


def test_large_zone_signed(tmp_path):
    """25 services x 1000 instances (100,000 records): dig checks every
    message's TSIG; the time is printed and bounded."""
    d = start(tmp_path, tsig_registry(big=25))
    t0 = time.monotonic()
    out = run(["dig", "-y", "hmac-sha256:k1.:" + SECRET, "@" + HOST, "-p", str(d.port), ZONE,
               "AXFR", "+nocmd", "+onesoa"], timeout=60)  # the last SOA counted, not printed
    dt = time.monotonic() - t0
    dig_ok(out)
    n = len(records(out))
    assert n > 100000, out[-500:]
    m = re.search(r"XFR size: (\d+) records \(messages (\d+)", out)
    assert m and int(m.group(1)) == n + 1 and int(m.group(2)) > 10, out[-500:]
    ms = d.wait_log(r"transfer: AXFR to .* records, \d+ messages, ([\d.]+) ms")[0].group(1)
    print("signed AXFR of %d records in %s messages: srvd %s ms (built and signed), "
          "dig %.2f s in all" % (n, m.group(2), ms, dt))
    assert dt < 10 * SLOW
    d.stop()


def test_notify_signed(tmp_path):
    """NOTIFY is signed; only a response signed for that try acknowledges it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((HOST, 0))
    sock.settimeout(5 * SLOW)
    port = sock.getsockname()[1]
    text = tsig_registry().replace("allow: [", "notify: [\"%s:%d\"], allow: [" % (HOST, port), 1)
    d = start(tmp_path, text)
    try:
        wire, sender = sock.recvfrom(65535)
        # raises unless signed with k1 (dnspython checks the MAC and the time)
        q = dns.message.from_wire(wire, keyring=keyring())
        assert q.had_tsig and q.opcode() == dns.opcode.NOTIFY
        serial = q.answer[0][0].serial
        # a response signed with another secret does not count: srvd retries
        bad = dns.message.make_response(q)
        bad.use_tsig(keyring(secret=OTHER), keyname="k1.")
        sock.sendto(bad.to_wire(), sender)
        d.wait_log(r"notify: 127\.0\.0\.1:%d: response to serial %d fails TSIG \(BADSIG\)"
                   % (port, serial))
        while True:
            wire, sender = sock.recvfrom(65535)
            q = dns.message.from_wire(wire, keyring=keyring())
            if q.answer[0][0].serial == serial:
                break
        r = dns.message.make_response(q)  # signed with the request's key and MAC
        sock.sendto(r.to_wire(), sender)
        d.wait_log(r"notify: 127\.0\.0\.1:%d acknowledged serial %d \(2 tries\)"
                   % (port, serial))
    finally:
        sock.close()
    d.stop()
