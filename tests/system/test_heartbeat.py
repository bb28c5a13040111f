# SPDX-License-Identifier: BSD-3-Clause
# test_heartbeat.py: the ttl check type and its heartbeats (README "Heartbeats: the ttl check").
"""Checks a service pushes itself: `check: {type: ttl, ttl: 3s}`.

A thread sends `PUT /v1/services/web/instances/w1/pass` with the heartbeat
token; while it runs w1 is in the A and SRV answers; once it stops, w1
fails after the ttl and leaves them. The heartbeat token opens the
heartbeat routes and nothing else. Instances are on 127.0.0.x although
nothing probes them.
"""

import os
import threading
import time

import dns.rcode

from api_helpers import ZONE, registry_text, request, request_json, start
from conftest import SLOW, health_fields, query, run_srvd, wait_until

ADMIN = "admin-secret"
BEAT = "beat-secret"
TTL_S = 3
SERVICES = ("  web:\n"
            "    port: 8080\n"
            "    check: {type: ttl, ttl: %ds}\n"
            "    instances:\n"
            "      - {name: w1, address: 127.0.0.11}\n"
            "      - {name: w2, address: 127.0.0.12}\n"
            "  db:\n"
            "    port: 5432\n"
            "    check: {type: none}\n"
            "    instances: [{name: d1, address: 192.0.2.5}]\n" % TTL_S)


def daemon(tmp_path):
    return start(tmp_path, registry_text(SERVICES, token=ADMIN,
                                         extra="  heartbeat_token: %s\n" % BEAT))


def a_set(d):
    r = query(d, "web." + ZONE, "A")
    assert r.rcode() == dns.rcode.NOERROR, r
    return sorted(rd.address for rrset in r.answer for rd in rrset)


def srv_targets(d):
    r = query(d, "_web._tcp." + ZONE, "SRV")
    assert r.rcode() == dns.rcode.NOERROR, r
    return sorted(rd.target.to_text() for rrset in r.answer for rd in rrset)


def health(d, inst):
    return health_fields(d, "_health.%s.web.%s" % (inst, ZONE))


def beat(d, inst, what="pass", token=BEAT, body=None, service="web"):
    return request(d, "PUT", "/v1/services/%s/instances/%s/%s" % (service, inst, what), body,
                   token)


class Beats:
    """Sends a pass heartbeat for one instance every 300 ms until stopped."""

    def __init__(self, d, inst, service="web"):
        self.d, self.inst, self.service = d, inst, service
        self.stop_ev = threading.Event()
        self.errors = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop_ev.is_set():
            status, _, data = beat(self.d, self.inst, service=self.service)
            if status != 200:
                self.errors.append((status, data))
            self.stop_ev.wait(0.3)

    def stop(self):
        self.stop_ev.set()
        self.thread.join(10)
        return time.monotonic()


def test_heartbeats_keep_it_passing_and_their_end_withdraws_it(tmp_path):
    d = daemon(tmp_path)
    try:
        # no heartbeat yet: not served
        assert a_set(d) == []
        assert health(d, "w1")["check"] == "ttl ttl=3000ms"
        beats = Beats(d, "w1")
        wait_until(lambda: a_set(d) == ["127.0.0.11"], 5 * SLOW, "w1 served", d)
        assert srv_targets(d) == ["w1.web." + ZONE]
        # heartbeats every 300 ms keep it in for more than twice the ttl
        end = time.monotonic() + 2 * TTL_S
        while time.monotonic() < end:
            assert a_set(d) == ["127.0.0.11"], d.stderr_text()
            time.sleep(0.2)
        f = health(d, "w1")
        assert f["status"] == "passing" and f["last"] == "ttl: pass", f
        stopped = beats.stop()
        assert beats.errors == []
        wait_until(lambda: a_set(d) == [], (TTL_S + 5) * SLOW, "w1 withdrawn", d)
        # not before its ttl: the last heartbeat was at most 300 ms before the stop
        assert time.monotonic() - stopped >= TTL_S - 1
        assert srv_targets(d) == []
        f = health(d, "w1")
        assert f["status"] == "failing" and f["served"] == "no", f
        assert f["last"] == "ttl: no heartbeat for 3s", f
        # its own name keeps resolving (SRV targets always resolve)
        r = query(d, "w1.web." + ZONE, "A")
        assert [rd.address for rrset in r.answer for rd in rrset] == ["127.0.0.11"]
        d.wait_log(r"web/w1: passing -> failing: ttl: no heartbeat for 3s")
        # one heartbeat brings it back at once
        status, _, _ = beat(d, "w1")
        assert status == 200
        assert a_set(d) == ["127.0.0.11"]
    finally:
        d.stop()


