# SPDX-License-Identifier: BSD-3-Clause
# test_more_answers.py: SPEC section 11 over the wire with dig (README "More answers").
"""The answers users ask for, from the real daemon, asked with dig:
`empty: nxdomain` (a service with no passing instance is NXDOMAIN,
subtree and zone transfer alike, until an instance passes again)."""

import re
import subprocess

from check_backends import TcpBackend
from conftest import HOST, SLOW, Srvd, wait_until, write_registry

ZONE = "svc.test."


def dig(d, *args):
    p = subprocess.run(["dig", "@" + HOST, "-p", str(d.port), "+time=2", "+tries=1"] +
                       list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=10 * SLOW)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


def status(d, name, rdtype="A"):
    """The rcode dig prints: NOERROR, NXDOMAIN..."""
    m = re.search(r"status: (\w+)", dig(d, name, rdtype))
    assert m
    return m.group(1)


def records(out):
    """(owner, type, rdata) of each record line of dig output, lowercased."""
    recs = []
    for line in out.splitlines():
        f = line.split()
        if line and not line.startswith(";") and len(f) >= 5 and f[2] == "IN":
            recs.append((f[0].lower(), f[3], " ".join(f[4:]).lower()))
    return recs


def start(tmp_path, text):
    return Srvd(write_registry(str(tmp_path), text), ZONE).start()


# --- empty: nxdomain ------------------------------------------------------------------------


def test_empty_nxdomain_follows_health(tmp_path):
    b = TcpBackend("127.0.0.71").start()
    text = ("server:\n  zone: %s\n  watch: false\n  transfer: {allow: [127.0.0.0/8]}\n"
            "services:\n"
            "  web:\n"
            "    port: %d\n"
            "    empty: nxdomain\n"
            "    check: {type: tcp, interval: 200ms, timeout: 150ms, rise: 1, fall: 1}\n"
            "    instances:\n"
            "      - {name: w1, address: 127.0.0.71, tags: [canary]}\n"
            "  db:\n"
            "    port: 5432\n"
            "    check: {type: none}\n"
            "    instances:\n"
            "      - {name: d1, address: 192.0.2.21}\n" % (ZONE, b.port))
    d = start(tmp_path, text)
    names = ["web." + ZONE, "canary.web." + ZONE, "_web._tcp." + ZONE,
             "_canary._tcp.web." + ZONE, "w1.web." + ZONE, "_health.web." + ZONE,
             "_health.w1.web." + ZONE]
    try:
        wait_until(lambda: dig(d, "+short", "web." + ZONE, "A").split() == ["127.0.0.71"],
                   10 * SLOW, "w1 served", d)
        assert status(d, "_health.web." + ZONE, "TXT") == "NOERROR"
        assert ("web." + ZONE, "A", "127.0.0.71") in records(dig(d, ZONE, "AXFR"))
        b.stop()
        wait_until(lambda: status(d, "web." + ZONE) == "NXDOMAIN", 10 * SLOW,
                   "web NXDOMAIN", d)
        for name in names:
            for rdtype in ("A", "SRV", "TXT"):
                assert status(d, name, rdtype) == "NXDOMAIN", (name, rdtype)
        out = dig(d, "web." + ZONE, "A")
        assert re.search(r"^svc\.test\.\s+\d+\s+IN\s+SOA\s", out, re.M), out  # negative TTL
        assert status(d, "db." + ZONE) == "NOERROR"
        xfr = records(dig(d, ZONE, "AXFR"))
        assert xfr and not [r for r in xfr if "web" in r[0]], xfr
        assert ("db." + ZONE, "A", "192.0.2.21") in xfr
        b.start()
        wait_until(lambda: status(d, "web." + ZONE) == "NOERROR", 10 * SLOW,
                   "web back", d)
        assert dig(d, "+short", "web." + ZONE, "A").split() == ["127.0.0.71"]
    finally:
        d.stop()
        b.stop()


# --- meta -----------------------------------------------------------------------------------

META_SERVICES = ("  web:\n"
                 "    port: 80\n"
                 "    meta: {version: 1.4.2, commit: ab12cd}\n"
                 "    check: {type: none}\n"
                 "    instances:\n"
                 "      - {name: web-1, address: 192.0.2.11, meta: {commit: ef34}}\n"
                 "      - {name: web-2, address: 192.0.2.12}\n")


