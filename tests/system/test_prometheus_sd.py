# SPDX-License-Identifier: BSD-3-Clause
# test_prometheus_sd.py: GET /v1/sd/prometheus, and Debian's Prometheus following it.
"""Prometheus HTTP service discovery (README "Discovery over HTTP", issue 19).

The format checks read /v1/sd/prometheus directly. The tool test runs
Debian's prometheus (2.42) with http_sd_configs against srvd and real HTTP
backends on 127.0.0.x: /api/v1/targets must list exactly the passing
instances with srvd's labels, drop one whose backend stops, and show the
scrape of srvd's own /metrics healthy (health "up", no lastError).

The tool test needs the Debian package prometheus (./dev test installs it);
skipped, saying so, under SRVD_TEST_TOOLS=0.
"""

import json
import os
import re

import pytest

from api_helpers import registry_text, request, request_json, start
from conftest import SLOW, free_port
from tools import Backend, Process, http_get, need_tool, poll

LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
CHECK = "{type: http, path: /, interval: 200ms, timeout: 200ms, rise: 1, fall: 1}"
BOUND = 30.0 * SLOW  # Prometheus's start and a refresh or two, on a loaded CI machine


def services(backends):
    """web: the HTTP-checked backends and one address nothing listens on (never passes);
    docs: record data only (check none, documentation addresses: no traffic)."""
    text = ("  web:\n"
            "    port: 80\n"
            "    tags: [http]\n"
            "    check: %s\n"
            "    instances:\n" % CHECK)
    for name, b in backends:
        text += "      - {name: %s, address: %s, port: %d, tags: [%s]}\n" % (
            name, b.addr, b.port, "canary" if name == "w1" else "v1-0")
    text += "      - {name: dead, address: 127.0.0.79, port: 9}\n"
    text += ("  docs:\n"
             "    port: 443\n"
             "    check: {type: none}\n"
             "    instances:\n"
             "      - {name: v6, address: \"2001:db8::5\"}\n"
             "      - {name: v4, address: 192.0.2.7, port: 8443}\n")
    return text


@pytest.fixture
def backends():
    bs = [("w1", Backend("w1", "127.0.0.71")), ("w2", Backend("w2", "127.0.0.72"))]
    yield bs
    for _, b in bs:
        b.stop()


def sd(d, query=""):
    status, hdrs, data = request(d, "GET", "/v1/sd/prometheus" + query)
    assert status == 200, data
    assert hdrs["content-type"].startswith("application/json")
    assert hdrs["x-srvd-index"].isdigit()
    groups = json.loads(data)
    assert isinstance(groups, list)
    for g in groups:
        assert set(g) == {"targets", "labels"} and len(g["targets"]) == 1
        assert all(LABEL_NAME.match(k) for k in g["labels"]), g
        assert all(isinstance(v, str) for v in g["labels"].values()), g
    return {g["targets"][0]: g["labels"] for g in groups}


def test_sd_format(tmp_path, backends):
    d = start(tmp_path, registry_text(services(backends)))
    w1, w2 = backends[0][1], backends[1][1]
    want = {"%s:%d" % (w1.addr, w1.port), "%s:%d" % (w2.addr, w2.port),
            "[2001:db8::5]:443", "192.0.2.7:8443"}
    got = poll(lambda: (lambda t: t if set(t) == want else None)(sd(d)), 10 * SLOW,
               "the passing instances in /v1/sd/prometheus", d.stderr_text)
    one = got["%s:%d" % (w1.addr, w1.port)]
    assert one == {"__meta_srvd_service": "web", "__meta_srvd_instance": "w1",
                   "__meta_srvd_tags": ",http,canary,", "__meta_srvd_health": "passing"}
    assert got["[2001:db8::5]:443"]["__meta_srvd_tags"] == ",,"  # Consul's form for none

    # ?service= one service (names compare without case); an unknown one: none
    assert set(sd(d, "?service=DOCS")) == {"[2001:db8::5]:443", "192.0.2.7:8443"}
    assert sd(d, "?service=nothing") == {}
    # ?all=1: the failing instance too, saying so
    every = sd(d, "?service=web&all=1")
    assert every["127.0.0.79:9"]["__meta_srvd_health"] in ("failing", "unchecked")
    assert len(every) == 3
    status, body = request_json(d, "GET", "/v1/sd/prometheus?service=%zz")
    assert status == 400 and "service" in body["errors"][0]["message"]
    d.stop()


def prometheus_config(folder, api_port):
    text = """\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: srvd
    static_configs:
      - targets: ["127.0.0.1:%(api)d"]
  - job_name: web
    http_sd_configs:
      - url: "http://127.0.0.1:%(api)d/v1/sd/prometheus?service=web"
        refresh_interval: 1s
""" % {"api": api_port}
    path = os.path.join(folder, "prometheus.yml")
    with open(path, "w") as f:
        f.write(text)
    return path


def test_prometheus_follows_srvd(tmp_path, backends):
    exe = need_tool("prometheus", "prometheus", "/usr/bin/prometheus")
    d = start(tmp_path, registry_text(services(backends)))
    port = free_port()
    prom = Process([exe, "--config.file=" + prometheus_config(str(tmp_path), d.api_port),
                    "--storage.tsdb.path=" + str(tmp_path / "tsdb"),
                    "--web.listen-address=127.0.0.1:%d" % port],
                   str(tmp_path / "prometheus.log"))
    w1, w2 = backends[0][1], backends[1][1]

    def context():
        return "prometheus:\n%s\nsrvd:\n%s" % (prom.log(), d.stderr_text()[-4000:])

    def targets():
        status, body = http_get("127.0.0.1", port, "/api/v1/targets")
        if status != 200:
            return None
        return json.loads(body)["data"]["activeTargets"]

    def pool(name):
        return [t for t in targets() or [] if t["scrapePool"] == name]

    def web_addresses(want):
        def check():
            got = {t["discoveredLabels"]["__address__"]: t for t in pool("web")}
            return got if set(got) == want else None
        return check

    try:
        both = {"%s:%d" % (w1.addr, w1.port), "%s:%d" % (w2.addr, w2.port)}
        got = poll(web_addresses(both), BOUND, "Prometheus's web targets = w1, w2", context)
        labels = got["%s:%d" % (w1.addr, w1.port)]["discoveredLabels"]
        assert labels["__meta_srvd_service"] == "web"
        assert labels["__meta_srvd_instance"] == "w1"
        assert labels["__meta_srvd_tags"] == ",http,canary,"
        assert labels["__meta_srvd_health"] == "passing"

        # srvd's own /metrics scrapes cleanly
        own = poll(lambda: [t for t in pool("srvd") if t["health"] == "up"], BOUND,
                   "the scrape of srvd's /metrics up", context)
        assert own[0]["lastError"] == "", own

        # a failed instance is dropped
        backends[1][1].stop()
        poll(web_addresses({"%s:%d" % (w1.addr, w1.port)}), BOUND,
             "w2 dropped from Prometheus's targets", context)
        assert prom.alive(), context()
    finally:
        prom.stop()
        d.stop()
