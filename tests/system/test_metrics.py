# SPDX-License-Identifier: BSD-3-Clause
# test_metrics.py: GET /metrics, parsed strictly, against the traffic the test sent.
"""/metrics in the Prometheus text format.

The exposition is parsed with prometheus_client's parser (Debian's
python3-prometheus-client) and every line is also checked against the
format's grammar here, since that parser accepts some sloppiness. Counters
are compared as deltas between two scrapes around traffic the test sends,
so the readiness probes of the fixture do not matter.
"""

import os
import re
import struct
import time

import dns.message
import dns.rcode
from prometheus_client.parser import text_string_to_metric_families

from api_helpers import ZONE, registry_text, request, request_json, start
from conftest import query, udp_raw

SERVICES = ("  web:\n"
            "    port: 8080\n"
            "    check: {type: none}\n"
            "    instances:\n"
            "      - {name: w1, address: 192.0.2.1}\n"
            "      - {name: w2, address: 192.0.2.2}\n"
            "      - {name: w3, address: 192.0.2.3}\n"
            "  down:\n"
            "    port: 9\n"
            "    check: {type: tcp, interval: 200ms, timeout: 100ms, rise: 1, fall: 1}\n"
            "    instances:\n"
            "      - {name: d1, address: 127.0.0.1}\n")

NAME_RE = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE_RE = re.compile(r"^(%s)(\{%s(?:,%s)*\})? (-?[0-9.]+(?:e[-+]?[0-9]+)?|\+Inf|NaN)$"
                       % (NAME_RE, LABEL, LABEL))
COMMENT_RE = re.compile(r"^# (HELP|TYPE) (%s) (.+)$" % NAME_RE)


def scrape(d):
    """Returns {(name, sorted labels): value} from /metrics, checking the format."""
    status, hdrs, body = request(d, "GET", "/metrics")
    assert status == 200
    assert hdrs["content-type"].startswith("text/plain; version=0.0.4")
    text = body.decode("utf-8")
    assert text.endswith("\n")
    typed, helped = {}, set()
    for line in text.splitlines():
        if line.startswith("#"):
            m = COMMENT_RE.match(line)
            assert m, "bad comment line: %r" % line
            if m.group(1) == "TYPE":
                assert m.group(3) in ("counter", "gauge", "histogram"), line
                assert m.group(2) not in typed, "second TYPE for " + m.group(2)
                typed[m.group(2)] = m.group(3)
            else:
                helped.add(m.group(2))
            continue
        m = SAMPLE_RE.match(line)
        assert m, "bad sample line: %r" % line
        name = m.group(1)
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in typed or base in typed, "sample before its TYPE: %r" % line
        if typed.get(name) == "counter" or typed.get(base) == "counter":
            assert name.endswith("_total"), line
    assert set(typed) == helped
    values = {}
    for family in text_string_to_metric_families(text):
        assert family.documentation, family.name
        for s in family.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in values, "duplicate sample %r" % (key,)
            values[key] = s.value
    return values


def val(values, name, **labels):
    return values[(name, tuple(sorted(labels.items())))]


def wait_metric(d, name, want, timeout=5.0, **labels):
    deadline = time.monotonic() + timeout
    while True:
        v = scrape(d)
        if val(v, name, **labels) == want or time.monotonic() > deadline:
            assert val(v, name, **labels) == want, (name, labels, v)
            return v
        time.sleep(0.1)