def test_meta_txt_api_and_page(tmp_path):
    import browser
    from api_helpers import registry_text, request_json
    from api_helpers import start as api_start

    d = api_start(tmp_path, registry_text(
        META_SERVICES, extra="  transfer: {allow: [127.0.0.0/8]}\n"))
    try:
        assert dig(d, "+short", "web-1.web." + ZONE, "TXT").split() == [
            '"version=1.4.2"', '"commit=ef34"']
        assert dig(d, "+short", "web-2.web." + ZONE, "TXT").split() == [
            '"version=1.4.2"', '"commit=ab12cd"']
        assert status(d, "web." + ZONE, "TXT") == "NOERROR"
        assert ("web-1.web." + ZONE, "TXT", '"version=1.4.2" "commit=ef34"') in records(
            dig(d, ZONE, "AXFR"))
        st, body = request_json(d, "GET", "/v1/services/web")
        assert st == 200, body
        assert body["meta"] == {"version": "1.4.2", "commit": "ab12cd"}, body
        inst = {i["name"]: i for i in body["instances"]}
        assert inst["web-1"]["meta"] == {"version": "1.4.2", "commit": "ef34"}, inst
        assert list(inst["web-1"]["meta"]) == ["version", "commit"]
        why = browser.missing()
        if why:
            return  # the API above is what the page shows; the browser part needs Chromium
        b = browser.Browser(1280, 900)
        try:
            b.open("http://127.0.0.1:%d/" % d.api_port)
            cell = ("const tr = document.querySelector('tr[data-instance=\"web-1\"]');"
                    "return tr ? [...tr.querySelectorAll('.badge.meta')].map(e => e.textContent)"
                    " : null;")
            b.wait_for("web-1's meta shown",
                       lambda: b.js(cell) == ["version=1.4.2", "commit=ef34"], 10 * SLOW)
        finally:
            b.close()
    finally:
        d.stop()


def test_meta_in_prometheus_sd_and_consul(tmp_path):
    from api_helpers import registry_text, request_json
    from api_helpers import start as api_start

    d = api_start(tmp_path, registry_text(META_SERVICES))
    try:
        st, groups = request_json(d, "GET", "/v1/sd/prometheus")
        assert st == 200, groups
        labels = {g["labels"]["__meta_srvd_instance"]: g["labels"] for g in groups}
        assert labels["web-1"]["__meta_srvd_meta_version"] == "1.4.2", labels
        assert labels["web-1"]["__meta_srvd_meta_commit"] == "ef34", labels
        assert labels["web-2"]["__meta_srvd_meta_commit"] == "ab12cd", labels
        st, entries = request_json(d, "GET", "/v1/catalog/service/web")
        assert st == 200, entries
        meta = {e["ServiceID"]: e["ServiceMeta"] for e in entries}
        assert meta["web-1.web"] == {"priority": "0", "version": "1.4.2", "commit": "ef34"}, meta
    finally:
        d.stop()


# --- named ports ----------------------------------------------------------------------------