def test_notes_become_the_reason_and_fail_withdraws_at_once(tmp_path):
    d = daemon(tmp_path)
    try:
        status, body = request_json(d, "PUT", "/v1/services/web/instances/w2/pass",
                                    {"note": "warmed up: 1200 keys"}, BEAT)
        assert status == 200, body
        assert body["name"] == "w2" and body["state"] == "passing" and body["served"] is True
        assert body["last_result"] == "warmed up: 1200 keys"
        assert a_set(d) == ["127.0.0.12"]
        assert health(d, "w2")["last"] == "warmed up: 1200 keys"

        status, body = request_json(d, "PUT", "/v1/services/web/instances/W2/fail",
                                    {"note": "db\nunreachable"}, BEAT)
        assert status == 200, body
        assert body["state"] == "failing" and body["served"] is False
        assert body["last_result"] == "db unreachable"  # control characters as spaces
        assert a_set(d) == []
        f = health(d, "w2")
        assert f["status"] == "failing" and f["last"] == "db unreachable", f
        # failed by its own word, it stays so: no deadline overwrites the note
        time.sleep(TTL_S + 1)
        assert health(d, "w2")["last"] == "db unreachable"

        # an empty body and no note
        status, body = request_json(d, "PUT", "/v1/services/web/instances/w2/pass", None, BEAT)
        assert status == 200 and body["last_result"] == "ttl: pass", body
        # the check, as the API shows it
        status, body = request_json(d, "GET", "/v1/services/web")
        assert body["check"] == {"type": "ttl", "ttl_ms": 3000}, body["check"]

        # what is not a heartbeat
        for path, want in (("/v1/services/db/instances/d1/pass", 409),
                           ("/v1/services/web/instances/nope/pass", 404),
                           ("/v1/services/nope/instances/w1/pass", 404)):
            status, body = request_json(d, "PUT", path, None, BEAT)
            assert status == want, (path, body)
        status, body = request_json(d, "PUT", "/v1/services/web/instances/w1/pass", "[1, 2]",
                                    BEAT)
        assert status == 400, body
        status, body = request_json(d, "PUT", "/v1/services/web/instances/w1/pass",
                                    {"note": ["a"]}, BEAT)
        assert status == 400 and "string" in body["errors"][0]["message"], body
        status, body = request_json(d, "PUT", "/v1/services/web/instances/w1/pass",
                                    {"note": "x" * 200}, BEAT)
        assert status == 400, body
    finally:
        d.stop()


def test_heartbeat_token_opens_only_heartbeats(tmp_path):
    d = daemon(tmp_path)
    try:
        # the heartbeat token is refused everywhere else
        for method, path, body in (("PUT", "/v1/services/x", {"port": 1, "instances": []}),
                                   ("DELETE", "/v1/services/db", None),
                                   ("POST", "/v1/reload", None)):
            status, data = request_json(d, method, path, body, BEAT)
            assert status == 403, (method, path, data)
            assert "heartbeat token" in data["errors"][0]["message"]
        assert os.listdir(os.path.join(str(tmp_path), "services.d")) == []
        # heartbeats want one of the two tokens
        assert beat(d, "w1", token=None)[0] == 401
        assert beat(d, "w1", token="wrong")[0] == 401
        assert beat(d, "w1", "fail", token=None)[0] == 401
        assert beat(d, "w1", token=BEAT)[0] == 200
        assert beat(d, "w1", "fail", token=BEAT)[0] == 200
        assert beat(d, "w1", token=ADMIN)[0] == 200
        assert beat(d, "w1", "fail", token=ADMIN)[0] == 200
        # and reads need none
        assert request(d, "GET", "/v1/services/web")[0] == 200
        # only PUT
        status, hdrs, _ = request(d, "GET", "/v1/services/web/instances/w1/pass")
        assert status == 405 and hdrs["allow"] == "PUT"
    finally:
        d.stop()


