# SPDX-License-Identifier: BSD-3-Clause
# test_maintenance.py: drain and maintenance (README "Drain and maintenance") against the real daemon.
"""PUT /v1/services/S[/instances/I]/maintenance drains, DELETE ends it.

Three instances on 127.0.0.21-23 with a tcp check against listeners the
test runs. A thread sends A queries without pause while one instance is
drained: every query is answered NOERROR, and no answer after the PUT
returned holds the drained address. The drain survives a restart (the
file in the include folder) and DELETE brings the instance back.
"""

import json
import os
import threading
import time

import dns.message
import dns.query
import dns.rcode

from api_helpers import ZONE, attach_api, registry_text, request, request_json, start
from check_backends import TcpBackend
from conftest import SLOW, Srvd, health_fields, query, run_srvd, wait_until

TOKEN = "admin-secret"
ADDRS = ["127.0.0.21", "127.0.0.22", "127.0.0.23"]


class Listeners:
    """TCP backends on one port of several loopback addresses."""

    def __init__(self, addrs):
        self.backends = [TcpBackend(addrs[0]).start()]
        self.port = self.backends[0].port
        self.backends += [TcpBackend(a, self.port).start() for a in addrs[1:]]

    def stop(self):
        for b in self.backends:
            b.stop()


def services(port):
    return ("  web:\n"
            "    port: %d\n"
            "    max_answers: 0\n"
            "    check: {type: tcp, interval: 200ms, timeout: 150ms, rise: 1, fall: 1}\n"
            "    instances:\n"
            "      - {name: w1, address: %s}\n"
            "      - {name: w2, address: %s}\n"
            "      - {name: w3, address: %s}\n" % ((port,) + tuple(ADDRS)))


def a_set(d):
    r = query(d, "web." + ZONE, "A")
    assert r.rcode() == dns.rcode.NOERROR, r
    return sorted(rd.address for rrset in r.answer for rd in rrset)


def srv_ports_targets(d):
    r = query(d, "_web._tcp." + ZONE, "SRV")
    return sorted(rd.target.to_text() for rrset in r.answer for rd in rrset)


def txt(d, name):
    r = query(d, name, "TXT")
    out = []
    for rrset in r.answer:
        for rd in rrset:
            out += [s.decode() for s in rd.strings]
    return out


def fields(d, inst):
    return health_fields(d, "_health.%s.web.%s" % (inst, ZONE))


def serial(d):
    r = query(d, ZONE, "SOA")
    return r.answer[0][0].serial


def maint_file(folder):
    return os.path.join(str(folder), "services.d", ".srvd-maintenance.yaml")


class Load:
    """Sends A queries for web back to back from one thread; records
    (time sent, rcode or None for a timeout, addresses)."""

    def __init__(self, d):
        self.d = d
        self.results = []
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        q = dns.message.make_query("web." + ZONE, "A")
        while not self.stop_ev.is_set():
            sent = time.monotonic()
            try:
                r = dns.query.udp(q, self.d.host, port=self.d.port, timeout=2.0 * SLOW)
                addrs = sorted(rd.address for rrset in r.answer for rd in rrset)
                self.results.append((sent, r.rcode(), addrs))
            except dns.exception.Timeout:
                self.results.append((sent, None, []))

    def stop(self):
        self.stop_ev.set()
        self.thread.join(10)
        return self.results


def wait_all_passing(d):
    wait_until(lambda: a_set(d) == ADDRS, 10 * SLOW, "all three served", d)