def test_metrics_count_the_traffic(tmp_path):
    d = start(tmp_path, registry_text(SERVICES))
    try:
        before = scrape(d)
        for _ in range(37):
            assert query(d, "web." + ZONE, "A").rcode() == dns.rcode.NOERROR
        for _ in range(11):
            r = query(d, "_web._tcp." + ZONE, "SRV")
            assert r.rcode() == dns.rcode.NOERROR and len(r.answer[0]) == 3
        for _ in range(5):
            assert query(d, "web." + ZONE, "AAAA", transport="tcp").rcode() == dns.rcode.NOERROR
        for _ in range(3):
            assert query(d, "nope." + ZONE, "TXT").rcode() == dns.rcode.NXDOMAIN
        # no question at all: FORMERR
        reply = udp_raw(d.port, struct.pack("!HHHHHH", 4242, 0x0100, 0, 0, 0, 0))
        assert dns.message.from_wire(reply, question_only=True).rcode() == dns.rcode.FORMERR
        # a response (QR=1) is dropped, not answered
        resp = dns.message.make_response(dns.message.make_query("web." + ZONE, "A"))
        assert udp_raw(d.port, resp.to_wire(), timeout=0.5) is None
        after = scrape(d)

        def delta(name, **labels):
            return val(after, name, **labels) - val(before, name, **labels)

        q = "srvd_dns_queries_total"
        assert delta(q, transport="udp", qtype="A") == 37
        assert delta(q, transport="udp", qtype="SRV") == 11
        assert delta(q, transport="udp", qtype="TXT") == 3
        # the FORMERR query and the dropped response: neither question was read
        assert delta(q, transport="udp", qtype="other") == 2
        assert delta(q, transport="tcp", qtype="AAAA") == 5
        for t in ("udp", "tcp"):
            for k in ("A", "AAAA", "SRV", "SOA", "NS", "TXT", "ANY", "other"):
                if (t, k) not in (("udp", "A"), ("udp", "SRV"), ("udp", "TXT"),
                                  ("udp", "other"), ("tcp", "AAAA")):
                    assert delta(q, transport=t, qtype=k) == 0, (t, k)
        r = "srvd_dns_responses_total"
        assert delta(r, rcode="NOERROR") == 37 + 11 + 5
        assert delta(r, rcode="NXDOMAIN") == 3
        assert delta(r, rcode="FORMERR") == 1
        for rc in ("SERVFAIL", "NOTIMP", "REFUSED", "BADVERS"):
            assert delta(r, rcode=rc) == 0
        assert delta("srvd_dns_malformed_total") == 1
        assert delta("srvd_dns_dropped_total") == 1
        assert delta("srvd_dns_truncated_total") == 0
        assert delta("srvd_tcp_connections_total") == 5
        h = "srvd_dns_answer_duration_seconds"
        assert delta(h + "_count") == 37 + 11 + 5 + 3 + 1 + 1
        assert delta(h + "_bucket", le="+Inf") == delta(h + "_count")
        assert delta(h + "_sum") > 0
        buckets = sorted((float(dict(k[1])["le"]), v) for k, v in after.items()
                         if k[0] == h + "_bucket")
        assert [v for _, v in buckets] == sorted(v for _, v in buckets)  # cumulative
    finally:
        d.stop()


def test_metrics_instances_probes_reloads_serial(tmp_path):
    d = start(tmp_path, registry_text(SERVICES))
    try:
        v = wait_metric(d, "srvd_instances", 1, service="down", state="failing")
        assert val(v, "srvd_instances", service="down", state="passing") == 0
        assert val(v, "srvd_instances", service="web", state="passing") == 3
        assert val(v, "srvd_instances", service="web", state="failing") == 0
        assert val(v, "srvd_instances_served", service="web") == 3
        assert val(v, "srvd_instances_served", service="down") == 0
        assert val(v, "srvd_health_probes_total", type="tcp", outcome="fail") >= 1
        assert val(v, "srvd_health_probes_total", type="http", outcome="pass") == 0
        build = [k for k in v if k[0] == "srvd_build_info"]
        assert len(build) == 1 and dict(build[0][1])["version"] and v[build[0]] == 1

        soa = query(d, ZONE, "SOA").answer[0][0]
        assert v[("srvd_registry_serial", ())] == soa.serial

        # an invalid reload is counted and changes nothing else
        path = os.path.join(str(tmp_path), "srvd.yaml")
        with open(path) as f:
            original = f.read()
        with open(path, "w") as f:
            f.write(original.replace("192.0.2.3", "192.0.2.333"))
        before = scrape(d)
        assert request_json(d, "POST", "/v1/reload")[0] == 400
        after = scrape(d)
        assert (val(after, "srvd_reloads_total", result="failed")
                - val(before, "srvd_reloads_total", result="failed")) == 1
        assert val(after, "srvd_reloads_total", result="ok") == val(
            before, "srvd_reloads_total", result="ok")
        assert after[("srvd_registry_serial", ())] == soa.serial
        assert after[("srvd_reload_last_failure_timestamp_seconds", ())] > time.time() - 60

        # a changing reload raises the serial, and /metrics follows the SOA
        with open(path, "w") as f:
            f.write(original.replace("192.0.2.3", "192.0.2.4"))
        assert request_json(d, "POST", "/v1/reload")[1]["result"] == "ok"
        after2 = scrape(d)
        assert (val(after2, "srvd_reloads_total", result="ok")
                - val(after, "srvd_reloads_total", result="ok")) == 1
        soa2 = query(d, ZONE, "SOA").answer[0][0]
        assert soa2.serial > soa.serial
        assert after2[("srvd_registry_serial", ())] == soa2.serial
        assert val(after2, "srvd_instances", service="web", state="passing") == 3
        # a reload that changes nothing
        assert request_json(d, "POST", "/v1/reload")[1]["result"] == "unchanged"
        after3 = scrape(d)
        assert (val(after3, "srvd_reloads_total", result="unchanged")
                - val(after2, "srvd_reloads_total", result="unchanged")) == 1
    finally:
        d.stop()