def test_named_ports(tmp_path):
    from api_helpers import registry_text, request_json
    from api_helpers import start as api_start

    services = ("  web:\n"
                "    port: 80\n"
                "    ports: {http: 8080, grpc: 9090, dns: {port: 53, protocol: udp}}\n"
                "    check: {type: none}\n"
                "    instances:\n"
                "      - {name: web-1, address: 192.0.2.11, ports: {grpc: 9191}}\n"
                "      - {name: web-2, address: 192.0.2.12}\n")
    d = api_start(tmp_path, registry_text(services,
                                          extra="  transfer: {allow: [127.0.0.0/8]}\n"))
    try:
        def srv(name):
            return sorted(dig(d, "+short", name, "SRV").splitlines())

        assert srv("_http._tcp.web." + ZONE) == [
            "0 1 8080 web-1.web.svc.test.", "0 1 8080 web-2.web.svc.test."]
        assert srv("_grpc._tcp.web." + ZONE) == [
            "0 1 9090 web-2.web.svc.test.", "0 1 9191 web-1.web.svc.test."]
        assert srv("_dns._udp.web." + ZONE) == [
            "0 1 53 web-1.web.svc.test.", "0 1 53 web-2.web.svc.test."]
        assert srv("_web._tcp." + ZONE) == [
            "0 1 80 web-1.web.svc.test.", "0 1 80 web-2.web.svc.test."]
        out = dig(d, "_grpc._tcp.web." + ZONE, "SRV")
        assert re.search(r"^web-1\.web\.svc\.test\.\s+\d+\s+IN\s+A\s+192\.0\.2\.11$", out,
                         re.M), out  # targets' addresses in additional
        xfr = records(dig(d, ZONE, "AXFR"))
        assert ("_grpc._tcp.web." + ZONE, "SRV", "0 1 9191 web-1.web.svc.test.") in xfr, xfr
        assert ("_dns._udp.web." + ZONE, "SRV", "0 1 53 web-2.web.svc.test.") in xfr, xfr
        st, body = request_json(d, "GET", "/v1/services/web")
        assert body["ports"]["dns"] == {"port": 53, "protocol": "udp"}, body
        inst = {i["name"]: i for i in body["instances"]}
        assert inst["web-1"]["ports"]["grpc"] == {"port": 9191, "protocol": "tcp"}, inst
        st, groups = request_json(d, "GET", "/v1/sd/prometheus")
        labels = {g["labels"]["__meta_srvd_instance"]: g["labels"] for g in groups}
        assert labels["web-1"]["__meta_srvd_port_grpc"] == "9191", labels
        assert labels["web-2"]["__meta_srvd_port_http"] == "8080", labels
    finally:
        d.stop()


# --- PTR ------------------------------------------------------------------------------------


def test_ptr_dig_x_and_forwarding(tmp_path):
    up_dir, main_dir = tmp_path / "up", tmp_path / "main"
    up_dir.mkdir()
    main_dir.mkdir()
    up = Srvd(write_registry(str(up_dir), (
        "server:\n  zone: other.test.\n  watch: false\n  reverse: [203.0.113.0/24]\n"
        "services:\n"
        "  far: {port: 1, check: {type: none}, instances: [{name: f1, address: 203.0.113.1}]}\n"
    )), "other.test.").start()
    text = ("server:\n  zone: %s\n  watch: false\n"
            "  reverse: [\"192.0.2.0/24\", \"2001:db8::/48\"]\n"
            "  forward: [\"127.0.0.1:%d\"]\n"
            "  transfer: {allow: [127.0.0.0/8]}\n"
            "services:\n"
            "  web:\n"
            "    port: 80\n"
            "    check: {type: none}\n"
            "    instances:\n"
            "      - {name: web-1, address: 192.0.2.10}\n"
            "      - {name: web-2, address: \"2001:db8::12\"}\n"
            "  api:\n"
            "    port: 81\n"
            "    check: {type: none}\n"
            "    instances:\n"
            "      - {name: a1, address: 192.0.2.10}\n"
            "      - {name: a2, address: 198.51.100.7}\n" % (ZONE, up.port))
    d = start(main_dir, text)
    try:
        assert sorted(dig(d, "+short", "-x", "192.0.2.10").split()) == [
            "a1.api.svc.test.", "web-1.web.svc.test."]
        assert dig(d, "+short", "-x", "2001:db8::12").split() == ["web-2.web.svc.test."]
        out = dig(d, "-x", "192.0.2.10")
        assert re.search(r"flags: qr aa", out), out
        # no instance there: NXDOMAIN with the reverse zone's SOA, serial as the zone's
        out = dig(d, "-x", "192.0.2.11")
        assert "status: NXDOMAIN" in out, out
        soa = re.search(r"^2\.0\.192\.in-addr\.arpa\.\s+\d+\s+IN\s+SOA\s+\S+ \S+ (\d+)", out,
                        re.M)
        assert soa, out
        zone_soa = dig(d, "+short", ZONE, "SOA").split()
        assert int(soa.group(1)) == int(zone_soa[2])
        assert dig(d, "+short", "2.0.192.in-addr.arpa", "NS").split() == ["ns1." + ZONE]
        # outside every prefix: forwarded, as any name outside srvd's zones
        assert dig(d, "+short", "-x", "203.0.113.1").split() == ["f1.far.other.test."]
        assert status(d, "2.113.0.203.in-addr.arpa", "PTR") == "NXDOMAIN"  # upstream's word
        # the service zone's transfer holds no PTR; the reverse zone is not transferable
        assert not [r for r in records(dig(d, ZONE, "AXFR")) if r[1] == "PTR"]
        assert "Transfer failed" in dig(d, "2.0.192.in-addr.arpa", "AXFR")
    finally:
        d.stop()
        up.stop()