def test_drain_under_load_restart_and_undrain(tmp_path):
    backends = Listeners(ADDRS)
    text = registry_text(services(backends.port), token=TOKEN)
    d = start(tmp_path, text)
    try:
        wait_all_passing(d)
        before = serial(d)
        status, body = request_json(d, "GET", "/v1/services/web")
        assert body["maintenance"] is None
        assert all(i["drained"] is False and i["maintenance"] is None for i in body["instances"])

        load = Load(d)
        time.sleep(0.5)
        status, body = request_json(d, "PUT", "/v1/services/web/instances/w1/maintenance",
                                    {"reason": "kernel upgrade"}, TOKEN)
        drained_at = time.monotonic()
        assert status == 200, body
        # state stays the probe result; drained and served are apart
        assert body["name"] == "w1" and body["state"] == "passing", body
        assert body["drained"] is True and body["served"] is False, body
        assert body["maintenance"] == "kernel upgrade"
        # at once: the next query no longer has it
        assert a_set(d) == ADDRS[1:]
        time.sleep(0.5)
        results = load.stop()

        assert len(results) > 50, len(results)
        lost = [r for r in results if r[1] != dns.rcode.NOERROR]
        assert lost == [], lost[:5]
        after = [r for r in results if r[0] > drained_at]
        assert after and all(r[2] == ADDRS[1:] for r in after), after[:5]
        assert any(r[2] == ADDRS for r in results if r[0] < drained_at)

        assert srv_ports_targets(d) == ["w2.web." + ZONE, "w3.web." + ZONE]
        # its own name keeps resolving
        r = query(d, "w1.web." + ZONE, "A")
        assert [rd.address for rrset in r.answer for rd in rrset] == [ADDRS[0]]
        f = fields(d, "w1")
        assert f["status"] == "passing" and f["served"] == "no", f
        assert f["maintenance"] == "kernel upgrade", f
        svc_txt = txt(d, "_health.web." + ZONE)
        assert "passing=2/3" in svc_txt and "w1=passing,maintenance" in svc_txt, svc_txt
        zone = txt(d, "_health." + ZONE)
        assert "passing=2" in zone and "maintenance=1" in zone, zone
        # the serial moved (secondaries follow)
        assert serial(d) > before
        # checks keep running on the drained instance
        n = int(fields(d, "w1")["successes"])
        wait_until(lambda: int(fields(d, "w1")["successes"]) > n + 2, 5 * SLOW,
                   "w1 still checked", d)
        # every "passing" means passing and not drained
        status, body = request_json(d, "GET", "/v1/services/web")
        assert body["passing"] == 2, body
        status, hdrs, data = request(d, "GET", "/v1/health/service/web?passing")
        assert sorted(e["Service"]["Address"] for e in json.loads(data)) == ADDRS[1:]
        status, hdrs, data = request(d, "GET", "/v1/health/service/web")
        w1 = [e for e in json.loads(data) if e["Service"]["Address"] == ADDRS[0]][0]
        maint = [c for c in w1["Checks"] if c["CheckID"].startswith("_service_maintenance:")]
        assert maint and maint[0]["Status"] == "critical" and maint[0]["Notes"] == "kernel upgrade"
        status, hdrs, data = request(d, "GET", "/v1/sd/prometheus")
        targets = sorted(t for g in json.loads(data) for t in g["targets"])
        assert targets == ["%s:%d" % (a, backends.port) for a in ADDRS[1:]], targets

        # persisted in a file the include glob does not load
        with open(maint_file(tmp_path)) as fh:
            saved = fh.read()
        assert '"instance": "w1"' in saved and "kernel upgrade" in saved, saved
        d.stop()
        d = attach_api(Srvd(os.path.join(str(tmp_path), "srvd.yaml"), ZONE).start())
        wait_until(lambda: a_set(d) == ADDRS[1:], 10 * SLOW, "w2, w3 served", d)
        time.sleep(0.5)  # w1 passes its checks by now and stays out
        assert a_set(d) == ADDRS[1:]
        assert fields(d, "w1")["maintenance"] == "kernel upgrade"
        assert fields(d, "w1")["status"] == "passing"

        status, body = request_json(d, "DELETE", "/v1/services/web/instances/w1/maintenance",
                                    None, TOKEN)
        assert status == 200 and body["drained"] is False and body["served"] is True, body
        assert a_set(d) == ADDRS
        assert "maintenance" not in fields(d, "w1")
    finally:
        d.stop()
        backends.stop()