def test_ttl_keys_are_checked(tmp_path):
    def check(text):
        path = os.path.join(str(tmp_path), "srvd.yaml")
        with open(path, "w") as f:
            f.write("server: {zone: svc.test.}\nservices:\n  web:\n    port: 80\n"
                    "    check: %s\n    instances: [{name: a, address: 127.0.0.11}]\n" % text)
        p = run_srvd(["-t", path])
        p.stderr += p.stdout
        return p

    p = check("{type: ttl}")
    assert p.returncode != 0 and "type ttl needs ttl" in p.stderr, p.stderr
    p = check("{type: ttl, ttl: 10s, interval: 1s}")
    assert p.returncode != 0 and "services.web.check.interval: only for" in p.stderr, p.stderr
    assert "not type ttl" in p.stderr
    p = check("{type: http, ttl: 10s}")
    assert p.returncode != 0 and "only for ttl, not type http" in p.stderr, p.stderr
    p = check("{type: ttl, ttl: 500ms}")
    assert p.returncode != 0, p.stderr
    p = check("{type: ttl, ttl: 10s}")
    assert p.returncode == 0, p.stderr


def test_deregister_after_removes_api_instances_only(tmp_path):
    """deregister_after: an API-registered ttl instance whose heartbeats stop is
    removed from its file; a drained one and one of the registry file stay."""
    services = ("  web:\n"
                "    port: 8080\n"
                "    check: {type: ttl, ttl: 1s, deregister_after: 2s}\n"
                "    instances: [{name: f1, address: 127.0.0.31}]\n")
    d = start(tmp_path, registry_text(services, token=ADMIN,
                                      extra="  heartbeat_token: %s\n" % BEAT))
    frag = os.path.join(str(tmp_path), "services.d", "jobs.yaml")
    try:
        body = {"port": 9000, "tags": ["batch"],
                "check": {"type": "ttl", "ttl": "1s", "deregister_after": "2s"},
                "instances": [{"name": "j1", "address": "127.0.0.41", "weight": 7},
                              {"name": "j2", "address": "127.0.0.42"},
                              {"name": "j3", "address": "127.0.0.43", "tags": ["007"]}]}
        status, got = request_json(d, "PUT", "/v1/services/jobs", body, ADMIN)
        assert status == 201, got
        assert got["check"]["deregister_after_ms"] == 2000
        status, got = request_json(d, "PUT", "/v1/services/jobs/instances/j3/maintenance",
                                   {"reason": "kept"}, ADMIN)
        assert status == 200, got
        beats = Beats(d, "j2", "jobs")
        # j1, j3 and f1 get no heartbeat: failing after 1 s, over deregister_after 2 s later
        d.wait_log(r"jobs/j1: failing for \d+s, over check.deregister_after: removed",
                   timeout=15)
        d.wait_log(r"web/f1: failing for \d+s, over check.deregister_after, but not removed: "
                   r"service \"web\" is not defined by", timeout=15)

        def names():
            return sorted(i["name"] for i in request_json(d, "GET", "/v1/services/jobs")[1]
                          ["instances"])
        wait_until(lambda: names() == ["j2", "j3"], 10 * SLOW, "j1 removed", d)
        with open(frag) as fh:
            text = fh.read()
        assert "j1" not in text and "127.0.0.42" in text, text
        status, got = request_json(d, "GET", "/v1/services/jobs")
        assert got["tags"] == ["batch"] and got["check"]["ttl_ms"] == 1000, got
        j3 = [i for i in got["instances"] if i["name"] == "j3"][0]
        assert j3["tags"] == ["007"] and j3["drained"] is True, j3
        # the heartbeating one stays in answers
        r = query(d, "jobs." + ZONE, "A")
        assert [rd.address for rrset in r.answer for rd in rrset] == ["127.0.0.42"]
        beats.stop()
        assert beats.errors == []
        # logged once per failing spell, not every second
        time.sleep(2)
        assert len(d.wait_log(r"web/f1: failing for .* not removed")) == 1
        status, got = request_json(d, "GET", "/v1/services/web")
        assert [i["name"] for i in got["instances"]] == ["f1"]

        # the same through the API: DELETE of one instance
        status, got = request_json(d, "DELETE", "/v1/services/jobs/instances/j2", None, ADMIN)
        assert status == 200 and got["deleted"] == "jobs/j2", got
        assert names() == ["j3"]
        status, got = request_json(d, "DELETE", "/v1/services/web/instances/f1", None, ADMIN)
        assert status == 409, got
        status, got = request_json(d, "DELETE", "/v1/services/jobs/instances/nope", None, ADMIN)
        assert status == 404, got
    finally:
        d.stop()