def test_ptr_without_forward_is_refused(tmp_path):
    d = start(tmp_path, "server:\n  zone: %s\n  watch: false\n  reverse: [192.0.2.0/24]\n"
                        "services:\n  web: {port: 1, check: {type: none},"
                        " instances: [{name: w, address: 192.0.2.1}]}\n" % ZONE)
    try:
        assert dig(d, "+short", "-x", "192.0.2.1").split() == ["w.web.svc.test."]
        out = dig(d, "-x", "192.0.3.1")
        assert "status: REFUSED" in out and "flags: qr rd;" in out, out
    finally:
        d.stop()


# --- dual-stack -----------------------------------------------------------------------------


def test_dual_stack_answers_check_and_api(tmp_path):
    from api_helpers import registry_text, request_json
    from api_helpers import start as api_start

    b = TcpBackend("127.0.0.81").start()
    services = ("  web:\n"
                "    port: %d\n"
                "    check: {type: tcp, interval: 200ms, timeout: 150ms, rise: 1, fall: 1}\n"
                "    instances:\n"
                # the primary is ::1, where nothing listens on that port: the check
                # passes only because it probes check_address
                "      - {name: web-1, address: [\"::1\", 127.0.0.81],"
                " check_address: 127.0.0.81}\n"
                "  doc:\n"
                "    port: 80\n"
                "    check: {type: none}\n"
                "    instances:\n"
                "      - {name: d1, address: [192.0.2.10, \"2001:db8::10\"]}\n"
                "      - {name: d2, address: 192.0.2.11}\n" % b.port)
    d = api_start(tmp_path, registry_text(services,
                                          extra="  transfer: {allow: [127.0.0.0/8]}\n"))
    try:
        wait_until(lambda: dig(d, "+short", "web." + ZONE, "A").split() == ["127.0.0.81"],
                   10 * SLOW, "web-1 passing through check_address", d)
        assert dig(d, "+short", "web." + ZONE, "AAAA").split() == ["::1"]
        assert dig(d, "+short", "doc." + ZONE, "A").split() == ["192.0.2.10", "192.0.2.11"]
        assert dig(d, "+short", "doc." + ZONE, "AAAA").split() == ["2001:db8::10"]
        assert dig(d, "+short", "d1.doc." + ZONE, "AAAA").split() == ["2001:db8::10"]
        out = dig(d, "_doc._tcp." + ZONE, "SRV")
        add = [r for r in records(out) if r[1] in ("A", "AAAA")]
        assert ("d1.doc." + ZONE, "A", "192.0.2.10") in add, out
        assert ("d1.doc." + ZONE, "AAAA", "2001:db8::10") in add, out
        assert ("d2.doc." + ZONE, "A", "192.0.2.11") in add, out
        xfr = records(dig(d, ZONE, "AXFR"))
        for rec in [("doc." + ZONE, "AAAA", "2001:db8::10"), ("doc." + ZONE, "A", "192.0.2.10"),
                    ("d1.doc." + ZONE, "AAAA", "2001:db8::10"),
                    ("d1.doc." + ZONE, "A", "192.0.2.10")]:
            assert rec in xfr, (rec, xfr)
        st, body = request_json(d, "GET", "/v1/services/doc")
        inst = {i["name"]: i for i in body["instances"]}
        assert inst["d1"]["address"] == "192.0.2.10", inst
        assert inst["d1"]["addresses"] == ["192.0.2.10", "2001:db8::10"], inst
        assert inst["d2"]["addresses"] == ["192.0.2.11"], inst
        st, entries = request_json(d, "GET", "/v1/catalog/service/doc")
        tagged = {e["ServiceID"]: e["TaggedAddresses"] for e in entries}
        assert tagged["d1.doc"]["lan_ipv6"] == "2001:db8::10", tagged
        assert tagged["d1.doc"]["lan"] == "192.0.2.10", tagged
        b.stop()
        wait_until(lambda: dig(d, "+short", "web." + ZONE, "A").split() == [],
                   10 * SLOW, "web-1 withdrawn", d)
        assert dig(d, "+short", "web." + ZONE, "AAAA").split() == []
    finally:
        d.stop()
        b.stop()