def test_service_maintenance_and_errors(tmp_path):
    backends = Listeners(ADDRS)
    d = start(tmp_path, registry_text(services(backends.port), token=TOKEN))
    try:
        wait_all_passing(d)
        status, body = request_json(d, "PUT", "/v1/services/WEB/maintenance",
                                    {"reason": "rack move"}, TOKEN)
        assert status == 200, body
        assert body["maintenance"] == "rack move" and body["passing"] == 0, body
        assert all(i["drained"] and i["maintenance"] == "rack move" for i in body["instances"])
        r = query(d, "web." + ZONE, "A")
        assert r.rcode() == dns.rcode.NOERROR and r.answer == []  # NODATA, never stale
        assert fields(d, "w2")["maintenance"] == "rack move"
        # an instance's own reason wins over the service's
        status, body = request_json(d, "PUT", "/v1/services/web/instances/w2/maintenance",
                                    {"reason": "disk"}, TOKEN)
        assert status == 200 and body["maintenance"] == "disk", body
        status, body = request_json(d, "DELETE", "/v1/services/web/maintenance", None, TOKEN)
        assert status == 200 and body["maintenance"] is None, body
        assert a_set(d) == [ADDRS[0], ADDRS[2]]
        # draining again what is drained changes nothing; no body: a default reason
        status, body = request_json(d, "PUT", "/v1/services/web/instances/w3/maintenance",
                                    None, TOKEN)
        assert status == 200 and body["maintenance"] == "no reason given", body

        for method, path, want in (("PUT", "/v1/services/nope/maintenance", 404),
                                   ("PUT", "/v1/services/web/instances/nope/maintenance", 404),
                                   ("DELETE", "/v1/services/nope/maintenance", 404)):
            status, body = request_json(d, method, path, {"reason": "x"}, TOKEN)
            assert status == want, (path, body)
        status, body = request_json(d, "PUT", "/v1/services/web/maintenance",
                                    {"reason": "x"})
        assert status == 401, body
        status, body = request_json(d, "PUT", "/v1/services/web/maintenance",
                                    {"reason": {"a": 1}}, TOKEN)
        assert status == 400, body
        # a hand-broken file: the reload is refused with its position, the old state stays
        with open(maint_file(tmp_path), "w") as fh:
            fh.write('{"maintenance": [{"servce": "web"}]}\n')
        status, body = request_json(d, "POST", "/v1/reload", None, TOKEN)
        assert status == 400, body
        assert ".srvd-maintenance.yaml" in body["errors"][0]["file"], body
        assert "unknown key" in body["errors"][0]["message"], body
        assert a_set(d) == [ADDRS[0]]
        # srvd -t says the same: the start would fail on it
        p = run_srvd(["-t", os.path.join(str(tmp_path), "srvd.yaml")])
        assert p.returncode == 2 and "unknown key \"servce\"" in p.stdout, p.stdout
    finally:
        d.stop()
        backends.stop()


def test_panic_never_answers_drained_instances(tmp_path):
    """panic_threshold counts and answers only the instances not drained: a
    failing one among them puts the service in panic, which answers it but
    no drained one; drained whole, the service answers NODATA."""
    backends = Listeners(ADDRS)
    text = services(backends.port).replace("    max_answers: 0\n",
                                           "    max_answers: 0\n    panic_threshold: 0.5\n")
    d = start(tmp_path, registry_text(text, token=TOKEN))
    try:
        wait_all_passing(d)
        for inst in ("w1", "w2"):
            status, body = request_json(d, "PUT", "/v1/services/web/instances/%s/maintenance"
                                        % inst, {"reason": "r"}, TOKEN)
            assert status == 200, body
        assert a_set(d) == [ADDRS[2]]
        backends.backends[2].stop()
        wait_until(lambda: fields(d, "w3")["status"] == "failing", 10 * SLOW, "w3 failing", d)
        # in panic: the failing w3, never the drained w1 and w2
        wait_until(lambda: a_set(d) == [ADDRS[2]], 10 * SLOW, "panic answers w3 alone", d)
        assert "panic=yes" in txt(d, "_health.web." + ZONE)
        status, body = request_json(d, "PUT", "/v1/services/web/maintenance",
                                    {"reason": "all"}, TOKEN)
        assert status == 200, body
        assert a_set(d) == []
        assert "panic=no" in txt(d, "_health.web." + ZONE)
    finally:
        d.stop()
        backends.stop()


def test_drain_needs_an_include_folder(tmp_path):
    backends = Listeners(ADDRS)
    text = registry_text(services(backends.port), token=TOKEN).replace(
        "include: services.d/*.yaml\n", "")
    d = start(tmp_path, text)
    try:
        status, body = request_json(d, "PUT", "/v1/services/web/maintenance",
                                    {"reason": "x"}, TOKEN)
        assert status == 409 and "include" in body["errors"][0]["message"], body
    finally:
        d.stop()
        backends.stop()
